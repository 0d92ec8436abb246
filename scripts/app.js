#!/usr/bin/env node
/**
 * The cdktf app command (cdktf.json "app"): runs main.ts through scripts/run.js
 * (an esbuild bundle, much faster than ts-node). NIXOS_FLEET_APP_ENTRY selects
 * another entry file (the benchmark's generated fleets).
 */
const path = require('path');

const entry = process.env.NIXOS_FLEET_APP_ENTRY || path.join(__dirname, '..', 'main.ts');
process.argv.splice(2, 0, entry);
require('./run.js');
