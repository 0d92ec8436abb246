/**
 * `npm run hive`: reading the stack outputs (real `terraform output -json` on
 * an applied config shaped like the fleet stack's outputs, and cdktf outputs
 * files), writing hive.nix, and fetching the host files over SSH from a real
 * sshd on 127.0.0.1 with generated host and client keys.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { HOSTS_OUTPUT, OutputsError, StackOutputs, hostFacts, parseCdktfOutputsFile, readStackOutputs } from '../scripts/lib/outputs';
import { ScriptRun, runProjectScript } from './support/process';
import { realTools, singleEngine, singleEngineBinary, singleEngineEnv } from './support/real-tools';

const ROOT = path.resolve(__dirname, '..');
const HIVE = path.join(ROOT, 'scripts', 'hive.ts');

const has = (cmd: string, args: string[]): boolean => spawnSync(cmd, args).status === 0;
const SSHD = '/usr/sbin/sshd';
const missing = [
  ...(fs.existsSync(SSHD) ? [] : ['sshd (openssh-server)']),
  ...(has('ssh', ['-V']) ? [] : ['ssh (openssh-client)']),
  ...(has('ssh-keygen', ['-l', '-f', '/dev/null']) || fs.existsSync('/usr/bin/ssh-keygen') ? [] : ['ssh-keygen']),
  ...(typeof singleEngine() === 'string' ? [singleEngine() as string] : []),
];
if (missing.length) {
  if (process.env.CI === 'true') {
    test('the tools this test needs are installed (required in CI)', () => {
      throw new Error(`missing: ${missing.join(', ')}`);
    });
  } else {
    console.warn(`hive-handoff.test.ts SKIPPED: missing ${missing.join(', ')}; this fails when CI=true`);
  }
}
const describeWithTools = missing.length ? describe.skip : describe;

/** A value that must never show up in anything the script prints or writes. */
const SECRET = 'tok-3f1b9c2e-NEVER-PRINT-ME';
const HIVE_TEXT = '# generated hive for tests\n{ meta = { nixpkgs = { }; }; "web-1" = { ... }: { }; }\n';
const USER = os.userInfo().username;


function runHive(args: string[], cwd: string): Promise<ScriptRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, CHECKPOINT_DISABLE: '1', ...singleEngineEnv() };
  delete env.SSH_AUTH_SOCK; // only the key the test passes
  return runProjectScript(HIVE, args, { cwd, env });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Whether this machine has IPv6 loopback (CI containers may not). */
function canBindIpv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.on('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });
}

function run(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** A host output as constructs/fleet-stack.ts makes it. */
function hostOutput(port: number, cloud = 'hetzner'): Record<string, unknown> {
  return {
    cloud,
    location: cloud === 'existing' ? 'existing' : 'nbg1',
    public_ipv4: '127.0.0.1',
    public_ipv6: '',
    private_ip: '10.0.1.10',
    ssh_user: USER,
    ssh_port: port,
    tags: ['web', 'prod'],
  };
}

describeWithTools('npm run hive', () => {
  let tmp: string;
  let sshd: ChildProcess;
  let sshPort: number;
  let closedPort: number;
  let clientKey: string;
  let knownHosts: string;
  let hostPublicKey: string;
  let remoteDir: string;
  let ipv6: boolean;
  const HARDWARE = '# hardware of the stand-in host\n{ fileSystems."/" = { device = "/dev/sda1"; fsType = "ext4"; }; }\n';
  const NETWORKING = '# networking of the stand-in host\n{ networking.defaultGateway = "172.31.1.1"; }\n';

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-test-'));
    fs.chmodSync(tmp, 0o755);
    const keys = path.join(tmp, 'keys');
    fs.mkdirSync(keys);
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test-host', '-f', path.join(keys, 'host_key')]);
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test-client', '-f', path.join(keys, 'client_key')]);
    clientKey = path.join(keys, 'client_key');
    hostPublicKey = fs.readFileSync(path.join(keys, 'host_key.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    fs.copyFileSync(`${clientKey}.pub`, path.join(keys, 'authorized_keys'));

    ipv6 = await canBindIpv6Loopback();
    sshPort = await freePort();
    closedPort = await freePort();
    const config = [
      `Port ${sshPort}`,
      // ::1 first: once sshd logs 127.0.0.1, both listeners are up.
      ...(ipv6 ? ['ListenAddress ::1'] : []),
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(keys, 'host_key')}`,
      `AuthorizedKeysFile ${path.join(keys, 'authorized_keys')}`,
      'PidFile none',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'LogLevel VERBOSE',
    ].join('\n');
    fs.writeFileSync(path.join(tmp, 'sshd_config'), `${config}\n`);
    // sshd started as root wants its privilege separation directory.
    if (process.getuid?.() === 0) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    sshd = spawn(SSHD, ['-D', '-e', '-f', path.join(tmp, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => reject(new Error(`sshd did not start:\n${log}`)), 10000);
      sshd.stderr!.on('data', (b: Buffer) => {
        log += b.toString();
        if (log.includes('Server listening on 127.0.0.1')) {
          clearTimeout(timer);
          resolve();
        }
      });
      sshd.on('exit', (code) => reject(new Error(`sshd exited (${code}):\n${log}`)));
    });

    knownHosts = path.join(tmp, 'known_hosts');
    fs.writeFileSync(knownHosts, `[127.0.0.1]:${sshPort} ${hostPublicKey}\n[::1]:${sshPort} ${hostPublicKey}\n`);
    remoteDir = makeRemoteDir({ 'hardware-configuration.nix': HARDWARE, 'networking.nix': NETWORKING });
  }, 30000);

  afterAll(() => {
    sshd?.kill();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  let counter = 0;
  /** A directory playing /etc/nixos on the stand-in host. */
  function makeRemoteDir(files: Record<string, string>): string {
    const dir = path.join(tmp, `etc-nixos-${counter++}`);
    fs.mkdirSync(dir);
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
    return dir;
  }

  /** A user's project: nix/ (the hive builder hive.nix imports) and, optionally, an outputs file. */
  function project(outputs?: Record<string, unknown>, withNix = true): string {
    const dir = path.join(tmp, `project-${counter++}`);
    fs.mkdirSync(dir);
    if (withNix) fs.symlinkSync(path.resolve(__dirname, '..', 'nix'), path.join(dir, 'nix'));
    if (outputs) fs.writeFileSync(path.join(dir, 'outputs.json'), JSON.stringify({ fleet: outputs }, null, 2));
    return dir;
  }

  const sshArgs = (over: { remoteDir?: string; knownHosts?: string } = {}): string[] => [
    '--identity', clientKey,
    '--known-hosts', over.knownHosts ?? knownHosts,
    '--ssh-config', '/dev/null',
    '--remote-dir', over.remoteDir ?? remoteDir,
    '--connect-timeout', '5',
  ];

  const read = (...p: string[]): string => fs.readFileSync(path.join(...p), 'utf8');
  /** Every file below dir, relative, sorted (temp files would show up here). */
  /** The files the script may have written (the nix/ link to the template's builder is not one). */
  const tree = (dir: string): string[] => {
    const out: string[] = [];
    const walk = (d: string, rel: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (e.isSymbolicLink() && rel === '' && e.name === 'nix') continue;
        if (e.isDirectory()) walk(path.join(d, e.name), path.join(rel, e.name));
        else out.push(path.join(rel, e.name));
      }
    };
    walk(dir, '');
    return out.sort();
  };

  describe('reading the stack outputs', () => {
    let tfProject: string;
    // db-1 is reached over IPv6 when the machine has it, else over IPv4 (which is preferred).
    const db1 = (): { publicIpv4: string; address: string } => (ipv6 ? { publicIpv4: '', address: '::1' } : { publicIpv4: '127.0.0.1', address: '127.0.0.1' });
    const fileOutputs = (): Record<string, unknown> => ({
      'hive_nix': HIVE_TEXT,
      'hosts': {
        'web-1': hostOutput(sshPort),
        'db-1': { ...hostOutput(sshPort), public_ipv4: db1().publicIpv4, public_ipv6: '::1', private_ip: '10.0.1.20', tags: ['db'] },
      },
    });

    beforeAll(() => {
      // A Terraform configuration with outputs shaped like the fleet stack's
      // (one sensitive), where cdktf keeps the stack: applied for real.
      tfProject = project();
      const stackDir = path.join(tfProject, 'cdktf.out', 'stacks', 'fleet');
      fs.mkdirSync(stackDir, { recursive: true });
      const outputs: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(fileOutputs())) outputs[name] = { value };
      outputs.admin_token = { value: SECRET, sensitive: true, description: 'stands for a sensitive output' };
      fs.writeFileSync(path.join(stackDir, 'cdk.tf.json'), JSON.stringify({ output: outputs }, null, 2));
      run(singleEngineBinary(), ['init', '-input=false', '-no-color'], stackDir);
      run(singleEngineBinary(), ['apply', '-auto-approve', '-input=false', '-no-color'], stackDir);
    }, 60000);

    test('terraform output -json and a cdktf outputs file give the same hosts and hive', async () => {
      const fromTerraform = await readStackOutputs({ stack: 'fleet', projectDir: tfProject });
      const file = project(fileOutputs());
      const fromFile = await readStackOutputs({ stack: 'fleet', projectDir: file, outputsFile: 'outputs.json' });
      expect(fromTerraform.requireString('hive_nix')).toBe(HIVE_TEXT);
      expect(fromFile.requireString('hive_nix')).toBe(HIVE_TEXT);
      const expected = [
        { name: 'db-1', cloud: 'hetzner', location: 'nbg1', publicIpv4: db1().publicIpv4, publicIpv6: '::1', privateIp: '10.0.1.20', sshUser: USER, sshPort, tags: ['db'], sshAddress: db1().address },
        { name: 'web-1', cloud: 'hetzner', location: 'nbg1', publicIpv4: '127.0.0.1', publicIpv6: '', privateIp: '10.0.1.10', sshUser: USER, sshPort, tags: ['web', 'prod'], sshAddress: '127.0.0.1' },
      ];
      expect(hostFacts(fromTerraform)).toEqual(expected);
      expect(hostFacts(fromFile)).toEqual(expected);
    }, 30000);

    test('OpenTofu too, whose warning about a missing CLI configuration comes on stdout, before the JSON', async () => {
      const tofu = realTools().tools?.engines.find((e) => e.name === 'tofu');
      if (!tofu) throw new Error(`OpenTofu is needed here: ${realTools().missing}`);
      const stackDir = path.join(project(), 'cdktf.out', 'stacks', 'fleet');
      fs.mkdirSync(stackDir, { recursive: true });
      fs.writeFileSync(path.join(stackDir, 'cdk.tf.json'), JSON.stringify({ output: { hive_nix: { value: HIVE_TEXT }, hosts: { value: { 'web-1': hostOutput(22) } } } }));
      run(tofu.binary, ['init', '-input=false', '-no-color'], stackDir);
      run(tofu.binary, ['apply', '-auto-approve', '-input=false', '-no-color'], stackDir);
      // An explicit environment: a child of a jest test does not see the test's process.env changes.
      const env = { ...process.env, TF_CLI_CONFIG_FILE: path.join(stackDir, 'no-such-terraformrc') };
      const printed = spawnSync(tofu.binary, ['output', '-json', '-no-color'], { cwd: stackDir, env, encoding: 'utf8' }).stdout;
      expect(printed).toMatch(/^[^{]*Unable to open CLI configuration file[^{]*\n\{/); // the case this covers
      const outputs = await readStackOutputs({ stack: 'fleet', stackDir, terraformBinary: tofu.binary, env });
      expect(outputs.requireString('hive_nix')).toBe(HIVE_TEXT);
      expect(hostFacts(outputs).map((h) => h.name)).toEqual(['web-1']);
    }, 60000);

    test('a sensitive output is never handed out', async () => {
      const outputs = await readStackOutputs({ stack: 'fleet', projectDir: tfProject });
      expect(outputs.isSensitive('admin_token')).toBe(true);
      expect(outputs.names).not.toContain('admin_token');
      expect(outputs.get('admin_token')).toBeUndefined();
      expect(() => outputs.requireString('admin_token')).toThrow(/marked sensitive/);
    }, 30000);

    test('the script reads terraform output by default, and prints no sensitive value', async () => {
      const r = await runHive(sshArgs(), tfProject);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(read(tfProject, 'hive.nix')).toBe(HIVE_TEXT);
      for (const host of ['db-1', 'web-1']) {
        expect(r.stdout).toContain(`${host}: fetched hardware-configuration.nix, networking.nix`);
        expect(read(tfProject, 'hosts', host, 'hardware-configuration.nix')).toBe(HARDWARE);
        expect(read(tfProject, 'hosts', host, 'networking.nix')).toBe(NETWORKING);
      }
      for (const text of [r.stdout, r.stderr, read(tfProject, 'hive.nix'), ...tree(path.join(tfProject, 'hosts')).map((f) => read(tfProject, 'hosts', f))]) {
        expect(text).not.toContain(SECRET);
      }
    }, 30000);

    test('a missing stack directory says what to do', async () => {
      await expect(readStackOutputs({ stack: 'fleet', projectDir: project() })).rejects.toThrow(/run `cdktf deploy fleet` first, or pass --outputs FILE/);
    });

    test('outputs nested under construct ids (cdktf deploy --outputs-file) are found', () => {
      const outputs = parseCdktfOutputsFile(JSON.stringify({ fleet: { 'hosts': { 'web-1': hostOutput(22) }, 'hive': { hive_nix: HIVE_TEXT } } }), 'fleet', 'f.json');
      expect(outputs.requireString('hive_nix')).toBe(HIVE_TEXT);
      const twice = parseCdktfOutputsFile(JSON.stringify({ fleet: { a: { hive_nix: 'x' }, b: { hive_nix: 'y' } } }), 'fleet', 'f.json');
      expect(() => twice.get('hive_nix')).toThrow(/appears 2 times/);
    });

    test('a file without the stack names the stacks it has', () => {
      expect(() => parseCdktfOutputsFile('{"other": {}}', 'fleet', 'f.json')).toThrow('f.json has no stack "fleet" (it has: "other"; choose one with --stack)');
    });

    test('a broken outputs file is reported without quoting its content', () => {
      let error: unknown;
      try {
        parseCdktfOutputsFile(`{"fleet": {"token": "${SECRET}" `, 'fleet', 'f.json');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(OutputsError);
      expect((error as Error).message).toBe('f.json is not valid JSON');
    });

    test('a host output of the wrong shape is a clear error', () => {
      const bad = new StackOutputs('fleet', 'f.json', new Map([['hosts', { 'web-1': { ...hostOutput(22), ssh_port: '22' } }]]));
      expect(() => hostFacts(bad)).toThrow('output "hosts" in f.json, host "web-1": "ssh_port" must be an integer 1-65535, got string');
      const badName = new StackOutputs('fleet', 'f.json', new Map([['hosts', { '../../etc': hostOutput(22) }]]));
      expect(() => hostFacts(badName)).toThrow('output "hosts" in f.json: "../../etc" is not a valid host name');
      const notAMap = new StackOutputs('fleet', 'f.json', new Map([['hosts', ['web-1']]]));
      expect(() => hostFacts(notAMap)).toThrow('output "hosts" in f.json is a list, expected an object');
      const older = new StackOutputs('fleet', 'f.json', new Map([['host_web-1', hostOutput(22)]]));
      expect(() => hostFacts(older)).toThrow(/output "hosts" is missing from f.json\. Run `cdktf deploy fleet` with this version/);
      const sensitive = new StackOutputs('fleet', 'f.json', new Map(), new Set(['hosts']));
      expect(() => hostFacts(sensitive)).toThrow(/output "hosts" of stack "fleet" is marked sensitive/);
    });
  });

  test('the script and the construct agree on the output and the builder path, and the template has the builder', async () => {
    const script = await import('../scripts/hive');
    const construct = await import('../constructs/colmena-hive');
    expect([script.HIVE_OUTPUT, script.HIVE_BUILDER]).toEqual([construct.HIVE_OUTPUT_NAME, construct.HIVE_BUILDER]);
    expect(HOSTS_OUTPUT).toBe((await import('../constructs/fleet-stack')).HOSTS_OUTPUT);
    expect(fs.existsSync(path.join(ROOT, script.HIVE_BUILDER))).toBe(true);
    expect(fs.existsSync(path.join(ROOT, script.EMPTY_NETWORKING_TEMPLATE))).toBe(true);
  });

  test('run outside the project (no nix/ next to hive.nix): hive.nix is written, with a warning naming the missing builder', async () => {
    const dir = project({ 'hive_nix': HIVE_TEXT, hosts: {} }, false);
    const r = await runHive(['--outputs', 'outputs.json', ...sshArgs()], dir);
    expect(r.code).toBe(0);
    expect(read(dir, 'hive.nix')).toBe(HIVE_TEXT);
    expect(r.stderr).toContain(`hive: warning: hive.nix imports ./nix/hive.nix, which is not in ${dir}`);
  });

  test('missing hive_nix is a clear error and nothing is written', async () => {
    const dir = project({ hosts: { 'web-1': hostOutput(sshPort) } });
    const r = await runHive(['--outputs', 'outputs.json', ...sshArgs()], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('output "hive_nix" is missing from');
    expect(r.stderr).toContain('Run `cdktf deploy fleet`');
    expect(tree(dir)).toEqual(['outputs.json']);
  }, 30000);

  test('hive.nix is replaced atomically: a reader of the old file keeps the old file', async () => {
    const dir = project({ 'hive_nix': HIVE_TEXT, hosts: { 'web-1': hostOutput(sshPort) } });
    fs.writeFileSync(path.join(dir, 'hive.nix'), 'OLD HIVE\n');
    const oldInode = fs.statSync(path.join(dir, 'hive.nix')).ino;
    const fd = fs.openSync(path.join(dir, 'hive.nix'), 'r');
    try {
      const r = await runHive(['--outputs', 'outputs.json', ...sshArgs()], dir);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('hive.nix written');
      // Rewritten in place, the open file would show the new text (or a mix).
      expect(fs.readFileSync(fd, 'utf8')).toBe('OLD HIVE\n');
    } finally {
      fs.closeSync(fd);
    }
    expect(read(dir, 'hive.nix')).toBe(HIVE_TEXT);
    expect(fs.statSync(path.join(dir, 'hive.nix')).ino).not.toBe(oldInode);
    expect(tree(dir)).toEqual(['hive.nix', 'hosts/web-1/hardware-configuration.nix', 'hosts/web-1/networking.nix', 'outputs.json']);
  }, 30000);

  test('an unreachable host fails by name, the others complete, exit status 1', async () => {
    const dir = project({ 'hive_nix': HIVE_TEXT, hosts: { 'web-1': hostOutput(sshPort), 'down-1': hostOutput(closedPort) } });
    const r = await runHive(['--outputs', 'outputs.json', ...sshArgs()], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('web-1: fetched hardware-configuration.nix, networking.nix');
    expect(r.stderr).toContain(`down-1: FAILED: ssh to ${USER}@127.0.0.1:${closedPort} failed: ssh: connect to host 127.0.0.1 port ${closedPort}: Connection refused`);
    expect(r.stderr).toContain('1 of 2 hosts failed: down-1');
    expect(read(dir, 'hosts', 'web-1', 'hardware-configuration.nix')).toBe(HARDWARE);
    expect(read(dir, 'hosts', 'web-1', 'networking.nix')).toBe(NETWORKING);
    // Nothing for the failed host, and no temp file anywhere.
    expect(tree(dir)).toEqual(['hive.nix', 'hosts/web-1/hardware-configuration.nix', 'hosts/web-1/networking.nix', 'outputs.json']);
  }, 30000);

  test('present files are kept; --refresh fetches again; --host limits the run', async () => {
    const remote = makeRemoteDir({ 'hardware-configuration.nix': HARDWARE, 'networking.nix': NETWORKING });
    const dir = project({ 'hive_nix': HIVE_TEXT, hosts: { 'web-1': hostOutput(sshPort), 'down-1': hostOutput(closedPort) } });
    const args = ['--outputs', 'outputs.json', ...sshArgs({ remoteDir: remote })];
    expect((await runHive([...args, '--host', 'web-1'], dir)).code).toBe(0);

    // The host changed (say, a disk was added); without --refresh the copies stay.
    fs.writeFileSync(path.join(remote, 'hardware-configuration.nix'), `${HARDWARE}# second disk\n`);
    const again = await runHive([...args, '--host', 'web-1'], dir);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('web-1: already present');
    expect(again.stdout + again.stderr).not.toContain('down-1');
    expect(read(dir, 'hosts', 'web-1', 'hardware-configuration.nix')).toBe(HARDWARE);

    const refreshed = await runHive([...args, '--host', 'web-1', '--refresh'], dir);
    expect(refreshed.code).toBe(0);
    expect(refreshed.stdout).toContain('web-1: fetched hardware-configuration.nix, networking.nix');
    expect(read(dir, 'hosts', 'web-1', 'hardware-configuration.nix')).toBe(`${HARDWARE}# second disk\n`);

    const unknown = await runHive([...args, '--host', 'nope'], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no such host in stack "fleet": nope (hosts: down-1, web-1)');
  }, 60000);

  test('only the missing file is fetched: an edited local copy is never overwritten without --refresh', async () => {
    const dir = project({ 'hive_nix': HIVE_TEXT, hosts: { 'web-1': hostOutput(sshPort) } });
    const hostDir = path.join(dir, 'hosts', 'web-1');
    fs.mkdirSync(hostDir, { recursive: true });
    const edited = '# edited by the user: fixed the private network route\n{ }\n';
    fs.writeFileSync(path.join(hostDir, 'networking.nix'), edited);
    const r = await runHive(['--outputs', 'outputs.json', ...sshArgs()], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('web-1: fetched hardware-configuration.nix\n');
    expect(read(hostDir, 'networking.nix')).toBe(edited);
    expect(read(hostDir, 'hardware-configuration.nix')).toBe(HARDWARE);
  }, 30000);

  test('a cloud host without networking.nix fails; a machine you brought gets an empty module', async () => {
    const remote = makeRemoteDir({ 'hardware-configuration.nix': HARDWARE });
    const dir = project({ 'hive_nix': HIVE_TEXT, hosts: { 'web-1': hostOutput(sshPort), 'own-1': hostOutput(sshPort, 'existing') } });
    const r = await runHive(['--outputs', 'outputs.json', ...sshArgs({ remoteDir: remote })], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`web-1: FAILED: ${path.join(remote, 'networking.nix')} does not exist on ${USER}@127.0.0.1:${sshPort}`);
    expect(r.stdout).toContain('own-1: fetched hardware-configuration.nix, networking.nix (note:');
    // All or nothing per host: web-1's hardware file was fetched but not written.
    expect(fs.existsSync(path.join(dir, 'hosts', 'web-1'))).toBe(false);
    expect(read(dir, 'hosts', 'own-1', 'hardware-configuration.nix')).toBe(HARDWARE);
    const networking = path.join(dir, 'hosts', 'own-1', 'networking.nix');
    expect(read(networking)).toContain('had no /etc/nixos/networking.nix');
    if (has('nix-instantiate', ['--version'])) run('nix-instantiate', ['--parse', networking]);
  }, 30000);

  test('a changed host key is refused', async () => {
    const other = path.join(tmp, 'other_host_key');
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const wrongKnownHosts = path.join(tmp, 'known_hosts_wrong');
    const otherKey = fs.readFileSync(`${other}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
    fs.writeFileSync(wrongKnownHosts, `[127.0.0.1]:${sshPort} ${otherKey}\n`);
    const dir = project({ 'hive_nix': HIVE_TEXT, hosts: { 'web-1': hostOutput(sshPort) } });
    const r = await runHive(['--outputs', 'outputs.json', ...sshArgs({ knownHosts: wrongKnownHosts })], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/web-1: FAILED: ssh to .* failed: .*Host key verification failed/);
    expect(fs.existsSync(path.join(dir, 'hosts'))).toBe(false);
  }, 30000);

  test('a host seen for the first time is recorded in known_hosts', async () => {
    const fresh = path.join(tmp, 'known_hosts_fresh');
    fs.writeFileSync(fresh, '');
    const dir = project({ 'hive_nix': HIVE_TEXT, hosts: { 'web-1': hostOutput(sshPort) } });
    const r = await runHive(['--outputs', 'outputs.json', ...sshArgs({ knownHosts: fresh })], dir);
    expect(r.code).toBe(0);
    expect(read(fresh)).toContain(hostPublicKey);
  }, 30000);

  test('many hosts are fetched in parallel', async () => {
    const outputs: Record<string, unknown> = { hive_nix: HIVE_TEXT };
    const names = Array.from({ length: 8 }, (_, i) => `node-${i}`);
    outputs.hosts = Object.fromEntries(names.map((n) => [n, hostOutput(sshPort)]));
    const dir = project(outputs);
    const r = await runHive(['--outputs', 'outputs.json', '--jobs', '4', ...sshArgs()], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const n of names) {
      expect(r.stdout).toContain(`${n}: fetched hardware-configuration.nix, networking.nix`);
      expect(read(dir, 'hosts', n, 'networking.nix')).toBe(NETWORKING);
    }
  }, 60000);
});
