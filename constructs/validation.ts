/**
 * Validation primitives shared by the stack and the cloud adapters.
 *
 * Every check reports into a `Problems` list instead of throwing at the first
 * one, so a user fixing `main.ts` sees all mistakes in one run. Each message
 * names where (`host "web-1"` or `fleet`) and the field.
 */
import { createHash } from 'crypto';
import * as ipaddr from 'ipaddr.js';

/** Thrown before any resource is created when the declaration is invalid. */
export class FleetConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid fleet declaration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
      problems.map((p) => `  - ${p}`).join('\n'));
    this.name = 'FleetConfigError';
  }
}

export class Problems {
  private readonly list: string[] = [];

  /** `where` is `fleet` or `host "name"`; `field` is the property path, e.g. `privateIp`. */
  add(where: string, field: string, message: string): void {
    this.list.push(`${where}: ${field} ${message}`);
  }

  get count(): number {
    return this.list.length;
  }

  throwIfAny(): void {
    if (this.list.length > 0) throw new FleetConfigError([...this.list]);
  }
}

export const hostWhere = (name: string): string => `host ${JSON.stringify(name)}`;
export const show = (value: unknown): string => JSON.stringify(value);

/** RFC 1123 label: what both clouds, DNS and Colmena accept as a host name. */
export function isDnsLabel(s: unknown): s is string {
  return typeof s === 'string' && s.length <= 63 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(s);
}

export function isDnsName(s: string): boolean {
  return s.length <= 253 && s.split('.').every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/.test(l) && l.length <= 63)
    && !/^[0-9.]+$/.test(s);
}

export const TAG_PATTERN = /^[a-z0-9_-]+$/;
export const CHANNEL_PATTERN = /^nixos-(\d\d\.\d\d|unstable)$/;
export const SHA256_PATTERN = /^[0-9a-f]{64}$/;
/** A login name as useradd takes it (at most 32 characters). */
export const USER_NAME_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;
/** A nixos-infect PROVIDER value (hetznercloud, digitalocean, lightsail, ...); empty: autodetect. */
export const INFECT_PROVIDER_PATTERN = /^[a-z0-9]*$/;

// ---------------------------------------------------------------- IP maths (ipaddr.js)

/** Strict dotted-quad IPv4 (no octal, hex or short forms, which some parsers accept). */
export function isIpv4(ip: unknown): ip is string {
  return typeof ip === 'string' && ipaddr.IPv4.isValidFourPartDecimal(ip);
}

/** IPv6 without a zone index (`fe80::1%eth0` is not an address a cloud or firewall takes). */
export function isIpv6(ip: unknown): ip is string {
  return typeof ip === 'string' && !ip.includes('%') && ipaddr.IPv6.isValid(ip);
}

/** Parses dotted-quad IPv4 into an unsigned 32-bit number. */
export function ipv4ToInt(ip: unknown): number | undefined {
  if (!isIpv4(ip)) return undefined;
  return ipaddr.IPv4.parse(ip).toByteArray().reduce((acc, octet) => acc * 256 + octet, 0);
}

export function intToIpv4(n: number): string {
  return new ipaddr.IPv4([24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256)).toString();
}

export interface Ipv4Cidr {
  readonly text: string;
  /** Network address as a number. */
  readonly network: number;
  readonly prefix: number;
  readonly size: number;
}

/** Parses `a.b.c.d/n`; rejects host bits set (10.0.1.5/24), as the clouds do. */
export function parseIpv4Cidr(text: unknown): Ipv4Cidr | undefined {
  if (typeof text !== 'string' || !ipaddr.IPv4.isValidCIDRFourPartDecimal(text) || !/\/\d{1,2}$/.test(text)) return undefined;
  const [address, prefix] = ipaddr.IPv4.parseCIDR(text);
  if (ipaddr.IPv4.networkAddressFromCIDR(text).toString() !== address.toString()) return undefined;
  return { text, network: ipv4ToInt(address.toString())!, prefix, size: 2 ** (32 - prefix) };
}

export function cidrContains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  return inner.network >= outer.network && inner.network + inner.size <= outer.network + outer.size;
}

export function cidrContainsIp(cidr: Ipv4Cidr, ip: number): boolean {
  return ip >= cidr.network && ip < cidr.network + cidr.size;
}

/** True for RFC 1918 ranges, which both clouds require for private networks. */
export function isRfc1918(cidr: Ipv4Cidr): boolean {
  return ipaddr.IPv4.parse(intToIpv4(cidr.network)).range() === 'private'
    && ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].some((r) => cidrContains(parseIpv4Cidr(r)!, cidr));
}

/**
 * Why `text` is not an IPv4 or IPv6 CIDR a cloud firewall accepts, or undefined.
 * Host bits must be clear in both families: the hcloud provider rejects
 * `2001:db8::1/64` at plan ("invalid CIDR"), the DigitalOcean API likewise.
 */
export function cidrProblem(text: unknown): string | undefined {
  if (typeof text !== 'string') return `must be a CIDR string, got ${show(text)}`;
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) return `is not a CIDR (like "203.0.113.7/32" or "2001:db8::/48"): ${show(text)}`;
  if (isIpv4(m[1])) {
    if (Number(m[2]) > 32) return `has a prefix longer than /32: ${show(text)}`;
    const network = ipaddr.IPv4.networkAddressFromCIDR(text).toString();
    return network === m[1] ? undefined : `has host bits set: ${show(text)} (the network is ${network}/${m[2]})`;
  }
  if (isIpv6(m[1])) {
    if (Number(m[2]) > 128) return `has a prefix longer than /128: ${show(text)}`;
    const network = ipaddr.IPv6.networkAddressFromCIDR(text);
    return network.toNormalizedString() === ipaddr.IPv6.parse(m[1]).toNormalizedString()
      ? undefined : `has host bits set: ${show(text)} (the network is ${network.toString()}/${m[2]})`;
  }
  return `is not a CIDR (like "203.0.113.7/32" or "2001:db8::/48"): ${show(text)}`;
}

// ---------------------------------------------------------------- SSH keys

const PUBLIC_KEY_TYPES = new Set([
  'ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com',
]);

/**
 * Checks an OpenSSH public key line (`type base64 [comment]`), including that
 * the base64 blob decodes and names the same key type. Returns a reason or undefined.
 */
export function sshPublicKeyProblem(line: unknown): string | undefined {
  if (typeof line !== 'string') return `must be a string (one OpenSSH public key line), got ${show(line)}`;
  if (line.trim() === '') return 'is empty';
  // Never echo the value here: a pasted private key must not end up in logs.
  if (/PRIVATE KEY/.test(line)) return 'is a private key; give the public key (the .pub file)';
  // A pasted authorized_keys file: each cloud would store it as one broken key.
  if (/[\r\n]/.test(line.trim())) return 'holds a line break: give one key per entry (one line of the .pub file)';
  if (/[\x00-\x08\x0b-\x1f\x7f]/.test(line)) return 'holds a control character';
  const parts = line.trim().split(/\s+/);
  if (parts.length < 2) return 'is not an OpenSSH public key line ("<type> <base64> [comment]")';
  const [type, blob] = parts;
  if (!PUBLIC_KEY_TYPES.has(type)) {
    return parts.slice(1).some((p) => PUBLIC_KEY_TYPES.has(p))
      ? `starts with ${show(type)}: options before the key, as in authorized_keys, are not accepted`
      : `has unsupported key type ${show(type)}`;
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) return 'has a key blob that is not base64';
  const raw = Buffer.from(blob, 'base64');
  const len = raw.length >= 4 ? raw.readUInt32BE(0) : -1;
  if (len < 0 || 4 + len > raw.length || raw.subarray(4, 4 + len).toString('latin1') !== type) {
    return `has a key blob that does not hold a ${type} key`;
  }
  if (type === 'ssh-ed25519' && raw.length !== 51) return 'has an ssh-ed25519 blob of the wrong length';
  if (parts.slice(2).some((p) => PUBLIC_KEY_TYPES.has(p))) {
    return 'holds more than one key: give one key per entry';
  }
  return undefined;
}

/** The key's base64 blob: what makes two key lines the same key, whatever their comments. */
export function sshKeyBlob(line: string): string {
  return line.trim().split(/\s+/)[1] ?? '';
}

/** Short stable suffix for resource names derived from a key. */
export function keyFingerprintSuffix(line: string): string {
  const blob = sshKeyBlob(line);
  // Use a cheap non-cryptographic digest: this only disambiguates names.
  let h = 2166136261;
  for (const c of blob) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/**
 * The key's MD5 fingerprint (`aa:bb:…`): how both the Hetzner and the
 * DigitalOcean API identify an uploaded key (`ssh-keygen -l -E md5 -f key.pub`).
 */
export function sshKeyMd5Fingerprint(line: string): string {
  const digest = createHash('md5').update(Buffer.from(sshKeyBlob(line), 'base64')).digest('hex');
  return digest.match(/../g)!.join(':');
}

// ---------------------------------------------------------------- field types

/**
 * The JSON type a declaration field must have. main.ts is type-checked only
 * by `tsc`, not by synth, and a declaration may come from JSON: every field is
 * checked for its type before its value, so a wrong type gets the same
 * host-and-field message as a wrong value and never a TypeError.
 */
export type FieldType = 'string' | 'number' | 'boolean' | 'string[]' | 'object' | 'object[]' | 'string|string[]' | 'string|object';

export interface FieldSpec {
  readonly type: FieldType;
  /** @default false */
  readonly required?: boolean;
}

export type FieldSpecs = Readonly<Record<string, FieldSpec>>;

const TYPE_NAMES: Record<FieldType, string> = {
  'string': 'a string',
  'number': 'a number',
  'boolean': 'true or false',
  'string[]': 'a list of strings',
  'object': 'an object',
  'object[]': 'a list of objects',
  'string|string[]': 'a string or a list of strings',
  'string|object': 'a string or an object',
};

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function hasType(value: unknown, type: FieldType): boolean {
  switch (type) {
    case 'string': return typeof value === 'string';
    case 'number': return typeof value === 'number' && Number.isFinite(value);
    case 'boolean': return typeof value === 'boolean';
    case 'object': return isPlainObject(value);
    case 'string[]': return Array.isArray(value) && value.every((v) => typeof v === 'string');
    case 'object[]': return Array.isArray(value) && value.every(isPlainObject);
    case 'string|string[]': return typeof value === 'string' || hasType(value, 'string[]');
    case 'string|object': return typeof value === 'string' || isPlainObject(value);
  }
}

/** Describes a wrong value without dumping it whole (it may be large, or a pasted secret). */
function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    const bad = value.findIndex((v) => typeof v !== 'string');
    return bad >= 0 ? `a list whose item ${bad} is ${describeType(value[bad])}` : 'a list';
  }
  if (typeof value === 'string' && /PRIVATE KEY/.test(value)) return 'a private key (not shown; give the public key)';
  if (typeof value === 'string') return `the string ${show(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/**
 * Checks that `obj` is an object whose fields have the given types and that
 * it has no other fields (a typo such as `serverTyp` would otherwise be
 * ignored without a word). Returns false when anything is wrong, so callers
 * skip the value checks that assume the types.
 */
export function checkFields(obj: unknown, specs: FieldSpecs, where: string, prefix: string, problems: Problems, what: string): boolean {
  const field = (name: string): string => (prefix ? `${prefix}.${name}` : name);
  if (!isPlainObject(obj)) {
    problems.add(where, prefix || 'declaration', `must be ${what} (an object), got ${describeType(obj)}`);
    return false;
  }
  let ok = true;
  for (const [name, spec] of Object.entries(specs)) {
    const value = obj[name];
    if (value === undefined) {
      if (spec.required) {
        problems.add(where, field(name), `is required (${TYPE_NAMES[spec.type]})`);
        ok = false;
      }
    } else if (!hasType(value, spec.type)) {
      problems.add(where, field(name), `must be ${TYPE_NAMES[spec.type]}${spec.required ? '' : ' or left out'}, got ${describeType(value)}`);
      ok = false;
    }
  }
  for (const name of Object.keys(obj)) {
    if (!(name in specs)) {
      problems.add(where, field(name), `is not a field of ${what} (known: ${Object.keys(specs).join(', ')})`);
      ok = false;
    }
  }
  return ok;
}

// ---------------------------------------------------------------- NixOS channels

/**
 * Why `channel` is not a NixOS channel that exists, or undefined. Stable
 * releases are YY.05 and YY.11 only (since 13.10 they are named for May and
 * November); `nixos-unstable` is the rolling one.
 */
export function channelProblem(channel: unknown): string | undefined {
  const example = '(e.g. "nixos-26.05") or "nixos-unstable"';
  if (typeof channel !== 'string') return `must be a string "nixos-YY.MM" ${example}, got ${describeType(channel)}`;
  if (!CHANNEL_PATTERN.test(channel)) return `must be "nixos-YY.MM" ${example}, got ${show(channel)}`;
  if (channel === 'nixos-unstable') return undefined;
  const [yy, mm] = channel.slice('nixos-'.length).split('.').map(Number);
  if (mm !== 5 && mm !== 11) {
    return `names no NixOS release: releases are YY.05 and YY.11 only, got ${show(channel)} (try "nixos-${String(yy).padStart(2, '0')}.${mm < 5 ? '05' : '11'}")`;
  }
  if (yy < 14) return `names a NixOS release long gone (${show(channel)}); use a current one ${example}`;
  return undefined;
}

// ---------------------------------------------------------------- firewall

const FIREWALL_RULE_FIELDS: FieldSpecs = {
  protocol: { type: 'string', required: true },
  port: { type: 'string' },
  sourceCidrs: { type: 'string[]', required: true },
  description: { type: 'string' },
};

export function validateFirewallRules(rules: unknown, where: string, field: string, problems: Problems): void {
  if (rules === undefined) return;
  if (!Array.isArray(rules)) {
    problems.add(where, field, `must be a list of rules, got ${describeType(rules)}`);
    return;
  }
  rules.forEach((rule, i) => {
    const f = `${field}[${i}]`;
    if (!checkFields(rule, FIREWALL_RULE_FIELDS, where, f, problems, 'a firewall rule')) return;
    if (rule.description !== undefined && (rule.description.length > 255 || /[\x00-\x1f\x7f]/.test(rule.description))) {
      problems.add(where, `${f}.description`, 'must be one line of at most 255 characters');
    }
    if (!['tcp', 'udp', 'icmp'].includes(rule?.protocol)) {
      problems.add(where, `${f}.protocol`, `must be "tcp", "udp" or "icmp", got ${show(rule?.protocol)}`);
    }
    if (rule?.protocol === 'icmp') {
      if (rule.port !== undefined) problems.add(where, `${f}.port`, 'must not be set for icmp');
    } else if (!isPortOrRange(rule?.port)) {
      problems.add(where, `${f}.port`, `must be a port "1"-"65535" or a range "from-to", got ${show(rule?.port)}`);
    }
    if (!Array.isArray(rule?.sourceCidrs) || rule.sourceCidrs.length === 0) {
      problems.add(where, `${f}.sourceCidrs`, 'must list at least one CIDR');
    } else {
      rule.sourceCidrs.forEach((c: unknown, j: number) => {
        const why = cidrProblem(c);
        if (why) problems.add(where, `${f}.sourceCidrs[${j}]`, why);
      });
    }
  });
}

function isPortOrRange(p: unknown): boolean {
  if (typeof p !== 'string') return false;
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(p);
  if (!m) return false;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  return from >= 1 && to <= 65535 && from <= to;
}

// ---------------------------------------------------------------- SSH keys in a cloud

/**
 * Checks a cloud section's `sshKeys` (CloudSshKeys). `refProblem` says why
 * one `existing` entry is not a reference that cloud takes.
 */
export function validateCloudSshKeys(
  value: unknown, field: string, problems: Problems, refProblem: (ref: string) => string | undefined,
): void {
  if (value === undefined || value === 'auto' || value === 'upload') return;
  if (typeof value === 'string') {
    problems.add('fleet', field, `must be "auto", "upload" or { existing: [...] }, got ${show(value)}`);
    return;
  }
  if (!checkFields(value, { existing: { type: 'string[]', required: true } }, 'fleet', field, problems, 'an existing-keys setting')) return;
  const existing = (value as { existing: string[] }).existing;
  if (existing.length === 0) problems.add('fleet', `${field}.existing`, 'must name at least one key already in the project');
  existing.forEach((ref, i) => {
    const why = refProblem(ref);
    if (why) problems.add('fleet', `${field}.existing[${i}]`, why);
  });
  if (new Set(existing).size !== existing.length) problems.add('fleet', `${field}.existing`, 'names a key twice');
}
