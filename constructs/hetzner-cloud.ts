/**
 * HetznerCloud: the Hetzner Cloud adapter.
 *
 * Creates the provider (token from HCLOUD_TOKEN, read by the provider at apply
 * time, never by us), one SSH key per admin key, the private network and its
 * subnet, a firewall, and one server per host with a fixed private IP.
 */
import { Construct } from 'constructs';
import { TerraformLocal, Token } from 'cdktf';
import { HcloudProvider } from '../.gen/providers/hcloud/provider';
import { Firewall, FirewallRule as HcloudFirewallRule } from '../.gen/providers/hcloud/firewall';
import { Network } from '../.gen/providers/hcloud/network';
import { NetworkSubnet } from '../.gen/providers/hcloud/network-subnet';
import { Server } from '../.gen/providers/hcloud/server';
import { SshKey } from '../.gen/providers/hcloud/ssh-key';
import { DataHcloudSshKeys } from '../.gen/providers/hcloud/data-hcloud-ssh-keys';
import {
  CloudAdapter, CloudAdapterProps, CloudDiagram, CloudResourceName, ProvisionedHost, baseInboundRules, checkUniqueNames,
  resourceName,
} from './cloud-adapter';
import { CloudSshKeys, FirewallRule, FleetDeclaration, HetznerHost, HostDeclaration, HostSystem } from './fleet-declaration';
import { HETZNER_LOCATIONS, HETZNER_RETIRED_SERVER_TYPES, HETZNER_SERVER_TYPES, HETZNER_ZONES, NIX_SYSTEM_OF_ARCHITECTURE, hetznerServerTypeProblem } from './hetzner-catalogue';
import { hclStringLiteral, terraformLiteral, terraformLiteralMap, terraformLiterals } from './terraform-literal';
import {
  FieldSpecs, Problems, checkFields, cidrContains, cidrContainsIp, hostWhere, intToIpv4, ipv4ToInt, isRfc1918,
  keyFingerprintSuffix, parseIpv4Cidr, show, sshKeyMd5Fingerprint, validateCloudSshKeys,
} from './validation';

/** The label every resource the fleet creates carries: `fleet=<name>`. */
const FLEET_LABEL = 'fleet';

const NETWORK_FIELDS: FieldSpecs = {
  ipRange: { type: 'string', required: true },
  subnetRange: { type: 'string', required: true },
  networkZone: { type: 'string', required: true },
  sshKeys: { type: 'string|object' },
};

/** The base image nixos-infect converts, unless a host sets `image`. */
export const HETZNER_DEFAULT_IMAGE = 'debian-12';

/**
 * The platform of a Hetzner server type, from the catalogue. A type the
 * catalogue does not list yet (allowUncataloguedType) goes by its line: CAX is
 * Ampere (arm64), every other line (CX, CPX, CCX) x86_64.
 */
function hetznerSystem(serverType: string): HostSystem {
  const known = HETZNER_SERVER_TYPES[serverType];
  if (known) return NIX_SYSTEM_OF_ARCHITECTURE[known.architecture];
  return serverType.startsWith('cax') ? 'aarch64-linux' : 'x86_64-linux';
}

/** Props of HetznerCloud: the shared adapter props (see CloudAdapterProps). */
export type HetznerCloudProps = CloudAdapterProps;

export class HetznerCloud extends Construct implements CloudAdapter {
  public static readonly cloud = 'hetzner' as const;

  public static readonly fleetFields: FieldSpecs = { hetzner: { type: 'object' } };

  public static readonly hostFields: FieldSpecs = {
    serverType: { type: 'string', required: true },
    allowUncataloguedType: { type: 'boolean' },
    location: { type: 'string', required: true },
    image: { type: 'string' },
    privateIp: { type: 'string', required: true },
  };

  public static validate(fleet: FleetDeclaration, hosts: HostDeclaration[], problems: Problems): void {
    const net = fleet.hetzner;
    if (!net) {
      problems.add('fleet', 'hetzner', `is required because ${hosts.length} host(s) are on Hetzner (ipRange, subnetRange, networkZone)`);
      return;
    }
    if (!checkFields(net, NETWORK_FIELDS, 'fleet', 'hetzner', problems, 'a Hetzner network')) return;
    // Server ssh_keys take key names or IDs (the provider resolves both).
    validateCloudSshKeys(net.sshKeys, 'hetzner.sshKeys', problems,
      (ref) => (ref.trim() === '' || ref.length > 255 || /[\x00-\x1f]/.test(ref) ? 'must be a key name or ID as shown in the Hetzner console' : undefined));
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
      if (!/^[a-z0-9]+$/.test(h.serverType)) {
        problems.add(where, 'serverType', `must be a Hetzner server type like "cx23", got ${show(h.serverType)}`);
      } else {
        const why = hetznerServerTypeProblem(h.serverType, h.location);
        const uncatalogued = !(h.serverType in HETZNER_SERVER_TYPES) && !(h.serverType in HETZNER_RETIRED_SERVER_TYPES);
        if (why && !(uncatalogued && h.allowUncataloguedType === true)) problems.add(where, 'serverType', why);
      }
      if (h.image !== undefined && !/^[a-z0-9][a-z0-9._-]*$/.test(h.image)) problems.add(where, 'image', `is not an image name: ${show(h.image)}`);
      if (!HETZNER_LOCATIONS.includes(h.location)) {
        problems.add(where, 'location', `must be one of ${HETZNER_LOCATIONS.join(', ')}; got ${show(h.location)}`);
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
      if ((h.tags ?? []).includes(FLEET_LABEL)) {
        problems.add(where, 'tags', `cannot hold ${show(FLEET_LABEL)} on Hetzner: tags become labels, and the ${show(FLEET_LABEL)} label names the fleet`);
      }
      const serverName = `${fleet.serverNamePrefix ?? ''}${h.name}`;
      if (serverName.length > 63) problems.add(where, 'name', `with serverNamePrefix gives the server name ${show(serverName)}, longer than 63`);
    }
    checkUniqueNames(HetznerCloud.cloudNames(fleet, hosts as HetznerHost[]), problems);
  }

  /** Every name this adapter creates in the Hetzner project. */
  private static cloudNames(fleet: FleetDeclaration, hosts: HetznerHost[]): CloudResourceName[] {
    const mode = fleet.hetzner?.sshKeys ?? 'auto';
    return [
      { kind: 'network', name: fleet.name, where: 'fleet', field: 'name' },
      { kind: 'firewall', name: resourceName(fleet, 'base'), where: 'fleet', field: 'name' },
      ...(typeof mode === 'string' && Array.isArray(fleet.adminSshKeys) ? fleet.adminSshKeys.map((k, i) => (
        { kind: 'SSH key', name: resourceName(fleet, `admin-${keyFingerprintSuffix(k)}`), where: 'fleet', field: `adminSshKeys[${i}]` })) : []),
      ...hosts.flatMap((h) => [
        { kind: 'server', name: `${fleet.serverNamePrefix ?? ''}${h.name}`, where: hostWhere(h.name), field: 'name' },
        ...(h.firewallRules?.length ? [{ kind: 'firewall', name: resourceName(fleet, h.name), where: hostWhere(h.name), field: 'name' }] : []),
      ]),
    ];
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
    const fleetLabels = terraformLiteralMap({ [FLEET_LABEL]: fleet.name });

    const keyIds = this.adminKeyIds(fleet, net.sshKeys ?? 'auto', fleetLabels);

    const network = new Network(this, 'network', {
      name: terraformLiteral(fleet.name),
      ipRange: terraformLiteral(net.ipRange),
      labels: fleetLabels,
    });
    const subnet = new NetworkSubnet(this, 'subnet', {
      networkId: Token.asNumber(network.id),
      type: 'cloud',
      networkZone: terraformLiteral(net.networkZone),
      ipRange: terraformLiteral(net.subnetRange),
    });

    const baseFirewall = new Firewall(this, 'firewall', {
      name: terraformLiteral(resourceName(fleet, 'base')),
      labels: fleetLabels,
      rule: baseInboundRules(fleet).map(toHcloudRule),
    });

    const range = parseIpv4Cidr(net.ipRange)!;
    // Each attribute read creates a token (and cdktf records a stack trace for
    // it): read shared ones once, not once per host. It keeps synth fast.
    const networkId = Token.asNumber(network.id);
    const baseFirewallId = Token.asNumber(baseFirewall.id);
    this.hosts = (props.hosts as HetznerHost[]).map((h) => {
      const firewallIds = [baseFirewallId];
      if (h.firewallRules?.length) {
        const own = new Firewall(this, `firewall-${h.name}`, {
          name: terraformLiteral(resourceName(fleet, h.name)),
          labels: fleetLabels,
          rule: h.firewallRules.map(toHcloudRule),
        });
        firewallIds.push(Token.asNumber(own.id));
      }
      const server = new Server(this, `server-${h.name}`, {
        name: terraformLiteral(`${fleet.serverNamePrefix ?? ''}${h.name}`),
        serverType: terraformLiteral(h.serverType),
        image: terraformLiteral(h.image ?? HETZNER_DEFAULT_IMAGE),
        location: terraformLiteral(h.location),
        sshKeys: keyIds,
        labels: terraformLiteralMap(Object.fromEntries([[FLEET_LABEL, fleet.name], ...(h.tags ?? []).map((t) => [t, ''])])),
        firewallIds,
        publicNet: [{ ipv4Enabled: true, ipv6Enabled: true }],
        // aliasIps: [] avoids a detach/re-attach on every apply (provider quirk with Terraform ≥ 1.4).
        network: [{ networkId, ip: terraformLiteral(h.privateIp), aliasIps: [] }],
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
        // The server's one network block: the API reports the private NIC's MAC, so NixOS
        // finds that interface by it (nix/modules/private-network.sh), whatever its name.
        privateNetwork: {
          routeCidr: net.ipRange, gateway: intToIpv4(range.network + 1), prefixLength: 32, macAddress: server.network.get(0).macAddress,
        },
        infectProvider: 'hetznercloud',
        installTrigger: server.id,
        installAfter: [server],
        alreadyNixos: false,
      } satisfies ProvisionedHost;
    });
  }

  /**
   * The `ssh_keys` every server gets, per CloudSshKeys. `auto` reads the
   * project's keys at plan time and uploads an admin key only when no key
   * with its fingerprint exists, except keys labelled as this fleet's: those
   * are the ones it uploaded itself, and its state manages them.
   */
  private adminKeyIds(fleet: FleetDeclaration, mode: CloudSshKeys, labels: Record<string, string>): string[] {
    if (typeof mode === 'object') return terraformLiterals(mode.existing);
    const upload = (key: string): SshKey => new SshKey(this, `admin-key-${keyFingerprintSuffix(key)}`, {
      name: terraformLiteral(resourceName(fleet, `admin-${keyFingerprintSuffix(key)}`)),
      publicKey: terraformLiteral(key.trim()),
      labels,
    });
    if (mode === 'upload') return fleet.adminSshKeys.map((k) => upload(k).id);
    // Every key of the project, no filter: the fingerprints are compared below.
    const project = new DataHcloudSshKeys(this, 'project-ssh-keys', {});
    const all = `data.hcloud_ssh_keys.${project.friendlyUniqueId}.ssh_keys`;
    const parts = fleet.adminSshKeys.map((k) => {
      const found = `[for k in ${all} : tostring(k.id) if k.fingerprint == "${sshKeyMd5Fingerprint(k)}" && lookup(k.labels, "${FLEET_LABEL}", "") != ${hclStringLiteral(fleet.name)}]`;
      const key = upload(k);
      key.addOverride('count', `\${length(${found}) > 0 ? 0 : 1}`);
      return `${found}, hcloud_ssh_key.${key.friendlyUniqueId}[*].id`;
    });
    const ids = new TerraformLocal(this, 'admin-ssh-key-ids', `\${concat(${parts.join(', ')})}`);
    return ids.asList;
  }
}

function toHcloudRule(rule: FirewallRule): HcloudFirewallRule {
  return {
    direction: 'in',
    protocol: terraformLiteral(rule.protocol),
    ...(rule.protocol === 'icmp' ? {} : { port: terraformLiteral(rule.port!) }),
    sourceIps: terraformLiterals(rule.sourceCidrs),
    ...(rule.description ? { description: terraformLiteral(rule.description) } : {}),
  };
}
