/**
 * NixosInstall: converts one running Linux host to NixOS with nixos-infect,
 * over SSH, during `terraform apply`.
 *
 * Two built-in `terraform_data` resources (no provider download; the binding
 * is the generated `Data` class, see .gen/providers/terraform), each with a
 * `remote-exec` provisioner:
 *   1. `nixos_install_<host>`: skip if /etc/NIXOS exists; download the pinned
 *      installer; check its sha256 before running anything; run it with
 *      NO_REBOOT so the SSH session survives; keep the log on the host; stop
 *      accepting new SSH connections and schedule a detached reboot; exit 0.
 *   2. `nixos_ready_<host>`: connects once the host is back (Terraform retries
 *      the connection until the timeout), checks /etc/NIXOS, prints nixos-version.
 * Why sshd is stopped before the reboot: otherwise step 2 could log in to the
 * old system in the seconds before it reboots and "pass" without a reboot.
 * On Debian `systemctl stop ssh` leaves running sessions alone (KillMode=process).
 */
import { Construct } from 'constructs';
import { ITerraformDependable, TerraformVariable } from 'cdktf';
import { Data } from '../.gen/providers/terraform/data';
import { DEFAULT_NIX_CHANNEL, NIXOS_INFECT_SHA256, NIXOS_INFECT_URL } from './fleet-declaration';
import { assertNoTerraformTemplate, shellQuote } from './shell';
import { CHANNEL_PATTERN, isDnsLabel, SHA256_PATTERN } from './validation';

export interface NixosInstallProps {
  /** Host name, used in messages and resource names. */
  readonly hostName: string;
  /** Address to SSH to (IPv4, IPv6 or DNS name; may be a Terraform token). */
  readonly address: string;
  /**
   * SSH user. A user other than root runs the script through `sudo -n`.
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
   * Seconds between the end of the install and the reboot.
   * @default 3
   */
  readonly rebootDelaySeconds?: number;
  /**
   * Where the installer's full log is kept on the host.
   * @default '/var/log/nixos-infect.log'
   */
  readonly logPath?: string;
}

const TIMEOUT_PATTERN = /^\d+[smh]$/;

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
    const rebootDelay = props.rebootDelaySeconds ?? 3;
    const logPath = props.logPath ?? '/var/log/nixos-infect.log';

    // Validation first: nothing is created for an invalid host.
    const errors: string[] = [];
    if (!isDnsLabel(props.hostName)) errors.push(`hostName is not an RFC 1123 label`);
    if (!isInstallerUrl(url)) errors.push(`installer.url must be an https:// URL without quotes, spaces, "$" or braces, got ${JSON.stringify(url)}`);
    if (!SHA256_PATTERN.test(sha256)) errors.push(`installer.sha256 must be 64 lower-case hex characters, got ${JSON.stringify(sha256)}`);
    if (!CHANNEL_PATTERN.test(channel)) errors.push(`nixChannel must be "nixos-YY.MM" or "nixos-unstable", got ${JSON.stringify(channel)}`);
    if (!/^[a-z0-9]*$/.test(props.provider ?? '')) errors.push(`provider must be [a-z0-9]*, got ${JSON.stringify(props.provider)}`);
    if (!/^[a-z_][a-z0-9_-]*$/.test(user)) errors.push(`user is not a valid user name: ${JSON.stringify(user)}`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) errors.push(`port must be 1-65535, got ${port}`);
    if (props.nixosImport !== undefined && !/^\/[A-Za-z0-9._/-]+\.nix$/.test(props.nixosImport)) {
      errors.push(`nixosImport must be an absolute path to a .nix file, got ${JSON.stringify(props.nixosImport)}`);
    }
    for (const [field, t] of [['connectTimeout', connectTimeout], ['rebootTimeout', rebootTimeout]]) {
      if (!TIMEOUT_PATTERN.test(t)) errors.push(`${field} must look like "90s", "10m" or "1h", got ${JSON.stringify(t)}`);
    }
    if (!Number.isInteger(rebootDelay) || rebootDelay < 1 || rebootDelay > 300) errors.push(`rebootDelaySeconds must be 1-300`);
    if (!/^\/[A-Za-z0-9._/-]+$/.test(logPath)) errors.push(`logPath must be an absolute path, got ${JSON.stringify(logPath)}`);
    if (errors.length > 0) throw new Error(errors.map((e) => `${where}: ${e}`).join('\n'));

    const environment: Record<string, string> = {
      PROVIDER: props.provider ?? '',
      NIX_CHANNEL: channel,
      NO_REBOOT: 'true',
      ...(props.nixosImport ? { NIXOS_IMPORT: props.nixosImport } : {}),
    };

    const connection = {
      type: 'ssh' as const,
      host: props.address,
      user,
      port,
      ...(props.hostKey ? { hostKey: props.hostKey } : {}),
      // One configuration for both worlds: the ssh-agent on a laptop, a
      // sensitive variable in Terraform Cloud (which has no agent).
      ...(props.sshPrivateKey === undefined
        ? { agent: 'true' }
        : props.agentFallback === false
          ? { agent: 'false', privateKey: props.sshPrivateKey.stringValue }
          : sshKeyOrAgent(props.sshPrivateKey)),
    };

    const sudo = user === 'root' ? undefined : 'sudo -n';
    this.install = new Data(this, 'install', {
      triggersReplace: { server: props.trigger },
      input: { host: props.hostName, step: 'install NixOS', installer: url, sha256, channel, provider: environment.PROVIDER },
      dependsOn: props.dependsOn,
      connection: { ...connection, timeout: connectTimeout },
      provisioners: [{
        type: 'remote-exec',
        inline: wrapForUser(installScript(props.hostName, url, sha256, environment, logPath, rebootDelay), sudo),
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
        inline: wrapForUser(readyScript(props.hostName, logPath), sudo),
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

function wrapForUser(script: string, sudo: string | undefined): string[] {
  // remote-exec uploads the inline lines as one script and runs it with /bin/sh.
  return sudo === undefined ? [script] : [`${sudo} /bin/sh -c ${shellQuote(script)}`];
}

/**
 * The install step's script. POSIX sh (Debian's dash): no pipefail, so the
 * installer's exit status travels through a file while its output is both
 * streamed to Terraform and kept in the log.
 */
export function installScript(
  host: string, url: string, sha256: string, env: Record<string, string>, logPath: string, rebootDelay: number,
): string {
  const q = shellQuote;
  const envWords = Object.entries(env).map(([k, v]) => `${k}=${q(v)}`).join(' ');
  const script = `set -u
host=${q(host)}
url=${q(url)}
want=${q(sha256)}
log=${q(logPath)}
say() { echo "nixos-fleet[$host]: $*"; }
fail() { echo "nixos-fleet[$host]: $*" >&2; exit 1; }
if [ -e /etc/NIXOS ]; then
  say "already runs NixOS ($(nixos-version 2>/dev/null || echo 'version unknown')); not installing again"
  exit 0
fi
[ "$(id -u)" = 0 ] || fail "must run as root to install NixOS"
dir=$(mktemp -d) || fail "mktemp failed"
say "downloading installer $url"
if command -v curl >/dev/null 2>&1; then
  curl -fsSL --retry 5 --retry-delay 3 -o "$dir/installer" "$url" || fail "could not download $url"
else
  wget -q -t 5 -O "$dir/installer" "$url" || fail "could not download $url"
fi
got=$(sha256sum "$dir/installer" | cut -d ' ' -f 1)
if [ "$got" != "$want" ]; then
  rm -rf "$dir"
  fail "installer sha256 mismatch for $url
  expected: $want
  actual:   $got
nothing was run"
fi
say "installer sha256 ok; running it with ${envWordsForDisplay(env)}; full log: $log"
mkdir -p "$(dirname "$log")"
{ env ${envWords} bash "$dir/installer" </dev/null 2>&1; echo $? >"$dir/status"; } | tee "$log"
status=$(cat "$dir/status" 2>/dev/null || echo 1)
rm -rf "$dir"
if [ "$status" != 0 ]; then
  echo "nixos-fleet[$host]: installer failed (exit $status); last 40 lines of $log:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
[ -e /etc/NIXOS ] || fail "installer exited 0 but /etc/NIXOS is missing; see $log"
say "installed; rebooting into NixOS in ${rebootDelay}s"
if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1; then
  systemd-run --quiet --on-active=${rebootDelay} systemctl reboot || fail "could not schedule the reboot"
  systemctl stop ssh.service sshd.service ssh.socket 2>/dev/null || true
else
  # No systemd: a job in its own session (no terminal, so no SIGHUP when this
  # SSH session closes), confirmed running before we let the session go.
  mark=/run/nixos-fleet-reboot.$$
  rm -f "$mark"
  setsid sh -c 'trap "" HUP; echo $$ >"$1"; sleep ${rebootDelay}; reboot' sh "$mark" </dev/null >/dev/null 2>&1 &
  i=0
  while [ ! -s "$mark" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  [ -s "$mark" ] || fail "could not schedule the reboot"
  if [ -f /run/sshd.pid ]; then kill "$(cat /run/sshd.pid)" 2>/dev/null || true; fi
fi
exit 0
`;
  return assertNoTerraformTemplate(script, `host ${JSON.stringify(host)}: install`);
}

function envWordsForDisplay(env: Record<string, string>): string {
  // Shown inside a double-quoted echo: values are validated to [a-z0-9.-/_] so no quoting is needed.
  return Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');
}

/** The ready step's script: runs only once SSH answers again after the reboot. */
export function readyScript(host: string, logPath: string): string {
  const script = `host=${shellQuote(host)}
if [ ! -e /etc/NIXOS ]; then
  echo "nixos-fleet[$host]: back after reboot but /etc/NIXOS is missing: the install did not take; see ${logPath}" >&2
  exit 1
fi
echo "nixos-fleet[$host]: NixOS is up: $(nixos-version 2>/dev/null || echo 'nixos-version not found')"
`;
  return assertNoTerraformTemplate(script, `host ${JSON.stringify(host)}: ready`);
}
