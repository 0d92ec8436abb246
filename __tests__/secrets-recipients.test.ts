/**
 * `npm run secrets:recipients` against real sshd instances on 127.0.0.1.
 *
 * Each stand-in host is a real `/usr/sbin/sshd -D` on a random high port with
 * a host key fresh from `ssh-keygen`; the script fetches it with the real
 * `ssh-keyscan`. The expected recipient is computed independently: our
 * private-side conversion of the host key, fed to the real `age-keygen -y`.
 * The written .sops.yaml is read back with an independent YAML parser
 * (python3 + PyYAML), aliases resolved, the way sops would see it.
 *
 * Needs openssh-server + openssh-client, age, python3 with PyYAML (and, when
 * run as root, setpriv from util-linux: sshd then runs as nobody, because a
 * root sshd insists on /run/sshd, which we must not create on this machine).
 * Missing tools skip the sshd tests with the reason in the test name, except
 * on CI (CI=true), where they fail.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { sshPublicKeyToAgeRecipient } from '../scripts/lib/age-recipient';
import { ed25519SeedFromOpenSshPrivateKey, ed25519SeedToAgeIdentity } from './support/age-identity';
import {
  BEGIN_MARKER,
  END_MARKER,
  UsageError,
  parseAddressOverride,
  parseAdmins,
  hostOutputsOf,
  parseArgs,
  pathRegexFor,
  renderSopsConfig,
  resolveEndpoints,
  run,
  splitSopsConfig,
} from '../scripts/secrets-recipients';
import { parseCdktfOutputsFile, parseTerraformOutputJson } from '../scripts/lib/outputs';
import { HETZNER_HOST, validFleet } from './support/fleet';
import { onPath } from './support/process';
import { realTools, singleEngine, singleEngineBinary, singleEngineEnv } from './support/real-tools';

const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(ROOT, 'scripts', 'secrets-recipients.ts');
const RUNNER = path.join(ROOT, 'scripts', 'app', 'run.js');
const COMMITTED_SOPS_FILE = path.join(ROOT, 'secrets', '.sops.yaml');
const SSHD = '/usr/sbin/sshd';
const RUN_AS_ROOT = process.getuid?.() === 0;


function pythonHasYaml(): boolean {
  return onPath('python3') && spawnSync('python3', ['-c', 'import yaml'], { stdio: 'ignore' }).status === 0;
}

const missing = [SSHD, 'ssh-keygen', 'ssh-keyscan', 'age-keygen', ...(RUN_AS_ROOT ? ['setpriv'] : [])].filter((t) => !onPath(t));
if (typeof singleEngine() === 'string') missing.push(singleEngine() as string);
if (!pythonHasYaml()) missing.push('python3 with PyYAML');
const describeWithTools = missing.length === 0 ? describe : describe.skip;
if (missing.length > 0) {
  const reason = `${missing.join(', ')} not installed (apt-get install openssh-server openssh-client age python3-yaml; terraform)`;
  if (process.env.CI === 'true') {
    test('the real tools these tests need are installed', () => {
      throw new Error(`CI must run the real-tool tests: ${reason}`);
    });
  } else {
    test.skip(`SKIPPED sshd tests: ${reason}`, () => undefined);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** The file as sops' YAML parser would see it, aliases resolved (PyYAML, a parser independent of ours). */
function loadYaml(file: string): Json {
  const out = execFileSync('python3', ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', file], {
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

describe('pure parts', () => {
  test('--address forms', () => {
    expect(parseAddressOverride('web-1=203.0.113.5')).toEqual(['web-1', { host: '203.0.113.5', port: 22 }]);
    expect(parseAddressOverride('web-1=127.0.0.1:2222')).toEqual(['web-1', { host: '127.0.0.1', port: 2222 }]);
    expect(parseAddressOverride('web-1=[2001:db8::1]:2222')).toEqual(['web-1', { host: '2001:db8::1', port: 2222 }]);
    expect(parseAddressOverride('web-1=2001:db8::1')).toEqual(['web-1', { host: '2001:db8::1', port: 22 }]);
    expect(parseAddressOverride('web-1=host.example.org:22')).toEqual(['web-1', { host: 'host.example.org', port: 22 }]);
    expect(() => parseAddressOverride('web-1')).toThrow(UsageError);
    expect(() => parseAddressOverride('web-1=127.0.0.1:0')).toThrow(/port/);
    expect(() => parseAddressOverride('web-1=127.0.0.1:99999')).toThrow(/port/);
    expect(() => parseAddressOverride('web-1=-oProxyCommand=x')).toThrow(/not a host name/);
    expect(() => parseAddressOverride('web-1=-v')).toThrow(/not a host name/);
  });

  test('command line', () => {
    const parsed = parseArgs(['--address=web-1=127.0.0.1:2222', '--address', 'db-1=[::1]:22', '--stack=prod', '--timeout', '3']);
    expect(parsed).not.toBe('help');
    if (parsed === 'help') return;
    expect([...parsed.addresses]).toEqual([['web-1', { host: '127.0.0.1', port: 2222 }], ['db-1', { host: '::1', port: 22 }]]);
    expect(parsed).toMatchObject({ stack: 'prod', timeoutSeconds: 3, sopsFile: COMMITTED_SOPS_FILE, outputsFile: undefined });
    expect(parseArgs(['--help'])).toBe('help');
    expect(() => parseArgs(['--timeout', '0'])).toThrow(/whole seconds/);
    expect(() => parseArgs(['--outputs'])).toThrow(/--outputs needs a value/);
    expect(() => parseArgs(['web-1'])).toThrow(/unknown argument "web-1"/);
  });

  test('outputs: read by the shared reader (scripts/lib/outputs.ts), both shapes; a cloud host is scanned at its SSH address', () => {
    const values = { cloud: 'hetzner', public_ipv4: '198.51.100.1', public_ipv6: '2001:db8::1', ssh_address: '198.51.100.1', ssh_port: 22, ssh_user: 'root' };
    const fromFile = hostOutputsOf(parseCdktfOutputsFile(JSON.stringify({ fleet: { hosts: { 'web-1': values }, hive_nix: 'x' } }), 'fleet', 'outputs.json'));
    const fromTerraform = hostOutputsOf(parseTerraformOutputJson(
      JSON.stringify({ hosts: { sensitive: false, type: ['object', {}], value: { 'web-1': values } } }), 'fleet', 'terraform output'));
    for (const outputs of [fromFile, fromTerraform]) {
      expect(outputs.get('web-1')).toMatchObject({ publicIpv4: '198.51.100.1', publicIpv6: '2001:db8::1', sshPort: 22, sshAddress: '198.51.100.1' });
      const fleet = { ...validFleet(), hosts: [HETZNER_HOST] };
      expect(resolveEndpoints(fleet, new Map(), () => outputs)).toEqual([{ name: 'web-1', endpoint: { host: '198.51.100.1', port: 22 } }]);
    }
    expect(() => parseCdktfOutputsFile(JSON.stringify({ other: { hosts: { 'web-1': values } } }), 'fleet', 'outputs.json')).toThrow(/has no stack "fleet"/);
  });

  test('path_regex matches the host file whether sops sees it relative to secrets/ or to the project root', () => {
    // sops ≥ 3.7.2 strips the directory of .sops.yaml from the absolute file path before matching
    // (getsops/sops config/config.go, parseCreationRuleForFile), so with .sops.yaml in secrets/ it
    // matches "web-1.yaml"; older sops, or a .sops.yaml at the root, match "secrets/web-1.yaml".
    const re = new RegExp(pathRegexFor('web-1'));
    for (const p of ['web-1.yaml', 'secrets/web-1.yaml', '/home/u/fleet/secrets/web-1.yaml']) expect(re.test(p)).toBe(true);
    for (const p of ['xweb-1.yaml', 'web-1.yaml.bak', 'web-1xyaml', 'web-10.yaml', 'db-1.yaml', 'web-1.json']) expect(re.test(p)).toBe(false);
  });

  test('the committed secrets/.sops.yaml is valid YAML with markers, an admins list and no hosts', () => {
    const text = fs.readFileSync(COMMITTED_SOPS_FILE, 'utf8');
    const parts = splitSopsConfig(text, COMMITTED_SOPS_FILE);
    expect(parts.hosts.size).toBe(0);
    expect(parts.head).toMatch(/^admins:$/m);
    // Round trip: with nothing scanned, rewriting changes nothing.
    expect(renderSopsConfig(parts, [{ anchor: 'admin_x', recipient: 'unused' }], [])).toBe(text);
    expect(() => parseAdmins(parts.head, COMMITTED_SOPS_FILE)).toThrow(/lists no admin age keys/);
    if (pythonHasYaml()) expect(loadYaml(COMMITTED_SOPS_FILE)).toEqual({ admins: null, hosts: [], creation_rules: null });
  });

  test('admins entries that are not age recipients are refused with the line', () => {
    const head = 'admins:\n  - &admin_a age1...your-public-key...\n';
    expect(() => parseAdmins(head, 'f')).toThrow(/cannot read this admins entry: "- &admin_a age1...your-public-key..."/);
    expect(() => parseAdmins('keys: []\n', 'f')).toThrow(/no top-level "admins:" list/);
  });

  test('a .sops.yaml with its own creation_rules and no markers is not overwritten', () => {
    expect(() => splitSopsConfig('admins: []\ncreation_rules:\n  - age: age1x\n', 'f')).toThrow(/no generated-part markers/);
  });
});

// ---------------------------------------------------------------------------

/** A port nothing listens on right now (the kernel picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function waitForPort(port: number, deadline: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`sshd did not listen on 127.0.0.1:${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

interface StandInHost {
  readonly port: number;
  /** The host's private key file, for the sops round trip (the host's side of sops-nix). */
  readonly hostKeyPath: string;
  /** The age recipient `age-keygen -y` derives from this host's private key. */
  readonly expectedRecipient: string;
  stop(): Promise<void>;
}

describeWithTools('npm run secrets:recipients against real sshd on 127.0.0.1', () => {
  let dir: string;
  const running: ChildProcess[] = [];

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'secrets-recipients-'));
    fs.chmodSync(dir, 0o755); // sshd runs as nobody when we are root and must read its config and key
  });
  afterAll(() => {
    for (const child of running) if (child.exitCode === null) child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function startSshd(name: string): Promise<StandInHost> {
    const hostDir = path.join(dir, name);
    fs.mkdirSync(hostDir, { mode: 0o755 });
    const hostKey = path.join(hostDir, 'ssh_host_ed25519_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${name}`, '-f', hostKey]);
    const identity = ed25519SeedToAgeIdentity(ed25519SeedFromOpenSshPrivateKey(fs.readFileSync(hostKey, 'utf8')));
    const expectedRecipient = execFileSync('age-keygen', ['-y'], { input: `${identity}\n`, encoding: 'utf8' }).trim();
    const port = await freePort();
    const config = path.join(hostDir, 'sshd_config');
    fs.writeFileSync(config, [
      `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${hostKey}`, 'PidFile none', 'UsePAM no', 'StrictModes no',
      'AuthorizedKeysFile none', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'LogLevel ERROR', '',
    ].join('\n'));
    if (RUN_AS_ROOT) fs.chownSync(hostKey, uidOf('nobody'), 0);
    const argv = [SSHD, '-D', '-e', '-f', config];
    const child = RUN_AS_ROOT
      ? spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', ...argv], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    running.push(child);
    try {
      await waitForPort(port, Date.now() + 5000);
    } catch (e) {
      throw new Error(`${(e as Error).message}: ${stderr}`);
    }
    return {
      port,
      hostKeyPath: hostKey,
      expectedRecipient,
      stop: () => new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
    };
  }

  function uidOf(user: string): number {
    return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  }

  /** A new age key for the admin, from the real age-keygen: its public key and key file. */
  function newAdmin(): { recipient: string; keyFile: string } {
    const keyFile = path.join(dir, `admin-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
    execFileSync('age-keygen', ['-o', keyFile], { stdio: 'ignore' });
    const match = /^# public key: (age1[0-9a-z]+)$/m.exec(fs.readFileSync(keyFile, 'utf8'));
    if (!match) throw new Error('age-keygen wrote no public key line');
    return { recipient: match[1], keyFile };
  }
  const newAdminRecipient = (): string => newAdmin().recipient;

  function runScript(args: string[]): { status: number | null; stdout: string; stderr: string } {
    // Exactly what `npm run secrets:recipients -- ARGS` runs.
    const result = spawnSync(process.execPath, [RUNNER, SCRIPT, ...args], {
      cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...singleEngineEnv() },
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  test('writes one rule per reachable host, names the unreachable one, keeps and updates the rest', async () => {
    const webHost = await startSshd('web-1');
    const workerHost = await startSshd('worker-1');
    const closedPort = await freePort();
    const admin = newAdminRecipient();

    // A temp copy of the committed secrets dir, with an admin added the way the README says.
    const secretsDir = path.join(dir, 'secrets');
    fs.mkdirSync(secretsDir);
    const sopsFile = path.join(secretsDir, '.sops.yaml');
    const committed = fs.readFileSync(COMMITTED_SOPS_FILE, 'utf8');
    const withAdmin = committed.replace(/^admins:\n/m, `admins:\n  - &admin_test ${admin}  # test admin\n`);
    expect(withAdmin).not.toBe(committed);
    // A rule of the user's own below the END marker: must survive every run.
    const userRule = "  - path_regex: '(^|/)shared\\.yaml$'\n    key_groups:\n      - age:\n          - *admin_test\n";
    fs.writeFileSync(sopsFile, withAdmin + userRule);
    const head = withAdmin.slice(0, withAdmin.indexOf(BEGIN_MARKER));

    // Three address sources: web-1 by --address (its output points nowhere useful), db-1 by its
    // declaration (existing machine, closed port), worker-1 by the stack outputs file.
    const fleetModule = path.join(dir, 'fleet.js');
    fs.writeFileSync(fleetModule, `exports.fleet = ${JSON.stringify({
      name: 'test', adminSshKeys: [], adminCidrs: ['127.0.0.0/8'],
      hosts: [
        { name: 'web-1', cloud: 'hetzner', serverType: 'cx23', location: 'nbg1', privateIp: '10.0.1.10' },
        { name: 'db-1', cloud: 'existing', address: '127.0.0.1', port: closedPort },
        { name: 'worker-1', cloud: 'digitalocean', size: 's-1vcpu-2gb', region: 'fra1' },
      ],
    })};\n`);
    const outputsFile = path.join(dir, 'outputs.json');
    const hostOutput = (ip: string, port: number): Json => ({ cloud: 'x', public_ipv4: ip, public_ipv6: '', private_ip: '', ssh_port: port, ssh_user: 'root', tags: [] });
    // 127.0.0.3 is loopback with nothing listening: if --address did not win, web-1 would fail.
    fs.writeFileSync(outputsFile, JSON.stringify({ fleet: { hosts: { 'web-1': hostOutput('127.0.0.3', 22), 'worker-1': hostOutput('127.0.0.1', workerHost.port) } } }));
    const common = ['--fleet', fleetModule, '--sops-file', sopsFile, '--outputs', outputsFile, '--timeout', '3'];

    // Run 1: web-1 and worker-1 reachable, db-1 refused.
    const first = runScript([...common, '--address', `web-1=127.0.0.1:${webHost.port}`]);
    expect(first.status).toBe(1);
    expect(first.stderr).toMatch(new RegExp(`db-1\\s+FAILED\\s+no ed25519 host key from 127\\.0\\.0\\.1:${closedPort}: .*Connection refused`));
    expect(first.stderr).toMatch(/1 host\(s\) failed: db-1/);
    expect(first.stdout).toMatch(new RegExp(`web-1\\s+ok\\s+${webHost.expectedRecipient}\\s+ssh-ed25519 SHA256:\\S+\\s+new`));
    expect(first.stdout).toMatch(new RegExp(`worker-1\\s+ok\\s+${workerHost.expectedRecipient}`));

    const afterFirst = fs.readFileSync(sopsFile, 'utf8');
    expect(afterFirst.startsWith(head)).toBe(true); // the admins part is kept byte for byte
    expect(afterFirst.endsWith(`${END_MARKER}\n${committed.slice(committed.indexOf(END_MARKER) + END_MARKER.length + 1)}${userRule}`)).toBe(true);
    const parsed = loadYaml(sopsFile);
    expect(parsed.admins).toEqual([admin]);
    expect(parsed.hosts).toEqual([webHost.expectedRecipient, workerHost.expectedRecipient]);
    expect(parsed.creation_rules).toEqual([
      { path_regex: pathRegexFor('web-1'), key_groups: [{ age: [admin, webHost.expectedRecipient] }] },
      { path_regex: pathRegexFor('worker-1'), key_groups: [{ age: [admin, workerHost.expectedRecipient] }] },
      { path_regex: '(^|/)shared\\.yaml$', key_groups: [{ age: [admin] }] },
    ]);
    // The fingerprint printed is the one ssh-keygen shows for the host key.
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-f', path.join(dir, 'web-1', 'ssh_host_ed25519_key.pub')], { encoding: 'utf8' }).split(' ')[1];
    expect(afterFirst).toContain(`&host_web-1 ${webHost.expectedRecipient}  # ${fingerprint} at 127.0.0.1:${webHost.port}`);

    // Run 2: web-1 is down now. It keeps its recipient (dropping it would lock it out at the next updatekeys).
    await webHost.stop();
    const second = runScript([...common, '--address', `web-1=127.0.0.1:${webHost.port}`]);
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(/web-1\s+FAILED/);
    expect(second.stderr).toContain(`web-1     keeping its previous recipient ${webHost.expectedRecipient}`);
    expect(second.stderr).toMatch(/2 host\(s\) failed: web-1, db-1/);
    expect(fs.readFileSync(sopsFile, 'utf8')).toBe(afterFirst);

    // Run 3: web-1 was reinstalled with a new host key: its rule changes, the user is told to run updatekeys.
    const reinstalled = await startSshd('web-1-reinstalled');
    const third = runScript([...common, '--address', `web-1=127.0.0.1:${reinstalled.port}`]);
    expect(third.status).toBe(1);
    expect(third.stdout).toContain(`CHANGED (was ${webHost.expectedRecipient})`);
    expect(third.stdout).toContain('sops updatekeys -y web-1.yaml');
    expect(loadYaml(sopsFile).creation_rules[0].key_groups).toEqual([{ age: [admin, reinstalled.expectedRecipient] }]);

    // Run 4: nothing changed, nothing moves (stable output, clean diffs).
    const afterThird = fs.readFileSync(sopsFile, 'utf8');
    const fourth = runScript([...common, '--address', `web-1=127.0.0.1:${reinstalled.port}`]);
    expect(fourth.status).toBe(1);
    expect(fourth.stdout).toMatch(/web-1\s+ok.*unchanged/);
    expect(fs.readFileSync(sopsFile, 'utf8')).toBe(afterThird);

    await Promise.all([workerHost.stop(), reinstalled.stop()]);
  });

  test('all hosts reachable: exit 0; a host that left the fleet loses its rule', async () => {
    const host = await startSshd('solo');
    const admin = newAdminRecipient();
    const sopsFile = path.join(dir, 'solo.sops.yaml');
    const committed = fs.readFileSync(COMMITTED_SOPS_FILE, 'utf8').replace(/^admins:\n/m, `admins:\n  - &admin_a ${admin}\n`);
    const parts = splitSopsConfig(committed, sopsFile);
    // A previous run knew a host "gone-1" that is no longer declared.
    fs.writeFileSync(sopsFile, renderSopsConfig(parts, parseAdmins(parts.head, sopsFile), [
      { name: 'gone-1', recipient: sshPublicKeyToAgeRecipient('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOHz+U0YtjINc54dZiJNclfmEFifF7RXCFlNlTbuZBji'), note: '' },
    ]));
    const fleetModule = path.join(dir, 'solo-fleet.js');
    fs.writeFileSync(fleetModule, `exports.fleet = ${JSON.stringify({
      name: 'solo', adminSshKeys: [], adminCidrs: [], hosts: [{ name: 'solo-1', cloud: 'existing', address: '127.0.0.1', port: host.port }],
    })};\n`);
    const lines: string[] = [];
    // In-process this time: the same entry point the CLI calls, with the log captured.
    const status = await run(['--fleet', fleetModule, '--sops-file', sopsFile, '--timeout', '3'], (l) => lines.push(l), (l) => lines.push(l));
    expect(status).toBe(0);
    expect(lines.join('\n')).toMatch(/gone-1\s+removed \(no longer in the fleet\)/);
    const parsed = loadYaml(sopsFile);
    expect(parsed.hosts).toEqual([host.expectedRecipient]);
    expect(parsed.creation_rules).toEqual([{ path_regex: pathRegexFor('solo-1'), key_groups: [{ age: [admin, host.expectedRecipient] }] }]);
    await host.stop();
  });

  test('a cloud host gets its address from `terraform output -json` in the deployed stack', async () => {
    const host = await startSshd('tf-1');
    const admin = newAdminRecipient();
    // A stand-in for the deployed stack: real terraform applies an outputs-only configuration
    // (no provider needed) shaped like FleetStack's hosts output, leaving real state behind.
    const cdktfOut = path.join(dir, 'cdktf.out');
    const stackDir = path.join(cdktfOut, 'stacks', 'fleet');
    fs.mkdirSync(stackDir, { recursive: true });
    fs.writeFileSync(path.join(stackDir, 'cdk.tf.json'), JSON.stringify({
      output: { hosts: { value: { 'tf-1': { cloud: 'hetzner', public_ipv4: '127.0.0.1', public_ipv6: '::1', private_ip: '', ssh_port: host.port, ssh_user: 'root', tags: [] } } } },
    }));
    execFileSync(singleEngineBinary(), ['apply', '-auto-approve', '-input=false', '-no-color'], { cwd: stackDir, stdio: 'ignore' });
    const sopsFile = path.join(dir, 'tf.sops.yaml');
    fs.writeFileSync(sopsFile, fs.readFileSync(COMMITTED_SOPS_FILE, 'utf8').replace(/^admins:\n/m, `admins:\n  - &admin_a ${admin}\n`));
    const fleetModule = path.join(dir, 'tf-fleet.js');
    fs.writeFileSync(fleetModule, `exports.fleet = ${JSON.stringify({
      name: 'tf', adminSshKeys: [], adminCidrs: [], hosts: [{ name: 'tf-1', cloud: 'hetzner', serverType: 'cx23', location: 'nbg1', privateIp: '10.0.1.10' }],
    })};\n`);
    const lines: string[] = [];
    const status = await run(['--fleet', fleetModule, '--sops-file', sopsFile, '--cdktf-out', cdktfOut, '--timeout', '3'], (l) => lines.push(l), (l) => lines.push(l));
    expect(lines.join('\n')).toContain(`tf-1  scanning 127.0.0.1:${host.port}`);
    expect(status).toBe(0);
    expect(loadYaml(sopsFile).creation_rules).toEqual([{ path_regex: pathRegexFor('tf-1'), key_groups: [{ age: [admin, host.expectedRecipient] }] }]);
    await host.stop();
  });

  test('the written .sops.yaml drives the real sops: admins read every file, a host only its own', async () => {
    const { tools, missing: noTools } = realTools();
    if (!tools) throw new Error(`the sops round trip needs the real sops: ${noTools}`);
    const web = await startSshd('rt-web');
    const db = await startSshd('rt-db');
    try {
      const admin = newAdmin();
      // A project as a user has it: secrets/.sops.yaml from the committed one, an admin added.
      const secretsDir = path.join(fs.mkdtempSync(path.join(dir, 'roundtrip-')), 'secrets');
      fs.mkdirSync(secretsDir);
      const sopsFile = path.join(secretsDir, '.sops.yaml');
      fs.writeFileSync(sopsFile, fs.readFileSync(COMMITTED_SOPS_FILE, 'utf8').replace(/^admins:\n/m, `admins:\n  - &admin_rt ${admin.recipient}\n`));
      const fleetModule = path.join(dir, 'rt-fleet.js');
      fs.writeFileSync(fleetModule, `exports.fleet = ${JSON.stringify({
        name: 'rt', adminSshKeys: [], adminCidrs: [], hosts: [
          { name: 'web-1', cloud: 'existing', address: '127.0.0.1', port: web.port },
          { name: 'db-1', cloud: 'existing', address: '127.0.0.1', port: db.port },
        ],
      })};\n`);
      expect(runScript(['--fleet', fleetModule, '--sops-file', sopsFile, '--timeout', '3']).status).toBe(0);

      // sops finds secrets/.sops.yaml from the working directory, as the README says (`cd secrets && sops ...`).
      // HOME is empty so no key of this machine's user can take part.
      const home = fs.mkdtempSync(path.join(dir, 'home-'));
      const sops = (args: string[], env: Record<string, string> = {}) => spawnSync(tools.sops, ['--disable-version-check', ...args], {
        cwd: secretsDir, encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH, HOME: home, ...env },
      });
      const plain = { 'web-1': 'db_password: web-only-7f3a\n', 'db-1': 'db_password: db-only-91c2\n' } as const;
      for (const [name, text] of Object.entries(plain)) {
        fs.writeFileSync(path.join(secretsDir, `${name}.yaml`), text);
        const enc = sops(['encrypt', '--in-place', `${name}.yaml`]);
        expect(enc.stderr).toBe('');
        expect(enc.status).toBe(0);
        const encrypted = fs.readFileSync(path.join(secretsDir, `${name}.yaml`), 'utf8');
        expect(encrypted).not.toContain(text.split(': ')[1].trim());
        expect(encrypted).toMatch(/db_password: ENC\[AES256_GCM,/);
      }
      // Each file is encrypted to exactly the admin and its own host, as the creation rule says.
      const recipientsOf = (name: string): string[] => (loadYaml(path.join(secretsDir, `${name}.yaml`)).sops.age as { recipient: string }[]).map((a) => a.recipient).sort();
      expect(recipientsOf('web-1')).toEqual([admin.recipient, web.expectedRecipient].sort());
      expect(recipientsOf('db-1')).toEqual([admin.recipient, db.expectedRecipient].sort());

      // The admin reads both.
      for (const [name, text] of Object.entries(plain)) {
        expect(sops(['decrypt', `${name}.yaml`], { SOPS_AGE_KEY_FILE: admin.keyFile }).stdout).toBe(text);
      }
      // A host reads its own file with the age identity sops-nix derives from its SSH host key, and not the other's.
      const identityOf = (h: StandInHost): string => ed25519SeedToAgeIdentity(ed25519SeedFromOpenSshPrivateKey(fs.readFileSync(h.hostKeyPath, 'utf8')));
      expect(sops(['decrypt', 'web-1.yaml'], { SOPS_AGE_KEY: identityOf(web) }).stdout).toBe(plain['web-1']);
      expect(sops(['decrypt', 'db-1.yaml'], { SOPS_AGE_KEY: identityOf(db) }).stdout).toBe(plain['db-1']);
      const denied = sops(['decrypt', 'db-1.yaml'], { SOPS_AGE_KEY: identityOf(web) });
      expect(denied.status).not.toBe(0);
      expect(denied.stdout).toBe('');
      expect(denied.stderr).toMatch(/Failed to get the data key/);
      // A file no rule covers cannot be created by accident.
      fs.writeFileSync(path.join(secretsDir, 'stranger.yaml'), 'x: 1\n');
      const uncovered = sops(['encrypt', '--in-place', 'stranger.yaml']);
      expect(uncovered.status).not.toBe(0);
      expect(uncovered.stderr).toMatch(/no matching creation rules found/);
    } finally {
      await Promise.all([web.stop(), db.stop()]);
    }
  });

  test('no admin key: exit 2, nothing scanned, file untouched', async () => {
    const sopsFile = path.join(dir, 'no-admin.sops.yaml');
    fs.copyFileSync(COMMITTED_SOPS_FILE, sopsFile);
    const lines: string[] = [];
    const status = await run(['--sops-file', sopsFile], (l) => lines.push(l), (l) => lines.push(l));
    expect(status).toBe(2);
    expect(lines.join('\n')).toMatch(/lists no admin age keys/);
    expect(lines.join('\n')).not.toMatch(/scanning/);
    expect(fs.readFileSync(sopsFile, 'utf8')).toBe(fs.readFileSync(COMMITTED_SOPS_FILE, 'utf8'));
  });
});
