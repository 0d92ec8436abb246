/**
 * MachineBackend on stand-in hosts: every server a simulated cloud creates is
 * a stand-in host (own network namespace, own /etc, sshd, reboot supervisor;
 * see ../standin/standin.ts), started on demand and stopped when the server is
 * deleted. Each machine is a one-host stand-in fleet of its own, so the
 * harness needs no change to start and stop hosts one at a time.
 *
 * Like cloud-init, it writes root's authorized_keys from the create request's
 * SSH keys (the harness's own client key is replaced, so only the keys the
 * API was given can log in). Private addresses from network attachments are
 * added to the host's eth0. Power off kills every process of the current boot
 * (sshd included); power on is a fresh boot.
 *
 * The hosts download the installer from one shared stand-in installer (the
 * HTTPS server of another stand-in fleet): its CA is added to every machine's
 * CA bundle, and the address is reachable from every stand-in bridge because
 * it is an address of the root namespace.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { StandinFleet, StandinHost, startStandinFleet } from '../standin/standin';
import { MachineBackend, MachineSpec } from './machines';

export interface StandinMachinesOptions {
  /** PEM of a CA every machine trusts (the shared installer's). */
  trustCaPem?: string;
  /** How long a power cycle keeps a machine down, in seconds. @default 1 */
  rebootDelaySeconds?: number;
}

export interface StandinMachine {
  serverId: number;
  name: string;
  fleet: StandinFleet;
  host: StandinHost;
  /** Addresses added by network attachments. */
  privateIps: string[];
  destroyed: boolean;
}

const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

export class StandinMachines implements MachineBackend {
  private readonly machines = new Map<number, StandinMachine>();
  private readonly history: StandinMachine[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private caHash?: string;

  constructor(private readonly opts: StandinMachinesOptions = {}) {
    if (opts.trustCaPem) {
      const r = spawnSync('openssl', ['x509', '-hash', '-noout'], { input: opts.trustCaPem, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`openssl x509 -hash failed: ${r.stderr}`);
      this.caHash = r.stdout.trim();
    }
  }

  /** The live machine of a server (by id or name). */
  machine(idOrName: number | string): StandinMachine | undefined {
    for (const m of this.machines.values()) if (m.serverId === idOrName || m.name === idOrName) return m;
    return undefined;
  }

  /** Live machines. */
  live(): StandinMachine[] {
    return [...this.machines.values()];
  }

  /** Every machine ever created, destroyed ones too, in creation order. */
  all(): StandinMachine[] {
    return [...this.history];
  }

  /** known_hosts lines ("<address> <key>") of the live machines. */
  knownHosts(): string {
    return this.live().map((m) => `${m.host.address} ${m.host.hostPublicKey}\n`).join('');
  }

  create(spec: MachineSpec): Promise<{ ipv4: string }> {
    // One at a time: each start allocates a subnet and cleans stale fleets.
    const run = this.queue.then(() => this.boot(spec));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async boot(spec: MachineSpec): Promise<{ ipv4: string }> {
    const name = HOSTNAME.test(spec.name) ? spec.name : `server-${spec.serverId}`;
    const fleet = await startStandinFleet({ count: 1, names: [name], rebootDelaySeconds: this.opts.rebootDelaySeconds ?? 1 });
    const host = fleet.hosts[0];
    const m: StandinMachine = { serverId: spec.serverId, name: spec.name, fleet, host, privateIps: [], destroyed: false };
    this.machines.set(spec.serverId, m);
    this.history.push(m);
    // cloud-init: root's keys are exactly the request's SSH keys (/root is a per-host dir, read by sshd per login)
    fs.writeFileSync(path.join(host.stateDir, 'root', '.ssh', 'authorized_keys'), spec.authorizedKeys.map((k) => `${k.trim()}\n`).join(''), { mode: 0o600 });
    if (this.opts.trustCaPem) {
      const bundle = path.join(host.etcUpper, 'ssl', 'certs', 'ca-certificates.crt');
      fs.appendFileSync(bundle, `${this.opts.trustCaPem.replace(/\n*$/, '\n')}`);
      fs.writeFileSync(path.join(host.etcUpper, 'ssl', 'certs', `${this.caHash}.0`), this.opts.trustCaPem);
    }
    return { ipv4: host.address };
  }

  private need(serverId: number): StandinMachine {
    const m = this.machines.get(serverId);
    if (!m) throw new Error(`no machine for server ${serverId}`);
    return m;
  }

  async addPrivateIp(serverId: number, ip: string): Promise<void> {
    const m = this.need(serverId);
    const r = await m.fleet.exec(m.host, `ip addr add ${ip}/32 dev eth0`);
    if (r.code !== 0) throw new Error(`could not add ${ip} on ${m.name}: ${r.stderr.trim()}`);
    m.privateIps.push(ip);
  }

  async removePrivateIp(serverId: number, ip: string): Promise<void> {
    const m = this.need(serverId);
    await m.fleet.exec(m.host, `ip addr del ${ip}/32 dev eth0`);
    m.privateIps = m.privateIps.filter((x) => x !== ip);
  }

  async powerOff(serverId: number): Promise<void> {
    const m = this.need(serverId);
    // Every process of the boot but its PID 1 (the exec itself included): sshd and all sessions end.
    await m.fleet.exec(m.host, 'kill -KILL -1', { timeoutMs: 5000 });
    await m.fleet.waitForSshDown(m.host, 10_000);
  }

  async powerOn(serverId: number): Promise<void> {
    const m = this.need(serverId);
    const before = m.fleet.rebootCount(m.host);
    m.fleet.requestReboot(m.host);
    const end = Date.now() + 20_000;
    while (m.fleet.rebootCount(m.host) === before) {
      if (Date.now() > end) throw new Error(`${m.name} did not power-cycle`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await m.fleet.waitForSsh(m.host, 20_000);
  }

  async destroy(serverId: number): Promise<void> {
    const m = this.machines.get(serverId);
    if (!m) return;
    this.machines.delete(serverId);
    m.destroyed = true;
    await m.fleet.stop();
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled(this.live().map((m) => this.destroy(m.serverId)));
  }
}
