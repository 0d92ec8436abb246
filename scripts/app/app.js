#!/usr/bin/env node
/**
 * The cdktf app command (cdktf.json "app"): runs scripts/app/synth.ts, which calls
 * main.ts's synthesize(), through scripts/app/run.js (an esbuild bundle, much
 * faster than ts-node). NIXOS_FLEET_APP_ENTRY selects another entry file (the
 * benchmark's generated fleets).
 */
const path = require('path');

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

const entry = process.env.NIXOS_FLEET_APP_ENTRY || path.join(__dirname, 'synth.ts');
process.argv.splice(2, 0, entry);
require('./run.js');
