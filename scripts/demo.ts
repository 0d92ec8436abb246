/**
 * `npm run demo`: the whole flow without a cloud account, on this machine.
 *
 * Starts a simulated Hetzner Cloud API (__tests__/e2e/cloudsim/hetzner.ts) on
 * 127.0.0.1, whose servers are stand-in hosts (network namespace + sshd, see
 * __tests__/e2e/standin/), plus one stand-in as an "existing" machine. Then it
 * runs the README's commands against it with the REAL hcloud provider:
 * `npx cdktf deploy` of the Hetzner hosts of main.ts's fleet (your server
 * types, locations, private IPs, tags, firewall rules) plus the existing host,
 * the install step over real SSH, `npm run hive`, and `cdktf destroy`.
 *
 * What it does not prove: the real nixos-infect does not run (a stand-in
 * installer writes the files it would), there is no real cloud networking
 * (the private IPs are addresses on the stand-ins, the firewalls are API
 * objects only), and DigitalOcean is not simulated (its hosts are left out).
 *
 * Needs Linux and root (network namespaces), sshd, and the tools from
 * scripts/dev/real-tools.sh (built on first use; takes minutes once).
 *
 *   npm run demo                      deploy, hive, destroy
 *   npm run demo -- --keep            leave everything running until Ctrl-C
 *   npm run demo -- --engine tofu     OpenTofu instead of Terraform
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { HostDeclaration } from '../constructs/fleet-declaration';
import { fleet as exampleFleet } from '../main';
import { DeployProject, Engine, missingTools } from '../__tests__/e2e/cloudsim/deploy-project';
import { HetznerCloudSim } from '../__tests__/e2e/cloudsim/hetzner';
import { StandinMachines } from '../__tests__/e2e/cloudsim/standin-machines';
import { fakeInfectScript, prerequisites, startStandinFleet } from '../__tests__/e2e/standin/standin';
import { startSshAgent } from '../__tests__/e2e/support/terraform';

const say = (text: string) => process.stdout.write(`\n== demo: ${text}\n`);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { keep: { type: 'boolean', default: false }, engine: { type: 'string', default: 'terraform' }, help: { type: 'boolean', default: false } },
  });
  if (values.help) {
    process.stdout.write('usage: npm run demo -- [--keep] [--engine terraform|tofu]\n');
    return 0;
  }
  const engine = values.engine as Engine;
  if (engine !== 'terraform' && engine !== 'tofu') throw new Error(`--engine must be terraform or tofu, got ${values.engine}`);
  const pre = prerequisites();
  if (!pre.ok) {
    process.stderr.write(`npm run demo needs Linux and root (network namespaces) and: ${pre.missing.join(', ')}\n`);
    return 1;
  }
  say('building/checking the real tools (scripts/dev/real-tools.sh)');
  const missing = missingTools(engine);
  if (missing.length) {
    process.stderr.write(`missing: ${missing.join(', ')}\n`);
    return 1;
  }

  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    say('starting one stand-in as an existing machine (it also serves the stand-in installer)');
    const existing = await startStandinFleet({ count: 1, names: ['legacy-1'], rebootDelaySeconds: 1 });
    cleanups.push(() => existing.stop());
    const agent = startSshAgent(existing.clientKeyPath);
    cleanups.push(() => agent.stop());
    const installer = existing.installer.publish('/nixos-infect', fakeInfectScript({ installSeconds: 1 }));
    const machines = new StandinMachines({ trustCaPem: existing.installer.caCertPem, rebootDelaySeconds: 1 });
    cleanups.push(() => machines.stopAll());
    const sim = await HetznerCloudSim.start({ machines });
    cleanups.push(() => sim.stop());
    say(`simulated Hetzner Cloud API at ${sim.endpoint} (HCLOUD_ENDPOINT)`);

    const hetznerHosts = exampleFleet.hosts.filter((h) => h.cloud === 'hetzner');
    const skipped = exampleFleet.hosts.filter((h) => h.cloud !== 'hetzner' && h.cloud !== 'existing').map((h) => `${h.name} (${h.cloud})`);
    const fleet = {
      ...exampleFleet,
      digitalocean: undefined,
      // The demo logs in with the stand-in's key; yours stays out of it.
      adminSshKeys: [existing.clientPublicKey],
      installer,
      hosts: [...hetznerHosts, { name: 'legacy-1', cloud: 'existing', address: existing.hosts[0].address, provider: 'hetznercloud' } as HostDeclaration],
    };
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nixos-fleet-demo-'));
    const project = new DeployProject(engine, { ...sim.providerEnv(), SSH_AUTH_SOCK: agent.socket }, parent);
    project.echo = true;
    project.writeFleet(fleet);
    say(`project ${project.dir}: ${fleet.hosts.map((h) => h.name).join(', ')}${skipped.length ? ` (left out, not simulated: ${skipped.join(', ')})` : ''}`);

    say(`npx cdktf deploy --auto-approve (${engine}, real hcloud provider 1.68.0)`);
    const deploy = await project.cdktf(['deploy', '--auto-approve', '--skip-provider-lock']);
    if (deploy.code !== 0) throw new Error(`cdktf deploy failed (exit ${deploy.code}); its output is above`);

    say('npm run hive');
    const knownHosts = path.join(project.dir, 'known_hosts');
    fs.writeFileSync(knownHosts, machines.knownHosts() + fs.readFileSync(existing.knownHostsPath, 'utf8'));
    const hive = await project.npmRun('hive', ['--identity', existing.clientKeyPath, '--known-hosts', knownHosts, '--ssh-config', '/dev/null']);
    if (hive.code !== 0) throw new Error('npm run hive failed; its output is above');

    const view = sim.view();
    say('what the simulated cloud holds now');
    for (const s of view.servers) process.stdout.write(`  server ${s.name}: ${s.serverType} in ${s.location}, ${s.ipv4}, private ${s.privateIps.join(' ')}, firewalls ${s.firewalls.join(' ')}\n`);
    process.stdout.write(`  ${view.networks.length} network, ${view.firewalls.length} firewalls, ${view.sshKeys.length} SSH key; ${sim.requests().length} API requests served\n`);
    process.stdout.write(`  hive: ${path.join(project.dir, 'hive.nix')}\n  host files: ${path.join(project.dir, 'hosts')}\n`);

    if (values.keep) {
      say(`running; ssh root@<address> -i ${existing.clientKeyPath} works. Ctrl-C stops everything.`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
    }
    say('npx cdktf destroy --auto-approve');
    const destroy = await project.cdktf(['destroy', '--auto-approve', '--skip-provider-lock']);
    if (destroy.code !== 0) throw new Error('cdktf destroy failed; its output is above');
    const left = sim.view();
    say(`done: ${left.servers.length + left.networks.length + left.firewalls.length + left.sshKeys.length} resources left in the simulated cloud`);
    return 0;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`npm run demo: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
