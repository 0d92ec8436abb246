#!/usr/bin/env node
/**
 * Runs one TypeScript entry point: `node scripts/app/run.js <file.ts> [args...]`.
 * It is the cdktf app command (via scripts/app/app.js) and the runner of every
 * `npm run` script.
 *
 * Bundles the entry with esbuild (node_modules stay external) into .build/
 * and runs the bundle as the main module, so `require.main === module` holds
 * exactly as under ts-node. The bundle is reused while none of its input files
 * changed (size and mtime of every file esbuild read), which saves esbuild's
 * ~100 ms on repeated synths; it can never be stale.
 * esbuild does not type-check: `npm test` runs `tsc --noEmit`.
 */
const fs = require('fs');
const path = require('path');

const [entryArg, ...args] = process.argv.slice(2);
if (!entryArg) {
  console.error('usage: node scripts/app/run.js <script.ts> [args...]');
  process.exit(2);
}
const root = path.resolve(__dirname, '..', '..');
const entry = path.resolve(entryArg);
const outDir = path.join(root, '.build');
const out = path.join(outDir, `${path.basename(entry, '.ts')}.js`);
const manifest = `${out}.inputs.json`;

function fingerprint(file) {
  try {
    const st = fs.statSync(file);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

function upToDate() {
  try {
    const m = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    return m.entry === entry && fs.existsSync(out)
      && Object.entries(m.inputs).every(([file, fp]) => fingerprint(file) === fp);
  } catch {
    return false;
  }
}

if (!upToDate()) {
  const { buildSync } = require('esbuild');
  const result = buildSync({
    entryPoints: [entry],
    outfile: out,
    write: false,
    metafile: true,
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  const inputs = {};
  for (const rel of Object.keys(result.metafile.inputs)) {
    const file = path.resolve(root, rel);
    inputs[file] = fingerprint(file);
  }
  // Write through temp files and rename: two runs of the same script at once
  // (parallel test files) must never load each other's half-written bundle.
  fs.mkdirSync(outDir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, result.outputFiles[0].contents);
  fs.renameSync(tmp, out);
  fs.writeFileSync(`${manifest}.${process.pid}.tmp`, JSON.stringify({ entry, inputs }));
  fs.renameSync(`${manifest}.${process.pid}.tmp`, manifest);
}

process.argv = [process.argv[0], out, ...args];
require('module').runMain();
