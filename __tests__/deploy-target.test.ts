/**
 * The target a hive node names, used the way Colmena uses it: an IPv6
 * targetHost and a non-root targetUser, taken from a rendered hive evaluated
 * by Nix, against a stand-in host (a network namespace with an IPv6 address,
 * a real sshd, and a real nix-daemon with its own store playing the host's
 * Nix). Colmena runs `ssh USER@HOST` and `nix-copy-closure --to USER@HOST`
 * with NIX_SSHOPTS; both are run here for real, on a closure that is not
 * content-addressed (so the host's Nix wants a signature, or a trusted user).
 *
 * The stand-in's extra user exists only inside a private mount namespace
 * (bind-mounted copies of /etc/passwd, /etc/group, /etc/shadow) that sshd and
 * the daemon run in; nothing on the machine is changed.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { renderHive } from '../constructs/colmena-hive';
import { FleetDeclaration } from '../constructs/fleet-declaration';
import { KEY_A } from './support/fleet';
import { HIVE_PRELUDE, makeHiveProject, provisioned } from './support/hive-project';
import { NETNS, NIX_STORE_WRITABLE, Requirement, describeWith, nixEval, run, runOk, tempDir } from './support/nix-tools';

const SSHD = '/usr/sbin/sshd';
const SSHD_PRESENT: Requirement = () => (fs.existsSync(SSHD) ? undefined : 'sshd not found (apt-get install openssh-server)');
const UNSHARE: Requirement = () => (run('unshare', ['--version']).status === 0 ? undefined : 'unshare (util-linux) not found');

const suffix = (process.pid % 0xfff0).toString(16);
const NETNS_NAME = `fleet6-${process.pid}`;
const HOST_IF = `f6h${process.pid}`.slice(0, 15);
const ADDRESS = `fd77:${suffix}::10`;
const ROUTER = `fd77:${suffix}::1`;
const USER = 'fleetdeploy';

function freeUid(): number {
  const taken = new Set(fs.readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => Number(l.split(':')[2])));
  let uid = 4242;
  while (taken.has(uid)) uid += 1;
  return uid;
}

describeWith([NIX_STORE_WRITABLE, NETNS, SSHD_PRESENT, UNSHARE], 'an IPv6 targetHost and a non-root targetUser, as Colmena uses them', () => {
  let dir: string;
  let host: ChildProcess | undefined;
  let target: { targetHost: string; targetUser: string; targetPort: number };
  let trustedUsers: string[];
  const built: string[] = [];
  let sshOpts: string[];

  /** The deployment of the hive's node and what its admin user module says about Nix trust. */
  function fromHive(): void {
    const fleet: FleetDeclaration = {
      name: 'v6', adminSshKeys: [KEY_A], adminCidrs: ['::/0'],
      hosts: [{ name: 'box-6', cloud: 'existing', address: ADDRESS, user: USER }],
    };
    const hive = renderHive({ fleet, hosts: [provisioned({ name: 'box-6', cloud: 'existing', location: 'existing', sshAddress: ADDRESS, sshUser: USER })] });
    const project = makeHiveProject(hive, { factsFor: ['box-6'], files: { 'hosts/box-6.nix': '{ ... }: { }\n' } });
    try {
      const r = nixEval<{ deployment: typeof target; trusted: string[] }>(`let ${HIVE_PRELUDE} n = node "box-6"; in {
        deployment = { inherit (n.deployment) targetHost targetUser targetPort; };
        trusted = ((builtins.elemAt n.imports 3) { }).nix.settings.trusted-users;
      }`, project);
      target = r.deployment;
      trustedUsers = r.trusted;
    } finally {
      fs.rmSync(project, { recursive: true, force: true });
    }
  }

  /** (Re)starts the stand-in host: sshd in the namespace, and a nix-daemon trusting `trusted`. */
  async function startHost(trusted: string[]): Promise<void> {
    await stopHost();
    fs.writeFileSync(path.join(dir, 'daemon', 'nix.conf'),
      `build-users-group =\nstore = local?root=${path.join(dir, 'remote')}\ntrusted-users = ${['root', ...trusted].join(' ')}\n`);
    const script = [
      ...['passwd', 'group', 'shadow'].map((f) => `mount --bind ${path.join(dir, 'etc', f)} /etc/${f}`),
      `NIX_CONF_DIR=${path.join(dir, 'daemon')} NIX_DAEMON_SOCKET_PATH=${path.join(dir, 'daemon', 'socket')} nix-daemon > ${path.join(dir, 'daemon.log')} 2>&1 &`,
      `exec ip netns exec ${NETNS_NAME} ${SSHD} -D -e -f ${path.join(dir, 'sshd_config')}`,
    ].join('\n');
    host = spawn('unshare', ['-m', '--propagation', 'private', 'bash', '-c', script], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    const started = host;
    await new Promise<void>((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => reject(new Error(`sshd did not start:\n${log}`)), 10000);
      started.stderr!.on('data', (b: Buffer) => {
        log += b.toString();
        if (log.includes(`Server listening on ${ADDRESS} port 22`)) {
          clearTimeout(timer);
          resolve();
        }
      });
      started.on('exit', (code) => reject(new Error(`stand-in host exited (${code}):\n${log}`)));
    });
    // The daemon's socket appears a moment after it starts.
    for (let i = 0; i < 50 && !fs.existsSync(path.join(dir, 'daemon', 'socket')); i++) await new Promise((r) => setTimeout(r, 100));
  }

  async function stopHost(): Promise<void> {
    if (host?.pid === undefined || host.exitCode !== null) return;
    const stopped = new Promise((r) => host!.once('exit', r));
    process.kill(-host.pid, 'SIGTERM');
    await stopped;
    // The daemon was in the same process group; wait for its socket to be gone.
    fs.rmSync(path.join(dir, 'daemon', 'socket'), { force: true });
  }

  /** Closures that are not content-addressed, in this machine's store (the "workstation"): one per test that copies. */
  let closures: string[] = [];
  function buildClosures(count: number): void {
    const names = Array.from({ length: count }, (_, i) => `fleet-closure-${process.pid}-${i}-${Date.now()}`);
    const drvs = names.map((name) =>
      `(derivation { name = "${name}"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo ${name} > $out" ]; })`);
    closures = runOk('nix-build', ['--no-out-link', '--option', 'build-users-group', '', '--option', 'sandbox', 'false', '-E',
      `[ ${drvs.join(' ')} ]`]).trim().split('\n');
    for (const out of closures) built.push(out, ...runOk('nix-store', ['-q', '--deriver', out]).trim().split('\n'));
  }
  const buildClosure = (): string => closures.shift()!;

  /** What Colmena runs: `nix-copy-closure --to USER@HOST PATH`, NIX_SSHOPTS = its ssh options. */
  const copyClosure = (destination: string, storePath: string) => run('nix-copy-closure', ['--to', destination, storePath], {
    env: { ...process.env, NIX_SSHOPTS: sshOpts.join(' ') },
  });
  const onHost = (storePath: string) => fs.existsSync(path.join(dir, 'remote', storePath));

  beforeAll(async () => {
    fromHive();
    dir = tempDir('deploy-target-');
    fs.chmodSync(dir, 0o755);
    for (const d of ['keys', 'etc', 'home', 'remote', 'daemon']) fs.mkdirSync(path.join(dir, d));
    runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'stand-in', '-f', path.join(dir, 'keys', 'host')]);
    runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'admin', '-f', path.join(dir, 'keys', 'client')]);
    fs.copyFileSync(path.join(dir, 'keys', 'client.pub'), path.join(dir, 'keys', 'authorized_keys'));
    const uid = freeUid();
    fs.writeFileSync(path.join(dir, 'etc', 'passwd'), `${fs.readFileSync('/etc/passwd', 'utf8')}${USER}:x:${uid}:${uid}::${path.join(dir, 'home')}:/bin/bash\n`);
    fs.writeFileSync(path.join(dir, 'etc', 'group'), `${fs.readFileSync('/etc/group', 'utf8')}${USER}:x:${uid}:\n`);
    fs.writeFileSync(path.join(dir, 'etc', 'shadow'), `${fs.readFileSync('/etc/shadow', 'utf8')}${USER}:*:19000:0:99999:7:::\n`, { mode: 0o640 });
    fs.chownSync(path.join(dir, 'home'), uid, uid);
    fs.writeFileSync(path.join(dir, 'sshd_config'), [
      `ListenAddress [${ADDRESS}]:22`,
      `HostKey ${path.join(dir, 'keys', 'host')}`,
      `AuthorizedKeysFile ${path.join(dir, 'keys', 'authorized_keys')}`,
      'PidFile none', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no',
      'PermitRootLogin prohibit-password',
      // The host's Nix is the stand-in daemon (a NixOS host's is its nix-daemon).
      `SetEnv NIX_REMOTE=daemon NIX_DAEMON_SOCKET_PATH=${path.join(dir, 'daemon', 'socket')}`,
    ].join('\n') + '\n');
    fs.writeFileSync(path.join(dir, 'known_hosts'), `${ADDRESS} ${fs.readFileSync(path.join(dir, 'keys', 'host.pub'), 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    // Colmena's own ssh options (0.4 and 0.5), then the port, plus this test's key and known_hosts.
    sshOpts = ['-o', 'StrictHostKeyChecking=accept-new', '-o', 'BatchMode=yes', '-T', '-p', String(target.targetPort),
      '-i', path.join(dir, 'keys', 'client'), '-o', `UserKnownHostsFile=${path.join(dir, 'known_hosts')}`];

    runOk('ip', ['netns', 'add', NETNS_NAME]);
    runOk('ip', ['link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NETNS_NAME]);
    for (const [ns, dev] of [[undefined, HOST_IF], [NETNS_NAME, 'eth0']] as const) {
      const sysctl = ['-w', `net.ipv6.conf.${dev}.disable_ipv6=0`];
      run(ns ? 'ip' : 'sysctl', ns ? ['netns', 'exec', ns, 'sysctl', ...sysctl] : sysctl);
    }
    runOk('ip', ['addr', 'add', `${ROUTER}/64`, 'dev', HOST_IF, 'nodad']);
    runOk('ip', ['link', 'set', HOST_IF, 'up']);
    runOk('ip', ['-n', NETNS_NAME, 'addr', 'add', `${ADDRESS}/64`, 'dev', 'eth0', 'nodad']);
    runOk('ip', ['-n', NETNS_NAME, 'link', 'set', 'eth0', 'up']);
    runOk('ip', ['-n', NETNS_NAME, 'link', 'set', 'lo', 'up']);
    fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation directory
    buildClosures(3);
  }, 60000);

  afterAll(async () => {
    await stopHost();
    run('ip', ['netns', 'del', NETNS_NAME]);
    for (const p of built) run('nix-store', ['--delete', p]); // outputs first: they keep their .drv alive
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the hive names the host bare and the user as declared; the admin user module trusts that user', () => {
    expect(target).toEqual({ targetHost: ADDRESS, targetUser: USER, targetPort: 22 });
    expect(trustedUsers).toEqual([USER]);
  });

  test('ssh takes the bare IPv6 address and refuses the bracketed form', async () => {
    await startHost([]);
    const ok = run('ssh', [`${target.targetUser}@${target.targetHost}`, ...sshOpts, '--', 'id', '-un']);
    expect(ok.stderr).not.toMatch(/error|refused|denied/i);
    expect(ok.stdout.trim()).toBe(USER);
    const bracketed = run('ssh', [`${target.targetUser}@[${target.targetHost}]`, ...sshOpts, '--', 'true']);
    expect(bracketed.status).not.toBe(0);
    expect(bracketed.stderr).toContain(`Could not resolve hostname [${ADDRESS}]`);
  });

  test('a user the host\'s Nix does not trust cannot copy an unsigned closure', async () => {
    await startHost([]);
    const closure = buildClosure();
    const r = copyClosure(`${target.targetUser}@${target.targetHost}`, closure);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`cannot add path '${closure}' because it lacks a valid signature`);
    expect(onHost(closure)).toBe(false);
  });

  test('trusted as the hive\'s admin user module makes it (nix.settings.trusted-users): the closure arrives', async () => {
    await startHost(trustedUsers);
    const closure = buildClosure();
    const r = copyClosure(`${target.targetUser}@${target.targetHost}`, closure);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.status).toBe(0);
    expect(onHost(closure)).toBe(true);
  });

  test("Nix's SSH store takes the address bare (what Colmena passes) and in brackets (store URIs, builders)", async () => {
    await startHost(trustedUsers);
    const closure = buildClosure();
    const r = copyClosure(`root@[${target.targetHost}]`, closure);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`to 'ssh://root@${ADDRESS}'`);
    expect(onHost(closure)).toBe(true);
    const ping = run('nix', ['--extra-experimental-features', 'nix-command', 'store', 'ping', '--store', `ssh-ng://root@[${ADDRESS}]`], {
      env: { ...process.env, NIX_SSHOPTS: sshOpts.join(' ') },
    });
    expect(ping.stdout + ping.stderr).toContain(`Store URL: ssh-ng://root@${ADDRESS}`);
    expect(ping.status).toBe(0);
  });
});
