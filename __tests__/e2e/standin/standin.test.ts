/**
 * Tests of the stand-in host harness itself (standin.ts), not of the template: real sshd, real ssh
 * client, real HTTPS with certificate verification, emulated reboots. Needs root (see prerequisites()).
 * Without root/tools the suite is skipped with a visible reason, except on CI (CI=true), where a
 * missing prerequisite is a failure.
 */
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { cleanupStale, fakeInfectScript, prerequisites, StandinFleet, StandinHost, startStandinFleet } from './standin';

jest.setTimeout(60000);

const pre = prerequisites();
const onCi = process.env.CI === 'true';
if (!pre.ok) {
  const reason = `stand-in harness tests need: ${pre.missing.join(', ')}`;
  if (onCi) {
    describe('stand-in prerequisites', () => {
      test('are all present on CI', () => {
        throw new Error(`${reason} (CI=true: a missing prerequisite fails, it is never skipped)`);
      });
    });
  } else {
    // eslint-disable-next-line no-console
    console.warn(`SKIPPED: ${reason}`);
  }
}
const suite = pre.ok ? describe : describe.skip;

function sh(cmd: string): string {
  return execFileSync('/bin/bash', ['-c', cmd], { encoding: 'utf8' });
}

/** Everything a fleet could leave behind in the root namespace. */
function leftovers(fleet: Pick<StandinFleet, 'id' | 'stateDir'>): string[] {
  const found: string[] = [];
  const netns = sh('ip netns list');
  for (const l of netns.split('\n')) if (l.startsWith(`${fleet.id}-`)) found.push(`netns ${l}`);
  for (const l of fs.readdirSync('/sys/class/net')) if (new RegExp(`^${fleet.id}(v\\d+|br)$`).test(l)) found.push(`link ${l}`);
  const ps = sh('ps -eo pid=,args=');
  for (const l of ps.split('\n')) if (l.includes(fleet.stateDir)) found.push(`process ${l.trim()}`);
  if (fs.existsSync(fleet.stateDir)) found.push(`dir ${fleet.stateDir}`);
  if (fs.existsSync('/run/nixos-fleet-standin')) {
    for (const l of fs.readdirSync('/run/nixos-fleet-standin')) {
      const owner = fs.readFileSync(`/run/nixos-fleet-standin/${l}/owner`, 'utf8').trim();
      if (owner === fleet.id) found.push(`subnet lock ${l}`);
    }
  }
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  for (const l of mounts.split('\n')) if (l.includes(fleet.stateDir)) found.push(`mount ${l}`);
  return found;
}

function tcpConnect(address: string, port: number): Promise<'open' | string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port });
    const t = setTimeout(() => {
      s.destroy();
      resolve('timeout');
    }, 2000);
    s.on('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve('open');
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      resolve(e.code ?? String(e));
    });
  });
}

suite('stand-in hosts (2 hosts)', () => {
  let fleet: StandinFleet;
  let h0: StandinHost;
  let h1: StandinHost;

  beforeAll(async () => {
    fleet = await startStandinFleet({ count: 2, rebootDelaySeconds: 1.5 });
    [h0, h1] = fleet.hosts;
    // eslint-disable-next-line no-console
    console.log(`stand-in fleet ${fleet.id} (${fleet.subnet}) started in ${fleet.startedInMs} ms`);
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  test('hosts are laid out as documented', () => {
    expect(fleet.hosts.map((h) => h.name)).toEqual(['standin-0', 'standin-1']);
    expect(fleet.subnet).toMatch(/^10\.77\.\d+\.0\/24$/);
    const n = fleet.subnet.split('.')[2];
    expect(fleet.gateway).toBe(`10.77.${n}.1`);
    expect(fleet.hosts.map((h) => h.address)).toEqual([`10.77.${n}.10`, `10.77.${n}.11`]);
    expect(h0.netns).toBe(`nf${process.pid}-0`);
    expect(fs.statSync(fleet.clientKeyPath).mode & 0o777).toBe(0o600);
    expect(fleet.clientPublicKey).toMatch(/^ssh-ed25519 /);
    expect(fs.readFileSync(fleet.knownHostsPath, 'utf8')).toBe(fleet.hosts.map((h) => `${h.address} ${h.hostPublicKey}\n`).join(''));
    // forwarding off on the bridge: nothing a host sends can leave through the root namespace
    expect(fs.readFileSync(`/proc/sys/net/ipv4/conf/${fleet.bridge}/forwarding`, 'utf8').trim()).toBe('0');
    expect(sh('ip netns list')).toContain(h1.netns);
  });

  test('ssh into every host with the client key and strict known_hosts', async () => {
    const results = await Promise.all(fleet.hosts.map((h) => fleet.ssh(h, 'id -u; hostname')));
    results.forEach((r, i) => {
      expect(r).toMatchObject({ code: 0, stdout: `0\n${fleet.hosts[i].name}\n` });
    });
    // and the host key really is checked: an empty known_hosts makes the same login fail
    const empty = path.join(fleet.stateDir, 'client', 'empty_known_hosts');
    fs.writeFileSync(empty, '');
    const args = fleet.sshArgs(h0).map((a) => (a.startsWith('UserKnownHostsFile=') ? `UserKnownHostsFile=${empty}` : a));
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const c = spawn('ssh', [...args, 'true']);
      let stderr = '';
      c.stderr.on('data', (d) => (stderr += d));
      c.on('close', (code) => resolve({ code, stderr }));
    });
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/Host key verification failed/);
  });

  test('exec runs inside the host (its hostname, namespaces and own processes)', async () => {
    const r = await fleet.exec(h1, 'hostname; ip -4 -o addr show dev eth0; ps -e -o comm= | sort | tr "\\n" " "');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${h1.name}\n`);
    expect(r.stdout).toContain(`inet ${h1.address}/24`);
    expect(r.stdout).toMatch(/sshd/);
    expect(r.stdout).not.toMatch(/jest|node/);
  });

  test('the installer is served over HTTPS that the hosts verify for real', async () => {
    const script = fakeInfectScript();
    const pub = fleet.installer.publish('/nixos-infect', script);
    expect(pub.url).toBe(`https://${fleet.gateway}:${fleet.installer.port}/nixos-infect`);
    const curl = await fleet.ssh(h0, `curl -fsS ${pub.url} -o /tmp/nixos-infect && sha256sum /tmp/nixos-infect`);
    expect(curl.stderr).toBe('');
    expect(curl.code).toBe(0);
    expect(curl.stdout.split(/\s+/)[0]).toBe(pub.sha256);
    const wget = await fleet.ssh(h0, `wget -q -O- ${pub.url} | sha256sum`);
    expect(wget.code).toBe(0);
    expect(wget.stdout.split(/\s+/)[0]).toBe(pub.sha256);
    expect(fleet.installer.requests()).toEqual(['/nixos-infect', '/nixos-infect']);
    expect(fleet.installer.requestLog()[0]).toMatchObject({ method: 'GET', remoteAddress: h0.address, status: 200 });
    // verification is on: the real machine (which does not trust the throwaway CA) is refused
    const outside = await new Promise<number | null>((resolve) => {
      const c = spawn('curl', ['-fsS', '-o', '/dev/null', pub.url], { stdio: 'ignore' });
      c.on('close', (code) => resolve(code));
    });
    expect(outside).toBe(60); // CURLE_PEER_FAILED_VERIFICATION
    expect(fs.readFileSync('/etc/ssl/certs/ca-certificates.crt', 'utf8')).not.toContain(fleet.installer.caCertPem.trim());
    const missing = await fleet.ssh(h0, `curl -fsS ${fleet.installer.url('/nope')} -o /dev/null`);
    expect(missing.code).toBe(22); // HTTP 404 with -f
  });

  test('writes to /etc land in the host overlay, not in the real /etc', async () => {
    const r = await fleet.ssh(h0, 'touch /etc/NIXOS && test -e /etc/NIXOS && echo ok');
    expect(r).toMatchObject({ code: 0, stdout: 'ok\n' });
    expect(fs.existsSync(path.join(h0.etcUpper, 'NIXOS'))).toBe(true);
    expect(fs.existsSync('/etc/NIXOS')).toBe(false);
    expect((await fleet.ssh(h1, 'test -e /etc/NIXOS; echo $?')).stdout).toBe('1\n');
  });

  test('fake nixos-infect: NO_REBOOT run writes the config; failing variant exits 3', async () => {
    const ok = fleet.installer.publish('/infect-ok', fakeInfectScript({ installSeconds: 1 }));
    // (like nixos-infect's build, the stand-in evaluates the NIXOS_IMPORT file: it must exist)
    await fleet.exec(h1, "mkdir -p /etc/nixos && echo '{ }' >/etc/nixos/fleet.nix");
    const r = await fleet.ssh(
      h1,
      `set -o pipefail; curl -fsS ${ok.url} | PROVIDER=hetznercloud NIX_CHANNEL=nixos-25.05 NO_REBOOT=1 NIXOS_IMPORT=./fleet.nix bash 2>&1 | tee /var/log/nixos-infect.log`,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/nixos-infect\(standin\): building the system ... 1s/);
    expect(r.stdout).toMatch(/NO_REBOOT set, not rebooting/);
    const nixos = path.join(h1.etcUpper, 'nixos');
    expect(fs.readFileSync(path.join(nixos, 'standin-env'), 'utf8')).toBe(
      'STANDIN_RUN=1\nPROVIDER=hetznercloud\nNIX_CHANNEL=nixos-25.05\nNO_REBOOT=1\nNIXOS_IMPORT=./fleet.nix\nNO_SWAP=\nNIX_INSTALL_URL=\n',
    );
    const conf = fs.readFileSync(path.join(nixos, 'configuration.nix'), 'utf8');
    expect(conf).toContain('./networking.nix');
    expect(conf).toContain('./fleet.nix');
    expect(conf).toContain(`networking.hostName = "${h1.name}";`);
    expect(conf).toContain(fleet.clientPublicKey);
    const hw = fs.readFileSync(path.join(nixos, 'hardware-configuration.nix'), 'utf8');
    expect(hw).toMatch(/fileSystems\."\/" = \{ device = "[^"]+"; fsType = "[^"]+"; \};/);
    expect(hw).toMatch(/boot\.loader\.grub\.device = "\/dev\/[a-z0-9]+";/);
    const netconf = fs.readFileSync(path.join(nixos, 'networking.nix'), 'utf8');
    expect(netconf).toContain(`address="${h1.address}"; prefixLength=24;`);
    expect(netconf).toContain(`defaultGateway = "${fleet.gateway}";`);
    expect(fs.existsSync(path.join(h1.etcUpper, 'NIXOS'))).toBe(true);
    expect(fs.readFileSync(path.join(h1.logDir, 'nixos-infect.log'), 'utf8')).toContain('switch-to-configuration');
    expect(fleet.rebootCount(h1)).toBe(0);

    const bad = fleet.installer.publish('/infect-fail', fakeInfectScript({ failExitCode: 3 }));
    const f = await fleet.ssh(h1, `set -o pipefail; curl -fsS ${bad.url} | PROVIDER=hetznercloud NO_REBOOT=1 bash`);
    expect(f.code).toBe(3);
    expect(f.stdout).toMatch(/nixos-infect\(standin\): starting/);
    expect(f.stderr).toMatch(/told to fail/);
    const late = fleet.installer.publish('/infect-late', fakeInfectScript({ failExitCode: 4, failAt: 'before-reboot' }));
    expect((await fleet.ssh(h1, `curl -fsS ${late.url} | NO_REBOOT=1 bash >/dev/null 2>&1; echo $?`)).stdout).toBe('4\n');
  });

  test('reboot: session ends, host is down for the delay, comes back with a fresh /run', async () => {
    const before = await fleet.ssh(h0, 'echo marker > /run/marker; echo keep > /tmp/keep; cat /run/standin-boot-id');
    expect(before.code).toBe(0);
    const bootId = before.stdout.trim();
    const t0 = Date.now();
    const r = await fleet.ssh(h0, 'echo going down; reboot; echo still here');
    // the session is killed by the reboot: no exit status (ssh says 255), nothing after `reboot` ran
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('going down\n');
    expect(await fleet.isSshUp(h0)).toBe(false);
    expect(fleet.state(h0)).toBe('rebooting');
    await fleet.waitForSsh(h0, 15000);
    const downMs = Date.now() - t0;
    expect(downMs).toBeGreaterThanOrEqual(1400);
    expect(fleet.rebootCount(h0)).toBe(1);
    const after = await fleet.ssh(h0, 'cat /run/standin-boot-id; test -e /run/marker && echo run-kept; cat /tmp/keep; test -e /etc/NIXOS && echo nixos');
    expect(after.code).toBe(0);
    const [newBootId, ...rest] = after.stdout.trim().split('\n');
    expect(newBootId).not.toBe(bootId);
    expect(rest).toEqual(['keep', 'nixos']); // /run cleared; /tmp and /etc persist
    expect(fleet.rebootCount(h1)).toBe(0);
  });

  test('stopping sshd keeps it down (connections refused) until a reboot is requested', async () => {
    const r = await fleet.ssh(h1, 'kill $(cat /run/sshd.pid) && echo killed');
    expect(r).toMatchObject({ code: 0, stdout: 'killed\n' });
    for (let i = 0; i < 5; i++) {
      expect(await tcpConnect(h1.address, 22)).toBe('ECONNREFUSED');
      await new Promise((res) => setTimeout(res, 300));
    }
    expect((await fleet.ssh(h1, 'true')).code).toBe(255);
    expect(fleet.state(h1)).toBe('up'); // the host itself still runs
    expect(fleet.rebootCount(h1)).toBe(0);
    const e = await fleet.exec(h1, 'reboot'); // like a console login; killed by the reboot
    expect(e.code).not.toBe(0);
    await fleet.waitForSsh(h1, 15000);
    expect(fleet.rebootCount(h1)).toBe(1);
    expect((await fleet.ssh(h1, 'id -u')).stdout).toBe('0\n');
  });

  test('detached reboot (systemd-run --on-active=1 systemctl reboot) lets the session finish', async () => {
    const r = await fleet.ssh(h0, 'systemd-run --on-active=1 systemctl reboot && echo scheduled');
    expect(r).toMatchObject({ code: 0, stdout: 'scheduled\n' });
    expect(r.stderr).toMatch(/Running timer as unit: run-u\d+\.timer/);
    expect(fleet.rebootCount(h0)).toBe(1);
    await fleet.waitForSshDown(h0, 5000);
    await fleet.waitForSsh(h0, 15000);
    expect(fleet.rebootCount(h0)).toBe(2);
    const log = fs.readFileSync(path.join(h0.stateDir, 'ctl', 'reboot-requests.log'), 'utf8');
    expect(log).toMatch(/reboot\n[^\n]*systemctl reboot\n$/);
  });

  test('stop() leaves nothing behind and is idempotent', async () => {
    const snapshot = { id: fleet.id, stateDir: fleet.stateDir };
    expect(leftovers(snapshot).length).toBeGreaterThan(0);
    const t0 = Date.now();
    await fleet.stop();
    // eslint-disable-next-line no-console
    console.log(`stand-in fleet ${fleet.id} stopped in ${Date.now() - t0} ms`);
    expect(leftovers(snapshot)).toEqual([]);
    expect(sh('ip netns list')).not.toContain(fleet.id);
    expect(fs.existsSync(`/sys/class/net/${fleet.bridge}`)).toBe(false);
    expect(sh('ps -eo args=').split('\n').filter((l) => l.includes('sshd') && l.includes(fleet.stateDir))).toEqual([]);
    await fleet.stop();
  });
});

suite('stand-in NixOS boots (fake install, then reboot)', () => {
  let fleet: StandinFleet;
  beforeAll(async () => {
    fleet = await startStandinFleet({ count: 2, names: ['nixos', 'stays-debian'], rebootDelaySeconds: 0.5 });
  });
  afterAll(async () => {
    await fleet?.stop();
  });
  const bootId = async (h: StandinHost) => (await fleet.exec(h, 'cat /proc/sys/kernel/random/boot_id')).stdout.trim();
  const reboot = async (h: StandinHost) => {
    const n = fleet.rebootCount(h);
    fleet.requestReboot(h);
    while (fleet.rebootCount(h) === n) await new Promise((r) => setTimeout(r, 50));
    await fleet.waitForSsh(h, 10000);
  };

  test('the first NixOS boot moves the old system to /old-root and keeps only what is declared', async () => {
    const [h] = fleet.hosts;
    await fleet.addUser(h, 'olduser', { sudo: 'nopasswd' });
    const real = fs.readFileSync('/etc/os-release', 'utf8');
    const infect = fleet.installer.publish('/infect', fakeInfectScript());
    expect((await fleet.exec(h, `curl -fsS ${infect.url} | NO_REBOOT=1 bash >/var/log/nixos-infect.log 2>&1`)).code).toBe(0);
    expect(fleet.bootMode(h)).toBe('debian');
    const before = await bootId(h);
    expect(before).toMatch(/^[0-9a-f-]{36}$/);
    await reboot(h);
    expect(fleet.bootMode(h)).toBe('nixos');
    expect(await bootId(h)).not.toBe(before);
    const r = await fleet.ssh(h, 'readlink /run/current-system /run/booted-system && /run/current-system/sw/bin/nixos-version && . /etc/os-release && echo "$NAME"');
    expect(r.stdout).toBe('/boot/standin-nixos/system\n/boot/standin-nixos/system\n23.05.19700101.5ef3f95 (Stand-in)\nNixOS\n');
    // root logs in with the key from the configuration (authorized_keys.d), /root itself is new
    expect((await fleet.exec(h, 'ls -A /root; cat /etc/ssh/authorized_keys.d/root')).stdout).toBe(`${fleet.clientPublicKey}\n`);
    // the old system, under /old-root
    for (const p of ['root/.ssh/authorized_keys', 'home/olduser/.ssh/authorized_keys', 'etc/sudoers.d/olduser', 'etc/passwd', 'var/log/nixos-infect.log']) {
      expect(fs.existsSync(path.join(h.oldRootDir, p))).toBe(true);
    }
    // ... and nothing undeclared in the new one
    expect((await fleet.exec(h, 'getent passwd olduser || test -e /etc/sudoers.d/olduser || test -e /home/olduser')).code).not.toBe(0);
    expect((await fleet.ssh(h, 'true', { user: 'olduser', timeoutMs: 10000 })).code).toBe(255);
    // kept by NIXOS_LUSTRATE: the configuration and the host key (known_hosts still matches)
    expect(fs.existsSync(path.join(h.etcUpper, 'nixos', 'configuration.nix'))).toBe(true);
    expect(fs.existsSync(path.join(h.etcUpper, 'NIXOS_LUSTRATE'))).toBe(false);
    // a second reboot: NixOS again, no second move
    const second = await bootId(h);
    await reboot(h);
    expect(fleet.bootMode(h)).toBe('nixos');
    expect(await bootId(h)).not.toBe(second);
    expect(fs.readFileSync('/etc/os-release', 'utf8')).toBe(real); // the real machine's /etc is untouched
  });

  test('without the boot loader entry the host boots its old Debian again, /etc/NIXOS and all', async () => {
    const h = fleet.hosts[1];
    const infect = fleet.installer.publish('/infect-noboot', fakeInfectScript({ bootEntry: false }));
    expect((await fleet.exec(h, `curl -fsS ${infect.url} | NO_REBOOT=1 bash >/dev/null 2>&1`)).code).toBe(0);
    await reboot(h);
    expect(fleet.bootMode(h)).toBe('debian');
    expect((await fleet.ssh(h, 'test -e /etc/NIXOS && ! test -e /run/current-system && echo old')).stdout).toBe('old\n');
  });

  test('throttle slows the link down, unthrottle restores it', async () => {
    const h = fleet.hosts[1];
    const blob = fleet.installer.publish('/blob', Buffer.alloc(256 * 1024, 7));
    const fetch = async () => {
      const t0 = Date.now();
      expect((await fleet.exec(h, `curl -fsS -o /dev/null ${blob.url}`)).code).toBe(0);
      return Date.now() - t0;
    };
    await fleet.throttle(h, { rateKbit: 1000 }); // 256 KiB at 1 Mbit/s: about 2 s
    expect(await fetch()).toBeGreaterThan(1500);
    await fleet.unthrottle(h);
    expect(await fetch()).toBeLessThan(1500);
  });
});

suite('stand-in fleet lifecycle', () => {
  test('timing: 1 host and 8 hosts start and stop quickly; all 8 answer ssh', async () => {
    const t1 = Date.now();
    const one = await startStandinFleet({ count: 1, names: ['web-1'], rebootCommandReturns: true, rebootDelaySeconds: 0.5 });
    const start1 = Date.now() - t1;
    // names and rebootCommandReturns: `reboot` returns 0, the host goes down 0.5 s later
    const h = one.hosts[0];
    expect((await one.ssh(h, 'hostname')).stdout).toBe('web-1\n');
    expect((await one.exec(h, 'reboot; echo rc=$?')).stdout).toBe('rc=0\n');
    await one.waitForSshDown(h, 5000);
    await one.waitForSsh(h, 10000);
    expect(one.rebootCount(h)).toBe(1);
    const s1 = Date.now();
    await one.stop();
    const stop1 = Date.now() - s1;

    const t8 = Date.now();
    const eight = await startStandinFleet({ count: 8 });
    const start8 = Date.now() - t8;
    try {
      const rs = await Promise.all(eight.hosts.map((h) => eight.ssh(h, 'hostname')));
      expect(rs.map((r) => r.stdout.trim())).toEqual(eight.hosts.map((h) => h.name));
    } finally {
      const s8 = Date.now();
      await eight.stop();
      const stop8 = Date.now() - s8;
      // eslint-disable-next-line no-console
      console.log(`stand-in timing: start 1 host ${start1} ms, stop ${stop1} ms; start 8 hosts ${start8} ms, stop ${stop8} ms`);
    }
    expect(leftovers(eight)).toEqual([]);
    expect(start8).toBeLessThan(10000);
  });

  test('cleanupStale() removes leftovers of a dead run', async () => {
    // a pid above pid_max (or at least not alive), distinct per test process
    let dead = 4000000 + (process.pid % 190000);
    while (fs.existsSync(`/proc/${dead}`)) dead++;
    const id = `nf${dead}`;
    sh(`ip netns add ${id}-0 && ip link add ${id}br type bridge && ip link add ${id}v0 type veth peer name eth0 netns ${id}-0`);
    const stale = await cleanupStale();
    expect(leftovers({ id, stateDir: `/var/tmp/nixos-fleet-standin/${id}` })).toEqual([]);
    // (a concurrent run's start may have cleaned it first: then it is gone all the same)
    if (!stale.includes(id)) console.warn(`cleanupStale: ${id} was already cleaned by another run`);
  });

  test('a test process that dies without stop() is cleaned up by the reaper', async () => {
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', '-e', `
        const { startStandinFleet } = require(${JSON.stringify(path.join(__dirname, 'standin.ts'))});
        startStandinFleet({ count: 2 }).then((f) => {
          process.stdout.write(JSON.stringify({ id: f.id, stateDir: f.stateDir }) + '\\n');
          setInterval(() => undefined, 1000);
        }, (e) => { console.error(e); process.exit(1); });
      `],
      { cwd: path.join(__dirname, '..', '..', '..'), env: { ...process.env, TS_NODE_PROJECT: 'tsconfig.json' }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const info = await new Promise<{ id: string; stateDir: string }>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
      });
      child.on('exit', (code) => reject(new Error(`child exited ${code}`)));
    });
    expect(leftovers(info).length).toBeGreaterThan(0);
    child.kill('SIGKILL');
    const end = Date.now() + 15000;
    let left = leftovers(info);
    while (left.length && Date.now() < end) {
      await new Promise((res) => setTimeout(res, 200));
      left = leftovers(info);
    }
    expect(left).toEqual([]);
  });
});
