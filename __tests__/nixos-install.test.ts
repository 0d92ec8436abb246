/** The synthesized install resources: commands, environment, triggers, connection, ordering. */
import { App, TerraformStack, Testing } from 'cdktf';
import { NIXOS_INFECT_SHA256, NIXOS_INFECT_URL } from '../constructs/fleet-declaration';
import { NixosInstall, NixosInstallProps } from '../constructs/nixos-install';
import { terraformCloudSettings } from '../constructs/terraform-cloud';
import { Json, refOf, synthFleet, validFleet, withHost } from './support/fleet';

const json = synthFleet(validFleet({ nixChannel: 'nixos-25.11' }));
const install = (name: string): Json => json.resource.terraform_data[`nixos_install_${name}`];
const ready = (name: string): Json => json.resource.terraform_data[`nixos_ready_${name}`];
const script = (r: Json): string => r.provisioner[0]['remote-exec'].inline.join('\n');

describe('install step', () => {
  test('one install and one ready step per host, named after the host', () => {
    expect(Object.keys(json.resource.terraform_data).sort()).toEqual([
      'nixos_install_box-1', 'nixos_install_db-1', 'nixos_install_web-1', 'nixos_install_worker-1',
      'nixos_ready_box-1', 'nixos_ready_db-1', 'nixos_ready_web-1', 'nixos_ready_worker-1',
    ]);
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
    expect(script(install('web-1'))).toContain("env PROVIDER='hetznercloud' NIX_CHANNEL='nixos-25.11' NO_REBOOT='true' bash");
    expect(script(install('worker-1'))).toContain("env PROVIDER='digitalocean' NIX_CHANNEL='nixos-25.11' NO_REBOOT='true' bash");
    expect(script(install('box-1'))).toContain("env PROVIDER='lightsail' NIX_CHANNEL='nixos-25.11' NO_REBOOT='true' bash");
  });

  test('checks the pinned sha256 before running anything', () => {
    const s = script(install('web-1'));
    expect(s).toContain(`url='${NIXOS_INFECT_URL}'`);
    expect(s).toContain(`want='${NIXOS_INFECT_SHA256}'`);
    expect(NIXOS_INFECT_URL).toContain('/5ef3f953d32ab92405b280615718e0b80da2ebe6/');
    const check = s.indexOf('if [ "$got" != "$want" ]');
    const run = s.indexOf('bash "$dir/installer"');
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
    const s = script(install('web-1'));
    expect(s).toContain("log='/var/log/nixos-infect.log'");
    expect(s).toContain('| tee "$log"');
    expect(s).toContain('tail -n 40 "$log"');
    expect(s).toContain('systemd-run --quiet --on-active=3 systemctl reboot');
    expect(s).toContain(`setsid sh -c 'trap "" HUP; echo $$ >"$1"; sleep 3; reboot' sh "$mark"`);
    expect(s.indexOf('while [ ! -s "$mark" ]')).toBeLessThan(s.indexOf('kill "$(cat /run/sshd.pid)"'));
    expect(s.trimEnd().endsWith('exit 0')).toBe(true);
  });

  test('no Terraform template syntax leaks into the scripts', () => {
    for (const r of Object.values(json.resource.terraform_data) as Json[]) {
      expect(script(r)).not.toMatch(/\$\{|%\{/);
    }
  });

  test('the ready step waits for the reboot and checks /etc/NIXOS', () => {
    const r = ready('web-1');
    expect(r.depends_on).toEqual(['terraform_data.nixos_install_web-1']);
    expect(r.triggers_replace).toEqual({ install: '${terraform_data.nixos_install_web-1.id}' });
    expect(r.connection.timeout).toBe('15m');
    expect(script(r)).toContain('if [ ! -e /etc/NIXOS ]');
    expect(script(r)).toContain('nixos-version');
  });

  test('per-host channel and installer override the fleet', () => {
    const j = synthFleet(withHost('web-1', {
      // (nixos-unstable's release is not known in advance: the hive needs the host's stateVersion.)
      nixChannel: 'nixos-unstable', stateVersion: '26.11', installer: { url: 'https://mirror.example.org/nixos-infect', sha256: 'c'.repeat(64) },
    }, validFleet({ installer: { url: 'https://fleet.example.org/infect', sha256: 'd'.repeat(64) } })));
    const web = script(j.resource.terraform_data['nixos_install_web-1']);
    expect(web).toContain("NIX_CHANNEL='nixos-unstable'");
    expect(web).toContain("url='https://mirror.example.org/nixos-infect'");
    expect(web).toContain(`want='${'c'.repeat(64)}'`);
    const db = script(j.resource.terraform_data['nixos_install_db-1']);
    expect(db).toContain("NIX_CHANNEL='nixos-26.05'");
    expect(db).toContain("url='https://fleet.example.org/infect'");
  });

  test('a declared host key is pinned on both steps', () => {
    const hostKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFVQvpB4Y9qCrQWDRF6DKXTQwVOsU1PMfnEVJWP8Gv7n';
    const j = synthFleet(withHost('box-1', { hostKey }));
    expect(j.resource.terraform_data['nixos_install_box-1'].connection.host_key).toBe(hostKey);
    expect(j.resource.terraform_data['nixos_ready_box-1'].connection.host_key).toBe(hostKey);
    expect(install('web-1').connection.host_key).toBeUndefined();
  });

  test('a non-root user runs the script through sudo', () => {
    const j = synthFleet(withHost('box-1', { user: 'deploy' }));
    const r = j.resource.terraform_data['nixos_install_box-1'];
    expect(r.connection.user).toBe('deploy');
    expect(script(r)).toMatch(/^sudo -n \/bin\/sh -c 'set -u\n/);
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
    ['bad delay', { rebootDelaySeconds: 0 }, /host "h1": rebootDelaySeconds must be 1-300/],
    ['bad host', { hostName: 'H 1' }, /hostName is not an RFC 1123 label/],
  ])('%s', (_n, p, msg) => expect(make(p)).toThrow(msg));

  test('NIXOS_IMPORT is passed when given', () => {
    const stack = new TerraformStack(Testing.app(), 's');
    new NixosInstall(stack, 'i', { ...base, nixosImport: '/etc/nixos/fleet.nix', rebootDelaySeconds: 7 });
    const j = JSON.parse(Testing.synth(stack));
    const s = script(j.resource.terraform_data.nixos_install_h1);
    expect(s).toContain("NIXOS_IMPORT='/etc/nixos/fleet.nix'");
    expect(s).toContain('--on-active=7');
    expect(j.resource.terraform_data.nixos_install_h1.connection.agent).toBe('true');
  });
});
