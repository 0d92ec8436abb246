/**
 * Stand-in hosts for the nixos-fleet end-to-end tests.
 *
 * startStandinFleet({ count }) starts `count` "hosts" on this machine that a real `terraform apply`
 * (terraform_data + remote-exec) can reach over real SSH and "infect" for real: each host has its own
 * network namespace, its own /etc (overlay), its own sshd and a supervisor that emulates reboots.
 * Needs root on Linux; see prerequisites(). Nothing here sends traffic anywhere but to loopback and
 * to the namespaces it creates.
 *
 * API
 *   prerequisites(): { ok, missing }          root? terraform, sshd, ssh, ip, unshare, nsenter, openssl...
 *   startStandinFleet(opts): Promise<StandinFleet>
 *     opts: count; rebootDelaySeconds (default 2: how long a rebooting host stays down);
 *           names (hostnames, default standin-0, standin-1, ...); rebootCommandReturns (default false,
 *           see "Reboot" below); startTimeoutMs (default 20000)
 *   cleanupStale(): Promise<string[]>         remove leftovers of crashed runs (also done by start)
 *   fakeInfectScript(opts): string            text of fake-nixos-infect.sh with its knobs set
 *   StandinFleet
 *     id, subnet ("10.77.N.0/24"), gateway ("10.77.N.1", the bridge), bridge, stateDir, startedInMs
 *     hosts: StandinHost[]   { index, name, address (10.77.N.(10+i)), port 22, netns (nf<pid>-<i>),
 *                              etcUpper (overlay upper dir = what the host wrote to /etc), logDir (the
 *                              host's /var/log), sshdLogPath, hostPublicKey ("ssh-ed25519 AAAA...",
 *                              for Terraform's connection.host_key), stateDir, homeDir (/home),
 *                              bootDir (/boot), oldRootDir (/old-root after NixOS's first boot) }
 *     clientKeyPath / clientPublicKey   ed25519 key (0600) in every host's /root/.ssh/authorized_keys
 *     knownHostsPath                    "<address> <host key>" for every host
 *     installer: InstallerServer        HTTPS on https://10.77.N.1:<port>/, certificate from a
 *                                       throwaway CA that every host trusts (appended to the host's
 *                                       /etc/ssl/certs/ca-certificates.crt, plus the <hash>.0 link),
 *                                       so curl/wget on the hosts verify it for real.
 *                                       publish(path, content, {stall?}) -> { url, sha256 } (stall: send
 *                                       the headers and half the body, then nothing); requests() (paths
 *                                       requested, in order); requestLog(); close()
 *     exec(host, cmd, {timeoutMs?, input?})  run `bash -c cmd` as root inside the host (nsenter into
 *                                       its current boot), for assertions -> { code, stdout, stderr };
 *                                       like ssh(), it resolves when the output pipes close, so
 *                                       background jobs must redirect their output
 *     ssh(host, cmd, {timeoutMs?, input?, user?})   the same through the system ssh client (real SSH,
 *                                       known_hosts, StrictHostKeyChecking=yes), as root or `user`;
 *                                       sshArgs(host, user?) gives its arguments
 *     addUser(host, name, {sudo?})      a Debian login user with the client key (sudo: 'nopasswd' adds a
 *                                       password-less sudo rule in /etc/sudoers.d)
 *     bootMode(host)                    "debian" | "nixos": what the current boot runs
 *     throttle(host, {rateKbit}) / unthrottle(host)   tc tbf on both ends of the host's link
 *     rebootCount(host), state(host) ("booting"|"up"|"rebooting"|"stopped"|"failed: ...")
 *     requestReboot(host)               like a cloud API "reboot server"
 *     isSshUp(host), waitForSsh(host, timeoutMs?), waitForSshDown(host, timeoutMs?)
 *     stop(): Promise<void>             idempotent; kills every process, removes namespaces, veths,
 *                                       bridge, subnet lock and temp dirs (also after a failed start)
 *
 * Layout of a host (supervisor.sh does the setup; read its header for details)
 *   network  netns nf<pid>-<i>, eth0 = veth peer of nf<pid>v<i> on bridge nf<pid>br (10.77.N.1/24) in
 *            the root namespace; lo up; default route via 10.77.N.1. IP forwarding is switched off on
 *            the bridge and veths, IPv6 off, /etc/resolv.conf says nameserver 127.0.0.1: packets a host
 *            sends to any other address end in the root namespace and are dropped.
 *            N = (pid % 250) + 2, or the next free one (lock dirs in /run/nixos-fleet-standin).
 *   files    private mount namespace: /etc = overlayfs (lower: real /etc, upper: etcUpper) holding the
 *            host's own sshd_config, ed25519 host key (the real machine's host keys are whited out),
 *            hostname, hosts, resolv.conf and CA bundle; /root, /var/log, /tmp = per-host dirs
 *            (persist across reboots); /run = tmpfs, a new one at every reboot.
 *   sshd     /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config, ListenAddress <address>:22, PidFile
 *            /run/sshd.pid, PermitRootLogin prohibit-password, PasswordAuthentication no, UsePAM no,
 *            log in <logDir>/sshd.log.
 *   boots    each boot is a fresh PID namespace whose PID 1 starts sshd; everything the host runs lives
 *            in it (`ps` inside a host shows only the host's processes).
 *
 * Reboot: the real files behind reboot/shutdown/halt/poweroff/systemctl/systemd-run (on Debian 12 all
 *   of the first four are symlinks to /bin/systemctl) are bind-mounted over, inside the host, by
 *   power.sh. `reboot`, `shutdown -r now|+0`, `systemctl reboot` write a request file into the host's
 *   control dir and wake the supervisor; the supervisor SIGKILLs the boot's PID 1 (the kernel then kills
 *   sshd, every session and every detached job of the host), puts a new tmpfs on /run, increments
 *   rebootCount, stays down rebootDelaySeconds (connections are refused meanwhile), then boots again.
 *   The reboot command itself does NOT return: it waits to be killed, so an SSH session that runs it
 *   ends without an exit status ("remote command exited without exit status or exit signal" in
 *   Terraform, hashicorp/terraform#17844), deterministically. rebootCommandReturns: true makes it exit 0
 *   right after asking instead, and the boot is killed 0.5 s later (what systemd roughly does). Detached patterns work like on a real machine: `shutdown -r +1`,
 *   `systemd-run --on-active=2 systemctl reboot`, `nohup sh -c 'sleep 2; reboot' &`.
 * sshd stopped: if sshd's master process exits (e.g. `kill $(cat /run/sshd.pid)`), nothing restarts it;
 *   existing sessions keep running, new connections are refused until the next reboot.
 *
 * Crash safety: start() first removes leftovers of dead runs (cleanupStale); every fleet has a reaper
 *   (cleanup.sh --when-dead <our pid>, in its own session) that cleans up if this process dies without
 *   stop(); supervisors power their host off when this process is gone (within 0.1 s); a process
 *   'exit' hook does the same synchronously (outside Jest only: Jest gives each test file a copy of
 *   `process` whose 'exit' listeners never fire). Mounts exist only in the hosts' private mount
 *   namespaces. STANDIN_DEBUG=1 prints start/stop timings.
 *   State lives in /var/tmp/nixos-fleet-standin/<id> (override: STANDIN_STATE_DIR); it must not be
 *   under /tmp, because the hosts see their own /tmp.
 *
 * Failing installer: fakeInfectScript({ failExitCode: 3 }) prints the first progress lines, then
 *   exits 3; fakeInfectScript({ failAt: 'after-config', failExitCode: 3 }) fails at a later point.
 *   More knobs: outputKb (several MB of log), bootEntry: false (the next boot is the old Debian
 *   again), hang: 'installer' | 'with-background-holder' (never finishes; the latter leaves a
 *   process in its own session holding the installer's output).
 * NixOS boots: the boot after a fake install runs "NixOS" (supervisor.sh: /old-root move of the old
 *   system on the first one, accounts and sshd keys only as the configuration declares,
 *   /run/current-system, nixos-version, a new boot_id at every boot).
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as https from 'https';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { singleEngine } from '../../support/real-tools';

export interface StandinOptions {
  count: number;
  /** How long a rebooting host stays down, in seconds (fractions allowed). Default 2. */
  rebootDelaySeconds?: number;
  /** Hostnames; default standin-<i>. */
  names?: string[];
  /** If true, `reboot` & co. exit 0 right after asking for the reboot (the boot is killed 0.5 s later)
   * instead of waiting to be killed. */
  rebootCommandReturns?: boolean;
  /** How long start may wait for every sshd to answer. Default 20000. */
  startTimeoutMs?: number;
}

export interface StandinHost {
  index: number;
  name: string;
  address: string;
  port: 22;
  netns: string;
  /** The overlay upper dir: everything the host wrote to /etc (e.g. etcUpper/NIXOS). */
  etcUpper: string;
  /** The host's /var/log. */
  logDir: string;
  /** sshd's log (-e output), inside logDir. */
  sshdLogPath: string;
  /** The host's SSH host key, "ssh-ed25519 AAAA..." (Terraform: connection { host_key = ... }). */
  hostPublicKey: string;
  /** Per-host state dir (control files, supervisor.log). */
  stateDir: string;
  /** The host's /home. */
  homeDir: string;
  /** The host's /boot (fake-nixos-infect.sh puts the "built" system there). */
  bootDir: string;
  /** Where NixOS's first boot moved the old system (/old-root on a real host; not mounted inside). */
  oldRootDir: string;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  timeoutMs?: number;
  input?: string;
  /** ssh() only: log in as this user (default root). */
  user?: string;
}

export interface InstallerRequest {
  method: string;
  path: string;
  remoteAddress: string;
  status: number;
}

export interface InstallerServer {
  address: string;
  port: number;
  /** https://10.77.N.1:<port> */
  baseUrl: string;
  caCertPath: string;
  caCertPem: string;
  /** Serve content at path (GET/HEAD); returns its URL and hex sha256. stall: never finish sending it. */
  publish(path: string, content: string | Buffer, opts?: { stall?: boolean }): { url: string; sha256: string };
  url(path: string): string;
  /** Paths (with query) requested so far, in order. */
  requests(): string[];
  requestLog(): InstallerRequest[];
  close(): Promise<void>;
}

export interface StandinFleet {
  id: string;
  subnet: string;
  gateway: string;
  bridge: string;
  stateDir: string;
  startedInMs: number;
  hosts: StandinHost[];
  clientKeyPath: string;
  clientPublicKey: string;
  knownHostsPath: string;
  installer: InstallerServer;
  exec(host: StandinHost, cmd: string, opts?: ExecOptions): Promise<ExecResult>;
  ssh(host: StandinHost, cmd: string, opts?: ExecOptions): Promise<ExecResult>;
  sshArgs(host: StandinHost, user?: string): string[];
  addUser(host: StandinHost, name: string, opts?: { sudo?: 'nopasswd' | 'none' }): Promise<void>;
  bootMode(host: StandinHost): 'debian' | 'nixos' | 'down';
  throttle(host: StandinHost, opts: { rateKbit: number }): Promise<void>;
  unthrottle(host: StandinHost): Promise<void>;
  rebootCount(host: StandinHost): number;
  state(host: StandinHost): string;
  requestReboot(host: StandinHost): void;
  isSshUp(host: StandinHost): Promise<boolean>;
  waitForSsh(host: StandinHost, timeoutMs?: number): Promise<void>;
  waitForSshDown(host: StandinHost, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const SCRIPT_DIR = __dirname;
const STATE_ROOT = process.env.STANDIN_STATE_DIR ?? '/var/tmp/nixos-fleet-standin';
const LOCK_ROOT = '/run/nixos-fleet-standin';
const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ID_RE = /^nf(\d+)(?:x\d+)?$/;
const POWER_COMMANDS = [
  '/usr/sbin/reboot', '/sbin/reboot', '/usr/sbin/shutdown', '/sbin/shutdown', '/usr/sbin/halt', '/sbin/halt',
  '/usr/sbin/poweroff', '/sbin/poweroff', '/usr/bin/systemctl', '/bin/systemctl', '/usr/bin/systemd-run',
  '/bin/systemd-run',
];
const REQUIRED_COMMANDS = [
  'sshd', 'ssh', 'ssh-keygen', 'ip', 'unshare', 'nsenter', 'openssl', 'mount', 'umount', 'pgrep',
  'setsid', 'mknod', 'mkfifo', 'tail', 'bash', 'findmnt', 'hostname', 'curl',
  // install step and fake installer: time limits, sudo for non-root users, reading NIXOS_IMPORT, slow links
  'timeout', 'sudo', 'nix-instantiate', 'jq', 'tc', 'ssh-keyscan',
];
/** Mount points a host gets its own copy of (they must exist on the real machine). */
const HOST_MOUNT_POINTS = ['/root', '/home', '/boot', '/var/log', '/tmp'];

// ---------------------------------------------------------------------------------------------
// small process helpers

function toolEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: `${SAFE_PATH}:${process.env.PATH ?? ''}`, LANG: 'C', LC_ALL: 'C', ...extra };
}

/** Runs a command; never rejects (spawn errors become code 127). */
function run(cmd: string, args: string[], opts: ExecOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { env: opts.env ?? toolEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      resolve({ code: 127, stdout: '', stderr: String(e) });
      return;
    }
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const settle = (r: ExecResult) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      resolve(r);
    };
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', (e) => settle({ code: 127, stdout, stderr: stderr + String(e) }));
    child.on('close', (code, signal) =>
      settle({ code: code ?? 128 + (signal ? os.constants.signals[signal] : 0), stdout, stderr }),
    );
    if (opts.timeoutMs) {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        stderr += `\n[standin] timed out after ${opts.timeoutMs} ms`;
      }, opts.timeoutMs);
    }
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(opts.input ?? '');
  });
}

async function must(cmd: string, args: string[], opts: ExecOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`standin: \`${cmd} ${args.join(' ')}\` failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

function findCommand(cmd: string): string | undefined {
  const dirs = `${process.env.PATH ?? ''}:${SAFE_PATH}`.split(':').filter(Boolean);
  for (const d of dirs) {
    const p = path.join(d, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // next
    }
  }
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Opens a fifo without blocking and writes a line; ignores a missing reader. */
function poke(fifo: string): void {
  try {
    const fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    try {
      fs.writeSync(fd, 'poke\n');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // no supervisor listening
  }
}

function sshBanner(address: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port });
    let buf = '';
    let done = false;
    const finish = (v: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => finish(false), timeoutMs);
    s.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.length >= 4) finish(buf.startsWith('SSH-'));
    });
    s.on('error', () => finish(false));
    s.on('close', () => finish(false));
  });
}

// ---------------------------------------------------------------------------------------------
// prerequisites, stale cleanup, exit hook

export function prerequisites(): { ok: boolean; missing: string[] } {
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push('Linux');
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) missing.push('root (uid 0)');
  for (const c of REQUIRED_COMMANDS) if (!findCommand(c)) missing.push(c);
  const engine = singleEngine(); // terraform, else OpenTofu
  if (typeof engine === 'string') missing.push(engine);
  for (const d of HOST_MOUNT_POINTS) if (!fs.statSync(d, { throwIfNoEntry: false })?.isDirectory()) missing.push(`directory ${d}`);
  try {
    if (!/\boverlay\b/.test(fs.readFileSync('/proc/filesystems', 'utf8'))) {
      const rel = fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
      if (!fs.existsSync(`/lib/modules/${rel}`)) missing.push('overlayfs (kernel)');
    }
  } catch {
    missing.push('/proc');
  }
  return { ok: missing.length === 0, missing };
}

/** Fleets started by this module instance and not stopped yet (id -> stop without waiting). */
const active = new Map<string, () => void>();
let exitHookInstalled = false;

function cleanupSync(id: string): void {
  spawnSync('/bin/bash', [path.join(SCRIPT_DIR, 'cleanup.sh'), id, STATE_ROOT, LOCK_ROOT], {
    stdio: 'ignore',
    env: toolEnv(),
    timeout: 20000,
  });
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Best effort (Jest sandboxes `process`; the per-fleet reaper is the reliable path).
  process.on('exit', () => {
    for (const [id, kill] of active) {
      kill();
      cleanupSync(id);
    }
  });
}

interface OwnerInfo {
  pid: number;
  startTime?: string;
}

function ownerAlive(id: string): boolean {
  const m = ID_RE.exec(id);
  if (!m) return true; // not ours: never touch
  const pid = Number(m[1]);
  if (active.has(id)) return true;
  if (!pidAlive(pid)) return false;
  try {
    const owner = JSON.parse(fs.readFileSync(path.join(STATE_ROOT, id, 'owner.json'), 'utf8')) as OwnerInfo;
    if (owner.startTime && owner.startTime !== processStartTime(pid)) return false; // pid reused
  } catch {
    // no owner file: the pid is alive, assume it is still ours
  }
  return true;
}

/**
 * Removes namespaces, links, processes, state dirs and subnet locks of stand-in fleets whose process
 * is gone (ids nf<pid>, nf<pid>x<k>). Returns the ids it cleaned.
 */
export async function cleanupStale(): Promise<string[]> {
  const ids = new Set<string>();
  const netns = await run('ip', ['netns', 'list']);
  for (const line of netns.stdout.split('\n')) {
    const m = /^(nf\d+(?:x\d+)?)-\d+\b/.exec(line.trim());
    if (m) ids.add(m[1]);
  }
  try {
    for (const name of fs.readdirSync('/sys/class/net')) {
      const m = /^(nf\d+(?:x\d+)?)(?:v\d+|br)$/.exec(name);
      if (m) ids.add(m[1]);
    }
  } catch {
    // no sysfs
  }
  for (const dir of [STATE_ROOT]) {
    try {
      for (const name of fs.readdirSync(dir)) if (ID_RE.test(name)) ids.add(name);
    } catch {
      // none yet
    }
  }
  try {
    for (const name of fs.readdirSync(LOCK_ROOT)) {
      try {
        const owner = fs.readFileSync(path.join(LOCK_ROOT, name, 'owner'), 'utf8').trim();
        if (ID_RE.test(owner)) ids.add(owner);
        else fs.rmSync(path.join(LOCK_ROOT, name), { recursive: true, force: true });
      } catch {
        fs.rmSync(path.join(LOCK_ROOT, name), { recursive: true, force: true });
      }
    }
  } catch {
    // none yet
  }
  const stale = [...ids].filter((id) => !ownerAlive(id));
  await Promise.all(stale.map((id) => run('/bin/bash', [path.join(SCRIPT_DIR, 'cleanup.sh'), id, STATE_ROOT, LOCK_ROOT], { timeoutMs: 30000 })));
  return stale;
}

// ---------------------------------------------------------------------------------------------
// fake installer text

export type FailPoint = 'after-checks' | 'after-config' | 'before-reboot';

/**
 * Text of fake-nixos-infect.sh with its knobs set: installSeconds (progress + sleep), failExitCode
 * (fail with this code right after the checks, or at failAt).
 */
export interface FakeInfectOptions {
  installSeconds?: number;
  failExitCode?: number;
  failAt?: FailPoint;
  /** Print about this many KiB of build output. Default 0. */
  outputKb?: number;
  /** false: build the system but keep booting the old one (the next boot is Debian). Default true. */
  bootEntry?: boolean;
  /** Never finish: 'installer' hangs; 'with-background-holder' also leaves a process (own session) holding its output. */
  hang?: 'installer' | 'with-background-holder';
}

export function fakeInfectScript(opts: FakeInfectOptions = {}): string {
  let text = fs.readFileSync(path.join(SCRIPT_DIR, 'fake-nixos-infect.sh'), 'utf8');
  const secs = Math.max(0, Math.floor(opts.installSeconds ?? 0));
  text = text.replace(/^INSTALL_SECONDS=.*$/m, `INSTALL_SECONDS=${secs}`);
  text = text.replace(/^OUTPUT_KB=.*$/m, `OUTPUT_KB=${Math.max(0, Math.floor(opts.outputKb ?? 0))}`);
  text = text.replace(/^BOOT_ENTRY=.*$/m, `BOOT_ENTRY=${opts.bootEntry === false ? 0 : 1}`);
  text = text.replace(/^HANG=.*$/m, `HANG=${opts.hang === 'with-background-holder' ? 2 : opts.hang === 'installer' ? 1 : 0}`);
  const usersNix = fs.readFileSync(path.join(SCRIPT_DIR, 'nixos-module-users.nix'), 'utf8');
  text = text.replace(/^USERS_NIX=''$/m, () => `USERS_NIX='${usersNix.replace(/'/g, `'\\''`)}'`);
  const code = Math.floor(opts.failExitCode ?? 0);
  if (code !== 0) {
    if (opts.failAt && opts.failAt !== 'after-checks') {
      text = text.replace(
        new RegExp(`^: standin-fail-point ${opts.failAt}$`, 'm'),
        `echo "error: stand-in installer told to fail at ${opts.failAt}" >&2; exit ${code}`,
      );
    } else {
      text = text.replace(/^FAIL_EXIT_CODE=.*$/m, `FAIL_EXIT_CODE=${code}`);
    }
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// installer (HTTPS)

class Installer implements InstallerServer {
  port = 0;
  private readonly files = new Map<string, Buffer>();
  private readonly stalled = new Set<string>();
  private readonly log: InstallerRequest[] = [];
  private readonly server: https.Server;
  private closed?: Promise<void>;

  constructor(
    readonly address: string,
    key: string,
    cert: string,
    readonly caCertPem: string,
    readonly caCertPath: string,
  ) {
    this.server = https.createServer({ key, cert }, (req, res) => {
      const method = req.method ?? 'GET';
      const url = req.url ?? '/';
      const pathname = new URL(url, 'https://standin.invalid').pathname;
      const body = this.files.get(pathname);
      let status = 200;
      if (method !== 'GET' && method !== 'HEAD') status = 405;
      else if (!body) status = 404;
      this.log.push({ method, path: url, remoteAddress: req.socket.remoteAddress ?? '', status });
      res.setHeader('Connection', 'close');
      if (status !== 200 || !body) {
        res.writeHead(status, { 'Content-Type': 'text/plain' });
        res.end(`${status}\n`);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
      if (this.stalled.has(pathname) && method === 'GET') {
        res.write(body.subarray(0, Math.floor(body.length / 2))); // ... and the rest never comes
        return;
      }
      res.end(method === 'HEAD' ? undefined : body);
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, this.address, () => resolve());
    });
    this.server.unref();
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  get baseUrl(): string {
    return `https://${this.address}:${this.port}`;
  }

  url(p: string): string {
    return `${this.baseUrl}${p.startsWith('/') ? p : `/${p}`}`;
  }

  publish(p: string, content: string | Buffer, opts: { stall?: boolean } = {}): { url: string; sha256: string } {
    const key = p.startsWith('/') ? p : `/${p}`;
    const buf = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    this.files.set(key, buf);
    if (opts.stall) this.stalled.add(key);
    else this.stalled.delete(key);
    return { url: this.url(key), sha256: crypto.createHash('sha256').update(buf).digest('hex') };
  }

  requests(): string[] {
    return this.log.map((r) => r.path);
  }

  requestLog(): InstallerRequest[] {
    return this.log.map((r) => ({ ...r }));
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = new Promise<void>((resolve) => {
        if (!this.server.listening) return resolve();
        this.server.close(() => resolve());
        this.server.closeAllConnections();
      });
    }
    return this.closed;
  }
}

// ---------------------------------------------------------------------------------------------
// the fleet

interface HostRuntime {
  host: StandinHost;
  ctl: string;
  supervisor?: ChildProcess;
  exited?: Promise<void>;
}

function sshdSupportsPenalties(): boolean {
  // OpenSSH >= 9.8 penalises clients that disconnect before authenticating (our readiness probes).
  const r = spawnSync('ssh', ['-V'], { encoding: 'utf8', env: toolEnv() });
  const m = /OpenSSH_(\d+)\.(\d+)/.exec(`${r.stderr}${r.stdout}`);
  return !!m && (Number(m[1]) > 9 || (Number(m[1]) === 9 && Number(m[2]) >= 8));
}

function allocateId(): { id: string; dir: string } {
  for (let k = 0; k < 100; k++) {
    fs.mkdirSync(STATE_ROOT, { recursive: true, mode: 0o755 }); // (cleanup.sh removes it when empty)
    const id = k === 0 ? `nf${process.pid}` : `nf${process.pid}x${k}`;
    if (active.has(id) || fs.existsSync(`/sys/class/net/${id}br`) || fs.existsSync(`/run/netns/${id}-0`)) continue;
    const dir = path.join(STATE_ROOT, id);
    try {
      fs.mkdirSync(dir, { mode: 0o755 });
    } catch {
      continue;
    }
    return { id, dir };
  }
  throw new Error('standin: no free fleet id');
}

async function allocateSubnet(id: string): Promise<number> {
  const used = (await must('ip', ['-o', '-4', 'addr', 'show'])) + (await must('ip', ['-4', 'route', 'show', 'table', 'all']));
  const start = (process.pid % 250) + 2;
  for (let j = 0; j < 254; j++) {
    const n = 1 + ((start - 1 + j) % 254);
    if (new RegExp(`(^|[^0-9])10\\.77\\.${n}\\.`).test(used)) continue;
    const lock = path.join(LOCK_ROOT, `net-${n}`);
    try {
      fs.mkdirSync(LOCK_ROOT, { recursive: true, mode: 0o700 }); // (cleanup.sh removes it when empty)
      fs.mkdirSync(lock);
    } catch {
      continue;
    }
    fs.writeFileSync(path.join(lock, 'owner'), `${id}\n`);
    return n;
  }
  throw new Error('standin: no free 10.77.N.0/24 subnet');
}

function writeSysctl(p: string, value: string, required = true): void {
  try {
    fs.writeFileSync(p, value);
  } catch (e) {
    if (required) throw e; // (IPv6 may be compiled out or disabled: then there is nothing to switch off)
  }
}

function hostSshdConfig(address: string, penalties: boolean): string {
  return [
    '# nixos-fleet stand-in host (generated by __tests__/e2e/standin/standin.ts)',
    'Port 22',
    `ListenAddress ${address}`,
    'AddressFamily inet',
    'HostKey /etc/ssh/ssh_host_ed25519_key',
    'PidFile /run/sshd.pid',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'AuthorizedKeysFile .ssh/authorized_keys',
    'UsePAM no',
    'UseDNS no',
    'PrintMotd no',
    'AcceptEnv LANG LC_*',
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    'MaxStartups 100:30:200',
    'MaxSessions 50',
    'LoginGraceTime 30',
    'LogLevel INFO',
    ...(penalties ? ['PerSourcePenalties no'] : []),
    '',
  ].join('\n');
}

async function makeCa(dir: string, gateway: string, id: string): Promise<{ key: string; cert: string; caPem: string; caPath: string; caHash: string }> {
  fs.mkdirSync(dir, { mode: 0o700 });
  const ca = (f: string) => path.join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await Promise.all([
    must('openssl', ['req', '-x509', ...ec, '-keyout', ca('ca.key'), '-out', ca('ca.crt'), '-days', '7',
      '-subj', `/CN=nixos-fleet stand-in CA ${id}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']),
    must('openssl', ['req', '-new', ...ec, '-keyout', ca('server.key'), '-out', ca('server.csr'), '-subj', `/CN=${gateway}`]),
  ]);
  fs.writeFileSync(ca('server.ext'), [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=IP:${gateway}`,
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid,issuer',
    '',
  ].join('\n'));
  const serial = `0x${crypto.randomBytes(8).toString('hex')}`;
  const [, hash] = await Promise.all([
    must('openssl', ['x509', '-req', '-in', ca('server.csr'), '-CA', ca('ca.crt'), '-CAkey', ca('ca.key'),
      '-set_serial', serial, '-days', '7', '-extfile', ca('server.ext'), '-out', ca('server.crt')]),
    must('openssl', ['x509', '-hash', '-noout', '-in', ca('ca.crt')]),
  ]);
  return {
    key: fs.readFileSync(ca('server.key'), 'utf8'),
    cert: fs.readFileSync(ca('server.crt'), 'utf8'),
    caPem: fs.readFileSync(ca('ca.crt'), 'utf8'),
    caPath: ca('ca.crt'),
    caHash: hash.trim(),
  };
}

function powerTargets(): string[] {
  const targets = new Set<string>();
  for (const p of POWER_COMMANDS) {
    try {
      targets.add(fs.realpathSync(p));
    } catch {
      // not installed
    }
  }
  return [...targets];
}

class Fleet implements StandinFleet {
  hosts: StandinHost[] = [];
  clientKeyPath: string;
  clientPublicKey = '';
  knownHostsPath: string;
  installer!: InstallerServer;
  subnet = '';
  gateway = '';
  bridge: string;
  startedInMs = 0;
  readonly runtimes: HostRuntime[] = [];
  reaper?: ChildProcess;
  private stopping?: Promise<void>;
  private installerImpl?: Installer;

  constructor(
    readonly id: string,
    readonly stateDir: string,
  ) {
    this.bridge = `${id}br`;
    this.clientKeyPath = path.join(stateDir, 'client', 'id_ed25519');
    this.knownHostsPath = path.join(stateDir, 'client', 'known_hosts');
  }

  private rt(host: StandinHost): HostRuntime {
    const r = this.runtimes[host.index];
    if (!r || r.host.netns !== host.netns) throw new Error(`standin: ${host.name} is not a host of fleet ${this.id}`);
    return r;
  }

  private readCtl(host: StandinHost, file: string): string | undefined {
    try {
      return fs.readFileSync(path.join(this.rt(host).ctl, file), 'utf8').trim();
    } catch {
      return undefined;
    }
  }

  state(host: StandinHost): string {
    return this.readCtl(host, 'state') ?? 'stopped';
  }

  rebootCount(host: StandinHost): number {
    return Number(this.readCtl(host, 'reboot-count') ?? '0');
  }

  requestReboot(host: StandinHost): void {
    const ctl = this.rt(host).ctl;
    fs.appendFileSync(path.join(ctl, 'reboot-requests.log'), `${new Date().toISOString()} standin.ts requestReboot\n`);
    fs.writeFileSync(path.join(ctl, 'reboot-request'), '');
    poke(path.join(ctl, 'fifo'));
  }

  async exec(host: StandinHost, cmd: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const r = this.rt(host);
    const initPid = Number(this.readCtl(host, 'init.pid') ?? '0');
    const supPid = r.supervisor?.pid ?? 0;
    let target: string[];
    if (this.state(host) === 'up' && initPid > 0 && pidAlive(initPid)) {
      target = ['-t', String(initPid), '-m', '-u', '-n', '-p'];
    } else if (supPid > 0 && pidAlive(supPid)) {
      target = ['-t', String(supPid), '-m', '-u', '-n']; // host is down (rebooting): its files only
    } else {
      return { code: 255, stdout: '', stderr: `standin: host ${host.name} is not running` };
    }
    return run('nsenter', [...target, '--', '/bin/bash', '-c', `cd /root 2>/dev/null\n${cmd}`], {
      ...opts,
      env: { PATH: SAFE_PATH, HOME: '/root', USER: 'root', LOGNAME: 'root', SHELL: '/bin/bash', LANG: 'C.UTF-8', TERM: 'dumb' },
    });
  }

  sshArgs(host: StandinHost, user = 'root'): string[] {
    return [
      '-F', '/dev/null',
      '-i', this.clientKeyPath,
      '-o', 'IdentitiesOnly=yes',
      '-o', 'IdentityAgent=none',
      '-o', `UserKnownHostsFile=${this.knownHostsPath}`,
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'BatchMode=yes',
      '-o', 'ConnectTimeout=5',
      '-o', 'ServerAliveInterval=2',
      '-o', 'ServerAliveCountMax=3',
      '-o', 'LogLevel=ERROR',
      // the default post-quantum kex (sntrup761) costs the client ~0.3 s of CPU on a busy machine
      '-o', 'KexAlgorithms=curve25519-sha256,curve25519-sha256@libssh.org',
      '-p', String(host.port),
      `${user}@${host.address}`,
    ];
  }

  ssh(host: StandinHost, cmd: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return run('ssh', [...this.sshArgs(host, opts.user), cmd], opts);
  }

  async addUser(host: StandinHost, name: string, opts: { sudo?: 'nopasswd' | 'none' } = {}): Promise<void> {
    if (!/^[a-z_][a-z0-9_-]*$/.test(name)) throw new Error(`standin: bad user name ${name}`);
    // "*": no password but not locked (sshd without PAM refuses a locked "!" account)
    const script = [
      'set -e',
      `useradd -m -s /bin/bash ${name}`,
      `usermod -p '*' ${name}`,
      `install -d -m 0700 -o ${name} -g ${name} /home/${name}/.ssh`,
      `cat >/home/${name}/.ssh/authorized_keys`,
      `chown ${name}:${name} /home/${name}/.ssh/authorized_keys && chmod 0600 /home/${name}/.ssh/authorized_keys`,
      ...(opts.sudo === 'nopasswd' ? [`echo '${name} ALL=(ALL:ALL) NOPASSWD: ALL' >/etc/sudoers.d/${name}`, `chmod 0440 /etc/sudoers.d/${name}`] : []),
    ].join('\n');
    const r = await this.exec(host, script, { input: `${this.clientPublicKey}\n` });
    if (r.code !== 0) throw new Error(`standin: adding user ${name} on ${host.name} failed: ${r.stderr}`);
  }

  bootMode(host: StandinHost): 'debian' | 'nixos' | 'down' {
    if (this.state(host) !== 'up') return 'down';
    return this.readCtl(host, 'boot-mode') === 'nixos' ? 'nixos' : 'debian';
  }

  async throttle(host: StandinHost, opts: { rateKbit: number }): Promise<void> {
    // tbf on both ends (eth0 in the host, the root side veth): uploads and downloads are slow alike.
    // (No netem delay: containers often lack the sch_netem module.)
    const rate = Math.max(8, Math.floor(opts.rateKbit));
    const tbf = (dev: string) => ['qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${rate}kbit`, 'burst', '16kbit', 'latency', '1s'];
    await must('ip', ['netns', 'exec', host.netns, 'tc', ...tbf('eth0')]);
    await must('tc', tbf(`${this.id}v${host.index}`));
  }

  async unthrottle(host: StandinHost): Promise<void> {
    await run('ip', ['netns', 'exec', host.netns, 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root']);
    await run('tc', ['qdisc', 'del', 'dev', `${this.id}v${host.index}`, 'root']);
  }

  isSshUp(host: StandinHost): Promise<boolean> {
    return sshBanner(host.address, host.port, 1000);
  }

  async waitForSsh(host: StandinHost, timeoutMs = 20000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const st = this.state(host);
      if (st.startsWith('failed') || st === 'stopped') {
        throw new Error(`standin: ${host.name} is ${st}\n${this.supervisorLogTail(host)}`);
      }
      // Probe only once the host's network is configured: a SYN to an address nobody answers ARP
      // for hangs until the probe's timeout, instead of being refused at once.
      if (st === 'up' && (await sshBanner(host.address, host.port, 1000))) return;
      await sleep(st === 'up' ? 20 : 10);
    }
    throw new Error(`standin: sshd of ${host.name} (${host.address}) did not answer within ${timeoutMs} ms (state ${this.state(host)})\n${this.supervisorLogTail(host)}`);
  }

  async waitForSshDown(host: StandinHost, timeoutMs = 20000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (!(await sshBanner(host.address, host.port, 500))) return;
      await sleep(25);
    }
    throw new Error(`standin: sshd of ${host.name} still answers after ${timeoutMs} ms`);
  }

  supervisorLogTail(host: StandinHost): string {
    const read = (f: string) => {
      try {
        return fs.readFileSync(f, 'utf8').split('\n').slice(-20).join('\n');
      } catch {
        return '';
      }
    };
    return `--- supervisor.log ---\n${read(path.join(host.stateDir, 'supervisor.log'))}\n--- sshd.log ---\n${read(host.sshdLogPath)}`;
  }

  stop(): Promise<void> {
    if (!this.stopping) this.stopping = this.doStop();
    return this.stopping;
  }

  /** Synchronous last resort for the exit hook: SIGKILL the supervisors (cleanup.sh does the rest). */
  killNow(): void {
    for (const r of this.runtimes) {
      try {
        if (r.supervisor?.pid) process.kill(r.supervisor.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }

  private async doStop(): Promise<void> {
    const t0 = Date.now();
    const mark = (what: string) => {
      if (process.env.STANDIN_DEBUG) console.log(`[standin] ${this.id} stop +${Date.now() - t0} ms ${what}`);
    };
    // 1. power off: supervisors kill their boot and exit
    for (const r of this.runtimes) {
      try {
        fs.writeFileSync(path.join(r.ctl, 'stop'), '');
      } catch {
        // state dir gone
      }
      poke(path.join(r.ctl, 'fifo'));
    }
    await Promise.race([Promise.all(this.runtimes.map((r) => r.exited ?? Promise.resolve())), sleep(3000)]);
    mark('supervisors exited');
    // 2. installer
    if (this.installerImpl) await this.installerImpl.close();
    // 3. the reaper is not needed any more (kill its process group: bash + tail)
    if (this.reaper?.pid) {
      try {
        process.kill(-this.reaper.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    // 4. everything else (leftover processes, veths, namespaces, bridge, lock, state dir)
    const r = await run('/bin/bash', [path.join(SCRIPT_DIR, 'cleanup.sh'), this.id, STATE_ROOT, LOCK_ROOT], { timeoutMs: 30000 });
    mark('cleanup.sh done');
    active.delete(this.id);
    if (r.code !== 0) throw new Error(`standin: cleanup of ${this.id} failed: ${r.stderr}`);
  }

  async start(opts: StandinOptions, subnetN: number): Promise<void> {
    const t0 = Date.now();
    const mark = (what: string) => {
      if (process.env.STANDIN_DEBUG) console.log(`[standin] ${this.id} +${Date.now() - t0} ms ${what}`);
    };
    const count = opts.count;
    const delayMs = Math.round((opts.rebootDelaySeconds ?? 2) * 1000);
    const id = this.id;
    this.subnet = `10.77.${subnetN}.0/24`;
    this.gateway = `10.77.${subnetN}.1`;
    fs.writeFileSync(path.join(this.stateDir, 'owner.json'), JSON.stringify({
      pid: process.pid, startTime: processStartTime(process.pid), subnet: this.subnet, created: new Date().toISOString(),
    }));

    // scripts are copied: bash reads scripts while running them, edits to the repo must not matter
    const bin = path.join(this.stateDir, 'bin');
    fs.mkdirSync(bin);
    for (const f of ['supervisor.sh', 'cleanup.sh']) fs.copyFileSync(path.join(SCRIPT_DIR, f), path.join(bin, f));

    // reaper first, so that even a half-started fleet is cleaned up if this process dies
    const reaperLog = fs.openSync(path.join(this.stateDir, 'reaper.log'), 'a');
    this.reaper = spawn('/bin/bash', [path.join(bin, 'cleanup.sh'), '--when-dead', String(process.pid), id, STATE_ROOT, LOCK_ROOT], {
      detached: true, stdio: ['ignore', reaperLog, reaperLog], env: toolEnv(),
    });
    fs.closeSync(reaperLog);
    this.reaper.unref();

    // keys and certificates, in parallel
    const clientDir = path.join(this.stateDir, 'client');
    fs.mkdirSync(clientDir, { mode: 0o700 });
    const names = opts.names ?? Array.from({ length: count }, (_, i) => `standin-${i}`);
    for (let i = 0; i < count; i++) {
      const hostDir = path.join(this.stateDir, 'hosts', String(i));
      const etcUpper = path.join(hostDir, 'etc-upper');
      const logDir = path.join(hostDir, 'var-log');
      for (const d of [etcUpper, path.join(etcUpper, 'ssh'), path.join(etcUpper, 'ssl', 'certs'), path.join(hostDir, 'etc-work'),
        path.join(hostDir, 'root', '.ssh'), logDir, path.join(hostDir, 'tmp'), path.join(hostDir, 'ctl'),
        path.join(hostDir, 'home'), path.join(hostDir, 'boot')]) {
        fs.mkdirSync(d, { recursive: true });
      }
      const host: StandinHost = {
        index: i,
        name: names[i],
        address: `10.77.${subnetN}.${10 + i}`,
        port: 22,
        netns: `${id}-${i}`,
        etcUpper,
        logDir,
        sshdLogPath: path.join(logDir, 'sshd.log'),
        hostPublicKey: '',
        stateDir: hostDir,
        homeDir: path.join(hostDir, 'home'),
        bootDir: path.join(hostDir, 'boot'),
        oldRootDir: path.join(hostDir, 'old-root'),
      };
      this.hosts.push(host);
      this.runtimes.push({ host, ctl: path.join(hostDir, 'ctl') });
    }
    const keygen = Promise.all([
      must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `standin-client@${id}`, '-f', this.clientKeyPath]),
      ...this.hosts.map((h) =>
        must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${h.name}`, '-f', path.join(h.etcUpper, 'ssh', 'ssh_host_ed25519_key')]),
      ),
    ]);
    const [ca] = await Promise.all([makeCa(path.join(this.stateDir, 'ca'), this.gateway, id), keygen]);
    mark('keys+ca');
    this.clientPublicKey = fs.readFileSync(`${this.clientKeyPath}.pub`, 'utf8').trim();
    for (const h of this.hosts) {
      const [type, key] = fs.readFileSync(path.join(h.etcUpper, 'ssh', 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(/\s+/);
      h.hostPublicKey = `${type} ${key}`;
    }
    fs.writeFileSync(this.knownHostsPath, this.hosts.map((h) => `${h.address} ${h.hostPublicKey}\n`).join(''), { mode: 0o600 });

    // network: bridge (forwarding and IPv6 off before it goes up), namespaces, veths
    const sys = (dev: string) => ({
      fwd: `/proc/sys/net/ipv4/conf/${dev}/forwarding`,
      v6: `/proc/sys/net/ipv6/conf/${dev}/disable_ipv6`,
    });
    await must('ip', ['link', 'add', 'name', this.bridge, 'type', 'bridge', 'forward_delay', '0']);
    writeSysctl(sys(this.bridge).fwd, '0');
    writeSysctl(sys(this.bridge).v6, '1', false);
    const batch1: string[] = [`addr add ${this.gateway}/24 dev ${this.bridge}`, `link set ${this.bridge} up`];
    for (const h of this.hosts) {
      batch1.push(`netns add ${h.netns}`, `link add ${id}v${h.index} type veth peer name eth0 netns ${h.netns}`);
    }
    await must('ip', ['-batch', '-'], { input: `${batch1.join('\n')}\n` });
    for (const h of this.hosts) {
      writeSysctl(sys(`${id}v${h.index}`).fwd, '0');
      writeSysctl(sys(`${id}v${h.index}`).v6, '1', false);
    }
    await must('ip', ['-batch', '-'], { input: this.hosts.map((h) => `link set ${id}v${h.index} master ${this.bridge} up\n`).join('') });

    mark('network');
    // installer on the bridge address
    const installer = new Installer(this.gateway, ca.key, ca.cert, ca.caPem, ca.caPath);
    await installer.listen();
    this.installerImpl = installer;
    this.installer = installer;

    // per-host files
    const penalties = sshdSupportsPenalties();
    const caBundle = fs.readFileSync('/etc/ssl/certs/ca-certificates.crt', 'utf8');
    const realHosts = fs.readFileSync('/etc/hosts', 'utf8');
    const targets = powerTargets();
    const powerTemplate = fs.readFileSync(path.join(SCRIPT_DIR, 'power.sh'), 'utf8');
    for (const r of this.runtimes) {
      const h = r.host;
      const e = (p: string) => path.join(h.etcUpper, p);
      fs.writeFileSync(e('ssh/sshd_config'), hostSshdConfig(h.address, penalties));
      fs.writeFileSync(e('hostname'), `${h.name}\n`);
      fs.writeFileSync(e('hosts'), `${realHosts.replace(/\n*$/, '\n')}127.0.1.1\t${h.name}\n`);
      fs.writeFileSync(e('resolv.conf'), '# nixos-fleet stand-in host: no DNS (nothing may leave the test network)\nnameserver 127.0.0.1\n');
      fs.writeFileSync(e('ssl/certs/ca-certificates.crt'), `${caBundle.replace(/\n*$/, '\n')}${ca.caPem}`);
      fs.writeFileSync(e(`ssl/certs/${ca.caHash}.0`), ca.caPem);
      fs.chmodSync(path.join(h.stateDir, 'root'), 0o700);
      fs.chmodSync(path.join(h.stateDir, 'root', '.ssh'), 0o700);
      fs.writeFileSync(path.join(h.stateDir, 'root', '.ssh', 'authorized_keys'), `${this.clientPublicKey}\n`, { mode: 0o600 });
      fs.chmodSync(path.join(h.stateDir, 'tmp'), 0o1777);
      // what a Debian /var/log has; without lastlog, sshd prints "lastlog_openseek: Couldn't stat"
      // into every session with a pty (Terraform's remote-exec asks for one)
      for (const f of ['lastlog', 'wtmp', 'btmp']) fs.writeFileSync(path.join(h.logDir, f), '', { mode: f === 'btmp' ? 0o600 : 0o664 });
      fs.writeFileSync(path.join(h.stateDir, 'power.sh'), powerTemplate.replace("STANDIN_CTL='@STANDIN_CTL@'", `STANDIN_CTL='${r.ctl}'`), { mode: 0o755 });
      if (opts.rebootCommandReturns) fs.writeFileSync(path.join(r.ctl, 'reboot-returns'), '');
      fs.writeFileSync(path.join(r.ctl, 'state'), 'starting\n');
    }

    mark('files');
    // supervisors
    for (const r of this.runtimes) {
      const h = r.host;
      const log = fs.openSync(path.join(h.stateDir, 'supervisor.log'), 'a');
      const child = spawn('ip', ['netns', 'exec', h.netns, 'unshare', '--mount', '--uts', '--propagation', 'private', '--',
        '/bin/bash', path.join(bin, 'supervisor.sh'), 'supervise'], {
        detached: true,
        stdio: ['ignore', log, log],
        env: toolEnv({
          SH_HOSTNAME: h.name,
          SH_ADDRESS: h.address,
          SH_PREFIXLEN: '24',
          SH_GATEWAY: this.gateway,
          SH_CTL: r.ctl,
          SH_ETC_UPPER: h.etcUpper,
          SH_ETC_WORK: path.join(h.stateDir, 'etc-work'),
          SH_ROOT_DIR: path.join(h.stateDir, 'root'),
          SH_LOG_DIR: h.logDir,
          SH_TMP_DIR: path.join(h.stateDir, 'tmp'),
          SH_HOME_DIR: h.homeDir,
          SH_BOOT_DIR: h.bootDir,
          SH_OLD_ROOT: h.oldRootDir,
          SH_POWER_SCRIPT: path.join(h.stateDir, 'power.sh'),
          SH_POWER_TARGETS: targets.join(':'),
          SH_REBOOT_DELAY_MS: String(delayMs),
          SH_PARENT_PID: String(process.pid),
        }),
      });
      fs.closeSync(log);
      child.unref();
      r.supervisor = child;
      r.exited = new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.once('error', () => resolve());
      });
    }

    mark('spawned');
    const timeout = opts.startTimeoutMs ?? 20000;
    await Promise.all(this.hosts.map((h) => this.waitForSsh(h, timeout)));
    this.startedInMs = Date.now() - t0;
  }
}

/** Starts `opts.count` stand-in hosts (in parallel) and waits until every sshd answers. */
export async function startStandinFleet(opts: StandinOptions): Promise<StandinFleet> {
  if (!Number.isInteger(opts.count) || opts.count < 1 || opts.count > 240) {
    throw new Error(`standin: count must be an integer 1..240, got ${opts.count}`);
  }
  if (opts.names && (opts.names.length !== opts.count || opts.names.some((n) => !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(n)))) {
    throw new Error('standin: names must be `count` valid hostnames');
  }
  const pre = prerequisites();
  if (!pre.ok) throw new Error(`standin: missing prerequisites: ${pre.missing.join(', ')}`);
  await cleanupStale();
  const { id, dir } = allocateId();
  const fleet = new Fleet(id, dir);
  active.set(id, () => fleet.killNow());
  installExitHook();
  try {
    const n = await allocateSubnet(id);
    await fleet.start(opts, n);
  } catch (e) {
    await fleet.stop().catch(() => undefined);
    throw e;
  }
  return fleet;
}
