/**
 * The typed fleet declaration: what a forker writes in `main.ts`.
 *
 * This file holds data types only. Everything here is plain data so the same
 * declaration can feed the stack (`FleetStack`), the diagram script and the
 * benchmarks without creating any Terraform resources.
 */

/** Where an installer comes from. Checked on the host before it runs. */
export interface InstallerSource {
  /**
   * HTTPS URL of the installer script.
   * @default NIXOS_INFECT_URL (nixos-infect pinned to a commit that works on BIOS machines)
   */
  readonly url?: string;
  /**
   * Lower-case hex sha256 of the file at `url`. Required whenever `url` is set.
   * @default NIXOS_INFECT_SHA256
   */
  readonly sha256?: string;
}

/**
 * nixos-infect at a pinned commit. Master (2026-01) aborts on BIOS machines
 * (upstream issue #255); this commit is the one other Terraform users pin.
 */
export const NIXOS_INFECT_COMMIT = '5ef3f953d32ab92405b280615718e0b80da2ebe6';
export const NIXOS_INFECT_URL = `https://raw.githubusercontent.com/elitak/nixos-infect/${NIXOS_INFECT_COMMIT}/nixos-infect`;
export const NIXOS_INFECT_SHA256 = '0fb4fe42249b7d5bbb205a45f9466ed542a3095c1cbe4452f2b60d9adf8f3375';

/** Current stable NixOS release series (Nov 2026). */
export const DEFAULT_NIX_CHANNEL = 'nixos-26.05';

/**
 * Limits and timing of the NixOS install step (nixos-infect over SSH). Every wait
 * of the step is bounded; on expiry it fails with the log tail and leaves the host
 * as it was (no reboot scheduled). Set on the fleet, or per host to override.
 */
export interface InstallSettings {
  /**
   * Seconds the installer download may take to connect.
   * @default 30
   */
  readonly downloadConnectTimeoutSeconds?: number;
  /**
   * Seconds the whole installer download may take, retries included.
   * @default 300
   */
  readonly downloadTimeoutSeconds?: number;
  /**
   * Seconds nixos-infect may run (it downloads and builds NixOS: 5-15 minutes on a
   * typical server). At the limit it is stopped and the step fails.
   * @default 3600
   */
  readonly installerTimeoutSeconds?: number;
  /**
   * The reboot waits until Terraform has the install's output and exit status
   * (the script has exited and the client acknowledged everything), at most this
   * many seconds.
   * @default 300
   */
  readonly sessionWaitSeconds?: number;
  /**
   * Seconds between that moment and the reboot.
   * @default 1
   */
  readonly rebootDelaySeconds?: number;
}

/** The defaults of InstallSettings, in one place. */
export const DEFAULT_INSTALL_SETTINGS: Required<InstallSettings> = {
  downloadConnectTimeoutSeconds: 30,
  downloadTimeoutSeconds: 300,
  installerTimeoutSeconds: 3600,
  sessionWaitSeconds: 300,
  rebootDelaySeconds: 1,
};

/** An inbound firewall rule, applied by each cloud's firewall. */
export interface FirewallRule {
  /** `tcp`, `udp` or `icmp`. */
  readonly protocol: 'tcp' | 'udp' | 'icmp';
  /**
   * A port (`"443"`) or a range (`"8000-8100"`). Not allowed for icmp.
   * @default - required for tcp and udp
   */
  readonly port?: string;
  /** Source CIDRs, IPv4 or IPv6 (`0.0.0.0/0` and `::/0` for everyone). */
  readonly sourceCidrs: string[];
  /**
   * Shown in the cloud console.
   * @default - none
   */
  readonly description?: string;
}

/** Settings every host kind shares. */
export interface HostBase {
  /** Host name: an RFC 1123 label (lower case, digits, `-`; ≤ 63 chars). Also the Colmena node name. */
  readonly name: string;
  /**
   * Tags: labels on the cloud resource and Colmena tags (`colmena apply --on @tag`).
   * Each matches `[a-z0-9_-]+`. Not `fleet` on Hetzner (that label names the fleet).
   * @default []
   */
  readonly tags?: string[];
  /**
   * The host's NixOS module, relative to the project root.
   * @default `hosts/<name>.nix`
   */
  readonly module?: string;
  /**
   * NixOS channel nixos-infect installs from.
   * @default the fleet's `nixChannel`
   */
  readonly nixChannel?: string;
  /**
   * Installer override for this host.
   * @default the fleet's `installer`
   */
  readonly installer?: InstallerSource;
  /**
   * Extra inbound firewall rules for this host only (on top of the fleet's).
   * Not applied to existing hosts: their firewall is yours.
   * @default []
   */
  readonly firewallRules?: FirewallRule[];
  /**
   * Install step limits for this host (each field overrides the fleet's).
   * @default the fleet's `install`
   */
  readonly install?: InstallSettings;
  /**
   * Build the system on the host instead of the machine running Colmena.
   * @default - on the host exactly when its system differs from the one running
   *   Colmena (an aarch64 host from an x86_64 workstation), else locally
   */
  readonly buildOnTarget?: boolean;
  /**
   * `system.stateVersion`: the NixOS release the host was first installed with.
   * Never raise it on a running host (stateful services keep their formats).
   * Required with `nixChannel: 'nixos-unstable'`, and worth setting for an
   * `alreadyNixos` machine (copy it from its /etc/nixos/configuration.nix).
   * @default the release of the host's channel (`nixos-26.05` → `26.05`)
   */
  readonly stateVersion?: string;
  /**
   * Extra ssh arguments Colmena uses for this host (`deployment.sshOptions`),
   * one word per item. Needs `colmena.version: '0.5'`.
   * @default the fleet's `colmena.sshOptions`
   */
  readonly sshOptions?: string[];
}

/** A host's platform, as Nix names it. */
export type HostSystem = 'x86_64-linux' | 'aarch64-linux';
export const HOST_SYSTEMS: readonly HostSystem[] = ['x86_64-linux', 'aarch64-linux'];

/** How the hive talks to Colmena. */
export interface ColmenaSettings {
  /**
   * The Colmena release you deploy with: `0.4` or `0.5`. 0.5 accepts per-node
   * SSH options (`deployment.sshOptions`); 0.4 refuses any hive that sets them.
   * @default '0.4'
   */
  readonly version?: '0.4' | '0.5';
  /**
   * Extra ssh arguments for every node (Colmena 0.5 only), one word per item:
   * `['-o', 'ServerAliveInterval=15']`.
   * @default - with version '0.5': ServerAliveInterval=15 and ServerAliveCountMax=4, so a
   *   connection to a host that went away (a reboot during activation) ends in
   *   about a minute instead of hanging; with '0.4': none (not settable)
   */
  readonly sshOptions?: string[];
}

/** A server created on Hetzner Cloud. */
export interface HetznerHost extends HostBase {
  readonly cloud: 'hetzner';
  /**
   * Server type, e.g. `cx23`, `cpx22`, `cax11` (arm64: the host is aarch64-linux), `ccx13`: one of
   * constructs/hetzner-catalogue.ts. Retired types are refused with their successor.
   */
  readonly serverType: string;
  /**
   * Accept a `serverType` the catalogue does not list yet (one Hetzner started
   * selling after constructs/hetzner-catalogue.ts was last updated). Retired
   * types are refused even so.
   * @default false
   */
  readonly allowUncataloguedType?: boolean;
  /** Location: `fsn1`, `nbg1`, `hel1` (eu-central), `ash` (us-east), `hil` (us-west), `sin` (ap-southeast). */
  readonly location: string;
  /**
   * Base image nixos-infect converts.
   * @default 'debian-12'
   */
  readonly image?: string;
  /** Fixed address in the fleet's Hetzner subnet. */
  readonly privateIp: string;
}

/**
 * A droplet created on DigitalOcean. DigitalOcean assigns VPC addresses itself
 * (the API takes none), so there is no `privateIp`: it is learned at apply time.
 */
export interface DigitalOceanHost extends HostBase {
  readonly cloud: 'digitalocean';
  /** Droplet size slug, e.g. `s-1vcpu-2gb`: one of constructs/digitalocean-catalogue.ts. */
  readonly size: string;
  /**
   * Accept a `size` the catalogue does not list yet (a new or GPU size).
   * @default false
   */
  readonly allowUncataloguedType?: boolean;
  /** Region slug; must be the region of the fleet's VPC, e.g. `fra1`. */
  readonly region: string;
  /**
   * Base image nixos-infect converts.
   * @default 'debian-12-x64'
   */
  readonly image?: string;
}

/** A machine that already exists (any cloud, bare metal, a VM at home). */
export interface ExistingHost extends HostBase {
  readonly cloud: 'existing';
  /** Public address the installer and Colmena reach it at: IPv4, IPv6 or a DNS name. */
  readonly address: string;
  /**
   * SSH user. Installing needs root; a non-root user must have password-less sudo.
   * The installed NixOS keeps that user (admin keys, password-less sudo; see
   * nix/modules/admin-user.nix), since the conversion drops every user it does not declare.
   * @default 'root'
   */
  readonly user?: string;
  /**
   * SSH port.
   * @default 22
   */
  readonly port?: number;
  /**
   * Address on a private network you run yourself, if any.
   * @default - none
   */
  readonly privateIp?: string;
  /**
   * Value of nixos-infect's `PROVIDER` (e.g. `hetznercloud`, `digitalocean`, `lightsail`).
   * Empty lets nixos-infect autodetect, which is unreliable: set it when you know.
   * @default ''
   */
  readonly provider?: string;
  /**
   * Set when the machine already runs NixOS: nothing is installed, the hive just manages it.
   * @default false
   */
  readonly alreadyNixos?: boolean;
  /**
   * The machine's SSH host public key: the line `ssh-keyscan -t ed25519 ADDRESS`
   * prints (it starts with the address, which must be this host's `address`), or
   * the content of /etc/ssh/ssh_host_ed25519_key.pub on the machine. When set, the install
   * refuses to talk to any other key (Terraform's connection `host_key`);
   * nixos-infect keeps host keys, so it still matches after the reboot.
   * @default - not checked (Terraform does not read known_hosts)
   */
  readonly hostKey?: string;
  /**
   * The machine's platform.
   * @default 'x86_64-linux'
   */
  readonly system?: HostSystem;
}

export type HostDeclaration = HetznerHost | DigitalOceanHost | ExistingHost;
export type CloudName = HostDeclaration['cloud'];

/**
 * How the admin keys reach a cloud's servers at creation (the cloud puts them
 * into root's authorized_keys; the hive manages them afterwards).
 * - `'auto'`: use each `adminSshKeys` entry that is already in the project
 *   (same fingerprint, any name), upload the others. Works whether or not
 *   your key is uploaded; both clouds refuse a second copy of a key.
 * - `'upload'`: upload every `adminSshKeys` entry as a new key named
 *   `<fleet>-admin-<hash>` (fails if the same key is already in the project).
 * - `{ existing: [...] }`: use exactly these keys already in the project and
 *   upload nothing. Hetzner: key names or numeric IDs; DigitalOcean: MD5
 *   fingerprints (`ssh-keygen -l -E md5 -f key.pub`, without `MD5:`) or numeric IDs.
 */
export type CloudSshKeys = 'auto' | 'upload' | { readonly existing: string[] };

/** The Hetzner private network all Hetzner hosts join. */
export interface HetznerNetworkDeclaration {
  /** The network's range, e.g. `10.0.0.0/16`. Its first address is the gateway. */
  readonly ipRange: string;
  /** The subnet hosts live in, inside `ipRange`, e.g. `10.0.1.0/24`. */
  readonly subnetRange: string;
  /** `eu-central`, `us-east`, `us-west` or `ap-southeast`; hosts' locations must be in it. */
  readonly networkZone: string;
  /**
   * Which SSH keys new servers get (see CloudSshKeys).
   * @default 'auto'
   */
  readonly sshKeys?: CloudSshKeys;
}

/** The DigitalOcean VPC all DigitalOcean hosts join (a VPC lives in one region). */
export interface DigitalOceanNetworkDeclaration {
  /** Region slug, e.g. `fra1`. */
  readonly region: string;
  /** The VPC's range, e.g. `10.20.0.0/20` (DigitalOcean allows /16 to /24). */
  readonly ipRange: string;
  /**
   * Which SSH keys new droplets get (see CloudSshKeys).
   * @default 'auto'
   */
  readonly sshKeys?: CloudSshKeys;
}

/** The whole fleet. */
export interface FleetDeclaration {
  /**
   * Fleet name: an RFC 1123 label; prefixes the names of the networks,
   * firewalls and keys the fleet creates, so two fleets with different names
   * can share one cloud project.
   */
  readonly name: string;
  /**
   * Put in front of each host name to form the server's / droplet's name in
   * the cloud (Colmena and the host itself keep the plain name). Server names
   * are unique per project: set it (e.g. `'staging-'`) when two fleets in one
   * project use the same host names.
   * @default '' (the cloud name is the host name)
   */
  readonly serverNamePrefix?: string;
  /**
   * NixOS channel: `nixos-YY.MM` or `nixos-unstable`.
   * @default DEFAULT_NIX_CHANNEL ('nixos-26.05')
   */
  readonly nixChannel?: string;
  /** OpenSSH public key lines allowed to log in as root (install, Colmena). At least one. */
  readonly adminSshKeys: string[];
  /** CIDRs allowed to reach SSH (port 22) through the cloud firewalls. At least one. */
  readonly adminCidrs: string[];
  /**
   * Inbound rules for every cloud host on top of SSH and ICMP.
   * @default []
   */
  readonly firewallRules?: FirewallRule[];
  /**
   * Installer for every host.
   * @default nixos-infect at NIXOS_INFECT_COMMIT
   */
  readonly installer?: InstallerSource;
  /**
   * Install step limits for every host (see InstallSettings for each default).
   * @default {}
   */
  readonly install?: InstallSettings;
  /**
   * Colmena version and its options.
   * @default - Colmena 0.4, no extra SSH options
   */
  readonly colmena?: ColmenaSettings;
  /**
   * Hetzner private network. Required when any host is on Hetzner.
   * @default - none
   */
  readonly hetzner?: HetznerNetworkDeclaration;
  /**
   * DigitalOcean VPC. Required when any host is on DigitalOcean.
   * @default - none
   */
  readonly digitalocean?: DigitalOceanNetworkDeclaration;
  /** The hosts. */
  readonly hosts: HostDeclaration[];
}
