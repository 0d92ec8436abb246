// Checks the hand-maintained hetznercloud/hcloud bindings in .gen/providers/hcloud against the
// provider schema (v1.68.0): every camelCase config field must land on its snake_case Terraform
// name, nested blocks must synthesize as lists of objects, unset optionals must be absent, and the
// computed getters must reference the right attribute. Every assertion compares whole objects, so a
// renamed, dropped or extra key fails the test.
import { App, TerraformOutput, TerraformStack, Testing, Token } from 'cdktf';
import * as hcloud from '../.gen/providers/hcloud';
import { Firewall } from '../.gen/providers/hcloud/firewall';
import { Network } from '../.gen/providers/hcloud/network';
import { NetworkSubnet } from '../.gen/providers/hcloud/network-subnet';
import { HcloudProvider } from '../.gen/providers/hcloud/provider';
import { Server } from '../.gen/providers/hcloud/server';
import { SshKey } from '../.gen/providers/hcloud/ssh-key';

type Json = Record<string, any>;

function newStack(): TerraformStack {
  const app: App = Testing.app();
  return new TerraformStack(app, 'test');
}

function synth(stack: TerraformStack): Json {
  return JSON.parse(Testing.synth(stack));
}

// Renders attribute tokens the way Terraform will see them, by routing each through an output.
function resolveAll(stack: TerraformStack, values: Record<string, unknown>): Json {
  for (const [name, value] of Object.entries(values)) {
    new TerraformOutput(stack, name, { value });
  }
  const outputs = synth(stack).output;
  return Object.fromEntries(Object.keys(values).map((name) => [name, outputs[name].value]));
}

function resourceOf(stack: TerraformStack, type: string, name: string): Json {
  const out = synth(stack);
  const res = out.resource?.[type]?.[name];
  if (res === undefined) {
    throw new Error(`${type}.${name} not found in ${JSON.stringify(out)}`);
  }
  return res;
}

describe('hcloud provider block', () => {
  test('is emitted as provider.hcloud with no token (and no other keys) when none is given', () => {
    const stack = newStack();
    new HcloudProvider(stack, 'hcloud');
    const out = synth(stack);
    expect(Object.keys(out.provider)).toEqual(['hcloud']);
    expect(out.provider.hcloud).toEqual([{}]);
    expect(JSON.stringify(out)).not.toContain('token');
  });

  test('maps every config field to its snake_case name', () => {
    const stack = newStack();
    new HcloudProvider(stack, 'hcloud', {
      token: 'not-a-real-token',
      endpoint: 'https://api.example.test/v1',
      endpointHetzner: 'https://api.example.test/hetzner/v1',
      pollInterval: '2s',
      pollFunction: 'constant',
      alias: 'other',
    });
    expect(synth(stack).provider.hcloud).toEqual([
      {
        token: 'not-a-real-token',
        endpoint: 'https://api.example.test/v1',
        endpoint_hetzner: 'https://api.example.test/hetzner/v1',
        poll_interval: '2s',
        poll_function: 'constant',
        alias: 'other',
      },
    ]);
  });

  test('registers hetznercloud/hcloud in required_providers, pinned to the version the bindings describe', () => {
    const stack = newStack();
    new HcloudProvider(stack, 'hcloud');
    new SshKey(stack, 'key', { name: 'k', publicKey: 'ssh-ed25519 AAAA test' });
    const out = synth(stack);
    expect(out.terraform.required_providers).toEqual({
      hcloud: { source: 'hetznercloud/hcloud', version: '1.68.0' },
    });
    expect(HcloudProvider.tfResourceType).toBe('hcloud');
  });

  test('a resource can select an aliased provider', () => {
    const stack = newStack();
    const other = new HcloudProvider(stack, 'other', { alias: 'other' });
    new SshKey(stack, 'key', { name: 'k', publicKey: 'ssh-ed25519 AAAA test', provider: other });
    expect(resourceOf(stack, 'hcloud_ssh_key', 'key')).toEqual({
      name: 'k',
      public_key: 'ssh-ed25519 AAAA test',
      provider: 'hcloud.other',
    });
  });
});

describe('hcloud_network', () => {
  test('maps all fields', () => {
    const stack = newStack();
    new Network(stack, 'net', {
      name: 'fleet',
      ipRange: '10.0.0.0/16',
      labels: { fleet: 'nixos' },
      deleteProtection: true,
      exposeRoutesToVswitch: false,
    });
    expect(Network.tfResourceType).toBe('hcloud_network');
    expect(resourceOf(stack, 'hcloud_network', 'net')).toEqual({
      name: 'fleet',
      ip_range: '10.0.0.0/16',
      labels: { fleet: 'nixos' },
      delete_protection: true,
      expose_routes_to_vswitch: false,
    });
  });

  test('leaves unset optionals out, and id is a reference to the id attribute', () => {
    const stack = newStack();
    const net = new Network(stack, 'net', { name: 'fleet', ipRange: '10.0.0.0/16' });
    expect(resourceOf(stack, 'hcloud_network', 'net')).toEqual({ name: 'fleet', ip_range: '10.0.0.0/16' });
    expect(resolveAll(stack, { id: net.id })).toEqual({ id: '${hcloud_network.net.id}' });
  });
});

describe('hcloud_network_subnet', () => {
  test('maps network_id (a number), type, network_zone and ip_range; vswitch_id absent when unset', () => {
    const stack = newStack();
    const net = new Network(stack, 'net', { name: 'fleet', ipRange: '10.0.0.0/16' });
    const subnet = new NetworkSubnet(stack, 'subnet', {
      networkId: Token.asNumber(net.id),
      type: 'cloud',
      networkZone: 'eu-central',
      ipRange: '10.0.1.0/24',
    });
    expect(NetworkSubnet.tfResourceType).toBe('hcloud_network_subnet');
    expect(resourceOf(stack, 'hcloud_network_subnet', 'subnet')).toEqual({
      network_id: '${hcloud_network.net.id}',
      type: 'cloud',
      network_zone: 'eu-central',
      ip_range: '10.0.1.0/24',
    });
    expect(resolveAll(stack, { id: subnet.id, gateway: subnet.gateway })).toEqual({
      id: '${hcloud_network_subnet.subnet.id}',
      gateway: '${hcloud_network_subnet.subnet.gateway}',
    });
  });

  test('maps vswitch_id and a literal numeric network_id', () => {
    const stack = newStack();
    new NetworkSubnet(stack, 'subnet', {
      networkId: 1234,
      type: 'vswitch',
      networkZone: 'eu-central',
      ipRange: '10.0.2.0/24',
      vswitchId: 42,
    });
    expect(resourceOf(stack, 'hcloud_network_subnet', 'subnet')).toEqual({
      network_id: 1234,
      type: 'vswitch',
      network_zone: 'eu-central',
      ip_range: '10.0.2.0/24',
      vswitch_id: 42,
    });
  });
});

describe('hcloud_ssh_key', () => {
  test('maps name, public_key and labels', () => {
    const stack = newStack();
    new SshKey(stack, 'key', { name: 'admin', publicKey: 'ssh-ed25519 AAAA admin', labels: { role: 'admin' } });
    expect(SshKey.tfResourceType).toBe('hcloud_ssh_key');
    expect(resourceOf(stack, 'hcloud_ssh_key', 'key')).toEqual({
      name: 'admin',
      public_key: 'ssh-ed25519 AAAA admin',
      labels: { role: 'admin' },
    });
  });

  test('leaves labels out when unset; id and fingerprint are references', () => {
    const stack = newStack();
    const key = new SshKey(stack, 'key', { name: 'admin', publicKey: 'ssh-ed25519 AAAA admin' });
    expect(resourceOf(stack, 'hcloud_ssh_key', 'key')).toEqual({ name: 'admin', public_key: 'ssh-ed25519 AAAA admin' });
    expect(resolveAll(stack, { id: key.id, fingerprint: key.fingerprint })).toEqual({
      id: '${hcloud_ssh_key.key.id}',
      fingerprint: '${hcloud_ssh_key.key.fingerprint}',
    });
  });
});

describe('hcloud_firewall', () => {
  test('maps rule and apply_to blocks; unset rule fields are absent', () => {
    const stack = newStack();
    new Firewall(stack, 'fw', {
      name: 'fleet',
      labels: { fleet: 'nixos' },
      rule: [
        { direction: 'in', protocol: 'tcp', port: '22', sourceIps: ['0.0.0.0/0', '::/0'], description: 'ssh' },
        { direction: 'out', protocol: 'udp', port: '53', destinationIps: ['0.0.0.0/0'] },
        { direction: 'in', protocol: 'icmp', sourceIps: ['0.0.0.0/0'] },
      ],
      applyTo: [{ labelSelector: 'fleet=nixos' }, { server: 99 }],
    });
    expect(Firewall.tfResourceType).toBe('hcloud_firewall');
    expect(resourceOf(stack, 'hcloud_firewall', 'fw')).toEqual({
      name: 'fleet',
      labels: { fleet: 'nixos' },
      rule: [
        { direction: 'in', protocol: 'tcp', port: '22', source_ips: ['0.0.0.0/0', '::/0'], description: 'ssh' },
        { direction: 'out', protocol: 'udp', port: '53', destination_ips: ['0.0.0.0/0'] },
        { direction: 'in', protocol: 'icmp', source_ips: ['0.0.0.0/0'] },
      ],
      apply_to: [{ label_selector: 'fleet=nixos' }, { server: 99 }],
    });
  });

  test('only name is emitted when nothing else is set; id is a reference', () => {
    const stack = newStack();
    const fw = new Firewall(stack, 'fw', { name: 'fleet' });
    expect(resourceOf(stack, 'hcloud_firewall', 'fw')).toEqual({ name: 'fleet' });
    expect(resolveAll(stack, { id: fw.id })).toEqual({ id: '${hcloud_firewall.fw.id}' });
  });
});

describe('hcloud_server', () => {
  test('maps every field the fleet uses, with nested network and public_net blocks', () => {
    const stack = newStack();
    const net = new Network(stack, 'net', { name: 'fleet', ipRange: '10.0.0.0/16' });
    const subnet = new NetworkSubnet(stack, 'subnet', {
      networkId: Token.asNumber(net.id),
      type: 'cloud',
      networkZone: 'eu-central',
      ipRange: '10.0.1.0/24',
    });
    const key = new SshKey(stack, 'key', { name: 'admin', publicKey: 'ssh-ed25519 AAAA admin' });
    const fw = new Firewall(stack, 'fw', { name: 'fleet' });
    new Server(stack, 'srv', {
      name: 'web-1',
      serverType: 'cx23',
      image: 'debian-12',
      location: 'nbg1',
      sshKeys: [key.id, 'by-name'],
      labels: { fleet: 'nixos', role: 'web' },
      userData: '#cloud-config\n',
      firewallIds: [Token.asNumber(fw.id), 7],
      publicNet: [{ ipv4Enabled: true, ipv6Enabled: false }],
      network: [
        { networkId: Token.asNumber(net.id), subnetId: subnet.id, ip: '10.0.1.5', aliasIps: ['10.0.1.6'] },
      ],
      backups: false,
      keepDisk: true,
      deleteProtection: true,
      rebuildProtection: true,
      placementGroupId: 5,
      shutdownBeforeDeletion: true,
      ignoreRemoteFirewallIds: false,
      timeouts: { create: '30m' },
      dependsOn: [subnet],
    });
    expect(Server.tfResourceType).toBe('hcloud_server');
    expect(resourceOf(stack, 'hcloud_server', 'srv')).toEqual({
      name: 'web-1',
      server_type: 'cx23',
      image: 'debian-12',
      location: 'nbg1',
      ssh_keys: ['${hcloud_ssh_key.key.id}', 'by-name'],
      labels: { fleet: 'nixos', role: 'web' },
      user_data: '#cloud-config\n',
      firewall_ids: ['${hcloud_firewall.fw.id}', 7],
      public_net: [{ ipv4_enabled: true, ipv6_enabled: false }],
      network: [
        {
          network_id: '${hcloud_network.net.id}',
          subnet_id: '${hcloud_network_subnet.subnet.id}',
          ip: '10.0.1.5',
          alias_ips: ['10.0.1.6'],
        },
      ],
      backups: false,
      keep_disk: true,
      delete_protection: true,
      rebuild_protection: true,
      placement_group_id: 5,
      shutdown_before_deletion: true,
      ignore_remote_firewall_ids: false,
      timeouts: { create: '30m' },
      depends_on: ['hcloud_network_subnet.subnet'],
    });
  });

  test('public_net can pin primary IPs, and an empty alias_ips list is kept (provider docs workaround)', () => {
    const stack = newStack();
    new Server(stack, 'srv', {
      name: 'db-1',
      serverType: 'cx23',
      image: 'debian-12',
      publicNet: [{ ipv4Enabled: true, ipv4: 11, ipv6Enabled: true, ipv6: 12 }],
      network: [{ networkId: 1234, aliasIps: [] }],
    });
    const srv = resourceOf(stack, 'hcloud_server', 'srv');
    expect(srv.public_net).toEqual([{ ipv4_enabled: true, ipv4: 11, ipv6_enabled: true, ipv6: 12 }]);
    expect(srv.network).toEqual([{ network_id: 1234, alias_ips: [] }]);
  });

  test('the deprecated datacenter field still maps (provider >= 1.67 rejects it at validation)', () => {
    const stack = newStack();
    new Server(stack, 'srv', { name: 'x', serverType: 'cx23', image: 'debian-12', datacenter: 'nbg1-dc3' });
    expect(resourceOf(stack, 'hcloud_server', 'srv')).toEqual({
      name: 'x',
      server_type: 'cx23',
      image: 'debian-12',
      datacenter: 'nbg1-dc3',
    });
  });

  test('emits only the required fields when nothing optional is set', () => {
    const stack = newStack();
    new Server(stack, 'srv', { name: 'x', serverType: 'cx23', image: 'debian-12' });
    expect(resourceOf(stack, 'hcloud_server', 'srv')).toEqual({ name: 'x', server_type: 'cx23', image: 'debian-12' });
  });

  test('computed getters reference the right attributes', () => {
    const stack = newStack();
    const srv = new Server(stack, 'srv', { name: 'x', serverType: 'cx23', image: 'debian-12' });
    expect(
      resolveAll(stack, {
        id: srv.id,
        ipv4Address: srv.ipv4Address,
        ipv6Address: srv.ipv6Address,
        ipv6Network: srv.ipv6Network,
        status: srv.status,
        primaryDiskSize: srv.primaryDiskSize,
        // Nested set blocks are read through tolist(); cdktf renders the index as .0
        firstNetworkIp: srv.network.get(0).ip,
      }),
    ).toEqual({
      id: '${hcloud_server.srv.id}',
      ipv4Address: '${hcloud_server.srv.ipv4_address}',
      ipv6Address: '${hcloud_server.srv.ipv6_address}',
      ipv6Network: '${hcloud_server.srv.ipv6_network}',
      status: '${hcloud_server.srv.status}',
      primaryDiskSize: '${hcloud_server.srv.primary_disk_size}',
      firstNetworkIp: '${tolist(hcloud_server.srv.network).0.ip}',
    });
  });

  test('HCL synthesis uses the same snake_case names and renders nested sets as blocks', () => {
    const stack = newStack();
    new HcloudProvider(stack, 'hcloud');
    new Server(stack, 'srv', {
      name: 'x',
      serverType: 'cx23',
      image: 'debian-12',
      sshKeys: ['k'],
      firewallIds: [3],
      publicNet: [{ ipv4Enabled: true, ipv6Enabled: false }],
      network: [{ networkId: 1234, ip: '10.0.1.5' }],
    });
    const hcl: string = Testing.synthHcl(stack);
    expect(hcl).toContain('resource "hcloud_server" "srv" {');
    expect(hcl).toMatch(/server_type = "cx23"/);
    expect(hcl).toMatch(/ssh_keys = \[\s*"k"\s*\]/);
    expect(hcl).toMatch(/firewall_ids = \[\s*3\s*\]/);
    expect(hcl).toMatch(/public_net \{\s*ipv4_enabled = true\s*ipv6_enabled = false\s*\}/);
    expect(hcl).toMatch(/network \{\s*ip = "10\.0\.1\.5"\s*network_id = 1234\s*\}/);
    expect(hcl).toMatch(/source = "hetznercloud\/hcloud"/);
    expect(hcl).not.toMatch(/token/);
  });
});

describe('barrel file', () => {
  test('re-exports one namespace per resource directory, as cdktf get does', () => {
    expect(hcloud.provider.HcloudProvider).toBe(HcloudProvider);
    expect(hcloud.server.Server).toBe(Server);
    expect(hcloud.network.Network).toBe(Network);
    expect(hcloud.networkSubnet.NetworkSubnet).toBe(NetworkSubnet);
    expect(hcloud.sshKey.SshKey).toBe(SshKey);
    expect(hcloud.firewall.Firewall).toBe(Firewall);
  });
});
