/**
 * The contract between the fleet stack and the clouds.
 *
 * A cloud adapter is a construct that takes the fleet's hosts of one cloud,
 * creates that cloud's resources and returns, per host, the facts the rest of
 * the pipeline needs (`ProvisionedHost`). The install step and the hive only
 * ever see `ProvisionedHost`, never a cloud resource: adding a cloud is adding
 * one adapter file and listing it in `clouds.ts`.
 */
import { Construct } from 'constructs';
import { ITerraformDependable } from 'cdktf';
import { CloudName, FleetDeclaration, FirewallRule, HostDeclaration, HostSystem } from './fleet-declaration';
import { FieldSpecs, Problems } from './validation';

/** What the hive needs to fix the host's private network after nixos-infect. */
export interface PrivateNetworkFacts {
  /** The whole private range to route (Hetzner network range, DigitalOcean VPC range). */
  readonly routeCidr: string;
  /**
   * Gateway for `routeCidr`; undefined when the range is on-link.
   * @default - on-link
   */
  readonly gateway?: string;
  /** Prefix length of the host's private address on its interface. */
  readonly prefixLength: number;
  /**
   * MAC address of the private NIC when the cloud tells Terraform (a token), else undefined.
   * @default - match the interface by address instead
   */
  readonly macAddress?: string;
}

/** One host after its cloud adapter ran: plain values or Terraform tokens. */
export interface ProvisionedHost {
  readonly name: string;
  readonly cloud: CloudName;
  /** Location / region / `existing`. */
  readonly location: string;
  /** The host's platform (Hetzner CAX types are aarch64-linux); the hive sets nixpkgs.hostPlatform from it. */
  readonly system: HostSystem;
  readonly tags: string[];
  /** Address SSH (install, Colmena) connects to. */
  readonly sshAddress: string;
  readonly sshUser: string;
  readonly sshPort: number;
  /** Public IPv4, '' when none. */
  readonly publicIpv4: string;
  /** Public IPv6, '' when none. */
  readonly publicIpv6: string;
  /** Private IPv4, '' when none. */
  readonly privateIp: string;
  /** The private network, when the host is on one the fleet manages. */
  readonly privateNetwork?: PrivateNetworkFacts;
  /** nixos-infect's PROVIDER for this cloud. */
  readonly infectProvider: string;
  /** Changes exactly when the machine is a new one (server id): re-runs the install. */
  readonly installTrigger: string;
  /** The install waits for these (server, network attachment). */
  readonly installAfter: ITerraformDependable[];
  /** True when the host runs NixOS already and must not be installed. */
  readonly alreadyNixos: boolean;
  /**
   * SSH host public key the install must see, when known in advance.
   * @default - not checked
   */
  readonly hostKey?: string;
}

/** Props every cloud adapter takes. */
export interface CloudAdapterProps {
  readonly fleet: FleetDeclaration;
  /** The fleet's hosts of this adapter's cloud (never empty). */
  readonly hosts: HostDeclaration[];
}

export interface CloudAdapter extends Construct {
  readonly hosts: ProvisionedHost[];
}

/** One line of facts in the fleet diagram; the renderer decides the look. */
export interface DiagramFact {
  readonly text: string;
  /** Draw it prominently (addresses, ranges). @default false */
  readonly emphasis?: boolean;
  /** Draw it subdued (derived or secondary facts). @default false */
  readonly muted?: boolean;
}

/** How a cloud presents itself in `npm run diagram`: plain data, no markup. */
export interface CloudDiagram {
  readonly title: string;
  /** The cloud's colour (#rrggbb) for its cluster. */
  readonly color: string;
  /** The private network the cloud's hosts attach to. @default - none */
  readonly network?: { readonly title: string; readonly facts: DiagramFact[] };
  /** Cloud-specific facts about one host (the diagram adds tags, rules and module). */
  hostFacts(host: HostDeclaration): DiagramFact[];
}

/** The static side of an adapter class: its cloud, its validation, its constructor. */
export interface CloudAdapterClass {
  readonly cloud: CloudName;
  /** The JSON types of this cloud's host fields (on top of HOST_BASE_FIELDS), checked before any value. */
  readonly hostFields: FieldSpecs;
  /** The fleet-level fields this cloud adds (its network section), checked the same way. */
  readonly fleetFields: FieldSpecs;
  /** Adds every problem of the fleet's hosts of this cloud (and of the cloud's network). */
  validate(fleet: FleetDeclaration, hosts: HostDeclaration[], problems: Problems): void;
  /** What the fleet diagram shows for this cloud. Pure: no resources are created. */
  describe(fleet: FleetDeclaration): CloudDiagram;
  /**
   * Environment `npm run deploy` sets for this cloud's provider unless the user
   * set it (a wide apply can exceed an API's rate limit).
   * @default - none
   */
  readonly deployEnvironment?: readonly DeployVariable[];
  new (scope: Construct, id: string, props: CloudAdapterProps): CloudAdapter;
}

/** One environment variable `npm run deploy` sets, and what it says about it. */
export interface DeployVariable {
  readonly name: string;
  readonly value: string;
  /** Shown before the deploy starts, e.g. "DigitalOcean API at most 4 requests/s". */
  readonly notice: string;
}

/** Rules every cloud host gets: SSH from the admins, ping from anywhere. */
export function baseInboundRules(fleet: FleetDeclaration): FirewallRule[] {
  return [
    { protocol: 'tcp', port: '22', sourceCidrs: [...fleet.adminCidrs], description: 'SSH from admins' },
    { protocol: 'icmp', sourceCidrs: ['0.0.0.0/0', '::/0'], description: 'ping' },
    ...(fleet.firewallRules ?? []),
  ];
}

/** Stable, readable resource name `<fleet>-<suffix>`. */
export function resourceName(fleet: FleetDeclaration, suffix: string): string {
  return `${fleet.name}-${suffix}`;
}

/** One name the fleet will create in a cloud project, and who it is for. */
export interface CloudResourceName {
  /** The kind of cloud object: names are unique per kind and project. */
  readonly kind: string;
  readonly name: string;
  /** Where the name comes from, as problems name it (`fleet`, `host "web-1"`). */
  readonly where: string;
  /** The field that produced the name. */
  readonly field: string;
}

/**
 * Reports every name that two objects of one kind would share: the cloud
 * refuses the second at apply, halfway through a deploy.
 */
export function checkUniqueNames(names: readonly CloudResourceName[], problems: Problems): void {
  const seen = new Map<string, CloudResourceName>();
  for (const n of names) {
    const key = `${n.kind}\u0000${n.name}`;
    const first = seen.get(key);
    if (!first) {
      seen.set(key, n);
    } else {
      problems.add(n.where, n.field, `gives the ${n.kind} name ${JSON.stringify(n.name)}, which ${first.where} (${first.field}) already gives; `
        + 'names are unique per cloud project');
    }
  }
}
