/**
 * Your fleet. Edit this file: it is the single source of truth for which
 * servers exist, where, and which NixOS module each one runs.
 *
 *   npx cdktf synth     writes cdktf.out/stacks/fleet/cdk.tf.json (runs synthesize() below)
 *   npm run deploy      creates the servers and installs NixOS on them (cdktf deploy at the install width)
 *   npm run hive        writes hive.nix for `colmena apply`
 */
import { App } from 'cdktf';
import { FleetDeclaration } from './constructs/fleet-declaration';
import { FleetStack } from './constructs/fleet-stack';
import { TFC_CONTEXT_KEY, terraformCloudSettings } from './constructs/terraform-cloud';

export const fleet: FleetDeclaration = {
  name: 'demo',
  nixChannel: 'nixos-26.05',

  // Who may log in as root (the install, Colmena). Replace with your own key(s):
  // the private half of this example key was thrown away, so nobody can use it.
  adminSshKeys: [
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDTs0hobzL/DOcKlNVwncDZ6nJBtJOJ90zWelEFsMO+b alice@laptop (example: replace with yours)',
  ],
  // Where you run `cdktf deploy` and `colmena apply` from: only these reach port 22.
  adminCidrs: ['203.0.113.0/24', '2001:db8:1234::/48'],

  // Open to everyone, on every cloud host.
  firewallRules: [],

  hetzner: { ipRange: '10.0.0.0/16', subnetRange: '10.0.1.0/24', networkZone: 'eu-central' },
  digitalocean: { region: 'fra1', ipRange: '10.20.0.0/20' },

  hosts: [
    {
      name: 'web-1',
      cloud: 'hetzner',
      serverType: 'cx23',
      location: 'nbg1',
      privateIp: '10.0.1.10',
      tags: ['web', 'prod'],
      firewallRules: [{ protocol: 'tcp', port: '80', sourceCidrs: ['0.0.0.0/0', '::/0'], description: 'HTTP' }],
    },
    {
      name: 'db-1',
      cloud: 'hetzner',
      serverType: 'cx33',
      location: 'fsn1',
      privateIp: '10.0.1.20',
      tags: ['db', 'prod'],
    },
    {
      name: 'worker-1',
      cloud: 'digitalocean',
      size: 's-1vcpu-2gb',
      region: 'fra1',
      tags: ['worker'],
    },
  ],
};

/**
 * The cdktf app: `npx cdktf synth` runs this (cdktf.json → scripts/app/app.js →
 * scripts/app/synth.ts). Importing this file has no side effect, so scripts
 * (diagram, secrets:recipients, bench) can read `fleet` from it.
 * Add stacks here, e.g. a second fleet for staging.
 */
export function synthesize(app: App = new App()): App {
  // Terraform Cloud when TF_CLOUD_ORGANIZATION and TF_WORKSPACE are set
  // (or cdktf.json context "terraformCloud"); local state otherwise.
  const terraformCloud = terraformCloudSettings(process.env, app.node.tryGetContext(TFC_CONTEXT_KEY));
  new FleetStack(app, 'fleet', { fleet, terraformCloud });
  app.synth();
  return app;
}
