/**
 * Whole-fleet validation: the checks that do not depend on a cloud, then each
 * cloud adapter's own checks. Runs before any construct is created, so an
 * invalid `main.ts` writes nothing.
 *
 * Types first, values second: every field is checked for its JSON type
 * (checkFields) before any check reads it, and a host whose fields have the
 * wrong types gets no value checks, so a wrong type reads like a wrong value
 * (`host "web-1": tags must be a list of strings, got the string "web"`) and
 * never surfaces as a TypeError.
 */
import { CloudAdapterClass } from './cloud-adapter';
import { COLMENA_RESERVED_NAMES } from './colmena-hive';
import { DEFAULT_INSTALL_SETTINGS, FleetDeclaration, HostDeclaration } from './fleet-declaration';
import { isNixRelativePath } from './nix';
import { isInstallerUrl } from './nixos-install';
import {
  FieldSpecs, Problems, SHA256_PATTERN, TAG_PATTERN, channelProblem, checkFields, cidrProblem, hostWhere, ipv4ToInt,
  isDnsLabel, isPlainObject, show, sshKeyBlob, sshPublicKeyProblem, validateFirewallRules,
} from './validation';

/** Fields of the fleet declaration itself (each cloud adapter adds its own: fleetFields). */
const FLEET_FIELDS: FieldSpecs = {
  name: { type: 'string', required: true },
  serverNamePrefix: { type: 'string' },
  nixChannel: { type: 'string' },
  adminSshKeys: { type: 'string[]', required: true },
  adminCidrs: { type: 'string[]', required: true },
  firewallRules: { type: 'object[]' },
  installer: { type: 'object' },
  install: { type: 'object' },
  colmena: { type: 'object' },
  hosts: { type: 'object[]', required: true },
};

/** Fields every host has, whatever its cloud (HostBase). */
export const HOST_BASE_FIELDS: FieldSpecs = {
  name: { type: 'string', required: true },
  cloud: { type: 'string', required: true },
  tags: { type: 'string[]' },
  module: { type: 'string' },
  nixChannel: { type: 'string' },
  installer: { type: 'object' },
  firewallRules: { type: 'object[]' },
  buildOnTarget: { type: 'boolean' },
  install: { type: 'object' },
  stateVersion: { type: 'string' },
  sshOptions: { type: 'string[]' },
};

const INSTALLER_FIELDS: FieldSpecs = { url: { type: 'string' }, sha256: { type: 'string' } };
/** The install limits: every key of DEFAULT_INSTALL_SETTINGS, a number (their ranges are NixosInstall's). */
const INSTALL_FIELDS: FieldSpecs = Object.fromEntries(Object.keys(DEFAULT_INSTALL_SETTINGS).map((k) => [k, { type: 'number' }]));
const COLMENA_FIELDS: FieldSpecs = { version: { type: 'string' }, sshOptions: { type: 'string[]' } };

export function validateFleet(fleet: FleetDeclaration, adapters: readonly CloudAdapterClass[]): Problems {
  const problems = new Problems();
  findCdktfTokenMarkers(fleet, [], problems);
  const fleetTypesOk = checkFields(fleet, Object.assign({}, FLEET_FIELDS, ...adapters.map((a) => a.fleetFields)), 'fleet', '', problems, 'a fleet declaration');
  // Value checks below assume the types; a host list of the wrong type has no hosts to check.
  if (!isPlainObject(fleet) || !Array.isArray(fleet.hosts)) return problems;
  if (!isDnsLabel(fleet.name)) {
    problems.add('fleet', 'name', `must be an RFC 1123 label (a-z, 0-9, "-", at most 63), got ${show(fleet.name)}`);
  }
  if (fleet.serverNamePrefix !== undefined && typeof fleet.serverNamePrefix === 'string'
    && fleet.serverNamePrefix !== '' && !/^[a-z0-9][a-z0-9-]*$/.test(fleet.serverNamePrefix)) {
    problems.add('fleet', 'serverNamePrefix', `must be lower-case letters, digits and "-", starting with a letter or digit, got ${show(fleet.serverNamePrefix)}`);
  }
  if (fleet.nixChannel !== undefined) validateChannel(fleet.nixChannel, 'fleet', problems);
  validateInstaller(fleet.installer, 'fleet', problems);
  // Known fields only: a misspelt limit or setting would otherwise be ignored.
  if (fleet.install !== undefined) checkFields(fleet.install, INSTALL_FIELDS, 'fleet', 'install', problems, 'install limits');
  if (fleet.colmena !== undefined) checkFields(fleet.colmena, COLMENA_FIELDS, 'fleet', 'colmena', problems, 'Colmena settings');

  if (!Array.isArray(fleet.adminSshKeys) || fleet.adminSshKeys.length === 0) {
    if (fleet.adminSshKeys === undefined || Array.isArray(fleet.adminSshKeys)) {
      problems.add('fleet', 'adminSshKeys', 'must list at least one OpenSSH public key (without one nobody can log in)');
    }
  } else {
    const seenKeys = new Map<string, number>();
    fleet.adminSshKeys.forEach((k, i) => {
      const why = sshPublicKeyProblem(k);
      if (why) {
        problems.add('fleet', `adminSshKeys[${i}]`, why);
        return;
      }
      const blob = sshKeyBlob(k);
      // The same key twice (perhaps with another comment) is one key to every cloud.
      if (seenKeys.has(blob)) problems.add('fleet', `adminSshKeys[${i}]`, `is the same key as adminSshKeys[${seenKeys.get(blob)}]`);
      else seenKeys.set(blob, i);
    });
  }
  if (!Array.isArray(fleet.adminCidrs) || fleet.adminCidrs.length === 0) {
    if (fleet.adminCidrs === undefined || Array.isArray(fleet.adminCidrs)) {
      problems.add('fleet', 'adminCidrs', 'must list at least one CIDR allowed to reach SSH (e.g. "203.0.113.7/32")');
    }
  } else {
    fleet.adminCidrs.forEach((c, i) => {
      const why = cidrProblem(c);
      if (why) problems.add('fleet', `adminCidrs[${i}]`, why);
    });
  }
  if (Array.isArray(fleet.firewallRules) || fleet.firewallRules === undefined) {
    validateFirewallRules(fleet.firewallRules, 'fleet', 'firewallRules', problems);
  }

  if (!Array.isArray(fleet.hosts) || fleet.hosts.length === 0) {
    problems.add('fleet', 'hosts', 'must declare at least one host');
    return problems;
  }

  const seenNames = new Map<string, number>();
  const seenIps = new Map<string, string>();
  const typedHosts: HostDeclaration[] = [];
  fleet.hosts.forEach((h, i) => {
    const where = isPlainObject(h) && isDnsLabel(h.name) ? hostWhere(h.name) : `hosts[${i}]`;
    const adapter = isPlainObject(h) ? adapters.find((a) => a.cloud === h.cloud) : undefined;
    if (isPlainObject(h) && typeof h.cloud === 'string' && !adapter) {
      problems.add(where, 'cloud', `must be one of ${adapters.map((a) => show(a.cloud)).join(', ')}, got ${show(h.cloud)}`);
    }
    const specs = { ...HOST_BASE_FIELDS, ...(adapter?.hostFields ?? {}) };
    const what = adapter ? `a ${adapter.cloud} host` : 'a host';
    const typesOk = checkFields(h, adapter ? specs : HOST_BASE_FIELDS, where, '', problems, what);
    if (!isPlainObject(h)) return;
    if (!isDnsLabel(h.name)) {
      problems.add(where, 'name', `must be an RFC 1123 label (a-z, 0-9, "-", at most 63, no leading/trailing "-"), got ${show(h.name)}`);
    } else if ((COLMENA_RESERVED_NAMES as readonly string[]).includes(h.name)) {
      problems.add(where, 'name', `${show(h.name)} is reserved in a Colmena hive (${COLMENA_RESERVED_NAMES.join(', ')})`);
    } else if (seenNames.has(h.name)) {
      problems.add(where, 'name', `is declared twice (hosts[${seenNames.get(h.name)}] and hosts[${i}])`);
    } else {
      seenNames.set(h.name, i);
    }
    if (!typesOk || !adapter) return;
    (h.tags ?? []).forEach((t, j) => {
      if (!TAG_PATTERN.test(t) || !/^[a-z0-9](.*[a-z0-9])?$/.test(t) || t.length > 63) {
        problems.add(where, `tags[${j}]`, `must match [a-z0-9_-], start and end with a letter or digit, at most 63; got ${show(t)}`);
      }
    });
    if (new Set(h.tags ?? []).size !== (h.tags ?? []).length) problems.add(where, 'tags', 'lists a tag twice');
    if (h.module !== undefined && !isProjectNixPath(h.module)) {
      problems.add(where, 'module', `must be a relative path to a .nix file inside the project, got ${show(h.module)}`);
    }
    if (h.nixChannel !== undefined) validateChannel(h.nixChannel, where, problems);
    validateInstaller(h.installer, where, problems);
    if (h.install !== undefined) checkFields(h.install, INSTALL_FIELDS, where, 'install', problems, 'install limits');
    validateFirewallRules(h.firewallRules, where, 'firewallRules', problems);

    const ip = 'privateIp' in h ? h.privateIp : undefined;
    if (ipv4ToInt(ip) !== undefined) {
      const other = seenIps.get(ip as string);
      if (other) problems.add(where, 'privateIp', `${ip} is already used by host ${show(other)}`);
      else seenIps.set(ip as string, h.name);
    }
    typedHosts.push(h);
  });

  // The adapters read fleet-wide fields too (keys, networks): only with their types right.
  if (!fleetTypesOk) return problems;
  const typedFleet: FleetDeclaration = { ...fleet, hosts: typedHosts };
  for (const adapter of adapters) {
    const hosts = hostsOf(typedFleet, adapter.cloud);
    if (hosts.length > 0) adapter.validate(typedFleet, hosts, problems);
  }
  return problems;
}

export function hostsOf(fleet: FleetDeclaration, cloud: string): HostDeclaration[] {
  return fleet.hosts.filter((h) => h.cloud === cloud);
}

/**
 * cdktf replaces the text `${TfToken[…]}` (and its list and map forms) in any
 * string with the value of one of its tokens, whatever the field: a key
 * comment could pull in another resource's attribute or a sensitive variable.
 * No real value contains the marker, so it is refused wherever it appears.
 */
function findCdktfTokenMarkers(value: unknown, at: (string | number)[], problems: Problems): void {
  if (typeof value === 'string') {
    if (/[$#&]\{TfToken\[/.test(value)) {
      const hosts = at[0] === 'hosts' && typeof at[1] === 'number' ? at.slice(2) : at;
      const where = hosts === at ? 'fleet' : `hosts[${at[1]}]`;
      const field = hosts.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${p}`)).join('');
      problems.add(where, field, 'holds cdktf\'s token marker "{TfToken[", which cdktf would replace with a value of the stack');
    }
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => findCdktfTokenMarkers(v, [...at, i], problems));
  } else if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) findCdktfTokenMarkers(v, [...at, k], problems);
  }
}

function validateChannel(channel: unknown, where: string, problems: Problems): void {
  const why = channelProblem(channel);
  if (why) problems.add(where, 'nixChannel', why);
}

function validateInstaller(installer: unknown, where: string, problems: Problems): void {
  if (installer === undefined) return;
  if (!checkFields(installer, INSTALLER_FIELDS, where, 'installer', problems, 'an installer')) return;
  const { url, sha256 } = installer as { url?: string; sha256?: string };
  if (url !== undefined && !isInstallerUrl(url)) {
    problems.add(where, 'installer.url', `must be an https:// URL (no quotes, spaces, "$" or braces), got ${show(url)}`);
  }
  if (url !== undefined && sha256 === undefined) {
    problems.add(where, 'installer.sha256', 'is required with installer.url: the installer is checked before it runs');
  }
  if (sha256 !== undefined && !SHA256_PATTERN.test(sha256)) {
    problems.add(where, 'installer.sha256', `must be 64 lower-case hex characters, got ${show(sha256)}`);
  }
}

/** A module path the hive can import (nixPath's rule), ending in .nix. */
function isProjectNixPath(p: unknown): boolean {
  return isNixRelativePath(p) && p.endsWith('.nix');
}
