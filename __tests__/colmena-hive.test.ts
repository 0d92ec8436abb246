/**
 * The hive as a stack output: the example fleet of main.ts synthesized, and a
 * provider-free stack taken through a real `terraform apply`, whose output
 * Nix then evaluates.
 */
import * as fs from 'fs';
import { DataResource, TerraformStack, TerraformVariable, Testing } from 'cdktf';
import { ColmenaHive, HIVE_OUTPUT_NAME } from '../constructs/colmena-hive';
import { fleet as exampleFleet } from '../main';
import { EXISTING_HOST, HETZNER_HOST, HETZNER_HOST_2, Json, refOf, synthFleet, validFleet } from './support/fleet';
import { HIVE_PRELUDE, NODE_SUMMARY, makeHiveProject, provisioned } from './support/hive-project';
import { NIX, TERRAFORM, describeWith, nixEval, terraformApplyOutputs } from './support/nix-tools';

describe('hive_nix output of the example fleet (main.ts)', () => {
  const json = synthFleet(exampleFleet);
  const output = json.output[HIVE_OUTPUT_NAME];
  // The text travels in pieces (local hive_nix_parts) that Terraform joins.
  const value: string = (json.locals.hive_nix_parts as string[]).join('');

  test('the output joins the pieces, each holding at most one reference', () => {
    expect(output.value).toBe('${join("", local.hive_nix_parts)}');
    for (const part of json.locals.hive_nix_parts as string[]) {
      expect((part.replace(/\$\$\{/g, '').match(/\$\{/g) ?? []).length).toBeLessThanOrEqual(1);
    }
  });

  test('is named hive_nix exactly (staticId)', () => {
    expect(Object.keys(json.output)).toContain('hive_nix');
    expect(Object.keys(json.output).filter((k) => k.startsWith('hive'))).toEqual(['hive_nix']);
  });

  test('addresses are Terraform references to the servers, substituted at apply time', () => {
    const web = refOf(json, 'hcloud_server', 'hetzner_server-web-1');
    const db = refOf(json, 'hcloud_server', 'hetzner_server-db-1');
    const worker = refOf(json, 'digitalocean_droplet', 'digitalocean_droplet-worker-1');
    expect(value).toContain(`targetHost = "\${${web}.ipv4_address}";`);
    expect(value).toContain(`targetHost = "\${${db}.ipv4_address}";`);
    expect(value).toContain(`targetHost = "\${${worker}.ipv4_address}";`);
    expect(value).toContain(`address = "\${${worker}.ipv4_address_private}";`);
    // Hetzner reports the private NIC's MAC: NixOS finds that interface by it. DigitalOcean does not.
    expect(value).toContain(`macAddress = "\${tolist(${web}.network).0.mac_address}";`);
    expect(value).toContain(`macAddress = "\${tolist(${db}.network).0.mac_address}";`);
    expect(value.match(/macAddress = null;/g)).toHaveLength(1);
  });

  test('the only Terraform template parts are the address (and Hetzner MAC) references: the Nix logic (antiquotations) never passes through Terraform', () => {
    const refs = value.match(/\$\{[^}]*\}/g) ?? [];
    for (const ref of refs) {
      expect(ref).toMatch(/^\$\{((hcloud_server|digitalocean_droplet)\.[A-Za-z0-9_-]+\.(ipv4_address|ipv4_address_private)|tolist\(hcloud_server\.[A-Za-z0-9_-]+\.network\)\.0\.mac_address)\}$/);
    }
    expect(refs).toHaveLength(6);
    expect(value).not.toContain('$${');
    expect(value).not.toContain('%{');
  });

  test('is data for the static builder, with each host\'s platform from its server type', () => {
    expect(value).toContain('import ./nix/hive.nix {');
    expect(value).toMatch(/web-1 = \{\n\s+system = "x86_64-linux";/);
  });

  test('is published only after every install is ready, with addresses Terraform accepts', () => {
    expect(output.depends_on).toEqual([
      'terraform_data.nixos_ready_web-1', 'terraform_data.nixos_ready_db-1', 'terraform_data.nixos_ready_worker-1',
    ]);
    for (const dep of output.depends_on as string[]) {
      expect(json.resource.terraform_data[dep.replace('terraform_data.', '')]).toBeDefined();
    }
  });

  test('holds the admin keys and no secret', () => {
    expect(value).toContain(exampleFleet.adminSshKeys[0]);
    expect(value).not.toMatch(/PRIVATE KEY|ssh_private_key|var\.|HCLOUD_TOKEN|DIGITALOCEAN_TOKEN/);
    expect(output.sensitive).toBeUndefined();
  });
});

describe('platform per host from the cloud adapters', () => {
  test('a Hetzner CAX server is aarch64-linux in the hive, CX/CPX/CCX x86_64-linux; an existing machine as declared', () => {
    const fleet = {
      ...validFleet(),
      hosts: [
        { ...HETZNER_HOST, serverType: 'cax21' },
        { ...HETZNER_HOST_2, serverType: 'ccx13' },
        { ...EXISTING_HOST, system: 'aarch64-linux' as const },
        { ...EXISTING_HOST, name: 'box-2', address: '198.51.100.8' },
      ],
    };
    const parts = (synthFleet(fleet).locals.hive_nix_parts as string[]).join('');
    const systemOf = (name: string) => new RegExp(`\\n    ${name} = \\{\\n      system = "([^"]+)";`).exec(parts)?.[1];
    expect(['web-1', 'db-1', 'box-1', 'box-2'].map(systemOf)).toEqual(['aarch64-linux', 'x86_64-linux', 'aarch64-linux', 'x86_64-linux']);
  });

  test('an existing machine with an unknown platform is refused, naming host and field', () => {
    const fleet = { ...validFleet(), hosts: [{ ...EXISTING_HOST, system: 'riscv64-linux' as never }] };
    expect(() => synthFleet(fleet)).toThrow(/host "box-1": system must be one of x86_64-linux, aarch64-linux/);
  });
});

describe('ColmenaHive validation', () => {
  const stack = () => new TerraformStack(Testing.app(), 'hive');
  const web = provisioned({ name: 'web-1', cloud: 'hetzner', location: 'nbg1', sshAddress: '198.51.100.10' });

  test('a host named like a Colmena attribute is refused before anything is created', () => {
    const s = stack();
    const fleet = { ...exampleFleet, hosts: [{ ...exampleFleet.hosts[0], name: 'defaults' }] };
    expect(() => new ColmenaHive(s, 'hive', { fleet, hosts: [{ ...web, name: 'defaults' }] })).toThrow(/reserved by Colmena/);
    expect(JSON.parse(Testing.synth(s)).output).toBeUndefined();
  });

  test('the pin file must be a relative .json path', () => {
    expect(() => new ColmenaHive(stack(), 'hive', { fleet: exampleFleet, hosts: [web], nixpkgsPinFile: '/etc/nixpkgs.json' }))
      .toThrow(/nixpkgsPinFile/);
  });
});

describeWith([NIX, TERRAFORM], 'through terraform apply into Nix', () => {
  test('Terraform writes the computed addresses into a hive Nix evaluates; depends_on is accepted', () => {
    // Variables stand in for the servers' computed attributes; terraform_data
    // (built in, no provider) stands in for the install ready steps.
    const s = new TerraformStack(Testing.app(), 'hive');
    const ipv4 = new TerraformVariable(s, 'web_ipv4', { type: 'string' }).stringValue;
    const dropletIpv4 = new TerraformVariable(s, 'worker_ipv4', { type: 'string' }).stringValue;
    const dropletPrivate = new TerraformVariable(s, 'worker_private', { type: 'string' }).stringValue;
    const ready = ['web-1', 'worker-1'].map((h) => new DataResource(s, `ready-${h}`, { input: { host: h } }));
    // A key comment with Terraform and Nix template syntax: it must arrive as written.
    const trickyKey = `${exampleFleet.adminSshKeys[0]} \${laptop} %{ if true }x%{ endif }`;
    const fleet = { ...exampleFleet, adminSshKeys: [trickyKey], hosts: exampleFleet.hosts.filter((h) => h.name !== 'db-1') };
    new ColmenaHive(s, 'hive', {
      fleet,
      dependsOn: ready,
      hosts: [
        provisioned({
          name: 'web-1', cloud: 'hetzner', location: 'nbg1', tags: ['web', 'prod'], sshAddress: ipv4, publicIpv4: ipv4,
          privateIp: '10.0.1.10', privateNetwork: { routeCidr: '10.0.0.0/16', gateway: '10.0.0.1', prefixLength: 32 },
        }),
        provisioned({
          name: 'worker-1', cloud: 'digitalocean', location: 'fra1', tags: ['worker'], sshAddress: dropletIpv4,
          publicIpv4: dropletIpv4, privateIp: dropletPrivate, privateNetwork: { routeCidr: '10.20.0.0/20', prefixLength: 20 },
        }),
      ],
    });
    const synthesized = JSON.parse(Testing.synth(s));
    expect(synthesized.output.hive_nix.depends_on).toEqual(ready.map((r) => `terraform_data.${r.friendlyUniqueId}`));
    const applied = terraformApplyOutputs(synthesized, {
      web_ipv4: '198.51.100.10', worker_ipv4: '198.51.100.30', worker_private: '10.20.3.4',
    });
    const hiveText = String(applied.hive_nix.value);
    const project = makeHiveProject(hiveText, { factsFor: ['web-1', 'worker-1'] });
    try {
      const nodes = nixEval<Json>(`let ${HIVE_PRELUDE} in ${NODE_SUMMARY}`, project);
      expect(nodes['web-1'].deployment.targetHost).toBe('198.51.100.10');
      expect(nodes['worker-1'].deployment).toMatchObject({
        targetHost: '198.51.100.30', targetUser: 'root', targetPort: 22, tags: ['digitalocean', 'fra1', 'worker'],
      });
      expect(nodes['worker-1'].privateNetwork).toMatchObject({ address: '10.20.3.4', prefixLength: 20, gateway: null });
      expect(nixEval(`let ${HIVE_PRELUDE} in hive.defaults.users.users.root.openssh.authorizedKeys.keys`, project)).toEqual([trickyKey]);
      expect(fs.readFileSync(`${project}/hive.nix`, 'utf8')).toBe(hiveText);
    } finally {
      fs.rmSync(project, { recursive: true, force: true });
    }
  });
});
