/**
 * The cloud adapters the fleet stack knows. Adding a cloud: write its adapter
 * (see cloud-adapter.ts), add its host type to fleet-declaration.ts, list it here.
 */
import { CloudAdapterClass } from './cloud-adapter';
import { DigitalOceanCloud } from './digitalocean-cloud';
import { ExistingMachines } from './existing-machines';
import { HetznerCloud } from './hetzner-cloud';

export const CLOUD_ADAPTERS: readonly CloudAdapterClass[] = [HetznerCloud, DigitalOceanCloud, ExistingMachines];
