/**
 * Real tools for the hive tests: nix-instantiate (Debian's nix-bin), terraform,
 * iproute2. A test that needs a missing tool is skipped with the reason in its
 * name locally, and fails in CI (CI=true), where every tool must be installed.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { onPath } from './process';
import { IN_CI, singleEngine, singleEngineBinary } from './real-tools';

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): RunResult {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    input: opts.input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function runOk(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): string {
  const r = run(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}


/** Why the named capability is missing, or undefined when it is there. */
export type Requirement = () => string | undefined;

export const NIX: Requirement = () => (onPath('nix-instantiate') ? undefined : 'nix-instantiate not found (apt-get install nix-bin)');
/** A Terraform engine for suites that drive one (terraform, else OpenTofu: support/real-tools.ts). */
export const TERRAFORM: Requirement = () => {
  const engine = singleEngine();
  return typeof engine === 'string' ? engine : undefined;
};

/** Root with iproute2 and network namespaces. */
export const NETNS: Requirement = () => {
  if (!onPath('ip')) return 'ip (iproute2) not found';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  return undefined;
};

/** A Nix store this process may add paths to (root with a local store, or a daemon). */
export const NIX_STORE_WRITABLE: Requirement = () => {
  const missing = NIX();
  if (missing) return missing;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nix-store-probe-'));
  try {
    fs.writeFileSync(path.join(dir, 'probe'), 'probe\n');
    const r = run('nix-store', ['--add', path.join(dir, 'probe')]);
    if (r.status !== 0) return `cannot add to the Nix store: ${r.stderr.trim().split('\n').pop()}`;
    run('nix-store', ['--delete', r.stdout.trim()]);
    return undefined;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
};

/**
 * `describe` when every requirement holds; otherwise a skipped `describe`
 * whose name says why — or, in CI, a failing test.
 */
export function describeWith(requirements: Requirement[], name: string, body: () => void): void {
  const missing = requirements.map((r) => r()).filter((m): m is string => m !== undefined);
  if (missing.length === 0) {
    describe(name, body);
  } else if (IN_CI) {
    describe(name, () => {
      test('required tools are installed (CI=true)', () => {
        throw new Error(`missing in CI: ${missing.join('; ')}`);
      });
    });
  } else {
    // eslint-disable-next-line no-console
    console.warn(`SKIPPED "${name}": ${missing.join('; ')}`);
    describe.skip(`${name} [SKIPPED: ${missing.join('; ')}]`, body);
  }
}

/**
 * Nix's downloads (a fetchTarball a test did not mean to force) go to a dead
 * port on loopback: nothing leaves the machine, and the evaluation fails fast.
 */
const NO_NETWORK_ENV = {
  ...process.env,
  http_proxy: 'http://127.0.0.1:9', https_proxy: 'http://127.0.0.1:9', all_proxy: 'http://127.0.0.1:9', no_proxy: '',
  NIX_CONFIG: 'download-attempts = 1\nconnect-timeout = 2',
};

/** `nix-instantiate --eval --strict --json -E expr`, parsed. Throws with nix's stderr on failure. */
export function nixEval<T = unknown>(expr: string, cwd?: string): T {
  return JSON.parse(runOk('nix-instantiate', ['--eval', '--strict', '--json', '-E', expr], { cwd, env: NO_NETWORK_ENV })) as T;
}

/** The same, for an expression that must fail: returns nix's stderr. */
export function nixEvalError(expr: string, cwd?: string): string {
  const r = run('nix-instantiate', ['--eval', '--strict', '--json', '-E', expr], { cwd, env: NO_NETWORK_ENV });
  if (r.status === 0) throw new Error(`expected evaluation to fail, got ${r.stdout}`);
  return r.stderr;
}

/** `nix-instantiate --parse FILE` succeeds (throws with nix's message otherwise). */
export function nixParse(file: string): void {
  runOk('nix-instantiate', ['--parse', file], { env: NO_NETWORK_ENV });
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Applies a Terraform JSON configuration that needs no provider (outputs and
 * variables only) in a fresh directory and returns `output -json`, with
 * `binary` (terraform, or tofu with its environment).
 */
export function terraformApplyOutputs(
  config: object,
  vars: Record<string, string> = {},
  binary: { path: string; env: NodeJS.ProcessEnv } = { path: singleEngineBinary(), env: process.env },
): Record<string, { value: unknown }> {
  const dir = tempDir('tf-');
  try {
    fs.writeFileSync(path.join(dir, 'main.tf.json'), JSON.stringify(config, null, 2));
    const cliConfig = path.join(dir, 'terraformrc');
    fs.writeFileSync(cliConfig, '');
    const env = { ...binary.env, TF_IN_AUTOMATION: '1', TF_INPUT: '0', CHECKPOINT_DISABLE: '1', TF_CLI_CONFIG_FILE: cliConfig };
    runOk(binary.path, ['init', '-backend=false', '-no-color'], { cwd: dir, env });
    const varArgs = Object.entries(vars).map(([k, v]) => `-var=${k}=${v}`);
    runOk(binary.path, ['apply', '-auto-approve', '-no-color', ...varArgs], { cwd: dir, env });
    return JSON.parse(runOk(binary.path, ['output', '-json', '-no-color'], { cwd: dir, env }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * What Terraform makes of a literal template string (`$${` → `${`, `%%{` → `%{`),
 * for reading synthesized scripts and hive text as the host gets them. That real
 * Terraform and OpenTofu read the install scripts exactly so is checked in terraform-literal.test.ts.
 */
export function terraformUnescaped(text: string): string {
  return text.replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{');
}

/** A deterministic pseudo-random generator (mulberry32) for generated test strings. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
