/**
 * NixosInstall: converts one running Linux host to NixOS with nixos-infect,
 * over SSH, during `terraform apply`.
 *
 * Two built-in `terraform_data` resources (no provider download; the binding
 * is the generated `Data` class, see .gen/providers/terraform), each with a
 * `remote-exec` provisioner running a script of this directory:
 *   1. `nixos_install_<host>` (nixos-install.sh): skip if the host runs NixOS;
 *      download the pinned installer (connect and total time limits); check its
 *      sha256 before running anything; run it with NO_REBOOT under timeout(1),
 *      the log kept on the host; record the boot id; schedule a detached reboot
 *      that waits until this SSH session has ended; stop sshd; exit 0.
 *   2. `nixos_ready_<host>` (nixos-ready.sh): connects once the host is back
 *      (Terraform retries the connection until the timeout) and requires a new
 *      boot and a running NixOS system, else fails naming what the host runs.
 * Why sshd is stopped before the reboot: otherwise step 2 could log in to the
 * old system in the seconds before it reboots (the boot id check catches that too).
 * A non-root login user would not exist after the conversion (NixOS's first
 * boot keeps only what the configuration declares): `adminUser` adds it to the
 * installed configuration through nixos-infect's NIXOS_IMPORT.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Construct } from 'constructs';
import { ITerraformDependable, TerraformLocal, TerraformStack, TerraformVariable } from 'cdktf';
import { Data } from '../.gen/providers/terraform/data';
import { DEFAULT_INSTALL_SETTINGS, DEFAULT_NIX_CHANNEL, InstallSettings, NIXOS_INFECT_SHA256, NIXOS_INFECT_URL } from './fleet-declaration';
import { NixExpr, nix, nixList, nixString, terraformTemplateSafe, toNix } from './nix';
import { shellAssignments, splitShellTemplate } from './shell';
import { CHANNEL_PATTERN, INFECT_PROVIDER_PATTERN, isDnsLabel, SHA256_PATTERN, USER_NAME_PATTERN } from './validation';
import { terraformLiteral } from './terraform-literal';

export interface NixosInstallProps extends InstallSettings {
  /** Host name, used in messages and resource names. */
  readonly hostName: string;
  /** Address to SSH to (IPv4, IPv6 or DNS name; may be a Terraform token). */
  readonly address: string;
  /**
   * SSH user. A user other than root: the scripts run themselves again through `sudo -n`.
   * @default 'root'
   */
  readonly user?: string;
  /**
   * SSH port.
   * @default 22
   */
  readonly port?: number;
  /**
   * nixos-infect's `PROVIDER` (`hetznercloud`, `digitalocean`, ...). Empty: autodetect.
   * @default ''
   */
  readonly provider?: string;
  /**
   * NixOS channel to install.
   * @default DEFAULT_NIX_CHANNEL
   */
  readonly nixChannel?: string;
  /**
   * Installer URL (https only).
   * @default NIXOS_INFECT_URL
   */
  readonly installerUrl?: string;
  /**
   * sha256 of the installer, checked on the host before it runs.
   * @default NIXOS_INFECT_SHA256
   */
  readonly installerSha256?: string;
  /**
   * Absolute path on the host of a Nix file nixos-infect adds to the imports (`NIXOS_IMPORT`).
   * @default - none
   */
  readonly nixosImport?: string;
  /**
   * A value whose change means "this is a new machine, install again" (a server id).
   * Nothing else re-runs the install.
   */
  readonly trigger: string;
  /**
   * Resources the install must wait for (the server and its private network attachment:
   * the installer snapshots the network interfaces it finds).
   * @default []
   */
  readonly dependsOn?: ITerraformDependable[];
  /**
   * A sensitive Terraform variable holding an SSH private key. When its value
   * is empty at apply time the ssh-agent is used instead.
   * @default - ssh-agent only
   */
  readonly sshPrivateKey?: TerraformVariable;
  /**
   * With `sshPrivateKey`: use the ssh-agent when the variable is empty.
   * Off in Terraform Cloud, which has no agent.
   * @default true
   */
  readonly agentFallback?: boolean;
  /**
   * The host's SSH public key; the connection fails on any other key.
   * @default - not checked
   */
  readonly hostKey?: string;
  /**
   * How long to keep trying to connect for the install step (a fresh server is still booting).
   * @default '10m'
   */
  readonly connectTimeout?: string;
  /**
   * How long to wait for the host to come back after the reboot.
   * @default '15m'
   */
  readonly rebootTimeout?: string;
  /**
   * A login user other than root to keep on the installed NixOS: a normal user in
   * `wheel` with these SSH keys, password-less sudo and Nix trust
   * (nix/modules/admin-user.nix, passed through NIXOS_IMPORT).
   * @default - none (root's keys are kept by nixos-infect itself)
   */
  readonly adminUser?: AdminUser;
  /**
   * Where the installer's full log is kept on the host.
   * @default '/var/log/nixos-infect.log'
   */
  readonly logPath?: string;
}

/** A login user the installed system must keep. */
export interface AdminUser {
  /** User name. */
  readonly name: string;
  /** OpenSSH public key lines that may log in as the user. At least one. */
  readonly authorizedKeys: string[];
}

const TIMEOUT_PATTERN = /^\d+[smh]$/;

/** Where the install writes the NIXOS_IMPORT files; /etc/nixos survives NixOS's first boot. */
export const INSTALL_IMPORT_DIR = '/etc/nixos/nixos-fleet';
/** Where the install records the boot it ran in; the ready step requires another (both scripts get it). */
export const INSTALL_BOOT_RECORD = `${INSTALL_IMPORT_DIR}/install-boot-id`;

// The scripts and the module are part of the program: read once, when this module loads.
// Both from constructs/ (ts-node, jest) and from the esbuild bundle in .build/, the
// project root is one level up.
const PROJECT_ROOT = path.resolve(__dirname, '..');
const INSTALL_SH = fs.readFileSync(path.join(PROJECT_ROOT, 'constructs', 'nixos-install.sh'), 'utf8');
const READY_SH = fs.readFileSync(path.join(PROJECT_ROOT, 'constructs', 'nixos-ready.sh'), 'utf8');
/** nix/modules/admin-user.nix, the module that declares `adminUser` (the hive imports it too). */
const ADMIN_USER_MODULE = fs.readFileSync(path.join(PROJECT_ROOT, 'nix', 'modules', 'admin-user.nix'), 'utf8');

export class NixosInstall extends Construct {
  /** Step 1: install (or skip when already NixOS). */
  public readonly install: Data;
  /** Step 2: the host is back and runs NixOS. Depend on this. */
  public readonly ready: Data;

  constructor(scope: Construct, id: string, props: NixosInstallProps) {
    super(scope, id);
    const where = `host ${JSON.stringify(props.hostName)}`;
    const url = props.installerUrl ?? NIXOS_INFECT_URL;
    const sha256 = props.installerSha256 ?? NIXOS_INFECT_SHA256;
    const channel = props.nixChannel ?? DEFAULT_NIX_CHANNEL;
    const user = props.user ?? 'root';
    const port = props.port ?? 22;
    const connectTimeout = props.connectTimeout ?? '10m';
    const rebootTimeout = props.rebootTimeout ?? '15m';
    const limits: Required<InstallSettings> = {
      downloadConnectTimeoutSeconds: props.downloadConnectTimeoutSeconds ?? DEFAULT_INSTALL_SETTINGS.downloadConnectTimeoutSeconds,
      downloadTimeoutSeconds: props.downloadTimeoutSeconds ?? DEFAULT_INSTALL_SETTINGS.downloadTimeoutSeconds,
      installerTimeoutSeconds: props.installerTimeoutSeconds ?? DEFAULT_INSTALL_SETTINGS.installerTimeoutSeconds,
      sessionWaitSeconds: props.sessionWaitSeconds ?? DEFAULT_INSTALL_SETTINGS.sessionWaitSeconds,
      rebootDelaySeconds: props.rebootDelaySeconds ?? DEFAULT_INSTALL_SETTINGS.rebootDelaySeconds,
    };
    const logPath = props.logPath ?? '/var/log/nixos-infect.log';

    // Validation first: nothing is created for an invalid host.
    const errors: string[] = [];
    if (!isDnsLabel(props.hostName)) errors.push(`hostName is not an RFC 1123 label`);
    if (!isInstallerUrl(url)) errors.push(`installer.url must be an https:// URL without quotes, spaces, "$" or braces, got ${JSON.stringify(url)}`);
    if (!SHA256_PATTERN.test(sha256)) errors.push(`installer.sha256 must be 64 lower-case hex characters, got ${JSON.stringify(sha256)}`);
    if (!CHANNEL_PATTERN.test(channel)) errors.push(`nixChannel must be "nixos-YY.MM" or "nixos-unstable", got ${JSON.stringify(channel)}`);
    if (!INFECT_PROVIDER_PATTERN.test(props.provider ?? '')) errors.push(`provider must be [a-z0-9]*, got ${JSON.stringify(props.provider)}`);
    if (!USER_NAME_PATTERN.test(user)) errors.push(`user is not a valid user name: ${JSON.stringify(user)}`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) errors.push(`port must be 1-65535, got ${port}`);
    if (props.nixosImport !== undefined && !/^\/[A-Za-z0-9._/-]+\.nix$/.test(props.nixosImport)) {
      errors.push(`nixosImport must be an absolute path to a .nix file, got ${JSON.stringify(props.nixosImport)}`);
    }
    for (const [field, t] of [['connectTimeout', connectTimeout], ['rebootTimeout', rebootTimeout]]) {
      if (!TIMEOUT_PATTERN.test(t)) errors.push(`${field} must look like "90s", "10m" or "1h", got ${JSON.stringify(t)}`);
    }
    const ranges: Record<keyof typeof limits, [number, number]> = {
      downloadConnectTimeoutSeconds: [1, 600],
      downloadTimeoutSeconds: [1, 3600],
      installerTimeoutSeconds: [10, 6 * 3600],
      sessionWaitSeconds: [1, 3600],
      rebootDelaySeconds: [0, 300],
    };
    for (const [field, [min, max]] of Object.entries(ranges) as [keyof typeof limits, [number, number]][]) {
      const v = limits[field];
      if (!Number.isInteger(v) || v < min || v > max) errors.push(`install.${field} must be an integer ${min}-${max}, got ${JSON.stringify(v)}`);
    }
    if (limits.downloadConnectTimeoutSeconds > limits.downloadTimeoutSeconds) {
      errors.push('install.downloadConnectTimeoutSeconds must not exceed install.downloadTimeoutSeconds');
    }
    if (props.adminUser !== undefined) {
      const a = props.adminUser;
      if (typeof a.name !== 'string' || !USER_NAME_PATTERN.test(a.name) || a.name === 'root') {
        errors.push(`adminUser.name must be a user name other than root, got ${JSON.stringify(a.name)}`);
      }
      if (!Array.isArray(a.authorizedKeys) || a.authorizedKeys.length === 0
        || a.authorizedKeys.some((k) => typeof k !== 'string' || k.trim() === '' || /[\0\n\r]/.test(k))) {
        errors.push('adminUser.authorizedKeys must list at least one SSH public key line');
      }
    }
    if (!/^\/[A-Za-z0-9._/-]+$/.test(logPath)) errors.push(`logPath must be an absolute path, got ${JSON.stringify(logPath)}`);
    if (errors.length > 0) throw new Error(errors.map((e) => `${where}: ${e}`).join('\n'));

    const importData = installImportData(props.adminUser, props.nixosImport);
    const settings: InstallScriptSettings = {
      host: props.hostName,
      url,
      sha256,
      logPath,
      provider: props.provider ?? '',
      nixChannel: channel,
      nixosImport: importData ? `${INSTALL_IMPORT_DIR}/install.nix` : props.nixosImport ?? '',
      importData: importData ?? '',
      ...limits,
    };

    // Address and trigger may be references (a cloud server's IP and id): their
    // literal parts are escaped, the references stay.
    const connection = {
      type: 'ssh' as const,
      host: terraformTemplateSafe(props.address),
      user: terraformLiteral(user),
      port,
      ...(props.hostKey ? { hostKey: terraformLiteral(props.hostKey) } : {}),
      // One configuration for both worlds: the ssh-agent on a laptop, a
      // sensitive variable in Terraform Cloud (which has no agent).
      ...(props.sshPrivateKey === undefined
        ? { agent: 'true' }
        : props.agentFallback === false
          ? { agent: 'false', privateKey: props.sshPrivateKey.stringValue }
          : sshKeyOrAgent(props.sshPrivateKey)),
    };

    const scripts = sharedScripts(this);
    this.install = new Data(this, 'install', {
      triggersReplace: { server: terraformTemplateSafe(props.trigger) },
      input: Object.fromEntries(Object.entries({
        host: props.hostName, step: 'install NixOS', installer: url, sha256, channel, provider: settings.provider,
      }).map(([k, v]) => [k, terraformLiteral(v)])),
      dependsOn: props.dependsOn,
      connection: { ...connection, timeout: connectTimeout },
      provisioners: [{
        type: 'remote-exec',
        inline: scripts.inline('install', installScriptData(settings), `host ${JSON.stringify(props.hostName)}: install script`),
      }],
    });
    this.install.overrideLogicalId(`nixos_install_${props.hostName}`);

    this.ready = new Data(this, 'ready', {
      triggersReplace: { install: this.install.id },
      input: { host: props.hostName, step: 'wait for NixOS after the reboot' },
      dependsOn: [this.install],
      connection: { ...connection, timeout: rebootTimeout },
      provisioners: [{
        type: 'remote-exec',
        inline: scripts.inline('ready', readyScriptData(props.hostName, logPath), `host ${JSON.stringify(props.hostName)}: ready script`),
      }],
    });
    this.ready.overrideLogicalId(`nixos_ready_${props.hostName}`);
  }
}

export function isInstallerUrl(url: unknown): boolean {
  if (typeof url !== 'string' || !/^https:\/\/[^\s'"`$\\{}]+$/.test(url)) return false;
  try {
    return new URL(url).protocol === 'https:';
  } catch {
    return false;
  }
}

/** private_key = the variable unless empty (then null); agent = whether it is empty. */
function sshKeyOrAgent(key: TerraformVariable): { agent: string; privateKey: string } {
  // Written as expressions: cdktf's Op.eq turns '' into `undefined`.
  const ref = `var.${key.friendlyUniqueId}`;
  return {
    agent: `\${${ref} == ""}`,
    privateKey: `\${${ref} == "" ? null : ${ref}}`,
  };
}

/** Name of the Terraform local that holds the scripts' shared parts, once per stack. */
export const INSTALL_SCRIPTS_LOCAL = 'nixos_install_scripts';

type ScriptStep = 'install' | 'ready';
const TEMPLATES: Record<ScriptStep, string> = { install: INSTALL_SH, ready: READY_SH };

/**
 * The scripts of every host differ only in their data lines. The rest (their head and
 * body, ~8 KB per host and step) is written once per stack, into one Terraform local,
 * and each host's remote-exec lists three lines: the head, its data, the body. So the
 * synthesized JSON, and cdktf's work resolving it, stay small for large fleets.
 */
function sharedScripts(scope: Construct): { inline(step: ScriptStep, data: Record<string, string | number>, what: string): string[] } {
  const stack = TerraformStack.of(scope);
  if (!stack.node.tryFindChild(INSTALL_SCRIPTS_LOCAL)) {
    const value: Record<string, string> = {};
    for (const [step, template] of Object.entries(TEMPLATES)) {
      const { head, body } = splitShellTemplate(template, `constructs/nixos-${step}.sh`);
      // Terraform reads `${` and `%{` in a local's strings as template syntax: escaped
      // once, here, by the project's Terraform escaping helper (the scripts hold no tokens).
      value[`${step}_head`] = terraformTemplateSafe(head);
      value[`${step}_body`] = terraformTemplateSafe(body);
    }
    new TerraformLocal(stack, INSTALL_SCRIPTS_LOCAL, value).overrideLogicalId(INSTALL_SCRIPTS_LOCAL);
  }
  return {
    // remote-exec joins the lines with newlines into the one file it uploads and runs.
    inline: (step, data, what) => [
      `\${local.${INSTALL_SCRIPTS_LOCAL}.${step}_head}`,
      terraformTemplateSafe(shellAssignments(data, what)),
      `\${local.${INSTALL_SCRIPTS_LOCAL}.${step}_body}`,
    ],
  };
}

/** Everything the install script is rendered with. */
interface InstallScriptSettings {
  readonly host: string;
  readonly url: string;
  readonly sha256: string;
  readonly logPath: string;
  readonly provider: string;
  readonly nixChannel: string;
  /** NIXOS_IMPORT ('' for none). */
  readonly nixosImport: string;
  /** Text of INSTALL_IMPORT_DIR/install.nix ('' when the install writes no import files). */
  readonly importData: string;
  readonly downloadConnectTimeoutSeconds: number;
  readonly downloadTimeoutSeconds: number;
  readonly installerTimeoutSeconds: number;
  readonly sessionWaitSeconds: number;
  readonly rebootDelaySeconds: number;
}

/** The install step's data lines (nixos-install.sh's `# @DATA@`). */
function installScriptData(s: InstallScriptSettings): Record<string, string | number> {
  return {
    host: s.host,
    url: s.url,
    want: s.sha256,
    log: s.logPath,
    provider: s.provider,
    nix_channel: s.nixChannel,
    nixos_import: s.nixosImport,
    import_dir: INSTALL_IMPORT_DIR,
    import_data: s.importData,
    admin_user_module: s.importData ? ADMIN_USER_MODULE : '',
    dl_connect: s.downloadConnectTimeoutSeconds,
    dl_total: s.downloadTimeoutSeconds,
    installer_timeout: s.installerTimeoutSeconds,
    session_wait: s.sessionWaitSeconds,
    reboot_delay: s.rebootDelaySeconds,
    boot_record: INSTALL_BOOT_RECORD,
  };
}

function readyScriptData(host: string, logPath: string): Record<string, string | number> {
  return { host, log: logPath, boot_record: INSTALL_BOOT_RECORD };
}

/**
 * The data file the install writes to INSTALL_IMPORT_DIR/install.nix and passes as
 * NIXOS_IMPORT: it imports admin-user.nix (written next to it) with the user's
 * name and keys, and `nixosImport` when given. Undefined when there is no admin user.
 */
export function installImportData(adminUser: AdminUser | undefined, nixosImport: string | undefined): string | undefined {
  if (adminUser === undefined) return undefined;
  const imports: NixExpr[] = [
    nix`import ./admin-user.nix ${toNix({ name: adminUser.name, authorizedKeys: adminUser.authorizedKeys })}`,
    ...(nixosImport ? [nix`/. + ${nixString(nixosImport)}`] : []),
  ];
  return `${nix`# Written by nixos-fleet's install step and passed to nixos-infect as NIXOS_IMPORT:
# keeps the fleet's login user on the installed system (see admin-user.nix).
{
  imports = ${nixList(imports)};
}`.code}\n`;
}
