/**
 * `npm run bench`: how fast the app synthesizes, and how much memory it needs,
 * for fleets of 1, 10, 100 and 1000 hosts; writes docs/BENCHMARKS.md.
 *
 * For each size a fleet (half Hetzner, three tenths DigitalOcean, one fifth
 * existing machines; a valid declaration) is written as a temporary entry file
 * under .build/ that imports the project's constructs, then synthesized by
 *   (a) the project's app command: `node scripts/app/app.js` (esbuild bundle), and
 *   (b) the classic cdktf template path: `node -r ts-node/register <entry>`,
 *       type-checking on (TS_NODE_TRANSPILE_ONLY unset),
 * in rounds: every round synthesizes every size once (a, b per size), so machine
 * noise (this machine is shared) hits all sizes and both paths alike and the
 * ratios to the 1-host synth, which are the targets, come from the same minutes.
 * Each run is wrapped in `/usr/bin/time -f %M` (Debian package `time`) for its
 * peak RSS. Both paths must produce the same cdk.tf.json with one server per
 * cloud host, or the bench fails: a fast wrong answer is not a result.
 *
 * Also measured: `npm test` once, and the install harness
 * (__tests__/e2e/install-bench.test.ts: 1, 8 and 40 stand-in hosts deployed with
 * `npm run deploy`, and 40 at Terraform's default width as the control).
 * If the app misses a target, the largest size is profiled with
 * `node --cpu-prof` and the self time is summarized by package.
 *
 * Usage: npm run bench -- [--skip-npm-test] [--skip-install] [--profile] [--sizes 1,10,100,1000]
 *                         [--rounds N] [--app-only]
 *   --app-only skips the ts-node path (quick iterations; the ts-node target is then not measured).
 * This script is the only writer of docs/BENCHMARKS.md.
 */
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CLOUD_ADAPTERS } from '../../constructs/clouds';
import { FleetDeclaration, HostDeclaration } from '../../constructs/fleet-declaration';
import { validateFleet } from '../../constructs/fleet-validation';
import { intToIpv4, ipv4ToInt } from '../../constructs/validation';
import { DeployTimings, renderDeployTimings } from './deploy-timings';

const ROOT = path.resolve(__dirname, '..');
const LOAD_AT_START = os.loadavg().map((l) => l.toFixed(2)).join(', ');
const TIME_BIN = '/usr/bin/time';
const DEFAULT_SIZES = [1, 10, 100, 1000];
const HARNESS = path.join('__tests__', 'e2e', 'install-bench.test.ts');

/**
 * The targets, in one place so the table and the verdicts agree. Times are ratios to
 * the 1-host synth of the same run (node + cdktf + the bundle: the fixed cost),
 * because absolute times move with the machine and its load.
 */
export const TARGETS = {
  hosts100MaxRatio: 1.5,
  hosts1000MaxRatio: 7,
  hosts100MaxMb: 150,
  minSpeedupVsTsNode: 6,
  /** "Linear": the marginal time per host at 1000 is at most this multiple of the one at 100. */
  maxMarginalGrowth: 1.5,
  /** 40 hosts installed with `npm run deploy` in at most this multiple of one host's time. */
  maxInstall40Ratio: 1.5,
} as const;

/** Rounds per size: the app runs this many times (plus one bundling run), ts-node the first TS_NODE_ROUNDS. */
const DEFAULT_ROUNDS = 7;
const TS_NODE_ROUNDS = 3;

// ------------------------------------------------------------------ fleets

/** Networks sized for 1000 hosts: a /21 Hetzner subnet has 2046 usable addresses. */
const HETZNER_NETWORK = { ipRange: '10.0.0.0/16', subnetRange: '10.0.8.0/21', networkZone: 'eu-central' };
const DIGITALOCEAN_VPC = { region: 'fra1', ipRange: '10.20.0.0/16' };

/**
 * A syntactically valid ssh-ed25519 public key line with a made-up key: the
 * bench needs a key that passes validation, not one anybody holds.
 */
function benchPublicKey(): string {
  const type = Buffer.from('ssh-ed25519');
  const key = Buffer.alloc(32, 0x42);
  const blob = Buffer.alloc(4 + type.length + 4 + key.length);
  blob.writeUInt32BE(type.length, 0);
  type.copy(blob, 4);
  blob.writeUInt32BE(key.length, 4 + type.length);
  key.copy(blob, 8 + type.length);
  return `ssh-ed25519 ${blob.toString('base64')} bench@nowhere`;
}

/**
 * A valid fleet of `size` hosts. Host i is on Hetzner when i mod 10 < 5, on
 * DigitalOcean when < 8, else an existing machine (every other one already NixOS).
 */
export function benchFleet(size: number): FleetDeclaration {
  const hetznerTypes = ['cx23', 'cx33', 'cpx22'];
  const hetznerLocations = ['fsn1', 'nbg1', 'hel1'];
  const subnetBase = ipv4ToInt(HETZNER_NETWORK.subnetRange.split('/')[0])!;
  const existingBase = ipv4ToInt('198.18.0.0')!; // RFC 2544 benchmarking range
  let hetzner = 0;
  let existing = 0;
  const hosts: HostDeclaration[] = [];
  for (let i = 0; i < size; i++) {
    const slot = i % 10;
    const tags = ['bench', slot % 2 === 0 ? 'web' : 'worker'];
    if (slot < 5) {
      hosts.push({
        name: `hz-${i}`, cloud: 'hetzner', serverType: hetznerTypes[i % 3], location: hetznerLocations[i % 3],
        privateIp: intToIpv4(subnetBase + 10 + hetzner++), tags,
        ...(i % 20 === 0 ? { firewallRules: [{ protocol: 'tcp' as const, port: '443', sourceCidrs: ['0.0.0.0/0', '::/0'] }] } : {}),
      });
    } else if (slot < 8) {
      hosts.push({ name: `do-${i}`, cloud: 'digitalocean', size: 's-1vcpu-2gb', region: DIGITALOCEAN_VPC.region, tags });
    } else {
      hosts.push({
        name: `ex-${i}`, cloud: 'existing', address: intToIpv4(existingBase + 1 + existing), tags,
        provider: 'hetznercloud', alreadyNixos: existing++ % 2 === 1,
      });
    }
  }
  const clouds = new Set(hosts.map((h) => h.cloud));
  return {
    name: 'bench',
    nixChannel: 'nixos-26.05',
    adminSshKeys: [benchPublicKey()],
    adminCidrs: ['203.0.113.0/24'],
    ...(clouds.has('hetzner') ? { hetzner: HETZNER_NETWORK } : {}),
    ...(clouds.has('digitalocean') ? { digitalocean: DIGITALOCEAN_VPC } : {}),
    hosts,
  };
}

/** A main.ts-like entry: the fleet as a literal (what a user writes), then synth. */
export function entrySource(fleet: FleetDeclaration, constructsImport: string): string {
  return [
    `// Generated by scripts/dev/bench.ts (${fleet.hosts.length} hosts); deleted after the run.`,
    "import { App } from 'cdktf';",
    `import { FleetDeclaration } from '${constructsImport}/fleet-declaration';`,
    `import { FleetStack } from '${constructsImport}/fleet-stack';`,
    '',
    `const fleet: FleetDeclaration = ${JSON.stringify(fleet, null, 2)};`,
    '',
    'const app = new App();',
    "new FleetStack(app, 'fleet', { fleet });",
    'app.synth();',
    '',
  ].join('\n');
}

// ------------------------------------------------------------------ measuring

interface Sample {
  readonly seconds: number;
  /** User + system CPU seconds of the run (all its threads and children). */
  readonly cpuSeconds: number;
  /** Peak resident set size, MB (10^6 bytes). */
  readonly peakMb: number;
}

type PathName = 'app' | 'ts-node';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  // The ts-node path must type-check like the classic template; no inherited shortcuts.
  for (const k of Object.keys(env)) if (k.startsWith('TS_NODE_')) delete env[k];
  delete env.NODE_OPTIONS;
  return env;
}

function failure(what: string, r: SpawnSyncReturns<string>): Error {
  return new Error(`${what} failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}):\n${(r.stderr || '').slice(-4000)}`);
}

/** Runs one synth under /usr/bin/time; returns wall time, peak RSS and the synthesized stack. */
function synthOnce(which: PathName, entry: string, workDir: string): Sample & { stack: string } {
  const outdir = fs.mkdtempSync(path.join(workDir, `out-${which}-`));
  const rssFile = path.join(workDir, 'rss.txt');
  const nodeArgs = which === 'app'
    ? [path.join(ROOT, 'scripts', 'app', 'app.js')]
    : ['-r', 'ts-node/register', entry];
  const env = cleanEnv({ CDKTF_OUTDIR: outdir, ...(which === 'app' ? { NIXOS_FLEET_APP_ENTRY: entry } : {}) });
  const start = process.hrtime.bigint();
  const r = spawnSync(TIME_BIN, ['-f', '%U %S %M', '-o', rssFile, process.execPath, ...nodeArgs], {
    cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.error) throw r.error;
  if (r.status !== 0) throw failure(`${which} synth of ${path.basename(entry)}`, r);
  const [user, sys, rssKib] = (fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop() ?? '').split(' ').map(Number);
  if (!Number.isFinite(rssKib) || rssKib <= 0) throw new Error(`could not read peak RSS from ${TIME_BIN}`);
  const stackFile = path.join(outdir, 'stacks', 'fleet', 'cdk.tf.json');
  const stack = fs.readFileSync(stackFile, 'utf8');
  fs.rmSync(outdir, { recursive: true, force: true });
  return { seconds, cpuSeconds: user + sys, peakMb: (rssKib * 1024) / 1e6, stack };
}

/** The synthesized stack must hold one server per cloud host: checks the bench measures real work. */
function checkStack(stackJson: string, fleet: FleetDeclaration): void {
  const stack = JSON.parse(stackJson) as { resource?: Record<string, Record<string, unknown>> };
  const count = (type: string): number => Object.keys(stack.resource?.[type] ?? {}).length;
  const want = (cloud: string): number => fleet.hosts.filter((h) => h.cloud === cloud).length;
  const got = { hcloud_server: count('hcloud_server'), digitalocean_droplet: count('digitalocean_droplet') };
  const expected = { hcloud_server: want('hetzner'), digitalocean_droplet: want('digitalocean') };
  if (got.hcloud_server !== expected.hcloud_server || got.digitalocean_droplet !== expected.digitalocean_droplet) {
    throw new Error(`synthesized stack has ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
  }
}

/** Deletes a generated entry and what scripts/app/run.js made of it (the bundle and its input list). */
function removeEntry(entryDir: string, entry: string): void {
  fs.rmSync(entryDir, { recursive: true, force: true });
  const bundle = path.join(ROOT, '.build', `${path.basename(entry, '.ts')}.js`);
  for (const f of [bundle, `${bundle}.inputs.json`]) fs.rmSync(f, { force: true });
}

interface SizeResult {
  readonly hosts: number;
  /** App runs in the median (the bundling run excluded). */
  readonly reps: number;
  /** Medians of runs that reuse scripts/app/run.js's cached bundle, as repeated synths do. */
  readonly app: Sample;
  /**
   * Median over the rounds of (this size's wall time / the 1-host wall time of the same
   * round): paired, so a burst of load on the machine moves both sides of a ratio.
   */
  readonly ratioToOne?: number;
  /** The same for CPU time (less moved by other work on the machine; GC and compiler threads count). */
  readonly cpuRatioToOne?: number;
  /** The first app run of the size: esbuild bundles the new entry. */
  readonly appFirst: Sample;
  readonly tsNodeReps: number;
  readonly tsNode?: Sample;
}

interface SizeEntry {
  readonly size: number;
  readonly fleet: FleetDeclaration;
  readonly entryDir: string;
  readonly entry: string;
  readonly app: Sample[];
  readonly tsNode: Sample[];
  appFirst?: Sample;
}

/**
 * Synthesizes every size in `rounds` rounds (round r: each size once on the app path,
 * and on the ts-node path while r < TS_NODE_ROUNDS). A bundling run per size comes first.
 */
function benchSizes(sizes: number[], rounds: number, withTsNode: boolean, workDir: string): SizeResult[] {
  const entries: SizeEntry[] = sizes.map((size) => {
    const fleet = benchFleet(size);
    validateFleet(fleet, CLOUD_ADAPTERS).throwIfAny();
    const entryDir = fs.mkdtempSync(path.join(ROOT, '.build', 'bench-'));
    const entry = path.join(entryDir, `bench-fleet-${String(size).padStart(4, '0')}-${process.pid}.ts`);
    const constructsImport = path.relative(entryDir, path.join(ROOT, 'constructs')).split(path.sep).join('/');
    fs.writeFileSync(entry, entrySource(fleet, constructsImport));
    return { size, fleet, entryDir, entry, app: [], tsNode: [] };
  });
  try {
    for (const e of entries) {
      const first = synthOnce('app', e.entry, workDir);
      checkStack(first.stack, e.fleet);
      e.appFirst = first;
      if (withTsNode) {
        const b = synthOnce('ts-node', e.entry, workDir);
        if (first.stack !== b.stack) throw new Error(`${e.size} hosts: the app and ts-node synthesized different stacks`);
        e.tsNode.push(b);
      }
      process.stderr.write(`  ${e.size} hosts, bundling run: app ${first.seconds.toFixed(3)} s\n`);
    }
    for (let round = 0; round < rounds; round++) {
      const line: string[] = [];
      for (const e of entries) {
        const a = synthOnce('app', e.entry, workDir);
        e.app.push(a);
        let text = `${e.size}: ${a.seconds.toFixed(3)}`;
        if (withTsNode && e.tsNode.length < TS_NODE_ROUNDS) {
          const b = synthOnce('ts-node', e.entry, workDir);
          e.tsNode.push(b);
          text += ` (ts-node ${b.seconds.toFixed(2)})`;
        }
        line.push(text);
      }
      process.stderr.write(`  round ${round + 1}/${rounds}, app s by size: ${line.join(', ')}\n`);
    }
  } finally {
    for (const e of entries) removeEntry(e.entryDir, e.entry);
  }
  const summarize = (xs: Sample[]): Sample => ({
    seconds: median(xs.map((x) => x.seconds)), cpuSeconds: median(xs.map((x) => x.cpuSeconds)), peakMb: median(xs.map((x) => x.peakMb)),
  });
  const one = entries.find((e) => e.size === 1);
  const paired = (e: SizeEntry, pick: (x: Sample) => number): number | undefined =>
    (one ? median(e.app.map((x, round) => pick(x) / pick(one.app[round]))) : undefined);
  return entries.map((e) => ({
    hosts: e.size,
    reps: e.app.length,
    app: summarize(e.app),
    ratioToOne: paired(e, (x) => x.seconds),
    cpuRatioToOne: paired(e, (x) => x.cpuSeconds),
    appFirst: e.appFirst!,
    tsNodeReps: e.tsNode.length,
    ...(e.tsNode.length ? { tsNode: summarize(e.tsNode) } : {}),
  }));
}

// ------------------------------------------------------------------ npm test, install harness

interface Timed {
  readonly seconds: number;
  readonly status: number | null;
  readonly output: string;
}

function timed(cmd: string, args: string[], timeoutMs: number, env: Record<string, string> = {}): Timed {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: ROOT, env: cleanEnv(env), encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: timeoutMs });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.error && (r.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw r.error;
  return { seconds, status: r.status, output: `${r.stdout ?? ''}\n${r.stderr ?? ''}` };
}

/** One `INSTALL_BENCH` line: a deploy of `hosts` stand-ins at `width` ('default': the one npm run deploy sets). */
export interface InstallRun {
  readonly hosts: number;
  readonly width: string;
  readonly seconds: number;
  /** The most installer runs in progress at one moment, as the hosts recorded them. */
  readonly overlap: number;
  /** The slowest host's install step and ready step, in seconds (Terraform's own count). */
  readonly installMax?: number;
  readonly readyMax?: number;
}

interface InstallBench {
  readonly state: 'missing' | 'failed' | 'measured';
  readonly runs: InstallRun[];
  readonly note?: string;
}

/** Parses `INSTALL_BENCH hosts=N width=W seconds=X overlap=M install_max=I ready_max=R` lines printed by the harness test. */
export function parseInstallBench(output: string): InstallRun[] {
  return [...output.matchAll(/INSTALL_BENCH hosts=(\d+) width=(\w+) seconds=([0-9.]+) overlap=(\d+)(?: install_max=(\d+) ready_max=(\d+))?/g)]
    .map((m) => ({
      hosts: Number(m[1]), width: m[2], seconds: Number(m[3]), overlap: Number(m[4]),
      ...(m[5] !== undefined ? { installMax: Number(m[5]), readyMax: Number(m[6]) } : {}),
    }));
}

/** The median run of `hosts` at `width` (runs are repeated on a shared machine). */
function installRun(b: InstallBench, hosts: number, width = 'default'): (InstallRun & { count: number }) | undefined {
  const runs = b.runs.filter((r) => r.hosts === hosts && r.width === width);
  if (runs.length === 0) return undefined;
  return { hosts, width, seconds: median(runs.map((r) => r.seconds)), overlap: Math.min(...runs.map((r) => r.overlap)), count: runs.length };
}

function runInstallHarness(): InstallBench {
  if (!fs.existsSync(path.join(ROOT, HARNESS))) return { state: 'missing', runs: [] };
  process.stderr.write(`running the install harness (${HARNESS})…\n`);
  // The harness only runs when asked to (it starts stand-in hosts and real `cdktf deploy`s).
  const r = timed('npx', ['jest', HARNESS], 60 * 60 * 1000, { NIXOS_FLEET_BENCH: '1' });
  const runs = parseInstallBench(r.output);
  const b: InstallBench = { state: 'measured', runs };
  if (r.status !== 0 || !installRun(b, 1) || !installRun(b, 40)) {
    const tail = r.output.trim().split('\n').slice(-25).join('\n');
    return { state: 'failed', runs, note: `exit ${r.status}; INSTALL_BENCH lines: ${runs.map((x) => `${x.hosts}@${x.width}→${x.seconds}`).join(', ') || 'none'}\n${tail}` };
  }
  return b;
}

// ------------------------------------------------------------------ profile

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a profile frame's code lives: a package, the project, node itself or V8. */
function ownerOf(url: string, fn: string): string {
  if (!url) return fn === '(garbage collector)' ? 'GC' : fn.startsWith('(') ? `V8 ${fn}` : 'V8/native';
  if (url.startsWith('node:')) return 'node core';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  return url.includes('/.build/') ? 'project code (bundle)' : 'project/other';
}

/**
 * What the known hot spots are and what would remove them, shown under the
 * profile when the function is among the hottest. Keyed by `<file>:<function>`.
 */
const KNOWN_HOTSPOTS: Record<string, string> = {
  'resolve.js:resolve': 'cdktf\'s resolver visits every key of every element\'s JSON (undefined attributes of the generated '
    + 'bindings included), creating a context per key and testing every string for tokens. cdktf runs it over the whole stack '
    + 'three times: prepareStack (looking for cross-stack references), each element\'s fragment, and the merged stack once '
    + 'more; FleetStack skips the first for the elements it made itself and leaves out the third. Per host that is two '
    + 'terraform_data steps (the largest share), the server, the host\'s entry in the `hosts` output and the hive pieces. '
    + 'What would remove more: fewer resources per host (one install resource instead of two would re-run every '
    + 'deployed host\'s install, so it needs a state move), or a resolver that does less per key.',
  'validate-binary-version.js:validate': 'cdktf runs `terraform version` in a child process (`execSync`) once per '
    + '`terraform_data` resource at synth: `DataResource` adds a `ValidateTerraformVersion(">=1.4")` node validation '
    + 'to every instance, and NixosInstall creates two per installed host. Fix: create the two resources without that '
    + 'per-instance validation (a plain `TerraformResource` of type `terraform_data`) and add one '
    + '`ValidateTerraformVersion(">=1.4")` to the stack, or memoize the check per process; `new App({ skipValidation: true })` '
    + 'also removes it but skips every other validation too.',
  'encoding.js:nextEscapeToken': 'cdktf\'s token splitter searches the rest of a string for `${` again after every `}`, '
    + 'so one long string with many braces costs quadratic time each time it is resolved (three times per synth). Here '
    + 'that string is the generated hive.nix output (about 650 bytes and several `}` per host: 0.65 MB at 1000 hosts); '
    + 'the install scripts are short enough not to matter. Fix: emit the hive as per-host pieces joined by Terraform '
    + '(`join("", [...])`), or let the handoff script assemble hive.nix from per-host outputs; or fix the splitter '
    + 'upstream (find the `${` and `}` positions once per string).',
  'stack-trace.js:captureStackTrace': 'cdktf captures a full stack trace (unlimited depth) for every token it creates '
    + '(every attribute reference and `Fn`/`Token` call); there is no switch to turn it off. Fix: create fewer tokens '
    + 'per host, or drop the capture in a patched library.',
  'main.js:runCallSync': 'esbuild bundling the new entry. scripts/app/run.js reuses the bundle while its inputs are '
    + 'unchanged, so only the first synth after an edit pays this (the "App 1st run" column).',
};

/** Runs the app path once under `--cpu-prof` and returns a Markdown summary of the self time. */
function profileApp(size: number, workDir: string): string {
  const fleet = benchFleet(size);
  const entryDir = fs.mkdtempSync(path.join(ROOT, '.build', 'bench-'));
  const entry = path.join(entryDir, `bench-profile-${size}-${process.pid}.ts`);
  fs.writeFileSync(entry, entrySource(fleet, path.relative(entryDir, path.join(ROOT, 'constructs')).split(path.sep).join('/')));
  const profDir = fs.mkdtempSync(path.join(workDir, 'prof-'));
  try {
    const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, path.join(ROOT, 'scripts', 'app', 'app.js')], {
      cwd: ROOT, encoding: 'utf8', env: cleanEnv({ CDKTF_OUTDIR: path.join(profDir, 'out'), NIXOS_FLEET_APP_ENTRY: entry }),
    });
    if (r.status !== 0) throw failure('profiled synth', r);
    const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('node --cpu-prof wrote no profile');
    const prof = JSON.parse(fs.readFileSync(path.join(profDir, file), 'utf8')) as CpuProfile;
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const parentOf = new Map<number, number>();
    for (const n of prof.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
    // Time spent inside node core or V8 (a child process wait, a regular expression, a
    // stack-trace format) is charged to the nearest caller in a package or the project:
    // that is the code that would have to change.
    const chargedTo = (id: number): CpuProfile['nodes'][number] => {
      const start = byId.get(id)!;
      if (start.callFrame.functionName.startsWith('(')) return start; // GC, idle, program
      for (let cur: number | undefined = id; cur !== undefined; cur = parentOf.get(cur)) {
        const n = byId.get(cur)!;
        const owner = ownerOf(n.callFrame.url, n.callFrame.functionName);
        if (owner !== 'node core' && owner !== 'V8/native' && !owner.startsWith('V8 (')) return n;
      }
      return start;
    };
    const byOwner = new Map<string, number>();
    const byFunction = new Map<string, number>();
    const byHotspot = new Map<string, number>();
    let total = 0;
    prof.samples.forEach((id, i) => {
      const dt = (prof.timeDeltas[i] ?? 0) / 1000; // µs → ms
      const n = chargedTo(id);
      const owner = ownerOf(n.callFrame.url, n.callFrame.functionName);
      const fn = `${n.callFrame.functionName || '(anonymous)'} — ${owner}${n.callFrame.url ? ` ${path.basename(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : ''}`;
      byOwner.set(owner, (byOwner.get(owner) ?? 0) + dt);
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + dt);
      const hotspot = `${path.basename(n.callFrame.url)}:${n.callFrame.functionName}`;
      if (KNOWN_HOTSPOTS[hotspot]) byHotspot.set(hotspot, (byHotspot.get(hotspot) ?? 0) + dt);
      total += dt;
    });
    const top = (m: Map<string, number>, n: number): string[] => [...m].sort((a, b) => b[1] - a[1]).slice(0, n)
      .map(([k, ms]) => `| ${k.replace(/\|/g, '\\|')} | ${ms.toFixed(0)} | ${((ms / total) * 100).toFixed(1)} % |`);
    return [
      `Profile of one app-path synth of ${size} hosts (\`node --cpu-prof scripts/app/app.js\`), ${total.toFixed(0)} ms sampled.`,
      'Time inside node core or V8 (waiting for a child process, running a regular expression, formatting a stack',
      'trace) is charged to the nearest calling function in a package or in the project.',
      '',
      '| Time by owner | ms | share |', '|---|---:|---:|', ...top(byOwner, 12),
      '',
      '| Hottest functions | ms | share |', '|---|---:|---:|', ...top(byFunction, 15),
      '',
      ...[...byHotspot].filter(([, ms]) => ms / total >= 0.02).sort((a, b) => b[1] - a[1])
        .map(([k, ms]) => `- **${k}** (${((ms / total) * 100).toFixed(0)} %): ${KNOWN_HOTSPOTS[k]}`),
    ].join('\n');
  } finally {
    removeEntry(entryDir, entry);
    fs.rmSync(profDir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ report

function machine(): string[] {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const nproc = spawnSync('nproc', { encoding: 'utf8' }).stdout?.trim() || String(os.cpus().length);
  const version = (pkg: string): string => {
    try {
      return (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return 'not installed';
    }
  };
  return [
    `- Date: ${new Date().toISOString()}`,
    `- CPU: ${model}; nproc ${nproc}`,
    `- Memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- Load average when the bench started: ${LOAD_AT_START}; when it ended: ${os.loadavg().map((l) => l.toFixed(2)).join(', ')}`
      + ' (other work on the machine inflates the times)',
    `- OS: ${os.type()} ${os.release()} (${os.arch()})`,
    `- Node ${process.version}; cdktf ${version('cdktf')}, esbuild ${version('esbuild')}, ts-node ${version('ts-node')}, typescript ${version('typescript')}`,
  ];
}

const verdict = (ok: boolean): string => (ok ? '**PASS**' : '**MISS**');
const fmtS = (s: number): string => s.toFixed(3);
const fmtMb = (mb: number): string => mb.toFixed(0);

interface Report {
  readonly sizes: SizeResult[];
  readonly npmTest?: Timed;
  readonly install: InstallBench | 'skipped';
  /** Simulated-cloud deploys (scripts/dev/deploy-bench.ts), or why there are none. */
  readonly deploy: DeployTimings[] | string;
  readonly profile?: string;
  readonly argv: string[];
}

interface Verdicts {
  readonly lines: string[];
  readonly appMissed: boolean;
}

function verdicts(sizes: SizeResult[], install: Report['install']): Verdicts {
  const at = (n: number): SizeResult | undefined => sizes.find((s) => s.hosts === n);
  const one = at(1);
  const s100 = at(100);
  const s1000 = at(1000);
  const lines: string[] = [];
  let appMissed = false;
  const judge = (ok: boolean, text: string, isApp = true): void => {
    if (!ok && isApp) appMissed = true;
    lines.push(`| ${text} | ${verdict(ok)} |`);
  };
  const notMeasured = (text: string): void => { lines.push(`| ${text} | not measured |`); };
  const ratioText = (s: SizeResult): string => `${s.ratioToOne!.toFixed(2)}× (median of ${s.reps} paired rounds; `
    + `medians ${fmtS(s.app.seconds)} s / ${fmtS(one!.app.seconds)} s; CPU time ${s.cpuRatioToOne!.toFixed(2)}×)`;

  if (s100 && one) {
    judge(s100.ratioToOne! <= TARGETS.hosts100MaxRatio, `100 hosts synth ≤ ${TARGETS.hosts100MaxRatio}× one host: ${ratioText(s100)}`);
  } else {
    notMeasured(`100 hosts synth ≤ ${TARGETS.hosts100MaxRatio}× one host (needs sizes 1 and 100)`);
  }
  if (s1000 && one) {
    judge(s1000.ratioToOne! <= TARGETS.hosts1000MaxRatio, `1000 hosts synth ≤ ${TARGETS.hosts1000MaxRatio}× one host: ${ratioText(s1000)}`);
  } else {
    notMeasured(`1000 hosts synth ≤ ${TARGETS.hosts1000MaxRatio}× one host (needs sizes 1 and 1000)`);
  }
  if (s100) {
    judge(s100.app.peakMb <= TARGETS.hosts100MaxMb, `100 hosts peak RSS ≤ ${TARGETS.hosts100MaxMb} MB: ${fmtMb(s100.app.peakMb)} MB`);
    if (s100.tsNode) {
      const speedup = s100.tsNode.seconds / s100.app.seconds;
      judge(speedup >= TARGETS.minSpeedupVsTsNode, `≥ ${TARGETS.minSpeedupVsTsNode}× faster than ts-node (100 hosts): ${speedup.toFixed(2)}×`);
    } else {
      notMeasured(`≥ ${TARGETS.minSpeedupVsTsNode}× faster than ts-node (--app-only)`);
    }
  }
  if (s1000 && s100 && one) {
    // Marginal cost per host, start-up (the 1-host run) taken out.
    const m100 = (s100.app.seconds - one.app.seconds) / 99;
    const m1000 = (s1000.app.seconds - one.app.seconds) / 999;
    judge(m1000 <= TARGETS.maxMarginalGrowth * Math.max(m100, 0),
      `linear growth: marginal ms/host at 1000 (${(m1000 * 1000).toFixed(2)}) ≤ ${TARGETS.maxMarginalGrowth}× at 100 (${(m100 * 1000).toFixed(2)})`);
  }
  const target = `40 hosts installed ≤ ${TARGETS.maxInstall40Ratio}× one (npm run deploy)`;
  if (install === 'skipped' || install.state !== 'measured') {
    notMeasured(`${target}: ${install === 'skipped' ? 'skipped (--skip-install)' : install.state === 'missing' ? 'harness missing' : 'harness failed'}`);
  } else {
    const i1 = installRun(install, 1)!;
    const i40 = installRun(install, 40)!;
    const factor = i40.seconds / i1.seconds;
    judge(factor <= TARGETS.maxInstall40Ratio,
      `${target}: ${i1.seconds.toFixed(1)} s → ${i40.seconds.toFixed(1)} s, medians of ${i1.count} and ${i40.count} runs `
      + `(${factor.toFixed(2)}×; ${i40.overlap} installs at once)`, false);
  }
  return { lines, appMissed };
}

function sizeTable(sizes: SizeResult[]): string[] {
  const one = sizes.find((s) => s.hosts === 1);
  return [
    '| Hosts | App runs | App s | × 1 host | App CPU s | CPU × 1 host | App 1st run s | App peak MB | ts-node runs | ts-node s | ts-node peak MB | ts-node / app | Marginal ms/host |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...sizes.map((s) => `| ${s.hosts} | ${s.reps} | ${fmtS(s.app.seconds)} | ${s.ratioToOne !== undefined ? s.ratioToOne.toFixed(2) : '–'} | `
      + `${s.app.cpuSeconds.toFixed(2)} | ${s.cpuRatioToOne !== undefined ? s.cpuRatioToOne.toFixed(2) : '–'} | `
      + `${fmtS(s.appFirst.seconds)} | ${fmtMb(s.app.peakMb)} | ${s.tsNodeReps} | ${s.tsNode ? fmtS(s.tsNode.seconds) : '–'} | `
      + `${s.tsNode ? fmtMb(s.tsNode.peakMb) : '–'} | ${s.tsNode ? `${(s.tsNode.seconds / s.app.seconds).toFixed(1)}×` : '–'} | `
      + `${one && s.hosts > 1 ? (((s.app.seconds - one.app.seconds) / (s.hosts - 1)) * 1000).toFixed(2) : '–'} |`),
  ];
}

function installTable(install: InstallBench): string[] {
  const one = installRun(install, 1);
  const kinds = [...new Map(install.runs.map((r) => [`${r.hosts}@${r.width}`, r])).values()];
  return [
    '| Stand-in hosts | Width asked | Runs | Wall time s (median) | each run s | × 1 host | Installs at once (fewest) | Slowest install / ready step s, each run |',
    '|---:|---|---:|---:|---|---:|---:|---|',
    ...kinds.map((k) => {
      const m = installRun(install, k.hosts, k.width)!;
      const runs = install.runs.filter((r) => r.hosts === k.hosts && r.width === k.width);
      const each = runs.map((r) => r.seconds.toFixed(1)).join(', ');
      const steps = runs.map((r) => (r.installMax === undefined ? '–' : `${r.installMax} / ${r.readyMax}`)).join(', ');
      return `| ${m.hosts} | ${m.width === 'default' ? 'npm run deploy default' : `--terraform-parallelism=${m.width}`} | ${m.count} | `
        + `${m.seconds.toFixed(1)} | ${each} | ${one ? (m.seconds / one.seconds).toFixed(2) : '–'} | ${m.overlap} | ${steps} |`;
    }),
  ];
}

function markdown(report: Report, v: Verdicts): string {
  const install = report.install;
  const installText = install === 'skipped' ? ['Skipped (`--skip-install`).']
    : install.state === 'missing' ? [`Not measured (harness missing: \`${HARNESS}\` does not exist).`]
      : install.state === 'failed' ? ['The harness ran but did not report the 1- and 40-host runs:', '', '```', install.note ?? '', '```']
        : [
          `From \`npx jest ${HARNESS}\` (run by the bench with NIXOS_FLEET_BENCH=1). Each row is a fresh set of stand-in`,
          'hosts (network namespaces with their own sshd and /etc, on this machine) declared as existing machines and',
          'deployed with `npm run deploy -- --auto-approve` — scripts/deploy.ts, the real `cdktf deploy` CLI, real',
          '`terraform init`/`plan`/`apply` — with an installer that takes about 3 s, a real reboot of the stand-in',
          '(down 2 s) and the ready step\'s wait. Wall time is the whole command, cdktf start-up and synth included.',
          '"Installs at once" is the most installer runs the hosts themselves recorded as running at the same moment:',
          'it shows which width Terraform really used. The last row is the control at Terraform\'s default width.',
          '1 and 40 hosts run three times, interleaved, and the target uses the medians: 40 stand-ins share this',
          'machine\'s two cores (their sshd sessions, TLS downloads and installer scripts are real work), and other',
          'work on the machine moves single runs by seconds.',
          'On real servers an install takes minutes, not 3 s, so the waves at width 10 cost far more than here.',
          'The last column is the slowest host\'s install step and ready step, as Terraform counted them ("Creation',
          'complete after"). The ready step reconnects with Terraform\'s own back-off (attempts at 0, 1, 3, 7, 15, 31 s after',
          'it starts, then every 20 s): a stand-in back 0.1 s after the 7 s attempt waits for the 15 s one, which is',
          'what an outlier of about 8 s more shows. On a real server (back after 30-90 s) that costs up to 20 s.',
          '',
          ...installTable(install),
        ];
  const npmTest = report.npmTest
    ? `${report.npmTest.seconds.toFixed(1)} s, ${report.npmTest.status === 0 ? 'passed' : `**failed** (exit ${report.npmTest.status}):\n\n\`\`\`\n`
      + `${report.npmTest.output.split('\n').filter((l) => /✕|●|Tests:|error TS/.test(l)).slice(0, 30).join('\n')}\n\`\`\``}.`
    : 'skipped (`--skip-npm-test`).';
  return [
    '# Benchmarks',
    '',
    '<!-- Generated by `npm run bench` (scripts/dev/bench.ts). Do not edit: re-run the bench. -->',
    '',
    `Regenerate with \`npm run bench\` (this run: \`npm run bench${report.argv.length ? ` -- ${report.argv.join(' ')}` : ''}\`).`,
    '',
    '## Machine',
    '',
    ...machine(),
    '',
    '## Targets',
    '',
    'Synth times are judged as ratios to the 1-host synth of the same run, which is the fixed cost (node, cdktf,',
    'the bundle); absolute times move with the machine and with what else runs on it.',
    '',
    '| Target | Result |',
    '|---|---|',
    ...v.lines,
    '',
    '## Synth time and memory',
    '',
    'Each size is a generated, valid fleet (5/10 Hetzner, 3/10 DigitalOcean, 2/10 existing machines) written as an',
    'entry file that imports the project\'s constructs. **App** is the project\'s app command (`node scripts/app/app.js`,',
    'esbuild bundle, as `cdktf synth` runs it); **ts-node** is the classic cdktf template path',
    '(`node -r ts-node/register`, type-checking on). The sizes are measured in rounds (every size once per round)',
    'so that load on the machine hits all of them alike; the table shows medians of whole-process wall time',
    '(node start to exit, including writing cdk.tf.json) and of peak RSS from `/usr/bin/time -f %M` (MB = 10^6',
    'bytes; the largest process of the run, node or the esbuild child). Each size\'s first app run bundles the new',
    'entry with esbuild ("App 1st run", not in the median); later runs reuse scripts/app/run.js\'s cached bundle,',
    'as repeated synths of an unchanged project do. "Marginal ms/host" is (time − 1-host time) / (hosts − 1).',
    '"× 1 host" is the median over the rounds of this size\'s time divided by the 1-host time of the same round',
    '(a paired ratio: a burst of load moves both sides); the targets use it. "App CPU s" is user + system CPU time',
    '(GC and compiler threads included), which other work on the machine moves much less than wall time.',
    'Both paths must synthesize the same stack, with one server per cloud host, or the bench fails.',
    'The `cdktf synth` CLI adds its own start-up on top of these numbers.',
    '',
    ...sizeTable(report.sizes),
    '',
    '## Install width',
    '',
    ...installText,
    '',
    '## cdktf deploy on the simulated Hetzner Cloud',
    '',
    'The real hcloud provider against the simulator (`__tests__/e2e/cloudsim/`), each server a stand-in host',
    'installed over real SSH (`scripts/dev/deploy-bench.ts`). "Fresh" is the engine applying the same',
    'cdk.tf.json to an empty project; the no-change columns are a second deploy. The difference between the',
    '`cdktf deploy` and engine columns is the CLI\'s own cost.',
    '',
    ...(typeof report.deploy === 'string' ? [`Not measured: ${report.deploy}`] : [renderDeployTimings(report.deploy)]),
    '',
    '## Test suite',
    '',
    `- \`npm test\` wall time: ${npmTest}`,
    '',
    ...(report.profile ? ['## Where the time goes', '', report.profile, ''] : []),
  ].join('\n');
}

// ------------------------------------------------------------------ simulated deploys

/** Deploy sizes for the simulated-cloud table: one host and a 20-host fleet, per engine. */
const DEPLOY_SIZES = '1,20';

/**
 * Runs scripts/dev/deploy-bench.ts once per engine. It runs under ts-node, not
 * in this esbuild bundle: the stand-in harness finds its shell scripts beside
 * its own source file.
 */
function runDeployBench(): DeployTimings[] | string {
  const rows: DeployTimings[] = [];
  const json = path.join(ROOT, '.build', 'deploy-bench.json');
  for (const engine of ['terraform', 'tofu']) {
    process.stderr.write(`cdktf deploy on the simulated cloud (${engine}, ${DEPLOY_SIZES} hosts)…\n`);
    fs.rmSync(json, { force: true });
    const r = timed(path.join(ROOT, 'node_modules', '.bin', 'ts-node'),
      ['--transpile-only', path.join('scripts', 'dev', 'deploy-bench.ts'), '--hosts', DEPLOY_SIZES, '--engine', engine], 60 * 60 * 1000);
    if (r.status !== 0 || !fs.existsSync(json)) return `${engine}: deploy-bench failed (exit ${r.status}): ${r.output.trim().split('\n').slice(-3).join(' | ')}`;
    rows.push(...(JSON.parse(fs.readFileSync(json, 'utf8')) as DeployTimings[]));
  }
  return rows;
}

// ------------------------------------------------------------------ main

function main(argv: string[]): void {
  let sizes = DEFAULT_SIZES;
  let skipNpmTest = false;
  let skipInstall = false;
  let skipDeploy = false;
  let profile = false;
  let appOnly = false;
  let rounds = DEFAULT_ROUNDS;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--skip-npm-test') skipNpmTest = true;
    else if (a === '--skip-install') skipInstall = true;
    else if (a === '--skip-deploy') skipDeploy = true;
    else if (a === '--profile') profile = true;
    else if (a === '--app-only') appOnly = true;
    else if (a === '--rounds' && argv[i + 1]) {
      rounds = Number(argv[++i]);
      if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) throw new Error('--rounds takes an integer 1-100');
    } else if (a === '--sizes' && argv[i + 1]) {
      sizes = argv[++i].split(',').map(Number);
      if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 5000)) throw new Error('--sizes takes integers 1-5000, e.g. 1,10,100');
    } else throw new Error(`unknown argument ${JSON.stringify(a)} (--skip-npm-test, --skip-install, --skip-deploy, --profile, --app-only, --rounds N, --sizes LIST)`);
  }
  if (!fs.existsSync(TIME_BIN)) {
    throw new Error(`${TIME_BIN} not found: it measures peak memory. Install it: apt-get install time`);
  }
  fs.mkdirSync(path.join(ROOT, '.build'), { recursive: true });
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nixos-fleet-bench-'));
  try {
    process.stderr.write(`synth ${sizes.join(', ')} hosts: ${rounds} rounds${appOnly ? ' (app only)' : `, ts-node in the first ${TS_NODE_ROUNDS}`}…\n`);
    const results = benchSizes(sizes, rounds, !appOnly, workDir);
    const install: Report['install'] = skipInstall ? 'skipped' : runInstallHarness();
    const deploy = skipDeploy ? 'skipped (--skip-deploy)' : runDeployBench();
    let npmTest: Timed | undefined;
    if (!skipNpmTest) {
      process.stderr.write('running npm test…\n');
      npmTest = timed('npm', ['test'], 60 * 60 * 1000);
    }
    const v = verdicts(results, install);
    let profileText: string | undefined;
    if (profile || v.appMissed) {
      process.stderr.write('profiling the app path (node --cpu-prof)…\n');
      profileText = profileApp(Math.max(...sizes), workDir);
    }
    const report: Report = { sizes: results, npmTest, install, deploy, profile: profileText, argv };
    const md = markdown(report, v);
    fs.writeFileSync(path.join(ROOT, 'docs', 'BENCHMARKS.md'), md);
    process.stdout.write(`${sizeTable(results).join('\n')}\n\n| Target | Result |\n|---|---|\n${v.lines.join('\n')}\n`);
    process.stdout.write(`npm test: ${npmTest ? `${npmTest.seconds.toFixed(1)} s, exit ${npmTest.status}` : 'skipped'}\n`);
    if (install !== 'skipped' && install.state === 'measured') process.stdout.write(`\n${installTable(install).join('\n')}\n`);
    else process.stdout.write(`install harness: ${install === 'skipped' ? 'skipped' : install.state === 'missing' ? 'not measured (harness missing)' : `failed\n${install.note}`}\n`);
    if (profileText) process.stdout.write(`\n${profileText}\n`);
    process.stdout.write('\nwrote docs/BENCHMARKS.md\n');
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

// In an esbuild bundle (scripts/app/run.js) `require.main === module` holds for every bundled
// module, so also check the script's name: importing this file must not run it.
if (require.main === module && path.parse(process.argv[1] ?? '').name === 'bench') {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  }
}
