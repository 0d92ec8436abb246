/**
 * Reading the fleet stack's outputs on the user's machine.
 *
 * Two sources, same result:
 *  - `terraform output -json` run in the stack's working directory
 *    (cdktf.out/stacks/<stack>). Terraform reads the state wherever the stack
 *    keeps it: the local state file, or the Terraform Cloud / HCP Terraform
 *    workspace when the stack uses a `cloud`/`remote` backend (then it needs
 *    the credentials `terraform login` or `cdktf login` stored).
 *  - a file written by `cdktf output <stack> --outputs-file FILE` (or
 *    `cdktf deploy --outputs-file FILE`): `{ "<stack>": { "<output>": value } }`.
 *
 * Sensitive outputs are never handed to callers: their values are dropped on
 * reading, so no code path can print or write them by accident.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { isDnsLabel, isPlainObject } from '../../constructs/validation';

/** The outputs of one stack, sensitive values removed. */
export class StackOutputs {
  /**
   * @param stack stack name, for messages
   * @param source where the outputs came from, for messages
   * @param values output name → value (never a sensitive output)
   * @param sensitiveNames outputs that exist but are marked sensitive
   * @param nested construct-id groups (`cdktf deploy --outputs-file` nests an
   *   output under the ids of the constructs it was created in)
   */
  constructor(
    public readonly stack: string,
    public readonly source: string,
    private readonly values: ReadonlyMap<string, unknown>,
    private readonly sensitiveNames: ReadonlySet<string> = new Set(),
    private readonly nested: ReadonlyMap<string, unknown> = new Map(),
  ) {}

  /** Names of all non-sensitive outputs at the stack's top level. */
  get names(): string[] {
    return [...this.values.keys()];
  }

  isSensitive(name: string): boolean {
    return this.sensitiveNames.has(name);
  }

  /** The output's value, or undefined when the stack has no such (non-sensitive) output. */
  get(name: string): unknown {
    if (this.values.has(name)) return this.values.get(name);
    const found = findNested(this.nested, name);
    if (found.length > 1) throw new OutputsError(`output "${name}" appears ${found.length} times in ${this.source}`);
    return found[0];
  }

  /** A string output that must exist; a clear error otherwise. */
  requireString(name: string): string {
    if (this.isSensitive(name)) {
      throw new OutputsError(`output "${name}" of stack "${this.stack}" is marked sensitive; it must not hold secrets, so this script refuses to use it`);
    }
    const value = this.get(name);
    if (value === undefined) {
      throw new OutputsError(`output "${name}" is missing from ${this.source}. ` +
        `Run \`cdktf deploy ${this.stack}\` with this version of the project first (older deployments do not have it).`);
    }
    if (typeof value !== 'string') throw new OutputsError(`output "${name}" in ${this.source} is a ${typeOf(value)}, expected a string`);
    return value;
  }
}

export class OutputsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputsError';
  }
}

/** What the stack's `hosts` output says about one host. */
export interface HostFacts {
  readonly name: string;
  readonly cloud: string;
  readonly location: string;
  /** '' when none. */
  readonly publicIpv4: string;
  /** '' when none. */
  readonly publicIpv6: string;
  /** '' when none. */
  readonly privateIp: string;
  readonly sshUser: string;
  readonly sshPort: number;
  readonly tags: string[];
  /**
   * Where SSH reaches the host: the output's `ssh_address` when it has one,
   * else public_ipv4, else public_ipv6; undefined when none is known.
   */
  readonly sshAddress?: string;
}

/** The output with every host's facts, by host name (FleetStack's HOSTS_OUTPUT). */
export const HOSTS_OUTPUT = 'hosts';

/** Every host of the `hosts` output, sorted by name, checked for shape. */
export function hostFacts(outputs: StackOutputs): HostFacts[] {
  if (outputs.isSensitive(HOSTS_OUTPUT)) {
    throw new OutputsError(`output "${HOSTS_OUTPUT}" of stack "${outputs.stack}" is marked sensitive; it must not hold secrets, so this script refuses to use it`);
  }
  const all = outputs.get(HOSTS_OUTPUT);
  if (all === undefined) {
    throw new OutputsError(`output "${HOSTS_OUTPUT}" is missing from ${outputs.source}. ` +
      `Run \`cdktf deploy ${outputs.stack}\` with this version of the project first (older deployments have one host_<name> output per host instead).`);
  }
  if (!isPlainObject(all)) throw new OutputsError(`output "${HOSTS_OUTPUT}" in ${outputs.source} is a ${typeOf(all)}, expected an object`);
  return Object.keys(all).sort().map((name) => {
    const where = `output "${HOSTS_OUTPUT}" in ${outputs.source}, host ${JSON.stringify(name)}`;
    if (!isDnsLabel(name)) throw new OutputsError(`output "${HOSTS_OUTPUT}" in ${outputs.source}: ${JSON.stringify(name)} is not a valid host name`);
    const v = all[name];
    if (!isPlainObject(v)) throw new OutputsError(`${where} is a ${typeOf(v)}, expected an object`);
    const str = (key: string, required: boolean): string => {
      const x = v[key];
      if (x === undefined || x === null) {
        if (required) throw new OutputsError(`${where} has no "${key}"`);
        return '';
      }
      if (typeof x !== 'string') throw new OutputsError(`${where}: "${key}" is a ${typeOf(x)}, expected a string`);
      return x;
    };
    const port = v.ssh_port;
    if (!(typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535)) {
      throw new OutputsError(`${where}: "ssh_port" must be an integer 1-65535, got ${typeOf(port)}`);
    }
    const tags = v.tags ?? [];
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw new OutputsError(`${where}: "tags" must be a list of strings`);
    const facts = {
      name,
      cloud: str('cloud', true),
      location: str('location', false),
      publicIpv4: str('public_ipv4', false),
      publicIpv6: str('public_ipv6', false),
      privateIp: str('private_ip', false),
      sshUser: str('ssh_user', true),
      sshPort: port,
      tags: tags as string[],
    };
    const sshAddress = str('ssh_address', false) || facts.publicIpv4 || facts.publicIpv6 || undefined;
    return { ...facts, sshAddress };
  });
}

/** Parses the JSON `terraform output -json` prints: `{ name: { sensitive, type, value } }`. */
export function parseTerraformOutputJson(text: string, stack: string, source: string): StackOutputs {
  const parsed = parseJson(text, source);
  if (!isPlainObject(parsed)) throw new OutputsError(`${source}: expected a JSON object`);
  const values = new Map<string, unknown>();
  const sensitive = new Set<string>();
  for (const [name, entry] of Object.entries(parsed)) {
    if (!isPlainObject(entry) || !('value' in entry)) {
      throw new OutputsError(`${source}: output "${name}" is not in the form { sensitive, type, value }`);
    }
    if (entry.sensitive === true) sensitive.add(name);
    else values.set(name, entry.value);
  }
  return new StackOutputs(stack, source, values, sensitive);
}

/**
 * Parses a cdktf outputs file: `{ "<stack>": { "<output>": value } }`.
 * cdktf leaves sensitive outputs out unless told
 * `--outputs-file-include-sensitive-outputs`; such a file cannot say which
 * ones they were, so do not give this script one.
 */
export function parseCdktfOutputsFile(text: string, stack: string, source: string): StackOutputs {
  const parsed = parseJson(text, source);
  if (!isPlainObject(parsed)) throw new OutputsError(`${source}: expected a JSON object { "<stack>": { ... } }`);
  const stackOutputs = parsed[stack];
  if (stackOutputs === undefined) {
    const stacks = Object.keys(parsed);
    throw new OutputsError(`${source} has no stack "${stack}"` +
      (stacks.length ? ` (it has: ${stacks.map((s) => `"${s}"`).join(', ')}; choose one with --stack)` : ' (it is empty)'));
  }
  if (!isPlainObject(stackOutputs)) throw new OutputsError(`${source}: stack "${stack}" is a ${typeOf(stackOutputs)}, expected an object`);
  const values = new Map(Object.entries(stackOutputs));
  return new StackOutputs(stack, source, values, new Set(), values);
}

export interface ReadStackOutputsOptions {
  /** Stack name (cdktf stack id). */
  readonly stack: string;
  /**
   * A cdktf outputs file to read instead of asking Terraform.
   * @default - run `terraform output -json` in `stackDir`
   */
  readonly outputsFile?: string;
  /**
   * The stack's Terraform working directory.
   * @default `cdktf.out/stacks/<stack>` under `projectDir`
   */
  readonly stackDir?: string;
  /**
   * Project root.
   * @default process.cwd()
   */
  readonly projectDir?: string;
  /**
   * Terraform binary.
   * @default $TERRAFORM_BINARY_NAME (what cdktf honours too), else `terraform`
   */
  readonly terraformBinary?: string;
  /**
   * Environment for the binary.
   * @default process.env
   */
  readonly env?: NodeJS.ProcessEnv;
}

/** Reads the stack's outputs from the outputs file or from Terraform. */
export async function readStackOutputs(options: ReadStackOutputsOptions): Promise<StackOutputs> {
  const projectDir = options.projectDir ?? process.cwd();
  if (options.outputsFile !== undefined) {
    const file = path.resolve(projectDir, options.outputsFile);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new OutputsError(`cannot read outputs file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    return parseCdktfOutputsFile(text, options.stack, file);
  }
  const stackDir = path.resolve(projectDir, options.stackDir ?? path.join('cdktf.out', 'stacks', options.stack));
  if (!fs.existsSync(stackDir)) {
    throw new OutputsError(`${stackDir} does not exist: run \`cdktf deploy ${options.stack}\` first, ` +
      `or pass --outputs FILE written by \`cdktf output ${options.stack} --outputs-file FILE\``);
  }
  const binary = options.terraformBinary ?? process.env.TERRAFORM_BINARY_NAME ?? 'terraform';
  const stdout = await runTerraformOutput(binary, stackDir, options.env ?? process.env);
  return parseTerraformOutputJson(jsonOfOutputCommand(stdout), options.stack, `\`${binary} output -json\` in ${stackDir}`);
}

/**
 * The JSON part of what `output -json` printed. OpenTofu prints warnings about its CLI
 * configuration (e.g. a TF_CLI_CONFIG_FILE that names a missing file) on stdout, before
 * the JSON; Terraform prints them on stderr. The JSON is the first line that opens an
 * object, and everything after it.
 */
export function jsonOfOutputCommand(stdout: string): string {
  const at = stdout.search(/^\{/m);
  return at < 0 ? stdout : stdout.slice(at);
}

function runTerraformOutput(binary: string, cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['output', '-json', '-no-color'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(new OutputsError(e.code === 'ENOENT' ? `${binary} not found on PATH (needed to read the stack outputs; or pass --outputs FILE)` : `cannot run ${binary}: ${e.message}`));
    });
    child.on('close', (code) => {
      // stdout holds output values, sensitive ones included: never put it in a message.
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new OutputsError(`\`${binary} output -json\` in ${cwd} failed (exit ${code}):\n${Buffer.concat(err).toString('utf8').trim()}`));
    });
  });
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Not the parser's message: newer Node quotes part of the text, which may be a secret.
    throw new OutputsError(`${source} is not valid JSON`);
  }
}

/** Values of `name` anywhere inside construct-id groups; never looks inside a found value. */
function findNested(groups: ReadonlyMap<string, unknown>, name: string): unknown[] {
  const found: unknown[] = [];
  const walk = (obj: Record<string, unknown>): void => {
    for (const [k, v] of Object.entries(obj)) {
      if (k === name) found.push(v);
      else if (isPlainObject(v)) walk(v);
    }
  };
  for (const v of groups.values()) if (isPlainObject(v)) walk(v);
  return found;
}

function typeOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v;
}
