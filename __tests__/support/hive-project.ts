/**
 * A project directory the way a user has it after `npm run hive`: hive.nix at
 * the root next to nix/ (the static hive builder) and hosts/*.nix (both
 * copied from this repository), sops-nix.json,
 * and hosts/<name>/{hardware-configuration,networking}.nix for chosen hosts.
 * Plus the Nix snippets the tests evaluate it with (no nixpkgs here: node
 * functions are called with stub arguments).
 */
import * as fs from 'fs';
import * as path from 'path';
import { ProvisionedHost } from '../../constructs/cloud-adapter';
import { run, tempDir } from './nix-tools';

export const REPO = path.resolve(__dirname, '../..');

export interface HiveProjectOptions {
  /** Hosts whose facts (hardware-configuration.nix, networking.nix) `npm run hive` has copied. */
  readonly factsFor: string[];
  /** More files, by path relative to the project. */
  readonly files?: Record<string, string>;
}

export function makeHiveProject(hiveText: string, options: HiveProjectOptions): string {
  const dir = tempDir('hive-project-');
  fs.mkdirSync(path.join(dir, 'hosts'));
  for (const file of fs.readdirSync(path.join(REPO, 'hosts')).filter((f) => f.endsWith('.nix'))) {
    fs.copyFileSync(path.join(REPO, 'hosts', file), path.join(dir, 'hosts', file));
  }
  fs.cpSync(path.join(REPO, 'nix'), path.join(dir, 'nix'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'sops-nix.json'), path.join(dir, 'sops-nix.json'));
  for (const name of options.factsFor) {
    fs.mkdirSync(path.join(dir, 'hosts', name));
    fs.writeFileSync(path.join(dir, 'hosts', name, 'hardware-configuration.nix'),
      `{ ... }: { fileSystems."/" = { device = "/dev/sda1"; fsType = "ext4"; }; boot.loader.grub.device = "/dev/sda"; }\n`);
    fs.writeFileSync(path.join(dir, 'hosts', name, 'networking.nix'), '{ ... }: { networking.useDHCP = false; }\n');
  }
  for (const [file, content] of Object.entries(options.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
  }
  fs.writeFileSync(path.join(dir, 'hive.nix'), hiveText);
  return dir;
}

/** The stubs the tests evaluate a hive with (no nixpkgs here): see hive-stubs.nix. */
const HIVE_STUBS = path.join(__dirname, 'hive-stubs.nix');

/**
 * Nix bindings for a `let`: `hive` (./hive.nix of the directory Nix runs in),
 * the stand-in `lib`, `node NAME` (the node's module called as Colmena would),
 * `describe`, `privateNetworkModule`, `evalPrivateNetwork SETTINGS`, `summary`.
 */
export const HIVE_PRELUDE = `
  inherit (import ${HIVE_STUBS} { hive = import ./hive.nix; }) hive lib node describe privateNetworkModule evalPrivateNetwork summary;
`;

/** What the tests read back from each node: deployment, host name, platform, state version, private network, imports. */
export const NODE_SUMMARY = 'summary';

/** A ProvisionedHost with literal values (what an adapter returns, minus Terraform). */
export function provisioned(host: Partial<ProvisionedHost> & Pick<ProvisionedHost, 'name' | 'cloud' | 'location' | 'sshAddress'>): ProvisionedHost {
  return {
    system: 'x86_64-linux',
    tags: [],
    sshUser: 'root',
    sshPort: 22,
    publicIpv4: '',
    publicIpv6: '',
    privateIp: '',
    infectProvider: '',
    installTrigger: host.name,
    installAfter: [],
    alreadyNixos: false,
    ...host,
  };
}

/**
 * Adds a directory to the Nix store as the unpacked tarball `builtins.fetchTarball`
 * would produce, so a pin with this hash resolves without any download.
 * Returns the pin's SRI hash and the store path (delete it with `nix-store --delete`).
 */
export function addFakeTarballToStore(files: Record<string, string>): { sha256: string; storePath: string } {
  const dir = tempDir('fake-tarball-');
  const source = path.join(dir, 'source'); // fetchTarball names its result "source"
  try {
    for (const [file, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(source, file)), { recursive: true });
      fs.writeFileSync(path.join(source, file), content);
    }
    const hex = run('nix-hash', ['--type', 'sha256', source]).stdout.trim();
    const added = run('nix-store', ['--add-fixed', '--recursive', 'sha256', source]);
    if (added.status !== 0) throw new Error(`nix-store --add-fixed failed: ${added.stderr}`);
    return { sha256: `sha256-${Buffer.from(hex, 'hex').toString('base64')}`, storePath: added.stdout.trim() };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
