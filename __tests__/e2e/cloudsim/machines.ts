/**
 * What a simulated cloud asks of the machines behind its servers. The cloud
 * modules (hetzner.ts, ...) call it; standin-machines.ts implements it with
 * stand-in hosts (network namespace + sshd), so a server the API reports is a
 * machine the provider's SSH connection really reaches.
 */
export interface MachineSpec {
  /** The cloud's id for the server (stable while it exists). */
  serverId: number;
  /** Hostname, as requested. */
  name: string;
  /** Public keys root may log in with (what cloud-init writes from the request's SSH keys). */
  authorizedKeys: string[];
}

export interface MachineBackend {
  /** Boots a new machine; resolves with its public IPv4 once it answers SSH. */
  create(spec: MachineSpec): Promise<{ ipv4: string }>;
  /** The machine gets this private address (a network attachment). */
  addPrivateIp(serverId: number, ip: string): Promise<void>;
  removePrivateIp(serverId: number, ip: string): Promise<void>;
  /** Hard power off: unreachable until powerOn. */
  powerOff(serverId: number): Promise<void>;
  /** Boots it again (a fresh boot, like a power cycle). */
  powerOn(serverId: number): Promise<void>;
  /** The server is deleted: the machine stops for good. */
  destroy(serverId: number): Promise<void>;
}
