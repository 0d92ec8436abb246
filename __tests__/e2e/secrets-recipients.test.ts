/**
 * `npm run secrets:recipients` against stand-in hosts (sshd in their own network
 * namespaces, each with its own /etc/ssh/ssh_host_ed25519_key): addresses come
 * from a stack outputs file in the `cdktf output --outputs-file` shape, keys are
 * fetched over the stand-in network by the real ssh-keyscan, and the expected
 * recipient is derived from the private host key read inside the host at the
 * path sops-nix uses, through the real `age-keygen -y`. A message `age` encrypts
 * to the written recipient is then decrypted inside the host with that key.
 *
 * Locally without root/terraform/sshd this suite is skipped with the reason;
 * with CI=true a missing prerequisite fails it.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ed25519SeedFromOpenSshPrivateKey, ed25519SeedToAgeIdentity } from '../support/age-identity';
import { pathRegexFor } from '../../scripts/secrets-recipients';
import { StandinFleet, StandinHost, prerequisites, startStandinFleet } from './standin/standin';

const ROOT = path.resolve(__dirname, '..', '..');
const pre = prerequisites();
for (const tool of ['ssh-keyscan', 'age', 'age-keygen', 'python3']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) pre.missing.push(tool);
}
const ready = pre.missing.length === 0;
const inCi = process.env.CI === 'true';
if (!ready && !inCi) {
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED e2e secrets:recipients suite: missing ${pre.missing.join(', ')} (needs root, sshd, age; see README)`);
}
const suite = ready || inCi ? describe : describe.skip;

jest.setTimeout(120_000);

suite('secrets:recipients against stand-in hosts', () => {
  let fleet: StandinFleet;
  let dir: string;

  beforeAll(async () => {
    expect(pre.missing).toEqual([]); // in CI, a missing prerequisite is a failure
    fleet = await startStandinFleet({ count: 3, names: ['web-1', 'db-1', 'dark-1'] });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'secrets-e2e-'));
  });

  afterAll(async () => {
    await fleet?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The host's age identity, from the key file sops-nix reads (sops.age.sshKeyPaths). Kept in memory only. */
  async function hostIdentity(host: StandinHost): Promise<string> {
    const key = await fleet.exec(host, 'cat /etc/ssh/ssh_host_ed25519_key');
    expect(key.code).toBe(0);
    return ed25519SeedToAgeIdentity(ed25519SeedFromOpenSshPrivateKey(key.stdout));
  }

  test('one rule per reachable host with its real host key; the dark host is named; the host decrypts', async () => {
    const [web, db, dark] = fleet.hosts;
    // dark-1's sshd goes away (nothing restarts it until a reboot): connections are refused.
    expect((await fleet.exec(dark, 'kill $(cat /run/sshd.pid)')).code).toBe(0);
    await fleet.waitForSshDown(dark);

    const adminKeyFile = path.join(dir, 'admin.txt');
    execFileSync('age-keygen', ['-o', adminKeyFile], { stdio: 'ignore' });
    const admin = /^# public key: (age1[0-9a-z]+)$/m.exec(fs.readFileSync(adminKeyFile, 'utf8'))![1];
    const sopsFile = path.join(dir, '.sops.yaml');
    fs.writeFileSync(sopsFile, fs.readFileSync(path.join(ROOT, 'secrets', '.sops.yaml'), 'utf8')
      .replace(/^admins:\n/m, `admins:\n  - &admin_e2e ${admin}\n`));

    const fleetModule = path.join(dir, 'fleet.js');
    fs.writeFileSync(fleetModule, `exports.fleet = ${JSON.stringify({
      name: 'e2e', adminSshKeys: [fleet.clientPublicKey], adminCidrs: [fleet.subnet],
      hosts: fleet.hosts.map((h) => ({ name: h.name, cloud: 'hetzner', serverType: 'cx23', location: 'nbg1', privateIp: '10.0.1.10' })),
    })};\n`);
    const outputsFile = path.join(dir, 'outputs.json');
    fs.writeFileSync(outputsFile, JSON.stringify({
      fleet: {
        hosts: Object.fromEntries(fleet.hosts.map((h) => [h.name, {
          cloud: 'hetzner', location: 'nbg1', public_ipv4: h.address, public_ipv6: '', private_ip: '', ssh_user: 'root', ssh_port: h.port, tags: [],
        }])),
      },
    }));

    const run = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'app', 'run.js'), path.join(ROOT, 'scripts', 'secrets-recipients.ts'),
      '--fleet', fleetModule, '--sops-file', sopsFile, '--outputs', outputsFile, '--timeout', '5'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toMatch(new RegExp(`dark-1\\s+FAILED\\s+no ed25519 host key from ${dark.address.replace(/\./g, '\\.')}:22: Connection refused`));
    expect(run.status).toBe(1);

    const expected: Record<string, string> = {};
    for (const h of [web, db]) {
      expected[h.name] = execFileSync('age-keygen', ['-y'], { input: `${await hostIdentity(h)}\n`, encoding: 'utf8' }).trim();
      expect(run.stdout).toMatch(new RegExp(`${h.name}\\s+ok\\s+${expected[h.name]}`));
    }
    const parsed = JSON.parse(execFileSync('python3', ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', sopsFile], { encoding: 'utf8' }));
    expect(parsed.creation_rules).toEqual([web, db].map((h) => ({ path_regex: pathRegexFor(h.name), key_groups: [{ age: [admin, expected[h.name]] }] })));

    // What sops-nix does at activation, by hand: the host decrypts with its own host key, the other host cannot.
    const message = `db password for web-1 ${Date.now()}\n`;
    const cipher = execFileSync('age', ['-r', parsed.creation_rules[0].key_groups[0].age[1], '-a'], { input: message, encoding: 'utf8' });
    for (const [h, ok] of [[web, true], [db, false]] as const) {
      const identity = await hostIdentity(h);
      // `read` takes exactly the identity line (head could swallow the ciphertext from the pipe).
      const script = 'umask 077; f=$(mktemp); IFS= read -r id; printf "%s\\n" "$id" > "$f"; age -d -i "$f"; rc=$?; rm -f "$f"; exit $rc';
      const decrypted = await fleet.exec(h, script, { input: `${identity}\n${cipher}` });
      if (ok) expect(decrypted).toMatchObject({ code: 0, stdout: message });
      else expect(decrypted.stderr).toMatch(/no identity matched/);
    }
  });
});
