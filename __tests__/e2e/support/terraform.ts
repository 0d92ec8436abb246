/**
 * Real Terraform for the end-to-end tests: synthesize a stack into a temp dir,
 * `terraform init` and `apply` it, capture what Terraform prints. The engine is
 * terraform, or OpenTofu where the machine has no terraform (support/real-tools.ts
 * singleEngine); `cdktf deploy` gets the same one through TERRAFORM_BINARY_NAME.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, LocalBackend, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { singleEngineBinary } from '../../support/real-tools';

export interface TerraformRun {
  code: number;
  output: string;
  seconds: number;
}

/** Synthesizes `build(app)`'s stack `name` into a new temp dir with local state; returns the stack dir. */
export function synthStack(name: string, build: (app: Construct) => TerraformStack): string {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'nixos-fleet-e2e-'));
  const app = new App({ outdir });
  const stack = build(app);
  new LocalBackend(stack, { path: path.join(outdir, `${name}.tfstate`) });
  app.synth();
  return path.join(outdir, 'stacks', stack.node.id);
}

export function terraformEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TF_IN_AUTOMATION: '1',
    CHECKPOINT_DISABLE: '1',
    // Terraform prints a warning for a missing ~/.terraformrc; point it at an empty one.
    TF_CLI_CONFIG_FILE: emptyCliConfig(),
    TERRAFORM_BINARY_NAME: singleEngineBinary(),
  };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

let cliConfig: string | undefined;
function emptyCliConfig(): string {
  if (!cliConfig) {
    cliConfig = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tfrc-')), 'terraformrc');
    fs.writeFileSync(cliConfig, '');
  }
  return cliConfig;
}

export function terraform(dir: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 300_000): Promise<TerraformRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(singleEngineBinary(), [...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output, seconds: (Date.now() - started) / 1000 });
    });
  });
}

export async function initAndApply(dir: string, env: NodeJS.ProcessEnv): Promise<TerraformRun> {
  const init = await terraform(dir, ['init', '-input=false', '-no-color'], env);
  if (init.code !== 0) return init;
  return terraform(dir, ['apply', '-input=false', '-no-color', '-auto-approve', '-parallelism=10'], env);
}

/** `terraform output -json` as an object. */
export function outputs(dir: string, env: NodeJS.ProcessEnv): Record<string, { value: unknown; sensitive: boolean }> {
  const r = spawnSync(singleEngineBinary(), ['output', '-json', '-no-color'], { cwd: dir, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${singleEngineBinary()} output failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** A real ssh-agent holding `keyPath`; returns its socket and a stop function. */
export function startSshAgent(keyPath: string): { socket: string; stop: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-'));
  const socket = path.join(dir, 'agent.sock');
  const started = spawnSync('ssh-agent', ['-a', socket, '-s'], { encoding: 'utf8' });
  if (started.status !== 0) throw new Error(`ssh-agent failed: ${started.stderr}`);
  const pid = /SSH_AGENT_PID=(\d+)/.exec(started.stdout)?.[1];
  const add = spawnSync('ssh-add', [keyPath], { env: { ...process.env, SSH_AUTH_SOCK: socket }, encoding: 'utf8' });
  if (add.status !== 0) throw new Error(`ssh-add failed: ${add.stderr}`);
  return {
    socket,
    stop: () => {
      if (pid) {
        try { process.kill(Number(pid)); } catch { /* already gone */ }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
