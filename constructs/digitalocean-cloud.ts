/**
 * DigitalOceanCloud: the DigitalOcean adapter.
 *
 * Creates the provider (token from DIGITALOCEAN_TOKEN, read by the provider at
 * apply time), the admin SSH keys (see CloudSshKeys), the VPC, the droplets
 * and one firewall, attached by the fleet tag every droplet carries (the API
 * takes at most 10 droplet IDs per firewall, any number by tag).
 * DigitalOcean cloud firewalls also filter VPC traffic and deny all
 * outbound traffic not allowed by a rule, so the firewall opens the VPC range
 * between droplets and all outbound traffic (nixos-infect downloads Nix).
 */
import { Construct } from 'constructs';
import { Token } from 'cdktf';
import { Droplet } from '@cdktf/provider-digitalocean/lib/droplet';
import { Firewall, FirewallInboundRule } from '@cdktf/provider-digitalocean/lib/firewall';
import { DigitaloceanProvider } from '@cdktf/provider-digitalocean/lib/provider';
import { DataDigitaloceanSshKeys } from '@cdktf/provider-digitalocean/lib/data-digitalocean-ssh-keys';
import { SshKey } from '@cdktf/provider-digitalocean/lib/ssh-key';
import { Vpc } from '@cdktf/provider-digitalocean/lib/vpc';
import {
  CloudAdapter, CloudAdapterProps, CloudDiagram, CloudResourceName, DeployVariable, ProvisionedHost, baseInboundRules, checkUniqueNames,
  resourceName,
} from './cloud-adapter';
import { DIGITALOCEAN_REQUESTS_PER_SECOND, digitalOceanRegionProblem, digitalOceanSizeProblem } from './digitalocean-catalogue';
import { CloudSshKeys, DigitalOceanHost, FirewallRule, FleetDeclaration, HostDeclaration } from './fleet-declaration';
import { hclStringLiteral, terraformLiteral, terraformLiterals } from './terraform-literal';
import {
  FieldSpecs, Problems, checkFields, hostWhere, isRfc1918, keyFingerprintSuffix, parseIpv4Cidr, show, sshKeyMd5Fingerprint,
  validateCloudSshKeys,
} from './validation';

const VPC_FIELDS: FieldSpecs = {
  region: { type: 'string', required: true },
  ipRange: { type: 'string', required: true },
  sshKeys: { type: 'string|object' },
};

const MD5_FINGERPRINT = /^[0-9a-f]{2}(:[0-9a-f]{2}){15}$/;

/** The base image nixos-infect converts, unless a host sets `image`. */
export const DIGITALOCEAN_DEFAULT_IMAGE = 'debian-12-x64';

/** Props of DigitalOceanCloud: the shared adapter props (see CloudAdapterProps). */
export type DigitalOceanCloudProps = CloudAdapterProps;

const EVERYWHERE = ['0.0.0.0/0', '::/0'];

export class DigitalOceanCloud extends Construct implements CloudAdapter {
  public static readonly cloud = 'digitalocean' as const;

  /** The provider's client-side throttle, under the API's 250 requests a minute. */
  public static readonly deployEnvironment: readonly DeployVariable[] = [{
    name: 'DIGITALOCEAN_REQUESTS_PER_SECOND',
    value: String(DIGITALOCEAN_REQUESTS_PER_SECOND),
    notice: `DigitalOcean API at most ${DIGITALOCEAN_REQUESTS_PER_SECOND} requests/s`,
  }];

  public static readonly fleetFields: FieldSpecs = { digitalocean: { type: 'object' } };

  public static readonly hostFields: FieldSpecs = {
    size: { type: 'string', required: true },
    allowUncataloguedType: { type: 'boolean' },
    region: { type: 'string', required: true },
    image: { type: 'string' },
    // Not a DigitalOcean field: listed so the value check can say why (the VPC assigns it).
    privateIp: { type: 'string' },
  };

  public static validate(fleet: FleetDeclaration, hosts: HostDeclaration[], problems: Problems): void {
    const vpc = fleet.digitalocean;
    if (!vpc) {
      problems.add('fleet', 'digitalocean', `is required because ${hosts.length} host(s) are on DigitalOcean (region, ipRange)`);
      return;
    }
    if (!checkFields(vpc, VPC_FIELDS, 'fleet', 'digitalocean', problems, 'a DigitalOcean VPC')) return;
    const regionWhy = digitalOceanRegionProblem(vpc.region);
    if (regionWhy) problems.add('fleet', 'digitalocean.region', regionWhy);
    // Droplet ssh_keys take key IDs or MD5 fingerprints.
    validateCloudSshKeys(vpc.sshKeys, 'digitalocean.sshKeys', problems,
      (ref) => (/^\d+$/.test(ref) || MD5_FINGERPRINT.test(ref) ? undefined
        : `must be a key ID or an MD5 fingerprint like "aa:bb:…" (ssh-keygen -l -E md5 -f key.pub, without "MD5:"), got ${show(ref)}`));
    const range = parseIpv4Cidr(vpc.ipRange);
    if (!range) problems.add('fleet', 'digitalocean.ipRange', `is not an IPv4 CIDR (like "10.20.0.0/20"): ${show(vpc.ipRange)}`);
    else if (!isRfc1918(range)) problems.add('fleet', 'digitalocean.ipRange', `must be a private (RFC 1918) range: ${show(vpc.ipRange)}`);
    else if (range.prefix < 16 || range.prefix > 28) problems.add('fleet', 'digitalocean.ipRange', `must be between /16 and /28, got /${range.prefix}`);

    for (const h of hosts as DigitalOceanHost[]) {
      const where = hostWhere(h.name);
      if (!/^[a-z0-9][a-z0-9_-]*$/.test(h.size)) {
        problems.add(where, 'size', `must be a droplet size slug like "s-1vcpu-2gb", got ${show(h.size)}`);
      } else if (digitalOceanSizeProblem(h.size) && h.allowUncataloguedType !== true) {
        problems.add(where, 'size', digitalOceanSizeProblem(h.size)!);
      }
      const hostRegionWhy = digitalOceanRegionProblem(h.region);
      if (hostRegionWhy && h.region !== vpc.region) {
        problems.add(where, 'region', hostRegionWhy);
      } else if (h.region !== vpc.region) {
        problems.add(where, 'region', `${show(h.region)} differs from the VPC's region ${show(vpc.region)} (a VPC lives in one region)`);
      }
      if (h.image !== undefined && !/^[a-z0-9][a-z0-9._-]*$/.test(h.image)) problems.add(where, 'image', `is not an image slug: ${show(h.image)}`);
      if ('privateIp' in h) {
        problems.add(where, 'privateIp', 'cannot be chosen on DigitalOcean: the VPC assigns it (read it from the stack outputs)');
      }
      const dropletName = `${fleet.serverNamePrefix ?? ''}${h.name}`;
      if (dropletName.length > 63) problems.add(where, 'name', `with serverNamePrefix gives the droplet name ${show(dropletName)}, longer than 63`);
    }
    checkUniqueNames(DigitalOceanCloud.cloudNames(fleet, hosts as DigitalOceanHost[]), problems);
  }

  /**
   * Every name this adapter creates in the DigitalOcean account. Droplet names
   * need not be unique there, but duplicates make the console, `doctl` and
   * every by-name lookup ambiguous, so the fleet keeps them unique too.
   */
  private static cloudNames(fleet: FleetDeclaration, hosts: DigitalOceanHost[]): CloudResourceName[] {
    const mode = fleet.digitalocean?.sshKeys ?? 'auto';
    return [
      { kind: 'VPC', name: resourceName(fleet, fleet.digitalocean!.region), where: 'fleet', field: 'digitalocean.region' },
      { kind: 'firewall', name: resourceName(fleet, 'base'), where: 'fleet', field: 'name' },
      ...(typeof mode === 'string' && Array.isArray(fleet.adminSshKeys) ? fleet.adminSshKeys.map((k, i) => (
        { kind: 'SSH key', name: resourceName(fleet, `admin-${keyFingerprintSuffix(k)}`), where: 'fleet', field: `adminSshKeys[${i}]` })) : []),
      ...hosts.flatMap((h) => [
        { kind: 'droplet', name: `${fleet.serverNamePrefix ?? ''}${h.name}`, where: hostWhere(h.name), field: 'name' },
        ...(h.firewallRules?.length ? [{ kind: 'firewall', name: resourceName(fleet, h.name), where: hostWhere(h.name), field: 'name' }] : []),
      ]),
    ];
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

    const { keyRefs, keyResources } = this.adminKeys(fleet, vpcDecl.sshKeys ?? 'auto');

    const vpc = new Vpc(this, 'vpc', {
      name: terraformLiteral(resourceName(fleet, vpcDecl.region)),
      region: terraformLiteral(vpcDecl.region),
      ipRange: terraformLiteral(vpcDecl.ipRange),
      description: terraformLiteral(`nixos-fleet ${fleet.name}`),
    });

    // Read shared attributes once: each read is a new token with a recorded stack trace.
    const vpcId = vpc.id;
    // Every droplet carries the fleet tag; the base firewall attaches by it.
    const fleetTag = terraformLiteral(fleet.name);
    const droplets = (props.hosts as DigitalOceanHost[]).map((h) => new Droplet(this, `droplet-${h.name}`, {
      name: terraformLiteral(`${fleet.serverNamePrefix ?? ''}${h.name}`),
      image: terraformLiteral(h.image ?? DIGITALOCEAN_DEFAULT_IMAGE),
      size: terraformLiteral(h.size),
      region: terraformLiteral(h.region),
      ipv6: true,
      vpcUuid: vpcId,
      sshKeys: keyRefs,
      ...(keyResources.length ? { dependsOn: keyResources } : {}),
      tags: terraformLiterals([...new Set([fleet.name, ...(h.tags ?? [])])]),
      lifecycle: {
        // See HetznerCloud: a converted droplet must not be replaced for these.
        ignoreChanges: ['image', 'user_data', 'ssh_keys'],
      },
    }));

    const vpcRange = terraformLiteral(vpcDecl.ipRange);
    const firewall = new Firewall(this, 'firewall', {
      name: terraformLiteral(resourceName(fleet, 'base')),
      tags: [fleetTag],
      // The tag exists once a droplet carries it: create the droplets first.
      dependsOn: droplets,
      inboundRule: [
        ...baseInboundRules(fleet).map(toInboundRule),
        ...(['tcp', 'udp'] as const).map((protocol) => ({ protocol, portRange: '1-65535', sourceAddresses: [vpcRange] })),
        { protocol: 'icmp', sourceAddresses: [vpcRange] },
      ],
      outboundRule: [
        ...(['tcp', 'udp'] as const).map((protocol) => ({ protocol, portRange: '1-65535', destinationAddresses: EVERYWHERE })),
        { protocol: 'icmp', destinationAddresses: EVERYWHERE },
      ],
    });
    (props.hosts as DigitalOceanHost[]).forEach((h, i) => {
      if (h.firewallRules?.length) {
        new Firewall(this, `firewall-${h.name}`, {
          name: terraformLiteral(resourceName(fleet, h.name)),
          // One droplet: far below the API's 10 droplet IDs per firewall.
          dropletIds: [Token.asNumber(droplets[i].id)],
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

  /**
   * The droplets' `ssh_keys` per CloudSshKeys. Droplets take MD5 fingerprints,
   * which are the same whether a key was there before or is uploaded now, so
   * `auto` only decides per key whether to upload it: not when the account
   * holds a key with that fingerprint under another name than the one this
   * fleet gives its own uploads (those are in its state already).
   */
  private adminKeys(fleet: FleetDeclaration, mode: CloudSshKeys): { keyRefs: string[]; keyResources: SshKey[] } {
    if (typeof mode === 'object') return { keyRefs: terraformLiterals(mode.existing), keyResources: [] };
    const fingerprints = fleet.adminSshKeys.map(sshKeyMd5Fingerprint);
    const account = mode === 'auto'
      ? new DataDigitaloceanSshKeys(this, 'account-ssh-keys', { filter: [{ key: 'fingerprint', values: fingerprints }] })
      : undefined;
    const keyResources = fleet.adminSshKeys.map((key, i) => {
      const name = resourceName(fleet, `admin-${keyFingerprintSuffix(key)}`);
      const uploaded = new SshKey(this, `admin-key-${keyFingerprintSuffix(key)}`, {
        name: terraformLiteral(name),
        publicKey: terraformLiteral(key.trim()),
      });
      if (account) {
        const all = `data.digitalocean_ssh_keys.${account.friendlyUniqueId}.ssh_keys`;
        uploaded.addOverride('count', `\${length([for k in ${all} : k if k.fingerprint == "${fingerprints[i]}" && k.name != ${hclStringLiteral(name)}]) > 0 ? 0 : 1}`);
      }
      return uploaded;
    });
    // With `upload`, reference the new keys' IDs; with `auto`, the fingerprints.
    return { keyRefs: account ? fingerprints : keyResources.map((k) => k.id), keyResources: account ? keyResources : [] };
  }
}

function toInboundRule(rule: FirewallRule): FirewallInboundRule {
  return {
    protocol: terraformLiteral(rule.protocol),
    ...(rule.protocol === 'icmp' ? {} : { portRange: terraformLiteral(rule.port!) }),
    sourceAddresses: terraformLiterals(rule.sourceCidrs),
  };
}
