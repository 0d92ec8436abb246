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
 * interleaved (a, b, a, b, …) so machine noise hits both alike. Each run is
 * wrapped in `/usr/bin/time -f %M` (Debian package `time`) for its peak RSS.
 * Both paths must produce the same cdk.tf.json with one server per cloud host,
 * or the bench fails: a fast wrong answer is not a result.
 *
 * Also measured: `npm test` once, and the install harness
 * (__tests__/e2e/install-bench.test.ts, 1 vs 8 stand-in hosts) when it exists.
 * If the app misses a target, the largest size is profiled with
 * `node --cpu-prof` and the self time is summarized by package.
 *
 * Usage: npm run bench -- [--skip-npm-test] [--skip-install] [--profile] [--sizes 1,10,100,1000]
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

const ROOT = path.resolve(__dirname, '..');
const LOAD_AT_START = os.loadavg().map((l) => l.toFixed(2)).join(', ');
const TIME_BIN = '/usr/bin/time';
const DEFAULT_SIZES = [1, 10, 100, 1000];
const HARNESS = path.join('__tests__', 'e2e', 'install-bench.test.ts');

/** The targets, in one place so the table and the verdicts agree. */
export const TARGETS = {
  hosts100MaxSeconds: 0.5,
  hosts100MaxMb: 150,
  minSpeedupVsTsNode: 6,
  hosts1000MaxSeconds: 2.5,
  /** "Linear": the marginal time per host at 1000 is at most this multiple of the one at 100. */
  maxMarginalGrowth: 1.5,
  maxParallelInstallFactor: 1.5,
} as const;

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
  const r = spawnSync(TIME_BIN, ['-f', '%M', '-o', rssFile, process.execPath, ...nodeArgs], {
    cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.error) throw r.error;
  if (r.status !== 0) throw failure(`${which} synth of ${path.basename(entry)}`, r);
  const rssKib = Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop());
  if (!Number.isFinite(rssKib) || rssKib <= 0) throw new Error(`could not read peak RSS from ${TIME_BIN}`);
  const stackFile = path.join(outdir, 'stacks', 'fleet', 'cdk.tf.json');
  const stack = fs.readFileSync(stackFile, 'utf8');
  fs.rmSync(outdir, { recursive: true, force: true });
  return { seconds, peakMb: (rssKib * 1024) / 1e6, stack };
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
  readonly reps: number;
  /** Medians. Runs after the first reuse scripts/app/run.js's cached bundle, as repeated synths do. */
  readonly app: Sample;
  /** The first app run of the size: esbuild bundles the new entry. */
  readonly appFirst: Sample;
  readonly tsNode: Sample;
}

function benchSize(size: number, reps: number, workDir: string): SizeResult {
  const fleet = benchFleet(size);
  validateFleet(fleet, CLOUD_ADAPTERS).throwIfAny();
  const entryDir = fs.mkdtempSync(path.join(ROOT, '.build', 'bench-'));
  const entry = path.join(entryDir, `bench-fleet-${String(size).padStart(4, '0')}-${process.pid}.ts`);
  const constructsImport = path.relative(entryDir, path.join(ROOT, 'constructs')).split(path.sep).join('/');
  fs.writeFileSync(entry, entrySource(fleet, constructsImport));
  const samples: Record<PathName, Sample[]> = { app: [], 'ts-node': [] };
  try {
    for (let rep = 0; rep < reps; rep++) {
      const a = synthOnce('app', entry, workDir);
      const b = synthOnce('ts-node', entry, workDir);
      if (rep === 0) {
        checkStack(a.stack, fleet);
        if (a.stack !== b.stack) throw new Error(`${size} hosts: the app and ts-node synthesized different stacks`);
      }
      samples.app.push(a);
      samples['ts-node'].push(b);
      process.stderr.write(`  ${size} hosts, run ${rep + 1}/${reps}: app ${a.seconds.toFixed(3)} s, ts-node ${b.seconds.toFixed(3)} s\n`);
    }
  } finally {
    removeEntry(entryDir, entry);
  }
  const summarize = (xs: Sample[]): Sample => ({ seconds: median(xs.map((x) => x.seconds)), peakMb: median(xs.map((x) => x.peakMb)) });
  return { hosts: size, reps, app: summarize(samples.app), appFirst: samples.app[0], tsNode: summarize(samples['ts-node']) };
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

interface InstallBench {
  readonly state: 'missing' | 'failed' | 'measured';
  readonly one?: number;
  readonly eight?: number;
  readonly note?: string;
}

/** Parses `INSTALL_BENCH hosts=N seconds=X` lines printed by the harness test. */
export function parseInstallBench(output: string): Map<number, number> {
  const found = new Map<number, number>();
  for (const m of output.matchAll(/INSTALL_BENCH hosts=(\d+) seconds=([0-9.]+)/g)) found.set(Number(m[1]), Number(m[2]));
  return found;
}

function runInstallHarness(): InstallBench {
  if (!fs.existsSync(path.join(ROOT, HARNESS))) return { state: 'missing' };
  process.stderr.write(`running the install harness (${HARNESS})…\n`);
  // The harness only runs when asked to (it starts stand-in hosts and a real terraform apply).
  const r = timed('npx', ['jest', HARNESS], 60 * 60 * 1000, { NIXOS_FLEET_BENCH: '1' });
  const found = parseInstallBench(r.output);
  if (r.status !== 0 || !found.has(1) || !found.has(8)) {
    const tail = r.output.trim().split('\n').slice(-15).join('\n');
    return { state: 'failed', note: `exit ${r.status}; INSTALL_BENCH lines: ${[...found].map(([h, s]) => `${h}→${s}`).join(', ') || 'none'}\n${tail}` };
  }
  return { state: 'measured', one: found.get(1), eight: found.get(8) };
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

  if (s100) {
    judge(s100.app.seconds <= TARGETS.hosts100MaxSeconds, `100 hosts synth ≤ ${TARGETS.hosts100MaxSeconds} s: ${fmtS(s100.app.seconds)} s`);
    judge(s100.app.peakMb <= TARGETS.hosts100MaxMb, `100 hosts peak RSS ≤ ${TARGETS.hosts100MaxMb} MB: ${fmtMb(s100.app.peakMb)} MB`);
    const speedup = s100.tsNode.seconds / s100.app.seconds;
    judge(speedup >= TARGETS.minSpeedupVsTsNode, `≥ ${TARGETS.minSpeedupVsTsNode}× faster than ts-node (100 hosts): ${speedup.toFixed(2)}×`);
  } else {
    notMeasured('100 hosts targets (size not run)');
  }
  if (s1000) {
    judge(s1000.app.seconds <= TARGETS.hosts1000MaxSeconds, `1000 hosts synth ≤ ${TARGETS.hosts1000MaxSeconds} s: ${fmtS(s1000.app.seconds)} s`);
    if (s100 && one) {
      // Marginal cost per host, start-up (the 1-host run) taken out.
      const m100 = (s100.app.seconds - one.app.seconds) / 99;
      const m1000 = (s1000.app.seconds - one.app.seconds) / 999;
      judge(m1000 <= TARGETS.maxMarginalGrowth * m100,
        `linear growth: marginal ms/host at 1000 (${(m1000 * 1000).toFixed(2)}) ≤ ${TARGETS.maxMarginalGrowth}× at 100 (${(m100 * 1000).toFixed(2)}); `
        + `total ms/host ${((s100.app.seconds / 100) * 1000).toFixed(2)} at 100, ${((s1000.app.seconds / 1000) * 1000).toFixed(2)} at 1000`);
    } else {
      notMeasured('linear growth (needs the 1- and 100-host runs)');
    }
  } else {
    notMeasured('1000 hosts targets (size not run)');
  }
  if (install === 'skipped' || install.state !== 'measured') {
    notMeasured(`8 parallel installs ≤ ${TARGETS.maxParallelInstallFactor}× one: ${install === 'skipped' ? 'skipped (--skip-install)' : install.state === 'missing' ? 'not measured (harness missing)' : 'harness failed'}`);
  } else {
    const factor = install.eight! / install.one!;
    judge(factor <= TARGETS.maxParallelInstallFactor,
      `8 parallel installs ≤ ${TARGETS.maxParallelInstallFactor}× one: ${install.one!.toFixed(1)} s → ${install.eight!.toFixed(1)} s (${factor.toFixed(2)}×)`, false);
  }
  return { lines, appMissed };
}

function sizeTable(sizes: SizeResult[]): string[] {
  return [
    '| Hosts | Runs | App s | App 1st run s | App peak MB | ts-node s | ts-node peak MB | ts-node / app | App ms/host |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...sizes.map((s) => `| ${s.hosts} | ${s.reps} | ${fmtS(s.app.seconds)} | ${fmtS(s.appFirst.seconds)} | ${fmtMb(s.app.peakMb)} | ${fmtS(s.tsNode.seconds)} | `
      + `${fmtMb(s.tsNode.peakMb)} | ${(s.tsNode.seconds / s.app.seconds).toFixed(1)}× | ${((s.app.seconds / s.hosts) * 1000).toFixed(2)} |`),
  ];
}

function markdown(report: Report, v: Verdicts): string {
  const install = report.install;
  const installText = install === 'skipped' ? 'skipped (`--skip-install`).'
    : install.state === 'missing' ? `not measured (harness missing: \`${HARNESS}\` does not exist).`
      : install.state === 'failed' ? `the harness ran but did not report both sizes:\n\n\`\`\`\n${install.note}\n\`\`\``
        : `1 stand-in host: ${install.one!.toFixed(1)} s; 8 in parallel: ${install.eight!.toFixed(1)} s (${(install.eight! / install.one!).toFixed(2)}×), from \`npx jest ${HARNESS}\`.`;
  const npmTest = report.npmTest
    ? `${report.npmTest.seconds.toFixed(1)} s, ${report.npmTest.status === 0 ? 'passed' : `**failed** (exit ${report.npmTest.status})`}.`
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
    '## Synth time and memory',
    '',
    'Each size is a generated, valid fleet (5/10 Hetzner, 3/10 DigitalOcean, 2/10 existing machines) written as an',
    'entry file that imports the project\'s constructs. **App** is the project\'s app command (`node scripts/app/app.js`,',
    'esbuild bundle, as `cdktf synth` runs it); **ts-node** is the classic cdktf template path',
    '(`node -r ts-node/register`, type-checking on). Runs are interleaved (app, ts-node, app, …); the table shows',
    'medians of whole-process wall time (node start to exit, including writing cdk.tf.json) and of peak RSS from',
    '`/usr/bin/time -f %M` (MB = 10^6 bytes; the largest process of the run, node or the esbuild child).',
    'The app\'s first run of each size bundles the new entry with esbuild ("App 1st run"); later runs reuse',
    'scripts/app/run.js\'s cached bundle, as repeated synths of an unchanged project do.',
    'Both paths must synthesize the same stack, with one server per cloud host, or the bench fails.',
    'The `cdktf synth` CLI adds its own start-up on top of these numbers.',
    '',
    ...sizeTable(report.sizes),
    '',
    '## Targets',
    '',
    '| Target | Result |',
    '|---|---|',
    ...v.lines,
    '',
    '## Test suite and install harness',
    '',
    `- \`npm test\` wall time: ${npmTest}`,
    `- Install harness: ${installText}`,
    '',
    ...(report.profile ? ['## Where the time goes', '', report.profile, ''] : []),
  ].join('\n');
}

// ------------------------------------------------------------------ main

function main(argv: string[]): void {
  let sizes = DEFAULT_SIZES;
  let skipNpmTest = false;
  let skipInstall = false;
  let profile = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--skip-npm-test') skipNpmTest = true;
    else if (a === '--skip-install') skipInstall = true;
    else if (a === '--profile') profile = true;
    else if (a === '--sizes' && argv[i + 1]) {
      sizes = argv[++i].split(',').map(Number);
      if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 5000)) throw new Error('--sizes takes integers 1-5000, e.g. 1,10,100');
    } else throw new Error(`unknown argument ${JSON.stringify(a)} (--skip-npm-test, --skip-install, --profile, --sizes LIST)`);
  }
  if (!fs.existsSync(TIME_BIN)) {
    throw new Error(`${TIME_BIN} not found: it measures peak memory. Install it: apt-get install time`);
  }
  fs.mkdirSync(path.join(ROOT, '.build'), { recursive: true });
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nixos-fleet-bench-'));
  try {
    const results: SizeResult[] = [];
    for (const size of sizes) {
      const reps = size >= 1000 ? 3 : 5;
      process.stderr.write(`synth ${size} hosts (${reps} runs per path)…\n`);
      results.push(benchSize(size, reps, workDir));
    }
    const install: Report['install'] = skipInstall ? 'skipped' : runInstallHarness();
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
    const report: Report = { sizes: results, npmTest, install, profile: profileText, argv };
    const md = markdown(report, v);
    fs.writeFileSync(path.join(ROOT, 'docs', 'BENCHMARKS.md'), md);
    process.stdout.write(`${sizeTable(results).join('\n')}\n\n| Target | Result |\n|---|---|\n${v.lines.join('\n')}\n`);
    process.stdout.write(`npm test: ${npmTest ? `${npmTest.seconds.toFixed(1)} s, exit ${npmTest.status}` : 'skipped'}\n`);
    process.stdout.write(`install harness: ${install === 'skipped' ? 'skipped' : install.state === 'missing' ? 'not measured (harness missing)' : install.state === 'failed' ? `failed\n${install.note}` : `1 host ${install.one} s, 8 hosts ${install.eight} s`}\n`);
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
