/**
 * ColmenaHive: the generated hive.nix, as the stack output `hive_nix`.
 *
 * `npm run hive` writes the output to hive.nix at the project root, next to
 * hosts/ (modules, and the facts copied from each host), secrets/ and the pins
 * nixpkgs.json / sops-nix.json; `colmena apply` (Colmena 0.4) deploys it.
 * Addresses are Terraform references, substituted when Terraform computes the
 * output, so the hive is complete only after `cdktf deploy`.
 *
 * Every value enters the Nix text through constructs/nix.ts (Nix escaping),
 * and the finished text passes once through `terraformTemplateSafe`
 * (Terraform escaping) — see that file for the two layers.
 */
import { Construct } from 'constructs';
import { Fn, ITerraformDependable, TerraformLocal, TerraformOutput, Token, dependable } from 'cdktf';
import { ProvisionedHost } from './cloud-adapter';
import { DEFAULT_NIX_CHANNEL, FleetDeclaration } from './fleet-declaration';
import {
  NixExpr, NixValue, isNixRelativePath, nix, nixAttrName, nixAttrs, nixComment, nixPath, nixString, terraformTemplateSafe,
  toNix,
} from './nix';
import { PRIVATE_NETWORK_ASSUMPTIONS, privateNetworkSettings, renderPrivateNetworkModule } from './private-network-module';
import { CHANNEL_PATTERN, Problems, hostWhere, isDnsLabel, show } from './validation';

/** The stack output holding hive.nix. */
export const HIVE_OUTPUT_NAME = 'hive_nix';

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
      description: 'hive.nix for Colmena: `npm run hive` writes it next to hosts/',
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

/**
 * Renders hive.nix (Nix source; cdktf tokens stay in it as tokens). Pure:
 * tests render literal values and evaluate the result with nix-instantiate.
 */
export function renderHive(options: HiveRenderOptions): string {
  const { fleet, hosts } = options;
  const pinFile = options.nixpkgsPinFile ?? 'nixpkgs.json';
  validateHiveOptions(options, pinFile);
  const channel = fleet.nixChannel ?? DEFAULT_NIX_CHANNEL;
  const description = options.description ?? `nixos-fleet ${JSON.stringify(fleet.name)}`;

  const nodes = hosts.map((host) => {
    const decl = fleet.hosts.find((h) => h.name === host.name)!;
    return nix`${nixAttrName(host.name)} = ${renderNode(host, decl.module ?? `hosts/${host.name}.nix`, decl.buildOnTarget)};`;
  });

  const header = nixComment(`hive.nix: the Colmena hive of the nixos-fleet fleet ${JSON.stringify(fleet.name)}.

GENERATED FILE, DO NOT EDIT: it is overwritten every time it is generated.
Change main.ts or hosts/*.nix instead, then regenerate:
  npx cdktf deploy     (the stack output ${HIVE_OUTPUT_NAME})
  npm run hive         (writes this file, copies hosts/<name>/{hardware-configuration,networking}.nix)
  colmena apply        (Colmena 0.4)
Next to it: hosts/common.nix (every host), hosts/<name>.nix (one host),
hosts/<name>/ (facts copied from the host), ${pinFile} (nixpkgs pin),
secrets/<name>.yaml with sops-nix.json (sops-nix pin).`);

  const text = nix`${header}
let
  # sops-nix's NixOS module at the revision pinned in ./sops-nix.json
  # ({ "rev", "sha256" }); only fetched for hosts that have secrets.
  sopsNixModule =
    if builtins.pathExists ./sops-nix.json then
      let pin = builtins.fromJSON (builtins.readFile ./sops-nix.json); in
      (builtins.fetchTarball {
        url = "https://github.com/Mic92/sops-nix/archive/\${pin.rev}.tar.gz";
        sha256 = pin.sha256;
      }) + "/modules/sops"
    else
      throw "nixos-fleet: secrets/ has a host's secrets file but sops-nix.json (the sops-nix pin: { \\"rev\\": ..., \\"sha256\\": ... }) is missing; restore it from the template";

  # A host with ./secrets/<name>.yaml decrypts it with its SSH host key.
  hostSecrets = secrets: [
    sopsNixModule
    {
      sops.defaultSopsFile = secrets;
      sops.age.sshKeyPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    }
  ];

  # Stands in for host facts that are not there yet. It keeps \`deployment\`
  # readable (Colmena evaluates every node's deployment to select hosts by tag,
  # and collects all imports to do so, so a throw in imports would break every
  # command for every host), but building the host stops with this message
  # instead of producing a system without its boot loader, file systems or
  # addresses: every build reads fileSystems.
  missingHostFacts = host: missing: {
    fileSystems = throw ("nixos-fleet: cannot build host " + host + ": missing "
      + builtins.concatStringsSep " and " (map toString missing)
      + " (its boot loader, file systems and network addresses). Run \`npm run hive\` to copy them from the host.");
  };

  # A node's imports: its module, the facts \`npm run hive\` copied from the host
  # (/etc/nixos/hardware-configuration.nix and networking.nix, written by the
  # installer), and sops-nix when the host has secrets.
  hostImports = { host, module, hardware, networking, secrets }:
    let
      missing = builtins.filter (file: !(builtins.pathExists file)) [ hardware networking ];
    in
    [
      (if builtins.pathExists module then module
       else throw ("nixos-fleet: host " + host + ": its module " + toString module + " does not exist"))
    ]
    ++ (if missing == [ ] then [ hardware networking ] else [ (missingHostFacts host missing) ])
    ++ (if builtins.pathExists secrets then hostSecrets secrets else [ ]);

  ${nixComment(PRIVATE_NETWORK_ASSUMPTIONS)}
  fleetPrivateNetwork =
    ${renderPrivateNetworkModule()};
in
{
  meta = {
    description = ${nixString(description)};
    ${nixComment(`The nixpkgs every host is built from: the revision pinned in ./${pinFile},
else the channel's current tarball (unpinned, with a warning). Lazy: nothing is
fetched until Colmena evaluates a host.`)}
    nixpkgs =
      if builtins.pathExists ${nixPath(pinFile)} then
        let pin = builtins.fromJSON (builtins.readFile ${nixPath(pinFile)}); in
        import (builtins.fetchTarball {
          url = "https://github.com/NixOS/nixpkgs/archive/\${pin.rev}.tar.gz";
          sha256 = pin.sha256;
        }) { }
      else
        builtins.trace ${nixString(`warning: ${pinFile} not found; building from the unpinned channel ${channel}. Pin it: write ${pinFile} as { "channel": "${channel}", "rev": "<commit>", "sha256": "<nix-prefetch-url --unpack hash>" }.`)}
          (import (builtins.fetchTarball ${nixString(`https://nixos.org/channels/${channel}/nixexprs.tar.xz`)}) { });
  };

  defaults = {
    imports = [ ./hosts/common.nix fleetPrivateNetwork ];
    # The fleet's admin keys (main.ts): the first \`colmena apply\` keeps root reachable.
    users.users.root.openssh.authorizedKeys.keys = ${toNix(fleet.adminSshKeys.map((k) => k.trim()))};
  };

  ${NixExpr.raw(nodes.map((n) => n.code).join('\n\n'))}
}
`;
  return text.code;
}

function renderNode(host: ProvisionedHost, module: string, buildOnTarget: boolean | undefined): NixExpr {
  const tags = [...new Set([host.cloud, host.location, ...host.tags])];
  const deployment: Record<string, NixValue | undefined> = {
    // Public IPv4 for cloud hosts; an existing host's address as given (IPv4, IPv6 or DNS name).
    targetHost: host.sshAddress,
    targetUser: host.sshUser,
    targetPort: host.sshPort,
    tags,
    buildOnTarget,
  };
  const imports = toNix({
    host: host.name,
    module: nixPath(module),
    hardware: nixPath(`hosts/${host.name}/hardware-configuration.nix`),
    networking: nixPath(`hosts/${host.name}/networking.nix`),
    secrets: nixPath(`secrets/${host.name}.yaml`),
  });
  const body = nixAttrs([
    ['deployment', deployment],
    [['networking', 'hostName'], host.name],
    ['imports', nix`hostImports ${imports}`],
    [['fleet', 'privateNetwork'], privateNetworkSettings(host)],
  ]);
  return nix`{ name, nodes, pkgs, lib, ... }: ${body}`;
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
    if (typeof host.sshAddress !== 'string' || host.sshAddress === '') problems.add(where, 'sshAddress', 'is empty');
    if (typeof host.sshUser !== 'string' || !/^[a-z_][a-z0-9_-]*$/.test(host.sshUser)) {
      problems.add(where, 'sshUser', `is not a user name: ${show(host.sshUser)}`);
    }
    if (!Token.isUnresolved(host.sshPort) && !(Number.isInteger(host.sshPort) && host.sshPort >= 1 && host.sshPort <= 65535)) {
      problems.add(where, 'sshPort', `must be 1-65535, got ${show(host.sshPort)}`);
    }
    if (!Array.isArray(host.tags) || host.tags.some((t) => typeof t !== 'string')) problems.add(where, 'tags', 'must be a list of strings');
    if (host.privateNetwork && (typeof host.privateIp !== 'string' || host.privateIp === '')) {
      problems.add(where, 'privateIp', 'is empty although the host is on a private network');
    }
  }
  problems.throwIfAny();
}
