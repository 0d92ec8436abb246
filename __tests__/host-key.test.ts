/** hostKey of an existing machine: the .pub line or the raw `ssh-keyscan -t ed25519 HOST` line. */
import { parseHostKey } from '../constructs/existing-machines';
import { FleetConfigError } from '../constructs/validation';
import { synthFleet, validFleet, withHost } from './support/fleet';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFVQvpB4Y9qCrQWDRF6DKXTQwVOsU1PMfnEVJWP8Gv7n';

describe('parseHostKey', () => {
  test.each([
    ['the .pub line', `${KEY} root@box-1`, '198.51.100.7'],
    ['the bare key', KEY, '198.51.100.7'],
    ['an ssh-keyscan line', `198.51.100.7 ${KEY}`, '198.51.100.7'],
    ['an ssh-keyscan line for another port', `[198.51.100.7]:2222 ${KEY}`, '198.51.100.7'],
    ['an ssh-keyscan line of a DNS name, any case', `Box-1.Example.org ${KEY}\n`, 'box-1.example.org'],
    ['an IPv6 ssh-keyscan line', `2001:db8::7 ${KEY}`, '2001:db8::7'],
  ])('%s', (_n, line, address) => {
    const r = parseHostKey(line, address);
    expect(r.problem).toBeUndefined();
    expect(r.key.startsWith(KEY)).toBe(true);
  });

  test('a keyscan line gives the key alone (what Terraform host_key takes)', () => {
    expect(parseHostKey(`198.51.100.7 ${KEY}`, '198.51.100.7')).toEqual({ key: KEY });
  });

  test('a line scanned from another address is refused, naming both', () => {
    expect(parseHostKey(`203.0.113.9 ${KEY}`, '198.51.100.7').problem)
      .toBe('was scanned from "203.0.113.9", not from this host\'s address "198.51.100.7"');
  });

  test('through the declaration: accepted, pinned as the bare key; mistakes name host and field', () => {
    const j = synthFleet(withHost('box-1', { hostKey: `198.51.100.7 ${KEY}` }));
    expect(j.resource.terraform_data['nixos_install_box-1'].connection.host_key).toBe(KEY);
    let err: unknown;
    try {
      synthFleet(withHost('box-1', { hostKey: `198.51.100.8 ${KEY}` }, validFleet()));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FleetConfigError);
    expect((err as Error).message).toContain('host "box-1": hostKey was scanned from "198.51.100.8"');
    expect(() => synthFleet(withHost('box-1', { hostKey: '198.51.100.7 ssh-dss AAAAB3' }))).toThrow(/host "box-1": hostKey has unsupported key type/);
  });
});
