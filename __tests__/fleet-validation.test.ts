/**
 * Every validation rule: one failing input each, asserting the message names
 * the place (fleet / host "name") and the field.
 */
import { generateKeyPairSync } from 'crypto';
import { FleetConfigError } from '../constructs/validation';
import { FleetDeclaration, HostDeclaration } from '../constructs/fleet-declaration';
import { KEY_A, newStack, validFleet, withHost } from './support/fleet';

function problemsOf(fleet: FleetDeclaration): string[] {
  try {
    newStack(fleet)();
  } catch (e) {
    if (e instanceof FleetConfigError) return e.problems;
    throw e;
  }
  return [];
}

const ED25519_BLOB = KEY_A.split(' ')[1];

type Case = [string, FleetDeclaration, string];

const cases: Case[] = [
  // ---- fleet
  ['fleet name', validFleet({ name: 'My_Fleet' }), 'fleet: name must be an RFC 1123 label'],
  ['fleet channel', validFleet({ nixChannel: 'nixos-26.5' }), 'fleet: nixChannel must be "nixos-YY.MM"'],
  ['no admin keys', validFleet({ adminSshKeys: [] }), 'fleet: adminSshKeys must list at least one OpenSSH public key'],
  ['admin key not base64', validFleet({ adminSshKeys: ['ssh-ed25519 not*base64 me'] }), 'fleet: adminSshKeys[0] has a key blob that is not base64'],
  ['admin key type mismatch', validFleet({ adminSshKeys: [`ssh-rsa ${ED25519_BLOB}`] }), 'fleet: adminSshKeys[0] has a key blob that does not hold a ssh-rsa key'],
  ['admin key unsupported type', validFleet({ adminSshKeys: [`ssh-dss ${ED25519_BLOB}`] }), 'fleet: adminSshKeys[0] has unsupported key type "ssh-dss"'],
  ['admin key one word', validFleet({ adminSshKeys: ['ssh-ed25519'] }), 'fleet: adminSshKeys[0] is not an OpenSSH public key line'],
  ['admin key truncated', validFleet({ adminSshKeys: [`ssh-ed25519 ${ED25519_BLOB.slice(0, 40)}`] }), 'fleet: adminSshKeys[0] has an ssh-ed25519 blob of the wrong length'],
  ['no admin cidrs', validFleet({ adminCidrs: [] }), 'fleet: adminCidrs must list at least one CIDR'],
  ['admin cidr without prefix', validFleet({ adminCidrs: ['203.0.113.7'] }), 'fleet: adminCidrs[0] is not a CIDR'],
  ['admin cidr with host bits', validFleet({ adminCidrs: ['203.0.113.7/24'] }), 'fleet: adminCidrs[0] has host bits set: "203.0.113.7/24" (the network is 203.0.113.0/24)'],
  ['admin cidr bad v6', validFleet({ adminCidrs: ['2001:db8::/129'] }), 'fleet: adminCidrs[0] has a prefix longer than /128'],
  ['rule protocol', validFleet({ firewallRules: [{ protocol: 'sctp' as 'tcp', port: '1', sourceCidrs: ['0.0.0.0/0'] }] }), 'fleet: firewallRules[0].protocol must be "tcp", "udp" or "icmp"'],
  ['rule without port', validFleet({ firewallRules: [{ protocol: 'tcp', sourceCidrs: ['0.0.0.0/0'] }] }), 'fleet: firewallRules[0].port must be a port'],
  ['rule port range reversed', validFleet({ firewallRules: [{ protocol: 'udp', port: '90-80', sourceCidrs: ['0.0.0.0/0'] }] }), 'fleet: firewallRules[0].port must be a port'],
  ['rule port too high', validFleet({ firewallRules: [{ protocol: 'tcp', port: '70000', sourceCidrs: ['0.0.0.0/0'] }] }), 'fleet: firewallRules[0].port must be a port'],
  ['icmp rule with port', validFleet({ firewallRules: [{ protocol: 'icmp', port: '1', sourceCidrs: ['0.0.0.0/0'] }] }), 'fleet: firewallRules[0].port must not be set for icmp'],
  ['rule without sources', validFleet({ firewallRules: [{ protocol: 'tcp', port: '80', sourceCidrs: [] }] }), 'fleet: firewallRules[0].sourceCidrs must list at least one CIDR'],
  ['rule bad source', validFleet({ firewallRules: [{ protocol: 'tcp', port: '80', sourceCidrs: ['everyone'] }] }), 'fleet: firewallRules[0].sourceCidrs[0] is not a CIDR'],
  ['installer http', validFleet({ installer: { url: 'http://example.com/infect', sha256: 'a'.repeat(64) } }), 'fleet: installer.url must be an https:// URL'],
  ['installer url with $', validFleet({ installer: { url: 'https://example.com/${x}', sha256: 'a'.repeat(64) } }), 'fleet: installer.url must be an https:// URL'],
  ['installer sha256 short', validFleet({ installer: { sha256: 'abc' } }), 'fleet: installer.sha256 must be 64 lower-case hex characters'],
  ['installer sha256 upper case', validFleet({ installer: { sha256: 'A'.repeat(64) } }), 'fleet: installer.sha256 must be 64 lower-case hex characters'],
  ['installer url without sha256', validFleet({ installer: { url: 'https://example.com/infect' } }), 'fleet: installer.sha256 is required with installer.url'],
  ['no hosts', validFleet({ hosts: [] }), 'fleet: hosts must declare at least one host'],

  // ---- any host
  ['duplicate host', validFleet({ hosts: [...validFleet().hosts, { ...validFleet().hosts[0], privateIp: '10.0.1.99' } as HostDeclaration] }), 'host "web-1": name is declared twice (hosts[0] and hosts[4])'],
  ['host name upper case', withHost('web-1', { name: 'Web_1' }), 'hosts[0]: name must be an RFC 1123 label'],
  ['host name too long', withHost('web-1', { name: 'a'.repeat(64) }), 'hosts[0]: name must be an RFC 1123 label'],
  ['host name leading dash', withHost('web-1', { name: '-web' }), 'hosts[0]: name must be an RFC 1123 label'],
  ['host name reserved by Colmena', withHost('web-1', { name: 'meta' }), 'host "meta": name "meta" is reserved in a Colmena hive'],
  ['unknown cloud', withHost('web-1', { cloud: 'aws' }), 'host "web-1": cloud must be one of "hetzner", "digitalocean", "existing", got "aws"'],
  ['tag upper case', withHost('web-1', { tags: ['Prod'] }), 'host "web-1": tags[0] must match [a-z0-9_-]'],
  ['tag with space', withHost('web-1', { tags: ['a b'] }), 'host "web-1": tags[0] must match [a-z0-9_-]'],
  ['tag twice', withHost('web-1', { tags: ['web', 'web'] }), 'host "web-1": tags lists a tag twice'],
  ['module outside project', withHost('web-1', { module: '../other/web.nix' }), 'host "web-1": module must be a relative path to a .nix file inside the project'],
  ['module absolute', withHost('web-1', { module: '/etc/nixos/x.nix' }), 'host "web-1": module must be a relative path'],
  ['host channel', withHost('web-1', { nixChannel: 'unstable' }), 'host "web-1": nixChannel must be "nixos-YY.MM"'],
  ['host installer', withHost('web-1', { installer: { url: 'ftp://x/y', sha256: 'b'.repeat(64) } }), 'host "web-1": installer.url must be an https:// URL'],
  ['host rule', withHost('web-1', { firewallRules: [{ protocol: 'tcp', port: 'http', sourceCidrs: ['0.0.0.0/0'] }] }), 'host "web-1": firewallRules[0].port must be a port'],
  ['duplicate private ip', withHost('db-1', { privateIp: '10.0.1.10' }), 'host "db-1": privateIp 10.0.1.10 is already used by host "web-1"'],
  ['buildOnTarget not boolean', withHost('web-1', { buildOnTarget: 'yes' }), 'host "web-1": buildOnTarget must be true or false'],

  // ---- Hetzner
  ['hetzner network missing', validFleet({ hetzner: undefined }), 'fleet: hetzner is required because 2 host(s) are on Hetzner'],
  ['hetzner ipRange', validFleet({ hetzner: { ipRange: '10.0.0.0', subnetRange: '10.0.1.0/24', networkZone: 'eu-central' } }), 'fleet: hetzner.ipRange is not an IPv4 CIDR'],
  ['hetzner ipRange public', validFleet({ hetzner: { ipRange: '8.8.0.0/16', subnetRange: '8.8.1.0/24', networkZone: 'eu-central' } }), 'fleet: hetzner.ipRange must be a private (RFC 1918) range'],
  ['hetzner subnet outside', validFleet({ hetzner: { ipRange: '10.0.0.0/16', subnetRange: '10.1.1.0/24', networkZone: 'eu-central' } }), 'fleet: hetzner.subnetRange 10.1.1.0/24 is not inside hetzner.ipRange 10.0.0.0/16'],
  ['hetzner subnet invalid', validFleet({ hetzner: { ipRange: '10.0.0.0/16', subnetRange: '10.0.1.5/24', networkZone: 'eu-central' } }), 'fleet: hetzner.subnetRange is not an IPv4 CIDR'],
  ['hetzner zone', validFleet({ hetzner: { ipRange: '10.0.0.0/16', subnetRange: '10.0.1.0/24', networkZone: 'eu-west' } }), 'fleet: hetzner.networkZone must be one of eu-central, us-east, us-west, ap-southeast; got "eu-west"'],
  ['hetzner location unknown', withHost('web-1', { location: 'fra1' }), 'host "web-1": location must be one of'],
  ['hetzner location outside zone', withHost('web-1', { location: 'ash' }), 'host "web-1": location ash is not in the network zone eu-central'],
  ['hetzner server type', withHost('web-1', { serverType: 'CX 22' }), 'host "web-1": serverType must be a Hetzner server type'],
  ['hetzner image', withHost('web-1', { image: 'Debian 12' }), 'host "web-1": image is not an image name'],
  ['hetzner ip not ipv4', withHost('web-1', { privateIp: '10.0.1' }), 'host "web-1": privateIp is not an IPv4 address: "10.0.1"'],
  ['hetzner ip outside subnet', withHost('web-1', { privateIp: '10.0.2.5' }), 'host "web-1": privateIp 10.0.2.5 is outside the Hetzner subnet 10.0.1.0/24'],
  ['hetzner ip network address', withHost('web-1', { privateIp: '10.0.1.0' }), "host \"web-1\": privateIp 10.0.1.0 is the subnet's network address"],
  ['hetzner ip broadcast', withHost('web-1', { privateIp: '10.0.1.255' }), "host \"web-1\": privateIp 10.0.1.255 is the subnet's broadcast address"],
  ['hetzner ip gateway',
    withHost('web-1', { privateIp: '10.0.0.1' }, validFleet({ hetzner: { ipRange: '10.0.0.0/16', subnetRange: '10.0.0.0/24', networkZone: 'eu-central' }, hosts: [{ ...validFleet().hosts[0], privateIp: '10.0.0.1' } as HostDeclaration] })),
    "host \"web-1\": privateIp 10.0.0.1 is the network's gateway address"],

  // ---- DigitalOcean
  ['do vpc missing', validFleet({ digitalocean: undefined }), 'fleet: digitalocean is required because 1 host(s) are on DigitalOcean'],
  ['do region slug', validFleet({ digitalocean: { region: 'Frankfurt', ipRange: '10.20.0.0/20' } }), 'fleet: digitalocean.region "Frankfurt" is not a DigitalOcean region'],
  ['do range', validFleet({ digitalocean: { region: 'fra1', ipRange: '10.20.0.0' } }), 'fleet: digitalocean.ipRange is not an IPv4 CIDR'],
  ['do range public', validFleet({ digitalocean: { region: 'fra1', ipRange: '100.64.0.0/20' } }), 'fleet: digitalocean.ipRange must be a private (RFC 1918) range'],
  ['do range too big', validFleet({ digitalocean: { region: 'fra1', ipRange: '10.0.0.0/12' } }), 'fleet: digitalocean.ipRange must be between /16 and /28, got /12'],
  ['do host region', withHost('worker-1', { region: 'ams3' }), 'host "worker-1": region "ams3" differs from the VPC\'s region "fra1"'],
  ['do size', withHost('worker-1', { size: 'Big' }), 'host "worker-1": size must be a droplet size slug'],
  ['do image', withHost('worker-1', { image: 'Debian 12' }), 'host "worker-1": image is not an image slug'],
  ['do private ip', withHost('worker-1', { privateIp: '10.20.0.5' }), 'host "worker-1": privateIp cannot be chosen on DigitalOcean'],

  // ---- existing machines
  ['existing address', withHost('box-1', { address: 'not an address' }), 'host "box-1": address must be an IPv4 or IPv6 address or a DNS name'],
  ['existing address numeric junk', withHost('box-1', { address: '300.1.2.3' }), 'host "box-1": address must be an IPv4 or IPv6 address or a DNS name'],
  ['existing port', withHost('box-1', { port: 70000 }), 'host "box-1": port must be an integer 1-65535'],
  ['existing user', withHost('box-1', { user: 'Root Admin' }), 'host "box-1": user is not a valid user name'],
  ['existing private ip', withHost('box-1', { privateIp: 'fd00::1' }), 'host "box-1": privateIp is not an IPv4 address'],
  ['existing provider', withHost('box-1', { provider: 'Hetzner Cloud' }), 'host "box-1": provider must be a nixos-infect PROVIDER value'],
  ['existing host key', withHost('box-1', { hostKey: 'ssh-ed25519 nope' }), 'host "box-1": hostKey has a key blob'],
  ['existing firewall', withHost('box-1', { firewallRules: [{ protocol: 'tcp', port: '80', sourceCidrs: ['0.0.0.0/0'] }] }), 'host "box-1": firewallRules cannot be applied to an existing machine'],
];

describe('fleet validation', () => {
  test('the base fleet is valid', () => {
    expect(problemsOf(validFleet())).toEqual([]);
  });

  test.each(cases)('%s', (_name, fleet, expected) => {
    const problems = problemsOf(fleet);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toContain(expected);
  });

  test('all problems are reported at once', () => {
    const fleet = withHost('web-1', { privateIp: '10.0.2.5', tags: ['Bad'] }, validFleet({ adminCidrs: ['x'] }));
    const problems = problemsOf(fleet);
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringContaining('fleet: adminCidrs[0]'),
      expect.stringContaining('host "web-1": privateIp 10.0.2.5'),
      expect.stringContaining('host "web-1": tags[0]'),
    ]));
    expect(problems).toHaveLength(3);
  });

  test('a pasted private key is refused without echoing it', () => {
    // A fresh key, generated here: no key material lives in the repository.
    const secret = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const body = secret.split('\n')[1];
    let message = '';
    try {
      newStack(validFleet({ adminSshKeys: [secret] }))();
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('fleet: adminSshKeys[0] is a private key');
    expect(body.length).toBeGreaterThan(20);
    expect(message).not.toContain(body);
  });

  test('the error lists problems, one per line', () => {
    expect(() => newStack(validFleet({ name: 'X' }))()).toThrow(/Invalid fleet declaration \(1 problem\):\n {2}- fleet: name/);
  });
});
