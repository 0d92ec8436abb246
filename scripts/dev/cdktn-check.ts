/**
 * `npm run check:cdktn`: rehearses the move from cdktf 0.21 to CDK Terrain
 * (cdktn 0.24) in a temporary copy of the project and checks that nothing
 * changes for Terraform. See docs/MIGRATING-TO-CDKTN.md.
 *
 * 1. Copies the project's files (`git ls-files`: tracked and new, not ignored;
 *    never node_modules) twice into a temporary directory.
 * 2. Baseline copy: today's packages (a symlink to this project's node_modules);
 *    synthesizes with the app command and type-checks.
 * 3. cdktn copy: applies the migration (package.json, imports), runs
 *    `npm install` there (never here), synthesizes with the app command, type-checks.
 * 4. Compares every stack's cdk.tf.json with the baseline's, ignoring only the
 *    "//" metadata blocks (they carry the library version) and the local
 *    backend's absolute path. Any other difference, a synth error, or a type
 *    error the baseline does not have is a FAIL.
 *
 * Prints PASS or FAIL and exits 1 on FAIL. This project's files and
 * node_modules are never written.
 *
 * Usage: npm run check:cdktn -- [--strategy override|mixed|alias-only] [--tests] [--keep]
 *   override    (default, the documented way) imports renamed to cdktn; the
 *               prebuilt DigitalOcean provider's `cdktf` peer is overridden to cdktn
 *   mixed       imports renamed; real cdktf 0.21 kept for the prebuilt provider
 *   alias-only  imports unchanged; `cdktf` is an npm alias of cdktn
 *   --tests     also run jest (without __tests__/e2e) in both copies and compare
 *   --keep      keep the temporary directory for inspection
 */
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');
export const CDKTN_VERSION = '0.24.0';
/** cdktn 0.24 peers on constructs >=10.6.0 <10.8.0; the prebuilt DigitalOcean provider on ^10.4.2. */
export const CONSTRUCTS_VERSION = '10.7.2';
/** cdktn-cli 0.24's `engines`; on older Node its bundled HTTP client crashes at start-up. */
const CLI_MIN_NODE: [number, number] = [22, 19];

export type Strategy = 'override' | 'mixed' | 'alias-only';

type PackageJson = {
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  overrides?: Record<string, unknown>;
} & Record<string, unknown>;

const sorted = (o: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

/** The package.json changes of the migration (pure; see docs/MIGRATING-TO-CDKTN.md). */
export function migratePackageJson(pkg: PackageJson, strategy: Strategy): PackageJson {
  const deps = { ...(pkg.dependencies ?? {}) };
  const dev = { ...(pkg.devDependencies ?? {}) };
  delete deps.cdktf;
  deps.constructs = CONSTRUCTS_VERSION;
  const out: PackageJson = { ...pkg };
  if (strategy === 'alias-only') {
    deps.cdktf = `npm:cdktn@${CDKTN_VERSION}`;
  } else {
    deps.cdktn = CDKTN_VERSION;
    if (strategy === 'mixed') deps.cdktf = '0.21.0';
  }
  if (strategy !== 'mixed') {
    // The prebuilt provider peers on cdktf ^0.21: serve it cdktn under that name.
    out.overrides = { ...(pkg.overrides ?? {}), cdktf: `npm:cdktn@${CDKTN_VERSION}` };
  }
  if ('cdktf-cli' in dev) {
    delete dev['cdktf-cli'];
    dev['cdktn-cli'] = CDKTN_VERSION;
  }
  out.dependencies = sorted(deps);
  out.devDependencies = sorted(dev);
  if (pkg.scripts) {
    out.scripts = Object.fromEntries(Object.entries(pkg.scripts).map(([k, v]) => [k, v.replace(/\bcdktf(?= )/g, 'cdktn')]));
  }
  return out;
}

/** Rewrites module specifiers `cdktf` and `cdktf/...` to cdktn in TypeScript/JavaScript source (pure). */
export function migrateImports(source: string): string {
  return source.replace(/(\bfrom\s+|\brequire\(\s*|\bimport\(\s*|\bjest\.mock\(\s*)(['"])cdktf(\/[^'"]*)?\2/g, '$1$2cdktn$3$2');
}

/** A stack with what legitimately differs between the libraries and copies taken out. */
export function normalizeStack(stack: unknown, copyRoot: string): unknown {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>)
        .filter(([k]) => k !== '//')
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, x]) => [k, strip(x)]));
    }
    // The local backend's state path is absolute: in a copy it names the copy.
    return typeof v === 'string' && v.startsWith(copyRoot + path.sep) ? `<project>${v.slice(copyRoot.length)}` : v;
  };
  return strip(stack);
}

// ------------------------------------------------------------------ running

interface Step {
  readonly name: string;
  readonly seconds: number;
}

const steps: Step[] = [];

function run(name: string, cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  const start = Date.now();
  process.stderr.write(`… ${name}\n`);
  const r = spawnSync(cmd, args, {
    cwd, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, npm_config_update_notifier: 'false', ...env },
  });
  steps.push({ name, seconds: (Date.now() - start) / 1000 });
  if (r.error) throw r.error;
  return r;
}

const tail = (r: SpawnSyncReturns<string>, n = 25): string => `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-n).join('\n');

/** The project's files as git sees them: tracked and new (not ignored), still present, no node_modules. */
function projectFiles(): string[] {
  const r = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ls-files failed: ${r.stderr}`);
  return [...new Set(r.stdout.split('\0'))]
    .filter((f) => f && !f.split('/').includes('node_modules') && fs.statSync(path.join(ROOT, f), { throwIfNoEntry: false })?.isFile());
}

function copyFiles(files: string[], from: string, to: string): void {
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(to, f)), { recursive: true });
    fs.copyFileSync(path.join(from, f), path.join(to, f));
  }
}

interface SynthResult {
  readonly ok: boolean;
  readonly stacks: Map<string, unknown>;
  readonly error?: string;
}

function synth(label: string, copy: string, outdir: string): SynthResult {
  const r = run(`synth (${label}): node scripts/app/app.js`, process.execPath, [path.join('scripts', 'app', 'app.js')], copy, { CDKTF_OUTDIR: outdir });
  if (r.status !== 0) return { ok: false, stacks: new Map(), error: tail(r) };
  const stacks = new Map<string, unknown>();
  const dir = path.join(outdir, 'stacks');
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []) {
    const file = path.join(dir, name, 'cdk.tf.json');
    if (fs.existsSync(file)) stacks.set(name, normalizeStack(JSON.parse(fs.readFileSync(file, 'utf8')), copy));
  }
  if (stacks.size === 0) return { ok: false, stacks, error: `no stack written under ${dir}` };
  return { ok: true, stacks };
}

function typecheck(label: string, copy: string): string[] {
  // --incremental false: the baseline shares this project's node_modules, where tsconfig keeps its build info.
  const r = run(`typecheck (${label}): tsc --noEmit`, process.execPath,
    [path.join(copy, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', '.', '--incremental', 'false', '--pretty', 'false'], copy);
  return r.stdout.split('\n').filter((l) => /error TS\d+/.test(l)).sort();
}

interface JestSummary {
  readonly status: number | null;
  readonly summary: string;
  readonly failed: string[];
}

function jest(label: string, copy: string): JestSummary {
  // Not the e2e tests: they run sshd in network namespaces and would collide with a run in the project itself.
  const r = run(`jest (${label}, without __tests__/e2e)`, process.execPath,
    [path.join(copy, 'node_modules', 'jest', 'bin', 'jest.js'), '--ci', '--testPathIgnorePatterns', '/__tests__/e2e/'], copy);
  const out = `${r.stdout}\n${r.stderr}`;
  return {
    status: r.status,
    summary: /^Tests:.*$/m.exec(out)?.[0] ?? '(no summary)',
    failed: [...out.matchAll(/^FAIL (\S+)/gm)].map((m) => m[1]).sort(),
  };
}

/** First lines where two JSON texts differ, `diff -u` style. */
function jsonDiff(a: unknown, b: unknown, max = 60): string {
  const la = JSON.stringify(a, null, 2).split('\n');
  const lb = JSON.stringify(b, null, 2).split('\n');
  let i = 0;
  while (i < la.length && i < lb.length && la[i] === lb[i]) i++;
  const from = Math.max(0, i - 3);
  const out = [`@@ first difference at line ${i + 1} @@`];
  for (let k = from; k < i; k++) out.push(`  ${la[k]}`);
  for (let k = i; k < Math.min(la.length, i + max / 2); k++) out.push(`- ${la[k]}`);
  for (let k = i; k < Math.min(lb.length, i + max / 2); k++) out.push(`+ ${lb[k]}`);
  return out.join('\n');
}

/** Which package (name@version, directory) `name` resolves to from `fromPackage` inside `copy`. */
function packageSeenBy(name: string, fromPackage: string, copy: string): string {
  try {
    const fromDir = fromPackage === '.' ? copy : path.dirname(require.resolve(`${fromPackage}/package.json`, { paths: [copy] }));
    let dir = path.dirname(require.resolve(name, { paths: [fromDir] }));
    while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
    const { name: real, version } = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name: string; version: string };
    return `${real}@${version} (${path.relative(copy, fs.realpathSync(dir))})`;
  } catch {
    return '(not installed)';
  }
}

function nodeAtLeast([major, minor]: [number, number]): boolean {
  const [ma, mi] = process.versions.node.split('.').map(Number);
  return ma > major || (ma === major && mi >= minor);
}

function main(argv: string[]): number {
  let strategy: Strategy = 'override';
  let withTests = false;
  let keep = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--strategy' && ['override', 'mixed', 'alias-only'].includes(argv[i + 1])) strategy = argv[++i] as Strategy;
    else if (a === '--tests') withTests = true;
    else if (a === '--keep') keep = true;
    else throw new Error(`unknown argument ${JSON.stringify(a)} (--strategy override|mixed|alias-only, --tests, --keep)`);
  }
  const started = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cdktn-check-'));
  const baseline = path.join(tmp, 'cdktf');
  const migrated = path.join(tmp, 'cdktn');
  const problems: string[] = [];
  const notes: string[] = [];
  try {
    const files = projectFiles();
    copyFiles(files, ROOT, baseline);
    copyFiles(files, ROOT, migrated);
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(baseline, 'node_modules'), 'dir');
    process.stderr.write(`copied ${files.length} files into ${tmp} (strategy: ${strategy})\n`);

    // --- migrate the second copy
    const pkgFile = path.join(migrated, 'package.json');
    const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as PackageJson;
    fs.writeFileSync(pkgFile, `${JSON.stringify(migratePackageJson(pkg, strategy), null, 2)}\n`);
    let rewritten = 0;
    if (strategy !== 'alias-only') {
      for (const f of files.filter((x) => /\.(ts|js)$/.test(x))) {
        const file = path.join(migrated, f);
        const before = fs.readFileSync(file, 'utf8');
        const after = migrateImports(before);
        if (after !== before) {
          fs.writeFileSync(file, after);
          rewritten++;
        }
      }
    }
    notes.push(`imports rewritten to cdktn in ${rewritten} files`);
    const install = run('npm install (cdktn copy)', 'npm', ['install', '--no-audit', '--no-fund'], migrated);
    if (install.status !== 0) {
      problems.push(`npm install failed:\n${tail(install)}`);
      return report(problems, notes, strategy, started, tmp, keep);
    }
    notes.push(`the DigitalOcean provider's \`cdktf\` is ${packageSeenBy('cdktf', '@cdktf/provider-digitalocean', migrated)}; `
      + `the project's \`${strategy === 'alias-only' ? 'cdktf' : 'cdktn'}\` is ${packageSeenBy(strategy === 'alias-only' ? 'cdktf' : 'cdktn', '.', migrated)}`);

    // --- synthesize both
    const base = synth('cdktf 0.21', baseline, path.join(tmp, 'out-cdktf'));
    if (!base.ok) throw new Error(`the baseline (this project as it is) does not synthesize:\n${base.error}`);
    const next = synth(`cdktn ${CDKTN_VERSION}`, migrated, path.join(tmp, 'out-cdktn'));
    if (!next.ok) {
      problems.push(`synth with cdktn failed:\n${next.error}`);
    } else {
      for (const name of new Set([...base.stacks.keys(), ...next.stacks.keys()])) {
        const a = base.stacks.get(name);
        const b = next.stacks.get(name);
        if (a === undefined || b === undefined) problems.push(`stack ${name} exists only with ${a === undefined ? 'cdktn' : 'cdktf'}`);
        else if (JSON.stringify(a) !== JSON.stringify(b)) problems.push(`stack ${name}: cdk.tf.json differs (- cdktf, + cdktn):\n${jsonDiff(a, b)}`);
        else notes.push(`stack ${name}: cdk.tf.json identical apart from "//" metadata and the backend path`);
      }
    }

    // --- the CLI
    if (nodeAtLeast(CLI_MIN_NODE) && fs.existsSync(path.join(migrated, 'node_modules', '.bin', 'cdktn'))) {
      const cli = run('cdktn synth (CLI)', path.join(migrated, 'node_modules', '.bin', 'cdktn'), ['synth'], migrated, { CI: 'true' });
      if (cli.status !== 0) problems.push(`\`cdktn synth\` failed:\n${tail(cli)}`);
      else notes.push('`cdktn synth` (CLI) ran');
    } else {
      notes.push(`CLI not run: cdktn-cli ${CDKTN_VERSION} needs Node >= ${CLI_MIN_NODE.join('.')}, this is ${process.version} (synthesized with the app command)`);
    }

    // --- types
    const baseErrors = typecheck('cdktf', baseline);
    const nextErrors = typecheck('cdktn', migrated);
    const newErrors = nextErrors.filter((e) => !baseErrors.includes(e));
    if (newErrors.length) problems.push(`type errors only with cdktn (${newErrors.length}):\n${newErrors.slice(0, 20).join('\n')}`);
    else notes.push(`typecheck: no new errors with cdktn (${baseErrors.length} already in the baseline)`);

    // --- tests (optional)
    if (withTests) {
      const a = jest('cdktf', baseline);
      const b = jest('cdktn', migrated);
      const newlyFailing = b.failed.filter((f) => !a.failed.includes(f));
      notes.push(`jest: cdktf ${a.summary}; cdktn ${b.summary}`);
      if (newlyFailing.length) problems.push(`test files failing only with cdktn: ${newlyFailing.join(', ')}`);
    }
    return report(problems, notes, strategy, started, tmp, keep);
  } catch (e) {
    problems.push(e instanceof Error ? e.message : String(e));
    return report(problems, notes, strategy, started, tmp, keep);
  }
}

function report(problems: string[], notes: string[], strategy: Strategy, started: number, tmp: string, keep: boolean): number {
  if (keep) notes.push(`kept ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
  const total = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`\ncdktf 0.21 → cdktn ${CDKTN_VERSION} (strategy ${strategy}), Node ${process.version}`);
  for (const s of steps) console.log(`  ${s.seconds.toFixed(1).padStart(6)} s  ${s.name}`);
  for (const n of notes) console.log(`  - ${n}`);
  for (const p of problems) console.log(`\n  ✗ ${p.replace(/\n/g, '\n    ')}`);
  console.log(`\n${problems.length ? 'FAIL' : 'PASS'}: cdktn ${CDKTN_VERSION} check in ${total} s`);
  return problems.length ? 1 : 0;
}

// In an esbuild bundle (scripts/app/run.js) `require.main === module` holds for every bundled
// module, so also check the script's name: importing this file must not run it.
if (require.main === module && path.parse(process.argv[1] ?? '').name === 'cdktn-check') {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    console.log('FAIL');
    process.exitCode = 1;
  }
}
