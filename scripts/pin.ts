/**
 * `npm run pin -- <channel>`: pins nixpkgs to the channel's current commit.
 *
 * Writes nixpkgs.json { channel, rev, sha256, url }: the commit the channel
 * points at now (https://channels.nixos.org/<channel>/git-revision) and the
 * sha256 of that commit's unpacked source tarball, as
 * `builtins.fetchTarball { url; sha256; }` wants it. A channel moves; a pinned
 * commit with its hash does not, so every `colmena apply` builds the same
 * system until you pin again.
 *
 * Needs Nix on the machine (nix-prefetch-url). The tarball is prefetched under
 * the store name fetchTarball uses ("source"), so the first evaluation of the
 * hive finds it in the store instead of downloading it again.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { CHANNEL_PATTERN } from '../constructs/validation';
import { writeFileAtomic } from './lib/atomic-file';

export const DEFAULT_CHANNELS_URL = 'https://channels.nixos.org';
export const DEFAULT_TARBALL_URL = 'https://github.com/NixOS/nixpkgs/archive/{rev}.tar.gz';
/** Environment overrides of the two URLs (the command-line options win). */
export const CHANNELS_URL_ENV = 'NIXOS_FLEET_CHANNELS_URL';
export const TARBALL_URL_ENV = 'NIXOS_FLEET_TARBALL_URL';

const REV_PATTERN = /^[0-9a-f]{40}$/;
/** Nix's base32 alphabet (no e, o, u, t); a sha256 is 52 characters. */
const NIX_BASE32_SHA256 = /^[0-9abcdfghijklmnpqrsvwxyz]{52}$/;

const USAGE = `usage: npm run pin -- <channel> [options]

Pins nixpkgs to the current commit of a NixOS channel: writes nixpkgs.json
{ channel, rev, sha256, url }. <channel> is nixos-YY.MM or nixos-unstable.

  --out FILE             where to write (default: nixpkgs.json)
  --channels-url URL     channel server (default: $${CHANNELS_URL_ENV} or ${DEFAULT_CHANNELS_URL})
  --tarball-url TEMPLATE source tarball, {rev} is replaced by the commit
                         (default: $${TARBALL_URL_ENV} or ${DEFAULT_TARBALL_URL})
  --help
`;

/** What nixpkgs.json holds. */
export interface NixpkgsPin {
  readonly channel: string;
  /** The nixpkgs commit (40 hex). */
  readonly rev: string;
  /** Nix base32 sha256 of the unpacked tarball (fetchTarball's `sha256`). */
  readonly sha256: string;
  /** The tarball the hash belongs to. */
  readonly url: string;
}

export class PinError extends Error {
  constructor(message: string, public readonly exitCode = 1) {
    super(message);
    this.name = 'PinError';
  }
}

export function checkChannel(channel: string): void {
  if (!CHANNEL_PATTERN.test(channel)) {
    throw new PinError(`invalid channel ${JSON.stringify(channel)}: expected nixos-YY.MM (e.g. nixos-26.05) or nixos-unstable`, 2);
  }
}

/** Resolves the commit a channel points at, following the channel server's redirects. */
export async function channelRevision(channelsUrl: string, channel: string): Promise<string> {
  const url = `${channelsUrl.replace(/\/+$/, '')}/${channel}/git-revision`;
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new PinError(`cannot fetch ${url}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  }
  if (res.status === 404) throw new PinError(`channel ${channel} not found: ${url} answered HTTP 404 (is the release out, or end of life and removed?)`);
  if (!res.ok) throw new PinError(`cannot fetch ${url}: HTTP ${res.status}`);
  const rev = (await res.text()).trim();
  if (!REV_PATTERN.test(rev)) throw new PinError(`${url} did not answer a git commit (40 hex digits): ${JSON.stringify(rev.slice(0, 60))}`);
  return rev;
}

/** Downloads and unpacks the tarball into the Nix store; returns the base32 sha256 of the unpacked tree. */
export function prefetchUnpacked(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('nix-prefetch-url', ['--unpack', '--type', 'sha256', '--name', 'source', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString('utf8'); });
    child.stderr.on('data', (b: Buffer) => { err += b.toString('utf8'); });
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(new PinError(e.code === 'ENOENT' ? 'nix-prefetch-url not found on PATH: install Nix (https://nixos.org/download)' : `cannot run nix-prefetch-url: ${e.message}`));
    });
    child.on('close', (code) => {
      const hash = out.trim().split('\n').pop() ?? '';
      if (code !== 0) reject(new PinError(`nix-prefetch-url --unpack ${url} failed (exit ${code}):\n${err.trim()}`));
      else if (!NIX_BASE32_SHA256.test(hash)) reject(new PinError(`nix-prefetch-url printed no sha256 for ${url}: ${JSON.stringify(out.trim().slice(0, 80))}`));
      else resolve(hash);
    });
  });
}

export interface PinOptions {
  readonly channel: string;
  /** @default $NIXOS_FLEET_CHANNELS_URL, else https://channels.nixos.org */
  readonly channelsUrl?: string;
  /** `{rev}` is replaced. @default $NIXOS_FLEET_TARBALL_URL, else GitHub's archive URL */
  readonly tarballUrl?: string;
}

/** Resolves the pin; writes nothing. */
export async function resolvePin(options: PinOptions): Promise<NixpkgsPin> {
  checkChannel(options.channel);
  const template = options.tarballUrl ?? process.env[TARBALL_URL_ENV] ?? DEFAULT_TARBALL_URL;
  if (!template.includes('{rev}')) throw new PinError(`tarball URL template must contain {rev}: ${template}`, 2);
  const rev = await channelRevision(options.channelsUrl ?? process.env[CHANNELS_URL_ENV] ?? DEFAULT_CHANNELS_URL, options.channel);
  const url = template.split('{rev}').join(rev);
  const sha256 = await prefetchUnpacked(url);
  return { channel: options.channel, rev, sha256, url };
}

export async function runPin(argv: string[], projectDir = process.cwd()): Promise<number> {
  let values: { out?: string; 'channels-url'?: string; 'tarball-url'?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'out': { type: 'string' },
        'channels-url': { type: 'string' },
        'tarball-url': { type: 'string' },
        'help': { type: 'boolean' },
      },
    }));
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (positionals.length !== 1) throw new Error(positionals.length ? `one channel expected, got ${positionals.length}` : 'which channel? e.g. npm run pin -- nixos-26.05');
  } catch (e) {
    console.error(`pin: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const out = path.resolve(projectDir, values.out ?? 'nixpkgs.json');
  try {
    const pin = await resolvePin({ channel: positionals[0], channelsUrl: values['channels-url'], tarballUrl: values['tarball-url'] });
    try {
      writeFileAtomic(out, `${JSON.stringify(pin, null, 2)}\n`);
    } catch (e) {
      throw new PinError(`cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    console.log(`pin: ${pin.channel} is at ${pin.rev}; wrote ${path.relative(projectDir, out) || out} (sha256 ${pin.sha256})`);
    return 0;
  } catch (e) {
    if (!(e instanceof PinError)) throw e;
    console.error(`pin: ${e.message}${fs.existsSync(out) ? `\npin: ${path.basename(out)} left as it was` : ''}`);
    return e.exitCode;
  }
}

if (require.main === module) {
  runPin(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e) => {
      console.error(`pin: ${(e as Error).stack ?? String(e)}`);
      process.exitCode = 1;
    },
  );
}
