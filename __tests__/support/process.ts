/** Process helpers shared by the tests: tool lookup and running project scripts. */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const REPO_ROOT = path.resolve(__dirname, '../..');
const RUNNER = path.join(REPO_ROOT, 'scripts', 'app', 'run.js');

/** True when `tool` (a name on PATH, or an absolute path) is an executable here. */
export function onPath(tool: string): boolean {
  if (path.isAbsolute(tool)) return fs.existsSync(tool);
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, tool), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export interface ScriptRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a project script the way `npm run <name>` does (`node scripts/app/run.js
 * scripts/<x>.ts ...`). Asynchronous on purpose: several tests serve HTTP or
 * SSH from this very process, which a blocking spawnSync would freeze.
 */
export function runProjectScript(script: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, path.resolve(REPO_ROOT, script), ...args], {
      cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Every file below `dir`, by its path relative to `dir` ('/'-separated), with its text. */
export function filesUnder(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, filesUnder(path.join(dir, e.name), rel));
    else out[rel] = fs.readFileSync(path.join(dir, e.name), 'utf8');
  }
  return out;
}
