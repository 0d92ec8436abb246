/**
 * `npm run hive`: the handoff from `cdktf deploy` to `colmena apply`.
 *
 * Run it on your machine after `cdktf deploy`, in the project directory:
 *  1. reads the stack outputs (`terraform output -json` in
 *     cdktf.out/stacks/<stack>, or a `cdktf output --outputs-file` file);
 *  2. writes ./hive.nix from the output `hive_nix` (data for the builder
 *     ./nix/hive.nix, which it imports: hive.nix must stay next to nix/);
 *  3. copies each host's installer-generated /etc/nixos/hardware-configuration.nix
 *     and /etc/nixos/networking.nix into hosts/<name>/ (commit them: a deployed
 *     hive replaces /etc/nixos, and without these the host does not boot).
 *     Files already there are kept (you may have edited them) unless --refresh.
 *
 * With Terraform Cloud / HCP Terraform state, step 1 works the same: terraform
 * reads the workspace's state (log in first with `terraform login`), or use
 * `cdktf output fleet --outputs-file outputs.json` and `--outputs outputs.json`.
 *
 * Sensitive outputs are never read, printed or written.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { writeFileAtomic, writeFilesAtomic } from './lib/atomic-file';
import { HostFacts, OutputsError, hostFacts, readStackOutputs } from './lib/outputs';
import { SshError, SshOptions, describeTarget, fetchRemoteFiles } from './lib/ssh';

/** The stack output holding the generated hive.nix text. */
export const HIVE_OUTPUT = 'hive_nix';
/**
 * The static builder the written hive.nix imports, relative to it (the same
 * as HIVE_BUILDER in constructs/colmena-hive.ts, which this script does not
 * import: that would load cdktf for nothing).
 */
export const HIVE_BUILDER = 'nix/hive.nix';
/** The files copied from each host, by their name in /etc/nixos and hosts/<name>/. */
export const HARDWARE_FILE = 'hardware-configuration.nix';
export const NETWORKING_FILE = 'networking.nix';
const HOST_FILES = [HARDWARE_FILE, NETWORKING_FILE] as const;

const USAGE = `usage: npm run hive -- [options]

Writes hive.nix from the deployed stack's outputs and copies each host's
/etc/nixos/{hardware-configuration,networking}.nix into hosts/<name>/.

  --stack NAME           stack to read (default: fleet)
  --outputs FILE         read outputs from FILE written by
                         \`cdktf output <stack> --outputs-file FILE\`
                         (default: \`terraform output -json\` in cdktf.out/stacks/<stack>)
  --host NAME            only this host (repeatable)
  --refresh              fetch the host files again even if hosts/<name>/ has them
  --identity FILE        SSH private key to use
  --known-hosts FILE     known_hosts file (default: yours; new hosts are added, changed keys refused)
  --ssh-config FILE      ssh config file (default: ~/.ssh/config)
  --ssh-option OPT       extra ssh -o option, e.g. ProxyJump=bastion (repeatable; overrides ours)
  --connect-timeout S    SSH connect timeout in seconds (default: 10)
  --jobs N               hosts fetched in parallel (default: 4)
  --remote-dir DIR       where the files are on the hosts (default: /etc/nixos)
  --help

With Terraform Cloud / HCP Terraform state, \`terraform output\` reads the
workspace's state: log in first (\`terraform login\`), or use --outputs.
Sensitive outputs are never read, printed or written.
`;

export interface HiveOptions {
  readonly stack: string;
  readonly outputsFile?: string;
  readonly hosts: string[];
  readonly refresh: boolean;
  readonly ssh: SshOptions;
  readonly jobs: number;
  readonly remoteDir: string;
}

class UsageError extends Error {}

function parseOptions(argv: string[]): HiveOptions | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'stack': { type: 'string', default: 'fleet' },
      'outputs': { type: 'string' },
      'host': { type: 'string', multiple: true, default: [] },
      'refresh': { type: 'boolean', default: false },
      'identity': { type: 'string' },
      'known-hosts': { type: 'string' },
      'ssh-config': { type: 'string' },
      'ssh-option': { type: 'string', multiple: true, default: [] },
      'connect-timeout': { type: 'string', default: '10' },
      'jobs': { type: 'string', default: '4' },
      'remote-dir': { type: 'string', default: '/etc/nixos' },
      'help': { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  if (positionals.length) throw new UsageError(`unexpected argument: ${positionals[0]}`);
  const int = (name: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer ${min}-${max}, got ${JSON.stringify(text)}`);
    return n;
  };
  for (const o of values['ssh-option']!) {
    if (!/^[A-Za-z][A-Za-z0-9]*(=|\s)/.test(o)) throw new UsageError(`--ssh-option must look like Key=Value, got ${JSON.stringify(o)}`);
  }
  const remoteDir = values['remote-dir']!;
  if (!path.posix.isAbsolute(remoteDir)) throw new UsageError(`--remote-dir must be an absolute path, got ${JSON.stringify(remoteDir)}`);
  const resolveFile = (f: string | undefined): string | undefined => (f === undefined ? undefined : path.resolve(f));
  return {
    stack: values.stack!,
    outputsFile: values.outputs,
    hosts: values.host!,
    refresh: values.refresh!,
    jobs: int('jobs', values.jobs!, 1, 64),
    remoteDir,
    ssh: {
      identityFile: resolveFile(values.identity),
      knownHostsFile: resolveFile(values['known-hosts']),
      configFile: resolveFile(values['ssh-config']),
      extraOptions: values['ssh-option']!,
      connectTimeoutSeconds: int('connect-timeout', values['connect-timeout']!, 1, 600),
    },
  };
}

/** How one host's files ended up. */
export type HostOutcome =
  | { readonly host: string; readonly status: 'present' }
  | { readonly host: string; readonly status: 'fetched'; readonly files: string[]; readonly note?: string }
  | { readonly host: string; readonly status: 'failed'; readonly reason: string };

/**
 * What hosts/<name>/networking.nix becomes for a machine you brought (cloud
 * "existing") that has no /etc/nixos/networking.nix: the template
 * nix/templates/empty-networking.nix of the project.
 */
export const EMPTY_NETWORKING_TEMPLATE = 'nix/templates/empty-networking.nix';

/** Copies the host files of one host into `hostDir` as needed. Never throws. */
export async function fetchHostFiles(host: HostFacts, hostDir: string, options: HiveOptions, projectDir: string): Promise<HostOutcome> {
  try {
    const wanted = HOST_FILES.filter((f) => options.refresh || !fs.existsSync(path.join(hostDir, f)));
    if (wanted.length === 0) return { host: host.name, status: 'present' };
    if (host.sshAddress === undefined) {
      return { host: host.name, status: 'failed', reason: 'its output has neither public_ipv4 nor public_ipv6, so there is no address to connect to' };
    }
    const target = { address: host.sshAddress, user: host.sshUser, port: host.sshPort };
    const remotePath = (f: string): string => path.posix.join(options.remoteDir, f);
    const remote = await fetchRemoteFiles(target, wanted.map(remotePath), options.ssh);

    const files: Array<{ path: string; data: Buffer | string }> = [];
    let note: string | undefined;
    for (const f of wanted) {
      const content = remote.get(remotePath(f));
      if (content === null || content === undefined) {
        if (f === NETWORKING_FILE && host.cloud === 'existing') {
          files.push({ path: path.join(hostDir, f), data: fs.readFileSync(path.join(projectDir, EMPTY_NETWORKING_TEMPLATE)) });
          note = `${describeTarget(target)} has no ${remotePath(f)}: wrote an empty ${f}, check the host's network settings`;
          continue;
        }
        return { host: host.name, status: 'failed', reason: `${remotePath(f)} does not exist on ${describeTarget(target)} (did the NixOS install finish?)` };
      }
      if (content.length === 0) return { host: host.name, status: 'failed', reason: `${remotePath(f)} on ${describeTarget(target)} is empty` };
      if (content.includes(0)) return { host: host.name, status: 'failed', reason: `${remotePath(f)} on ${describeTarget(target)} is not a text file` };
      files.push({ path: path.join(hostDir, f), data: content });
    }
    fs.mkdirSync(hostDir, { recursive: true });
    writeFilesAtomic(files);
    return { host: host.name, status: 'fetched', files: wanted, note };
  } catch (e) {
    const reason = e instanceof SshError ? e.message : `${(e as Error).message ?? String(e)}`;
    return { host: host.name, status: 'failed', reason };
  }
}

/** Runs `fn` over `items` with at most `limit` running at once; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function describeOutcome(o: HostOutcome): string {
  switch (o.status) {
    case 'present': return `${o.host}: already present`;
    case 'fetched': return `${o.host}: fetched ${o.files.join(', ')}${o.note ? ` (note: ${o.note})` : ''}`;
    case 'failed': return `${o.host}: FAILED: ${o.reason}`;
  }
}

/** The whole handoff; returns the process exit status. */
export async function runHive(argv: string[], projectDir = process.cwd()): Promise<number> {
  let options: HiveOptions | 'help';
  try {
    options = parseOptions(argv);
  } catch (e) {
    console.error(`hive: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }

  let hiveText: string;
  let hosts: HostFacts[];
  try {
    const outputs = await readStackOutputs({ stack: options.stack, outputsFile: options.outputsFile, projectDir });
    hiveText = outputs.requireString(HIVE_OUTPUT);
    hosts = hostFacts(outputs);
  } catch (e) {
    if (!(e instanceof OutputsError)) throw e;
    console.error(`hive: ${e.message}`);
    return 1;
  }
  const unknown = options.hosts.filter((h) => !hosts.some((x) => x.name === h));
  if (unknown.length) {
    console.error(`hive: no such host in stack "${options.stack}": ${unknown.join(', ')} (hosts: ${hosts.map((h) => h.name).join(', ') || 'none'})`);
    return 2;
  }
  if (options.hosts.length) hosts = hosts.filter((h) => options.hosts.includes(h.name));

  const hivePath = path.join(projectDir, 'hive.nix');
  writeFileAtomic(hivePath, hiveText.endsWith('\n') ? hiveText : `${hiveText}\n`);
  console.log(`hive.nix written (output "${HIVE_OUTPUT}" of stack "${options.stack}")`);
  // hive.nix is data for the builder next to it; without nix/ Colmena cannot evaluate it.
  if (!fs.existsSync(path.join(projectDir, HIVE_BUILDER))) {
    console.error(`hive: warning: hive.nix imports ./${HIVE_BUILDER}, which is not in ${projectDir}: `
      + 'run `npm run hive` in the project (next to nix/), or restore nix/ from the template');
  }

  const opts = options;
  const outcomes = await mapLimit(hosts, opts.jobs, async (host) => {
    const outcome = await fetchHostFiles(host, path.join(projectDir, 'hosts', host.name), opts, projectDir);
    // One line per host as it finishes, so a slow host does not hide the others.
    (outcome.status === 'failed' ? console.error : console.log)(describeOutcome(outcome));
    return outcome;
  });

  const failed = outcomes.filter((o) => o.status === 'failed').map((o) => o.host);
  if (failed.length) {
    console.error(`hive: ${failed.length} of ${outcomes.length} host${outcomes.length === 1 ? '' : 's'} failed: ${failed.join(', ')}. ` +
      'Fix the cause and run `npm run hive` again: finished hosts are kept.');
    return 1;
  }
  console.log(`hive: done, ${outcomes.length} host${outcomes.length === 1 ? '' : 's'}. Commit hosts/, then run \`colmena apply\`.`);
  return 0;
}

if (require.main === module) {
  runHive(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e) => {
      console.error(`hive: ${(e as Error).stack ?? String(e)}`);
      process.exitCode = 1;
    },
  );
}
