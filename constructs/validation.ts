/**
 * Validation primitives shared by the stack and the cloud adapters.
 *
 * Every check reports into a `Problems` list instead of throwing at the first
 * one, so a user fixing `main.ts` sees all mistakes in one run. Each message
 * names where (`host "web-1"` or `fleet`) and the field.
 */
import { isIPv4, isIPv6 } from 'net';

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

// ---------------------------------------------------------------- IPv4 maths

/** Parses dotted-quad IPv4 into an unsigned 32-bit number. */
export function ipv4ToInt(ip: string): number | undefined {
  if (!isIPv4(ip)) return undefined;
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
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
  if (typeof text !== 'string') return undefined;
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const base = ipv4ToInt(m[1]);
  const prefix = Number(m[2]);
  if (base === undefined || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) return undefined;
  return { text, network: base, prefix, size };
}

export function cidrContains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  return inner.network >= outer.network && inner.network + inner.size <= outer.network + outer.size;
}

export function cidrContainsIp(cidr: Ipv4Cidr, ip: number): boolean {
  return ip >= cidr.network && ip < cidr.network + cidr.size;
}

/** True for RFC 1918 ranges, which both clouds require for private networks. */
export function isRfc1918(cidr: Ipv4Cidr): boolean {
  return ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].some((r) => cidrContains(parseIpv4Cidr(r)!, cidr));
}

/** IPv4 or IPv6 CIDR (as used by firewall rules and admin CIDRs). */
export function isCidr(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  if (parseIpv4Cidr(text)) return true;
  const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(text);
  return !!m && isIPv6(m[1]) && Number(m[2]) <= 128;
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
  if (typeof line !== 'string' || line.trim() === '') return 'is empty';
  // Never echo the value here: a pasted private key must not end up in logs.
  if (/PRIVATE KEY/.test(line)) return 'is a private key; give the public key (the .pub file)';
  const parts = line.trim().split(/\s+/);
  if (parts.length < 2) return 'is not an OpenSSH public key line ("<type> <base64> [comment]")';
  const [type, blob] = parts;
  if (!PUBLIC_KEY_TYPES.has(type)) return `has unsupported key type ${show(type)}`;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) return 'has a key blob that is not base64';
  const raw = Buffer.from(blob, 'base64');
  const len = raw.length >= 4 ? raw.readUInt32BE(0) : -1;
  if (len < 0 || 4 + len > raw.length || raw.subarray(4, 4 + len).toString('latin1') !== type) {
    return `has a key blob that does not hold a ${type} key`;
  }
  if (type === 'ssh-ed25519' && raw.length !== 51) return 'has an ssh-ed25519 blob of the wrong length';
  return undefined;
}

/** Short stable suffix for resource names derived from a key. */
export function keyFingerprintSuffix(line: string): string {
  const blob = line.trim().split(/\s+/)[1] ?? '';
  // Use a cheap non-cryptographic digest: this only disambiguates names.
  let h = 2166136261;
  for (const c of blob) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return h.toString(16).padStart(8, '0');
}

// ---------------------------------------------------------------- firewall

export function validateFirewallRules(rules: unknown, where: string, field: string, problems: Problems): void {
  if (rules === undefined) return;
  if (!Array.isArray(rules)) {
    problems.add(where, field, 'must be a list of rules');
    return;
  }
  rules.forEach((rule, i) => {
    const f = `${field}[${i}]`;
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
        if (!isCidr(c)) problems.add(where, `${f}.sourceCidrs[${j}]`, `is not a CIDR: ${show(c)}`);
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
