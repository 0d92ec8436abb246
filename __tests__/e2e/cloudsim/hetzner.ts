/**
 * A simulated Hetzner Cloud API v1, stateful, for exactly what this template
 * uses: SSH keys, networks + subnets, servers (create, get, list by name and
 * label, update, delete, and the actions the real provider calls and polls:
 * poweron/poweroff/shutdown, change_type, attach/detach network), firewalls
 * (rules, apply/remove resources) and the catalogue reads (server types with
 * per-location deprecation, images, locations, datacenters).
 *
 * Faithful to the API reference and to what hetznercloud/hcloud-go v2.47 and
 * terraform-provider-hcloud v1.68 send and expect (read from their source):
 * error bodies `{"error":{"code","message","details"}}`, pagination meta,
 * RateLimit-* headers, actions that run and are polled with
 * GET /actions?id=...; uniqueness of names (servers, networks, firewalls, SSH
 * keys) and of SSH key fingerprints, subnet ranges inside the network, label
 * formats, server types that can no longer be ordered.
 *
 * Every server is a real machine behind a MachineBackend (stand-in hosts in
 * the e2e suite): its public IPv4 is that machine's address, root's
 * authorized_keys are the request's SSH keys, deleting it stops the machine.
 *
 * Faults on demand (rateLimit, httpError, failActions, slowActions) let a
 * suite check that the provider retries, or fails with the API's message.
 */
import * as crypto from 'crypto';
import { ApiRequest, ApiResponse, HttpError, ServedRequest, SimHttpServer } from './http';
import { CatalogueServerType, IMAGES, LOCATIONS, SERVER_TYPES } from './hetzner-catalogue';
import { MachineBackend } from './machines';

export interface HetznerSimOptions {
  machines: MachineBackend;
  /** The project's API token (64 characters, like Hetzner's). @default random */
  token?: string;
  /** How long an action runs before it settles, in ms. @default 300 */
  actionMs?: number;
  /** The simulator's clock (deprecation dates are compared to it). @default the real clock */
  now?: () => Date;
}

type Labels = Record<string, string>;

interface SshKey { id: number; name: string; publicKey: string; fingerprint: string; labels: Labels; created: string }
interface Subnet { type: string; ipRange: string; networkZone: string; gateway: string }
interface Network { id: number; name: string; ipRange: string; subnets: Subnet[]; labels: Labels; created: string; exposeRoutesToVSwitch: boolean; deleteProtection: boolean }
interface Rule { direction: string; protocol: string; port: string | null; sourceIps: string[]; destinationIps: string[]; description: string | null }
interface Firewall { id: number; name: string; labels: Labels; rules: Rule[]; created: string }
interface PrivateNet { network: number; ip: string; aliasIps: string[]; mac: string }
interface Server {
  id: number; name: string; status: string; created: string; type: CatalogueServerType; locationName: string; imageId: number;
  ipv4: string; ipv4Id: number; ipv6Net: string; ipv6Id: number; privateNet: PrivateNet[]; firewalls: number[];
  labels: Labels; primaryDiskSize: number; sshKeyIds: number[]; userData: string; busy: boolean;
}
interface Action {
  id: number; command: string; status: 'running' | 'success' | 'error'; progress: number; started: string;
  finished: string | null; error: { code: string; message: string } | null; resources: { id: number; type: string }[];
}

/** Something that happened to the simulated project, in order (for the suite's assertions). */
export interface CloudEvent {
  kind: string;
  resource: 'server' | 'network' | 'firewall' | 'ssh_key' | 'action';
  id: number;
  name?: string;
  detail?: string;
}

export interface ServerView {
  id: number; name: string; status: string; serverType: string; location: string; ipv4: string;
  privateIps: string[]; privateMacs: string[]; firewalls: string[]; labels: Labels; sshKeys: string[];
}

/** What the project holds now, by name (for assertions and for "is it empty"). */
export interface ProjectView {
  servers: ServerView[];
  networks: { id: number; name: string; ipRange: string; subnets: string[]; labels: Labels }[];
  firewalls: { id: number; name: string; rules: number; appliedTo: string[]; labels: Labels }[];
  sshKeys: { id: number; name: string; fingerprint: string; labels: Labels }[];
}

const HETZNER_RATE_LIMIT = 3600;

function apiError(status: number, code: string, message: string, details: unknown = {}): HttpError {
  return new HttpError(status, { error: { code, message, details } });
}
const notFound = (what: string) => apiError(404, 'not_found', `${what} not found`);
const invalidField = (field: string, message: string) =>
  apiError(400, 'invalid_input', `invalid input in field '${field}'`, { fields: [{ name: field, messages: [message] }] });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// formats (docs.hetzner.cloud: labels, names)

const LABEL_NAME = /^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function labelProblem(key: string, value: unknown): string | undefined {
  if (typeof value !== 'string') return `label value of '${key}' must be a string`;
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (!LABEL_NAME.test(name)) return `label key '${key}' is invalid`;
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return `label key '${key}' has an invalid prefix`;
  if (prefix === 'hetzner.cloud' || prefix?.endsWith('.hetzner.cloud')) return `label key '${key}' uses the reserved prefix hetzner.cloud`;
  if (value !== '' && !LABEL_NAME.test(value)) return `label value '${value}' of key '${key}' is invalid`;
  return undefined;
}

function checkLabels(labels: unknown): Labels {
  if (labels === undefined || labels === null) return {};
  if (typeof labels !== 'object' || Array.isArray(labels)) throw invalidField('labels', 'must be an object');
  for (const [k, v] of Object.entries(labels)) {
    const p = labelProblem(k, v);
    if (p) throw invalidField('labels', p);
  }
  return { ...(labels as Labels) };
}

const HOSTNAME_LABEL = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
function isHostname(name: string): boolean {
  return name.length <= 253 && name.split('.').every((l) => HOSTNAME_LABEL.test(l));
}

function requireString(body: Record<string, unknown>, field: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v.length === 0) throw invalidField(field, 'is required and must be a non-empty string');
  return v;
}

function asBody(req: ApiRequest): Record<string, unknown> {
  if (req.body === undefined) return {};
  if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) throw apiError(400, 'json_error', 'request body must be a JSON object');
  return req.body as Record<string, unknown>;
}

// IPv4 arithmetic
function ipToInt(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}
const intToIp = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
interface Cidr { base: number; bits: number; size: number }
function parseCidr(text: string): Cidr | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const base = ipToInt(m[1]);
  const bits = Number(m[2]);
  if (base === undefined || bits > 32) return undefined;
  const size = 2 ** (32 - bits);
  if (base % size !== 0) return undefined; // host bits set
  return { base, bits, size };
}
const cidrInside = (inner: Cidr, outer: Cidr) => inner.base >= outer.base && inner.base + inner.size <= outer.base + outer.size;
const cidrOverlap = (a: Cidr, b: Cidr) => a.base < b.base + b.size && b.base < a.base + a.size;
const isPrivate = (c: Cidr) => [parseCidr('10.0.0.0/8')!, parseCidr('172.16.0.0/12')!, parseCidr('192.168.0.0/16')!].some((p) => cidrInside(c, p));

/** OpenSSH fingerprint as Hetzner shows it: MD5 of the key blob, colon-separated hex. */
export function md5Fingerprint(publicKey: string): string | undefined {
  const m = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)\s+([A-Za-z0-9+/]+={0,2})(\s.*)?$/.exec(publicKey.trim());
  if (!m) return undefined;
  const blob = Buffer.from(m[2], 'base64');
  if (blob.length < 4) return undefined;
  const typeLen = blob.readUInt32BE(0);
  if (blob.subarray(4, 4 + typeLen).toString('latin1') !== m[1]) return undefined;
  return crypto.createHash('md5').update(blob).digest('hex').match(/../g)!.join(':');
}

// ---------------------------------------------------------------------------------------------

export class HetznerCloudSim {
  readonly token: string;
  private readonly http: SimHttpServer;
  private readonly machines: MachineBackend;
  private readonly actionMs: number;
  private readonly now: () => Date;
  private nextId = 1;
  private readonly sshKeys = new Map<number, SshKey>();
  private readonly networks = new Map<number, Network>();
  private readonly firewalls = new Map<number, Firewall>();
  private readonly servers = new Map<number, Server>();
  private readonly actions = new Map<number, Action>();
  private readonly eventLog: CloudEvent[] = [];
  private readonly actionFaults: { command: string; times: number; code: string; message: string }[] = [];
  private readonly slow = new Map<string, number>();
  private readonly pending = new Set<Promise<void>>();

  static async start(opts: HetznerSimOptions): Promise<HetznerCloudSim> {
    const sim = new HetznerCloudSim(opts);
    await sim.http.listen();
    return sim;
  }

  private constructor(opts: HetznerSimOptions) {
    this.token = opts.token ?? crypto.randomBytes(32).toString('hex');
    if (this.token.length !== 64) throw new Error('a Hetzner Cloud API token has 64 characters');
    this.machines = opts.machines;
    this.actionMs = opts.actionMs ?? 300;
    this.now = opts.now ?? (() => new Date());
    this.http = new SimHttpServer('/v1', (req) => this.authorize(req), (req) => {
      throw apiError(404, 'not_found', `no route for ${req.method} ${req.path}`);
    });
    this.routes();
  }

  /** HCLOUD_ENDPOINT, e.g. http://127.0.0.1:PORT/v1 */
  get endpoint(): string {
    return this.http.url;
  }

  /** The environment the real provider needs to use this simulator. */
  providerEnv(): { HCLOUD_TOKEN: string; HCLOUD_ENDPOINT: string } {
    return { HCLOUD_TOKEN: this.token, HCLOUD_ENDPOINT: this.endpoint };
  }

  /** Every request served, in order. */
  requests(): ServedRequest[] {
    return this.http.requests();
  }

  events(): CloudEvent[] {
    return this.eventLog.map((e) => ({ ...e }));
  }

  async stop(): Promise<void> {
    await this.http.close();
    await Promise.allSettled([...this.pending]);
  }

  // ---- faults ---------------------------------------------------------------------------------

  /** The next `times` matching requests get 429 rate_limit_exceeded with Retry-After and RateLimit-* headers. */
  rateLimit(times: number, match: { method?: string; path?: RegExp } = {}, retryAfterSeconds = 1): void {
    this.http.inject({
      ...match, times, label: '429',
      respond: () => ({
        status: 429,
        headers: {
          'Retry-After': String(retryAfterSeconds),
          'RateLimit-Limit': String(HETZNER_RATE_LIMIT),
          'RateLimit-Remaining': '0',
          'RateLimit-Reset': String(Math.floor(this.now().getTime() / 1000) + retryAfterSeconds),
        },
        body: { error: { code: 'rate_limit_exceeded', message: `limit of ${HETZNER_RATE_LIMIT} requests per hour reached`, details: {} } },
      }),
    });
  }

  /** The next `times` matching requests fail with this status and error code (e.g. 500 server_error, 503 maintenance, 502 bad_gateway). */
  httpError(times: number, status: number, code: string, message: string, match: { method?: string; path?: RegExp } = {}): void {
    this.http.inject({ ...match, times, label: String(status), respond: () => ({ status, body: { error: { code, message, details: {} } } }) });
  }

  /** The next `times` actions of this command end in status error with this code and message. */
  failActions(command: string, times: number, code: string, message: string): void {
    this.actionFaults.push({ command, times, code, message });
  }

  /** Actions of this command take `ms` to settle (instead of actionMs). */
  slowActions(command: string, ms: number): void {
    this.slow.set(command, ms);
  }

  clearFaults(): void {
    this.http.clearFaults();
    this.actionFaults.length = 0;
    this.slow.clear();
  }

  // ---- views ----------------------------------------------------------------------------------

  view(): ProjectView {
    const netName = (id: number) => this.networks.get(id)?.name ?? `#${id}`;
    const fwName = (id: number) => this.firewalls.get(id)?.name ?? `#${id}`;
    return {
      servers: [...this.servers.values()].map((s) => ({
        id: s.id, name: s.name, status: s.status, serverType: s.type.name, location: s.locationName, ipv4: s.ipv4,
        privateIps: s.privateNet.map((p) => `${netName(p.network)}:${p.ip}`), privateMacs: s.privateNet.map((p) => p.mac), firewalls: s.firewalls.map(fwName),
        labels: { ...s.labels }, sshKeys: s.sshKeyIds.map((k) => this.sshKeys.get(k)?.name ?? `#${k}`),
      })),
      networks: [...this.networks.values()].map((n) => ({ id: n.id, name: n.name, ipRange: n.ipRange, subnets: n.subnets.map((s) => s.ipRange), labels: { ...n.labels } })),
      firewalls: [...this.firewalls.values()].map((f) => ({
        id: f.id, name: f.name, rules: f.rules.length, labels: { ...f.labels },
        appliedTo: [...this.servers.values()].filter((s) => s.firewalls.includes(f.id)).map((s) => s.name),
      })),
      sshKeys: [...this.sshKeys.values()].map((k) => ({ id: k.id, name: k.name, fingerprint: k.fingerprint, labels: { ...k.labels } })),
    };
  }

  /** Adds an SSH key as a user would in the console (for "the key is already in the project"). */
  addSshKeyDirectly(name: string, publicKey: string): void {
    const fingerprint = md5Fingerprint(publicKey);
    if (!fingerprint) throw new Error('not an SSH public key');
    const id = this.id();
    this.sshKeys.set(id, { id, name, publicKey: publicKey.trim(), fingerprint, labels: {}, created: this.stamp() });
  }

  // ---- plumbing -------------------------------------------------------------------------------

  private id(): number {
    return this.nextId++;
  }

  private stamp(): string {
    return this.now().toISOString().replace(/\.\d{3}Z$/, '+00:00');
  }

  private event(e: CloudEvent): void {
    this.eventLog.push(e);
  }

  private authorize(req: ApiRequest): ApiResponse | undefined {
    const auth = req.headers.authorization ?? '';
    if (auth !== `Bearer ${this.token}`) {
      return { status: 401, body: { error: { code: 'unauthorized', message: 'unable to authenticate', details: {} } } };
    }
    return undefined;
  }

  private ok(body: unknown, status = 200): ApiResponse {
    return {
      status,
      body,
      headers: {
        'RateLimit-Limit': String(HETZNER_RATE_LIMIT),
        'RateLimit-Remaining': String(Math.max(0, HETZNER_RATE_LIMIT - this.http.requests().length)),
        'RateLimit-Reset': String(Math.floor(this.now().getTime() / 1000) + 3600),
      },
    };
  }

  /** A list response with Hetzner's pagination (page, per_page ≤ 50). */
  private page<T>(key: string, items: T[], req: ApiRequest): ApiResponse {
    const perPage = Math.min(50, Math.max(1, Number(req.query.get('per_page') ?? 25) || 25));
    const page = Math.max(1, Number(req.query.get('page') ?? 1) || 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    return this.ok({
      [key]: items.slice((page - 1) * perPage, page * perPage),
      meta: {
        pagination: {
          page, per_page: perPage, previous_page: page > 1 ? page - 1 : null, next_page: page < last ? page + 1 : null,
          last_page: last, total_entries: items.length,
        },
      },
    });
  }

  private matchesSelector(labels: Labels, selector: string | null): boolean {
    if (!selector) return true;
    return selector.split(',').map((s) => s.trim()).filter(Boolean).every((expr) => {
      let m: RegExpExecArray | null;
      if ((m = /^!\s*(\S+)$/.exec(expr))) return !(m[1] in labels);
      if ((m = /^([^=!\s]+)\s*!=\s*(\S*)$/.exec(expr))) return labels[m[1]] !== m[2];
      if ((m = /^([^=!\s]+)\s*==?\s*(\S*)$/.exec(expr))) return labels[m[1]] === m[2];
      if ((m = /^(\S+)$/.exec(expr))) return m[1] in labels;
      throw invalidField('label_selector', `cannot parse '${expr}'`);
    });
  }

  private filterList<T extends { name: string; labels: Labels }>(items: T[], req: ApiRequest): T[] {
    const name = req.query.get('name');
    const selector = req.query.get('label_selector');
    return items.filter((i) => (name === null || i.name === name) && this.matchesSelector(i.labels, selector));
  }

  private byId<T>(map: Map<number, T>, raw: string, what: string): T {
    const item = /^\d+$/.test(raw) ? map.get(Number(raw)) : undefined;
    if (!item) throw notFound(what);
    return item;
  }

  /**
   * Starts an action; it settles after actionMs (or the slow delay), running `work` first.
   * An injected action fault, or a throwing `work`, ends it in status error.
   */
  private action(command: string, resources: { id: number; type: string }[], work: () => Promise<void> = async () => undefined,
    after?: Promise<void>, onError?: () => Promise<void>): { action: Action; done: Promise<void> } {
    const action: Action = {
      id: this.id(), command, status: 'running', progress: 0, started: this.stamp(), finished: null, error: null, resources,
    };
    this.actions.set(action.id, action);
    const done = (async () => {
      if (after) await after;
      await sleep(this.slow.get(command) ?? this.actionMs);
      const fault = this.actionFaults.find((f) => f.command === command && f.times > 0);
      try {
        if (fault) {
          fault.times -= 1;
          throw Object.assign(new Error(fault.message), { code: fault.code });
        }
        await work();
        action.status = 'success';
      } catch (e) {
        action.status = 'error';
        action.error = { code: (e as { code?: string }).code ?? 'action_failed', message: (e as Error).message };
        this.event({ kind: `action.error`, resource: 'action', id: action.id, name: command, detail: action.error.message });
        if (onError) await onError().catch(() => undefined);
      }
      action.progress = 100;
      action.finished = this.stamp();
    })();
    const tracked = done.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
    return { action, done };
  }

  private renderAction(a: Action): unknown {
    return { ...a };
  }

  // ---- renderers ------------------------------------------------------------------------------

  private renderLocation(name: string): unknown {
    const l = LOCATIONS.find((x) => x.name === name)!;
    return {
      id: l.id, name: l.name, description: l.description, country: l.country, city: l.city,
      latitude: l.latitude, longitude: l.longitude, network_zone: l.networkZone,
    };
  }

  private renderDatacenter(locationName: string): unknown {
    const l = LOCATIONS.find((x) => x.name === locationName)!;
    const sold = SERVER_TYPES.filter((t) => t.locations.includes(l.name));
    const orderable = sold.filter((t) => this.orderable(t, l.name)).map((t) => t.id);
    return {
      id: l.datacenter.id, name: l.datacenter.name, description: l.datacenter.description, location: this.renderLocation(l.name),
      server_types: { supported: sold.map((t) => t.id), available: orderable, available_for_migration: orderable },
    };
  }

  private orderable(t: CatalogueServerType, location: string): boolean {
    if (!t.locations.includes(location)) return false;
    return !t.retired || this.now() < new Date(t.retired.unavailableAfter);
  }

  private renderServerType(t: CatalogueServerType): unknown {
    const deprecation = t.retired ? { announced: t.retired.announced, unavailable_after: t.retired.unavailableAfter } : null;
    return {
      id: t.id, name: t.name, description: t.name.toUpperCase(), category: t.category, cores: t.cores, memory: t.memory, disk: t.disk,
      storage_type: 'local', cpu_type: t.cpuType, architecture: t.architecture, included_traffic: 21990232555520,
      prices: t.locations.map((l) => ({
        location: l, price_hourly: { net: '0.0100', gross: '0.0119' }, price_monthly: { net: '5.0000', gross: '5.9500' },
        included_traffic: 21990232555520, price_per_tb_traffic: { net: '1.0000', gross: '1.1900' },
      })),
      // Since 2025-09 deprecation is reported per location; the type-wide fields stay unset.
      deprecated: false,
      deprecation: null,
      locations: t.locations.map((l) => {
        const loc = LOCATIONS.find((x) => x.name === l)!;
        return { id: loc.id, name: loc.name, deprecation, available: this.orderable(t, l), recommended: !t.retired };
      }),
    };
  }

  private renderImage(id: number): unknown {
    const i = IMAGES.find((x) => x.id === id)!;
    return {
      id: i.id, type: 'system', status: 'available', name: i.name, description: i.description, image_size: null, disk_size: 5,
      created: i.created, created_from: null, bound_to: null, os_flavor: i.osFlavor, os_version: i.osVersion,
      architecture: i.architecture, rapid_deploy: true, protection: { delete: false }, deprecated: null, deleted: null, labels: {},
    };
  }

  private renderSshKey(k: SshKey): unknown {
    return { id: k.id, name: k.name, fingerprint: k.fingerprint, public_key: k.publicKey, labels: k.labels, created: k.created };
  }

  private renderNetwork(n: Network): unknown {
    return {
      id: n.id, name: n.name, ip_range: n.ipRange, created: n.created, labels: n.labels,
      subnets: n.subnets.map((s) => ({ type: s.type, ip_range: s.ipRange, network_zone: s.networkZone, gateway: s.gateway })),
      routes: [], servers: [...this.servers.values()].filter((s) => s.privateNet.some((p) => p.network === n.id)).map((s) => s.id),
      load_balancers: [], protection: { delete: n.deleteProtection }, expose_routes_to_vswitch: n.exposeRoutesToVSwitch,
    };
  }

  private renderFirewall(f: Firewall): unknown {
    return {
      id: f.id, name: f.name, labels: f.labels, created: f.created,
      rules: f.rules.map((r) => ({
        direction: r.direction, protocol: r.protocol, port: r.port, source_ips: r.sourceIps, destination_ips: r.destinationIps, description: r.description,
      })),
      applied_to: [...this.servers.values()].filter((s) => s.firewalls.includes(f.id)).map((s) => ({ type: 'server', server: { id: s.id } })),
    };
  }

  private renderServer(s: Server): unknown {
    return {
      id: s.id, name: s.name, status: s.status, created: s.created,
      public_net: {
        ipv4: { id: s.ipv4Id, ip: s.ipv4, blocked: false, dns_ptr: `static.${s.ipv4.split('.').reverse().join('.')}.clients.your-server.de` },
        ipv6: { id: s.ipv6Id, ip: s.ipv6Net, blocked: false, dns_ptr: [] },
        floating_ips: [],
        firewalls: s.firewalls.map((id) => ({ id, status: 'applied' })),
      },
      private_net: s.privateNet.map((p) => ({ network: p.network, ip: p.ip, alias_ips: p.aliasIps, mac_address: p.mac })),
      server_type: this.renderServerType(s.type),
      datacenter: this.renderDatacenter(s.locationName),
      location: this.renderLocation(s.locationName),
      image: this.renderImage(s.imageId),
      iso: null, rescue_enabled: false, locked: s.busy, backup_window: null,
      outgoing_traffic: 0, ingoing_traffic: 0, included_traffic: 21990232555520,
      protection: { delete: false, rebuild: false }, labels: s.labels, volumes: [], load_balancers: [],
      primary_disk_size: s.primaryDiskSize, placement_group: null,
    };
  }

  // ---- routes ---------------------------------------------------------------------------------

  private routes(): void {
    const r = (m: string, p: string, h: (req: ApiRequest) => ApiResponse | Promise<ApiResponse>) => this.http.route(m, p, h);

    // catalogue
    r('GET', '/locations', (req) => this.page('locations', LOCATIONS.filter((l) => !req.query.get('name') || l.name === req.query.get('name')).map((l) => this.renderLocation(l.name)), req));
    r('GET', '/locations/{id}', (req) => this.ok({ location: this.renderLocation(this.byId(new Map(LOCATIONS.map((l) => [l.id, l])), req.params.id, 'location').name) }));
    r('GET', '/datacenters', (req) => this.page('datacenters', LOCATIONS.filter((l) => !req.query.get('name') || l.datacenter.name === req.query.get('name')).map((l) => this.renderDatacenter(l.name)), req));
    r('GET', '/datacenters/{id}', (req) => {
      const l = LOCATIONS.find((x) => String(x.datacenter.id) === req.params.id);
      if (!l) throw notFound('datacenter');
      return this.ok({ datacenter: this.renderDatacenter(l.name) });
    });
    r('GET', '/server_types', (req) => this.page('server_types', SERVER_TYPES.filter((t) => !req.query.get('name') || t.name === req.query.get('name')).map((t) => this.renderServerType(t)), req));
    r('GET', '/server_types/{id}', (req) => this.ok({ server_type: this.renderServerType(this.byId(new Map(SERVER_TYPES.map((t) => [t.id, t])), req.params.id, 'server type')) }));
    r('GET', '/images', (req) => {
      const archs = req.query.getAll('architecture');
      const name = req.query.get('name');
      return this.page('images', IMAGES.filter((i) => (!name || i.name === name) && (archs.length === 0 || archs.includes(i.architecture))).map((i) => this.renderImage(i.id)), req);
    });
    r('GET', '/images/{id}', (req) => this.ok({ image: this.renderImage(this.byId(new Map(IMAGES.map((i) => [i.id, i])), req.params.id, 'image').id) }));

    // actions
    r('GET', '/actions', (req) => {
      const ids = req.query.getAll('id');
      if (ids.length === 0) throw invalidField('id', 'listing actions requires at least one id');
      return this.page('actions', ids.map((i) => this.actions.get(Number(i))).filter((a): a is Action => !!a).map((a) => this.renderAction(a)), req);
    });
    r('GET', '/actions/{id}', (req) => this.ok({ action: this.renderAction(this.byId(this.actions, req.params.id, 'action')) }));

    this.sshKeyRoutes(r);
    this.networkRoutes(r);
    this.firewallRoutes(r);
    this.serverRoutes(r);
  }

  private sshKeyRoutes(r: (m: string, p: string, h: (req: ApiRequest) => ApiResponse | Promise<ApiResponse>) => void): void {
    r('GET', '/ssh_keys', (req) => {
      const fp = req.query.get('fingerprint');
      return this.page('ssh_keys', this.filterList([...this.sshKeys.values()], req).filter((k) => !fp || k.fingerprint === fp).map((k) => this.renderSshKey(k)), req);
    });
    r('GET', '/ssh_keys/{id}', (req) => this.ok({ ssh_key: this.renderSshKey(this.byId(this.sshKeys, req.params.id, 'SSH key')) }));
    r('POST', '/ssh_keys', (req) => {
      const body = asBody(req);
      const name = requireString(body, 'name');
      const publicKey = requireString(body, 'public_key');
      const labels = checkLabels(body.labels);
      const fingerprint = md5Fingerprint(publicKey);
      if (!fingerprint) throw invalidField('public_key', 'invalid public key');
      if ([...this.sshKeys.values()].some((k) => k.name === name)) {
        throw apiError(409, 'uniqueness_error', 'SSH key with the same name already exists', { fields: [{ name: 'name' }] });
      }
      if ([...this.sshKeys.values()].some((k) => k.fingerprint === fingerprint)) {
        throw apiError(409, 'uniqueness_error', 'SSH key with the same fingerprint already exists', { fields: [{ name: 'public_key' }] });
      }
      const key: SshKey = { id: this.id(), name, publicKey: publicKey.trim(), fingerprint, labels, created: this.stamp() };
      this.sshKeys.set(key.id, key);
      this.event({ kind: 'ssh_key.create', resource: 'ssh_key', id: key.id, name });
      return this.ok({ ssh_key: this.renderSshKey(key) }, 201);
    });
    r('PUT', '/ssh_keys/{id}', (req) => {
      const key = this.byId(this.sshKeys, req.params.id, 'SSH key');
      const body = asBody(req);
      if (body.name !== undefined) {
        const name = requireString(body, 'name');
        if ([...this.sshKeys.values()].some((k) => k.name === name && k.id !== key.id)) throw apiError(409, 'uniqueness_error', 'SSH key with the same name already exists', { fields: [{ name: 'name' }] });
        key.name = name;
      }
      if (body.labels !== undefined) key.labels = checkLabels(body.labels);
      this.event({ kind: 'ssh_key.update', resource: 'ssh_key', id: key.id, name: key.name });
      return this.ok({ ssh_key: this.renderSshKey(key) });
    });
    r('DELETE', '/ssh_keys/{id}', (req) => {
      const key = this.byId(this.sshKeys, req.params.id, 'SSH key');
      this.sshKeys.delete(key.id);
      this.event({ kind: 'ssh_key.delete', resource: 'ssh_key', id: key.id, name: key.name });
      return { status: 204 };
    });
  }

  private networkRoutes(r: (m: string, p: string, h: (req: ApiRequest) => ApiResponse | Promise<ApiResponse>) => void): void {
    r('GET', '/networks', (req) => this.page('networks', this.filterList([...this.networks.values()], req).map((n) => this.renderNetwork(n)), req));
    r('GET', '/networks/{id}', (req) => this.ok({ network: this.renderNetwork(this.byId(this.networks, req.params.id, 'network')) }));
    r('POST', '/networks', (req) => {
      const body = asBody(req);
      const name = requireString(body, 'name');
      const ipRange = requireString(body, 'ip_range');
      const labels = checkLabels(body.labels);
      const cidr = parseCidr(ipRange);
      if (!cidr || !isPrivate(cidr) || cidr.bits > 24) throw invalidField('ip_range', 'must be a private IPv4 network of size /24 or larger (RFC 1918)');
      if ([...this.networks.values()].some((n) => n.name === name)) throw apiError(409, 'uniqueness_error', 'network name is already used', { fields: [{ name: 'name' }] });
      const network: Network = { id: this.id(), name, ipRange, subnets: [], labels, created: this.stamp(), exposeRoutesToVSwitch: body.expose_routes_to_vswitch === true, deleteProtection: false };
      for (const s of (body.subnets as Record<string, unknown>[] | undefined) ?? []) network.subnets.push(this.checkSubnet(network, s));
      this.networks.set(network.id, network);
      this.event({ kind: 'network.create', resource: 'network', id: network.id, name });
      return this.ok({ network: this.renderNetwork(network) }, 201);
    });
    r('PUT', '/networks/{id}', (req) => {
      const n = this.byId(this.networks, req.params.id, 'network');
      const body = asBody(req);
      if (body.name !== undefined) {
        const name = requireString(body, 'name');
        if ([...this.networks.values()].some((x) => x.name === name && x.id !== n.id)) throw apiError(409, 'uniqueness_error', 'network name is already used', { fields: [{ name: 'name' }] });
        n.name = name;
      }
      if (body.labels !== undefined) n.labels = checkLabels(body.labels);
      if (typeof body.expose_routes_to_vswitch === 'boolean') n.exposeRoutesToVSwitch = body.expose_routes_to_vswitch;
      this.event({ kind: 'network.update', resource: 'network', id: n.id, name: n.name });
      return this.ok({ network: this.renderNetwork(n) });
    });
    r('DELETE', '/networks/{id}', (req) => {
      const n = this.byId(this.networks, req.params.id, 'network');
      if ([...this.servers.values()].some((s) => s.privateNet.some((p) => p.network === n.id))) {
        throw apiError(409, 'service_error', 'network has attached resources');
      }
      this.networks.delete(n.id);
      this.event({ kind: 'network.delete', resource: 'network', id: n.id, name: n.name });
      return { status: 204 };
    });
    r('POST', '/networks/{id}/actions/add_subnet', (req) => {
      const n = this.byId(this.networks, req.params.id, 'network');
      const subnet = this.checkSubnet(n, asBody(req));
      n.subnets.push(subnet);
      this.event({ kind: 'network.add_subnet', resource: 'network', id: n.id, name: n.name, detail: subnet.ipRange });
      return this.ok({ action: this.renderAction(this.action('add_subnet', [{ id: n.id, type: 'network' }]).action) }, 201);
    });
    r('POST', '/networks/{id}/actions/delete_subnet', (req) => {
      const n = this.byId(this.networks, req.params.id, 'network');
      const ipRange = requireString(asBody(req), 'ip_range');
      const subnet = n.subnets.find((s) => s.ipRange === ipRange);
      if (!subnet) throw notFound('subnet');
      const c = parseCidr(ipRange)!;
      if ([...this.servers.values()].some((s) => s.privateNet.some((p) => p.network === n.id && cidrInside({ base: ipToInt(p.ip)!, bits: 32, size: 1 }, c)))) {
        throw apiError(409, 'service_error', 'servers are attached to this subnet');
      }
      n.subnets = n.subnets.filter((s) => s !== subnet);
      this.event({ kind: 'network.delete_subnet', resource: 'network', id: n.id, name: n.name, detail: ipRange });
      return this.ok({ action: this.renderAction(this.action('delete_subnet', [{ id: n.id, type: 'network' }]).action) }, 201);
    });
    r('POST', '/networks/{id}/actions/change_protection', (req) => {
      const n = this.byId(this.networks, req.params.id, 'network');
      const body = asBody(req);
      if (typeof body.delete === 'boolean') n.deleteProtection = body.delete;
      return this.ok({ action: this.renderAction(this.action('change_protection', [{ id: n.id, type: 'network' }]).action) }, 201);
    });
  }

  private checkSubnet(n: Network, body: Record<string, unknown>): Subnet {
    const type = requireString(body, 'type');
    if (!['cloud', 'server', 'vswitch'].includes(type)) throw invalidField('type', 'must be one of cloud, server, vswitch');
    const zone = requireString(body, 'network_zone');
    if (!LOCATIONS.some((l) => l.networkZone === zone)) throw invalidField('network_zone', `unknown network zone '${zone}'`);
    const ipRange = requireString(body, 'ip_range');
    const c = parseCidr(ipRange);
    const net = parseCidr(n.ipRange)!;
    if (!c) throw invalidField('ip_range', 'must be an IPv4 network in CIDR notation');
    if (!cidrInside(c, net)) throw invalidField('ip_range', `subnet ${ipRange} is not inside the network's ip_range ${n.ipRange}`);
    if (n.subnets.some((s) => cidrOverlap(parseCidr(s.ipRange)!, c))) throw apiError(409, 'networks_overlap', `subnet ${ipRange} overlaps an existing subnet`);
    return { type, ipRange, networkZone: zone, gateway: intToIp(net.base + 1) };
  }

  private checkRules(raw: unknown): Rule[] {
    if (raw === undefined || raw === null) return [];
    if (!Array.isArray(raw)) throw invalidField('rules', 'must be a list');
    return raw.map((x: Record<string, unknown>) => {
      const direction = requireString(x, 'direction');
      if (!['in', 'out'].includes(direction)) throw invalidField('rules', 'direction must be in or out');
      const protocol = requireString(x, 'protocol');
      if (!['tcp', 'udp', 'icmp', 'esp', 'gre'].includes(protocol)) throw invalidField('rules', `unknown protocol ${protocol}`);
      const port = typeof x.port === 'string' ? x.port : null;
      if ((protocol === 'tcp' || protocol === 'udp') && (!port || !/^(\d{1,5}(-\d{1,5})?|any)$/.test(port))) throw invalidField('rules', 'port is required for tcp and udp (a port, a range a-b, or any)');
      if ((protocol === 'icmp' || protocol === 'esp' || protocol === 'gre') && port) throw invalidField('rules', `port is not allowed for ${protocol}`);
      const ips = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
      const sourceIps = ips(x.source_ips);
      const destinationIps = ips(x.destination_ips);
      if (direction === 'in' && sourceIps.length === 0) throw invalidField('rules', 'source_ips are required for direction in');
      if (direction === 'out' && destinationIps.length === 0) throw invalidField('rules', 'destination_ips are required for direction out');
      return { direction, protocol, port, sourceIps, destinationIps, description: typeof x.description === 'string' ? x.description : null };
    });
  }

  private firewallRoutes(r: (m: string, p: string, h: (req: ApiRequest) => ApiResponse | Promise<ApiResponse>) => void): void {
    r('GET', '/firewalls', (req) => this.page('firewalls', this.filterList([...this.firewalls.values()], req).map((f) => this.renderFirewall(f)), req));
    r('GET', '/firewalls/{id}', (req) => this.ok({ firewall: this.renderFirewall(this.byId(this.firewalls, req.params.id, 'firewall')) }));
    r('POST', '/firewalls', (req) => {
      const body = asBody(req);
      const name = requireString(body, 'name');
      const labels = checkLabels(body.labels);
      const rules = this.checkRules(body.rules);
      if ([...this.firewalls.values()].some((f) => f.name === name)) throw apiError(409, 'uniqueness_error', 'firewall name is already used', { fields: [{ name: 'name' }] });
      const fw: Firewall = { id: this.id(), name, labels, rules, created: this.stamp() };
      const targets = this.firewallTargets(body.apply_to);
      this.firewalls.set(fw.id, fw);
      this.event({ kind: 'firewall.create', resource: 'firewall', id: fw.id, name });
      const actions = [this.action('set_firewall_rules', [{ id: fw.id, type: 'firewall' }]).action];
      for (const s of targets) actions.push(this.applyFirewall(fw, s));
      return this.ok({ firewall: this.renderFirewall(fw), actions: actions.map((a) => this.renderAction(a)) }, 201);
    });
    r('PUT', '/firewalls/{id}', (req) => {
      const fw = this.byId(this.firewalls, req.params.id, 'firewall');
      const body = asBody(req);
      if (body.name !== undefined) {
        const name = requireString(body, 'name');
        if ([...this.firewalls.values()].some((f) => f.name === name && f.id !== fw.id)) throw apiError(409, 'uniqueness_error', 'firewall name is already used', { fields: [{ name: 'name' }] });
        fw.name = name;
      }
      if (body.labels !== undefined) fw.labels = checkLabels(body.labels);
      this.event({ kind: 'firewall.update', resource: 'firewall', id: fw.id, name: fw.name });
      return this.ok({ firewall: this.renderFirewall(fw) });
    });
    r('DELETE', '/firewalls/{id}', (req) => {
      const fw = this.byId(this.firewalls, req.params.id, 'firewall');
      if ([...this.servers.values()].some((s) => s.firewalls.includes(fw.id))) throw apiError(422, 'resource_in_use', 'firewall is still applied to resources');
      this.firewalls.delete(fw.id);
      this.event({ kind: 'firewall.delete', resource: 'firewall', id: fw.id, name: fw.name });
      return { status: 204 };
    });
    r('POST', '/firewalls/{id}/actions/set_rules', (req) => {
      const fw = this.byId(this.firewalls, req.params.id, 'firewall');
      fw.rules = this.checkRules(asBody(req).rules);
      this.event({ kind: 'firewall.set_rules', resource: 'firewall', id: fw.id, name: fw.name });
      const actions = [this.action('set_firewall_rules', [{ id: fw.id, type: 'firewall' }]).action];
      for (const s of this.servers.values()) if (s.firewalls.includes(fw.id)) actions.push(this.action('apply_firewall', [{ id: fw.id, type: 'firewall' }, { id: s.id, type: 'server' }]).action);
      return this.ok({ actions: actions.map((a) => this.renderAction(a)) }, 201);
    });
    r('POST', '/firewalls/{id}/actions/apply_to_resources', (req) => {
      const fw = this.byId(this.firewalls, req.params.id, 'firewall');
      const targets = this.firewallTargets(asBody(req).apply_to);
      for (const s of targets) if (s.firewalls.includes(fw.id)) throw apiError(422, 'firewall_already_applied', `firewall ${fw.id} is already applied to server ${s.id}`);
      return this.ok({ actions: targets.map((s) => this.renderAction(this.applyFirewall(fw, s))) }, 201);
    });
    r('POST', '/firewalls/{id}/actions/remove_from_resources', (req) => {
      const fw = this.byId(this.firewalls, req.params.id, 'firewall');
      const targets = this.firewallTargets(asBody(req).remove_from);
      for (const s of targets) if (!s.firewalls.includes(fw.id)) throw apiError(422, 'firewall_already_removed', `firewall ${fw.id} is not applied to server ${s.id}`);
      const actions = targets.map((s) => {
        s.firewalls = s.firewalls.filter((f) => f !== fw.id);
        this.event({ kind: 'firewall.remove_from', resource: 'firewall', id: fw.id, name: fw.name, detail: s.name });
        return this.action('remove_firewall', [{ id: fw.id, type: 'firewall' }, { id: s.id, type: 'server' }]).action;
      });
      return this.ok({ actions: actions.map((a) => this.renderAction(a)) }, 201);
    });
  }

  private firewallTargets(raw: unknown): Server[] {
    if (raw === undefined || raw === null) return [];
    if (!Array.isArray(raw)) throw invalidField('apply_to', 'must be a list');
    return raw.map((x: { type?: string; server?: { id?: number } }) => {
      if (x.type !== 'server') throw invalidField('apply_to', 'only type server is simulated');
      const s = this.servers.get(Number(x.server?.id));
      if (!s) throw apiError(404, 'firewall_resource_not_found', `server ${x.server?.id} not found`);
      return s;
    });
  }

  private applyFirewall(fw: Firewall, s: Server): Action {
    s.firewalls.push(fw.id);
    this.event({ kind: 'firewall.apply_to', resource: 'firewall', id: fw.id, name: fw.name, detail: s.name });
    return this.action('apply_firewall', [{ id: fw.id, type: 'firewall' }, { id: s.id, type: 'server' }]).action;
  }

  private serverRoutes(r: (m: string, p: string, h: (req: ApiRequest) => ApiResponse | Promise<ApiResponse>) => void): void {
    r('GET', '/servers', (req) => {
      const status = req.query.getAll('status');
      return this.page('servers', this.filterList([...this.servers.values()], req).filter((s) => status.length === 0 || status.includes(s.status)).map((s) => this.renderServer(s)), req);
    });
    r('GET', '/servers/{id}', (req) => this.ok({ server: this.renderServer(this.byId(this.servers, req.params.id, 'server')) }));
    r('POST', '/servers', (req) => this.createServer(req));
    r('PUT', '/servers/{id}', (req) => {
      const s = this.byId(this.servers, req.params.id, 'server');
      const body = asBody(req);
      if (body.name !== undefined) {
        const name = requireString(body, 'name');
        if (!isHostname(name)) throw invalidField('name', 'must be a valid hostname (RFC 1123)');
        if ([...this.servers.values()].some((x) => x.name === name && x.id !== s.id)) throw apiError(409, 'uniqueness_error', 'server name is already used', { fields: [{ name: 'name' }] });
        s.name = name;
      }
      if (body.labels !== undefined) s.labels = checkLabels(body.labels);
      this.event({ kind: 'server.update', resource: 'server', id: s.id, name: s.name, detail: JSON.stringify(body) });
      return this.ok({ server: this.renderServer(s) });
    });
    r('DELETE', '/servers/{id}', (req) => {
      const s = this.byId(this.servers, req.params.id, 'server');
      this.servers.delete(s.id);
      this.event({ kind: 'server.delete', resource: 'server', id: s.id, name: s.name });
      const { action } = this.action('delete_server', [{ id: s.id, type: 'server' }], () => this.machines.destroy(s.id));
      return this.ok({ action: this.renderAction(action) });
    });

    const serverAction = (name: string, handler: (s: Server, body: Record<string, unknown>) => Action) =>
      r('POST', `/servers/{id}/actions/${name}`, (req) => {
        const s = this.byId(this.servers, req.params.id, 'server');
        if (s.busy) throw apiError(423, 'locked', 'server is locked: another action is running');
        return this.ok({ action: this.renderAction(handler(s, asBody(req))) }, 201);
      });
    const busy = (s: Server, a: { action: Action; done: Promise<void> }) => {
      s.busy = true;
      void a.done.finally(() => (s.busy = false));
      return a.action;
    };

    const powerOff = (command: string) => (s: Server) => {
      this.event({ kind: `server.${command}`, resource: 'server', id: s.id, name: s.name });
      return busy(s, this.action(command, [{ id: s.id, type: 'server' }], async () => {
        if (s.status !== 'off') await this.machines.powerOff(s.id);
        s.status = 'off';
      }));
    };
    serverAction('poweroff', powerOff('stop_server'));
    serverAction('shutdown', powerOff('shutdown_server'));
    serverAction('poweron', (s) => {
      this.event({ kind: 'server.poweron', resource: 'server', id: s.id, name: s.name });
      return busy(s, this.action('start_server', [{ id: s.id, type: 'server' }], async () => {
        if (s.status !== 'running') await this.machines.powerOn(s.id);
        s.status = 'running';
      }));
    });
    serverAction('reboot', (s) => {
      this.event({ kind: 'server.reboot', resource: 'server', id: s.id, name: s.name });
      return busy(s, this.action('reboot_server', [{ id: s.id, type: 'server' }], () => this.machines.powerOn(s.id)));
    });
    serverAction('change_type', (s, body) => {
      const typeName = String((body.server_type as string | number | undefined) ?? '');
      const t = SERVER_TYPES.find((x) => x.name === typeName || String(x.id) === typeName);
      if (!t) throw invalidField('server_type', `server type '${typeName}' not found`);
      if (s.status !== 'off') throw apiError(409, 'server_not_stopped', 'server must be stopped to change its type');
      if (t.architecture !== s.type.architecture) throw apiError(422, 'invalid_server_type', `server type ${t.name} has another architecture (${t.architecture}) than ${s.type.name}`);
      if (!this.orderable(t, s.locationName)) throw apiError(422, 'invalid_server_type', `server type ${t.name} is unavailable in ${s.locationName} and can no longer be ordered`);
      const upgradeDisk = body.upgrade_disk !== false;
      if (t.disk < s.primaryDiskSize) throw apiError(422, 'invalid_server_type', `server type ${t.name} has a smaller disk (${t.disk} GB) than the server (${s.primaryDiskSize} GB); change types without upgrade_disk to keep a way back`);
      this.event({ kind: 'server.change_type', resource: 'server', id: s.id, name: s.name, detail: `${s.type.name}->${t.name}` });
      // "Server must be powered off … copies the content of its disk, and starts it again" (API reference).
      return busy(s, this.action('change_server_type', [{ id: s.id, type: 'server' }], async () => {
        s.type = t;
        if (upgradeDisk) s.primaryDiskSize = t.disk;
        await this.machines.powerOn(s.id);
        s.status = 'running';
      }));
    });
    serverAction('attach_to_network', (s, body) => {
      const n = this.networks.get(Number(body.network));
      if (!n) throw notFound('network');
      if (s.privateNet.some((p) => p.network === n.id)) throw apiError(422, 'server_already_attached', `server ${s.id} is already attached to network ${n.id}`);
      const zone = LOCATIONS.find((l) => l.name === s.locationName)!.networkZone;
      const subnets = n.subnets.filter((x) => x.networkZone === zone && x.type === 'cloud');
      if (subnets.length === 0) throw apiError(422, 'no_subnet_available', `network ${n.id} has no cloud subnet in network zone ${zone}`);
      const taken = new Set([...this.servers.values()].flatMap((x) => x.privateNet.filter((p) => p.network === n.id).map((p) => p.ip)));
      let ip: string;
      if (typeof body.ip === 'string' && body.ip) {
        const v = ipToInt(body.ip);
        const inside = v !== undefined && subnets.find((x) => cidrInside({ base: v, bits: 32, size: 1 }, parseCidr(x.ipRange)!));
        if (!inside) throw apiError(422, 'ip_not_available', `IP ${body.ip} is not inside a subnet of network ${n.id} in zone ${zone}`);
        const c = parseCidr(inside.ipRange)!;
        if (v === c.base || v === c.base + c.size - 1 || body.ip === inside.gateway || taken.has(body.ip)) throw apiError(422, 'ip_not_available', `IP ${body.ip} is not available`);
        ip = body.ip;
      } else {
        const c = parseCidr(subnets[0].ipRange)!;
        let v = c.base + 2;
        while (taken.has(intToIp(v)) || intToIp(v) === subnets[0].gateway) v++;
        if (v >= c.base + c.size - 1) throw apiError(422, 'no_subnet_available', 'no free IP in the subnet');
        ip = intToIp(v);
      }
      const aliasIps = Array.isArray(body.alias_ips) ? body.alias_ips.map(String) : [];
      s.privateNet.push({ network: n.id, ip, aliasIps, mac: `86:00:00:${[s.id >> 8, s.id & 255, n.id & 255].map((b) => (b & 255).toString(16).padStart(2, '0')).join(':')}` });
      this.event({ kind: 'server.attach_to_network', resource: 'server', id: s.id, name: s.name, detail: `${n.name}:${ip}` });
      return busy(s, this.action('attach_to_network', [{ id: s.id, type: 'server' }, { id: n.id, type: 'network' }], () => this.machines.addPrivateIp(s.id, ip)));
    });
    serverAction('detach_from_network', (s, body) => {
      const att = s.privateNet.find((p) => p.network === Number(body.network));
      if (!att) throw apiError(422, 'server_not_attached_to_network', `server ${s.id} is not attached to network ${String(body.network)}`);
      s.privateNet = s.privateNet.filter((p) => p !== att);
      this.event({ kind: 'server.detach_from_network', resource: 'server', id: s.id, name: s.name, detail: att.ip });
      return busy(s, this.action('detach_from_network', [{ id: s.id, type: 'server' }], () => this.machines.removePrivateIp(s.id, att.ip)));
    });
    serverAction('change_alias_ips', (s, body) => {
      const att = s.privateNet.find((p) => p.network === Number(body.network));
      if (!att) throw apiError(422, 'server_not_attached_to_network', `server ${s.id} is not attached to network ${String(body.network)}`);
      att.aliasIps = Array.isArray(body.alias_ips) ? body.alias_ips.map(String) : [];
      return busy(s, this.action('change_alias_ips', [{ id: s.id, type: 'server' }]));
    });
  }

  private async createServer(req: ApiRequest): Promise<ApiResponse> {
    const body = asBody(req);
    const name = requireString(body, 'name');
    if (!isHostname(name)) throw invalidField('name', 'must be a valid hostname (RFC 1123)');
    const labels = checkLabels(body.labels);
    const typeRef = String(body.server_type ?? '');
    const type = SERVER_TYPES.find((t) => t.name === typeRef || String(t.id) === typeRef);
    if (!type) throw invalidField('server_type', `server type '${typeRef}' not found`);
    const locationName = typeof body.location === 'string' ? body.location : typeof body.datacenter === 'string'
      ? LOCATIONS.find((l) => l.datacenter.name === body.datacenter)?.name : 'nbg1';
    if (!locationName || !LOCATIONS.some((l) => l.name === locationName)) throw invalidField('location', `location '${String(body.location ?? body.datacenter)}' not found`);
    if (!type.locations.includes(locationName)) throw apiError(422, 'invalid_server_type', `server type ${type.name} is not available in ${locationName}`);
    if (!this.orderable(type, locationName)) throw apiError(422, 'invalid_server_type', `server type ${type.name} is unavailable in ${locationName} and can no longer be ordered`);
    const imageRef = String(body.image ?? '');
    const image = IMAGES.find((i) => String(i.id) === imageRef) ?? IMAGES.find((i) => i.name === imageRef && i.architecture === type.architecture);
    if (!image) throw invalidField('image', `image '${imageRef}' not found`);
    if (image.architecture !== type.architecture) throw invalidField('image', `image ${image.id} is for ${image.architecture}, server type ${type.name} is ${type.architecture}`);
    const sshKeyIds = ((body.ssh_keys as unknown[] | undefined) ?? []).map((k) => {
      const key = [...this.sshKeys.values()].find((x) => String(x.id) === String(k) || x.name === k);
      if (!key) throw invalidField('ssh_keys', `SSH key '${String(k)}' not found`);
      return key.id;
    });
    const firewallIds = ((body.firewalls as { firewall?: number }[] | undefined) ?? []).map((f) => {
      const fw = this.firewalls.get(Number(f.firewall));
      if (!fw) throw invalidField('firewalls', `firewall '${String(f.firewall)}' not found`);
      return fw.id;
    });
    const networkIds = ((body.networks as number[] | undefined) ?? []).map((id) => {
      if (!this.networks.has(Number(id))) throw invalidField('networks', `network '${id}' not found`);
      return Number(id);
    });
    if (networkIds.length > 0) throw invalidField('networks', 'simulated only through attach_to_network (what the provider uses for a fixed IP)');
    const publicNet = body.public_net as { enable_ipv4?: boolean; enable_ipv6?: boolean } | undefined;
    if (publicNet && publicNet.enable_ipv4 === false) throw invalidField('public_net', 'servers without public IPv4 are not simulated (their stand-in would be unreachable)');
    if ([...this.servers.values()].some((s) => s.name === name)) throw apiError(409, 'uniqueness_error', 'server name is already used', { fields: [{ name: 'name' }] });

    const id = this.id();
    const server: Server = {
      id, name, status: 'initializing', created: this.stamp(), type, locationName, imageId: image.id, ipv4: '', ipv4Id: this.id(),
      ipv6Net: `2001:db8:${id.toString(16)}::/64`, ipv6Id: this.id(), privateNet: [], firewalls: firewallIds, labels,
      primaryDiskSize: type.disk, sshKeyIds, userData: typeof body.user_data === 'string' ? body.user_data : '', busy: true,
    };
    // Reserved before the machine boots, so two concurrent creates cannot take the same name.
    this.servers.set(id, server);
    try {
      const { ipv4 } = await this.machines.create({ serverId: id, name, authorizedKeys: sshKeyIds.map((k) => this.sshKeys.get(k)!.publicKey) });
      server.ipv4 = ipv4;
    } catch (e) {
      this.servers.delete(id);
      throw apiError(500, 'server_error', `could not start the server's machine: ${(e as Error).message}`);
    }
    this.event({ kind: 'server.create', resource: 'server', id, name, detail: type.name });
    const start = body.start_after_create !== false;
    const create = this.action('create_server', [{ id, type: 'server' }], async () => {
      server.status = 'off';
    }, undefined, async () => {
      // A failed create leaves a server that never came up (what a user sees in the console).
      server.status = 'off';
      await this.machines.powerOff(id);
    });
    const next = start ? [this.action('start_server', [{ id, type: 'server' }], async () => {
      if (create.action.status !== 'success') throw Object.assign(new Error('server creation failed'), { code: 'action_failed' });
      server.status = 'running';
    }, create.done)] : [];
    void Promise.all([create.done, ...next.map((n) => n.done)]).finally(async () => {
      server.busy = false;
      if (!start) await this.machines.powerOff(id).catch(() => undefined);
    });
    return this.ok({
      server: this.renderServer(server), action: this.renderAction(create.action), next_actions: next.map((n) => this.renderAction(n.action)), root_password: null,
    }, 201);
  }
}
