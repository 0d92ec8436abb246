/**
 * What Hetzner Cloud sells: server types, their architecture, locations and
 * network zones, and the types Hetzner retired with their successors.
 *
 * The Hetzner adapter refuses a type or location this file does not know
 * (a typo, or a type Hetzner stopped selling) at synth, before any API call.
 * Update it when Hetzner changes its line-up: add rows, move retired types to
 * HETZNER_RETIRED_SERVER_TYPES, bump HETZNER_CATALOGUE_DATE. A host may use a
 * type that is not listed yet with `allowUncataloguedType: true`.
 *
 * Sources (checked 2026-12-01): Hetzner Cloud changelog of 2025-10-16
 * (CX Gen2 cx22–cx52 and CPX Gen1 cpx11–cpx51 deprecated, not orderable after
 * 2025-12-31; successors CX Gen3 cx23–cx53 and CPX Gen2 cpx12–cpx62), the
 * Hetzner Cloud API reference (GET /server_types: `architecture`,
 * per-location `deprecation`; GET /locations: `network_zone`), and the hcloud
 * provider v1.68 docs (it warns on deprecated types, fails on unavailable ones).
 */
import { HostSystem } from './fleet-declaration';

/** When this catalogue was last checked against Hetzner's own lists. */
export const HETZNER_CATALOGUE_DATE = '2026-12-01';

/** Network zones and the locations in each (GET /locations → network_zone). */
export const HETZNER_ZONES: Readonly<Record<string, readonly string[]>> = {
  'eu-central': ['fsn1', 'nbg1', 'hel1'],
  'us-east': ['ash'],
  'us-west': ['hil'],
  'ap-southeast': ['sin'],
};

export const HETZNER_LOCATIONS: readonly string[] = Object.values(HETZNER_ZONES).flat();

/** CPU architecture as Hetzner names it (`x86`, `arm`), with the Nix system it runs. */
export type HetznerArchitecture = 'x86' | 'arm';
export const NIX_SYSTEM_OF_ARCHITECTURE: Readonly<Record<HetznerArchitecture, HostSystem>> = {
  x86: 'x86_64-linux',
  arm: 'aarch64-linux',
};

export interface HetznerServerType {
  readonly architecture: HetznerArchitecture;
  readonly cores: number;
  readonly memoryGb: number;
  /**
   * Locations the type is sold in.
   * @default - every location
   */
  readonly locations?: readonly string[];
}

const EU = HETZNER_ZONES['eu-central'];

const family = (
  names: string[], architecture: HetznerArchitecture, sizes: [number, number][], locations?: readonly string[],
): [string, HetznerServerType][] =>
  names.map((n, i) => [n, { architecture, cores: sizes[i][0], memoryGb: sizes[i][1], ...(locations ? { locations } : {}) }]);

/** Server types on sale. */
export const HETZNER_SERVER_TYPES: Readonly<Record<string, HetznerServerType>> = Object.fromEntries([
  // Cost-optimized shared vCPU, x86 (CX Gen3, since 2025-10): EU locations only.
  ...family(['cx23', 'cx33', 'cx43', 'cx53'], 'x86', [[2, 4], [4, 8], [8, 16], [16, 32]], EU),
  // Regular shared vCPU, AMD (CPX Gen2, since 2025-10).
  ...family(['cpx12', 'cpx22', 'cpx32', 'cpx42', 'cpx52', 'cpx62'], 'x86', [[1, 2], [2, 4], [4, 8], [8, 16], [12, 24], [16, 32]]),
  // Shared vCPU, Ampere arm64: EU locations only.
  ...family(['cax11', 'cax21', 'cax31', 'cax41'], 'arm', [[2, 4], [4, 8], [8, 16], [16, 32]], EU),
  // Dedicated vCPU, AMD.
  ...family(['ccx13', 'ccx23', 'ccx33', 'ccx43', 'ccx53', 'ccx63'], 'x86', [[2, 8], [4, 16], [8, 32], [16, 64], [32, 128], [48, 192]]),
]);

export interface RetiredServerType {
  /** Last day Hetzner sold it (ISO date). */
  readonly retired: string;
  /** The type that replaces it. */
  readonly successor: string;
}

const retiredFamily = (pairs: [string, string][], retired: string): [string, RetiredServerType][] =>
  pairs.map(([name, successor]) => [name, { retired, successor }]);

/** Types Hetzner no longer sells, with what to use instead. */
export const HETZNER_RETIRED_SERVER_TYPES: Readonly<Record<string, RetiredServerType>> = Object.fromEntries([
  ...retiredFamily([['cx22', 'cx23'], ['cx32', 'cx33'], ['cx42', 'cx43'], ['cx52', 'cx53']], '2025-12-31'),
  ...retiredFamily([['cpx11', 'cpx12'], ['cpx21', 'cpx22'], ['cpx31', 'cpx32'], ['cpx41', 'cpx42'], ['cpx51', 'cpx52']], '2025-12-31'),
  // Intel CX Gen1 (cx11 … cx51), removed in 2024.
  ...retiredFamily([['cx11', 'cx23'], ['cx21', 'cx23'], ['cx31', 'cx33'], ['cx41', 'cx43'], ['cx51', 'cx53']], '2024-09-06'),
]);

/** Why `serverType` cannot be ordered in `location`, or undefined. */
export function hetznerServerTypeProblem(serverType: string, location: string): string | undefined {
  const retired = HETZNER_RETIRED_SERVER_TYPES[serverType];
  if (retired) return `${serverType} was retired by Hetzner on ${retired.retired}; use ${retired.successor}`;
  const known = HETZNER_SERVER_TYPES[serverType];
  if (!known) {
    return `${JSON.stringify(serverType)} is not a Hetzner server type this template knows (catalogue of ${HETZNER_CATALOGUE_DATE}: `
      + `${Object.keys(HETZNER_SERVER_TYPES).join(', ')}); if Hetzner sells it, set allowUncataloguedType: true on the host`;
  }
  if (known.locations && HETZNER_LOCATIONS.includes(location) && !known.locations.includes(location)) {
    return `${serverType} is not sold in ${location} (only ${known.locations.join(', ')})`;
  }
  return undefined;
}
