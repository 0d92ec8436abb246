/**
 * Issue 11: what a first real deploy trips on, and input that must not
 * misbehave. Each block fails on the code before the issue.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Testing } from 'cdktf';
import { FleetStack } from '../constructs/fleet-stack';
import { DIGITALOCEAN_CATALOGUE_DATE, DIGITALOCEAN_REGIONS, DIGITALOCEAN_SIZES } from '../constructs/digitalocean-catalogue';
import { FleetDeclaration, HostDeclaration } from '../constructs/fleet-declaration';
import {
  HETZNER_CATALOGUE_DATE, HETZNER_LOCATIONS, HETZNER_RETIRED_SERVER_TYPES, HETZNER_SERVER_TYPES,
} from '../constructs/hetzner-catalogue';
import { FleetConfigError } from '../constructs/validation';
import { fleet as exampleFleet } from '../main';
import { DO_HOST, HETZNER_HOST, Json, KEY_A, newStack, resourceAt, synthFleet, validFleet, withHost } from './support/fleet';
import { REPO_ROOT } from './support/process';
import { newEd25519PublicKey } from './support/real-terraform';

/** The problems of a declaration; any other exception (a TypeError) fails the test. */
function problemsOf(fleet: unknown): string[] {
  try {
    newStack(fleet as FleetDeclaration)();
  } catch (e) {
    if (e instanceof FleetConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('1. catalogues: retired and unknown types, sizes, locations, regions', () => {
  test('a retired Hetzner type is refused with its successor and date', () => {
    expect(problemsOf(withHost('web-1', { serverType: 'cx22' })))
      .toEqual(['host "web-1": serverType cx22 was retired by Hetzner on 2025-12-31; use cx23']);
    expect(problemsOf(withHost('web-1', { serverType: 'cpx21' })))
      .toEqual(['host "web-1": serverType cpx21 was retired by Hetzner on 2025-12-31; use cpx22']);
  });

  test('every retired type names a successor the catalogue sells', () => {
    for (const [type, r] of Object.entries(HETZNER_RETIRED_SERVER_TYPES)) {
      expect([type, HETZNER_SERVER_TYPES[r.successor] !== undefined, /^\d{4}-\d\d-\d\d$/.test(r.retired)]).toEqual([type, true, true]);
    }
  });

  test('an unknown type is refused, and allowUncataloguedType lets it through (but never a retired one)', () => {
    expect(problemsOf(withHost('web-1', { serverType: 'cx99' }))[0]).toMatch(/^host "web-1": serverType "cx99" is not a Hetzner server type this template knows \(catalogue of \d{4}-\d\d-\d\d/);
    expect(problemsOf(withHost('web-1', { serverType: 'cx99', allowUncataloguedType: true }))).toEqual([]);
    expect(problemsOf(withHost('web-1', { serverType: 'cx22', allowUncataloguedType: true }))[0]).toMatch(/retired/);
    expect(problemsOf(withHost('web-1', { allowUncataloguedType: 'yes' }))).toEqual(['host "web-1": allowUncataloguedType must be true or false or left out, got the string "yes"']);
  });

  test('a type not sold in the location (arm64 CAX outside the EU) is refused', () => {
    const fleet = { ...withHost('web-1', { serverType: 'cax11', location: 'ash' }), hetzner: { ipRange: '10.0.0.0/16', subnetRange: '10.0.1.0/24', networkZone: 'us-east' } };
    const problems = problemsOf({ ...fleet, hosts: fleet.hosts.filter((h) => h.name !== 'db-1') });
    expect(problems).toContain('host "web-1": serverType cax11 is not sold in ash (only fsn1, nbg1, hel1)');
  });

  test('DigitalOcean: unknown size, unknown region, closed region; opt-out for a size', () => {
    expect(problemsOf(withHost('worker-1', { size: 's-1vcpu-3gb' }))[0]).toMatch(/^host "worker-1": size "s-1vcpu-3gb" is not a droplet size this template knows/);
    expect(problemsOf(withHost('worker-1', { size: 'gpu-h100x1-80gb', allowUncataloguedType: true }))).toEqual([]);
    expect(problemsOf(validFleet({ digitalocean: { region: 'fra2', ipRange: '10.20.0.0/20' }, hosts: [{ ...DO_HOST, region: 'fra2' } as HostDeclaration] })))
      .toEqual(['fleet: digitalocean.region "fra2" is not a DigitalOcean region (catalogue of 2026-12-01: ams3, atl1, blr1, fra1, lon1, nyc1, nyc2, nyc3, ric1, sfo2, sfo3, sgp1, syd1, tor1)']);
    expect(problemsOf(validFleet({ digitalocean: { region: 'ams2', ipRange: '10.20.0.0/20' }, hosts: [{ ...DO_HOST, region: 'ams2' } as HostDeclaration] })))
      .toEqual(['fleet: digitalocean.region ams2 takes no new droplets (DigitalOcean closed it); use ams3']);
  });

  test('catalogues are dated; the example fleet, README, fixtures and benchmark use only catalogued types', () => {
    for (const d of [HETZNER_CATALOGUE_DATE, DIGITALOCEAN_CATALOGUE_DATE]) expect(d).toMatch(/^20\d\d-\d\d-\d\d$/);
    expect(problemsOf(exampleFleet)).toEqual([]);
    const retired = Object.keys(HETZNER_RETIRED_SERVER_TYPES);
    for (const file of ['README.md', 'main.ts', 'scripts/dev/bench.ts', '__tests__/support/fleet.ts', '__tests__/fleet-stack.test.ts']) {
      const text = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
      const used = [...text.matchAll(/serverType: '([a-z0-9]+)'|'(c[a-z]*\d\d)'/g)].map((m) => m[1] ?? m[2]);
      expect([file, used.filter((t) => retired.includes(t))]).toEqual([file, []]);
    }
    expect(HETZNER_LOCATIONS).toContain('nbg1');
    expect(DIGITALOCEAN_REGIONS).toContain('fra1');
    expect(DIGITALOCEAN_SIZES).toContain('s-1vcpu-2gb');
  });
});

describe('3. DigitalOcean firewall beyond 10 droplets', () => {
  test('12 droplets: the base firewall attaches by the fleet tag, which every droplet carries', () => {
    const hosts = Array.from({ length: 12 }, (_, i) => ({ ...DO_HOST, name: `worker-${i + 1}` } as HostDeclaration));
    const json = synthFleet(validFleet({ hosts }));
    const fw = resourceAt(json, 'digitalocean_firewall', 'digitalocean_firewall');
    expect(fw.droplet_ids).toBeUndefined();
    expect(fw.tags).toEqual(['test']);
    const droplets = Object.values(json.resource.digitalocean_droplet) as Json[];
    expect(droplets).toHaveLength(12);
    droplets.forEach((d) => expect(d.tags).toContain('test'));
    // Every firewall that lists droplets lists at most the API's 10.
    for (const f of Object.values(json.resource.digitalocean_firewall) as Json[]) expect((f.droplet_ids ?? []).length).toBeLessThanOrEqual(10);
  });
});

describe('4. names the cloud must see once', () => {
  test('a host named like a generated resource collides, and is named at synth', () => {
    const fleet = withHost('web-1', { name: 'base', firewallRules: [{ protocol: 'tcp', port: '80', sourceCidrs: ['0.0.0.0/0'] }] });
    expect(problemsOf(fleet)).toContain('host "base": name gives the firewall name "test-base", which fleet (name) already gives; names are unique per cloud project');
  });

  test('serverNamePrefix: the cloud name gets the prefix, the host (Colmena node) keeps its name', () => {
    const json = synthFleet(validFleet({ serverNamePrefix: 'staging-' }));
    expect(resourceAt(json, 'hcloud_server', 'hetzner_server-web-1').name).toBe('staging-web-1');
    expect(resourceAt(json, 'digitalocean_droplet', 'digitalocean_droplet-worker-1').name).toBe('staging-worker-1');
    expect(json.output.hosts.value['web-1']).toBeDefined();
    expect(problemsOf(validFleet({ serverNamePrefix: 'Staging_' }))[0]).toMatch(/^fleet: serverNamePrefix must be lower-case/);
    expect(problemsOf(validFleet({ serverNamePrefix: 'x'.repeat(60) }))).toContain(`host "web-1": name with serverNamePrefix gives the server name "${'x'.repeat(60)}web-1", longer than 63`);
  });

  test('a tag named "fleet" would overwrite the fleet label on Hetzner', () => {
    expect(problemsOf(withHost('web-1', { tags: ['fleet'] }))).toEqual(['host "web-1": tags cannot hold "fleet" on Hetzner: tags become labels, and the "fleet" label names the fleet']);
  });
});

describe('7. wrong types give the host-and-field error, never a TypeError', () => {
  const cases: [string, unknown, string][] = [
    ['a string where a list is expected', withHost('web-1', { tags: 'web' }), 'host "web-1": tags must be a list of strings or left out, got the string "web"'],
    ['a number as a string', withHost('web-1', { firewallRules: [{ protocol: 'tcp', port: 443, sourceCidrs: ['0.0.0.0/0'] }] }), 'host "web-1": firewallRules[0].port must be a string or left out, got number 443'],
    ['null', withHost('web-1', { privateIp: null }), 'host "web-1": privateIp must be a string, got null'],
    ['a key list as one string', validFleet({ adminSshKeys: KEY_A as unknown as string[] }), 'fleet: adminSshKeys must be a list of strings, got the string'],
    ['a number in a list', validFleet({ adminCidrs: [24 as unknown as string] }), 'fleet: adminCidrs must be a list of strings, got a list whose item 0 is number 24'],
    ['a misspelt field (JSON)', withHost('web-1', { serverTyp: 'cx23' }), 'host "web-1": serverTyp is not a field of a hetzner host'],
    ['a host that is not an object', validFleet({ hosts: [null as unknown as HostDeclaration] }), 'hosts[0]: declaration must be a host (an object), got null'],
    ['a network of the wrong type', validFleet({ hetzner: 'eu-central' as never }), 'fleet: hetzner must be an object or left out, got the string "eu-central"'],
    ['a port as a string on an existing machine', withHost('box-1', { port: '2222' }), 'host "box-1": port must be a number or left out, got the string "2222"'],
    ['the whole fleet is null', null, 'fleet: declaration must be a fleet declaration (an object), got null'],
    ['a misspelt install limit', validFleet({ install: { instalerTimeoutSeconds: 60 } as never }), 'fleet: install.instalerTimeoutSeconds is not a field of install limits (known: downloadConnectTimeoutSeconds'],
    ['a misspelt install limit on a host', withHost('web-1', { install: { rebootDelay: 0 } }), 'host "web-1": install.rebootDelay is not a field of install limits'],
    ['an install limit as a string', validFleet({ install: { sessionWaitSeconds: '300' } as never }), 'fleet: install.sessionWaitSeconds must be a number or left out, got the string "300"'],
    ['a misspelt Colmena setting', validFleet({ colmena: { verison: '0.5' } as never }), 'fleet: colmena.verison is not a field of Colmena settings (known: version, sshOptions)'],
  ];
  test.each(cases)('%s', (_, fleet, expected) => {
    expect(problemsOf(fleet).join('\n')).toContain(expected);
  });

  test('every field of every host, replaced by a value of each wrong type, gives a FleetConfigError naming it', () => {
    const base = validFleet({ firewallRules: [{ protocol: 'tcp', port: '80', sourceCidrs: ['0.0.0.0/0'], description: 'web' }] });
    const wrong: unknown[] = [null, 42, 'text', [], {}, true, [1], ['a', 2]];
    let checked = 0;
    let refused = 0;
    const spots: [string, (v: unknown) => unknown][] = [
      ...Object.keys(base).map((k): [string, (v: unknown) => unknown] => [`fleet.${k}`, (v) => ({ ...base, [k]: v })]),
      ...base.hosts.flatMap((h) => Object.keys(h).map((k): [string, (v: unknown) => unknown] => [`${h.name}.${k}`, (v) => withHost(h.name, { [k]: v }, base)])),
      ...['protocol', 'port', 'sourceCidrs', 'description'].map((k): [string, (v: unknown) => unknown] => [`rule.${k}`, (v) => ({ ...base, firewallRules: [{ ...base.firewallRules![0], [k]: v }] })]),
      ...['ipRange', 'subnetRange', 'networkZone', 'sshKeys'].map((k): [string, (v: unknown) => unknown] => [`hetzner.${k}`, (v) => ({ ...base, hetzner: { ...base.hetzner!, [k]: v } })]),
      ...['region', 'ipRange', 'sshKeys'].map((k): [string, (v: unknown) => unknown] => [`digitalocean.${k}`, (v) => ({ ...base, digitalocean: { ...base.digitalocean!, [k]: v } })]),
    ];
    for (const [spot, make] of spots) {
      for (const v of wrong) {
        let problems: string[];
        try {
          problems = problemsOf(make(v));
        } catch (e) {
          throw new Error(`${spot} = ${JSON.stringify(v)}: ${(e as Error).stack}`);
        }
        // Some wrong values are right for some fields (a string for a string field): those must pass or fail cleanly.
        if (problems.length > 0) problems.forEach((p) => expect(p).toMatch(/^(fleet|host "[^"]+"|hosts\[\d+\]): /));
        // A value of another JSON type than the field's (a number or a list where text goes) is always refused, naming the field.
        const field = spot.split('.').pop()!;
        const owner = spot.startsWith('fleet.') ? base : base.hosts.find((h) => spot === `${h.name}.${field}`);
        const current = owner ? (owner as unknown as Record<string, unknown>)[field] : undefined;
        if (typeof current === 'string' && (typeof v === 'number' || Array.isArray(v))) {
          expect([spot, problems.some((p) => p.includes(field))]).toEqual([spot, true]);
          refused++;
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(40); // every string field of the fleet and of each host, four wrong types each
  });
});

describe('8. values that look right but are not', () => {
  test('a module path the hive could not import ("./", "//") is refused with the other problems, not later by the hive', () => {
    for (const module of ['./hosts/web-1.nix', 'hosts//web-1.nix', 'hosts/./web-1.nix']) {
      expect(problemsOf(withHost('web-1', { module }))).toEqual([`host "web-1": module must be a relative path to a .nix file inside the project, got ${JSON.stringify(module)}`]);
    }
    expect(problemsOf(withHost('web-1', { module: 'hosts/web/main.nix' }))).toEqual([]);
  });

  const second = newEd25519PublicKey('bob@desk');
  const cases: [string, FleetDeclaration, string][] = [
    ['IPv6 CIDR with host bits', validFleet({ adminCidrs: ['2001:db8::1/64'] }), 'fleet: adminCidrs[0] has host bits set: "2001:db8::1/64" (the network is 2001:db8::/64)'],
    ['IPv6 rule source with host bits', validFleet({ firewallRules: [{ protocol: 'tcp', port: '80', sourceCidrs: ['2001:db8:1::5/48'] }] }), 'fleet: firewallRules[0].sourceCidrs[0] has host bits set'],
    ['IPv6 with a zone index', validFleet({ adminCidrs: ['fe80::%eth0/64'] }), 'fleet: adminCidrs[0] is not a CIDR'],
    ['IPv4 written with leading zeros', validFleet({ adminCidrs: ['010.0.0.0/8'] }), 'fleet: adminCidrs[0] is not a CIDR'],
    ['channel in a month NixOS never releases', validFleet({ nixChannel: 'nixos-26.04' }), 'fleet: nixChannel names no NixOS release: releases are YY.05 and YY.11 only, got "nixos-26.04" (try "nixos-26.05")'],
    ['channel nixos-25.12', validFleet({ nixChannel: 'nixos-25.12' }), 'fleet: nixChannel names no NixOS release'],
    ['channel from before 14.04', withHost('web-1', { nixChannel: 'nixos-13.05' }), 'host "web-1": nixChannel names a NixOS release long gone'],
    ['DigitalOcean region that does not exist', validFleet({ digitalocean: { region: 'xyz9', ipRange: '10.20.0.0/20' } }), 'fleet: digitalocean.region "xyz9" is not a DigitalOcean region'],
    ['two keys in one entry', validFleet({ adminSshKeys: [`${KEY_A} ${second}`] }), 'fleet: adminSshKeys[0] holds more than one key'],
    ['a pasted authorized_keys file', validFleet({ adminSshKeys: [`${KEY_A}\n${second}`] }), 'fleet: adminSshKeys[0] holds a line break'],
    ['authorized_keys options before the key', validFleet({ adminSshKeys: [`no-pty ${KEY_A}`] }), 'options before the key, as in authorized_keys, are not accepted'],
    ['the same key twice (another comment)', validFleet({ adminSshKeys: [KEY_A, `${KEY_A.split(' ').slice(0, 2).join(' ')} alice@other`] }), 'fleet: adminSshKeys[1] is the same key as adminSshKeys[0]'],
    ['a cdktf token marker in a comment', validFleet({ adminSshKeys: [`${KEY_A} \${TfToken[TOKEN.1]}`] }), 'fleet: adminSshKeys[0] holds cdktf\'s token marker'],
    ['a token marker in a host field', withHost('web-1', { firewallRules: [{ protocol: 'tcp', port: '80', sourceCidrs: ['0.0.0.0/0'], description: '#{TfToken[TOKEN.2]}' }] }), 'hosts[0]: firewallRules[0].description holds cdktf\'s token marker'],
    ['a rule description over 255 characters', validFleet({ firewallRules: [{ protocol: 'tcp', port: '80', sourceCidrs: ['0.0.0.0/0'], description: 'x'.repeat(256) }] }), 'fleet: firewallRules[0].description must be one line of at most 255 characters'],
    ['DigitalOcean existing key that is not a fingerprint or ID', validFleet({ digitalocean: { region: 'fra1', ipRange: '10.20.0.0/20', sshKeys: { existing: ['my laptop'] } } }), 'fleet: digitalocean.sshKeys.existing[0] must be a key ID or an MD5 fingerprint'],
    ['an unknown sshKeys mode', validFleet({ hetzner: { ipRange: '10.0.0.0/16', subnetRange: '10.0.1.0/24', networkZone: 'eu-central', sshKeys: 'find' as 'auto' } }), 'fleet: hetzner.sshKeys must be "auto", "upload" or { existing: [...] }, got "find"'],
  ];
  test.each(cases)('%s', (_, fleet, expected) => {
    expect(problemsOf(fleet).join('\n')).toContain(expected);
  });

  test('the same key twice used to be an internal construct error; the valid forms still pass', () => {
    // nixos-unstable needs each host's stateVersion (the hive cannot derive it from the channel).
    expect(problemsOf(validFleet({ nixChannel: 'nixos-unstable', hosts: validFleet().hosts.map((h) => ({ ...h, stateVersion: '26.11' })) }))).toEqual([]);
    expect(problemsOf(validFleet({ nixChannel: 'nixos-25.11', adminCidrs: ['2001:db8::/48', '203.0.113.7/32'] }))).toEqual([]);
    expect(problemsOf(validFleet({ hosts: [HETZNER_HOST], adminSshKeys: [KEY_A, second] }))).toEqual([]);
  });
});

describe('1. the architecture reaches the rest of the pipeline', () => {
  test('ProvisionedHost.system: aarch64 for CAX (from the catalogue), x86_64 for CX and droplets, x86_64 for existing machines unless declared', () => {
    const stack = new FleetStack(Testing.app(), 'fleet', { fleet: withHost('db-1', { serverType: 'cax11' }) });
    const systems = Object.fromEntries(stack.hosts.map((h) => [h.name, h.system]));
    expect(systems).toEqual({ 'web-1': 'x86_64-linux', 'db-1': 'aarch64-linux', 'worker-1': 'x86_64-linux', 'box-1': 'x86_64-linux' });
  });
});
