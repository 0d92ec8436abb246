/**
 * The real Terraform and OpenTofu binaries, for tests that need them to read a
 * configuration, as support/real-tools.ts finds them: `terraform` from PATH, `tofu` and
 * the hcloud provider mirror from scripts/dev/real-tools.sh.
 */
import { spawnSync } from 'child_process';
import { generateKeyPairSync } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir, terraformApplyOutputs } from './nix-tools';
import { EngineName, realTools } from './real-tools';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export interface TerraformBinary {
  readonly name: EngineName;
  readonly path: string;
  /** Environment with the provider mirror's CLI config, when one exists. */
  readonly env: NodeJS.ProcessEnv;
}

/** The binary with the real tools' environment (the provider mirror), or a reason it is missing (for describeWith). */
export function findTerraform(name: EngineName): TerraformBinary | string {
  const { tools, missing } = realTools();
  if (!tools) return missing;
  const engine = tools.engines.find((e) => e.name === name);
  if (!engine) return `${name} is not on PATH`;
  return { name, path: engine.binary, env: { ...tools.env, TF_INPUT: '0' } };
}

function run(bin: TerraformBinary, args: string[], cwd: string, env: NodeJS.ProcessEnv = bin.env): string {
  const r = spawnSync(bin.path, args, { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin.name} ${args.join(' ')} failed:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-4000)}`);
  return r.stdout;
}

/**
 * Applies a configuration of outputs only (no provider, no network) with the
 * real binary and returns `output -json`: what Terraform made of each string.
 */
export function applyOutputs(bin: TerraformBinary, config: object): Record<string, { value: unknown }> {
  return terraformApplyOutputs(config, {}, bin);
}

/**
 * `init` (providers from the real-tools mirror) and `validate` of a
 * synthesized cdk.tf.json: the provider's own schema checks every block.
 * Returns validate's JSON diagnostics.
 */
export function initAndValidate(bin: TerraformBinary, config: object): {
  valid: boolean; diagnostics: { summary: string; detail?: string }[]; schema: Json;
} {
  const dir = tempDir(`${bin.name}-validate-`);
  try {
    fs.writeFileSync(path.join(dir, 'cdk.tf.json'), JSON.stringify(config));
    run(bin, ['init', '-backend=false', '-no-color'], dir);
    const r = spawnSync(bin.path, ['validate', '-json', '-no-color'], { cwd: dir, env: bin.env, encoding: 'utf8' });
    // The providers' own schemas, to check what validate cannot (attributes inside unknown values).
    const schema = JSON.parse(run(bin, ['providers', 'schema', '-json'], dir));
    return { ...JSON.parse(r.stdout), schema };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A fresh OpenSSH ed25519 public key line with the given comment. */
export function newEd25519PublicKey(comment: string): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const lenPrefixed = (b: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([lenPrefixed(Buffer.from('ssh-ed25519')), lenPrefixed(raw)]);
  return `ssh-ed25519 ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`;
}
