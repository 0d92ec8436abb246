/** Shared test fixtures: a valid fleet to mutate, and synthesis helpers. */
import { App, Testing } from 'cdktf';
import { FleetDeclaration, HostDeclaration } from '../../constructs/fleet-declaration';
import { FleetStack, FleetStackProps } from '../../constructs/fleet-stack';

export const KEY_A = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDTs0hobzL/DOcKlNVwncDZ6nJBtJOJ90zWelEFsMO+b alice@laptop';

export const HETZNER_HOST: HostDeclaration = {
  name: 'web-1', cloud: 'hetzner', serverType: 'cx23', location: 'nbg1', privateIp: '10.0.1.10', tags: ['web'],
};
export const HETZNER_HOST_2: HostDeclaration = {
  name: 'db-1', cloud: 'hetzner', serverType: 'cx33', location: 'fsn1', privateIp: '10.0.1.20',
};
export const DO_HOST: HostDeclaration = { name: 'worker-1', cloud: 'digitalocean', size: 's-1vcpu-2gb', region: 'fra1', tags: ['worker'] };
export const EXISTING_HOST: HostDeclaration = { name: 'box-1', cloud: 'existing', address: '198.51.100.7', port: 2222, provider: 'lightsail' };

export function validFleet(overrides: Partial<FleetDeclaration> = {}): FleetDeclaration {
  return {
    name: 'test',
    adminSshKeys: [KEY_A],
    adminCidrs: ['203.0.113.0/24'],
    hetzner: { ipRange: '10.0.0.0/16', subnetRange: '10.0.1.0/24', networkZone: 'eu-central' },
    digitalocean: { region: 'fra1', ipRange: '10.20.0.0/20' },
    hosts: [HETZNER_HOST, HETZNER_HOST_2, DO_HOST, EXISTING_HOST],
    ...overrides,
  };
}

/** A fleet with one host replaced by a changed copy. */
export function withHost(name: string, change: Record<string, unknown>, base = validFleet()): FleetDeclaration {
  return { ...base, hosts: base.hosts.map((h) => (h.name === name ? ({ ...h, ...change } as HostDeclaration) : h)) };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export function synthFleet(fleet: FleetDeclaration, props: Partial<FleetStackProps> = {}): Json {
  const app = Testing.app();
  const stack = new FleetStack(app, 'fleet', { fleet, ...props });
  return JSON.parse(Testing.synth(stack));
}

export function newStack(fleet: FleetDeclaration): () => FleetStack {
  return () => new FleetStack(new App({ outdir: '/nonexistent-never-written' }), 'fleet', { fleet });
}

/** The one resource of `type` whose logical id is `id` or `id_<hash>` (cdktf's naming). */
export function resourceAt(json: Json, type: string, id: string): Json {
  const entries = Object.entries(json.resource?.[type] ?? {}) as [string, Json][];
  const found = entries.filter(([k]) => k === id || new RegExp(`^${id.replace(/[-]/g, '\\-')}_[0-9A-F]{8}$`).test(k));
  if (found.length !== 1) throw new Error(`expected one ${type} named ${id}, found ${found.map(([k]) => k).join(', ') || 'none'}`);
  return found[0][1];
}

/** `${type.logicalId...}` reference prefix of that resource, for asserting wiring. */
export function refOf(json: Json, type: string, id: string): string {
  const entries = Object.keys(json.resource?.[type] ?? {});
  const key = entries.find((k) => k === id || k.startsWith(`${id}_`));
  if (!key) throw new Error(`no ${type} named ${id}`);
  return `${type}.${key}`;
}

/**
 * The file remote-exec uploads for a provisioner of `resource`, still in Terraform's
 * template text (escapes not undone): its `inline` lines joined by newlines, as
 * remote-exec joins them, with a line that is exactly a `${local.NAME.KEY}` reference
 * replaced by that string of the stack's locals. Any other reference is an error:
 * the scripts must hold none.
 */
export function remoteExecText(json: Json, resource: Json, provisioner = 0): string {
  const inline: string[] = resource.provisioner[provisioner]['remote-exec'].inline;
  return inline.map((line) => {
    const ref = /^\$\{local\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\}$/.exec(line);
    if (!ref) return line;
    const value = json.locals?.[ref[1]]?.[ref[2]];
    if (typeof value !== 'string') throw new Error(`${line}: no such string in the stack's locals`);
    return value;
  }).join('\n');
}
