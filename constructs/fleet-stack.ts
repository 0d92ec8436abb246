/**
 * FleetStack: the whole `cdktf deploy` for one fleet.
 *
 * Data flows one way: declaration → validation → cloud adapters (servers,
 * networks, firewalls) → NixosInstall per host → outputs (per-host facts and
 * the generated hive.nix) → the handoff script on the user's machine.
 */
import { Construct } from 'constructs';
import { CloudBackend, NamedCloudWorkspace, TerraformOutput, TerraformStack, TerraformVariable } from 'cdktf';
import { ProvisionedHost } from './cloud-adapter';
import { CLOUD_ADAPTERS } from './clouds';
import { ColmenaHive } from './colmena-hive';
import { DEFAULT_NIX_CHANNEL, FleetDeclaration } from './fleet-declaration';
import { hostsOf, validateFleet } from './fleet-validation';
import { NixosInstall } from './nixos-install';
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
    for (const host of this.hosts) {
      const decl = fleet.hosts.find((h) => h.name === host.name)!;
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
          cloud: host.cloud,
          location: host.location,
          public_ipv4: host.publicIpv4,
          public_ipv6: host.publicIpv6,
          private_ip: host.privateIp,
          ssh_address: host.sshAddress,
          ssh_user: host.sshUser,
          ssh_port: host.sshPort,
          tags: host.tags,
        },
      });
    }
    this.installs = installs;

    // Published only after every host runs NixOS (the installs' ready steps).
    new ColmenaHive(this, 'hive', { fleet, hosts: this.hosts, dependsOn: [...installs.values()].map((i) => i.ready) });
  }
}
