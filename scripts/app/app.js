#!/usr/bin/env node
/**
 * The cdktf app command (cdktf.json "app"): runs scripts/app/synth.ts, which calls
 * main.ts's synthesize(), through scripts/app/run.js (an esbuild bundle, much
 * faster than ts-node). NIXOS_FLEET_APP_ENTRY selects another entry file (the
 * benchmark's generated fleets).
 */
// cdktf records a full stack trace for every token it creates (every attribute
// reference, and again while resolving), only to print it should that token
// later fail to resolve. At 1000 hosts that is ~40% of synth time (see
// docs/BENCHMARKS.md). Skipped unless NIXOS_FLEET_TOKEN_STACKS=1 (debugging).
// cdktf 0.21 is pinned and archived, so this internal module will not move;
// if it ever does, the guard leaves cdktf's behaviour as it is.
if (process.env.NIXOS_FLEET_TOKEN_STACKS !== '1') {
  try {
    const stackTrace = require('cdktf/lib/tokens/private/stack-trace');
    if (typeof stackTrace.captureStackTrace === 'function') stackTrace.captureStackTrace = () => [];
  } catch {
    // another cdktf layout: keep its behaviour
  }
}

// An invalid fleet is the user's mistake, not a crash: print the problem list
// once, without a stack trace, and stop before anything is written.
// NIXOS_FLEET_DEBUG=1 brings the stack trace back.
//
// Under `cdktf synth` / `cdktf deploy` (CDKTF_OUTDIR is set), the CLI logs the
// app's stderr as it arrives and, if the app exits non-zero, prints all of it a
// second time in its summary. So there the app prints the list, removes the
// previous synth's manifest and cdk.tf.json files (never state), and exits 0:
// the CLI finds no manifest, says synth() was not called and exits 1, and the
// list appears once. Run directly, the app exits 1.
const fs = require('fs');
const path = require('path');

function isFleetConfigError(err) {
  return err instanceof Error && err.name === 'FleetConfigError' && Array.isArray(err.problems);
}

/** Removes what an earlier synth left, so no stale configuration can be deployed. True when done. */
function removeStaleSynthOutput(outdir) {
  try {
    fs.rmSync(path.join(outdir, 'manifest.json'), { force: true });
    const stacks = path.join(outdir, 'stacks');
    if (fs.existsSync(stacks)) {
      for (const stack of fs.readdirSync(stacks)) fs.rmSync(path.join(stacks, stack, 'cdk.tf.json'), { force: true });
    }
    return !fs.existsSync(path.join(outdir, 'manifest.json'));
  } catch {
    return false;
  }
}

process.on('uncaughtException', (err) => {
  const debug = process.env.NIXOS_FLEET_DEBUG === '1';
  if (!isFleetConfigError(err) || debug) {
    process.stderr.write(`${err && err.stack ? err.stack : String(err)}\n`);
    process.exit(1);
  }
  const outdir = process.env.CDKTF_OUTDIR;
  const underCli = !!outdir && removeStaleSynthOutput(outdir);
  process.stderr.write(`${err.message}\nNothing was synthesized. (NIXOS_FLEET_DEBUG=1 shows where the check ran.)\n`);
  process.exit(underCli ? 0 : 1);
});

const entry = process.env.NIXOS_FLEET_APP_ENTRY || path.join(__dirname, 'synth.ts');
process.argv.splice(2, 0, entry);
require('./run.js');
