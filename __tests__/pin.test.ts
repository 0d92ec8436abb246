/**
 * `npm run pin`: the real script, the real nix-prefetch-url, against a local
 * HTTP server that plays channels.nixos.org (with its redirect to the release
 * directory) and GitHub's archive endpoint. The expected sha256 is computed
 * independently with `nix-hash` over the directory the tarball was made from.
 */
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { ScriptRun, runProjectScript } from './support/process';

const ROOT = path.resolve(__dirname, '..');
const PIN = path.join(ROOT, 'scripts', 'pin.ts');

const haveNix = spawnSync('nix-prefetch-url', ['--version']).status === 0 && spawnSync('nix-hash', ['--version']).status === 0;
if (!haveNix) {
  if (process.env.CI === 'true') {
    test('nix-prefetch-url and nix-hash are installed (required in CI)', () => {
      throw new Error('nix-prefetch-url/nix-hash not found: install nix-bin (apt-get install nix-bin)');
    });
  } else {
    console.warn('pin.test.ts SKIPPED: nix-prefetch-url or nix-hash not found (apt-get install nix-bin); this fails when CI=true');
  }
}
const describeWithNix = haveNix ? describe : describe.skip;


/** Runs the script asynchronously: the HTTP server answers from this same process. */
function runPin(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<ScriptRun> {
  return runProjectScript(PIN, args, { cwd, env: { ...process.env, ...env } });
}

describeWithNix('npm run pin', () => {
  let tmp: string;
  let server: http.Server;
  let base: string;
  const requests: string[] = [];
  const rev = crypto.randomBytes(20).toString('hex');
  const revWithoutTarball = crypto.randomBytes(20).toString('hex');
  let tarball: Buffer;
  let expectedSha256: string;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pin-test-'));
    // A small source tree shaped like GitHub's archive: one top directory.
    const top = path.join(tmp, 'src', `nixpkgs-${rev}`);
    fs.mkdirSync(path.join(top, 'lib'), { recursive: true });
    fs.writeFileSync(path.join(top, 'default.nix'), `# test nixpkgs ${rev}\n{ ... }: import ./lib/trivial.nix\n`);
    fs.writeFileSync(path.join(top, 'lib', 'trivial.nix'), '{ id = x: x; }\n');
    fs.writeFileSync(path.join(top, 'lib', 'tool.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    fs.symlinkSync('trivial.nix', path.join(top, 'lib', 'alias.nix'));
    const tarPath = path.join(tmp, 'nixpkgs.tar.gz');
    const tar = spawnSync('tar', ['-C', path.join(tmp, 'src'), '-czf', tarPath, `nixpkgs-${rev}`]);
    expect(tar.status).toBe(0);
    tarball = fs.readFileSync(tarPath);
    const hash = spawnSync('nix-hash', ['--type', 'sha256', '--base32', top], { encoding: 'utf8' });
    expect(hash.status).toBe(0);
    expectedSha256 = hash.stdout.trim();
    expect(expectedSha256).toMatch(/^[0-9a-z]{52}$/);

    const release = '/releases/nixos-26.05/nixos-26.05.1234.abcdef0';
    server = http.createServer((req, res) => {
      const url = req.url ?? '';
      requests.push(url);
      if (url === '/nixos-26.05/git-revision') {
        // channels.nixos.org redirects a channel to its current release directory.
        res.writeHead(302, { Location: `${release}/git-revision` }).end();
      } else if (url === `${release}/git-revision`) {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`${rev}\n`);
      } else if (url === '/nixos-unstable/git-revision') {
        res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>maintenance</html>\n');
      } else if (url === '/nixos-26.11/git-revision') {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end(revWithoutTarball);
      } else if (url === `/archive/${rev}.tar.gz`) {
        res.writeHead(200, { 'Content-Type': 'application/gzip' }).end(tarball);
      } else {
        res.writeHead(404).end('not found\n');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const project = (): string => fs.mkdtempSync(path.join(tmp, 'project-'));
  const urlArgs = (): string[] => ['--channels-url', base, '--tarball-url', `${base}/archive/{rev}.tar.gz`];

  test('writes the channel commit and the sha256 of its unpacked tarball', async () => {
    const dir = project();
    const r = await runPin(['nixos-26.05', ...urlArgs()], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const pin = JSON.parse(fs.readFileSync(path.join(dir, 'nixpkgs.json'), 'utf8'));
    expect(pin).toEqual({ channel: 'nixos-26.05', rev, sha256: expectedSha256, url: `${base}/archive/${rev}.tar.gz` });
    expect(r.stdout).toContain(rev);
    // Only nixpkgs.json: no temp file left next to it.
    expect(fs.readdirSync(dir)).toEqual(['nixpkgs.json']);
  }, 60000);

  test('takes the URLs from the environment too', async () => {
    const dir = project();
    fs.mkdirSync(path.join(dir, 'pins'));
    const r = await runPin(['nixos-26.05', '--out', 'pins/nixpkgs.json'], dir, {
      NIXOS_FLEET_CHANNELS_URL: `${base}/`,
      NIXOS_FLEET_TARBALL_URL: `${base}/archive/{rev}.tar.gz`,
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'pins', 'nixpkgs.json'), 'utf8')).sha256).toBe(expectedSha256);
  }, 60000);

  test('an output path that cannot be written is a clear error', async () => {
    const dir = project();
    const r = await runPin(['nixos-26.05', '--out', 'missing-dir/nixpkgs.json', ...urlArgs()], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot write ${path.join(dir, 'missing-dir', 'nixpkgs.json')}: ENOENT`);
    expect(fs.readdirSync(dir)).toEqual([]);
  }, 60000);

  test('a bad channel name is refused before any download, nothing written', async () => {
    const dir = project();
    const before = requests.length;
    for (const bad of ['nixos-foo', 'nixpkgs-unstable', 'nixos-26.05/../x', '../../etc']) {
      const r = await runPin([bad, ...urlArgs()], dir);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`invalid channel ${JSON.stringify(bad)}`);
    }
    expect(requests.length).toBe(before);
    expect(fs.readdirSync(dir)).toEqual([]);
  }, 60000);

  test('a channel the server does not know (HTTP 404) is a clear error and leaves nixpkgs.json alone', async () => {
    const dir = project();
    const old = '{ "channel": "nixos-25.11", "rev": "old" }\n';
    fs.writeFileSync(path.join(dir, 'nixpkgs.json'), old);
    const r = await runPin(['nixos-25.05', ...urlArgs()], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('channel nixos-25.05 not found');
    expect(r.stderr).toContain('HTTP 404');
    expect(fs.readFileSync(path.join(dir, 'nixpkgs.json'), 'utf8')).toBe(old);
    expect(fs.readdirSync(dir)).toEqual(['nixpkgs.json']);
  }, 60000);

  test('an answer that is not a commit is refused', async () => {
    const dir = project();
    const r = await runPin(['nixos-unstable', ...urlArgs()], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('did not answer a git commit');
    expect(fs.readdirSync(dir)).toEqual([]);
  }, 60000);

  test('a tarball that cannot be downloaded is a clear error, nothing written', async () => {
    const dir = project();
    const r = await runPin(['nixos-26.11', ...urlArgs()], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`nix-prefetch-url --unpack ${base}/archive/${revWithoutTarball}.tar.gz failed`);
    expect(fs.readdirSync(dir)).toEqual([]);
  }, 60000);

  test('an unreachable channel server is a clear error', async () => {
    const dir = project();
    const closed = await new Promise<number>((resolve) => {
      const s = http.createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const r = await runPin(['nixos-26.05', '--channels-url', `http://127.0.0.1:${closed}`], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot fetch http://127.0.0.1:${closed}/nixos-26.05/git-revision: ECONNREFUSED`);
    expect(fs.readdirSync(dir)).toEqual([]);
  }, 60000);
});
