/**
 * The synthesized Terraform meets the real providers: for every configuration
 * the suite synthesizes, each engine (terraform when the machine has it, and
 * OpenTofu) runs `init` from the filesystem mirror only, `validate`, and
 * `plan` with fake credentials and no network. The plan's JSON (`show -json`)
 * is then checked against the declaration, not against our own JSON: the
 * planned servers, networks, keys, firewalls, install steps and outputs are
 * what the fleet says.
 *
 * The plan reads the project's SSH keys (`sshKeys: 'auto'`, the default), so
 * the provider talks to the simulated Hetzner Cloud API on 127.0.0.1
 * (__tests__/e2e/cloudsim), which holds what a project would: nothing, or a
 * key the user uploaded in the console. The plan creates no server, so no
 * machine is ever started.
 *
 * DigitalOcean is left out of every configuration here: its provider cannot
 * be built on this machine (the Go module proxy refuses its v2 releases; see
 * docs/REAL-PROVIDERS.md), and a plan cannot run without it.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'cdktf';
import { fleet as exampleFleet } from '../../main';
import { ExistingHost, FleetDeclaration, HetznerHost, HostDeclaration } from '../../constructs/fleet-declaration';
import { FleetStack } from '../../constructs/fleet-stack';
import { TerraformCloudSettings } from '../../constructs/terraform-cloud';
import { Engine, describeWithRealTools, mustRunEngine, runEngine } from '../support/real-tools';
import { newEd25519PublicKey } from '../support/real-terraform';
import { HetznerCloudSim } from '../e2e/cloudsim/hetzner';
import { MachineBackend } from '../e2e/cloudsim/machines';

jest.setTimeout(600_000);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** A plan boots nothing: a machine request would be a bug in the test or the template. */
const NO_MACHINES: MachineBackend = {
  create: () => Promise.reject(new Error('a plan must not create servers')),
  addPrivateIp: () => Promise.reject(new Error('a plan must not attach networks')),
  removePrivateIp: () => Promise.reject(new Error('a plan must not detach networks')),
  powerOff: () => Promise.reject(new Error('a plan must not power servers off')),
  powerOn: () => Promise.reject(new Error('a plan must not power servers on')),
  destroy: () => Promise.reject(new Error('a plan must not delete servers')),
};

/** The fleet without its DigitalOcean part (see the header). */
function withoutDigitalOcean(fleet: FleetDeclaration): FleetDeclaration {
  return { ...fleet, digitalocean: undefined, hosts: fleet.hosts.filter((h) => h.cloud !== 'digitalocean') };
}


/** A generated fleet: `hetzner` servers over three locations and `existing` machines. */
function generatedFleet(hetzner: number, existing: number): FleetDeclaration {
  const locations = ['nbg1', 'fsn1', 'hel1'];
  const types = ['cx23', 'cx33', 'cpx22', 'cx43'];
  const hosts: HostDeclaration[] = [];
  for (let i = 0; i < hetzner; i++) {
    hosts.push({
      name: `app-${i + 1}`, cloud: 'hetzner', serverType: types[i % types.length], location: locations[i % locations.length],
      privateIp: `10.0.1.${10 + i}`, tags: i % 2 === 0 ? ['app', 'even'] : ['app'],
    });
  }
  for (let i = 0; i < existing; i++) {
    hosts.push({
      name: `box-${i + 1}`, cloud: 'existing', address: `198.51.100.${10 + i}`, port: 22 + (i % 2) * 2200,
      user: i % 3 === 0 ? 'admin' : 'root', provider: 'lightsail', tags: ['box'],
    });
  }
  return {
    name: 'scale', nixChannel: 'nixos-26.05', adminSshKeys: [newEd25519PublicKey('admin@scale')], adminCidrs: ['203.0.113.0/24'],
    hetzner: { ipRange: '10.0.0.0/16', subnetRange: '10.0.1.0/24', networkZone: 'eu-central' }, hosts,
  };
}

interface PlanConfig {
  readonly title: string;
  readonly fleet: FleetDeclaration;
  readonly terraformCloud?: TerraformCloudSettings;
}

const onlyExisting: FleetDeclaration = {
  name: 'bare', adminSshKeys: [newEd25519PublicKey('admin@bare')], adminCidrs: ['203.0.113.0/24'],
  hosts: [
    { name: 'box-1', cloud: 'existing', address: '198.51.100.7', port: 2222, provider: 'lightsail', tags: ['db'] },
    { name: 'box-2', cloud: 'existing', address: '2001:db8::7', user: 'admin' },
    { name: 'box-3', cloud: 'existing', address: '198.51.100.9', alreadyNixos: true },
  ],
};
const onlyHetzner: FleetDeclaration = {
  ...withoutDigitalOcean(exampleFleet), name: 'hz', hosts: withoutDigitalOcean(exampleFleet).hosts.filter((h) => h.cloud === 'hetzner'),
};

const CONFIGS: PlanConfig[] = [
  { title: 'the example fleet (main.ts)', fleet: withoutDigitalOcean(exampleFleet) },
  { title: 'a generated mixed fleet of 32 hosts', fleet: generatedFleet(24, 8) },
  { title: 'existing hosts only', fleet: onlyExisting },
  { title: 'the Hetzner adapter alone', fleet: onlyHetzner },
  {
    title: 'the Terraform Cloud variant of the example fleet',
    fleet: withoutDigitalOcean(exampleFleet),
    terraformCloud: { organization: 'acme', workspace: 'fleet-prod' },
  },
];

/** cdk.tf.json exactly as the app writes it, in a fresh directory; returns the stack dir. */
function synth(config: PlanConfig): string {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'nixos-fleet-plan-'));
  const app = new App({ outdir });
  new FleetStack(app, 'fleet', { fleet: config.fleet, terraformCloud: config.terraformCloud });
  app.synth();
  return path.join(outdir, 'stacks', 'fleet');
}

/** A copy of the stack dir without the `cloud` block: what `init -backend=false` leaves for a local plan. */
function withoutRemoteBackend(dir: string): string {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'nixos-fleet-plan-local-'));
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'cdk.tf.json'), 'utf8'));
  expect(json.terraform.cloud).toBeDefined();
  delete json.terraform.cloud;
  fs.writeFileSync(path.join(copy, 'cdk.tf.json'), JSON.stringify(json));
  return copy;
}

interface PlanResult {
  readonly plan: Json;
  readonly validate: Json;
}

async function initValidatePlan(engine: Engine, dir: string, env: NodeJS.ProcessEnv, config: PlanConfig): Promise<PlanResult> {
  await mustRunEngine(engine, dir, ['init', '-input=false', '-no-color', ...(config.terraformCloud ? ['-backend=false'] : [])], env);
  const validate = JSON.parse((await runEngine(engine, dir, ['validate', '-json', '-no-color'], env)).stdout);
  expect({ valid: validate.valid, diagnostics: validate.diagnostics }).toEqual({ valid: true, diagnostics: [] });
  let planDir = dir;
  if (config.terraformCloud) {
    planDir = withoutRemoteBackend(dir);
    await mustRunEngine(engine, planDir, ['init', '-input=false', '-no-color'], env);
  }
  await mustRunEngine(engine, planDir, ['plan', '-input=false', '-no-color', '-lock=false', '-out=plan.bin'], env);
  const plan = JSON.parse(await mustRunEngine(engine, planDir, ['show', '-json', '-no-color', 'plan.bin'], env));
  return { plan, validate };
}

function changes(plan: Json, type: string): Json[] {
  return (plan.resource_changes as Json[]).filter((c) => c.type === type);
}

/** The one change of `type` whose `after[key]` is `value`. */
function changeWith(plan: Json, type: string, key: string, value: unknown): Json {
  const found = changes(plan, type).filter((c) => c.change.after[key] === value);
  if (found.length !== 1) throw new Error(`expected one ${type} with ${key} = ${JSON.stringify(value)}, found ${found.length}`);
  return found[0];
}

/**
 * Asserts the plan against the declaration it came from. `projectKeys` are the
 * admin keys already in the Hetzner project: those are used, not uploaded.
 */
function expectPlanMatches(plan: Json, fleet: FleetDeclaration, projectKeys: string[] = []): void {
  // Everything is new; the only thing read is the project's key list.
  for (const c of plan.resource_changes as Json[]) expect([c.address, c.change.actions]).toEqual([c.address, ['create']]);

  const hetzner = fleet.hosts.filter((h): h is HetznerHost => h.cloud === 'hetzner');
  const existing = fleet.hosts.filter((h): h is ExistingHost => h.cloud === 'existing');

  // Hetzner: one server per host, with the declared type, location, private IP and labels.
  expect(changes(plan, 'hcloud_server').map((c) => c.change.after.name).sort()).toEqual(hetzner.map((h) => h.name).sort());
  for (const h of hetzner) {
    const after = changeWith(plan, 'hcloud_server', 'name', h.name).change.after;
    expect(after.server_type).toBe(h.serverType);
    expect(after.location).toBe(h.location);
    expect(after.image).toBe(h.image ?? 'debian-12');
    expect(after.network.map((n: Json) => n.ip)).toEqual([h.privateIp]);
    expect(after.labels).toMatchObject({ fleet: fleet.name, ...Object.fromEntries((h.tags ?? []).map((t) => [t, ''])) });
    expect(after.public_net).toEqual([expect.objectContaining({ ipv4_enabled: true, ipv6_enabled: true })]);
  }
  if (hetzner.length > 0) {
    expect(changes(plan, 'hcloud_network').map((c) => c.change.after.ip_range)).toEqual([fleet.hetzner!.ipRange]);
    const subnet = changes(plan, 'hcloud_network_subnet').map((c) => c.change.after);
    expect(subnet).toEqual([expect.objectContaining({ ip_range: fleet.hetzner!.subnetRange, network_zone: fleet.hetzner!.networkZone, type: 'cloud' })]);
    // The admin keys the project does not have yet, each once, byte for byte.
    expect(changes(plan, 'hcloud_ssh_key').map((c) => c.change.after.public_key).sort())
      .toEqual(fleet.adminSshKeys.filter((k) => !projectKeys.includes(k)).sort());
    // SSH reaches the servers from the admin networks only.
    const sshRules = changes(plan, 'hcloud_firewall').flatMap((c) => c.change.after.rule as Json[])
      .filter((r) => r.direction === 'in' && r.protocol === 'tcp' && r.port === '22');
    expect(sshRules.length).toBeGreaterThan(0);
    for (const r of sshRules) expect([...r.source_ips].sort()).toEqual([...fleet.adminCidrs].sort());
  } else {
    expect(changes(plan, 'hcloud_network')).toEqual([]);
    expect(changes(plan, 'hcloud_server')).toEqual([]);
    expect(plan.configuration.provider_config?.hcloud).toBeUndefined();
  }

  // One install and one ready step per host that is not NixOS already, none for the others.
  const installed = fleet.hosts.filter((h) => !(h.cloud === 'existing' && h.alreadyNixos)).map((h) => h.name).sort();
  const steps = changes(plan, 'terraform_data').map((c) => c.name as string);
  expect(steps.filter((n) => n.startsWith('nixos_install_')).map((n) => n.slice('nixos_install_'.length)).sort()).toEqual(installed);
  expect(steps.filter((n) => n.startsWith('nixos_ready_')).map((n) => n.slice('nixos_ready_'.length)).sort()).toEqual(installed);

  // Outputs: the hosts' facts and the hive; existing hosts' addresses are known at plan time
  // (a cloud server's are not, so the output's planned value is partly unknown).
  const outputs = plan.output_changes as Record<string, Json>;
  expect(Object.keys(outputs).sort()).toEqual(['hive_nix', 'hosts']);
  expect(Object.keys(outputs.hosts.after).sort()).toEqual(fleet.hosts.map((h) => h.name).sort());
  for (const h of existing) {
    expect(outputs.hosts.after[h.name]).toMatchObject({
      cloud: 'existing', ssh_address: h.address, ssh_port: h.port ?? 22, ssh_user: h.user ?? 'root', tags: h.tags ?? [],
    });
  }
}

/** The plan with what legitimately differs between engines taken out (provider host, engine version). */
function comparable(plan: Json): Json {
  return (plan.resource_changes as Json[]).map((c) => ({
    address: c.address, type: c.type, actions: c.change.actions, after: c.change.after, unknown: c.change.after_unknown,
  }));
}

describeWithRealTools('real providers: init, validate and plan of every configuration', (tools) => {
  let sim: HetznerCloudSim;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    sim = await HetznerCloudSim.start({ machines: NO_MACHINES });
    env = { ...tools.env, ...sim.providerEnv(), TF_VAR_ssh_private_key: undefined };
  });
  afterAll(async () => {
    await sim?.stop();
  });

  test('the engines real-tools.sh provides are there', () => {
    for (const e of tools.engines) expect(fs.existsSync(e.binary)).toBe(true);
  });

  describe.each(CONFIGS)('$title', (config) => {
    const plans = new Map<string, Json>();
    let dir: string;
    beforeAll(() => {
      dir = synth(config);
    });

    test.each(tools.engines.map((e) => [e.name, e] as const))('%s: init from the mirror, validate, plan', async (_name, engine) => {
      const engineDir = fs.mkdtempSync(path.join(os.tmpdir(), `nixos-fleet-${engine.name}-`));
      fs.copyFileSync(path.join(dir, 'cdk.tf.json'), path.join(engineDir, 'cdk.tf.json'));
      const planEnv = config.terraformCloud ? { ...env, TF_VAR_ssh_private_key: 'placeholder: plan never connects' } : env;
      const from = sim.requests().length;
      const { plan } = await initValidatePlan(engine, engineDir, planEnv, config);
      expectPlanMatches(plan, config.fleet);
      plans.set(engine.name, plan);
      // The real provider read the project from the simulator (only reads: a plan writes nothing).
      const served = sim.requests().slice(from); // this plan's requests only
      if (config.fleet.hosts.some((h) => h.cloud === 'hetzner')) expect(served.some((r) => r.method === 'GET' && r.path.startsWith('/ssh_keys'))).toBe(true);
      expect(served.filter((r) => r.method !== 'GET')).toEqual([]);
    });

    // Where the machine has both engines (CI has, unless its image lacks terraform: .ci/run says so).
    if (tools.engines.length > 1) {
      test('terraform and OpenTofu plan the same changes', () => {
        const [a, b] = tools.engines.map((e) => plans.get(e.name));
        expect(a && b).toBeTruthy();
        expect(comparable(b)).toEqual(comparable(a));
      });
    }
  });

  test.each(tools.engines.map((e) => [e.name, e] as const))(
    "%s: an admin key already in the Hetzner project is used, not uploaded again (Hetzner would refuse it)",
    async (_name, engine) => {
      const second = newEd25519PublicKey('bob@laptop');
      const fleet: FleetDeclaration = { ...onlyHetzner, name: `keys-${engine.name}`, adminSshKeys: [...onlyHetzner.adminSshKeys, second] };
      const keySim = await HetznerCloudSim.start({ machines: NO_MACHINES });
      try {
        keySim.addSshKeyDirectly('bob', second);
        const dir = synth({ title: 'keys', fleet });
        const keyEnv = { ...tools.env, ...keySim.providerEnv(), TF_VAR_ssh_private_key: undefined };
        await mustRunEngine(engine, dir, ['init', '-input=false', '-no-color'], keyEnv);
        await mustRunEngine(engine, dir, ['plan', '-input=false', '-no-color', '-lock=false', '-out=plan.bin'], keyEnv);
        const plan = JSON.parse(await mustRunEngine(engine, dir, ['show', '-json', '-no-color', 'plan.bin'], keyEnv));
        expectPlanMatches(plan, fleet, [second]);
      } finally {
        await keySim.stop();
      }
    },
  );

  test.each(tools.engines.map((e) => [e.name, e] as const))(
    '%s: the Terraform Cloud variant refuses to plan without the SSH key variable (its validation rule)',
    async (_name, engine) => {
      const config = CONFIGS.find((c) => c.terraformCloud)!;
      const local = withoutRemoteBackend(synth(config));
      await mustRunEngine(engine, local, ['init', '-input=false', '-no-color'], env);
      const r = await runEngine(engine, local, ['plan', '-input=false', '-no-color', '-lock=false'], env);
      expect(r.code).not.toBe(0);
      expect(r.stderr.replace(/\s+/g, ' ')).toContain('Terraform Cloud has no ssh-agent');
    },
  );
});
