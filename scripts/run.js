#!/usr/bin/env node
/**
 * Runs one TypeScript script: `node scripts/run.js scripts/hive.ts [args...]`.
 *
 * Bundles the script with esbuild (milliseconds; node_modules stay external)
 * into .build/ and runs the bundle with the remaining arguments. Same idea as
 * scripts/app.js, for the handoff scripts (`npm run hive`, `npm run pin`).
 * esbuild does not type-check: `npm test` runs `tsc --noEmit`.
 */
const fs = require('fs');
const path = require('path');
const { buildSync } = require('esbuild');

const [entryArg, ...args] = process.argv.slice(2);
if (!entryArg) {
  console.error('usage: node scripts/run.js <script.ts> [args...]');
  process.exit(2);
}
const root = path.resolve(__dirname, '..');
const entry = path.resolve(entryArg);
const outDir = path.join(root, '.build');
const out = path.join(outDir, `${path.basename(entry, '.ts')}.js`);

const result = buildSync({
  entryPoints: [entry],
  outfile: out,
  write: false,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  sourcemap: 'inline',
  logLevel: 'warning',
});
// Write through a temp file and rename: two runs of the same script at once
// (parallel test files) must never load each other's half-written bundle.
fs.mkdirSync(outDir, { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
fs.writeFileSync(tmp, result.outputFiles[0].contents);
fs.renameSync(tmp, out);

process.argv = [process.argv[0], out, ...args];
require('module').runMain();
