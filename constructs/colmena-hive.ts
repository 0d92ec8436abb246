/**
 * ColmenaHive: the generated hive.nix, as the stack output `hive_nix`.
 *
 * The hive is data: `import ./nix/hive.nix { fleet = ...; hosts = ...; }`.
 * All its Nix logic lives in nix/ (the builder and its modules), which a Nix
 * user reads, changes and tests as Nix. `npm run hive` writes the output to
 * hive.nix at the project root, next to nix/, hosts/ (modules, and the facts
 * copied from each host), secrets/ and the pins nixpkgs.json / sops-nix.json;
 * `colmena apply` (Colmena 0.4 or 0.5) deploys it. Addresses are Terraform
 * references, substituted when Terraform computes the output, so the hive is
 * complete only after `cdktf deploy`.
 *
 * Every value enters the Nix text through constructs/nix.ts (Nix escaping),
 * and the finished text passes once through `terraformTemplateSafe`
 * (Terraform escaping) — see that file for the two layers. Its only `${` are
 * the Terraform references of computed addresses; Nix antiquotations live in
 * the static files, which Terraform never sees.
 */
import { Construct } from 'constructs';
import { Fn, ITerraformDependable, TerraformLocal, TerraformOutput, Token, dependable } from 'cdktf';
import { ProvisionedHost } from './cloud-adapter';
import { DEFAULT_NIX_CHANNEL, FleetDeclaration, HOST_SYSTEMS, HostDeclaration } from './fleet-declaration';
import { NixValue, isNixRelativePath, nix, nixAttrs, nixComment, nixPath, terraformTemplateSafe } from './nix';
import { CHANNEL_PATTERN, Problems, USER_NAME_PATTERN, hostWhere, isDnsLabel, show } from './validation';

/** The stack output holding hive.nix. */
export const HIVE_OUTPUT_NAME = 'hive_nix';

/** system.stateVersion: a NixOS release (YY.05 and YY.11; YY.03 and YY.09 before 20.09). */
const STATE_VERSION_PATTERN = /^\d\d\.(03|05|09|11)$/;

/** Node names Colmena reserves for itself. */
export const COLMENA_RESERVED_NAMES: readonly string[] = ['meta', 'defaults', 'network'];

/** What the hive is rendered from (the construct's props without the Terraform wiring). */
export interface HiveRenderOptions {
  /** The fleet, as declared in main.ts (host modules, buildOnTarget, admin keys, channel). */
  readonly fleet: FleetDeclaration;
  /** Every host after its cloud adapter ran, in the order the nodes should appear. */
  readonly hosts: ProvisionedHost[];
  /**
   * The nixpkgs pin, relative to the project root: JSON `{ "channel", "rev", "sha256" }`.
   * Without the file the hive falls back to the fleet channel's tarball, with a warning.
   * @default 'nixpkgs.json'
   */
  readonly nixpkgsPinFile?: string;
  /**
   * Colmena's `meta.description`.
   * @default 'nixos-fleet "<fleet name>"'
   */
  readonly description?: string;
}

export interface ColmenaHiveProps extends HiveRenderOptions {
  /**
   * What the output waits for: the hosts' install `ready` steps, so the hive
   * is only published once every host runs NixOS.
   * @default []
   */
  readonly dependsOn?: ITerraformDependable[];
}

export class ColmenaHive extends Construct {
  /** The hive.nix text as it goes into the output: Terraform-escaped, with tokens for computed addresses. */
  public readonly text: string;
  /** The `hive_nix` output. */
  public readonly output: TerraformOutput;
  /** The local `hive_nix_parts`: the text in pieces, joined by Terraform into the output. */
  public readonly parts: TerraformLocal;

  constructor(scope: Construct, id: string, props: ColmenaHiveProps) {
    super(scope, id);
    // renderHive validates everything and throws before anything is created.
    this.text = terraformTemplateSafe(renderHive(props));
    // cdktf's string tokenizer costs (length x braces) for a string holding
    // tokens: one 1000-host hive string took seconds to synthesize. Pieces of
    // at most one token each resolve in linear time; Terraform joins them.
    this.parts = new TerraformLocal(this, 'hive_nix_parts', splitAfterTokens(this.text));
    this.parts.overrideLogicalId('hive_nix_parts');
    this.output = new TerraformOutput(this, HIVE_OUTPUT_NAME, {
      staticId: true,
      description: 'hive.nix for Colmena: `npm run hive` writes it next to nix/ and hosts/',
      value: Fn.join('', Token.asList(this.parts.expression)),
      // cdktf 0.21 writes an output's depends_on entries as "${type.name}",
      // which Terraform rejects ("A single static variable reference is
      // required"); `dependable()` resolves to the bare address resources use.
      dependsOn: (props.dependsOn ?? []).map((d) => ({ fqn: dependable(d) })),
    });
  }
}

/**
 * Cuts a string right after each cdktf token, so every piece holds at most
 * one. Cutting only there never splits a Terraform escape (`$${`, `%%{`):
 * the escaping helper never puts a literal `$` or `%` right before a token.
 */
export function splitAfterTokens(text: string): string[] {
  const parts: string[] = [];
  const token = /\$\{TfToken\[[^\]]*\]\}/g;
  let start = 0;
  for (let m = token.exec(text); m !== null; m = token.exec(text)) {
    parts.push(text.slice(start, token.lastIndex));
    start = token.lastIndex;
  }
  if (start < text.length || parts.length === 0) parts.push(text.slice(start));
  return parts;
}

/** The static hive builder, relative to the project root (next to hive.nix). */
export const HIVE_BUILDER = 'nix/hive.nix';

/** deployment.sshOptions with Colmena 0.5 unless the fleet says otherwise (colmena#166, #303: hangs on a host that went away). */
const DEFAULT_COLMENA_SSH_OPTIONS: readonly string[] = ['-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=4'];

/**
 * Renders hive.nix (Nix source; cdktf tokens stay in it as tokens): a comment
 * and `import ./nix/hive.nix { fleet = ...; hosts = ...; }`, every value
 * rendered by constructs/nix.ts. Pure: tests render literal values and
 * evaluate the result with nix-instantiate.
 */
export function renderHive(options: HiveRenderOptions): string {
  const { fleet, hosts } = options;
  const pinFile = options.nixpkgsPinFile ?? 'nixpkgs.json';
  validateHiveOptions(options, pinFile);
  const channel = fleet.nixChannel ?? DEFAULT_NIX_CHANNEL;
  const description = options.description ?? `nixos-fleet ${JSON.stringify(fleet.name)}`;
  const sshOptions = colmenaSshOptions(fleet);

  const header = nixComment(`hive.nix: the Colmena hive of the nixos-fleet fleet ${JSON.stringify(fleet.name)}.

GENERATED FILE, DO NOT EDIT: it is overwritten every time it is generated.
It is data only: what the stack knows about each host, handed to ./${HIVE_BUILDER},
which builds the hive (read it and ./nix/modules to see what each host gets).
Change main.ts, hosts/*.nix or nix/ instead, then regenerate:
  npx cdktf deploy     (the stack output ${HIVE_OUTPUT_NAME})
  npm run hive         (writes this file, copies hosts/<name>/{hardware-configuration,networking}.nix)
  colmena apply        (Colmena ${fleet.colmena?.version ?? '0.4'})
Next to it: nix/ (the builder), hosts/common.nix (every host), hosts/<name>.nix
(one host), hosts/<name>/ (facts copied from the host), ${pinFile} (nixpkgs pin),
secrets/<name>.yaml with sops-nix.json (sops-nix pin).`);

  const fleetData = nixAttrs([
    ['description', description],
    ['channel', channel],
    ['nixpkgsPin', nixPath(pinFile)],
    ['sopsNixPin', nixPath('sops-nix.json')],
    ['commonModule', nixPath('hosts/common.nix')],
    ['adminSshKeys', fleet.adminSshKeys.map((k) => k.trim())],
  ]);
  const hostsData = nixAttrs(hosts.map((host) => {
    const decl = fleet.hosts.find((h) => h.name === host.name)!;
    return [host.name, hostData(host, decl, fleet, sshOptions)] as const;
  }));
  return nix`${header}
import ${nixPath(HIVE_BUILDER)} {
  fleet = ${fleetData};
  hosts = ${hostsData};
}
`.code;
}

/** One host's entry in `hosts`: plain data (see the header of nix/hive.nix). */
function hostData(host: ProvisionedHost, decl: HostDeclaration, fleet: FleetDeclaration, sshOptions: readonly string[] | undefined): NixValue {
  const module = decl.module ?? `hosts/${host.name}.nix`;
  return {
    system: host.system,
    stateVersion: stateVersionOf(decl, fleet)!,
    // Public IPv4 for cloud hosts; an existing host's address as given (IPv4,
    // IPv6 without brackets, or a DNS name).
    targetHost: host.sshAddress,
    targetUser: host.sshUser,
    targetPort: host.sshPort,
    tags: [...new Set([host.cloud, host.location, ...host.tags])],
    buildOnTarget: decl.buildOnTarget ?? null,
    sshOptions: sshOptions ? [...(decl.sshOptions ?? sshOptions)] : null,
    module: nixPath(module),
    hardware: nixPath(`hosts/${host.name}/hardware-configuration.nix`),
    networking: nixPath(`hosts/${host.name}/networking.nix`),
    secrets: nixPath(`secrets/${host.name}.yaml`),
    privateNetwork: privateNetworkSettings(host) ?? null,
  };
}

/** The `fleet.privateNetwork` value of a host (nix/modules/private-network.nix), or undefined without a private network. */
function privateNetworkSettings(host: ProvisionedHost): NixValue | undefined {
  const net = host.privateNetwork;
  if (!net) return undefined;
  return {
    address: host.privateIp,
    prefixLength: net.prefixLength,
    routeCidr: net.routeCidr,
    gateway: net.gateway ?? null,
    macAddress: net.macAddress ?? null,
  };
}

/** `system.stateVersion` of a host: declared, else its channel's release; undefined for nixos-unstable. */
function stateVersionOf(decl: HostDeclaration, fleet: FleetDeclaration): string | undefined {
  if (decl.stateVersion !== undefined) return decl.stateVersion;
  const channel = decl.nixChannel ?? fleet.nixChannel ?? DEFAULT_NIX_CHANNEL;
  return /^nixos-(\d\d\.\d\d)$/.exec(channel)?.[1];
}

/** The sshOptions every node gets, or undefined when the hive must not set them (Colmena 0.4). */
function colmenaSshOptions(fleet: FleetDeclaration): readonly string[] | undefined {
  if ((fleet.colmena?.version ?? '0.4') === '0.4') return undefined;
  return fleet.colmena?.sshOptions ?? DEFAULT_COLMENA_SSH_OPTIONS;
}

const SSH_OPTIONS_SHAPE = 'must be a list of single words (Colmena joins them with spaces for NIX_SSHOPTS), like ["-o", "ServerAliveInterval=15"]';

function isSshOptionList(value: unknown): boolean {
  return Array.isArray(value) && value.every((o) => typeof o === 'string' && /^\S+$/.test(o));
}

function validateHiveOptions(options: HiveRenderOptions, pinFile: string): void {
  const { fleet, hosts } = options;
  const problems = new Problems();
  if (!isDnsLabel(fleet?.name)) problems.add('fleet', 'name', `must be an RFC 1123 label, got ${show(fleet?.name)}`);
  const channel = fleet.nixChannel ?? DEFAULT_NIX_CHANNEL;
  if (!CHANNEL_PATTERN.test(channel)) problems.add('fleet', 'nixChannel', `must be "nixos-YY.MM" or "nixos-unstable", got ${show(channel)}`);
  if (!Array.isArray(fleet.adminSshKeys) || fleet.adminSshKeys.length === 0
    || fleet.adminSshKeys.some((k) => typeof k !== 'string' || k.trim() === '')) {
    problems.add('fleet', 'adminSshKeys', 'must list at least one key: the hive sets root\'s authorized keys from it');
  }
  if (!isNixRelativePath(pinFile) || !pinFile.endsWith('.json')) {
    problems.add('hive', 'nixpkgsPinFile', `must be a relative path to a .json file inside the project, got ${show(pinFile)}`);
  }
  if (options.description !== undefined && typeof options.description !== 'string') {
    problems.add('hive', 'description', `must be a string, got ${show(options.description)}`);
  }
  const colmena = fleet.colmena ?? {};
  if (colmena.version !== undefined && colmena.version !== '0.4' && colmena.version !== '0.5') {
    problems.add('fleet', 'colmena.version', `must be "0.4" or "0.5", got ${show(colmena.version)}`);
  }
  if (colmena.sshOptions !== undefined) {
    if ((colmena.version ?? '0.4') === '0.4') {
      problems.add('fleet', 'colmena.sshOptions', 'needs Colmena 0.5 (colmena.version: "0.5"): Colmena 0.4 has no deployment.sshOptions and refuses the hive');
    } else if (!isSshOptionList(colmena.sshOptions)) {
      problems.add('fleet', 'colmena.sshOptions', SSH_OPTIONS_SHAPE);
    }
  }
  if (!Array.isArray(hosts) || hosts.length === 0) problems.add('hive', 'hosts', 'must list at least one host');
  const seen = new Set<string>();
  for (const host of hosts ?? []) {
    const where = hostWhere(String(host?.name));
    if (!isDnsLabel(host?.name)) {
      problems.add(where, 'name', 'must be an RFC 1123 label');
      continue;
    }
    if (COLMENA_RESERVED_NAMES.includes(host.name)) {
      problems.add(where, 'name', `is reserved by Colmena (${COLMENA_RESERVED_NAMES.join(', ')}): rename the host`);
    }
    if (seen.has(host.name)) problems.add(where, 'name', 'appears twice');
    seen.add(host.name);
    const decl = fleet.hosts?.find((h) => h.name === host.name);
    if (!decl) {
      problems.add(where, 'name', 'is not declared in the fleet');
      continue;
    }
    const module = decl.module ?? `hosts/${host.name}.nix`;
    if (!isNixRelativePath(module) || !module.endsWith('.nix')) {
      problems.add(where, 'module', `must be a relative path to a .nix file inside the project, got ${show(module)}`);
    }
    if (decl.buildOnTarget !== undefined && typeof decl.buildOnTarget !== 'boolean') problems.add(where, 'buildOnTarget', 'must be true or false');
    if (!HOST_SYSTEMS.includes(host.system)) problems.add(where, 'system', `must be one of ${HOST_SYSTEMS.join(', ')}, got ${show(host.system)}`);
    if (decl.stateVersion !== undefined && !STATE_VERSION_PATTERN.test(decl.stateVersion)) {
      problems.add(where, 'stateVersion', `must be a NixOS release "YY.MM" (like "26.05"), got ${show(decl.stateVersion)}`);
    } else if (stateVersionOf(decl, fleet) === undefined) {
      problems.add(where, 'stateVersion', 'is required: the host installs from nixos-unstable, whose release is not known in advance; '
        + 'set it to the release unstable is heading for when the host is installed (e.g. "26.11"), or for an installed host '
        + 'to the first two numbers of its `nixos-version`');
    }
    if (decl.sshOptions !== undefined) {
      if ((colmena.version ?? '0.4') === '0.4') {
        problems.add(where, 'sshOptions', 'needs Colmena 0.5 (the fleet\'s colmena.version: "0.5"): Colmena 0.4 has no deployment.sshOptions and refuses the hive');
      } else if (!isSshOptionList(decl.sshOptions)) {
        problems.add(where, 'sshOptions', SSH_OPTIONS_SHAPE);
      }
    }
    if (typeof host.sshAddress !== 'string' || host.sshAddress === '') problems.add(where, 'sshAddress', 'is empty');
    if (typeof host.sshUser !== 'string' || !USER_NAME_PATTERN.test(host.sshUser)) {
      problems.add(where, 'sshUser', `is not a user name: ${show(host.sshUser)}`);
    }
    if (!Token.isUnresolved(host.sshPort) && !(Number.isInteger(host.sshPort) && host.sshPort >= 1 && host.sshPort <= 65535)) {
      problems.add(where, 'sshPort', `must be 1-65535, got ${show(host.sshPort)}`);
    }
    if (!Array.isArray(host.tags) || host.tags.some((t) => typeof t !== 'string')) problems.add(where, 'tags', 'must be a list of strings');
    if (typeof host.sshAddress === 'string' && host.sshAddress.startsWith('[')) {
      problems.add(where, 'sshAddress', `must be given without brackets (ssh takes an IPv6 address bare), got ${show(host.sshAddress)}`);
    }
    if (host.privateNetwork && (typeof host.privateIp !== 'string' || host.privateIp === '')) {
      problems.add(where, 'privateIp', 'is empty although the host is on a private network');
    }
  }
  problems.throwIfAny();
}
