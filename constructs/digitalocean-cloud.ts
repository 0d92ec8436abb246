/**
 * DigitalOceanCloud: the DigitalOcean adapter.
 *
 * Creates the provider (token from DIGITALOCEAN_TOKEN, read by the provider at
 * apply time), one SSH key per admin key, the VPC, the droplets and one
 * firewall. DigitalOcean cloud firewalls also filter VPC traffic and deny all
 * outbound traffic not allowed by a rule, so the firewall opens the VPC range
 * between droplets and all outbound traffic (nixos-infect downloads Nix).
 */
import { Construct } from 'constructs';
import { Token } from 'cdktf';
import { Droplet } from '@cdktf/provider-digitalocean/lib/droplet';
import { Firewall, FirewallInboundRule } from '@cdktf/provider-digitalocean/lib/firewall';
import { DigitaloceanProvider } from '@cdktf/provider-digitalocean/lib/provider';
import { SshKey } from '@cdktf/provider-digitalocean/lib/ssh-key';
import { Vpc } from '@cdktf/provider-digitalocean/lib/vpc';
import { CloudAdapter, CloudAdapterProps, CloudDiagram, ProvisionedHost, baseInboundRules, resourceName } from './cloud-adapter';
import { DigitalOceanHost, FirewallRule, FleetDeclaration, HostDeclaration } from './fleet-declaration';
import { Problems, hostWhere, isRfc1918, keyFingerprintSuffix, parseIpv4Cidr, show } from './validation';

/** The base image nixos-infect converts, unless a host sets `image`. */
export const DIGITALOCEAN_DEFAULT_IMAGE = 'debian-12-x64';

/** Props of DigitalOceanCloud: the shared adapter props (see CloudAdapterProps). */
export type DigitalOceanCloudProps = CloudAdapterProps;

const EVERYWHERE = ['0.0.0.0/0', '::/0'];

export class DigitalOceanCloud extends Construct implements CloudAdapter {
  public static readonly cloud = 'digitalocean' as const;

  public static validate(fleet: FleetDeclaration, hosts: HostDeclaration[], problems: Problems): void {
    const vpc = fleet.digitalocean;
    if (!vpc) {
      problems.add('fleet', 'digitalocean', `is required because ${hosts.length} host(s) are on DigitalOcean (region, ipRange)`);
      return;
    }
    if (typeof vpc.region !== 'string' || !/^[a-z]{3}\d$/.test(vpc.region)) {
      problems.add('fleet', 'digitalocean.region', `must be a region slug like "fra1", got ${show(vpc.region)}`);
    }
    const range = parseIpv4Cidr(vpc.ipRange);
    if (!range) problems.add('fleet', 'digitalocean.ipRange', `is not an IPv4 CIDR (like "10.20.0.0/20"): ${show(vpc.ipRange)}`);
    else if (!isRfc1918(range)) problems.add('fleet', 'digitalocean.ipRange', `must be a private (RFC 1918) range: ${show(vpc.ipRange)}`);
    else if (range.prefix < 16 || range.prefix > 28) problems.add('fleet', 'digitalocean.ipRange', `must be between /16 and /28, got /${range.prefix}`);

    for (const h of hosts as DigitalOceanHost[]) {
      const where = hostWhere(h.name);
      if (typeof h.size !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(h.size)) {
        problems.add(where, 'size', `must be a droplet size slug like "s-1vcpu-2gb", got ${show(h.size)}`);
      }
      if (h.region !== vpc.region) {
        problems.add(where, 'region', `${show(h.region)} differs from the VPC's region ${show(vpc.region)} (a VPC lives in one region)`);
      }
      if (h.image !== undefined && !/^[a-z0-9][a-z0-9._-]*$/.test(h.image)) problems.add(where, 'image', `is not an image slug: ${show(h.image)}`);
      if ('privateIp' in h) {
        problems.add(where, 'privateIp', 'cannot be chosen on DigitalOcean: the VPC assigns it (read it from the stack outputs)');
      }
    }
  }

  public static describe(fleet: FleetDeclaration): CloudDiagram {
    const vpc = fleet.digitalocean;
    return {
      title: 'DigitalOcean',
      color: '#0069ff',
      ...(vpc ? {
        network: {
          title: `VPC ${resourceName(fleet, vpc.region)}`,
          facts: [{ text: `range ${vpc.ipRange}`, emphasis: true }, { text: `region ${vpc.region}` }],
        },
      } : {}),
      hostFacts: (host) => {
        const h = host as DigitalOceanHost;
        return [
          { text: `${h.size} · ${h.region}` },
          { text: 'private: assigned by VPC', muted: true },
          ...(h.image !== undefined && h.image !== DIGITALOCEAN_DEFAULT_IMAGE ? [{ text: `image ${h.image}` }] : []),
        ];
      },
    };
  }

  public readonly hosts: ProvisionedHost[];

  constructor(scope: Construct, id: string, props: DigitalOceanCloudProps) {
    super(scope, id);
    const problems = new Problems();
    DigitalOceanCloud.validate(props.fleet, props.hosts, problems);
    problems.throwIfAny();
    const fleet = props.fleet;
    const vpcDecl = fleet.digitalocean!;

    new DigitaloceanProvider(this, 'provider', {});

    const keys = fleet.adminSshKeys.map((key) => new SshKey(this, `admin-key-${keyFingerprintSuffix(key)}`, {
      name: resourceName(fleet, `admin-${keyFingerprintSuffix(key)}`),
      publicKey: key.trim(),
    }));

    const vpc = new Vpc(this, 'vpc', {
      name: resourceName(fleet, vpcDecl.region),
      region: vpcDecl.region,
      ipRange: vpcDecl.ipRange,
      description: `nixos-fleet ${fleet.name}`,
    });

    // Read shared attributes once: each read is a new token with a recorded stack trace.
    const vpcId = vpc.id;
    const keyIds = keys.map((k) => k.id);
    const droplets = (props.hosts as DigitalOceanHost[]).map((h) => new Droplet(this, `droplet-${h.name}`, {
      name: h.name,
      image: h.image ?? DIGITALOCEAN_DEFAULT_IMAGE,
      size: h.size,
      region: h.region,
      ipv6: true,
      vpcUuid: vpcId,
      sshKeys: keyIds,
      tags: [...new Set([fleet.name, ...(h.tags ?? [])])],
      lifecycle: {
        // See HetznerCloud: a converted droplet must not be replaced for these.
        ignoreChanges: ['image', 'user_data', 'ssh_keys'],
      },
    }));

    const dropletIds = droplets.map((d) => Token.asNumber(d.id));
    const firewall = new Firewall(this, 'firewall', {
      name: resourceName(fleet, 'base'),
      dropletIds,
      inboundRule: [
        ...baseInboundRules(fleet).map(toInboundRule),
        ...(['tcp', 'udp'] as const).map((protocol) => ({ protocol, portRange: '1-65535', sourceAddresses: [vpcDecl.ipRange] })),
        { protocol: 'icmp', sourceAddresses: [vpcDecl.ipRange] },
      ],
      outboundRule: [
        ...(['tcp', 'udp'] as const).map((protocol) => ({ protocol, portRange: '1-65535', destinationAddresses: EVERYWHERE })),
        { protocol: 'icmp', destinationAddresses: EVERYWHERE },
      ],
    });
    (props.hosts as DigitalOceanHost[]).forEach((h, i) => {
      if (h.firewallRules?.length) {
        new Firewall(this, `firewall-${h.name}`, {
          name: resourceName(fleet, h.name),
          dropletIds: [dropletIds[i]],
          inboundRule: h.firewallRules.map(toInboundRule),
        });
      }
    });

    const vpcPrefix = parseIpv4Cidr(vpcDecl.ipRange)!.prefix;
    this.hosts = (props.hosts as DigitalOceanHost[]).map((h, i) => {
      const ipv4 = droplets[i].ipv4Address;
      return {
        name: h.name,
        cloud: 'digitalocean',
        location: h.region,
        // Droplets are x86_64 only.
        system: 'x86_64-linux',
        tags: [...(h.tags ?? [])],
        sshAddress: ipv4,
        sshUser: 'root',
        sshPort: 22,
        publicIpv4: ipv4,
        publicIpv6: droplets[i].ipv6Address,
        privateIp: droplets[i].ipv4AddressPrivate,
        // The VPC range is on-link on the private NIC: no gateway.
        privateNetwork: { routeCidr: vpcDecl.ipRange, prefixLength: vpcPrefix },
        infectProvider: 'digitalocean',
        installTrigger: droplets[i].id,
        // The firewall decides whether the install's SSH session (and its
        // downloads) get through: attach it first, not halfway through.
        installAfter: [droplets[i], firewall],
        alreadyNixos: false,
      } satisfies ProvisionedHost;
    });
  }
}

function toInboundRule(rule: FirewallRule): FirewallInboundRule {
  return {
    protocol: rule.protocol,
    ...(rule.protocol === 'icmp' ? {} : { portRange: rule.port }),
    sourceAddresses: [...rule.sourceCidrs],
  };
}
