/**
 * `npx cdktf deploy` end to end on a simulated Hetzner Cloud, day one and day
 * two, with terraform and with tofu: the README's real commands, the real
 * hcloud provider (1.68.0, from scripts/dev/real-tools.sh) pointed at the
 * simulator (cloudsim/hetzner.ts) with HCLOUD_ENDPOINT, every server a
 * stand-in host reached over real SSH by the real install step, `npm run
 * hive` against those hosts, and Nix evaluating the written hive.
 *
 * DigitalOcean is not here: its provider cannot be built on this machine, and
 * a simulator only a fake provider calls would prove nothing.
 *
 * Locally without root/sshd/tools this suite is skipped with the reason; with
 * CI=true a missing prerequisite fails it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FleetDeclaration, HostDeclaration } from '../../constructs/fleet-declaration';
import { nixEval } from '../support/nix-tools';
import { HIVE_PRELUDE } from '../support/hive-project';
import { DeployProject, Engine, missingTools } from './cloudsim/deploy-project';
import { HetznerCloudSim, ProjectView } from './cloudsim/hetzner';
import { StandinMachines } from './cloudsim/standin-machines';
import { StandinFleet, fakeInfectScript, prerequisites, startStandinFleet } from './standin/standin';
import { startSshAgent } from './support/terraform';
import { engineNames } from '../support/real-tools';

const inCi = process.env.CI === 'true';
const pre = prerequisites();
// Both engines where the machine has terraform; OpenTofu alone where it has not.
const engines: Engine[] = (process.env.NIXOS_FLEET_SIM_ENGINES?.split(',') as Engine[] | undefined) ?? engineNames();
const toolProblems = pre.ok ? engines.flatMap((e) => missingTools(e)) : [];
const missing = [...pre.missing, ...new Set(toolProblems)];
if (missing.length > 0 && !inCi) {
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED simulated Hetzner deploy suite: missing ${missing.join(', ')} (needs root, sshd, scripts/dev/real-tools.sh)`);
}
const suite = missing.length === 0 || inCi ? describe : describe.skip;

jest.setTimeout(900_000);

/** Names of the hosts whose hcloud_server is in the state (cdktf adds a hash to each logical id). */
const serversInState = (addresses: string[]) =>
  addresses.map((a) => /^hcloud_server\.hetzner_server-(.+)_[0-9A-F]{8}$/.exec(a)?.[1]).filter((n): n is string => !!n).sort();

suite.each(engines)('simulated Hetzner Cloud deploy with %s', (engine) => {
  let existing: StandinFleet;
  let machines: StandinMachines;
  let sim: HetznerCloudSim;
  let project: DeployProject;
  let agent: { socket: string; stop: () => void };
  let fleet: FleetDeclaration;
  let installer: { url: string; sha256: string };

  const hetznerHost = (name: string, more: Record<string, unknown> = {}): HostDeclaration =>
    ({ name, cloud: 'hetzner', serverType: 'cx23', location: 'nbg1', ...more }) as HostDeclaration;

  const serverOf = (view: ProjectView, name: string) => view.servers.find((s) => s.name === name);
  /** Mutating requests the simulator served since `from` (what a deploy changed). */
  const writesSince = (from: number) => sim.requests().slice(from).filter((r) => r.method !== 'GET' && !r.fault).map((r) => `${r.method} ${r.path}`);
  // --skip-provider-lock only because this machine is offline: on a first init cdktf runs
  // `terraform providers lock`, which asks the registry even with a filesystem mirror.
  const deploy = () => project.cdktf(['deploy', '--auto-approve', '--skip-provider-lock']);
  const expectOk = (run: { code: number; output: string }) => {
    if (run.code !== 0) throw new Error(`cdktf exited ${run.code}:\n${run.output.slice(-6000)}`);
  };

  beforeAll(async () => {
    expect(missing).toEqual([]); // in CI, a missing prerequisite is a failure
    existing = await startStandinFleet({ count: 1, names: ['legacy-1'], rebootDelaySeconds: 1 });
    agent = startSshAgent(existing.clientKeyPath);
    installer = existing.installer.publish('/nixos-infect', fakeInfectScript({ installSeconds: 0 }));
    machines = new StandinMachines({ trustCaPem: existing.installer.caCertPem, rebootDelaySeconds: 1 });
    sim = await HetznerCloudSim.start({ machines });
    project = new DeployProject(engine, { ...sim.providerEnv(), SSH_AUTH_SOCK: agent.socket });
    fleet = {
      name: 'sim',
      nixChannel: 'nixos-26.05',
      adminSshKeys: [existing.clientPublicKey],
      adminCidrs: ['10.77.0.0/16'],
      installer,
      hetzner: { ipRange: '10.0.0.0/16', subnetRange: '10.0.1.0/24', networkZone: 'eu-central' },
      hosts: [
        hetznerHost('web-1', { privateIp: '10.0.1.10', tags: ['web'], firewallRules: [{ protocol: 'tcp', port: '80', sourceCidrs: ['0.0.0.0/0', '::/0'], description: 'HTTP' }] }),
        hetznerHost('db-1', { location: 'fsn1', privateIp: '10.0.1.20', tags: ['db'] }),
        { name: 'legacy-1', cloud: 'existing', address: existing.hosts[0].address, provider: 'hetznercloud' } as HostDeclaration,
      ],
    };
  });

  afterAll(async () => {
    await sim?.stop();
    await machines?.stopAll();
    agent?.stop();
    await existing?.stop();
  });

  describe('day one', () => {
    let run: { code: number; output: string; seconds: number };
    beforeAll(async () => {
      project.writeFleet(fleet);
      run = await deploy();
    });

    test('cdktf deploy creates the network, keys, firewalls and servers through the real provider', () => {
      expectOk(run);
      const v = sim.view();
      expect(v.servers.map((s) => s.name).sort()).toEqual(['db-1', 'web-1']);
      expect(v.networks).toEqual([expect.objectContaining({ name: 'sim', ipRange: '10.0.0.0/16', subnets: ['10.0.1.0/24'] })]);
      expect(v.sshKeys).toHaveLength(1);
      expect(v.firewalls.map((f) => f.name).sort()).toEqual(['sim-base', 'sim-web-1']);
      expect(serverOf(v, 'web-1')).toMatchObject({ serverType: 'cx23', location: 'nbg1', status: 'running', privateIps: ['sim:10.0.1.10'], labels: { fleet: 'sim', web: '' } });
      expect(serverOf(v, 'web-1')!.firewalls.sort()).toEqual(['sim-base', 'sim-web-1']);
      expect(serverOf(v, 'db-1')).toMatchObject({ serverType: 'cx23', location: 'fsn1', privateIps: ['sim:10.0.1.20'], firewalls: ['sim-base'] });
      // the real provider (hcloud-go 2.47.0 inside, by its user agent) did the work: it called the simulator and polled its actions
      const served = sim.requests();
      expect(served.filter((r) => r.method === 'POST' && r.path === '/servers')).toHaveLength(2);
      expect(served.filter((r) => r.path === '/actions').length).toBeGreaterThan(0);
      // (built from source without release ldflags, the provider calls its version "not build yet")
      for (const r of served) expect(r.userAgent).toMatch(/^hcloud-terraform\/.* hcloud-go\/2\.47\.0$/);
    });

    test('each server is a running stand-in whose root keys are the request\'s and which holds its private IP', async () => {
      for (const name of ['web-1', 'db-1']) {
        const m = machines.machine(name)!;
        expect(m).toBeDefined();
        expect(serverOf(sim.view(), name)!.ipv4).toBe(m.host.address);
        // The installer took root's keys from the request's (cloud-init's) authorized_keys into the
        // NixOS configuration; the first NixOS boot moved the old file to /old-root.
        expect(fs.readFileSync(path.join(m.host.oldRootDir, 'root', '.ssh', 'authorized_keys'), 'utf8').trim()).toBe(existing.clientPublicKey);
        expect((await m.fleet.exec(m.host, 'cat /etc/ssh/authorized_keys.d/root')).stdout.trim()).toBe(existing.clientPublicKey);
        const ip = await m.fleet.exec(m.host, 'ip -4 -o addr show dev eth0');
        expect(ip.stdout).toContain(name === 'web-1' ? '10.0.1.10/32' : '10.0.1.20/32');
      }
    });

    test('NixOS was installed on every host (stand-in installer), each rebooted once', async () => {
      for (const name of ['web-1', 'db-1']) {
        const m = machines.machine(name)!;
        expect(run.output).toContain(`nixos-fleet[${name}]: NixOS is up`);
        expect(fs.existsSync(path.join(m.host.etcUpper, 'NIXOS'))).toBe(true);
        expect(fs.readFileSync(path.join(m.host.etcUpper, 'nixos/standin-env'), 'utf8')).toMatch(/^PROVIDER=hetznercloud$/m);
        expect(m.fleet.rebootCount(m.host)).toBe(1);
        // The reboot went ahead because the engine had the exit status, not because its wait ran
        // out (OpenTofu keeps the install's SSH connection open until the apply ends).
        const log = (await m.fleet.exec(m.host, 'cat /var/log/nixos-infect.log')).stdout;
        expect(log).toMatch(/nixos-fleet: rebooting: the install's output and exit status reached Terraform/);
      }
      expect(existing.rebootCount(existing.hosts[0])).toBe(1);
    });

    test('npm run hive writes hive.nix from the published output and Nix evaluates it', async () => {
      const knownHosts = path.join(project.dir, 'known_hosts');
      fs.writeFileSync(knownHosts, machines.knownHosts() + fs.readFileSync(existing.knownHostsPath, 'utf8'));
      const hive = await project.npmRun('hive', ['--identity', existing.clientKeyPath, '--known-hosts', knownHosts, '--ssh-config', '/dev/null']);
      expect(hive.output).not.toContain('FAILED');
      expect(hive.code).toBe(0);
      const deployment = evalHive(path.join(project.dir, 'hive.nix'));
      expect(Object.keys(deployment).sort()).toEqual(['db-1', 'legacy-1', 'web-1']);
      expect(deployment['web-1'].targetHost).toBe(machines.machine('web-1')!.host.address);
      expect(deployment['web-1'].tags).toEqual(expect.arrayContaining(['web']));
      for (const name of ['web-1', 'db-1']) expect(fs.existsSync(path.join(project.dir, 'hosts', name, 'hardware-configuration.nix'))).toBe(true);
      // The private NIC's MAC, as the API reported it through the provider, for private-network.nix.
      const text = fs.readFileSync(path.join(project.dir, 'hive.nix'), 'utf8');
      for (const name of ['web-1', 'db-1']) {
        const macs = serverOf(sim.view(), name)!.privateMacs;
        expect(macs).toHaveLength(1);
        expect(text).toMatch(new RegExp(`${name} = \\{[^]*?macAddress = "${macs[0]}";`));
      }
    });
  });

  describe('day two', () => {
    const withHosts = (hosts: HostDeclaration[]): FleetDeclaration => ({ ...fleet, hosts });
    const hostsNow = () => fleet.hosts;
    const reboots = () => Object.fromEntries([...machines.live().map((m) => [m.name, m.fleet.rebootCount(m.host)]),
      ['legacy-1', existing.rebootCount(existing.hosts[0])]]);
    const installs = () => existing.installer.requests().filter((p) => p === '/nixos-infect').length;
    let mark: number;
    let rebootsBefore: Record<string, number>;
    let installsBefore: number;
    const begin = () => {
      mark = sim.requests().length;
      rebootsBefore = reboots();
      installsBefore = installs();
    };

    test('a second deploy changes nothing: no API write, no reinstall, no reboot', async () => {
      begin();
      const again = await deploy();
      expectOk(again);
      expect(again.output).toMatch(/No changes/);
      expect(writesSince(mark)).toEqual([]);
      expect(sim.requests().length).toBeGreaterThan(mark); // it did read the servers back from the simulator
      expect(reboots()).toEqual(rebootsBefore);
      expect(installs()).toBe(installsBefore);
    });

    test('adding a host creates and installs only that host', async () => {
      begin();
      const ids = Object.fromEntries(sim.view().servers.map((s) => [s.name, s.id]));
      fleet = withHosts([...hostsNow(), hetznerHost('app-1', { location: 'hel1', privateIp: '10.0.1.30', tags: ['app'] })]);
      project.writeFleet(fleet);
      const run = await deploy();
      expectOk(run);
      const writes = writesSince(mark);
      expect(writes.filter((w) => w === 'POST /servers')).toHaveLength(1);
      const app = serverOf(sim.view(), 'app-1')!;
      expect(app).toMatchObject({ serverType: 'cx23', location: 'hel1', privateIps: ['sim:10.0.1.30'], status: 'running' });
      expect(writes.every((w) => w === 'POST /servers' || w.startsWith(`POST /servers/${app.id}/`))).toBe(true);
      for (const s of sim.view().servers.filter((x) => x.name !== 'app-1')) expect(s.id).toBe(ids[s.name]);
      expect(installs()).toBe(installsBefore + 1);
      expect(run.output).toContain('nixos-fleet[app-1]: NixOS is up');
      expect(run.output).not.toMatch(/nixos-fleet\[(web-1|db-1|legacy-1)\]/);
      const after = reboots();
      expect(after['app-1']).toBe(1);
      for (const [name, n] of Object.entries(rebootsBefore)) expect(after[name]).toBe(n);
    });

    test('removing a host destroys only that host; outputs and hive lose it', async () => {
      begin();
      const app = serverOf(sim.view(), 'app-1')!;
      fleet = withHosts(hostsNow().filter((h) => h.name !== 'app-1'));
      project.writeFleet(fleet);
      const run = await deploy();
      expectOk(run);
      expect(writesSince(mark)).toEqual([`DELETE /servers/${app.id}`]);
      expect(sim.view().servers.map((s) => s.name).sort()).toEqual(['db-1', 'web-1']);
      expect(machines.machine('app-1')).toBeUndefined();
      expect(machines.all().find((m) => m.name === 'app-1')!.destroyed).toBe(true);
      expect(serversInState(await project.stateAddresses())).toEqual(['db-1', 'web-1']);
      const hive = await project.npmRun('hive', ['--identity', existing.clientKeyPath, '--ssh-config', '/dev/null', '--known-hosts', path.join(project.dir, 'known_hosts')]);
      expect(hive.code).toBe(0);
      expect(Object.keys(evalHive(path.join(project.dir, 'hive.nix'))).sort()).toEqual(['db-1', 'legacy-1', 'web-1']);
      expect(reboots()).toEqual(Object.fromEntries(Object.entries(rebootsBefore).filter(([n]) => n !== 'app-1')));
    });

    test('changing the server type resizes in place (poweroff, change_type), no replacement, no reinstall', async () => {
      begin();
      const db = serverOf(sim.view(), 'db-1')!;
      const events = sim.events().length;
      fleet = withHosts(hostsNow().map((h) => (h.name === 'db-1' ? { ...h, serverType: 'cx33' } as HostDeclaration : h)));
      project.writeFleet(fleet);
      const run = await deploy();
      expectOk(run);
      const now = serverOf(sim.view(), 'db-1')!;
      expect(now).toMatchObject({ id: db.id, serverType: 'cx33', status: 'running', ipv4: db.ipv4 });
      expect(sim.events().slice(events).filter((e) => e.resource === 'server').map((e) => `${e.kind} ${e.name}`))
        .toEqual(['server.stop_server db-1', 'server.change_type db-1']);
      expect(writesSince(mark)).toEqual([`POST /servers/${db.id}/actions/poweroff`, `POST /servers/${db.id}/actions/change_type`]);
      expect(installs()).toBe(installsBefore);
      expect(run.output).not.toContain('nixos-fleet[db-1]');
      // The resize power-cycled db-1 once (the API starts it again); the others were not touched.
      const after = reboots();
      expect(after['db-1']).toBe(rebootsBefore['db-1'] + 1);
      expect(after['web-1']).toBe(rebootsBefore['web-1']);
      const m = machines.machine('db-1')!;
      expect(fs.existsSync(path.join(m.host.etcUpper, 'NIXOS'))).toBe(true);
      expect(await m.fleet.isSshUp(m.host)).toBe(true);
    });

    test('changing tags updates the labels in place and the hive\'s tags', async () => {
      begin();
      const web = serverOf(sim.view(), 'web-1')!;
      fleet = withHosts(hostsNow().map((h) => (h.name === 'web-1' ? { ...h, tags: ['web', 'frontend'] } : h)));
      project.writeFleet(fleet);
      const run = await deploy();
      expectOk(run);
      expect(writesSince(mark)).toEqual([`PUT /servers/${web.id}`]);
      expect(serverOf(sim.view(), 'web-1')).toMatchObject({ id: web.id, labels: { fleet: 'sim', web: '', frontend: '' } });
      expect(reboots()).toEqual(rebootsBefore);
      expect(installs()).toBe(installsBefore);
      const hive = await project.npmRun('hive', ['--identity', existing.clientKeyPath, '--ssh-config', '/dev/null', '--known-hosts', path.join(project.dir, 'known_hosts')]);
      expect(hive.code).toBe(0);
      expect(evalHive(path.join(project.dir, 'hive.nix'))['web-1'].tags).toEqual(expect.arrayContaining(['web', 'frontend']));
    });

    test('changing firewall rules: rules set in place, a host firewall applied and another removed, no server touched', async () => {
      begin();
      const fw = (name: string) => sim.view().firewalls.find((f) => f.name === name);
      const base = fw('sim-base')!;
      const webFw = fw('sim-web-1')!;
      const ids = Object.fromEntries(sim.view().servers.map((s) => [s.name, s.id]));
      fleet = {
        ...withHosts(hostsNow().map((h) => (h.name === 'web-1' ? { ...h, firewallRules: [] }
          : h.name === 'db-1' ? { ...h, firewallRules: [{ protocol: 'tcp', port: '5432', sourceCidrs: ['10.0.0.0/16'], description: 'postgres' }] } : h))),
        firewallRules: [{ protocol: 'udp', port: '51820', sourceCidrs: ['0.0.0.0/0', '::/0'], description: 'wireguard' }],
      } as FleetDeclaration;
      project.writeFleet(fleet);
      const run = await deploy();
      expectOk(run);
      const dbFw = fw('sim-db-1')!;
      expect(dbFw).toMatchObject({ rules: 1, appliedTo: ['db-1'] });
      expect(fw('sim-web-1')).toBeUndefined();
      expect(fw('sim-base')).toMatchObject({ id: base.id, rules: base.rules + 1 });
      expect(fw('sim-base')!.appliedTo.sort()).toEqual(['db-1', 'web-1']);
      expect(writesSince(mark).sort()).toEqual([
        `DELETE /firewalls/${webFw.id}`,
        'POST /firewalls',
        `POST /firewalls/${base.id}/actions/set_rules`,
        `POST /firewalls/${dbFw.id}/actions/apply_to_resources`,
        `POST /firewalls/${webFw.id}/actions/remove_from_resources`,
      ].sort());
      expect(Object.fromEntries(sim.view().servers.map((s) => [s.name, s.id]))).toEqual(ids);
      expect(reboots()).toEqual(rebootsBefore);
      expect(installs()).toBe(installsBefore);
    });

    test('cdktf destroy leaves the simulated project empty and the state clean', async () => {
      const run = await project.cdktf(['destroy', '--auto-approve', '--skip-provider-lock']);
      expectOk(run);
      expect(sim.view()).toEqual({ servers: [], networks: [], firewalls: [], sshKeys: [] });
      expect(machines.live()).toEqual([]);
      expect(await project.stateAddresses()).toEqual([]);
    });
  });

  describe('refusals and faults on day one (fresh project, same simulated cloud)', () => {
    let fresh: DeployProject;
    const dayOne = () => ({ ...fleet, hosts: fleet.hosts.filter((h) => h.name !== 'legacy-1') });
    const freshDeploy = () => fresh.cdktf(['deploy', '--auto-approve', '--skip-provider-lock']);

    beforeAll(() => {
      fresh = new DeployProject(engine, { ...sim.providerEnv(), SSH_AUTH_SOCK: agent.socket });
      sim.clearFaults();
    });
    afterAll(() => sim.clearFaults());

    const deleteConsoleKey = async (name: string) => {
      const key = sim.view().sshKeys.find((k) => k.name === name)!;
      const del = await fetch(`${sim.endpoint}/ssh_keys/${key.id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${sim.token}` } });
      expect(del.status).toBe(204);
    };

    test('an admin key already in the project (sshKeys auto, the default) is used: no second upload, servers get it', async () => {
      sim.addSshKeyDirectly('alice-laptop', existing.clientPublicKey);
      fresh.writeFleet(dayOne());
      expectOk(await freshDeploy());
      const view = sim.view();
      expect(view.sshKeys.map((k) => k.name)).toEqual(['alice-laptop']);
      expect(view.servers.map((srv) => [srv.name, srv.sshKeys]).sort()).toEqual([['db-1', ['alice-laptop']], ['web-1', ['alice-laptop']]]);
      // A second deploy keeps using it (the fleet's own filter never counts it as ours).
      const before = sim.requests().length;
      expectOk(await freshDeploy());
      expect(writesSince(before)).toEqual([]);
      expectOk(await fresh.cdktf(['destroy', '--auto-approve', '--skip-provider-lock']));
      // The console key is the user's, not the fleet's: destroy leaves it.
      expect(sim.view().sshKeys.map((k) => k.name)).toEqual(['alice-laptop']);
      await deleteConsoleKey('alice-laptop');
      expect(sim.view()).toEqual({ servers: [], networks: [], firewalls: [], sshKeys: [] });
    });

    test("with sshKeys 'upload' the same key is refused with the API's uniqueness error, no server created", async () => {
      sim.addSshKeyDirectly('alice-laptop', existing.clientPublicKey);
      fresh.writeFleet({ ...dayOne(), hetzner: { ...dayOne().hetzner!, sshKeys: 'upload' } });
      const run = await freshDeploy();
      expect(run.code).not.toBe(0);
      expect(run.output).toContain('SSH key with the same fingerprint already exists');
      expect(run.output).toContain('uniqueness_error');
      expect(sim.view().servers).toEqual([]);
      // clean up like a user would: remove the console key, destroy what was created
      await deleteConsoleKey('alice-laptop');
      expectOk(await fresh.cdktf(['destroy', '--auto-approve', '--skip-provider-lock']));
      expect(sim.view()).toEqual({ servers: [], networks: [], firewalls: [], sshKeys: [] });
    });

    test('a retired server type (cx22) is refused at synth, naming its successor, before any API call', async () => {
      fresh.writeFleet({ ...dayOne(), hosts: [hetznerHost('old-1', { serverType: 'cx22', privateIp: '10.0.1.40' })] });
      const before = sim.requests().length;
      const run = await freshDeploy();
      expect(run.code).not.toBe(0);
      expect(run.output).toContain('host "old-1": serverType cx22 was retired by Hetzner on 2025-12-31; use cx23');
      expect(sim.requests().length).toBe(before);
    });

    test('rate limits are retried; a failed create action fails the deploy with its message', async () => {
      const before = sim.requests().length;
      sim.rateLimit(2, { method: 'POST', path: /^\/servers$/ });
      sim.slowActions('create_server', 2500);
      sim.failActions('create_server', 1, 'action_failed', 'simulated: the host for this server could not be provisioned');
      fresh.writeFleet(dayOne());
      const run = await freshDeploy();
      sim.clearFaults();
      expect(run.code).not.toBe(0);
      expect(run.output).toContain('simulated: the host for this server could not be provisioned');
      const served = sim.requests().slice(before).filter((r) => r.method === 'POST' && r.path === '/servers');
      expect(served.filter((r) => r.status === 429)).toHaveLength(2);
      expect(served.filter((r) => r.status === 201)).toHaveLength(2); // both servers were created after the retries
    });

    test('a 503 is not retried by the provider: the deploy fails with the API\'s message', async () => {
      sim.httpError(1, 503, 'maintenance', 'simulated: cannot perform operation due to maintenance', { method: 'POST', path: /^\/servers$/ });
      const run = await freshDeploy();
      sim.clearFaults();
      expect(run.code).not.toBe(0);
      expect(run.output).toContain('simulated: cannot perform operation due to maintenance');
    });

    test('a rerun converges: every server once, nothing orphaned, installed, hive published', async () => {
      const run = await freshDeploy();
      expectOk(run);
      const v = sim.view();
      expect(v.servers.map((s) => s.name).sort()).toEqual(['db-1', 'web-1']);
      expect(v.servers.every((s) => s.status === 'running')).toBe(true);
      expect(v.networks).toHaveLength(1);
      expect(v.sshKeys).toHaveLength(1);
      expect(v.firewalls).toHaveLength(2);
      // one live machine per server; the failed one was destroyed
      expect(machines.live().map((m) => m.serverId).sort()).toEqual(v.servers.map((s) => s.id).sort());
      for (const s of v.servers) expect(fs.existsSync(path.join(machines.machine(s.id)!.host.etcUpper, 'NIXOS'))).toBe(true);
      const state = await fresh.stateAddresses();
      expect(serversInState(state)).toEqual(['db-1', 'web-1']);
      expect(state.filter((a) => a.startsWith('hcloud_server.'))).toHaveLength(2);
      expectOk(await fresh.cdktf(['destroy', '--auto-approve', '--skip-provider-lock']));
      expect(sim.view()).toEqual({ servers: [], networks: [], firewalls: [], sshKeys: [] });
      expect(machines.live()).toEqual([]);
    });
  });
});

function evalHive(file: string): Record<string, { targetHost: string; tags: string[] }> {
  // Each node called as Colmena calls it, through the shared test stubs (support/hive-stubs.nix).
  return nixEval<Record<string, { targetHost: string; tags: string[] }>>(
    `let ${HIVE_PRELUDE} in builtins.mapAttrs (name: _: (node name).deployment) (removeAttrs hive [ "meta" "defaults" ])`,
    path.dirname(file),
  );
}
