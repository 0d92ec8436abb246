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

/** Name of the output with every host's facts, by host name. */
export const HOSTS_OUTPUT = 'hosts';

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
  /** Every addOverride() on the stack itself, in order (see toTerraform()). */
  private readonly stackOverrides: [string, unknown][] = [];

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
    const hostsOutput: Record<string, Record<string, unknown>> = {};
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
      hostsOutput[host.name] = {
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
      };
    }
    // One output for the whole fleet (not one per host): what `npm run hive` and
    // `npm run secrets:recipients` read, and a tenth of the elements cdktf resolves.
    new TerraformOutput(this, HOSTS_OUTPUT, {
      staticId: true,
      description: 'Facts about every host, by host name (read by npm run hive and npm run secrets:recipients)',
      value: hostsOutput,
    });
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

  public addOverride(path: string, value: unknown): void {
    super.addOverride(path, value);
    this.stackOverrides.push([path, value]);
  }

  /**
   * cdktf's toTerraform() resolves each element's fragment, merges the fragments and
   * then resolves the merged stack a second time. A resolved fragment holds no tokens,
   * so that second pass over every host's resources (a seventh of a large fleet's
   * synth) changes nothing; only the small rest needs it: the "//" block and the
   * stack's own overrides. This builds the same JSON with the fragments resolved once.
   * When an override is not a plain value (a token, a list, an object, a deletion),
   * cdktf's own toTerraform() runs. __tests__/fleet-stack.test.ts checks that both
   * give the same JSON.
   */
  public toTerraform(): any {
    const plain = (v: unknown): boolean => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') && !holdsTokens(v);
    if (!this.stackOverrides.every(([, v]) => plain(v))) return super.toTerraform();
    const resolver = new DefaultTokenResolver(new StringConcat());
    const resolve = (value: unknown): any => Tokenization.resolve(value, { scope: this, preparing: false, resolver });
    const elements = this.node.findAll().filter(
      (c): c is TerraformElement => TerraformElement.isTerraformElement(c) && c.cdktfStack === this,
    );
    // The "//" block as cdktf writes it: the stack's metadata, and the outputs by construct path.
    const metadata: Record<string, unknown> = {
      version: this.node.tryGetContext('cdktfVersion'),
      stackName: this.node.id,
      backend: 'local', // a backend element's metadata overwrites it
      ...(this.stackOverrides.length > 0 ? { overrides: { stack: [...new Set(this.stackOverrides.map(([p]) => p.split('.')[0]))] } } : {}),
    };
    const outputs: Record<string, unknown> = {};
    for (const e of elements) {
      mergeResolved(metadata, resolve(e.toMetadata()));
      if (TerraformOutput.isTerraformOutput(e)) {
        const parts = e.node.path.split('/');
        let at = outputs;
        for (const part of parts.slice(0, -1)) at = (at[part] ??= {}) as Record<string, unknown>;
        at[parts[parts.length - 1]] = e.friendlyUniqueId;
      }
    }
    const tf: Record<string, unknown> = resolve({ '//': { metadata, outputs } });
    for (const e of elements) mergeResolved(tf, resolve(e.toTerraform()));
    for (const [p, value] of this.stackOverrides) {
      const parts = p.split('.');
      let at = tf;
      for (const part of parts.slice(0, -1)) {
        if (at[part] === null || typeof at[part] !== 'object' || Array.isArray(at[part])) at[part] = {};
        at = at[part] as Record<string, unknown>;
      }
      at[parts[parts.length - 1]] = value;
    }
    return tf;
  }
}

/**
 * Merges resolved Terraform JSON (no tokens, no undefined) into `target` the way cdktf
 * merges fragments: objects key by key, lists appended, anything else replaced.
 */
function mergeResolved(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    const have = target[key];
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      if (have === null || typeof have !== 'object' || Array.isArray(have)) target[key] = {};
      mergeResolved(target[key] as Record<string, unknown>, value as Record<string, unknown>);
    } else if (Array.isArray(value) && Array.isArray(have)) {
      target[key] = [...have, ...value];
    } else {
      target[key] = value;
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
