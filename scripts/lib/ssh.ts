/**
 * Running the system `ssh` from the handoff scripts.
 *
 * The system client, not a library: it honours the user's ~/.ssh/config
 * (ProxyJump, IdentityFile, ...), known_hosts and ssh-agent exactly as
 * Colmena will later. Non-interactive (BatchMode): a prompt would hang a
 * script, so a missing key or an unknown problem fails fast with ssh's reason.
 */
import { spawn } from 'child_process';
import { shellQuote } from '../../constructs/shell';

/** Where to connect. */
export interface SshTarget {
  /** IPv4, IPv6 (no brackets) or DNS name. */
  readonly address: string;
  readonly user: string;
  readonly port: number;
}

export interface SshOptions {
  /**
   * Private key to use (`-i FILE`, with IdentitiesOnly so the agent's other keys are not tried first).
   * @default - whatever ~/.ssh/config and the ssh-agent offer
   */
  readonly identityFile?: string;
  /**
   * known_hosts file to check and record host keys in (`UserKnownHostsFile`).
   * @default - the user's (~/.ssh/known_hosts or what ~/.ssh/config says)
   */
  readonly knownHostsFile?: string;
  /**
   * ssh config file (`-F FILE`); `/dev/null` ignores the user's.
   * @default - ~/.ssh/config
   */
  readonly configFile?: string;
  /**
   * Host key policy for hosts not in known_hosts yet. `accept-new` records the
   * key of a host seen for the first time (servers `cdktf deploy` just created
   * are unknown to the user's known_hosts) and still refuses a changed key.
   * @default 'accept-new'
   */
  readonly strictHostKeyChecking?: 'accept-new' | 'yes' | 'no';
  /** @default 10 */
  readonly connectTimeoutSeconds?: number;
  /**
   * Extra `-o` options ("Key=Value"). Passed before ours, and ssh keeps the
   * first value it gets for an option, so these override every default here.
   * @default []
   */
  readonly extraOptions?: readonly string[];
  /**
   * Kill the session after this long, connected or not.
   * @default 120000
   */
  readonly timeoutMs?: number;
  /** @default 'ssh' */
  readonly sshBinary?: string;
}

/** The arguments for `ssh` running `remoteCommand` on `target`. */
export function sshArgs(target: SshTarget, remoteCommand: string, options: SshOptions = {}): string[] {
  const args: string[] = [];
  if (options.configFile !== undefined) args.push('-F', options.configFile);
  for (const o of options.extraOptions ?? []) args.push('-o', o);
  args.push(
    '-o', 'BatchMode=yes',
    '-o', `ConnectTimeout=${options.connectTimeoutSeconds ?? 10}`,
    '-o', `StrictHostKeyChecking=${options.strictHostKeyChecking ?? 'accept-new'}`,
    // A host that dies mid-transfer is noticed in ~30 s instead of never.
    '-o', 'ServerAliveInterval=10',
    '-o', 'ServerAliveCountMax=3',
  );
  if (options.knownHostsFile !== undefined) args.push('-o', `UserKnownHostsFile=${options.knownHostsFile}`);
  if (options.identityFile !== undefined) args.push('-i', options.identityFile, '-o', 'IdentitiesOnly=yes');
  args.push('-p', String(target.port), '-l', target.user, '--', target.address, remoteCommand);
  return args;
}

/** `user@address:port`, IPv6 in brackets, for messages. */
export function describeTarget(t: SshTarget): string {
  return `${t.user}@${t.address.includes(':') ? `[${t.address}]` : t.address}:${t.port}`;
}

export interface SshResult {
  /** Exit status of the remote command; 255 is ssh's own failure (connect, auth, host key). */
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export class SshError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshError';
  }
}

/** Runs `remoteCommand` on the target; rejects only when ssh cannot run or times out. */
export function runSsh(target: SshTarget, remoteCommand: string, options: SshOptions = {}): Promise<SshResult> {
  const binary = options.sshBinary ?? 'ssh';
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(binary, sshArgs(target, remoteCommand, options), { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new SshError(e.code === 'ENOENT' ? `${binary} not found on PATH` : `cannot run ${binary}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new SshError(`${describeTarget(target)}: no answer within ${Math.round(timeoutMs / 1000)} s`));
      else resolve({ code: code ?? (signal ? 255 : 0), stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

/** ssh's own reason for a failure, without the chatter (warnings, banners). */
export function sshFailureReason(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/^Warning: Permanently added/.test(l));
  // The host key mismatch warning is a box of @-lines; its last line says it all.
  const meaningful = lines.filter((l) => !/^@+/.test(l));
  return meaningful.slice(-3).join(' / ') || 'ssh failed without a message';
}

const FETCH_MARKER = 'nixos-fleet-fetch v1';

/**
 * The remote script for fetchRemoteFiles: a marker line (whatever a shell rc
 * prints before it is skipped), then per file either `missing` or
 * `file <bytes>` followed by exactly that many bytes. One connection fetches
 * all files.
 */
export function fetchScript(paths: readonly string[]): string {
  const perFile = paths.map((p) => {
    const q = shellQuote(p);
    return `if [ ! -e ${q} ]; then echo missing; ` +
      `elif n=$(wc -c < ${q}); then echo file $n; cat ${q} || exit 3; ` +
      `else exit 4; fi`;
  });
  const script = [`echo '${FETCH_MARKER}'`, ...perFile].join('\n');
  // Through `sh -c`, so the user's login shell (bash, zsh, fish) does not matter.
  return `sh -c ${shellQuote(script)}`;
}

/**
 * Fetches regular files from the target over one SSH session.
 * @returns path → content, or null when the file does not exist there
 * @throws SshError naming the target and ssh's reason when anything fails
 */
export async function fetchRemoteFiles(target: SshTarget, paths: readonly string[], options: SshOptions = {}): Promise<Map<string, Buffer | null>> {
  const where = describeTarget(target);
  const result = await runSsh(target, fetchScript(paths), options);
  if (result.code === 255) throw new SshError(`ssh to ${where} failed: ${sshFailureReason(result.stderr)}`);
  if (result.code !== 0) {
    throw new SshError(`reading files on ${where} failed (exit ${result.code}): ${sshFailureReason(result.stderr)}`);
  }
  return parseFetchOutput(result.stdout, paths, where);
}

/** Parses what fetchScript printed. */
export function parseFetchOutput(stdout: Buffer, paths: readonly string[], where: string): Map<string, Buffer | null> {
  const marker = Buffer.from(`${FETCH_MARKER}\n`);
  const start = stdout.indexOf(marker);
  if (start < 0) throw new SshError(`unexpected answer from ${where} (no fetch marker): is the remote shell POSIX?`);
  let pos = start + marker.length;
  const files = new Map<string, Buffer | null>();
  for (const p of paths) {
    const nl = stdout.indexOf(0x0a, pos);
    if (nl < 0) throw new SshError(`answer from ${where} ends early, before ${p}`);
    const header = stdout.subarray(pos, nl).toString('utf8').trim();
    pos = nl + 1;
    if (header === 'missing') {
      files.set(p, null);
      continue;
    }
    const m = /^file (\d+)$/.exec(header);
    if (!m) throw new SshError(`unexpected answer from ${where} for ${p}: ${JSON.stringify(header.slice(0, 80))}`);
    const size = Number(m[1]);
    if (pos + size > stdout.length) throw new SshError(`${p} on ${where} changed while it was read (or the answer was cut short); try again`);
    files.set(p, stdout.subarray(pos, pos + size));
    pos += size;
  }
  return files;
}
