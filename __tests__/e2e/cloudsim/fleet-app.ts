/**
 * The cdktf app of a simulated deploy: main.ts's app, but the fleet comes from
 * the JSON file named by NIXOS_FLEET_FLEET_JSON (the e2e suite and `npm run
 * demo` write it). Selected with NIXOS_FLEET_APP_ENTRY (scripts/app/app.js).
 */
import * as fs from 'fs';
import { App } from 'cdktf';
import { FleetDeclaration } from '../../../constructs/fleet-declaration';
import { FleetStack } from '../../../constructs/fleet-stack';

const file = process.env.NIXOS_FLEET_FLEET_JSON;
if (!file) throw new Error('NIXOS_FLEET_FLEET_JSON must name the fleet declaration (JSON)');
const fleet = JSON.parse(fs.readFileSync(file, 'utf8')) as FleetDeclaration;
const app = new App();
new FleetStack(app, 'fleet', { fleet });
app.synth();
