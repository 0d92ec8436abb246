/**
 * Deploy timings on the simulated Hetzner Cloud, for docs/BENCHMARKS.md.
 *
 *   npm run bench:deploy -- [--hosts 1,8,20] [--engine terraform|tofu]
 *
 * For each fleet size: `npx cdktf deploy` of N Hetzner hosts (servers created
 * by the real hcloud provider on the simulator, each a stand-in host,
 * installed with the stand-in installer over real SSH); the second, no-change
 * `cdktf deploy`; and the same JSON under the engine alone: `terraform apply`
 * with no change, then, after `cdktf destroy`, a fresh `terraform apply` of
 * the same cdk.tf.json (so the CLI's own overhead is the difference).
 *
 * measureSimulatedDeploy() is the function; bench.ts can call it and render
 * the rows. Needs what the e2e deploy suite needs (root, sshd, real tools).
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { FleetDeclaration, HostDeclaration } from '../../constructs/fleet-declaration';
import { DeployProject, Engine } from '../../__tests__/e2e/cloudsim/deploy-project';
import { HetznerCloudSim } from '../../__tests__/e2e/cloudsim/hetzner';
import { StandinMachines } from '../../__tests__/e2e/cloudsim/standin-machines';
import { fakeInfectScript, startStandinFleet } from '../../__tests__/e2e/standin/standin';
import { startSshAgent } from '../../__tests__/e2e/support/terraform';
import { DeployTimings, renderDeployTimings } from './deploy-timings';

async function must<T extends { code: number; output: string; seconds: number }>(what: string, run: Promise<T>): Promise<T> {
  const r = await run;
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.output.slice(-4000)}`);
  return r;
}

/** One measurement: a fresh simulator, N Hetzner hosts, the given engine. */
export async function measureSimulatedDeploy(hosts: number, engine: Engine = 'terraform'): Promise<DeployTimings> {
  const installerHost = await startStandinFleet({ count: 1, names: ['installer'], rebootDelaySeconds: 1 });
  const agent = startSshAgent(installerHost.clientKeyPath);
  const machines = new StandinMachines({ trustCaPem: installerHost.installer.caCertPem, rebootDelaySeconds: 1 });
  const sim = await HetznerCloudSim.start({ machines });
  try {
    const installer = installerHost.installer.publish('/nixos-infect', fakeInfectScript({ installSeconds: 0 }));
    const fleet: FleetDeclaration = {
      name: 'bench',
      adminSshKeys: [installerHost.clientPublicKey],
      adminCidrs: ['10.77.0.0/16'],
      installer,
      hetzner: { ipRange: '10.0.0.0/16', subnetRange: '10.0.1.0/24', networkZone: 'eu-central' },
      hosts: Array.from({ length: hosts }, (_, i) => ({
        name: `host-${i + 1}`, cloud: 'hetzner', serverType: 'cx23', location: 'nbg1', privateIp: `10.0.1.${10 + i}`,
      }) as HostDeclaration),
    };
    const project = new DeployProject(engine, { ...sim.providerEnv(), SSH_AUTH_SOCK: agent.socket });
    project.writeFleet(fleet);
    const cdktf = (args: string[]) => project.cdktf([...args, '--auto-approve', '--skip-provider-lock']);
    const apply = ['apply', '-input=false', '-no-color', '-auto-approve'];
    const first = await must('cdktf deploy', cdktf(['deploy']));
    const apiRequests = sim.requests().length;
    const again = await must('cdktf deploy (no change)', cdktf(['deploy']));
    const engineAgain = await must(`${engine} apply (no change)`, project.engineCommand(apply));
    await must('cdktf destroy', cdktf(['destroy']));
    const fresh = await must(`${engine} apply (fresh)`, project.engineCommand(apply));
    await must(`${engine} destroy`, project.engineCommand(['destroy', '-input=false', '-no-color', '-auto-approve']));
    fs.rmSync(project.dir, { recursive: true, force: true });
    return {
      engine, hosts, cdktfDeploySeconds: first.seconds, cdktfNoChangeSeconds: again.seconds,
      engineNoChangeSeconds: engineAgain.seconds, engineFreshApplySeconds: fresh.seconds, apiRequests,
    };
  } finally {
    await sim.stop();
    await machines.stopAll();
    agent.stop();
    await installerHost.stop();
  }
}

if (require.main === module) {
  const { values } = parseArgs({ options: { hosts: { type: 'string', default: '1,8' }, engine: { type: 'string', default: 'terraform' } } });
  const sizes = values.hosts!.split(',').map(Number);
  (async () => {
    const rows: DeployTimings[] = [];
    for (const n of sizes) {
      rows.push(await measureSimulatedDeploy(n, values.engine as Engine));
      process.stderr.write(`measured ${n} host(s)\n`);
    }
    process.stdout.write(`${renderDeployTimings(rows)}\n`);
    fs.mkdirSync(path.join(process.cwd(), '.build'), { recursive: true });
    fs.writeFileSync(path.join(process.cwd(), '.build', 'deploy-bench.json'), JSON.stringify(rows, null, 2));
  })().then(() => process.exit(0), (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
