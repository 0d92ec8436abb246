/**
 * The generated hive (data) and the static builder in nix/, evaluated by real
 * Nix (nix-instantiate, no nixpkgs): a mixed fleet rendered with literal
 * values into a project directory, its node modules called with stub
 * arguments as Colmena would call them, and nix/modules/private-network.sh
 * run against interfaces in a network namespace.
 */
import * as fs from 'fs';
import * as path from 'path';
import { renderHive } from '../constructs/colmena-hive';
import { FleetDeclaration } from '../constructs/fleet-declaration';
import { nixString } from '../constructs/nix';
import { HIVE_PRELUDE, NODE_SUMMARY, REPO, addFakeTarballToStore, makeHiveProject, provisioned } from './support/hive-project';
import { Json, KEY_A } from './support/fleet';
import {
  NETNS, NIX, NIX_STORE_WRITABLE, Requirement, describeWith, nixEval, nixEvalError, nixParse, run, runOk, tempDir,
} from './support/nix-tools';

const KEY_B = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDTs0hobzL/DOcKlNVwncDZ6nJBtJOJ90zWelEFsMO+b bob "${laptop}" \'quoted\'';

const FLEET: FleetDeclaration = {
  name: 'mixed',
  nixChannel: 'nixos-26.05',
  adminSshKeys: [KEY_A, KEY_B],
  adminCidrs: ['203.0.113.0/24'],
  hetzner: { ipRange: '10.0.0.0/16', subnetRange: '10.0.1.0/24', networkZone: 'eu-central' },
  digitalocean: { region: 'fra1', ipRange: '10.20.0.0/20' },
  hosts: [
    { name: 'web-1', cloud: 'hetzner', serverType: 'cx23', location: 'nbg1', privateIp: '10.0.1.10', tags: ['web', 'prod'] },
    { name: 'db-1', cloud: 'hetzner', serverType: 'cx33', location: 'fsn1', privateIp: '10.0.1.20', tags: ['db'] },
    { name: 'arm-1', cloud: 'hetzner', serverType: 'cax21', location: 'fsn1', privateIp: '10.0.1.30', tags: ['arm'], nixChannel: 'nixos-25.11' },
    { name: 'worker-1', cloud: 'digitalocean', size: 's-1vcpu-2gb', region: 'fra1', tags: ['worker'], buildOnTarget: true },
    {
      name: 'legacy', cloud: 'existing', address: '2001:db8::10', user: 'deploy', port: 2222,
      tags: ['existing', 'home'], module: 'machines/legacy.nix', buildOnTarget: false,
    },
  ],
};

const HOSTS = [
  provisioned({
    name: 'web-1', cloud: 'hetzner', location: 'nbg1', tags: ['web', 'prod'], sshAddress: '198.51.100.10',
    publicIpv4: '198.51.100.10', privateIp: '10.0.1.10',
    privateNetwork: { routeCidr: '10.0.0.0/16', gateway: '10.0.0.1', prefixLength: 32 },
  }),
  provisioned({
    name: 'db-1', cloud: 'hetzner', location: 'fsn1', tags: ['db'], sshAddress: '198.51.100.20',
    publicIpv4: '198.51.100.20', privateIp: '10.0.1.20',
    privateNetwork: { routeCidr: '10.0.0.0/16', gateway: '10.0.0.1', prefixLength: 32 },
  }),
  provisioned({
    name: 'arm-1', cloud: 'hetzner', location: 'fsn1', system: 'aarch64-linux', tags: ['arm'], sshAddress: '198.51.100.40',
    publicIpv4: '198.51.100.40', privateIp: '10.0.1.30',
    privateNetwork: { routeCidr: '10.0.0.0/16', gateway: '10.0.0.1', prefixLength: 32 },
  }),
  provisioned({
    name: 'worker-1', cloud: 'digitalocean', location: 'fra1', tags: ['worker'], sshAddress: '198.51.100.30',
    publicIpv4: '198.51.100.30', privateIp: '10.20.0.5',
    privateNetwork: { routeCidr: '10.20.0.0/20', prefixLength: 20, macAddress: '02:AB:00:14:00:05' },
  }),
  provisioned({
    name: 'legacy', cloud: 'existing', location: 'existing', tags: ['existing', 'home'], sshAddress: '2001:db8::10',
    sshUser: 'deploy', sshPort: 2222, publicIpv6: '2001:db8::10',
  }),
];

const HIVE = renderHive({ fleet: FLEET, hosts: HOSTS });
const LEGACY_MODULE = '{ ... }: { services.openssh.ports = [ 2222 ]; }\n';

describe('rendering', () => {
  test('refuses what Colmena or Nix cannot take', () => {
    const meta = { ...FLEET, hosts: [...FLEET.hosts, { ...FLEET.hosts[0], name: 'meta' }] };
    expect(() => renderHive({ fleet: meta, hosts: [...HOSTS, { ...HOSTS[0], name: 'meta' }] })).toThrow(/"meta": name is reserved by Colmena/);
    expect(() => renderHive({ fleet: FLEET, hosts: [{ ...HOSTS[0], name: 'stranger' }] })).toThrow(/not declared in the fleet/);
    expect(() => renderHive({ fleet: FLEET, hosts: HOSTS, nixpkgsPinFile: '../pins.json' })).toThrow(/nixpkgsPinFile/);
    expect(() => renderHive({ fleet: FLEET, hosts: [{ ...HOSTS[0], sshPort: 0 }] })).toThrow(/sshPort must be 1-65535/);
    const badModule = { ...FLEET, hosts: FLEET.hosts.map((h) => (h.name === 'web-1' ? { ...h, module: '/etc/x.nix' } : h)) };
    expect(() => renderHive({ fleet: badModule, hosts: HOSTS })).toThrow(/module must be a relative path/);
    expect(() => renderHive({ fleet: { ...FLEET, adminSshKeys: [] }, hosts: HOSTS })).toThrow(/adminSshKeys/);
  });

  test('user strings appear only escaped', () => {
    // The key comment holds `${laptop}` and quotes: a Nix string, not an antiquotation.
    expect(HIVE).toContain(nixString(KEY_B).code);
    expect(HIVE).not.toContain('"${laptop}"');
  });

  test('refuses what the builder cannot take: platform, state version, Colmena settings, bracketed addresses', () => {
    expect(() => renderHive({ fleet: FLEET, hosts: [{ ...HOSTS[0], system: 'riscv64-linux' as never }] })).toThrow(/"web-1": system must be one of/);
    const unstable = { ...FLEET, nixChannel: 'nixos-unstable' };
    expect(() => renderHive({ fleet: unstable, hosts: HOSTS })).toThrow(/"web-1": stateVersion is required: the host installs from nixos-unstable/);
    const badState = { ...FLEET, hosts: FLEET.hosts.map((h) => (h.name === 'web-1' ? { ...h, stateVersion: '26.5' } : h)) };
    expect(() => renderHive({ fleet: badState, hosts: HOSTS })).toThrow(/"web-1": stateVersion must be a NixOS release/);
    expect(() => renderHive({ fleet: { ...FLEET, colmena: { sshOptions: ['-v'] } }, hosts: HOSTS })).toThrow(/colmena.sshOptions needs Colmena 0.5/);
    expect(() => renderHive({ fleet: { ...FLEET, colmena: { version: '0.5', sshOptions: ['-o ServerAliveInterval=5'] } }, hosts: HOSTS }))
      .toThrow(/colmena.sshOptions must be a list of single words/);
    expect(() => renderHive({ fleet: FLEET, hosts: HOSTS.map((h) => (h.name === 'legacy' ? { ...h, sshAddress: '[2001:db8::10]' } : h)) }))
      .toThrow(/"legacy": sshAddress must be given without brackets/);
  });

  test('is data only: Nix parses it as one import of the builder applied to data, with no function or binding of its own', () => {
    for (const text of [HIVE, renderHive({ fleet: { ...FLEET, colmena: { version: '0.5' } }, hosts: HOSTS })]) {
      const dir = tempDir('hive-text-');
      try {
        fs.writeFileSync(path.join(dir, 'hive.nix'), text);
        // Nix's own parser prints the expression back, fully parenthesised.
        const parsed = runOk('nix-instantiate', ['--parse', path.join(dir, 'hive.nix')]);
        const code = parsed.replace(/"(?:[^"\\]|\\.)*"/g, '""'); // strings out: what is left is syntax
        expect(code).toMatch(new RegExp(`^\\(import ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/nix/hive\\.nix \\{ fleet = \\{`));
        expect(code).not.toContain(':'); // no lambda (`x: ...`, `{ ... }: ...`); paths and data have no colon
        expect(code.match(/\bimport\b/g)).toHaveLength(1);
        expect(code).not.toMatch(/\b(let|with|rec|inherit|if|assert)\b/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  test('says it is generated and how to regenerate it', () => {
    expect(HIVE.split('\n').slice(0, 8).join('\n')).toMatch(/GENERATED FILE, DO NOT EDIT[^]*npx cdktf deploy[^]*npm run hive/);
  });
});

describeWith([NIX], 'the hive evaluated by Nix', () => {
  let project: string;
  let nodes: Json;

  beforeAll(() => {
    project = makeHiveProject(HIVE, {
      factsFor: ['web-1', 'worker-1', 'legacy'], // db-1's facts were never fetched
      files: { 'machines/legacy.nix': LEGACY_MODULE },
    });
    nodes = nixEval(`let ${HIVE_PRELUDE} in ${NODE_SUMMARY}`, project);
  });
  afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

  test('hive.nix, every file in nix/ and every host module parse', () => {
    nixParse(path.join(project, 'hive.nix'));
    const nixFiles = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? nixFiles(path.join(dir, e.name)) : e.name.endsWith('.nix') ? [path.join(dir, e.name)] : []));
    const files = [...nixFiles(path.join(REPO, 'nix')), ...nixFiles(path.join(REPO, 'hosts'))];
    expect(files.map((f) => path.relative(REPO, f))).toEqual(expect.arrayContaining(['nix/hive.nix', 'nix/modules/private-network.nix']));
    for (const f of files) nixParse(f);
  });

  test('top level: meta, defaults and one attribute per node; meta is not fetched to list them', () => {
    expect(nixEval('builtins.attrNames (import ./hive.nix)', project)).toEqual(['arm-1', 'db-1', 'defaults', 'legacy', 'meta', 'web-1', 'worker-1']);
    expect(nixEval('(import ./hive.nix).meta.description', project)).toBe('nixos-fleet "mixed"');
  });

  test('deployment: address, user, port, tags (cloud, location, own; no duplicates), buildOnTarget as declared', () => {
    expect(nodes['web-1'].deployment).toEqual({
      targetHost: '198.51.100.10', targetUser: 'root', targetPort: 22, tags: ['hetzner', 'nbg1', 'web', 'prod'], buildOnTarget: false,
    });
    expect(nodes['worker-1'].deployment).toEqual({
      targetHost: '198.51.100.30', targetUser: 'root', targetPort: 22, tags: ['digitalocean', 'fra1', 'worker'], buildOnTarget: true,
    });
    expect(nodes.legacy.deployment).toEqual({
      targetHost: '2001:db8::10', targetUser: 'deploy', targetPort: 2222, tags: ['existing', 'home'], buildOnTarget: false,
    });
  });

  test('platform per host; an undeclared buildOnTarget builds on the host exactly when its platform is not the local one', () => {
    expect(nodes['arm-1'].hostPlatform).toBe('aarch64-linux');
    expect(nodes['web-1'].hostPlatform).toBe('x86_64-linux');
    expect(nodes['arm-1'].deployment.buildOnTarget).toBe(nixEval<string>('builtins.currentSystem') !== 'aarch64-linux');
    expect(nodes['web-1'].deployment.buildOnTarget).toBe(nixEval<string>('builtins.currentSystem') !== 'x86_64-linux');
    // From an aarch64 machine (Nix's `system` setting is what builtins.currentSystem reports) it is the other way round.
    const onArm = runOk('nix-instantiate', ['--option', 'system', 'aarch64-linux', '--eval', '--strict', '--json', '-E',
      `let ${HIVE_PRELUDE} in [ builtins.currentSystem (node "arm-1").deployment.buildOnTarget (node "web-1").deployment.buildOnTarget ]`], { cwd: project });
    expect(JSON.parse(onArm)).toEqual(['aarch64-linux', false, true]);
  });

  test('system.stateVersion: the release of the channel each host was installed with', () => {
    expect(nodes['web-1'].stateVersion).toBe('26.05');
    expect(nodes['arm-1'].stateVersion).toBe('25.11');
  });

  test('deployment stays readable for the host whose facts are missing', () => {
    expect(nodes['db-1'].deployment).toEqual({
      targetHost: '198.51.100.20', targetUser: 'root', targetPort: 22, tags: ['hetzner', 'fsn1', 'db'], buildOnTarget: false,
    });
  });

  test('host names', () => {
    for (const name of ['web-1', 'db-1', 'arm-1', 'worker-1', 'legacy']) expect(nodes[name].hostName).toBe(name);
  });

  test('imports: the host module and the facts copied from the host', () => {
    const at = (p: string) => path.join(project, p);
    expect(nodes['web-1'].imports).toEqual([
      at('hosts/web-1.nix'), at('hosts/web-1/hardware-configuration.nix'), at('hosts/web-1/networking.nix'),
    ]);
    // legacy logs in as "deploy": its admin user module comes last.
    expect(nodes.legacy.imports).toEqual([
      at('machines/legacy.nix'), at('hosts/legacy/hardware-configuration.nix'), at('hosts/legacy/networking.nix'), '<module>',
    ]);
    // db-1's facts are missing: the guard stands in for its module and facts.
    expect(nodes['db-1'].imports).toEqual(['<module>']);
  });

  test('a non-root SSH user is declared on the host (nix/modules/admin-user.nix): wheel, the admin keys, no sudo password, trusted by Nix', () => {
    const user = nixEval<Json>(`let ${HIVE_PRELUDE} in (builtins.elemAt (node "legacy").imports 3) { }`, project);
    expect(user).toEqual({
      users: { users: { deploy: { isNormalUser: true, extraGroups: ['wheel'], openssh: { authorizedKeys: { keys: [KEY_A, KEY_B] } } } } },
      security: { sudo: { wheelNeedsPassword: false } },
      nix: { settings: { 'trusted-users': ['deploy'] } },
    });
  });

  const guard = (name: string) => `((builtins.elemAt (node "${name}").imports 0) { }).fileSystems`;

  test('a host without its facts cannot be built: reading its file systems stops with the documented message', () => {
    const expr = `let ${HIVE_PRELUDE} in ${guard('db-1')}`;
    const stderr = nixEvalError(expr, project);
    expect(stderr).toContain(`nixos-fleet: cannot build host db-1: missing ${project}/hosts/db-1/hardware-configuration.nix`);
    expect(stderr).toContain(`and ${project}/hosts/db-1/networking.nix`);
    expect(stderr).toContain('Run `npm run hive` to copy them from the host.');
    expect(nixEval(`let ${HIVE_PRELUDE} in (builtins.tryEval ${guard('db-1')}).success`, project)).toBe(false);
  });

  test('only the missing file is reported when one of the two is there', () => {
    const partial = makeHiveProject(HIVE, { factsFor: [], files: { 'hosts/db-1/hardware-configuration.nix': '{ ... }: { }\n' } });
    try {
      const stderr = nixEvalError(`let ${HIVE_PRELUDE} in ${guard('db-1')}`, partial);
      expect(stderr).toContain(`missing ${partial}/hosts/db-1/networking.nix (its boot loader`);
      expect(stderr).not.toContain('hardware-configuration.nix');
    } finally {
      fs.rmSync(partial, { recursive: true, force: true });
    }
  });

  test('a missing host module fails only that host, like missing facts: deployment readable, the build names the file and the fix', () => {
    const noModule = makeHiveProject(HIVE, { factsFor: ['legacy', 'web-1'] });
    try {
      const summary = nixEval<Json>(`let ${HIVE_PRELUDE} in ${NODE_SUMMARY}`, noModule);
      expect(summary.legacy.deployment.targetHost).toBe('2001:db8::10');
      expect(summary.legacy.imports).toEqual(['<module>', '<module>']);
      expect(summary['web-1'].imports[0]).toBe(path.join(noModule, 'hosts/web-1.nix'));
      const stderr = nixEvalError(`let ${HIVE_PRELUDE} in ${guard('legacy')}`, noModule);
      expect(stderr).toContain(`nixos-fleet: cannot build host legacy: its module ${noModule}/machines/legacy.nix does not exist. `
        + 'Create it (hosts/web-1.nix is an example), or set the host\'s `module` in main.ts to an existing file');
      expect(stderr).not.toContain('Run `npm run hive`'); // its facts are there
    } finally {
      fs.rmSync(noModule, { recursive: true, force: true });
    }
  });

  test('module and facts both missing: one message names both', () => {
    const bare = makeHiveProject(HIVE, { factsFor: [] });
    try {
      const stderr = nixEvalError(`let ${HIVE_PRELUDE} in ${guard('legacy')}`, bare);
      expect(stderr).toContain(`cannot build host legacy: its module ${bare}/machines/legacy.nix does not exist.`);
      expect(stderr).toContain(`; missing ${bare}/hosts/legacy/hardware-configuration.nix and ${bare}/hosts/legacy/networking.nix`);
    } finally {
      fs.rmSync(bare, { recursive: true, force: true });
    }
  });

  test('defaults: common.nix, the private network module, and root keys from adminSshKeys', () => {
    const defaults = nixEval(`let ${HIVE_PRELUDE} in {
      imports = map describe hive.defaults.imports;
      keys = hive.defaults.users.users.root.openssh.authorizedKeys.keys;
    }`, project);
    expect(defaults).toEqual({ imports: [path.join(project, 'hosts/common.nix'), path.join(project, 'nix/modules/private-network.nix')], keys: [KEY_A, KEY_B] });
  });

  test('private network facts per node; none for a host without a managed network', () => {
    expect(nodes['web-1'].privateNetwork).toEqual({
      address: '10.0.1.10', prefixLength: 32, routeCidr: '10.0.0.0/16', gateway: '10.0.0.1', macAddress: null,
    });
    expect(nodes['worker-1'].privateNetwork).toEqual({
      address: '10.20.0.5', prefixLength: 20, routeCidr: '10.20.0.0/20', gateway: null, macAddress: '02:AB:00:14:00:05',
    });
    expect(nodes.legacy.privateNetwork).toBeNull();
  });

  test('private network module: the options it declares and the service it defines from them', () => {
    const result = nixEval<Json>(`let ${HIVE_PRELUDE}
      module = evalPrivateNetwork (node "web-1").fleet.privateNetwork;
      service = module.config.content.systemd.services.fleet-private-network;
    in {
      options = builtins.attrNames module.options.fleet.privateNetwork.type.nullOr.submodule.options;
      default = module.options.fleet.privateNetwork.default;
      enabled = module.config.condition;
      disabledWithoutNetwork = (evalPrivateNetwork null).config.condition;
      inherit (service) environment after wantedBy path serviceConfig startLimitIntervalSec script;
    }`, project);
    expect(result.options).toEqual(['address', 'gateway', 'macAddress', 'prefixLength', 'routeCidr']);
    expect(result.default).toBeNull();
    expect(result.enabled).toBe(true);
    expect(result.disabledWithoutNetwork).toBe(false);
    expect(result.environment).toEqual({
      FLEET_PRIVATE_ADDRESS: '10.0.1.10',
      FLEET_PRIVATE_PREFIX_LENGTH: '32',
      FLEET_PRIVATE_ROUTE: '10.0.0.0/16',
      FLEET_PRIVATE_GATEWAY: '10.0.0.1',
      FLEET_PRIVATE_MAC: '',
    });
    expect(result.after).toEqual(['network.target']);
    expect(result.wantedBy).toEqual(['multi-user.target']);
    expect(result.path).toEqual(['/stub/iproute2']);
    expect(result.serviceConfig).toEqual({ Type: 'oneshot', RemainAfterExit: true, Restart: 'on-failure', RestartSec: '10s' });
    expect(result.startLimitIntervalSec).toBe(0);
    expect(result.script).toBe(fs.readFileSync(path.join(REPO, 'nix/modules/private-network.sh'), 'utf8'));
  });

  test('without nixpkgs.json, meta.nixpkgs warns and would fall back to the channel tarball', () => {
    // Forcing it tries the channel URL, which our proxy setting sends to a dead loopback port.
    const stderr = nixEvalError('(import ./hive.nix).meta.nixpkgs', project);
    expect(stderr).toContain(`warning: ${project}/nixpkgs.json not found; building from the unpinned channel nixos-26.05`);
    expect(stderr).toContain('https://nixos.org/channels/nixos-26.05/nixexprs.tar.xz');
  });
});

describeWith([NIX], 'nix/hive.nix with literal data written in Nix (no TypeScript involved)', () => {
  const host = (over: string) => `({
    system = "aarch64-linux"; stateVersion = "25.11"; targetHost = "2001:db8::7"; targetUser = "root"; targetPort = 22;
    tags = [ "t" ]; buildOnTarget = null; sshOptions = null; module = ./hosts/a.nix; hardware = ./hosts/a/hardware-configuration.nix;
    networking = ./hosts/a/networking.nix; secrets = ./secrets/a.yaml; privateNetwork = null;
  } // { ${over} })`;
  const hiveOf = (hosts: string) => `import ./nix/hive.nix {
    fleet = { description = "literal"; channel = "nixos-26.05"; nixpkgsPin = ./nixpkgs.json; sopsNixPin = ./sops-nix.json;
      commonModule = ./hosts/common.nix; adminSshKeys = [ "ssh-ed25519 AAAA literal" ]; };
    hosts = ${hosts};
  }\n`;
  let project: string;
  beforeAll(() => {
    project = makeHiveProject(hiveOf(`{ a = ${host('')}; b = ${host('buildOnTarget = false; sshOptions = [ "-o" "ServerAliveInterval=9" ];')}; }`), {
      factsFor: ['a', 'b'], files: { 'hosts/a.nix': '{ ... }: { }\n' },
    });
  });
  afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

  test('a declared buildOnTarget wins over the platform default; sshOptions pass through only when given', () => {
    const d = nixEval<Json>(`let ${HIVE_PRELUDE} in { a = (node "a").deployment; b = (node "b").deployment; }`, project);
    expect(d.a).toEqual({ targetHost: '2001:db8::7', targetUser: 'root', targetPort: 22, tags: ['t'], buildOnTarget: nixEval('builtins.currentSystem') !== 'aarch64-linux' });
    expect(d.b).toEqual({ targetHost: '2001:db8::7', targetUser: 'root', targetPort: 22, tags: ['t'], buildOnTarget: false, sshOptions: ['-o', 'ServerAliveInterval=9'] });
  });

  test('host names Colmena reserves are refused with a message naming them', () => {
    fs.writeFileSync(path.join(project, 'reserved.nix'), hiveOf(`{ meta = ${host('')}; network = ${host('')}; }`));
    expect(nixEvalError('builtins.attrNames (import ./reserved.nix)', project)).toContain('nixos-fleet: host names reserved by Colmena: meta, network');
  });
});

describeWith([NIX_STORE_WRITABLE], 'pins resolved from the Nix store (no download)', () => {
  const stored: string[] = [];
  afterAll(() => {
    for (const p of stored) run('nix-store', ['--delete', p]);
  });

  test('meta.nixpkgs imports the revision pinned in nixpkgs.json', () => {
    const marker = `pinned-${process.pid}-${Date.now()}`;
    const fake = addFakeTarballToStore({ 'default.nix': `{ ... }: { marker = "${marker}"; }\n` });
    stored.push(fake.storePath);
    const pin = { channel: 'nixos-26.05', rev: '0123456789abcdef0123456789abcdef01234567', sha256: fake.sha256 };
    const project = makeHiveProject(HIVE, { factsFor: [], files: { 'nixpkgs.json': JSON.stringify(pin) } });
    try {
      expect(nixEval('(import ./hive.nix).meta.nixpkgs.marker', project)).toBe(marker);
    } finally {
      fs.rmSync(project, { recursive: true, force: true });
    }
  });

  test('a host with secrets/<name>.yaml imports sops-nix from sops-nix.json and uses its SSH host key', () => {
    const fake = addFakeTarballToStore({ 'modules/sops/default.nix': `{ ... }: { } # ${process.pid}-${Date.now()}\n` });
    stored.push(fake.storePath);
    const project = makeHiveProject(HIVE, {
      factsFor: ['web-1'],
      files: {
        'secrets/web-1.yaml': 'db_password: ENC[AES256_GCM,data:...]\n',
        'sops-nix.json': JSON.stringify({ rev: '0123456789abcdef0123456789abcdef01234567', sha256: fake.sha256 }),
      },
    });
    try {
      const result = nixEval<Json>(`let ${HIVE_PRELUDE} imports = (node "web-1").imports; settings = builtins.elemAt imports 4; in {
        imports = map describe imports;
        sopsFile = toString settings.sops.defaultSopsFile;
        sshKeyPaths = settings.sops.age.sshKeyPaths;
        workerImports = map describe (node "worker-1").imports;
      }`, project);
      expect(result.imports.slice(3)).toEqual([`${fake.storePath}/modules/sops`, '<module>']);
      expect(result.sopsFile).toBe(path.join(project, 'secrets/web-1.yaml'));
      expect(result.sshKeyPaths).toEqual(['/etc/ssh/ssh_host_ed25519_key']);
      // A host without secrets never touches sops-nix.
      expect(result.workerImports).toEqual(['<module>']); // (its facts are missing: the guard)
    } finally {
      fs.rmSync(project, { recursive: true, force: true });
    }
  });

  test('secrets without sops-nix.json: a clear error', () => {
    const project = makeHiveProject(HIVE, { factsFor: ['web-1'], files: { 'secrets/web-1.yaml': 'x: y\n' } });
    try {
      fs.rmSync(path.join(project, 'sops-nix.json'));
      expect(nixEvalError(`let ${HIVE_PRELUDE} in map describe (node "web-1").imports`, project))
        .toContain('sops-nix.json (the sops-nix pin: { "rev": ..., "sha256": ... }) is missing');
    } finally {
      fs.rmSync(project, { recursive: true, force: true });
    }
  });
});

test('the shipped sops-nix pin is a full commit and an SRI sha256', () => {
  const pin = JSON.parse(fs.readFileSync(path.join(REPO, 'sops-nix.json'), 'utf8'));
  expect(pin.rev).toMatch(/^[0-9a-f]{40}$/);
  expect(pin.sha256).toMatch(/^sha256-[A-Za-z0-9+/]{43}=$/);
});

const SHELLCHECK: Requirement = () => (run('sh', ['-c', 'command -v shellcheck']).status === 0 ? undefined : 'shellcheck not found (apt-get install shellcheck)');

describeWith([SHELLCHECK], 'the shell scripts in nix/', () => {
  test('pass shellcheck', () => {
    const scripts = fs.readdirSync(path.join(REPO, 'nix', 'modules')).filter((f) => f.endsWith('.sh')).map((f) => path.join(REPO, 'nix', 'modules', f));
    expect(scripts.length).toBeGreaterThan(0);
    const r = run('shellcheck', ['--shell=bash', '--severity=style', ...scripts]);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

// ---------------------------------------------------------------- the private network script, for real

describeWith([NIX, NETNS], 'fleet-private-network.service script in a network namespace', () => {
  let script: string;
  let scriptFile: string;
  const namespaces: string[] = [];
  const dirs: string[] = [];

  beforeAll(() => {
    // The script exactly as the generated hive carries it (read back by Nix).
    const project = makeHiveProject(HIVE, { factsFor: ['web-1'] });
    dirs.push(project);
    script = nixEval<string>(`let ${HIVE_PRELUDE} in (evalPrivateNetwork (node "web-1").fleet.privateNetwork).config.content.systemd.services.fleet-private-network.script`, project);
    scriptFile = path.join(project, 'fleet-private-network.sh');
    fs.writeFileSync(scriptFile, script);
  });
  afterAll(() => {
    for (const ns of namespaces) run('ip', ['netns', 'del', ns]);
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  function namespace(setup: string[][]): string {
    const ns = `fleetnet-${process.pid}-${namespaces.length}`;
    runOk('ip', ['netns', 'add', ns]);
    namespaces.push(ns);
    runOk('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    for (const args of setup) runOk('ip', ['-n', ns, ...args]);
    return ns;
  }

  /**
   * A NIC: one end of a veth pair (this kernel has no dummy interfaces), the
   * other end `<name>p` up in the same namespace so the NIC has a carrier.
   */
  const nic = (name: string, mac?: string): string[][] => [
    ['link', 'add', name, ...(mac ? ['address', mac] : []), 'type', 'veth', 'peer', 'name', `${name}p`],
    ['link', 'set', `${name}p`, 'up'],
  ];

  /** A public NIC with the default route, like both clouds' eth0. */
  const PUBLIC_NIC = [
    ...nic('eth0'), ['link', 'set', 'eth0', 'up'],
    ['addr', 'add', '192.0.2.10/24', 'dev', 'eth0'], ['route', 'add', 'default', 'via', '192.0.2.1', 'dev', 'eth0'],
  ];

  function runScript(ns: string, env: Record<string, string>) {
    // NixOS runs a service script with bash -e and the unit's Environment=.
    const envArgs = Object.entries({ PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env }).map(([k, v]) => `${k}=${v}`);
    return run('ip', ['netns', 'exec', ns, 'env', '-i', ...envArgs, 'bash', '-e', scriptFile]);
  }

  const routes = (ns: string, cidr: string) => runOk('ip', ['-n', ns, '-4', 'route', 'show', cidr]).trim();
  const addresses = (ns: string, dev: string) => runOk('ip', ['-n', ns, '-4', '-o', 'addr', 'show', 'dev', dev]);

  test('is the script the module renders', () => {
    expect(script).toBe(fs.readFileSync(path.join(REPO, 'nix/modules/private-network.sh'), 'utf8'));
  });

  test('Hetzner after nixos-infect: the NIC has its /32 but no route; the route goes via the gateway, onlink', () => {
    const ns = namespace([...PUBLIC_NIC,
      ...nic('enp7s0'), ['link', 'set', 'enp7s0', 'up'], ['addr', 'add', '10.0.1.10/32', 'dev', 'enp7s0']]);
    const env = {
      FLEET_PRIVATE_ADDRESS: '10.0.1.10', FLEET_PRIVATE_PREFIX_LENGTH: '32', FLEET_PRIVATE_ROUTE: '10.0.0.0/16',
      FLEET_PRIVATE_GATEWAY: '10.0.0.1', FLEET_PRIVATE_MAC: '',
    };
    const first = runScript(ns, env);
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('fleet-private-network: enp7s0 (it has 10.0.1.10): 10.0.1.10/32, route 10.0.0.0/16 via 10.0.0.1');
    expect(routes(ns, '10.0.0.0/16')).toBe('10.0.0.0/16 via 10.0.0.1 dev enp7s0 onlink');
    // A restart changes nothing and does not fail.
    expect(runScript(ns, env).status).toBe(0);
    expect(routes(ns, '10.0.0.0/16')).toBe('10.0.0.0/16 via 10.0.0.1 dev enp7s0 onlink');
    expect(addresses(ns, 'enp7s0').match(/inet /g)).toHaveLength(1);
  });

  test('DigitalOcean: the VPC NIC has no address yet; found by its MAC (any case), address and on-link route added', () => {
    const ns = namespace([...PUBLIC_NIC,
      ...nic('eth1', '02:ab:00:14:00:05'), ...nic('eth2', '02:ab:00:14:00:99')]);
    const result = runScript(ns, {
      FLEET_PRIVATE_ADDRESS: '10.20.0.5', FLEET_PRIVATE_PREFIX_LENGTH: '20', FLEET_PRIVATE_ROUTE: '10.20.0.0/20',
      FLEET_PRIVATE_GATEWAY: '', FLEET_PRIVATE_MAC: '02:AB:00:14:00:05',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('eth1 (its MAC is 02:AB:00:14:00:05)');
    expect(addresses(ns, 'eth1')).toContain('inet 10.20.0.5/20');
    expect(addresses(ns, 'eth2')).toBe('');
    expect(routes(ns, '10.20.0.0/20')).toMatch(/^10\.20\.0\.0\/20 dev eth1\b/);
  });

  describe('no address and no MAC: the only device-backed interface without the default route', () => {
    /** A stand-in for /sys/class/net: veths have no backing device, cloud NICs (virtio) do. */
    function sysfs(interfaces: Record<string, { device: boolean }>): string {
      const dir = tempDir('sysfs-net-');
      dirs.push(dir);
      for (const [name, { device }] of Object.entries(interfaces)) {
        fs.mkdirSync(path.join(dir, name));
        fs.writeFileSync(path.join(dir, name, 'address'), '02:00:00:00:00:00\n');
        if (device) fs.mkdirSync(path.join(dir, name, 'device'));
      }
      return dir;
    }
    const env = { FLEET_PRIVATE_ADDRESS: '10.20.0.7', FLEET_PRIVATE_PREFIX_LENGTH: '20', FLEET_PRIVATE_ROUTE: '10.20.0.0/20' };

    test('one candidate: it is used', () => {
      const ns = namespace([...PUBLIC_NIC, ...nic('eth1')]);
      const fakeSysfs = sysfs({ lo: { device: false }, eth0: { device: true }, eth1: { device: true }, docker0: { device: false } });
      const result = runScript(ns, { ...env, FLEET_SYSFS_NET: fakeSysfs });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout).toContain('eth1 (it is the only device without a default route)');
      expect(addresses(ns, 'eth1')).toContain('inet 10.20.0.7/20');
    });

    test('two candidates: fails, names them, changes nothing', () => {
      const ns = namespace([...PUBLIC_NIC, ...nic('eth1'), ...nic('eth2')]);
      const fakeSysfs = sysfs({ lo: { device: false }, eth0: { device: true }, eth1: { device: true }, eth2: { device: true } });
      const result = runScript(ns, { ...env, FLEET_SYSFS_NET: fakeSysfs });
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain('cannot tell which interface is private: no interface has 10.20.0.7, and 2 device(s) carry no default route: eth1 eth2');
      expect(addresses(ns, 'eth1') + addresses(ns, 'eth2')).toBe('');
    });

    test('no candidate on the real sysfs of a namespace (veths are virtual): fails', () => {
      const ns = namespace([...PUBLIC_NIC, ...nic('eth1')]);
      const result = runScript(ns, env);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain('0 device(s) carry no default route: none');
    });
  });
});
