/**
 * Install timing: 1, 8 and 40 stand-in hosts, an installer that takes ~3 s, deployed
 * the way the README says: `npm run deploy` (scripts/deploy.ts → the real `cdktf deploy`
 * CLI → real `terraform plan`/`apply`), not a hand-written terraform command line.
 * 1 and 40 hosts run three times each, interleaved (the machine may be shared: the
 * bench takes medians); 8 hosts once; and once 40 hosts with `--terraform-parallelism=10`
 * (Terraform's default width): the control that shows the bench can see waves.
 *
 * A benchmark, not a timed assertion: it runs only from `npm run bench`
 * (NIXOS_FLEET_BENCH=1) and prints
 *   INSTALL_BENCH hosts=K width=W seconds=S overlap=M install_max=I ready_max=R
 * lines that scripts/dev/bench.ts parses (W: the width the run asked for, "default"
 * for none given; M: the most installer runs that were in progress at the same
 * moment, from timestamps the hosts themselves wrote; I and R: the slowest host's
 * install and ready step, from Terraform's own "Creation complete after Ns" lines). It asserts that every install
 * succeeded and rebooted once, and that the overlap is what the width allows, so a
 * width that never reached Terraform fails the bench instead of looking slow.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FleetDeclaration } from '../../constructs/fleet-declaration';
import { INSTALL_WIDTH, TERRAFORM_DEFAULT_WIDTH } from '../../scripts/deploy';
import { StandinFleet, fakeInfectScript, prerequisites, startStandinFleet } from './standin/standin';
import { startSshAgent, terraformEnv } from './support/terraform';

const enabled = process.env.NIXOS_FLEET_BENCH === '1' && prerequisites().ok;
if (!enabled) {
  // eslint-disable-next-line no-console
  console.warn('SKIPPED install benchmark: run `npm run bench` (needs NIXOS_FLEET_BENCH=1, root, terraform, sshd)');
}

const ROOT = path.resolve(__dirname, '..', '..');
/** Where each stand-in host notes when its installer started and ended (in its own /var/log). */
const TIMES_LOG = 'nixos-fleet-bench.times';

/**
 * The stand-in installer with two lines added after the shebang: the start time and,
 * on exit, the end time, in the host's own log dir. The overlap of these intervals is
 * what Terraform really ran side by side.
 */
function timedInstaller(installSeconds: number): string {
  const text = fakeInfectScript({ installSeconds });
  const nl = text.indexOf('\n');
  const stamp = [
    `echo "start $(date +%s.%N)" >>/var/log/${TIMES_LOG}`,
    `trap 'echo "end $(date +%s.%N)" >>/var/log/${TIMES_LOG}' EXIT`,
  ].join('\n');
  return `${text.slice(0, nl + 1)}${stamp}\n${text.slice(nl + 1)}`;
}

/** The most intervals open at one instant. */
export function maxOverlap(intervals: { start: number; end: number }[]): number {
  const events = intervals.flatMap((i) => [{ t: i.start, d: 1 }, { t: i.end, d: -1 }]);
  events.sort((a, b) => a.t - b.t || a.d - b.d); // an end before a start at the same instant
  let open = 0;
  let most = 0;
  for (const e of events) {
    open += e.d;
    most = Math.max(most, open);
  }
  return most;
}

function installIntervals(fleet: StandinFleet): { start: number; end: number }[] {
  return fleet.hosts.map((h) => {
    // Written under /var/log before the reboot; NixOS's first boot moves it to /old-root.
    const file = [path.join(h.logDir, TIMES_LOG), path.join(h.oldRootDir, 'var', 'log', TIMES_LOG)].find((f) => fs.existsSync(f));
    if (!file) throw new Error(`${h.name}: no ${TIMES_LOG} in /var/log or /old-root/var/log`);
    const text = fs.readFileSync(file, 'utf8');
    const start = Number(/^start (\S+)$/m.exec(text)?.[1]);
    const end = Number(/^end (\S+)$/m.exec(text)?.[1]);
    if (!Number.isFinite(start) || !Number.isFinite(end)) throw new Error(`${h.name}: no install times in ${TIMES_LOG}: ${text}`);
    return { start, end };
  });
}

/**
 * The slowest host's `nixos_<step>_<host>` step, in whole seconds, from the
 * "Creation complete after Ns" lines Terraform printed (one per host, or it throws).
 */
function slowestStep(output: string, step: 'install' | 'ready', hosts: number): number {
  const seconds = [...output.matchAll(new RegExp(`terraform_data\\.nixos_${step}_[a-z0-9-]+[^:\\n]*: Creation complete after (?:(\\d+)m)?(\\d+)s`, 'g'))]
    .map((m) => Number(m[1] ?? 0) * 60 + Number(m[2]));
  if (seconds.length !== hosts) throw new Error(`expected ${hosts} "nixos_${step}_*: Creation complete" lines, found ${seconds.length}`);
  return Math.max(...seconds);
}

/** A main.ts-like entry for the app command: the stand-in fleet as a literal, its own state file, then synth. */
function writeEntry(decl: FleetDeclaration, tag: string, statePath: string): { entry: string; cleanup: () => void } {
  fs.mkdirSync(path.join(ROOT, '.build'), { recursive: true });
  const dir = fs.mkdtempSync(path.join(ROOT, '.build', 'install-bench-'));
  const entry = path.join(dir, `install-bench-${tag}-${process.pid}.ts`);
  const constructs = path.relative(dir, path.join(ROOT, 'constructs')).split(path.sep).join('/');
  fs.writeFileSync(entry, [
    "import { App, LocalBackend } from 'cdktf';",
    `import { FleetDeclaration } from '${constructs}/fleet-declaration';`,
    `import { FleetStack } from '${constructs}/fleet-stack';`,
    `const fleet: FleetDeclaration = ${JSON.stringify(decl, null, 2)};`,
    'const app = new App();',
    "const stack = new FleetStack(app, 'fleet', { fleet });",
    // cdktf's default state file is terraform.fleet.tfstate in the project root: the
    // project's own deploy state. The bench keeps its state in its temp dir.
    `new LocalBackend(stack, { path: ${JSON.stringify(statePath)} });`,
    'app.synth();',
    '',
  ].join('\n'));
  const bundle = path.join(ROOT, '.build', `${path.basename(entry, '.ts')}.js`);
  return {
    entry,
    cleanup: () => {
      fs.rmSync(dir, { recursive: true, force: true });
      for (const f of [bundle, `${bundle}.inputs.json`]) fs.rmSync(f, { force: true });
    },
  };
}

/** `npm run deploy -- ARGS` without npm in between (npm adds nothing but start-up time). */
function deploy(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; output: string; seconds: number }> {
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'app', 'run.js'), path.join(ROOT, 'scripts', 'deploy.ts'), ...args], {
      cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 540_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
    });
  });
}

(enabled ? describe : describe.skip)('install benchmark (npm run deploy → cdktf deploy → terraform)', () => {
  jest.setTimeout(600_000);

  test.each([
    [1, undefined], [40, undefined],
    [1, undefined], [40, undefined],
    [1, undefined], [40, undefined],
    [8, undefined],
    [40, 10],
  ])('%i host(s), width %p', async (count, width) => {
    const fleet = await startStandinFleet({ count, rebootDelaySeconds: 2, startTimeoutMs: 120_000 });
    const agent = startSshAgent(fleet.clientKeyPath);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'nixos-fleet-install-bench-'));
    const tag = `${count}-${width ?? 'default'}`;
    let cleanup = (): void => undefined;
    try {
      const installer = fleet.installer.publish('/nixos-infect', timedInstaller(3));
      const decl: FleetDeclaration = {
        name: 'bench', adminSshKeys: [fleet.clientPublicKey], adminCidrs: [fleet.subnet], installer,
        hosts: fleet.hosts.map((h) => ({ name: h.name, cloud: 'existing' as const, address: h.address, provider: 'hetznercloud' })),
      };
      const written = writeEntry(decl, tag, path.join(out, 'bench.tfstate'));
      cleanup = written.cleanup;
      const env = terraformEnv({ SSH_AUTH_SOCK: agent.socket, NIXOS_FLEET_APP_ENTRY: written.entry, FORCE_COLOR: '0' });
      const args = ['--auto-approve', '--output', out, ...(width ? [`--terraform-parallelism=${width}`] : [])];
      const run = await deploy(args, env);
      if (run.code !== 0) throw new Error(`npm run deploy ${args.join(' ')} failed (exit ${run.code}):\n${run.output.slice(-6000)}`);
      for (const h of fleet.hosts) expect(fleet.rebootCount(h)).toBe(1);
      const overlap = maxOverlap(installIntervals(fleet));
      // Never wider than asked; and past Terraform's default of 10 when asked for more.
      const limit = Math.min(count, width ?? INSTALL_WIDTH);
      expect(overlap).toBeLessThanOrEqual(limit);
      if (limit > TERRAFORM_DEFAULT_WIDTH) expect(overlap).toBeGreaterThan(TERRAFORM_DEFAULT_WIDTH);
      const install = slowestStep(run.output, 'install', count);
      const ready = slowestStep(run.output, 'ready', count);
      // The whole command (cdktf start-up, synth, init, plan, apply) is what a user waits for.
      // eslint-disable-next-line no-console
      console.log(`INSTALL_BENCH hosts=${count} width=${width ?? 'default'} seconds=${run.seconds.toFixed(2)} overlap=${overlap} install_max=${install} ready_max=${ready}`);
    } finally {
      cleanup();
      fs.rmSync(out, { recursive: true, force: true });
      agent.stop();
      await fleet.stop();
    }
  });
});
