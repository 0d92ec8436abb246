/**
 * HetznerCloud: the Hetzner Cloud adapter.
 *
 * Creates the provider (token from HCLOUD_TOKEN, read by the provider at apply
 * time, never by us), one SSH key per admin key, the private network and its
 * subnet, a firewall, and one server per host with a fixed private IP.
 */
import { Construct } from 'constructs';
import { Token } from 'cdktf';
import { HcloudProvider } from '../.gen/providers/hcloud/provider';
import { Firewall, FirewallRule as HcloudFirewallRule } from '../.gen/providers/hcloud/firewall';
import { Network } from '../.gen/providers/hcloud/network';
import { NetworkSubnet } from '../.gen/providers/hcloud/network-subnet';
import { Server } from '../.gen/providers/hcloud/server';
import { SshKey } from '../.gen/providers/hcloud/ssh-key';
import { CloudAdapter, CloudAdapterProps, CloudDiagram, ProvisionedHost, baseInboundRules, resourceName } from './cloud-adapter';
import { FirewallRule, FleetDeclaration, HetznerHost, HostDeclaration, HostSystem } from './fleet-declaration';
import {
  Problems, cidrContains, cidrContainsIp, hostWhere, intToIpv4, ipv4ToInt, isRfc1918, keyFingerprintSuffix,
  parseIpv4Cidr, show,
} from './validation';

/** Network zones and their locations (FIELD-NOTES; Hetzner docs). */
export const HETZNER_ZONES: Record<string, string[]> = {
  'eu-central': ['fsn1', 'nbg1', 'hel1'],
  'us-east': ['ash'],
  'us-west': ['hil'],
  'ap-southeast': ['sin'],
};

/** The base image nixos-infect converts, unless a host sets `image`. */
export const HETZNER_DEFAULT_IMAGE = 'debian-12';

/**
 * The platform of a Hetzner server type: the CAX line is Ampere (arm64), every
 * other line (CX, CPX, CCX) x86_64. Until the server type catalogue says it,
 * the type's prefix does.
 */
export function hetznerSystem(serverType: string): HostSystem {
  return serverType.startsWith('cax') ? 'aarch64-linux' : 'x86_64-linux';
}

/** Props of HetznerCloud: the shared adapter props (see CloudAdapterProps). */
export type HetznerCloudProps = CloudAdapterProps;

export class HetznerCloud extends Construct implements CloudAdapter {
  public static readonly cloud = 'hetzner' as const;

  public static validate(fleet: FleetDeclaration, hosts: HostDeclaration[], problems: Problems): void {
    const net = fleet.hetzner;
    if (!net) {
      problems.add('fleet', 'hetzner', `is required because ${hosts.length} host(s) are on Hetzner (ipRange, subnetRange, networkZone)`);
      return;
    }
    const range = parseIpv4Cidr(net.ipRange);
    const subnet = parseIpv4Cidr(net.subnetRange);
    if (!range) problems.add('fleet', 'hetzner.ipRange', `is not an IPv4 CIDR (like "10.0.0.0/16"): ${show(net.ipRange)}`);
    else if (!isRfc1918(range)) problems.add('fleet', 'hetzner.ipRange', `must be a private (RFC 1918) range: ${show(net.ipRange)}`);
    if (!subnet) problems.add('fleet', 'hetzner.subnetRange', `is not an IPv4 CIDR (like "10.0.1.0/24"): ${show(net.subnetRange)}`);
    else if (range && !cidrContains(range, subnet)) {
      problems.add('fleet', 'hetzner.subnetRange', `${net.subnetRange} is not inside hetzner.ipRange ${net.ipRange}`);
    }
    const zoneLocations = HETZNER_ZONES[net.networkZone];
    if (!zoneLocations) {
      problems.add('fleet', 'hetzner.networkZone', `must be one of ${Object.keys(HETZNER_ZONES).join(', ')}; got ${show(net.networkZone)}`);
    }
    // The gateway is the network's first address (Hetzner reserves it).
    const gateway = range ? range.network + 1 : undefined;

    for (const h of hosts as HetznerHost[]) {
      const where = hostWhere(h.name);
      if (typeof h.serverType !== 'string' || !/^[a-z0-9]+$/.test(h.serverType)) {
        problems.add(where, 'serverType', `must be a Hetzner server type like "cx22", got ${show(h.serverType)}`);
      }
      if (h.image !== undefined && !/^[a-z0-9][a-z0-9._-]*$/.test(h.image)) problems.add(where, 'image', `is not an image name: ${show(h.image)}`);
      const known = Object.values(HETZNER_ZONES).flat();
      if (!known.includes(h.location)) {
        problems.add(where, 'location', `must be one of ${known.join(', ')}; got ${show(h.location)}`);
      } else if (zoneLocations && !zoneLocations.includes(h.location)) {
        problems.add(where, 'location', `${h.location} is not in the network zone ${net.networkZone} (${zoneLocations.join(', ')})`);
      }
      const ip = ipv4ToInt(h.privateIp);
      if (ip === undefined) {
        problems.add(where, 'privateIp', `is not an IPv4 address: ${show(h.privateIp)}`);
      } else if (subnet) {
        if (!cidrContainsIp(subnet, ip)) problems.add(where, 'privateIp', `${h.privateIp} is outside the Hetzner subnet ${net.subnetRange}`);
        else if (ip === subnet.network) problems.add(where, 'privateIp', `${h.privateIp} is the subnet's network address`);
        else if (ip === subnet.network + subnet.size - 1) problems.add(where, 'privateIp', `${h.privateIp} is the subnet's broadcast address`);
        else if (ip === gateway) problems.add(where, 'privateIp', `${h.privateIp} is the network's gateway address`);
      }
    }
  }

  public static describe(fleet: FleetDeclaration): CloudDiagram {
    const net = fleet.hetzner;
    return {
      title: 'Hetzner Cloud',
      color: '#d50c2d',
      ...(net ? {
        network: {
          title: `network ${fleet.name}`,
          facts: [{ text: `range ${net.ipRange}`, emphasis: true }, { text: `subnet ${net.subnetRange}` }, { text: `zone ${net.networkZone}` }],
        },
      } : {}),
      hostFacts: (host) => {
        const h = host as HetznerHost;
        return [
          { text: `${h.serverType} · ${h.location}` },
          { text: `private ${h.privateIp}`, emphasis: true },
          ...(h.image !== undefined && h.image !== HETZNER_DEFAULT_IMAGE ? [{ text: `image ${h.image}` }] : []),
        ];
      },
    };
  }

  public readonly hosts: ProvisionedHost[];

  constructor(scope: Construct, id: string, props: HetznerCloudProps) {
    super(scope, id);
    const problems = new Problems();
    HetznerCloud.validate(props.fleet, props.hosts, problems);
    problems.throwIfAny();
    const fleet = props.fleet;
    const net = fleet.hetzner!;

    new HcloudProvider(this, 'provider', {});

    const keys = fleet.adminSshKeys.map((key) => new SshKey(this, `admin-key-${keyFingerprintSuffix(key)}`, {
      name: resourceName(fleet, `admin-${keyFingerprintSuffix(key)}`),
      publicKey: key.trim(),
      labels: { fleet: fleet.name },
    }));

    const network = new Network(this, 'network', {
      name: fleet.name,
      ipRange: net.ipRange,
      labels: { fleet: fleet.name },
    });
    const subnet = new NetworkSubnet(this, 'subnet', {
      networkId: Token.asNumber(network.id),
      type: 'cloud',
      networkZone: net.networkZone,
      ipRange: net.subnetRange,
    });

    const baseFirewall = new Firewall(this, 'firewall', {
      name: resourceName(fleet, 'base'),
      labels: { fleet: fleet.name },
      rule: baseInboundRules(fleet).map(toHcloudRule),
    });

    const range = parseIpv4Cidr(net.ipRange)!;
    // Each attribute read creates a token (and cdktf records a stack trace for
    // it): read shared ones once, not once per host. It keeps synth fast.
    const keyIds = keys.map((k) => k.id);
    const networkId = Token.asNumber(network.id);
    const baseFirewallId = Token.asNumber(baseFirewall.id);
    this.hosts = (props.hosts as HetznerHost[]).map((h) => {
      const firewallIds = [baseFirewallId];
      if (h.firewallRules?.length) {
        const own = new Firewall(this, `firewall-${h.name}`, {
          name: resourceName(fleet, h.name),
          labels: { fleet: fleet.name },
          rule: h.firewallRules.map(toHcloudRule),
        });
        firewallIds.push(Token.asNumber(own.id));
      }
      const server = new Server(this, `server-${h.name}`, {
        name: h.name,
        serverType: h.serverType,
        image: h.image ?? HETZNER_DEFAULT_IMAGE,
        location: h.location,
        sshKeys: keyIds,
        labels: Object.fromEntries([['fleet', fleet.name], ...(h.tags ?? []).map((t) => [t, ''])]),
        firewallIds,
        publicNet: [{ ipv4Enabled: true, ipv6Enabled: true }],
        // aliasIps: [] avoids a detach/re-attach on every apply (provider quirk with Terraform ≥ 1.4).
        network: [{ networkId, ip: h.privateIp, aliasIps: [] }],
        // The server joins the network in the same API call; the subnet must exist first.
        dependsOn: [subnet],
        lifecycle: {
          // After nixos-infect the image and user data no longer describe the
          // machine, and the provider would replace it for a changed image or
          // key list. Keys on a live host are managed by the hive instead.
          ignoreChanges: ['image', 'user_data', 'ssh_keys'],
        },
      });
      const ipv4 = server.ipv4Address;
      return {
        name: h.name,
        cloud: 'hetzner',
        location: h.location,
        system: hetznerSystem(h.serverType),
        tags: [...(h.tags ?? [])],
        sshAddress: ipv4,
        sshUser: 'root',
        sshPort: 22,
        publicIpv4: ipv4,
        publicIpv6: server.ipv6Address,
        privateIp: h.privateIp,
        privateNetwork: { routeCidr: net.ipRange, gateway: intToIpv4(range.network + 1), prefixLength: 32 },
        infectProvider: 'hetznercloud',
        installTrigger: server.id,
        installAfter: [server],
        alreadyNixos: false,
      } satisfies ProvisionedHost;
    });
  }
}

function toHcloudRule(rule: FirewallRule): HcloudFirewallRule {
  return {
    direction: 'in',
    protocol: rule.protocol,
    ...(rule.protocol === 'icmp' ? {} : { port: rule.port }),
    sourceIps: [...rule.sourceCidrs],
    ...(rule.description ? { description: rule.description } : {}),
  };
}
