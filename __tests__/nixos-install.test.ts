/** The synthesized install resources: commands, environment, triggers, connection, ordering. */
import { App, TerraformStack, Testing } from 'cdktf';
import { NIXOS_INFECT_SHA256, NIXOS_INFECT_URL } from '../constructs/fleet-declaration';
import { INSTALL_IMPORT_DIR, INSTALL_SCRIPTS_LOCAL, NixosInstall, NixosInstallProps, installImportData } from '../constructs/nixos-install';
import { terraformCloudSettings } from '../constructs/terraform-cloud';
import { Json, refOf, remoteExecText, synthFleet, validFleet, withHost } from './support/fleet';
import { terraformUnescaped } from './support/nix-tools';

const json = synthFleet(validFleet({ nixChannel: 'nixos-25.11' }));
const install = (name: string): Json => json.resource.terraform_data[`nixos_install_${name}`];
const ready = (name: string): Json => json.resource.terraform_data[`nixos_ready_${name}`];
const script = (r: Json, of: Json = json): string => remoteExecText(of, r);
/** The script as the host runs it: Terraform's escapes undone. */
const asRun = (r: Json, of: Json = json): string => terraformUnescaped(script(r, of));

describe('install step', () => {
  test('one install and one ready step per host, named after the host', () => {
    expect(Object.keys(json.resource.terraform_data).sort()).toEqual([
      'nixos_install_box-1', 'nixos_install_db-1', 'nixos_install_web-1', 'nixos_install_worker-1',
      'nixos_ready_box-1', 'nixos_ready_db-1', 'nixos_ready_web-1', 'nixos_ready_worker-1',
    ]);
  });

  test("the scripts' shared parts are written once, each host's step lists its head, its data and the body", () => {
    const shared = json.locals[INSTALL_SCRIPTS_LOCAL];
    expect(Object.keys(shared).sort()).toEqual(['install_body', 'install_head', 'ready_body', 'ready_head']);
    for (const [name, r] of Object.entries(json.resource.terraform_data) as [string, Json][]) {
      const step = name.startsWith('nixos_install_') ? 'install' : 'ready';
      const inline: string[] = r.provisioner[0]['remote-exec'].inline;
      expect(inline).toHaveLength(3);
      expect(inline[0]).toBe(`\${local.${INSTALL_SCRIPTS_LOCAL}.${step}_head}`);
      expect(inline[1]).toMatch(new RegExp(`^host='${r.input.host}'\n`));
      expect(inline[2]).toBe(`\${local.${INSTALL_SCRIPTS_LOCAL}.${step}_body}`);
    }
    // the whole file starts with the #! line, whatever the host
    expect(asRun(install('box-1'))).toMatch(/^#!\/bin\/sh\n/);
    // a host's JSON carries its data, not the ~8 KB program
    expect(JSON.stringify(install('web-1')).length).toBeLessThan(2000);
  });

  test('re-installs only when the server is replaced', () => {
    const server = refOf(json, 'hcloud_server', 'hetzner_server-web-1');
    expect(install('web-1').triggers_replace).toEqual({ server: `\${${server}.id}` });
    expect(install('box-1').triggers_replace).toEqual({ server: '198.51.100.7:2222' });
  });

  test('runs after the server (and on DigitalOcean its firewall) exist, never after another install', () => {
    expect(install('web-1').depends_on).toEqual([refOf(json, 'hcloud_server', 'hetzner_server-web-1')]);
    expect(install('worker-1').depends_on).toEqual([
      refOf(json, 'digitalocean_droplet', 'digitalocean_droplet-worker-1'),
      refOf(json, 'digitalocean_firewall', 'digitalocean_firewall'),
    ]);
    expect(install('box-1').depends_on ?? []).toEqual([]);
    for (const r of Object.values(json.resource.terraform_data) as Json[]) {
      const deps: string[] = r.depends_on ?? [];
      const own = `terraform_data.nixos_install_${r.input.host}`;
      expect(deps.filter((d) => d.startsWith('terraform_data.') && d !== own)).toEqual([]);
    }
  });

  test('connects as root over SSH to the public address, agent or key variable', () => {
    const server = refOf(json, 'hcloud_server', 'hetzner_server-web-1');
    expect(install('web-1').connection).toEqual({
      type: 'ssh', host: `\${${server}.ipv4_address}`, user: 'root', port: 22, timeout: '10m',
      agent: '${var.ssh_private_key == ""}',
      private_key: '${var.ssh_private_key == "" ? null : var.ssh_private_key}',
    });
    expect(install('box-1').connection).toMatchObject({ host: '198.51.100.7', port: 2222 });
    expect(json.variable.ssh_private_key).toMatchObject({ type: 'string', sensitive: true, default: '' });
  });

  test("passes the cloud's PROVIDER, the channel and NO_REBOOT", () => {
    for (const [host, provider] of [['web-1', 'hetznercloud'], ['worker-1', 'digitalocean'], ['box-1', 'lightsail']]) {
      const s = asRun(install(host));
      expect(s).toMatch(new RegExp(`^provider='${provider}'$`, 'm'));
      expect(s).toMatch(/^nix_channel='nixos-25\.11'$/m);
      expect(s).toContain('env PROVIDER="$provider" NIX_CHANNEL="$nix_channel" NO_REBOOT=true');
      expect(s).toMatch(/^nixos_import=''$/m); // root hosts need no import
    }
  });

  test('checks the pinned sha256 before running anything', () => {
    const s = script(install('web-1'));
    expect(s).toContain(`url='${NIXOS_INFECT_URL}'`);
    expect(s).toContain(`want='${NIXOS_INFECT_SHA256}'`);
    expect(NIXOS_INFECT_URL).toContain('/5ef3f953d32ab92405b280615718e0b80da2ebe6/');
    const check = s.indexOf('if [ "$got" != "$want" ]');
    const run = s.indexOf('bash "$dir/installer"');
    expect(s).toMatch(/^#!\/bin\/sh\n/);
    expect(check).toBeGreaterThan(0);
    expect(run).toBeGreaterThan(check);
    expect(s.slice(check, run)).toContain('fail "installer sha256 mismatch');
    expect(s).toContain('fail() { echo "nixos-fleet[$host]: $*" >&2; exit 1; }');
  });

  test('skips a host that already runs NixOS, first thing', () => {
    const s = script(install('web-1'));
    expect(s.indexOf('if [ -e /etc/NIXOS ]')).toBeLessThan(s.indexOf('curl'));
  });

  test('keeps the log, shows its tail on failure, reboots detached and exits 0', () => {
    const s = asRun(install('web-1'));
    expect(s).toContain("log='/var/log/nixos-infect.log'");
    expect(s).toContain('tail -n +1 -s 0.2 -f --pid="$runner" "$log"'); // streams the log file, no pipe
    expect(s).toContain('tail -n 40 "$log"');
    expect(s).toContain('systemd-run --quiet --collect');
    expect(s).toContain('setsid /bin/sh "$rebooter"');
    expect(s.indexOf('while [ ! -s "$mark" ]')).toBeLessThan(s.indexOf('kill $listeners'));
    expect(s.trimEnd().endsWith('exit 0')).toBe(true);
  });

  test('every wait is bounded, with the documented defaults', () => {
    const s = asRun(install('web-1'));
    expect(s).toMatch(/^dl_connect='30'$/m);
    expect(s).toMatch(/^dl_total='300'$/m);
    expect(s).toMatch(/^installer_timeout='3600'$/m);
    expect(s).toMatch(/^session_wait='300'$/m);
    expect(s).toMatch(/^reboot_delay='1'$/m);
    expect(s).toContain('timeout -k 5 "$dl_total" curl -fsSL --connect-timeout "$dl_connect" --max-time "$dl_total"');
    expect(s).toContain('timeout -k 10 "$installer_timeout" env');
  });

  test('install limits come from the declaration, a host overriding the fleet', () => {
    const j = synthFleet(withHost('web-1', { install: { installerTimeoutSeconds: 120, rebootDelaySeconds: 0 } },
      validFleet({ install: { downloadTimeoutSeconds: 60, installerTimeoutSeconds: 900 } })));
    const web = asRun(j.resource.terraform_data['nixos_install_web-1'], j);
    expect(web).toMatch(/^installer_timeout='120'$/m);
    expect(web).toMatch(/^reboot_delay='0'$/m);
    expect(web).toMatch(/^dl_total='60'$/m);
    const db = asRun(j.resource.terraform_data['nixos_install_db-1'], j);
    expect(db).toMatch(/^installer_timeout='900'$/m);
    expect(db).toMatch(/^reboot_delay='1'$/m);
  });

  test('Terraform template syntax in the scripts is escaped, so Terraform evaluates none of it', () => {
    for (const r of Object.values(json.resource.terraform_data) as Json[]) {
      // every `${` / `%{` is Terraform's escape `$${` / `%%{`
      expect(script(r).replace(/\$\$\{|%%\{/g, '')).not.toMatch(/\$\{|%\{/);
    }
    expect(script(install('web-1'))).toContain('$${');
  });

  test('the ready step waits for the reboot and requires a new boot running NixOS', () => {
    const r = ready('web-1');
    expect(r.depends_on).toEqual(['terraform_data.nixos_install_web-1']);
    expect(r.triggers_replace).toEqual({ install: '${terraform_data.nixos_install_web-1.id}' });
    expect(r.connection.timeout).toBe('15m');
    const s = asRun(r);
    expect(s).toContain('/proc/sys/kernel/random/boot_id');
    expect(s).toContain('if [ "$before" = "$now" ]');
    expect(s).toContain('[ -e /run/booted-system ] || [ -e /run/current-system ]');
    expect(s).toContain('nixos-version');
    expect(asRun(install('web-1'))).toContain('cat /proc/sys/kernel/random/boot_id >"$boot_record"');
  });

  test('per-host channel and installer override the fleet', () => {
    const j = synthFleet(withHost('web-1', {
      // (nixos-unstable's release is not known in advance: the hive needs the host's stateVersion.)
      nixChannel: 'nixos-unstable', stateVersion: '26.11', installer: { url: 'https://mirror.example.org/nixos-infect', sha256: 'c'.repeat(64) },
    }, validFleet({ installer: { url: 'https://fleet.example.org/infect', sha256: 'd'.repeat(64) } })));
    const web = asRun(j.resource.terraform_data['nixos_install_web-1'], j);
    expect(web).toContain("nix_channel='nixos-unstable'");
    expect(web).toContain("url='https://mirror.example.org/nixos-infect'");
    expect(web).toContain(`want='${'c'.repeat(64)}'`);
    const db = asRun(j.resource.terraform_data['nixos_install_db-1'], j);
    expect(db).toContain("nix_channel='nixos-26.05'");
    expect(db).toContain("url='https://fleet.example.org/infect'");
  });

  test('a declared host key is pinned on both steps', () => {
    const hostKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFVQvpB4Y9qCrQWDRF6DKXTQwVOsU1PMfnEVJWP8Gv7n';
    const j = synthFleet(withHost('box-1', { hostKey }));
    expect(j.resource.terraform_data['nixos_install_box-1'].connection.host_key).toBe(hostKey);
    expect(j.resource.terraform_data['nixos_ready_box-1'].connection.host_key).toBe(hostKey);
    expect(install('web-1').connection.host_key).toBeUndefined();
  });

  test('a non-root user runs the scripts through sudo and is kept on the installed system', () => {
    const fleet = validFleet();
    const j = synthFleet(withHost('box-1', { user: 'deploy' }, fleet));
    const r = j.resource.terraform_data['nixos_install_box-1'];
    expect(r.connection.user).toBe('deploy');
    // the same shared script as root's: it runs itself again through sudo, before it touches anything
    for (const step of [r, j.resource.terraform_data['nixos_ready_box-1']]) {
      const text = asRun(step, j);
      const escalate = text.indexOf('exec sudo -n /bin/sh "$0"');
      expect(escalate).toBeGreaterThan(0);
      expect(text.slice(0, escalate)).toContain('if [ "$(id -u)" != 0 ]; then');
      expect(escalate).toBeLessThan(Math.min(...['mkdir', 'cat /proc', '>"'].map((w) => text.indexOf(w)).filter((i) => i >= 0)));
    }
    const s = asRun(r, j);
    expect(s).toContain(`nixos_import='${INSTALL_IMPORT_DIR}/install.nix'`);
    expect(s).toContain('import ./admin-user.nix');
    expect(s).toContain('name = "deploy";');
    for (const key of fleet.adminSshKeys) expect(s).toContain(key);
    // root hosts get none of it
    expect(asRun(install('web-1'))).not.toContain('import ./admin-user.nix');
  });
});

describe('Terraform Cloud', () => {
  const remote = synthFleet(validFleet(), { terraformCloud: terraformCloudSettings({ TF_CLOUD_ORGANIZATION: 'acme', TF_WORKSPACE: 'prod' }, undefined) });

  test('cloud backend with a named workspace', () => {
    expect(remote.terraform.cloud).toEqual({ organization: 'acme', workspaces: { name: 'prod' } });
    expect(remote.terraform.backend).toBeUndefined();
  });

  test('the key must come from the sensitive variable (no agent there)', () => {
    expect(remote.variable.ssh_private_key.default).toBeUndefined();
    expect(remote.variable.ssh_private_key.sensitive).toBe(true);
    expect(remote.variable.ssh_private_key.validation[0].condition).toBe('${length(var.ssh_private_key) > 0}');
    expect(remote.resource.terraform_data['nixos_install_web-1'].connection).toMatchObject({ agent: 'false', private_key: '${var.ssh_private_key}' });
  });

  test('nothing reads local files or writes them on the worker', () => {
    const text = JSON.stringify(remote);
    expect(text).not.toMatch(/file\(|local_file|local-exec/);
  });
});

describe('NixosInstall props validation', () => {
  const base: NixosInstallProps = { hostName: 'h1', address: '192.0.2.1', trigger: 'x' };
  const make = (p: Partial<NixosInstallProps>) => () => new NixosInstall(new TerraformStack(new App(), 's'), 'i', { ...base, ...p });
  test.each<[string, Partial<NixosInstallProps>, RegExp]>([
    ['http url', { installerUrl: 'http://x.org/i' }, /host "h1": installer.url must be an https:\/\/ URL/],
    ['bad sha', { installerSha256: 'xyz' }, /host "h1": installer.sha256 must be 64 lower-case hex/],
    ['bad channel', { nixChannel: '26.05' }, /host "h1": nixChannel must be/],
    ['bad port', { port: 0 }, /host "h1": port must be 1-65535/],
    ['bad provider', { provider: 'Hetzner' }, /host "h1": provider must be/],
    ['bad import', { nixosImport: 'relative.nix' }, /host "h1": nixosImport must be an absolute path/],
    ['bad timeout', { rebootTimeout: '10 minutes' }, /host "h1": rebootTimeout must look like/],
    ['bad delay', { rebootDelaySeconds: -1 }, /host "h1": install.rebootDelaySeconds must be an integer 0-300/],
    ['bad installer timeout', { installerTimeoutSeconds: 1.5 }, /host "h1": install.installerTimeoutSeconds must be an integer/],
    ['connect beyond total', { downloadConnectTimeoutSeconds: 90, downloadTimeoutSeconds: 60 }, /must not exceed install.downloadTimeoutSeconds/],
    ['root as admin user', { adminUser: { name: 'root', authorizedKeys: ['ssh-ed25519 AAAA'] } }, /adminUser.name must be a user name other than root/],
    ['admin user without keys', { adminUser: { name: 'deploy', authorizedKeys: [] } }, /adminUser.authorizedKeys must list at least one/],
    ['bad host', { hostName: 'H 1' }, /hostName is not an RFC 1123 label/],
  ])('%s', (_n, p, msg) => expect(make(p)).toThrow(msg));

  test('NIXOS_IMPORT is passed when given', () => {
    const stack = new TerraformStack(Testing.app(), 's');
    new NixosInstall(stack, 'i', { ...base, nixosImport: '/etc/nixos/fleet.nix', rebootDelaySeconds: 7 });
    const j = JSON.parse(Testing.synth(stack));
    const s = asRun(j.resource.terraform_data.nixos_install_h1, j);
    expect(s).toContain("nixos_import='/etc/nixos/fleet.nix'");
    expect(s).toContain("reboot_delay='7'");
    expect(j.resource.terraform_data.nixos_install_h1.connection.agent).toBe('true');
  });
});

describe('the NIXOS_IMPORT data file', () => {
  test('imports admin-user.nix with the name and keys, rendered by the Nix helper', () => {
    const text = installImportData({ name: 'deploy', authorizedKeys: ['ssh-ed25519 AAAA "quoted" ${x} a@b'] }, '/etc/nixos/extra.nix')!;
    expect(text).toContain('(import ./admin-user.nix {');
    expect(text).toContain('"ssh-ed25519 AAAA \\"quoted\\" \\${x} a@b"');
    expect(text).toContain('(/. + "/etc/nixos/extra.nix")');
    expect(installImportData(undefined, '/etc/nixos/extra.nix')).toBeUndefined();
  });
});
