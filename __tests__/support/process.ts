/** Process helpers shared by the tests: tool lookup and running project scripts. */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const REPO_ROOT = path.resolve(__dirname, '../..');
const RUNNER = path.join(REPO_ROOT, 'scripts', 'app', 'run.js');

/** Where `tool` is found on `searchPath` (default: this process's PATH) as an executable, or undefined. */
export function which(tool: string, searchPath: string | undefined = process.env.PATH): string | undefined {
  for (const dir of (searchPath ?? '').split(path.delimiter)) {
    const file = path.join(dir, tool);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** True when `tool` (a name on PATH, or an absolute path) is an executable here. */
export function onPath(tool: string): boolean {
  return path.isAbsolute(tool) ? fs.existsSync(tool) : which(tool) !== undefined;
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
