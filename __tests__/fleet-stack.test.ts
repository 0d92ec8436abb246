/** The synthesized Terraform JSON of the fleet stack: every resource the adapters create. */
import { FleetDeclaration, HostDeclaration } from '../constructs/fleet-declaration';
import { EXISTING_HOST, KEY_A, Json, refOf, resourceAt, synthFleet, validFleet, withHost } from './support/fleet';

const KEY_B = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFVQvpB4Y9qCrQWDRF6DKXTQwVOsU1PMfnEVJWP8Gv7n bob@desk';

describe('Hetzner adapter', () => {
  const json = synthFleet(validFleet({
    adminSshKeys: [KEY_A, KEY_B],
    firewallRules: [{ protocol: 'tcp', port: '443', sourceCidrs: ['0.0.0.0/0', '::/0'], description: 'HTTPS' }],
    hosts: [
      { name: 'web-1', cloud: 'hetzner', serverType: 'cx23', location: 'nbg1', privateIp: '10.0.1.10', tags: ['web', 'prod'],
        firewallRules: [{ protocol: 'udp', port: '51820', sourceCidrs: ['0.0.0.0/0'] }] },
      { name: 'db-1', cloud: 'hetzner', serverType: 'cax11', location: 'hel1', privateIp: '10.0.1.20', image: 'debian-12' },
    ],
  }));

  test('provider reads its token from the environment only', () => {
    expect(json.provider.hcloud).toEqual([{}]);
    expect(json.terraform.required_providers.hcloud.source).toBe('hetznercloud/hcloud');
    expect(json.provider.digitalocean).toBeUndefined();
  });

  test('one SSH key per admin key', () => {
    const keys = Object.values(json.resource.hcloud_ssh_key) as Json[];
    expect(keys.map((k) => k.public_key).sort()).toEqual([KEY_A, KEY_B].sort());
    expect(new Set(keys.map((k) => k.name)).size).toBe(2);
    keys.forEach((k) => expect(k.name).toMatch(/^test-admin-[0-9a-f]{8}$/));
  });

  test('network and cloud subnet in the zone', () => {
    const network = resourceAt(json, 'hcloud_network', 'hetzner_network');
    expect(network).toMatchObject({ name: 'test', ip_range: '10.0.0.0/16', labels: { fleet: 'test' } });
    const subnet = resourceAt(json, 'hcloud_network_subnet', 'hetzner_subnet');
    expect(subnet).toMatchObject({ type: 'cloud', network_zone: 'eu-central', ip_range: '10.0.1.0/24' });
    expect(subnet.network_id).toBe(`\${${refOf(json, 'hcloud_network', 'hetzner_network')}.id}`);
  });

  test('base firewall: SSH from admins only, ICMP, fleet rules', () => {
    const fw = resourceAt(json, 'hcloud_firewall', 'hetzner_firewall');
    expect(fw.name).toBe('test-base');
    expect(fw.rule).toEqual([
      { direction: 'in', protocol: 'tcp', port: '22', source_ips: ['203.0.113.0/24'], description: 'SSH from admins' },
      { direction: 'in', protocol: 'icmp', source_ips: ['0.0.0.0/0', '::/0'], description: 'ping' },
      { direction: 'in', protocol: 'tcp', port: '443', source_ips: ['0.0.0.0/0', '::/0'], description: 'HTTPS' },
    ]);
  });

  test('per-host rules get their own firewall, attached only to that host', () => {
    const own = resourceAt(json, 'hcloud_firewall', 'hetzner_firewall-web-1');
    expect(own.rule).toEqual([{ direction: 'in', protocol: 'udp', port: '51820', source_ips: ['0.0.0.0/0'] }]);
    const web = resourceAt(json, 'hcloud_server', 'hetzner_server-web-1');
    const db = resourceAt(json, 'hcloud_server', 'hetzner_server-db-1');
    expect(web.firewall_ids).toEqual([
      `\${${refOf(json, 'hcloud_firewall', 'hetzner_firewall')}.id}`,
      `\${${refOf(json, 'hcloud_firewall', 'hetzner_firewall-web-1')}.id}`,
    ]);
    expect(db.firewall_ids).toEqual([`\${${refOf(json, 'hcloud_firewall', 'hetzner_firewall')}.id}`]);
  });

  test('server: type, image, location, fixed private IP, IPv4+IPv6, labels, after the subnet', () => {
    const web = resourceAt(json, 'hcloud_server', 'hetzner_server-web-1');
    expect(web).toMatchObject({
      name: 'web-1',
      server_type: 'cx23',
      image: 'debian-12',
      location: 'nbg1',
      labels: { fleet: 'test', web: '', prod: '' },
      public_net: [{ ipv4_enabled: true, ipv6_enabled: true }],
      network: [{ ip: '10.0.1.10', alias_ips: [], network_id: `\${${refOf(json, 'hcloud_network', 'hetzner_network')}.id}` }],
      depends_on: [refOf(json, 'hcloud_network_subnet', 'hetzner_subnet')],
    });
    // sshKeys 'auto' (the default): the key list is computed at plan time (see ssh-keys.test.ts).
    expect(web.ssh_keys).toMatch(/^\$\{local\.hetzner_admin-ssh-key-ids_[0-9A-F]{8}\}$/);
    expect(resourceAt(json, 'hcloud_server', 'hetzner_server-db-1').server_type).toBe('cax11');
  });

  test('a converted server is never replaced for its image, user data or key list', () => {
    const web = resourceAt(json, 'hcloud_server', 'hetzner_server-web-1');
    expect(web.lifecycle.ignore_changes).toEqual(expect.arrayContaining(['image', 'user_data', 'ssh_keys']));
  });

  test('one output with every host\'s facts', () => {
    expect(Object.keys(json.output).sort()).toEqual(['hive_nix', 'hosts']);
    const web = json.output.hosts.value['web-1'];
    const server = refOf(json, 'hcloud_server', 'hetzner_server-web-1');
    expect(web).toEqual({
      cloud: 'hetzner', location: 'nbg1', private_ip: '10.0.1.10', ssh_port: 22, ssh_user: 'root', tags: ['web', 'prod'], ssh_address: `\${${server}.ipv4_address}`,
      public_ipv4: `\${${server}.ipv4_address}`, public_ipv6: `\${${server}.ipv6_address}`,
    });
  });
});

describe('DigitalOcean adapter', () => {
  const json = synthFleet(validFleet({
    hosts: [
      { name: 'worker-1', cloud: 'digitalocean', size: 's-1vcpu-2gb', region: 'fra1', tags: ['worker'] },
      { name: 'worker-2', cloud: 'digitalocean', size: 's-2vcpu-4gb', region: 'fra1', image: 'debian-12-x64',
        firewallRules: [{ protocol: 'tcp', port: '8080', sourceCidrs: ['198.51.100.0/24'] }] },
    ],
  }));

  test('provider without token; only the clouds in use', () => {
    expect(json.provider.digitalocean).toEqual([{}]);
    expect(json.provider.hcloud).toBeUndefined();
    expect(json.resource.hcloud_server).toBeUndefined();
  });

  test('VPC in the region', () => {
    expect(resourceAt(json, 'digitalocean_vpc', 'digitalocean_vpc')).toMatchObject({ name: 'test-fra1', region: 'fra1', ip_range: '10.20.0.0/20' });
  });

  test('droplet: VPC, IPv6, tags, keys, default image, ignore_changes', () => {
    const d = resourceAt(json, 'digitalocean_droplet', 'digitalocean_droplet-worker-1');
    expect(d).toMatchObject({
      name: 'worker-1', size: 's-1vcpu-2gb', region: 'fra1', image: 'debian-12-x64', ipv6: true,
      vpc_uuid: `\${${refOf(json, 'digitalocean_vpc', 'digitalocean_vpc')}.id}`,
      tags: ['test', 'worker'],
    });
    // sshKeys 'auto' (the default): droplets name the keys by MD5 fingerprint (see ssh-keys.test.ts).
    expect(d.ssh_keys).toEqual([expect.stringMatching(/^[0-9a-f]{2}(:[0-9a-f]{2}){15}$/)]);
    expect(d.lifecycle.ignore_changes).toEqual(expect.arrayContaining(['image', 'user_data', 'ssh_keys']));
  });

  test('firewall: SSH from admins, VPC traffic in, everything out', () => {
    const fw = resourceAt(json, 'digitalocean_firewall', 'digitalocean_firewall');
    // By the fleet tag, not droplet_ids: the API takes at most 10 droplet IDs per firewall.
    expect(fw.droplet_ids).toBeUndefined();
    expect(fw.tags).toEqual(['test']);
    expect(fw.inbound_rule).toEqual([
      { protocol: 'tcp', port_range: '22', source_addresses: ['203.0.113.0/24'] },
      { protocol: 'icmp', source_addresses: ['0.0.0.0/0', '::/0'] },
      { protocol: 'tcp', port_range: '1-65535', source_addresses: ['10.20.0.0/20'] },
      { protocol: 'udp', port_range: '1-65535', source_addresses: ['10.20.0.0/20'] },
      { protocol: 'icmp', source_addresses: ['10.20.0.0/20'] },
    ]);
    expect(fw.outbound_rule).toEqual([
      { protocol: 'tcp', port_range: '1-65535', destination_addresses: ['0.0.0.0/0', '::/0'] },
      { protocol: 'udp', port_range: '1-65535', destination_addresses: ['0.0.0.0/0', '::/0'] },
      { protocol: 'icmp', destination_addresses: ['0.0.0.0/0', '::/0'] },
    ]);
    const own = resourceAt(json, 'digitalocean_firewall', 'digitalocean_firewall-worker-2');
    expect(own.droplet_ids).toEqual([`\${${refOf(json, 'digitalocean_droplet', 'digitalocean_droplet-worker-2')}.id}`]);
    expect(own.inbound_rule).toEqual([{ protocol: 'tcp', port_range: '8080', source_addresses: ['198.51.100.0/24'] }]);
  });

  test('outputs carry the VPC-assigned private address', () => {
    const droplet = refOf(json, 'digitalocean_droplet', 'digitalocean_droplet-worker-1');
    expect(json.output.hosts.value['worker-1']).toMatchObject({
      cloud: 'digitalocean', location: 'fra1', private_ip: `\${${droplet}.ipv4_address_private}`,
      public_ipv4: `\${${droplet}.ipv4_address}`, public_ipv6: `\${${droplet}.ipv6_address}`, tags: ['worker'],
    });
  });
});

describe('existing machines', () => {
  const fleet: FleetDeclaration = validFleet({
    hetzner: undefined, digitalocean: undefined,
    hosts: [
      EXISTING_HOST,
      { name: 'v6-box', cloud: 'existing', address: '2001:db8::7', user: 'admin', privateIp: '192.168.1.7' },
      { name: 'old-nixos', cloud: 'existing', address: 'nixos.example.org', alreadyNixos: true },
    ],
  });
  const json = synthFleet(fleet);

  test('no provider, no cloud resource: `terraform init` needs no download', () => {
    expect(json.provider).toBeUndefined();
    expect(json.terraform?.required_providers).toBeUndefined();
    expect(Object.keys(json.resource)).toEqual(['terraform_data']);
  });

  test('outputs: the address as given', () => {
    expect(json.output.hosts.value['box-1']).toEqual({
      cloud: 'existing', location: 'existing', public_ipv4: '198.51.100.7', public_ipv6: '', private_ip: '', ssh_address: '198.51.100.7',
      ssh_user: 'root', ssh_port: 2222, tags: [],
    });
    expect(json.output.hosts.value['v6-box']).toMatchObject({ public_ipv4: '', public_ipv6: '2001:db8::7', ssh_user: 'admin', private_ip: '192.168.1.7' });
  });

  test('an already-NixOS machine gets no install', () => {
    expect(Object.keys(json.resource.terraform_data).sort()).toEqual([
      'nixos_install_box-1', 'nixos_install_v6-box', 'nixos_ready_box-1', 'nixos_ready_v6-box',
    ]);
  });
});

describe('synth itself', () => {
  test('declares the Terraform version terraform_data needs', () => {
    expect(synthFleet(validFleet()).terraform.required_version).toBe('>= 1.4');
  });

  test('needs no terraform binary (cdktf\'s DataResource would run `terraform version` per resource)', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { spawnSync } = require('child_process') as typeof import('child_process');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const os = require('os') as typeof import('os');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const path = require('path') as typeof import('path');
    const outdir = require('fs').mkdtempSync(path.join(os.tmpdir(), 'no-tf-'));
    const r = spawnSync(process.execPath, ['scripts/app/app.js'], {
      cwd: path.resolve(__dirname, '..'),
      env: { PATH: path.dirname(process.execPath) === '/usr/bin' ? '/nonexistent' : path.dirname(process.execPath), CDKTF_OUTDIR: outdir, HOME: os.tmpdir() },
      encoding: 'utf8',
    });
    expect(r.stderr).not.toMatch(/Could not determine version of terraform/);
    expect(r.status).toBe(0);
  });
});

describe('mixed fleet', () => {
  test('the example fleet in main.ts synthesizes every cloud', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { fleet } = require('../main') as { fleet: FleetDeclaration };
    const json = synthFleet(fleet);
    expect(Object.keys(json.resource).sort()).toEqual([
      'digitalocean_droplet', 'digitalocean_firewall', 'digitalocean_ssh_key', 'digitalocean_vpc',
      'hcloud_firewall', 'hcloud_network', 'hcloud_network_subnet', 'hcloud_server', 'hcloud_ssh_key', 'terraform_data',
    ]);
    expect(fleet.hosts.filter((h: HostDeclaration) => h.cloud === 'hetzner').length).toBeGreaterThanOrEqual(2);
    expect(Object.keys(json.output.hosts.value).sort()).toEqual(fleet.hosts.map((h: HostDeclaration) => h.name).sort());
  });

  test('host order and cloud order do not change resource names', () => {
    const a = synthFleet(validFleet());
    const b = synthFleet(validFleet({ hosts: [...validFleet().hosts].reverse() }));
    for (const type of Object.keys(a.resource)) expect(Object.keys(b.resource[type]).sort()).toEqual(Object.keys(a.resource[type]).sort());
  });

  test('changing one host leaves the others untouched', () => {
    const a = synthFleet(validFleet());
    const b = synthFleet(withHost('web-1', { serverType: 'cx33' }));
    expect(resourceAt(b, 'hcloud_server', 'hetzner_server-db-1')).toEqual(resourceAt(a, 'hcloud_server', 'hetzner_server-db-1'));
    expect(resourceAt(b, 'hcloud_server', 'hetzner_server-web-1').server_type).toBe('cx33');
  });
});

describe('prepareStack shortcut (the preparing resolve skips what FleetStack made itself)', () => {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const fs = require('fs') as typeof import('fs');
  const os = require('os') as typeof import('os');
  const path = require('path') as typeof import('path');
  const { App, TerraformOutput, TerraformStack, Token } = require('cdktf') as typeof import('cdktf');
  const { FleetStack, holdsTokens } = require('../constructs/fleet-stack') as typeof import('../constructs/fleet-stack');
  const { Data } = require('../.gen/providers/terraform/data') as typeof import('../.gen/providers/terraform/data');
  /* eslint-enable @typescript-eslint/no-require-imports */

  /** Synthesizes with App.synth() (which runs prepareStack) and returns every stack's cdk.tf.json text. */
  function synthApp(build: (app: InstanceType<typeof App>) => void): Record<string, string> {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'prepare-'));
    const app = new App({ outdir });
    build(app);
    app.synth();
    const stacks = path.join(outdir, 'stacks');
    const out = Object.fromEntries(fs.readdirSync(stacks).map((s) => [s, fs.readFileSync(path.join(stacks, s, 'cdk.tf.json'), 'utf8')]));
    fs.rmSync(outdir, { recursive: true, force: true });
    return out;
  }
  const fleet = validFleet();

  test('the synthesized JSON is byte-for-byte what cdktf\'s own prepareStack gives', () => {
    const ours = synthApp((app) => { new FleetStack(app, 'fleet', { fleet }); });
    const cdktfs = synthApp((app) => {
      const stack = new FleetStack(app, 'fleet', { fleet });
      stack.prepareStack = () => TerraformStack.prototype.prepareStack.call(stack);
    });
    expect(ours.fleet).toBe(cdktfs.fleet);
  });

  test('an element added to the stack afterwards still gets its cross-stack wiring', () => {
    const stacks = synthApp((app) => {
      const other = new TerraformStack(app, 'other');
      const marker = new Data(other, 'marker', { input: { x: 'y' } });
      const stack = new FleetStack(app, 'fleet', { fleet });
      new TerraformOutput(stack, 'from_other', { value: marker.id, staticId: true });
    });
    const fleetJson = JSON.parse(stacks.fleet);
    expect(Object.keys(fleetJson.data?.terraform_remote_state ?? {})).toHaveLength(1);
    expect(fleetJson.output.from_other.value).toMatch(/^\$\{data\.terraform_remote_state\..+\.outputs\..+\}$/);
    expect(Object.keys(JSON.parse(stacks.other).output ?? {}).some((k) => k.startsWith('cross-stack-output-'))).toBe(true);
  });

  test('holdsTokens finds a token at any depth (such a declaration gets cdktf\'s full pass)', () => {
    expect(holdsTokens(fleet)).toBe(false);
    expect(holdsTokens({ a: [{ b: Token.asString({ resolve: () => 'x' }) }] })).toBe(true);
    expect(holdsTokens({ port: Token.asNumber({ resolve: () => 22 }) })).toBe(true);
    expect(holdsTokens(['plain', 1, true, null, undefined])).toBe(false);
  });
});

describe('toTerraform resolves each fragment once', () => {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const fs = require('fs') as typeof import('fs');
  const os = require('os') as typeof import('os');
  const path = require('path') as typeof import('path');
  const { App, Fn, TerraformOutput, TerraformStack } = require('cdktf') as typeof import('cdktf');
  const { Construct } = require('constructs') as typeof import('constructs');
  const { FleetStack } = require('../constructs/fleet-stack') as typeof import('../constructs/fleet-stack');
  const { terraformCloudSettings } = require('../constructs/terraform-cloud') as typeof import('../constructs/terraform-cloud');
  const { Data } = require('../.gen/providers/terraform/data') as typeof import('../.gen/providers/terraform/data');
  const { HcloudProvider } = require('../.gen/providers/hcloud/provider') as typeof import('../.gen/providers/hcloud/provider');
  /* eslint-enable @typescript-eslint/no-require-imports */

  type Build = (app: InstanceType<typeof App>, cdktfs: boolean) => void;
  /** Every stack's cdk.tf.json from App.synth(), and how often cdktf's own toTerraform ran. */
  function synthApp(build: Build, cdktfs: boolean): { stacks: Record<string, string>; cdktfCalls: number } {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'to-terraform-'));
    const spy = jest.spyOn(TerraformStack.prototype, 'toTerraform');
    try {
      const app = new App({ outdir });
      build(app, cdktfs);
      app.synth();
      const dir = path.join(outdir, 'stacks');
      const stacks = Object.fromEntries(fs.readdirSync(dir).map((s) => [s, fs.readFileSync(path.join(dir, s, 'cdk.tf.json'), 'utf8')]));
      return { stacks, cdktfCalls: spy.mock.calls.length };
    } finally {
      spy.mockRestore();
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  }
  /** A FleetStack; with `cdktfs`, one whose toTerraform is cdktf's own. */
  function fleetStack(app: InstanceType<typeof App>, cdktfs: boolean, props: ConstructorParameters<typeof FleetStack>[2]) {
    const stack = new FleetStack(app, 'fleet', props);
    if (cdktfs) stack.toTerraform = () => TerraformStack.prototype.toTerraform.call(stack);
    return stack;
  }
  function expectSameJson(build: Build, fastPath: boolean): void {
    const ours = synthApp(build, false);
    const cdktfs = synthApp(build, true);
    expect(ours.stacks).toEqual(cdktfs.stacks);
    // cdktf's own ran for the other stacks only (and for FleetStack when it must)
    const otherStacks = Object.keys(cdktfs.stacks).length - 1;
    expect(ours.cdktfCalls).toBe(otherStacks + (fastPath ? 0 : 1));
    expect(cdktfs.cdktfCalls).toBe(otherStacks + 1);
  }

  test('the example fleet, byte for byte', () => {
    expectSameJson((app, c) => { fleetStack(app, c, { fleet: validFleet() }); }, true);
  });

  test('in Terraform Cloud (the cloud block and its metadata)', () => {
    const terraformCloud = terraformCloudSettings({ TF_CLOUD_ORGANIZATION: 'acme', TF_WORKSPACE: 'prod' }, undefined);
    expectSameJson((app, c) => { fleetStack(app, c, { fleet: validFleet(), terraformCloud }); }, true);
  });

  test('with elements added afterwards: nested outputs, a cross-stack reference, plain overrides', () => {
    expectSameJson((app, c) => {
      const other = new TerraformStack(app, 'other');
      const marker = new Data(other, 'marker', { input: { x: 'y' } });
      const stack = fleetStack(app, c, { fleet: validFleet() });
      const nested = new Construct(new Construct(stack, 'team'), 'extras');
      new TerraformOutput(nested, 'from_other', { value: marker.id });
      new Data(nested, 'note', { input: { list: ['a', 'b'] }, dependsOn: [marker] });
      new HcloudProvider(nested, 'second-project', { alias: 'second' }); // a second provider block: lists append
      stack.addOverride('terraform.required_version', '>= 1.6');
      stack.addOverride('locals.answer', 42);
    }, true);
  });

  test('an override that is not a plain value gets cdktf\'s own toTerraform', () => {
    expectSameJson((app, c) => {
      const stack = fleetStack(app, c, { fleet: validFleet() });
      stack.addOverride('locals.hosts_upper', Fn.upper('x'));
      stack.addOverride('terraform.required_providers', { extra: { source: 'example/extra' } });
    }, false);
  });
});
