/**
 * FleetStack: the whole `cdktf deploy` for one fleet.
 *
 * Data flows one way: declaration → validation → cloud adapters (servers,
 * networks, firewalls) → NixosInstall per host → outputs (per-host facts and
 * the generated hive.nix) → the handoff script on the user's machine.
 */
import { Construct } from 'constructs';
import {
  CloudBackend, DefaultTokenResolver, NamedCloudWorkspace, StringConcat, TerraformElement, TerraformOutput, TerraformStack,
  TerraformVariable, Token, Tokenization,
} from 'cdktf';
import { ProvisionedHost } from './cloud-adapter';
import { CLOUD_ADAPTERS } from './clouds';
import { ColmenaHive } from './colmena-hive';
import { DEFAULT_NIX_CHANNEL, FleetDeclaration } from './fleet-declaration';
import { hostsOf, validateFleet } from './fleet-validation';
import { NixosInstall } from './nixos-install';
import { terraformTemplateSafe } from './nix';
import { terraformLiteral, terraformLiterals } from './terraform-literal';
import { TerraformCloudSettings } from './terraform-cloud';

export interface FleetStackProps {
  /** The fleet, as declared in main.ts. */
  readonly fleet: FleetDeclaration;
  /**
   * Run in Terraform Cloud (remote state and runs). Use
   * `terraformCloudSettings(process.env, context)` in the app to read it.
   * @default - local backend (state file next to the project)
   */
  readonly terraformCloud?: TerraformCloudSettings;
}

/** Name of the sensitive Terraform variable that may carry the SSH private key. */
export const SSH_PRIVATE_KEY_VARIABLE = 'ssh_private_key';

export class FleetStack extends TerraformStack {
  /** Every host with its facts, in declaration order. */
  public readonly hosts: ProvisionedHost[];
  /** The install of each host that gets one, by host name. */
  public readonly installs: ReadonlyMap<string, NixosInstall>;
  /**
   * The Terraform elements this constructor made, when they can only refer to this
   * stack (the declaration holds no tokens): prepareStack() need not look at them.
   */
  private readonly selfContained: ReadonlySet<TerraformElement>;

  constructor(scope: Construct, id: string, props: FleetStackProps) {
    super(scope, id);
    const fleet = props.fleet;
    validateFleet(fleet, CLOUD_ADAPTERS).throwIfAny();
    // terraform_data needs Terraform 1.4; Terraform checks this itself at init.
    this.addOverride('terraform.required_version', '>= 1.4');

    const remote = props.terraformCloud;
    if (remote) {
      new CloudBackend(this, {
        organization: remote.organization,
        workspaces: new NamedCloudWorkspace(remote.workspace, remote.project),
        ...(remote.hostname ? { hostname: remote.hostname } : {}),
      });
    }

    // Locally the key may come from the ssh-agent (empty default). Terraform
    // Cloud workers have no agent and no access to your disk: there the key
    // must be a sensitive workspace variable, so it is required.
    const sshPrivateKey = new TerraformVariable(this, SSH_PRIVATE_KEY_VARIABLE, {
      type: 'string',
      sensitive: true,
      nullable: false,
      ...(remote ? {} : { default: '' }),
      description: remote
        ? 'SSH private key for the install step (set it as a sensitive Terraform variable in the workspace).'
        : 'SSH private key for the install step. Empty: use the ssh-agent.',
      ...(remote ? {
        validation: [{
          condition: `\${length(var.${SSH_PRIVATE_KEY_VARIABLE}) > 0}`,
          errorMessage: `Set ${SSH_PRIVATE_KEY_VARIABLE} as a sensitive Terraform variable in the workspace: Terraform Cloud has no ssh-agent.`,
        }],
      } : {}),
    });
    sshPrivateKey.overrideLogicalId(SSH_PRIVATE_KEY_VARIABLE);

    const provisioned = new Map<string, ProvisionedHost>();
    for (const Adapter of CLOUD_ADAPTERS) {
      const hosts = hostsOf(fleet, Adapter.cloud);
      if (hosts.length === 0) continue; // no provider, no resources for an unused cloud
      const adapter = new Adapter(this, Adapter.cloud, { fleet, hosts });
      for (const h of adapter.hosts) provisioned.set(h.name, h);
    }
    this.hosts = fleet.hosts.map((h) => provisioned.get(h.name)!);

    const installs = new Map<string, NixosInstall>();
    const declared = new Map(fleet.hosts.map((h) => [h.name, h]));
    for (const host of this.hosts) {
      const decl = declared.get(host.name)!;
      if (!host.alreadyNixos) {
        const installer = decl.installer ?? fleet.installer;
        const limits = { ...fleet.install, ...decl.install };
        installs.set(host.name, new NixosInstall(this, `install-${host.name}`, {
          ...limits,
          // The conversion keeps only the users its configuration declares.
          ...(host.sshUser !== 'root' ? { adminUser: { name: host.sshUser, authorizedKeys: fleet.adminSshKeys } } : {}),
          hostName: host.name,
          address: host.sshAddress,
          user: host.sshUser,
          port: host.sshPort,
          provider: host.infectProvider,
          nixChannel: decl.nixChannel ?? fleet.nixChannel ?? DEFAULT_NIX_CHANNEL,
          installerUrl: installer?.url,
          installerSha256: installer?.sha256,
          trigger: host.installTrigger,
          dependsOn: host.installAfter,
          hostKey: host.hostKey,
          sshPrivateKey,
          agentFallback: !remote,
        }));
      }
      new TerraformOutput(this, `host_${host.name}`, {
        staticId: true,
        description: `Facts about host ${host.name}`,
        value: {
          // Declared text escaped, cloud references (addresses of new servers) kept.
          cloud: host.cloud,
          location: terraformTemplateSafe(host.location),
          public_ipv4: terraformTemplateSafe(host.publicIpv4),
          public_ipv6: terraformTemplateSafe(host.publicIpv6),
          private_ip: terraformTemplateSafe(host.privateIp),
          ssh_address: terraformTemplateSafe(host.sshAddress),
          ssh_user: terraformLiteral(host.sshUser),
          ssh_port: host.sshPort,
          tags: terraformLiterals(host.tags),
        },
      });
    }
    this.installs = installs;

    // Published only after every host runs NixOS (the installs' ready steps).
    new ColmenaHive(this, 'hive', { fleet, hosts: this.hosts, dependsOn: [...installs.values()].map((i) => i.ready) });

    this.selfContained = holdsTokens(fleet) ? new Set() : new Set(this.node.findAll().filter(
      (c): c is TerraformElement => TerraformElement.isTerraformElement(c) && c.cdktfStack === this,
    ));
  }

  /**
   * cdktf's prepareStack() resolves every element once, in "preparing" mode, for one
   * purpose: to find references to another stack's resources and wire them through
   * outputs and remote state. It is a third of a large fleet's synth time, and for
   * the elements made above it finds nothing: they refer to this stack's resources
   * and to a declaration without tokens. So only the other elements (anything added
   * to this stack later, the default backend) get that pass, exactly as cdktf does it.
   * A declaration that holds tokens (a value from another stack) gets the full pass.
   */
  public prepareStack(): void {
    if (this.selfContained.size === 0) {
      super.prepareStack();
      return;
    }
    this.ensureBackendExists();
    const resolver = new DefaultTokenResolver(new StringConcat());
    for (const c of this.node.findAll()) {
      if (TerraformElement.isTerraformElement(c) && c.cdktfStack === this && !this.selfContained.has(c)) {
        Tokenization.resolve(c.toTerraform(), { scope: this, preparing: true, resolver });
      }
    }
  }
}

/** Whether any string or number anywhere in `value` is an unresolved cdktf token. */
export function holdsTokens(value: unknown): boolean {
  if (typeof value === 'string' || typeof value === 'number') return Token.isUnresolved(value);
  if (Array.isArray(value)) return value.some(holdsTokens);
  if (value !== null && typeof value === 'object') {
    return Token.isUnresolved(value) || Object.values(value).some(holdsTokens);
  }
  return false;
}
