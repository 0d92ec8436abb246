/**
 * One readable error, once (issue 11, item 6), through the real cdktf CLI
 * (`npx cdktf synth`, which runs cdktf.json's app command) and through the
 * app command itself: the problem list once, no stack trace unless
 * NIXOS_FLEET_DEBUG=1, a non-zero exit, and no cdk.tf.json left behind.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from './support/nix-tools';
import { REPO_ROOT } from './support/process';

const PROBLEMS = [
  'host "web-1": serverType cx22 was retired by Hetzner on 2025-12-31; use cx23',
  'host "db-1": tags must be a list of strings or left out, got the string "db"',
  'fleet: adminCidrs[0] has host bits set: "203.0.113.7/24" (the network is 203.0.113.0/24)',
];

const dir = tempDir('synth-errors-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** An app entry like scripts/app/synth.ts whose fleet has the three problems above. */
function badEntry(): string {
  const entry = path.join(dir, `bad-fleet-app-${process.pid}.ts`);
  fs.writeFileSync(entry, `
import { App } from 'cdktf';
import { FleetStack } from ${JSON.stringify(path.join(REPO_ROOT, 'constructs/fleet-stack'))};
import { fleet } from ${JSON.stringify(path.join(REPO_ROOT, 'main'))};
const bad = {
  ...fleet,
  adminCidrs: ['203.0.113.7/24'],
  hosts: fleet.hosts.map((h) => (h.name === 'web-1' ? { ...h, serverType: 'cx22' } : h.name === 'db-1' ? { ...h, tags: 'db' } : h)),
};
const app = new App();
new FleetStack(app, 'fleet', { fleet: bad as never });
app.synth();
`);
  return entry;
}

function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const tfrc = path.join(dir, 'empty.tfrc');
  fs.writeFileSync(tfrc, '');
  return { ...process.env, CHECKPOINT_DISABLE: '1', CI: 'true', FORCE_COLOR: '0', TF_CLI_CONFIG_FILE: tfrc, ...extra };
}

function cdktfSynth(outdir: string, env: NodeJS.ProcessEnv) {
  const r = spawnSync(path.join(REPO_ROOT, 'node_modules/.bin/cdktf'), ['synth', '--output', outdir], { cwd: REPO_ROOT, env, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

const count = (text: string, needle: string): number => text.split(needle).length - 1;
const stackFrames = (text: string): string[] => text.split('\n').filter((l) => /^\s+at .+:\d+:\d+\)?$/.test(l));

describe('an invalid fleet through `cdktf synth`', () => {
  test('each problem once, no stack trace, exit non-zero, no cdk.tf.json; an earlier synth cannot be deployed', () => {
    const out = path.join(dir, 'cdktf.out');
    // A good synth first: its manifest and cdk.tf.json must not survive a failing one (state must).
    const good = cdktfSynth(out, cliEnv());
    expect(good.status).toBe(0);
    const stackDir = path.join(out, 'stacks', 'fleet');
    expect(fs.existsSync(path.join(stackDir, 'cdk.tf.json'))).toBe(true);
    fs.writeFileSync(path.join(stackDir, 'terraform.tfstate'), '{"version":4}');

    const bad = cdktfSynth(out, cliEnv({ NIXOS_FLEET_APP_ENTRY: badEntry() }));
    expect(bad.status).not.toBe(0);
    for (const p of PROBLEMS) expect([p, count(bad.output, p)]).toEqual([p, 1]);
    expect(count(bad.output, 'Invalid fleet declaration (3 problems)')).toBe(1);
    expect(stackFrames(bad.output)).toEqual([]);
    expect(fs.existsSync(path.join(stackDir, 'cdk.tf.json'))).toBe(false);
    expect(fs.existsSync(path.join(out, 'manifest.json'))).toBe(false);
    expect(fs.readFileSync(path.join(stackDir, 'terraform.tfstate'), 'utf8')).toBe('{"version":4}');
  }, 120_000);

  test('NIXOS_FLEET_DEBUG=1 brings the stack trace back', () => {
    const bad = cdktfSynth(path.join(dir, 'debug.out'), cliEnv({ NIXOS_FLEET_APP_ENTRY: badEntry(), NIXOS_FLEET_DEBUG: '1' }));
    expect(bad.status).not.toBe(0);
    expect(bad.output).toContain(PROBLEMS[0]);
    expect(stackFrames(bad.output).length).toBeGreaterThan(0);
  }, 120_000);
});

test('the app command run directly: the list once on stderr, exit 1, nothing written', () => {
  const cwd = tempDir('direct-app-');
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, NIXOS_FLEET_APP_ENTRY: badEntry() };
    delete env.CDKTF_OUTDIR;
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts/app/app.js')], { cwd, env, encoding: 'utf8' });
    expect(r.status).toBe(1);
    for (const p of PROBLEMS) expect([p, count(r.stderr, p)]).toEqual([p, 1]);
    expect(stackFrames(r.stderr)).toEqual([]);
    expect(r.stdout).toBe('');
    // cdktf's App creates its output directories when constructed; no file is written into them.
    const out = path.join(cwd, 'cdktf.out');
    const files = fs.existsSync(out)
      ? (fs.readdirSync(out, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(out, f)).isFile())
      : [];
    expect(files).toEqual([]);
  } finally {
    fs.rmSync(cwd, { recursive: true, force: true });
  }
}, 60_000);
