#!/usr/bin/env node
/**
 * The cdktf app command (cdktf.json "app"). Bundles main.ts and constructs/
 * with esbuild (milliseconds; node_modules stay external) and runs the result.
 * Much faster than ts-node, and never stale like a precompiled build dir.
 * esbuild does not type-check: `npm test` runs `tsc --noEmit`.
 */
const path = require('path');
const { buildSync } = require('esbuild');

const root = path.resolve(__dirname, '..');
const entry = process.env.NIXOS_FLEET_APP_ENTRY || path.join(root, 'main.ts');
const out = path.join(root, '.build', `${path.basename(entry, '.ts')}.js`);
buildSync({
  entryPoints: [entry],
  outfile: out,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  sourcemap: 'inline',
  logLevel: 'warning',
});
// Run the bundle as the main module, so `require.main === module` holds in
// main.ts exactly as it does under ts-node (other scripts import the fleet
// declaration from main.ts without synthesizing).
process.argv[1] = out;
require('module').runMain();
