/**
 * The install step at its edges, for real: the project's FleetStack applied by real
 * `terraform apply` over real SSH to stand-in hosts (see standin/standin.ts), which
 * "reboot" into a modelled NixOS (new boot_id, /run/current-system, the old system moved
 * to /old-root, only declared accounts left) or, when the boot loader change did not
 * take, back into their old Debian.
 *
 *  - a host that reboots back into its old system: the apply fails, naming it;
 *  - a throttled link and several MB of installer output: the apply succeeds and gets the
 *    exit status (and, as a control, the same link with the reboot's wait capped at 1 s
 *    loses it: the test can fail);
 *  - a stalled download and a hung installer (with a process holding its output): the apply
 *    fails within the configured limits, the host untouched;
 *  - sshd without a pid file: stopped all the same, the ready step sees the new boot;
 *  - a non-root login user: still there after the conversion, with sudo; an undeclared one is gone;
 *  - a hostKey given as the raw `ssh-keyscan -t ed25519 HOST` line.
 *
 * Locally without root/terraform/sshd this suite is skipped with the reason; with CI=true a
 * missing prerequisite fails it. NIXOS_FLEET_E2E_TIMINGS=1 prints how long the applies took.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FleetDeclaration, HostDeclaration } from '../../constructs/fleet-declaration';
import { FleetStack } from '../../constructs/fleet-stack';
import { INSTALL_BOOT_RECORD } from '../../constructs/nixos-install';
import { StandinFleet, StandinHost, fakeInfectScript, prerequisites, startStandinFleet } from './standin/standin';
import { TerraformRun, initAndApply, startSshAgent, synthStack, terraformEnv } from './support/terraform';
import { runProjectScript } from '../support/process';

const pre = prerequisites();
const inCi = process.env.CI === 'true';
if (!pre.ok && !inCi) {
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED e2e install edge cases: missing ${pre.missing.join(', ')} (needs root, terraform, sshd; see README)`);
}
const suite = pre.ok || inCi ? describe : describe.skip;

jest.setTimeout(600_000);

const NAMES = ['slow', 'nopid', 'keyscan', 'deploy', 'oldboot', 'slowcap', 'stall', 'hung'] as const;
type Name = (typeof NAMES)[number];

suite('install edge cases on stand-in hosts with real Terraform', () => {
  let fleet: StandinFleet;
  let agent: { socket: string; stop: () => void } | undefined;
  let env: NodeJS.ProcessEnv;
  const host = (n: Name): StandinHost => fleet.hosts[NAMES.indexOf(n)];
  const etc = (h: StandinHost, p: string) => path.join(h.etcUpper, p);
  const bootId = async (h: StandinHost) => (await fleet.exec(h, 'cat /proc/sys/kernel/random/boot_id')).stdout.trim();
  const realOsRelease = fs.readFileSync('/etc/os-release', 'utf8');
  const debianName = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(realOsRelease)?.[1] ?? 'Debian';

  beforeAll(async () => {
    expect(pre.missing).toEqual([]); // in CI, a missing prerequisite is a failure
    fleet = await startStandinFleet({ count: NAMES.length, names: [...NAMES], rebootDelaySeconds: 1 });
    agent = startSshAgent(fleet.clientKeyPath);
    env = terraformEnv({ SSH_AUTH_SOCK: agent.socket });
  });

  afterAll(async () => {
    agent?.stop();
    await fleet?.stop();
    // the hosts' NixOS "activation" replaced their /etc files, never the real machine's
    expect(fs.readFileSync('/etc/os-release', 'utf8')).toBe(realOsRelease);
  });

  function declare(hosts: HostDeclaration[], extra: Partial<FleetDeclaration> = {}): FleetDeclaration {
    return { name: 'edges', adminSshKeys: [fleet.clientPublicKey], adminCidrs: [fleet.subnet], hosts, ...extra };
  }
  const existing = (h: StandinHost, more: Partial<HostDeclaration> = {}): HostDeclaration =>
    ({ name: h.name, cloud: 'existing', address: h.address, provider: 'hetznercloud', ...more }) as HostDeclaration;
  const dirs: Record<string, string> = {};
  const apply = (name: string, decl: FleetDeclaration): Promise<TerraformRun> => {
    dirs[name] = synthStack(name, (app) => new FleetStack(app, 'fleet', { fleet: decl }));
    return initAndApply(dirs[name], env);
  };

  describe('hosts that convert', () => {
    let run: TerraformRun;
    const before: Partial<Record<Name, string>> = {};
    let keyscanLine = '';

    beforeAll(async () => {
      const installer = fleet.installer.publish('/big/nixos-infect', fakeInfectScript({ outputKb: 3 * 1024 }));
      const quiet = fleet.installer.publish('/nixos-infect', fakeInfectScript());
      // ~3 MB of log over 2 Mbit/s: when the script exits, megabytes are still on their way to Terraform
      await fleet.throttle(host('slow'), { rateKbit: 2000 });
      // a host whose sshd has no pid file (e.g. started by hand or by an init without one)
      expect((await fleet.exec(host('nopid'), 'rm /run/sshd.pid && ! test -e /run/sshd.pid')).code).toBe(0);
      // what the README tells users to run, as printed
      keyscanLine = execFileSync('ssh-keyscan', ['-t', 'ed25519', host('keyscan').address], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .split('\n').find((l) => l.startsWith(host('keyscan').address)) ?? '';
      // a Debian host reached as a sudo user, with another login that nothing declares
      await fleet.addUser(host('deploy'), 'deploy', { sudo: 'nopasswd' });
      await fleet.addUser(host('deploy'), 'olduser');
      expect((await fleet.ssh(host('deploy'), 'id -un', { user: 'olduser' })).stdout).toBe('olduser\n');
      for (const n of ['slow', 'nopid', 'keyscan', 'deploy'] as const) before[n] = await bootId(host(n));
      run = await apply('converts', declare([
        existing(host('slow'), { installer }),
        existing(host('nopid')),
        existing(host('keyscan'), { hostKey: keyscanLine }),
        existing(host('deploy'), { user: 'deploy' }),
      ], { installer: quiet }));
      await fleet.unthrottle(host('slow'));
    });

    test('apply succeeds; every host is NixOS on a new boot, and says so', async () => {
      if (process.env.NIXOS_FLEET_E2E_TIMINGS) console.log(`converts apply: ${run.seconds} s\n${run.output.split('\n').filter((l) => /Creation complete|Still creating/.test(l)).join('\n')}`); // eslint-disable-line no-console
      expect(run.output).toContain('Apply complete!');
      expect(run.code).toBe(0);
      for (const n of ['slow', 'nopid', 'keyscan', 'deploy'] as const) {
        expect(fleet.rebootCount(host(n))).toBe(1);
        expect(fleet.bootMode(host(n))).toBe('nixos');
        const now = await bootId(host(n));
        expect(now).not.toBe(before[n]);
        expect(run.output).toContain(`nixos-fleet[${n}]: NixOS is up: 26.05.19700101.5ef3f95 (Stand-in) (new boot ${now})`);
      }
    });

    test('a throttled link with a large log: Terraform got the exit status', () => {
      expect(run.output).not.toMatch(/without exit status/);
      expect(run.output).toContain('building the system: 0000'); // the log reached Terraform
      expect(fs.statSync(path.join(host('slow').logDir, 'nixos-infect.log')).size).toBeGreaterThan(3 * 1024 * 1024);
      expect(run.output).toMatch(/nixos-fleet\[slow\]: installed; sshd stopped .*rebooting into NixOS 1s after this SSH session ends/);
    });

    test('the log and the install record survive the move of the old system to /old-root', () => {
      const h = host('slow');
      expect(fs.existsSync(path.join(h.logDir, 'nixos-infect.log'))).toBe(true); // kept via /etc/NIXOS_LUSTRATE
      expect(fs.existsSync(path.join(h.oldRootDir, 'var', 'log', 'nixos-infect.log'))).toBe(true);
      expect(fs.existsSync(etc(h, INSTALL_BOOT_RECORD.slice('/etc/'.length)))).toBe(true);
      expect(fs.existsSync(etc(h, 'NIXOS_LUSTRATE'))).toBe(false);
    });

    test('sshd without a pid file was stopped before the reboot', () => {
      const log = fs.readFileSync(host('nopid').sshdLogPath, 'utf8');
      // SIGTERM from the install step (the reboot SIGKILLs, which sshd cannot log)
      expect(log).toContain('Received signal 15; terminating.');
      expect(run.output).toMatch(/nixos-fleet\[nopid\]: installed; sshd stopped \(listener pid\(s\): \d+\)/);
    });

    test('a raw ssh-keyscan line is accepted as the hostKey and pins the connection', () => {
      expect(keyscanLine.startsWith(`${host('keyscan').address} ssh-ed25519 AAAA`)).toBe(true);
      const tf = JSON.parse(fs.readFileSync(path.join(dirs.converts, 'cdk.tf.json'), 'utf8'));
      // Terraform's host_key is the key alone
      expect(tf.resource.terraform_data.nixos_install_keyscan.connection.host_key).toBe(host('keyscan').hostPublicKey);
      expect(run.output).toContain('nixos-fleet[keyscan]: NixOS is up');
    });

    test('a non-root login user survives the conversion, with its keys and password-less sudo', async () => {
      const h = host('deploy');
      const r = await fleet.ssh(h, 'id -un && sudo -n id -u && test -d "$HOME"', { user: 'deploy' });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('deploy\n0\n');
      // the install step and the ready step ran as deploy through sudo
      expect(run.output).toContain('nixos-fleet[deploy]: NixOS is up');
      // the conversion really dropped what nothing declares: the other login, the Debian sudo rule
      expect((await fleet.ssh(h, 'true', { user: 'olduser', timeoutMs: 15_000 })).code).not.toBe(0);
      expect(fs.existsSync(path.join(h.oldRootDir, 'home', 'olduser'))).toBe(true);
      expect(fs.existsSync(path.join(h.oldRootDir, 'etc', 'sudoers.d', 'deploy'))).toBe(true);
      expect((await fleet.exec(h, 'test -e /etc/sudoers.d/deploy || getent passwd olduser')).code).not.toBe(0);
      // ... through the module the install passed as NIXOS_IMPORT
      expect(fs.readFileSync(etc(h, 'nixos/standin-env'), 'utf8')).toMatch(/^NIXOS_IMPORT=\/etc\/nixos\/nixos-fleet\/install\.nix$/m);
      expect(fs.readFileSync(etc(h, 'nixos/configuration.nix'), 'utf8')).toContain('/etc/nixos/nixos-fleet/install.nix');
      expect(fs.readFileSync(etc(h, 'nixos/nixos-fleet/admin-user.nix'), 'utf8'))
        .toBe(fs.readFileSync(path.join(__dirname, '..', '..', 'nix', 'modules', 'admin-user.nix'), 'utf8'));
      // root keeps its keys too (nixos-infect's own part)
      expect((await fleet.ssh(h, 'id -u')).stdout).toBe('0\n');
    });

    test('npm run hive fetches the converted host\'s facts as the non-root user', async () => {
      const h = host('deploy');
      const project = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-edges-'));
      fs.symlinkSync(path.dirname(path.dirname(dirs.converts)), path.join(project, 'cdktf.out'));
      const r = await runProjectScript('scripts/hive.ts', ['--identity', fleet.clientKeyPath, '--known-hosts', fleet.knownHostsPath,
        '--ssh-config', '/dev/null', '--host', h.name], { cwd: project });
      expect(r.stdout + r.stderr).toMatch(new RegExp(`${h.name}.*fetched`));
      expect(r.code).toBe(0);
      expect(fs.readFileSync(path.join(project, 'hosts', h.name, 'hardware-configuration.nix'), 'utf8'))
        .toBe(fs.readFileSync(etc(h, 'nixos/hardware-configuration.nix'), 'utf8'));
      expect(fs.readFileSync(h.sshdLogPath, 'utf8')).toMatch(/Accepted publickey for deploy/);
    });
  });

  describe('hosts that must not count as converted', () => {
    let run: TerraformRun;

    beforeAll(async () => {
      const oldboot = fleet.installer.publish('/oldboot/nixos-infect', fakeInfectScript({ bootEntry: false }));
      const big = fleet.installer.publish('/big/nixos-infect', fakeInfectScript({ outputKb: 3 * 1024 }));
      await fleet.throttle(host('slowcap'), { rateKbit: 2000 });
      run = await apply('reverts', declare([
        existing(host('oldboot'), { installer: oldboot }),
        // the control for the throttled test: the reboot may wait 1 s at most for the session
        existing(host('slowcap'), { installer: big, install: { sessionWaitSeconds: 1, rebootDelaySeconds: 0 } }),
      ]));
      await fleet.unthrottle(host('slowcap'));
    });

    test('a host that reboots back into its old system fails the apply, naming what it runs', () => {
      expect(run.code).not.toBe(0);
      expect(run.output).toContain(`nixos-fleet[oldboot]: came back after the reboot but runs ${debianName}`);
      expect(run.output).toContain('not NixOS: the machine booted its old');
      expect(fleet.rebootCount(host('oldboot'))).toBe(1);
      expect(fleet.bootMode(host('oldboot'))).toBe('debian');
      expect(fs.existsSync(etc(host('oldboot'), 'NIXOS'))).toBe(true); // which is why /etc/NIXOS proves nothing
    });

    test('an install that runs again over the leftover /etc/NIXOS refuses, naming what the host runs', async () => {
      // lost state: Terraform installs again; nixos-infect must not run twice over a failed conversion
      fs.rmSync(path.join(path.dirname(path.dirname(dirs.reverts)), 'reverts.tfstate'), { force: true });
      const again = await initAndApply(synthStack('reverts-again', (app) => new FleetStack(app, 'fleet', {
        fleet: declare([existing(host('oldboot'), { installer: fleet.installer.publish('/oldboot/nixos-infect', fakeInfectScript({ bootEntry: false })) })]),
      })), env);
      expect(again.code).not.toBe(0);
      expect(again.output).toContain(`nixos-fleet[oldboot]: /etc/NIXOS exists (an earlier nixos-infect run) but the host runs ${debianName}`);
      expect(fleet.rebootCount(host('oldboot'))).toBe(1);
      expect(fs.readFileSync(etc(host('oldboot'), 'nixos/standin-env'), 'utf8').match(/^STANDIN_RUN=/gm)).toHaveLength(1);
    });

    test('control: the same slow link with the reboot\'s wait capped at 1 s loses the exit status', () => {
      expect(run.output).toMatch(/terraform_data\.nixos_install_slowcap[\s\S]*without exit status/);
      expect(fleet.rebootCount(host('slowcap'))).toBe(1);
    });
  });

  describe('bounded waits', () => {
    let run: TerraformRun;

    beforeAll(async () => {
      const stalled = fleet.installer.publish('/stalled/nixos-infect', fakeInfectScript(), { stall: true });
      const hung = fleet.installer.publish('/hung/nixos-infect', fakeInfectScript({ hang: 'with-background-holder' }));
      run = await apply('bounded', declare([
        existing(host('stall'), { installer: stalled, install: { downloadConnectTimeoutSeconds: 3, downloadTimeoutSeconds: 6 } }),
        existing(host('hung'), { installer: hung, install: { installerTimeoutSeconds: 10 } }),
      ]));
    });

    test('the apply fails within the configured limits', () => {
      if (process.env.NIXOS_FLEET_E2E_TIMINGS) console.log(`bounded apply: ${run.seconds} s`); // eslint-disable-line no-console
      expect(run.code).not.toBe(0);
      // limits 6 s and 10 s, in parallel; plus init-free apply overhead, never forever
      expect(run.seconds).toBeLessThan(40);
    });

    test('a stalled download: named, nothing run, host untouched', async () => {
      const h = host('stall');
      expect(fleet.installer.requests()).toContain('/stalled/nixos-infect');
      expect(run.output).toContain(`nixos-fleet[stall]: download of ${fleet.installer.url('/stalled/nixos-infect')} did not finish within 6s (connect timeout 3s); nothing was run`);
      expect(fs.existsSync(etc(h, 'nixos'))).toBe(false);
      expect(fleet.rebootCount(h)).toBe(0);
      expect(await fleet.isSshUp(h)).toBe(true);
    });

    test('a hung installer holding its output: stopped at the limit, log tail shown, no reboot', async () => {
      const h = host('hung');
      expect(run.output).toContain('nixos-fleet[hung]: installer did not finish within 10s and was stopped; no reboot scheduled; last 40 lines of /var/log/nixos-infect.log:');
      expect(run.output).toContain('started a background process');
      expect(fs.existsSync(etc(h, 'NIXOS'))).toBe(false);
      expect(fs.existsSync(path.join(h.bootDir, 'standin-nixos'))).toBe(false);
      await new Promise((r) => setTimeout(r, 2500)); // a reboot would have come by now
      expect(fleet.rebootCount(h)).toBe(0);
      expect(await fleet.isSshUp(h)).toBe(true);
      // the installer itself is gone (timeout stopped its process group)
      expect((await fleet.exec(h, 'pgrep -f "sleep infinity"')).code).toBe(1);
    });
  });
});
