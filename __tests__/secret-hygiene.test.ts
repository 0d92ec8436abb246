/**
 * Secret hygiene: with canary secrets in the environment and on disk, no byte
 * of them may reach cdk.tf.json, the hive output, or anything the app and the
 * scripts print. Runs the real app command (scripts/app/app.js) as a user would.
 */
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');

function freshPrivateKey(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-key-'));
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'k')]);
  if (r.status === 0) {
    const key = fs.readFileSync(path.join(dir, 'k'), 'utf8');
    fs.rmSync(dir, { recursive: true, force: true });
    return key;
  }
  // No ssh-keygen: a PKCS#8 key from node is just as good a canary.
  return crypto.generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

const canaries = {
  HCLOUD_TOKEN: `hc${crypto.randomBytes(31).toString('hex')}`,
  DIGITALOCEAN_TOKEN: `dop_v1_${crypto.randomBytes(32).toString('hex')}`,
  TF_VAR_ssh_private_key: freshPrivateKey(),
};
const secretFileValue = `canary-secret-${crypto.randomBytes(12).toString('hex')}`;

/** The distinctive pieces of each canary (a private key is checked line by line). */
function needles(): string[] {
  const out = [canaries.HCLOUD_TOKEN, canaries.DIGITALOCEAN_TOKEN, secretFileValue];
  for (const line of canaries.TF_VAR_ssh_private_key.split('\n')) {
    if (line.length >= 16 && !line.startsWith('-----')) out.push(line);
  }
  return out;
}

function expectClean(what: string, text: string): void {
  for (const n of needles()) {
    if (text.includes(n)) throw new Error(`${what} contains a canary secret (${n.slice(0, 6)}…)`);
  }
}

interface AppRun { json: string; printed: string }

function runApp(env: Record<string, string>): AppRun {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'hygiene-'));
  const r = spawnSync('node', ['scripts/app/app.js'], {
    cwd: ROOT,
    env: { ...process.env, ...canaries, ...env, CDKTF_OUTDIR: outdir },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`app failed: ${r.stderr}`);
  const json = fs.readFileSync(path.join(outdir, 'stacks', 'fleet', 'cdk.tf.json'), 'utf8');
  fs.rmSync(outdir, { recursive: true, force: true });
  return { json, printed: `${r.stdout}\n${r.stderr}` };
}

describe('no secret leaves the machine it was given on', () => {
  const secretsFile = path.join(ROOT, 'secrets', 'web-1.yaml');
  let createdSecretsFile = false;

  beforeAll(() => {
    // "with secrets files present": a plaintext canary where an encrypted file would be.
    if (!fs.existsSync(secretsFile)) {
      fs.writeFileSync(secretsFile, `db_password: ${secretFileValue}\n`);
      createdSecretsFile = true;
    }
  });
  afterAll(() => {
    if (createdSecretsFile) fs.rmSync(secretsFile, { force: true });
  });

  const configurations: [string, Record<string, string>][] = [
    ['local backend, key from the agent', { TF_VAR_ssh_private_key: '' }],
    ['local backend, key variable set', {}],
    ['Terraform Cloud', { TF_CLOUD_ORGANIZATION: 'acme', TF_WORKSPACE: 'fleet-prod' }],
    ['Terraform Cloud, no key variable', { TF_CLOUD_ORGANIZATION: 'acme', TF_WORKSPACE: 'fleet-prod', TF_VAR_ssh_private_key: '' }],
  ];

  test.each(configurations)('%s: cdk.tf.json, the hive output and the app output are clean', (_name, env) => {
    const run = runApp(env);
    expectClean('cdk.tf.json', run.json);
    expectClean('app output', run.printed);
    const parsed = JSON.parse(run.json);
    expect(parsed.variable.ssh_private_key.sensitive).toBe(true);
    // Providers get their tokens from the environment at apply time, never from the JSON.
    for (const p of Object.values(parsed.provider ?? {}) as Record<string, unknown>[][]) {
      for (const block of p) expect(Object.keys(block)).not.toContain('token');
    }
    const hive = (parsed.locals?.hive_nix_parts as string[] | undefined)?.join('');
    expect(hive).toContain('targetHost');
    expectClean('hive_nix', String(hive));
  });

  test('the canary check itself catches a leak', () => {
    expect(() => expectClean('probe', `x ${canaries.DIGITALOCEAN_TOKEN} y`)).toThrow(/canary/);
    const keyLine = canaries.TF_VAR_ssh_private_key.split('\n')[1];
    expect(() => expectClean('probe', keyLine)).toThrow(/canary/);
  });

  test('the only sensitive input never flows into an output or a local', () => {
    const configs: Record<string, string>[] = [{}, { TF_CLOUD_ORGANIZATION: 'acme', TF_WORKSPACE: 'fleet-prod' }];
    for (const env of configs) {
      const parsed = JSON.parse(runApp(env).json);
      expect(Object.keys(parsed.variable)).toEqual(['ssh_private_key']);
      expect(parsed.variable.ssh_private_key.sensitive).toBe(true);
      // Terraform would refuse an unmarked output of a sensitive value at apply;
      // better: no output or local reads it at all (only the install connections do).
      expect(JSON.stringify(parsed.output)).not.toContain('var.ssh_private_key');
      expect(JSON.stringify(parsed.locals ?? {})).not.toContain('var.ssh_private_key');
      expect(JSON.stringify(parsed.resource.terraform_data)).toContain('var.ssh_private_key');
    }
  });
});
