/**
 * The real tools the suites drive: the Terraform engines (terraform, if the
 * machine has it, and OpenTofu always), the real terraform-provider-hcloud in
 * a filesystem mirror, and sops. scripts/dev/real-tools.sh builds them from
 * the Go module proxy at pinned versions (cached by version, so a warm call
 * takes well under a second); .ci/run calls it before `npm test`.
 *
 * Locally a suite may skip when the tools cannot be had (the reason is
 * printed); with CI=true a missing tool fails the suite.
 */
import { spawn, spawnSync } from 'child_process';
import * as path from 'path';
import { REPO_ROOT, onPath, which } from './process';

export const IN_CI = process.env.CI === 'true';

export type EngineName = 'terraform' | 'tofu';

export interface Engine {
  readonly name: EngineName;
  /** Absolute path of the binary. */
  readonly binary: string;
}

export interface RealTools {
  /** PATH (tools first), TF_CLI_CONFIG_FILE (the mirror, nothing else), no checkpoint calls. */
  readonly env: NodeJS.ProcessEnv;
  /** tofu always; terraform too when it is on PATH. */
  readonly engines: readonly Engine[];
  readonly sops: string;
  /** The filesystem mirror holding the real providers. */
  readonly mirror: string;
  /** Where real-tools.sh keeps everything (NIXOS_FLEET_TOOLS). */
  readonly root: string;
}

export interface RealToolsResult {
  readonly tools?: RealTools;
  /** Why the tools are not there (empty when they are). */
  readonly missing: string;
}

let cached: RealToolsResult | undefined;

/** Runs scripts/dev/real-tools.sh once per test process (builds on first use; minutes cold). */
export function realTools(): RealToolsResult {
  if (cached) return cached;
  if (!onPath('go')) return (cached = { missing: 'go is not on PATH (scripts/dev/real-tools.sh builds the tools with it)' });
  const script = path.join(REPO_ROOT, 'scripts', 'dev', 'real-tools.sh');
  const r = spawnSync('bash', [script, '--print-env'], { encoding: 'utf8', timeout: 3_600_000 });
  if (r.status !== 0) return (cached = { missing: `scripts/dev/real-tools.sh failed: ${r.stderr.trim().split('\n').slice(-5).join(' | ')}` });
  const vars: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^export ([A-Z_]+)="(.*)"$/.exec(line);
    if (m) vars[m[1]] = m[2].replace('$PATH', process.env.PATH ?? '');
  }
  const root = vars.NIXOS_FLEET_TOOLS;
  const binDir = path.join(root, 'bin');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: vars.PATH,
    TF_CLI_CONFIG_FILE: vars.TF_CLI_CONFIG_FILE,
    CHECKPOINT_DISABLE: '1',
    TF_IN_AUTOMATION: '1',
  };
  const engines: Engine[] = [];
  const terraform = which('terraform', env.PATH);
  if (terraform) engines.push({ name: 'terraform', binary: terraform });
  engines.push({ name: 'tofu', binary: path.join(binDir, 'tofu') });
  return (cached = {
    tools: { env, engines, sops: path.join(binDir, 'sops'), mirror: path.join(root, 'mirror'), root },
    missing: '',
  });
}

/**
 * Just the variables real-tools.sh prints (PATH with tofu and sops first,
 * TF_CLI_CONFIG_FILE, NIXOS_FLEET_TOOLS), for code that builds its own
 * environment; throws with the reason when the tools cannot be had.
 */
export function realToolsEnv(): Record<string, string> {
  const { tools, missing } = realTools();
  if (!tools) throw new Error(missing);
  return { PATH: tools.env.PATH ?? '', TF_CLI_CONFIG_FILE: tools.env.TF_CLI_CONFIG_FILE ?? '', NIXOS_FLEET_TOOLS: tools.root };
}

/**
 * The engines the machine has, by name: terraform when it is on PATH, and OpenTofu
 * (which scripts/dev/real-tools.sh always provides). Suites that run both engines
 * loop over these; without terraform everything runs with OpenTofu alone.
 */
export function engineNames(): EngineName[] {
  return [...(which('terraform', process.env.PATH) ? ['terraform' as const] : []), 'tofu'];
}

/**
 * The engine for suites that drive one: $TERRAFORM_BINARY_NAME when set (the variable
 * cdktf and the project's scripts honour, a name on PATH or a path), else terraform
 * from PATH, else OpenTofu from scripts/dev/real-tools.sh. A string says why there is none.
 */
export function singleEngine(): Engine | string {
  const named = process.env.TERRAFORM_BINARY_NAME;
  if (named) {
    const binary = path.isAbsolute(named) ? named : which(named, process.env.PATH) ?? which(named, realTools().tools?.env.PATH);
    if (!binary) return `TERRAFORM_BINARY_NAME=${named} is not an executable on PATH`;
    return { name: path.basename(binary).startsWith('tofu') ? 'tofu' : 'terraform', binary };
  }
  const terraform = which('terraform', process.env.PATH);
  if (terraform) return { name: 'terraform', binary: terraform };
  const { tools, missing } = realTools();
  if (!tools) return `terraform is not on PATH, and OpenTofu cannot be had: ${missing}`;
  return tools.engines.find((e) => e.name === 'tofu')!;
}

/** singleEngine()'s binary; throws with the reason when there is none. */
export function singleEngineBinary(): string {
  const engine = singleEngine();
  if (typeof engine === 'string') throw new Error(engine);
  return engine.binary;
}

/**
 * What a child process needs to use singleEngine(): nothing when that is terraform
 * from PATH (every script's default), else TERRAFORM_BINARY_NAME, as a user with only
 * OpenTofu sets it.
 */
export function singleEngineEnv(): Record<string, string> {
  const engine = singleEngine();
  if (typeof engine === 'string') throw new Error(engine);
  const plainTerraform = !process.env.TERRAFORM_BINARY_NAME && engine.binary === which('terraform', process.env.PATH);
  return plainTerraform ? {} : { TERRAFORM_BINARY_NAME: engine.binary };
}

/**
 * A suite that needs the real tools: `body` gets them. Without them it is
 * skipped with the reason printed, except with CI=true, where it fails.
 */
export function describeWithRealTools(title: string, body: (tools: RealTools) => void): void {
  const { tools, missing } = realTools();
  if (tools) {
    describe(title, () => body(tools));
  } else if (IN_CI) {
    describe(title, () => {
      test('the real tools are here (required with CI=true)', () => {
        throw new Error(missing);
      });
    });
  } else {
    // eslint-disable-next-line no-console
    console.warn(`SKIPPED ${title}: ${missing}`);
    describe.skip(title, () => {
      test.skip(`SKIPPED: ${missing}`, () => undefined);
    });
  }
}

export interface EngineRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs an engine subcommand in `dir` (asynchronously, so servers in this process keep serving). */
export function runEngine(engine: Engine, dir: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 300_000): Promise<EngineRun> {
  return new Promise((resolve) => {
    const child = spawn(engine.binary, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Like runEngine, but a non-zero exit throws with everything the engine printed. */
export async function mustRunEngine(engine: Engine, dir: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const r = await runEngine(engine, dir, args, env);
  if (r.code !== 0) throw new Error(`${engine.name} ${args.join(' ')} failed (exit ${r.code}) in ${dir}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
