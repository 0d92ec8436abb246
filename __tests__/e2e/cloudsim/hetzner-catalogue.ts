/**
 * The Hetzner Cloud catalogue the simulator serves: locations, datacenters,
 * server types (with per-location deprecation) and images, as of 2026-12
 * (FIELD-NOTES: CX Gen2 and CPX Gen1 deprecated on 2025-10-16 and not
 * orderable since 2025-12-31; CX23.., CPX12.., CAX.., CCX.. current).
 * Data only; hetzner.ts renders it in the API's shapes.
 */

export interface CatalogueLocation {
  id: number;
  name: string;
  description: string;
  country: string;
  city: string;
  latitude: number;
  longitude: number;
  networkZone: string;
  datacenter: { id: number; name: string; description: string };
}

export const LOCATIONS: CatalogueLocation[] = [
  { id: 1, name: 'fsn1', description: 'Falkenstein DC Park 1', country: 'DE', city: 'Falkenstein', latitude: 50.47612, longitude: 12.370071, networkZone: 'eu-central', datacenter: { id: 4, name: 'fsn1-dc14', description: 'Falkenstein 1 virtual DC 14' } },
  { id: 2, name: 'nbg1', description: 'Nuremberg DC Park 1', country: 'DE', city: 'Nuremberg', latitude: 49.452102, longitude: 11.076665, networkZone: 'eu-central', datacenter: { id: 2, name: 'nbg1-dc3', description: 'Nuremberg 1 virtual DC 3' } },
  { id: 3, name: 'hel1', description: 'Helsinki DC Park 1', country: 'FI', city: 'Helsinki', latitude: 60.169855, longitude: 24.938379, networkZone: 'eu-central', datacenter: { id: 3, name: 'hel1-dc2', description: 'Helsinki 1 virtual DC 2' } },
  { id: 4, name: 'ash', description: 'Ashburn, VA', country: 'US', city: 'Ashburn, VA', latitude: 39.045821, longitude: -77.487073, networkZone: 'us-east', datacenter: { id: 5, name: 'ash-dc1', description: 'Ashburn virtual DC 1' } },
  { id: 5, name: 'hil', description: 'Hillsboro, OR', country: 'US', city: 'Hillsboro, OR', latitude: 45.54222, longitude: -122.951924, networkZone: 'us-west', datacenter: { id: 6, name: 'hil-dc1', description: 'Hillsboro virtual DC 1' } },
  { id: 6, name: 'sin', description: 'Singapore', country: 'SG', city: 'Singapore', latitude: 1.283333, longitude: 103.833333, networkZone: 'ap-southeast', datacenter: { id: 7, name: 'sin-dc1', description: 'Singapore virtual DC 1' } },
];

const EU = ['fsn1', 'nbg1', 'hel1'];
const ALL = LOCATIONS.map((l) => l.name);

export interface CatalogueServerType {
  id: number;
  name: string;
  cores: number;
  memory: number;
  disk: number;
  cpuType: 'shared' | 'dedicated';
  architecture: 'x86' | 'arm';
  category: string;
  locations: string[];
  /** Set for retired types: deprecated in every location they were sold in. */
  retired?: { announced: string; unavailableAfter: string };
}

const GEN2_RETIRED = { announced: '2025-10-16T06:00:00Z', unavailableAfter: '2025-12-31T23:59:59Z' };

let nextTypeId = 100;
function types(prefix: string, spec: [string, number, number, number][], rest: Omit<CatalogueServerType, 'id' | 'name' | 'cores' | 'memory' | 'disk'>): CatalogueServerType[] {
  return spec.map(([suffix, cores, memory, disk]) => ({ id: nextTypeId++, name: `${prefix}${suffix}`, cores, memory, disk, ...rest }));
}

export const SERVER_TYPES: CatalogueServerType[] = [
  ...types('cx', [['23', 2, 4, 40], ['33', 4, 8, 80], ['43', 8, 16, 160], ['53', 16, 32, 320]],
    { cpuType: 'shared', architecture: 'x86', category: 'cost_optimized', locations: EU }),
  ...types('cpx', [['12', 1, 2, 40], ['22', 2, 4, 80], ['32', 4, 8, 160], ['42', 8, 16, 320], ['52', 12, 24, 480], ['62', 16, 32, 640]],
    { cpuType: 'shared', architecture: 'x86', category: 'regular_purpose', locations: ALL }),
  ...types('cax', [['11', 2, 4, 40], ['21', 4, 8, 80], ['31', 8, 16, 160], ['41', 16, 32, 320]],
    { cpuType: 'shared', architecture: 'arm', category: 'cost_optimized', locations: EU }),
  ...types('ccx', [['13', 2, 8, 80], ['23', 4, 16, 160], ['33', 8, 32, 240], ['43', 16, 64, 360], ['53', 32, 128, 600], ['63', 48, 192, 960]],
    { cpuType: 'dedicated', architecture: 'x86', category: 'general_purpose', locations: ALL }),
  // Retired (still listed by the API, with their deprecation, but not orderable).
  ...types('cx', [['22', 2, 4, 40], ['32', 4, 8, 80], ['42', 8, 16, 160], ['52', 16, 32, 320]],
    { cpuType: 'shared', architecture: 'x86', category: 'cost_optimized', locations: EU, retired: GEN2_RETIRED }),
  ...types('cpx', [['11', 2, 2, 40], ['21', 3, 4, 80], ['31', 4, 8, 160], ['41', 8, 16, 240], ['51', 16, 32, 360]],
    { cpuType: 'shared', architecture: 'x86', category: 'regular_purpose', locations: ALL, retired: GEN2_RETIRED }),
];

export interface CatalogueImage {
  id: number;
  name: string;
  description: string;
  osFlavor: string;
  osVersion: string;
  architecture: 'x86' | 'arm';
  created: string;
}

export const IMAGES: CatalogueImage[] = [
  { id: 114690387, name: 'debian-12', description: 'Debian 12', osFlavor: 'debian', osVersion: '12', architecture: 'x86', created: '2023-06-13T06:00:02Z' },
  { id: 114690389, name: 'debian-12', description: 'Debian 12', osFlavor: 'debian', osVersion: '12', architecture: 'arm', created: '2023-06-13T06:00:02Z' },
  { id: 254478960, name: 'debian-13', description: 'Debian 13', osFlavor: 'debian', osVersion: '13', architecture: 'x86', created: '2025-08-11T06:00:02Z' },
  { id: 254478961, name: 'debian-13', description: 'Debian 13', osFlavor: 'debian', osVersion: '13', architecture: 'arm', created: '2025-08-11T06:00:02Z' },
  { id: 161547269, name: 'ubuntu-24.04', description: 'Ubuntu 24.04', osFlavor: 'ubuntu', osVersion: '24.04', architecture: 'x86', created: '2024-04-25T06:00:02Z' },
  { id: 161547270, name: 'ubuntu-24.04', description: 'Ubuntu 24.04', osFlavor: 'ubuntu', osVersion: '24.04', architecture: 'arm', created: '2024-04-25T06:00:02Z' },
];
