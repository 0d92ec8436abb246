/**
 * ExistingMachines: the adapter for machines that already exist.
 *
 * It creates no resources: it validates the addresses and hands the hosts on
 * to the install step and the hive like any cloud host.
 */
import { Construct } from 'constructs';
import { CloudAdapter, CloudAdapterProps, CloudDiagram, ProvisionedHost } from './cloud-adapter';
import { ExistingHost, FleetDeclaration, HOST_SYSTEMS, HostDeclaration } from './fleet-declaration';
import {
  FieldSpecs, INFECT_PROVIDER_PATTERN, Problems, USER_NAME_PATTERN, hostWhere, isDnsName, isIpv4, isIpv6, show, sshPublicKeyProblem,
} from './validation';

/** Props of ExistingMachines: the shared adapter props (see CloudAdapterProps). */
export type ExistingMachinesProps = CloudAdapterProps;

export class ExistingMachines extends Construct implements CloudAdapter {
  public static readonly cloud = 'existing' as const;

  public static readonly fleetFields: FieldSpecs = {};

  public static readonly hostFields: FieldSpecs = {
    address: { type: 'string', required: true },
    user: { type: 'string' },
    port: { type: 'number' },
    privateIp: { type: 'string' },
    provider: { type: 'string' },
    alreadyNixos: { type: 'boolean' },
    hostKey: { type: 'string' },
    system: { type: 'string' },
  };

  public static validate(_fleet: FleetDeclaration, hosts: HostDeclaration[], problems: Problems): void {
    for (const h of hosts as ExistingHost[]) {
      const where = hostWhere(h.name);
      if (typeof h.address !== 'string' || !(isIpv4(h.address) || isIpv6(h.address) || isDnsName(h.address))) {
        problems.add(where, 'address', `must be an IPv4 or IPv6 address or a DNS name, got ${show(h.address)}`);
      }
      if (h.user !== undefined && !USER_NAME_PATTERN.test(h.user)) problems.add(where, 'user', `is not a valid user name: ${show(h.user)}`);
      if (h.port !== undefined && !(Number.isInteger(h.port) && h.port >= 1 && h.port <= 65535)) {
        problems.add(where, 'port', `must be an integer 1-65535, got ${show(h.port)}`);
      }
      if (h.privateIp !== undefined && !isIpv4(h.privateIp)) problems.add(where, 'privateIp', `is not an IPv4 address: ${show(h.privateIp)}`);
      if (h.provider !== undefined && !INFECT_PROVIDER_PATTERN.test(h.provider)) {
        problems.add(where, 'provider', `must be a nixos-infect PROVIDER value like "hetznercloud" ([a-z0-9]*), got ${show(h.provider)}`);
      }
      if (h.firewallRules?.length) problems.add(where, 'firewallRules', 'cannot be applied to an existing machine: its firewall is yours to manage');
      if (h.system !== undefined && !HOST_SYSTEMS.includes(h.system)) {
        problems.add(where, 'system', `must be one of ${HOST_SYSTEMS.join(', ')}, got ${show(h.system)}`);
      }
      if (h.hostKey !== undefined) {
        const parsed = parseHostKey(h.hostKey, h.address);
        const why = parsed.problem ?? sshPublicKeyProblem(parsed.key);
        if (why) problems.add(where, 'hostKey', why);
      }
    }
  }

  public static describe(): CloudDiagram {
    return {
      title: 'Existing machines',
      color: '#5b6770',
      hostFacts: (host) => {
        const h = host as ExistingHost;
        const address = h.address.includes(':') ? `[${h.address}]` : h.address; // IPv6 next to a port
        return [
          { text: `${h.user ?? 'root'}@${address}:${h.port ?? 22}`, emphasis: true },
          ...(h.privateIp ? [{ text: `private ${h.privateIp}` }] : []),
          { text: h.alreadyNixos ? 'already NixOS: no install' : `nixos-infect PROVIDER=${h.provider || '(autodetect)'}`, muted: true },
        ];
      },
    };
  }

  public readonly hosts: ProvisionedHost[];

  constructor(scope: Construct, id: string, props: ExistingMachinesProps) {
    super(scope, id);
    const problems = new Problems();
    ExistingMachines.validate(props.fleet, props.hosts, problems);
    problems.throwIfAny();
    this.hosts = (props.hosts as ExistingHost[]).map((h) => ({
      name: h.name,
      cloud: 'existing',
      location: 'existing',
      system: h.system ?? 'x86_64-linux',
      tags: [...(h.tags ?? [])],
      sshAddress: h.address,
      sshUser: h.user ?? 'root',
      sshPort: h.port ?? 22,
      publicIpv4: isIpv4(h.address) ? h.address : '',
      publicIpv6: isIpv6(h.address) ? h.address : '',
      privateIp: h.privateIp ?? '',
      infectProvider: h.provider ?? '',
      // A different address or port means a different machine.
      installTrigger: `${h.address}:${h.port ?? 22}`,
      installAfter: [],
      alreadyNixos: h.alreadyNixos ?? false,
      ...(h.hostKey ? { hostKey: parseHostKey(h.hostKey, h.address).key } : {}),
    } satisfies ProvisionedHost));
  }
}

/**
 * A declared hostKey as Terraform's connection `host_key` wants it (`<type> <base64>`).
 * Accepts the public key line itself (`type base64 [comment]`, the .pub file) or the
 * line `ssh-keyscan -t ed25519 ADDRESS` prints (`ADDRESS type base64`, or
 * `[ADDRESS]:PORT type base64`), whose address must be the host's `address`: a key
 * scanned from another machine is a copy-paste mistake. The key itself is checked by
 * sshPublicKeyProblem; this only takes the line apart.
 */
export function parseHostKey(line: unknown, address: unknown): { key: string; problem?: string } {
  if (typeof line !== 'string') return { key: '', problem: 'must be a string' };
  const words = line.trim().split(/\s+/);
  // A key line starts with its type; a keyscan line with the address the key came from.
  const keyType = /^(ssh-|ecdsa-|sk-)/;
  if (words.length < 3 || keyType.test(words[0]) || !keyType.test(words[1])) return { key: line.trim() };
  const scanned = /^\[(.+)\]:\d+$/.exec(words[0])?.[1] ?? words[0];
  const key = words.slice(1, 3).join(' ');
  if (typeof address === 'string' && scanned.toLowerCase() !== address.toLowerCase()) {
    return { key, problem: `was scanned from ${show(scanned)}, not from this host's address ${show(address)}` };
  }
  return { key };
}
