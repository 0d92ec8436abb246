/**
 * Keys that already exist in the cloud project (issue 11, item 2). Both APIs
 * refuse a second copy of a key, so the default ('auto') uploads a key only
 * when the project holds none with its fingerprint. The Hetzner side is
 * checked by the real hcloud provider (`tofu validate`: its schema, the
 * data source, the count and for expressions); the DigitalOcean provider
 * cannot be built here, so that side is checked on the JSON only.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sshKeyMd5Fingerprint } from '../constructs/validation';
import { describeWith } from './support/nix-tools';
import { EXISTING_HOST, HETZNER_HOST, HETZNER_HOST_2, Json, KEY_A, resourceAt, synthFleet, validFleet } from './support/fleet';
import { TerraformBinary, findTerraform, initAndValidate, newEd25519PublicKey } from './support/real-terraform';

const KEY_B = newEd25519PublicKey('bob@desk');
const hetznerOnly = (sshKeys?: unknown) => validFleet({
  adminSshKeys: [KEY_A, KEY_B],
  hosts: [HETZNER_HOST, HETZNER_HOST_2, EXISTING_HOST],
  digitalocean: undefined,
  hetzner: { ipRange: '10.0.0.0/16', subnetRange: '10.0.1.0/24', networkZone: 'eu-central', ...(sshKeys ? { sshKeys } : {}) } as never,
});

test('fingerprints are the MD5 form both clouds show (ssh-keygen -l -E md5)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-'));
  try {
    fs.writeFileSync(path.join(dir, 'k.pub'), `${KEY_A}\n`);
    const out = execFileSync('ssh-keygen', ['-l', '-E', 'md5', '-f', path.join(dir, 'k.pub')], { encoding: 'utf8' });
    expect(out).toContain(`MD5:${sshKeyMd5Fingerprint(KEY_A)}`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && process.env.CI !== 'true') return; // no ssh-keygen here
    throw e;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('Hetzner', () => {
  test("'auto' (default): reads the project's keys, uploads a key only when no other key has its fingerprint", () => {
    const json = synthFleet(hetznerOnly());
    const lookups = Object.values(json.data.hcloud_ssh_keys) as Json[];
    expect(lookups).toEqual([{}]);
    const keys = Object.values(json.resource.hcloud_ssh_key) as Json[];
    expect(keys).toHaveLength(2);
    for (const line of [KEY_A, KEY_B]) {
      const key = keys.find((k) => k.public_key === line)!;
      expect(key).toBeDefined();
      expect(key.labels).toEqual({ fleet: 'test' });
      expect(key.count).toContain(`k.fingerprint == "${sshKeyMd5Fingerprint(line)}"`);
      // Its own upload (labelled fleet=test) does not count as "already there", or the next plan would destroy it.
      expect(key.count).toContain('lookup(k.labels, "fleet", "") != "test"');
    }
    const server = resourceAt(json, 'hcloud_server', 'hetzner_server-web-1');
    const local = /^\$\{local\.(.+)\}$/.exec(server.ssh_keys)![1];
    expect(json.locals[local]).toMatch(/^\$\{concat\(/);
  });

  test("'upload': one new key per admin key, as before", () => {
    const json = synthFleet(hetznerOnly('upload'));
    expect(json.data).toBeUndefined();
    const server = resourceAt(json, 'hcloud_server', 'hetzner_server-web-1');
    expect(server.ssh_keys).toHaveLength(2);
    server.ssh_keys.forEach((k: string) => expect(k).toMatch(/^\$\{hcloud_ssh_key\..*\.id\}$/));
  });

  test('{ existing }: the named keys, nothing uploaded', () => {
    const json = synthFleet(hetznerOnly({ existing: ['alice@laptop', '4711'] }));
    expect(json.resource.hcloud_ssh_key).toBeUndefined();
    expect(json.data).toBeUndefined();
    expect(resourceAt(json, 'hcloud_server', 'hetzner_server-web-1').ssh_keys).toEqual(['alice@laptop', '4711']);
  });

  const tofu = findTerraform('tofu');
  describeWith([() => (typeof tofu === 'string' ? tofu : undefined)], 'the real hcloud provider accepts each mode (tofu validate)', () => {
    test.each([['auto', undefined], ['upload', 'upload'], ['existing', { existing: ['alice@laptop'] }]])('%s', (_, mode) => {
      const result = initAndValidate(tofu as TerraformBinary, synthFleet(hetznerOnly(mode)));
      expect(result.diagnostics.filter((d) => (d as { severity?: string }).severity === 'error')).toEqual([]);
      expect(result.valid).toBe(true);
    }, 180_000);

    test("the fields 'auto' reads are the provider's (validate cannot see inside the list: its value is unknown)", () => {
      const { schema } = initAndValidate(tofu as TerraformBinary, synthFleet(hetznerOnly()));
      const hcloud = Object.entries(schema.provider_schemas).find(([k]) => k.endsWith('hetznercloud/hcloud'))![1] as Json;
      const nested = hcloud.data_source_schemas.hcloud_ssh_keys.block.attributes.ssh_keys.nested_type;
      expect(nested.nesting_mode).toBe('list');
      const types = Object.fromEntries(Object.entries(nested.attributes as Record<string, Json>).map(([k, v]) => [k, v.type]));
      expect(types).toMatchObject({ id: 'number', fingerprint: 'string', labels: ['map', 'string'] });
    }, 180_000);

    test('and refuses a broken one (the check can fail)', () => {
      const json = synthFleet(hetznerOnly());
      const [id] = Object.keys(json.resource.hcloud_ssh_key);
      json.resource.hcloud_ssh_key[id].count = json.resource.hcloud_ssh_key[id].count.replace('.ssh_keys :', '.ssh_key :');
      expect(initAndValidate(tofu as TerraformBinary, json).valid).toBe(false);
    }, 180_000);
  });
});

describe('DigitalOcean', () => {
  const doFleet = (sshKeys?: unknown) => validFleet({
    adminSshKeys: [KEY_A, KEY_B],
    digitalocean: { region: 'fra1', ipRange: '10.20.0.0/20', ...(sshKeys ? { sshKeys } : {}) } as never,
  });

  test("'auto' (default): droplets name the keys by fingerprint; a key is uploaded only when the account has none with it", () => {
    const json = synthFleet(doFleet());
    const fingerprints = [KEY_A, KEY_B].map(sshKeyMd5Fingerprint);
    const lookup = Object.values(json.data.digitalocean_ssh_keys) as Json[];
    expect(lookup).toEqual([{ filter: [{ key: 'fingerprint', values: fingerprints }] }]);
    const droplet = resourceAt(json, 'digitalocean_droplet', 'digitalocean_droplet-worker-1');
    expect(droplet.ssh_keys).toEqual(fingerprints);
    const keys = Object.entries(json.resource.digitalocean_ssh_key) as [string, Json][];
    expect(keys).toHaveLength(2);
    for (const [id, key] of keys) {
      expect(key.count).toMatch(/k\.fingerprint == "[0-9a-f:]{47}" && k\.name != "test-admin-[0-9a-f]{8}"/);
      // The droplet is created after the upload, so the fingerprint exists by then.
      expect(droplet.depends_on).toContain(`digitalocean_ssh_key.${id}`);
    }
  });

  test('{ existing }: fingerprints or IDs as given, nothing uploaded', () => {
    const json = synthFleet(doFleet({ existing: [sshKeyMd5Fingerprint(KEY_A), '12345'] }));
    expect(json.resource.digitalocean_ssh_key).toBeUndefined();
    expect(resourceAt(json, 'digitalocean_droplet', 'digitalocean_droplet-worker-1').ssh_keys).toEqual([sshKeyMd5Fingerprint(KEY_A), '12345']);
  });
});
