/**
 * A forker's project for a simulated deploy: a temp dir with cdktf.json (its
 * app is this repo's scripts/app/app.js running fleet-app.ts), node_modules
 * linked to this repo's (so `npx cdktf` is the pinned cdktf-cli), and the
 * fleet declaration as JSON. Commands run there exactly as the README says
 * (`npx cdktf deploy --auto-approve`, `npm run hive`), with the real engine
 * (terraform or tofu) and the real hcloud provider from scripts/dev/real-tools.sh.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FleetDeclaration } from '../../../constructs/fleet-declaration';
import { realToolsEnv } from '../../support/real-tools';
import { which } from '../../support/process';

/** The repo this file belongs to (found upwards, so it also holds inside a bundle under .build/). */
export const REPO_ROOT = (() => {
  for (let d = __dirname; d !== path.dirname(d); d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'scripts', 'app', 'run.js')) && fs.existsSync(path.join(d, 'cdktf.json'))) return d;
  }
  throw new Error(`cannot find the nixos-fleet repo above ${__dirname}`);
})();

export type Engine = 'terraform' | 'tofu';

export interface CommandRun {
  code: number;
  output: string;
  seconds: number;
}

export { realToolsEnv };

/** Missing tools for a simulated deploy with `engine` ([] when all are there). */
export function missingTools(engine: Engine): string[] {
  const env = realToolsEnv();
  const missing: string[] = [];
  if (!which(engine, env.PATH)) missing.push(engine);
  const mirror = path.join(env.NIXOS_FLEET_TOOLS ?? '', 'mirror');
  const provider = engine === 'tofu' ? 'registry.opentofu.org' : 'registry.terraform.io';
  if (!fs.existsSync(path.join(mirror, provider, 'hetznercloud/hcloud/1.68.0/linux_amd64/terraform-provider-hcloud_v1.68.0'))) {
    missing.push(`hcloud provider 1.68.0 in ${mirror}/${provider}`);
  }
  return missing;
}

export class DeployProject {
  readonly dir: string;
  readonly fleetFile: string;
  private readonly env: NodeJS.ProcessEnv;
  /** Copy every command's output to this process's stdout/stderr as it comes (npm run demo). */
  echo = false;

  /**
   * @param engine terraform or tofu (cdktf's TERRAFORM_BINARY_NAME)
   * @param extraEnv e.g. the simulator's HCLOUD_TOKEN/HCLOUD_ENDPOINT, SSH_AUTH_SOCK
   */
  constructor(readonly engine: Engine, extraEnv: Record<string, string | undefined>, parent = os.tmpdir()) {
    this.dir = fs.mkdtempSync(path.join(parent, `nixos-fleet-deploy-${engine}-`));
    this.fleetFile = path.join(this.dir, 'fleet.json');
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(this.dir, 'node_modules'));
    // hive.nix imports the static builder next to it, as in the template.
    fs.cpSync(path.join(REPO_ROOT, 'nix'), path.join(this.dir, 'nix'), { recursive: true });
    fs.writeFileSync(path.join(this.dir, 'cdktf.json'), `${JSON.stringify({
      language: 'typescript',
      app: `node ${path.join(REPO_ROOT, 'scripts/app/app.js')}`,
      projectId: 'nixos-fleet-simulated',
      sendCrashReports: 'false',
      terraformProviders: [],
      terraformModules: [],
      context: {},
    }, null, 2)}\n`);
    // The repo's user commands, run in this dir (scripts read the project from the cwd).
    const runner = `node ${path.join(REPO_ROOT, 'scripts/app/run.js')}`;
    fs.writeFileSync(path.join(this.dir, 'package.json'), `${JSON.stringify({
      name: 'simulated-fleet',
      private: true,
      scripts: {
        hive: `${runner} ${path.join(REPO_ROOT, 'scripts/hive.ts')}`,
        'secrets:recipients': `${runner} ${path.join(REPO_ROOT, 'scripts/secrets-recipients.ts')}`,
      },
    }, null, 2)}\n`);
    const tools = realToolsEnv();
    this.env = {
      PATH: tools.PATH,
      HOME: process.env.HOME,
      TF_CLI_CONFIG_FILE: tools.TF_CLI_CONFIG_FILE,
      // offline: no version checks, no telemetry
      CHECKPOINT_DISABLE: '1',
      TF_IN_AUTOMATION: '1',
      NIXOS_FLEET_APP_ENTRY: path.join(REPO_ROOT, '__tests__/e2e/cloudsim/fleet-app.ts'),
      NIXOS_FLEET_FLEET_JSON: this.fleetFile,
      ...(engine === 'tofu' ? { TERRAFORM_BINARY_NAME: 'tofu' } : {}),
    };
    for (const [k, v] of Object.entries(extraEnv)) {
      if (v === undefined) delete this.env[k];
      else this.env[k] = v;
    }
  }

  writeFleet(fleet: FleetDeclaration): void {
    fs.writeFileSync(this.fleetFile, `${JSON.stringify(fleet, null, 2)}\n`);
  }

  get stackDir(): string {
    return path.join(this.dir, 'cdktf.out', 'stacks', 'fleet');
  }

  /** `npx cdktf ARGS` in the project. */
  cdktf(args: string[], timeoutMs = 600_000): Promise<CommandRun> {
    return this.run('npx', ['cdktf', ...args], this.dir, timeoutMs);
  }

  /** The engine itself in the synthesized stack dir (e.g. `terraform apply` of the same JSON). */
  engineCommand(args: string[], timeoutMs = 600_000): Promise<CommandRun> {
    return this.run(this.engine, args, this.stackDir, timeoutMs);
  }

  /** `npm run SCRIPT -- ARGS` in the project dir (the repo's script). */
  npmRun(script: string, args: string[], timeoutMs = 300_000): Promise<CommandRun> {
    return this.run('npm', ['run', '--silent', script, '--', ...args], this.dir, timeoutMs);
  }

  /** The state as the engine shows it: `<engine> show -json`'s resources, by address. */
  async stateAddresses(): Promise<string[]> {
    const r = await this.engineCommand(['show', '-json', '-no-color']);
    if (r.code !== 0) throw new Error(`${this.engine} show failed: ${r.output}`);
    const text = r.output.slice(r.output.indexOf('{'));
    const state = JSON.parse(text) as { values?: { root_module?: { resources?: { address: string }[] } } };
    return (state.values?.root_module?.resources ?? []).map((x) => x.address).sort();
  }

  private run(cmd: string, args: string[], cwd: string, timeoutMs: number, extra: Record<string, string> = {}): Promise<CommandRun> {
    const started = Date.now();
    return new Promise((resolve) => {
      const child = spawn(cmd, args, { cwd, env: { ...this.env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d) => {
        output += d;
        if (this.echo) process.stdout.write(d);
      });
      child.stderr.on('data', (d) => {
        output += d;
        if (this.echo) process.stderr.write(d);
      });
      const timer = setTimeout(() => {
        output += `\n[deploy-project] ${cmd} ${args.join(' ')} timed out after ${timeoutMs} ms`;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.on('error', (e) => (output += String(e)));
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, output, seconds: (Date.now() - started) / 1000 });
      });
    });
  }
}
