/**
 * Whole-fleet validation: the checks that do not depend on a cloud, then each
 * cloud adapter's own checks. Runs before any construct is created, so an
 * invalid `main.ts` writes nothing.
 */
import { CloudAdapterClass } from './cloud-adapter';
import { COLMENA_RESERVED_NAMES } from './colmena-hive';
import { FleetDeclaration, HostDeclaration } from './fleet-declaration';
import { isInstallerUrl } from './nixos-install';
import {
  CHANNEL_PATTERN, Problems, SHA256_PATTERN, TAG_PATTERN, hostWhere, ipv4ToInt, isCidr, isDnsLabel, show,
  sshPublicKeyProblem, validateFirewallRules,
} from './validation';

export function validateFleet(fleet: FleetDeclaration, adapters: readonly CloudAdapterClass[]): Problems {
  const problems = new Problems();
  if (!isDnsLabel(fleet?.name)) {
    problems.add('fleet', 'name', `must be an RFC 1123 label (a-z, 0-9, "-", at most 63), got ${show(fleet?.name)}`);
  }
  if (fleet.nixChannel !== undefined) validateChannel(fleet.nixChannel, 'fleet', problems);
  validateInstaller(fleet.installer, 'fleet', problems);

  if (!Array.isArray(fleet.adminSshKeys) || fleet.adminSshKeys.length === 0) {
    problems.add('fleet', 'adminSshKeys', 'must list at least one OpenSSH public key (without one nobody can log in)');
  } else {
    fleet.adminSshKeys.forEach((k, i) => {
      const why = sshPublicKeyProblem(k);
      if (why) problems.add('fleet', `adminSshKeys[${i}]`, why);
    });
  }
  if (!Array.isArray(fleet.adminCidrs) || fleet.adminCidrs.length === 0) {
    problems.add('fleet', 'adminCidrs', 'must list at least one CIDR allowed to reach SSH (e.g. "203.0.113.7/32")');
  } else {
    fleet.adminCidrs.forEach((c, i) => {
      if (!isCidr(c)) problems.add('fleet', `adminCidrs[${i}]`, `is not a CIDR (like "203.0.113.7/32" or "2001:db8::/48"): ${show(c)}`);
    });
  }
  validateFirewallRules(fleet.firewallRules, 'fleet', 'firewallRules', problems);

  if (!Array.isArray(fleet.hosts) || fleet.hosts.length === 0) {
    problems.add('fleet', 'hosts', 'must declare at least one host');
    return problems;
  }

  const seenNames = new Map<string, number>();
  const seenIps = new Map<string, string>();
  fleet.hosts.forEach((h, i) => {
    const where = isDnsLabel(h?.name) ? hostWhere(h.name) : `hosts[${i}]`;
    if (!isDnsLabel(h?.name)) {
      problems.add(where, 'name', `must be an RFC 1123 label (a-z, 0-9, "-", at most 63, no leading/trailing "-"), got ${show(h?.name)}`);
    } else if ((COLMENA_RESERVED_NAMES as readonly string[]).includes(h.name)) {
      problems.add(where, 'name', `${show(h.name)} is reserved in a Colmena hive (${COLMENA_RESERVED_NAMES.join(', ')})`);
    } else if (seenNames.has(h.name)) {
      problems.add(where, 'name', `is declared twice (hosts[${seenNames.get(h.name)}] and hosts[${i}])`);
    } else {
      seenNames.set(h.name, i);
    }
    if (!adapters.some((a) => a.cloud === h?.cloud)) {
      problems.add(where, 'cloud', `must be one of ${adapters.map((a) => show(a.cloud)).join(', ')}, got ${show(h?.cloud)}`);
    }
    (h.tags ?? []).forEach((t, j) => {
      if (typeof t !== 'string' || !TAG_PATTERN.test(t) || !/^[a-z0-9](.*[a-z0-9])?$/.test(t) || t.length > 63) {
        problems.add(where, `tags[${j}]`, `must match [a-z0-9_-], start and end with a letter or digit, at most 63; got ${show(t)}`);
      }
    });
    if (new Set(h.tags ?? []).size !== (h.tags ?? []).length) problems.add(where, 'tags', 'lists a tag twice');
    if (h.module !== undefined && !isProjectNixPath(h.module)) {
      problems.add(where, 'module', `must be a relative path to a .nix file inside the project, got ${show(h.module)}`);
    }
    if (h.nixChannel !== undefined) validateChannel(h.nixChannel, where, problems);
    validateInstaller(h.installer, where, problems);
    validateFirewallRules(h.firewallRules, where, 'firewallRules', problems);
    if (h.buildOnTarget !== undefined && typeof h.buildOnTarget !== 'boolean') problems.add(where, 'buildOnTarget', 'must be true or false');

    const ip = 'privateIp' in h ? h.privateIp : undefined;
    if (typeof ip === 'string' && ipv4ToInt(ip) !== undefined) {
      const other = seenIps.get(ip);
      if (other) problems.add(where, 'privateIp', `${ip} is already used by host ${show(other)}`);
      else seenIps.set(ip, h.name);
    }
  });

  for (const adapter of adapters) {
    const hosts = hostsOf(fleet, adapter.cloud);
    if (hosts.length > 0) adapter.validate(fleet, hosts, problems);
  }
  return problems;
}

export function hostsOf(fleet: FleetDeclaration, cloud: string): HostDeclaration[] {
  return fleet.hosts.filter((h) => h.cloud === cloud);
}

function validateChannel(channel: unknown, where: string, problems: Problems): void {
  if (typeof channel !== 'string' || !CHANNEL_PATTERN.test(channel)) {
    problems.add(where, 'nixChannel', `must be "nixos-YY.MM" (e.g. "nixos-26.05") or "nixos-unstable", got ${show(channel)}`);
  }
}

function validateInstaller(installer: FleetDeclaration['installer'], where: string, problems: Problems): void {
  if (installer === undefined) return;
  if (installer.url !== undefined && !isInstallerUrl(installer.url)) {
    problems.add(where, 'installer.url', `must be an https:// URL (no quotes, spaces, "$" or braces), got ${show(installer.url)}`);
  }
  if (installer.url !== undefined && installer.sha256 === undefined) {
    problems.add(where, 'installer.sha256', 'is required with installer.url: the installer is checked before it runs');
  }
  if (installer.sha256 !== undefined && !SHA256_PATTERN.test(installer.sha256)) {
    problems.add(where, 'installer.sha256', `must be 64 lower-case hex characters, got ${show(installer.sha256)}`);
  }
}

function isProjectNixPath(p: unknown): boolean {
  return typeof p === 'string' && /^[A-Za-z0-9._/-]+\.nix$/.test(p) && !p.startsWith('/')
    && !p.split('/').some((seg) => seg === '..' || seg === '');
}
