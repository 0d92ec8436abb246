/**
 * Install timing: 1 vs 8 stand-in hosts, an installer that takes ~3 s.
 * A benchmark, not a timed assertion: it runs only from `npm run bench`
 * (NIXOS_FLEET_BENCH=1), prints `INSTALL_BENCH hosts=K seconds=S` lines that
 * scripts/dev/bench.ts parses, and asserts only that every install succeeded.
 */
import { FleetDeclaration } from '../../constructs/fleet-declaration';
import { FleetStack } from '../../constructs/fleet-stack';
import { fakeInfectScript, prerequisites, startStandinFleet } from './standin/standin';
import { initAndApply, startSshAgent, synthStack, terraformEnv } from './support/terraform';

const enabled = process.env.NIXOS_FLEET_BENCH === '1' && prerequisites().ok;
if (!enabled) {
  // eslint-disable-next-line no-console
  console.warn('SKIPPED install benchmark: run `npm run bench` (needs NIXOS_FLEET_BENCH=1, root, terraform, sshd)');
}

(enabled ? describe : describe.skip)('install benchmark', () => {
  jest.setTimeout(600_000);

  test.each([1, 8])('%i host(s)', async (count) => {
    const fleet = await startStandinFleet({ count, rebootDelaySeconds: 2 });
    const agent = startSshAgent(fleet.clientKeyPath);
    try {
      const installer = fleet.installer.publish('/nixos-infect', fakeInfectScript({ installSeconds: 3 }));
      const decl: FleetDeclaration = {
        name: 'bench', adminSshKeys: [fleet.clientPublicKey], adminCidrs: [fleet.subnet], installer,
        hosts: fleet.hosts.map((h) => ({ name: h.name, cloud: 'existing' as const, address: h.address, provider: 'hetznercloud' })),
      };
      const dir = synthStack(`bench-${count}`, (app) => new FleetStack(app, 'fleet', { fleet: decl }));
      const run = await initAndApply(dir, terraformEnv({ SSH_AUTH_SOCK: agent.socket }));
      expect(run.code).toBe(0);
      for (const h of fleet.hosts) expect(fleet.rebootCount(h)).toBe(1);
      // The apply alone (init excluded) is what a user waits for.
      // eslint-disable-next-line no-console
      console.log(`INSTALL_BENCH hosts=${count} seconds=${run.seconds.toFixed(2)}`);
    } finally {
      agent.stop();
      await fleet.stop();
    }
  });
});
