/**
 * The hive under both Colmena releases' evaluator contracts (0.4.0 and 0.5.0):
 * __tests__/support/colmena/eval.nix follows each release's eval.nix, with a
 * stand-in nixpkgs (served from the Nix store like a pinned tarball) whose
 * nixos/lib/eval-config.nix is a small module system. Real Nix evaluates
 * generated hive.nix, nix/ and hosts/*.nix through it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { renderHive } from '../constructs/colmena-hive';
import { FleetDeclaration } from '../constructs/fleet-declaration';
import { fleet as exampleFleet } from '../main';
import { benchFleet } from '../scripts/dev/bench';
import { Json, KEY_A, synthFleet, validFleet } from './support/fleet';
import { REPO, addFakeTarballToStore, makeHiveProject, provisioned } from './support/hive-project';
import { NIX_STORE_WRITABLE, describeWith, nixEval, nixEvalError, run, terraformUnescaped } from './support/nix-tools';
import { filesUnder } from './support/process';

const FLEET: FleetDeclaration = {
  name: 'versions',
  nixChannel: 'nixos-26.05',
  adminSshKeys: [KEY_A],
  adminCidrs: ['203.0.113.0/24'],
  hetzner: { ipRange: '10.0.0.0/16', subnetRange: '10.0.1.0/24', networkZone: 'eu-central' },
  hosts: [
    { name: 'web-1', cloud: 'hetzner', serverType: 'cx23', location: 'nbg1', privateIp: '10.0.1.10', tags: ['web', 'prod'] },
    { name: 'arm-1', cloud: 'hetzner', serverType: 'cax21', location: 'fsn1', privateIp: '10.0.1.30', tags: ['prod'] },
    { name: 'db-1', cloud: 'hetzner', serverType: 'cx33', location: 'fsn1', privateIp: '10.0.1.20', tags: ['db', 'prod'] },
    { name: 'legacy', cloud: 'existing', address: '2001:db8::10', user: 'deploy', module: 'machines/legacy.nix', tags: ['home'] },
  ],
};
const NET = { routeCidr: '10.0.0.0/16', gateway: '10.0.0.1', prefixLength: 32 };
const HOSTS = [
  provisioned({ name: 'web-1', cloud: 'hetzner', location: 'nbg1', tags: ['web', 'prod'], sshAddress: '198.51.100.10', privateIp: '10.0.1.10', privateNetwork: NET }),
  provisioned({
    name: 'arm-1', cloud: 'hetzner', location: 'fsn1', system: 'aarch64-linux', tags: ['prod'], sshAddress: '198.51.100.30',
    privateIp: '10.0.1.30', privateNetwork: NET,
  }),
  provisioned({ name: 'db-1', cloud: 'hetzner', location: 'fsn1', tags: ['db', 'prod'], sshAddress: '198.51.100.20', privateIp: '10.0.1.20', privateNetwork: NET }),
  provisioned({ name: 'legacy', cloud: 'existing', location: 'existing', tags: ['home'], sshAddress: '2001:db8::10', sshUser: 'deploy' }),
];

/** arm-1's module reads the module arguments Colmena adds: its own name and the other nodes. */
const ARM_MODULE = '{ name, nodes, ... }: { environment.etc.peer.text = name + " sees " + nodes.web-1.config.networking.hostName; }\n';

const STUB_NIXPKGS = path.join(__dirname, 'support', 'colmena', 'stub-nixpkgs');
const EVALUATOR = path.join(__dirname, 'support', 'colmena', 'eval.nix');


describeWith([NIX_STORE_WRITABLE], 'stand-in evaluators modelled on Colmena 0.4 and 0.5 (each release\'s eval.nix contract) evaluate the hive', () => {
  let storePath: string;
  const projects: string[] = [];
  let pin: string;

  beforeAll(() => {
    // Unique content so the store path is this run's (and deleting it cannot hit another run's).
    const fake = addFakeTarballToStore({ ...filesUnder(STUB_NIXPKGS), 'run-marker': `${process.pid}-${Date.now()}\n` });
    storePath = fake.storePath;
    pin = JSON.stringify({ channel: 'nixos-26.05', rev: '0123456789abcdef0123456789abcdef01234567', sha256: fake.sha256 });
  });
  afterAll(() => {
    for (const p of projects) fs.rmSync(p, { recursive: true, force: true });
    if (storePath) run('nix-store', ['--delete', storePath]);
  });

  /** A project for the fleet: web-1 and arm-1 complete, db-1 without facts, legacy without its module. */
  function project(fleet: FleetDeclaration): string {
    const dir = makeHiveProject(renderHive({ fleet, hosts: HOSTS }), {
      factsFor: ['web-1', 'arm-1', 'legacy'],
      files: { 'nixpkgs.json': pin, 'hosts/arm-1.nix': ARM_MODULE },
    });
    projects.push(dir);
    return dir;
  }
  const colmena = (version: string, expr: string) => `let hive = import ${EVALUATOR} { version = "${version}"; rawHive = import ./hive.nix; }; in ${expr}`;

  const v04 = () => project(FLEET);
  const v05 = () => project({ ...FLEET, colmena: { version: '0.5' } });

  describe.each([
    ['0.4', v04, 'v0'],
    ['0.5', v05, 'v0.5'],
  ])('Colmena %s', (version, makeProject, schema) => {
    let dir: string;
    let deployment: Json;
    beforeAll(() => {
      dir = makeProject();
      deployment = nixEval(colmena(version, 'hive.deploymentConfig'), dir);
    });

    test('schema and meta', () => {
      expect(nixEval(colmena(version, '{ inherit (hive) __schema metaConfig; }'), dir)).toEqual({
        __schema: schema,
        metaConfig: { name: 'hive', description: 'nixos-fleet "versions"', machinesFile: null, allowApplyAll: true },
      });
    });

    test('every node\'s deployment is readable, including the two that cannot be built (so `--on @tag` works)', () => {
      expect(Object.keys(deployment).sort()).toEqual(['arm-1', 'db-1', 'legacy', 'web-1']);
      const expectedSsh = version === '0.5' ? { sshOptions: ['-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=4'] } : {};
      expect(deployment['web-1']).toEqual({
        targetHost: '198.51.100.10', targetPort: 22, targetUser: 'root', tags: ['hetzner', 'nbg1', 'web', 'prod'],
        buildOnTarget: false, allowLocalDeployment: false, keys: {}, replaceUnknownProfiles: true,
        privilegeEscalationCommand: ['sudo', '-H', '--'], ...expectedSsh,
      });
      expect(deployment.legacy).toMatchObject({ targetHost: '2001:db8::10', targetUser: 'deploy', targetPort: 22 });
      expect(deployment['arm-1'].buildOnTarget).toBe(nixEval('builtins.currentSystem') !== 'aarch64-linux');
      const prod = nixEval(colmena(version, 'builtins.attrNames (hive.deploymentConfigSelected (builtins.filter (n: builtins.elem "prod" hive.deploymentConfig.${n}.tags) (builtins.attrNames hive.deploymentConfig)))'), dir);
      expect(prod).toEqual(['arm-1', 'db-1', 'web-1']);
    });

    test('complete hosts build for their own platform and state version; the others fail alone, saying what to do', () => {
      expect(nixEval(colmena(version, 'hive.evalSelected [ "web-1" "arm-1" ]'), dir)).toEqual({
        'web-1': '/stub/toplevel/web-1/x86_64-linux/26.05',
        'arm-1': '/stub/toplevel/arm-1/aarch64-linux/26.05',
      });
      expect(nixEvalError(colmena(version, 'hive.toplevel.db-1'), dir))
        .toContain('nixos-fleet: cannot build host db-1: missing');
      expect(nixEvalError(colmena(version, 'hive.toplevel.legacy'), dir))
        .toMatch(/nixos-fleet: cannot build host legacy: its module .*\/machines\/legacy\.nix does not exist\. Create it/);
    });

    test('the module arguments Colmena gives reach the host modules (name, nodes), and the private network module is evaluated', () => {
      const r = nixEval<Json>(colmena(version, `{
        hostName = hive.nodes.web-1.config.networking.hostName;
        peer = hive.nodes.arm-1.config.environment.etc.peer.text;
        service = hive.nodes.web-1.config.systemd.services.fleet-private-network.environment;
        user = hive.nodes.legacy.config.users.users.deploy.extraGroups;
        trusted = hive.nodes.legacy.config.nix.settings.trusted-users;
      }`), dir);
      expect(r).toMatchObject({
        hostName: 'web-1',
        peer: 'arm-1 sees web-1',
        service: { FLEET_PRIVATE_ADDRESS: '10.0.1.10', FLEET_PRIVATE_GATEWAY: '10.0.0.1' },
        user: ['wheel'],
        trusted: ['deploy'],
      });
    });

    test(version === '0.4' ? 'stand-in 0.4 evaluator reads pkgs.system (our stub nixpkgs models the >= 25.11 warning the README mentions)' : 'stand-in 0.5 evaluator reads stdenv.hostPlatform.system: no warning', () => {
      const r = run('nix-instantiate', ['--eval', '--strict', '--json', '-E', colmena(version, 'hive.evalSelected [ "web-1" ]')], { cwd: dir });
      expect(r.status).toBe(0);
      if (version === '0.4') expect(r.stderr).toContain("'system' has been renamed to/replaced by 'stdenv.hostPlatform.system'");
      else expect(r.stderr).not.toContain("'system' has been renamed");
    });
  });

  test('a hive with per-node SSH options (the 0.5 setting) is refused by Colmena 0.4: why a 0.4 fleet leaves it off', () => {
    const dir = v05();
    expect(nixEvalError(colmena('0.4', 'hive.deploymentConfig.web-1'), dir)).toContain("The option `deployment.sshOptions' does not exist.");
    expect(nixEval(colmena('0.5', 'hive.deploymentConfig.web-1.sshOptions'), dir)).toEqual(['-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=4']);
  });

  test('own SSH options replace the default ones, for the fleet and per host', () => {
    const hosts = FLEET.hosts.map((h) => (h.name === 'web-1' ? { ...h, sshOptions: ['-o', 'ConnectTimeout=3'] } : h));
    const dir = project({ ...FLEET, hosts, colmena: { version: '0.5', sshOptions: ['-o', 'ServerAliveInterval=5'] } });
    expect(nixEval(colmena('0.5', '{ inherit (hive.deploymentConfig.arm-1) sshOptions; web = hive.deploymentConfig.web-1.sshOptions; }'), dir))
      .toEqual({ sshOptions: ['-o', 'ServerAliveInterval=5'], web: ['-o', 'ConnectTimeout=3'] });
    const on04 = { ...FLEET, hosts };
    expect(() => renderHive({ fleet: on04, hosts: HOSTS })).toThrow(/host "web-1": sshOptions needs Colmena 0.5/);
  });

  /**
   * The hive_nix output of a synthesized fleet, as Terraform computes it: every
   * reference replaced by a made-up address, and Terraform's escapes undone.
   */
  function appliedHive(fleet: FleetDeclaration): string {
    const parts = synthFleet(fleet).locals.hive_nix_parts as string[];
    let n = 0;
    // References first (a literal "$${" is no reference), then Terraform's escapes.
    const withAddresses = parts.join('').replace(/(?<!\$)\$\{[^}]*\}/g, (m) => {
      n += 1;
      return m.endsWith('_private}') ? `10.20.${n >> 8}.${n & 255}` : `198.18.${n >> 8}.${n & 255}`;
    });
    return terraformUnescaped(withAddresses);
  }

  test.each([
    ['the example fleet (main.ts)', exampleFleet],
    ['the test fleet', validFleet()],
    ['the 100-host bench fleet', benchFleet(100)],
  ])('%s, synthesized and applied, evaluates under both: every node deploys and builds', (_, fleet) => {
    const names = fleet.hosts.map((h) => h.name);
    const modules = Object.fromEntries(names.filter((h) => !fs.existsSync(path.join(REPO, 'hosts', `${h}.nix`)))
      .map((h) => [`hosts/${h}.nix`, '{ ... }: { }\n']));
    const dir = makeHiveProject(appliedHive(fleet), { factsFor: names, files: { 'nixpkgs.json': pin, ...modules } });
    projects.push(dir);
    for (const version of ['0.4', '0.5']) {
      const r = nixEval<{ deploy: Record<string, Json>; built: Record<string, string> }>(colmena(version, `{
        deploy = builtins.mapAttrs (_: d: d.targetHost) hive.deploymentConfig;
        built = hive.evalSelected (builtins.attrNames hive.deploymentConfig);
      }`), dir);
      expect(Object.keys(r.deploy).sort()).toEqual([...names].sort());
      expect(Object.keys(r.built).sort()).toEqual([...names].sort());
      for (const name of names) expect(r.built[name]).toMatch(new RegExp(`^/stub/toplevel/${name}/(x86_64|aarch64)-linux/\\d\\d\\.\\d\\d$`));
    }
  }, 60000);

  test('the stand-in evaluator is strict where Colmena is: an unknown deployment option or a wrong type fails', () => {
    const dir = v04();
    fs.writeFileSync(path.join(dir, 'hosts', 'web-1.nix'), '{ ... }: { deployment.targetPort = "22"; }\n');
    expect(nixEvalError(colmena('0.4', 'hive.deploymentConfig.web-1'), dir)).toContain("The option `deployment.targetPort' has conflicting definition values.");
    fs.writeFileSync(path.join(dir, 'hosts', 'web-1.nix'), '{ ... }: { deployment.sshOption = [ ]; }\n');
    expect(nixEvalError(colmena('0.4', 'hive.deploymentConfig.web-1'), dir)).toContain("The option `deployment.sshOption' does not exist.");
    fs.writeFileSync(path.join(dir, 'hosts', 'web-1.nix'), '{ lib, ... }: { deployment.targetPort = lib.mkForce "22"; }\n');
    expect(nixEvalError(colmena('0.4', 'hive.deploymentConfig.web-1'), dir)).toContain("A definition for option `deployment.targetPort' is not of type `null or unsigned int'.");
    expect(fs.existsSync(path.join(REPO, 'nix', 'hive.nix'))).toBe(true);
  });
});
