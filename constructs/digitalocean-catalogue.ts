/**
 * What DigitalOcean sells: droplet size slugs and region slugs, and the
 * regions DigitalOcean closed to new droplets with where to go instead.
 *
 * The DigitalOcean adapter refuses a size or region this file does not know
 * at synth, before any API call. Update it when DigitalOcean changes its
 * line-up (GET /v2/sizes, GET /v2/regions) and bump DIGITALOCEAN_CATALOGUE_DATE.
 * A host may use a size that is not listed yet with `allowUncataloguedType: true`.
 * Every droplet size is x86_64.
 *
 * Sources (checked 2026-12-01): DigitalOcean API reference (List All Regions,
 * List All Droplet Sizes; a region's `available` is false once it takes no new
 * droplets), the digitalocean Terraform provider v2.71 docs (`digitalocean_region`,
 * `digitalocean_sizes`), and region/size lists published in October 2026.
 */

/** When this catalogue was last checked against DigitalOcean's own lists. */
export const DIGITALOCEAN_CATALOGUE_DATE = '2026-12-01';

/**
 * DigitalOcean's API allows 5000 requests an hour and 250 a minute; 4 a second stays
 * under the minute limit however many droplets are created and polled at once.
 * Set through the provider's own client-side throttle, DIGITALOCEAN_REQUESTS_PER_SECOND.
 */
export const DIGITALOCEAN_REQUESTS_PER_SECOND = 4;

/** Regions that take new droplets (and VPCs). */
export const DIGITALOCEAN_REGIONS: readonly string[] = [
  'ams3', 'atl1', 'blr1', 'fra1', 'lon1', 'nyc1', 'nyc2', 'nyc3', 'ric1', 'sfo2', 'sfo3', 'sgp1', 'syd1', 'tor1',
];

/** Regions closed to new droplets, with the region that replaces each. */
const DIGITALOCEAN_RETIRED_REGIONS: Readonly<Record<string, { readonly successor: string }>> = {
  ams1: { successor: 'ams3' },
  ams2: { successor: 'ams3' },
  sfo1: { successor: 'sfo3' },
};

const sizes = (...slugs: string[]): string[] => slugs;

/** Droplet size slugs on sale (CPU droplets; GPU droplets need allowUncataloguedType). */
export const DIGITALOCEAN_SIZES: readonly string[] = [
  // Basic (shared CPU): regular, then Premium AMD and Premium Intel.
  ...sizes('s-1vcpu-512mb-10gb', 's-1vcpu-1gb', 's-1vcpu-2gb', 's-2vcpu-2gb', 's-2vcpu-4gb', 's-4vcpu-8gb',
    's-8vcpu-16gb'),
  ...['s-1vcpu-1gb', 's-1vcpu-2gb', 's-2vcpu-2gb', 's-2vcpu-4gb', 's-2vcpu-8gb', 's-4vcpu-8gb', 's-4vcpu-16gb',
    's-8vcpu-16gb', 's-8vcpu-32gb'].flatMap((s) => [`${s}-amd`, `${s}-intel`]),
  ...sizes('s-1vcpu-1gb-35gb-intel', 's-1vcpu-2gb-70gb-intel', 's-2vcpu-2gb-90gb-intel', 's-2vcpu-4gb-120gb-intel',
    's-2vcpu-8gb-160gb-intel', 's-4vcpu-8gb-240gb-intel', 's-4vcpu-16gb-320gb-intel', 's-8vcpu-16gb-480gb-intel',
    's-8vcpu-32gb-640gb-intel'),
  // General purpose (dedicated CPU).
  ...sizes('g-2vcpu-8gb', 'g-4vcpu-16gb', 'g-8vcpu-32gb', 'g-16vcpu-64gb', 'g-32vcpu-128gb', 'g-40vcpu-160gb',
    'gd-2vcpu-8gb', 'gd-4vcpu-16gb', 'gd-8vcpu-32gb', 'gd-16vcpu-64gb', 'gd-32vcpu-128gb', 'gd-40vcpu-160gb'),
  // CPU-optimized.
  ...sizes('c-2', 'c-4', 'c-8', 'c-16', 'c-32', 'c-48',
    'c2-2vcpu-4gb', 'c2-4vcpu-8gb', 'c2-8vcpu-16gb', 'c2-16vcpu-32gb', 'c2-32vcpu-64gb', 'c2-48vcpu-96gb'),
  // Memory-optimized and storage-optimized.
  ...sizes('m-2vcpu-16gb', 'm-4vcpu-32gb', 'm-8vcpu-64gb', 'm-16vcpu-128gb', 'm-24vcpu-192gb', 'm-32vcpu-256gb',
    'm3-2vcpu-16gb', 'm3-4vcpu-32gb', 'm3-8vcpu-64gb', 'm3-16vcpu-128gb', 'm3-24vcpu-192gb', 'm3-32vcpu-256gb',
    'm6-2vcpu-16gb', 'm6-4vcpu-32gb', 'm6-8vcpu-64gb', 'm6-16vcpu-128gb', 'm6-24vcpu-192gb', 'm6-32vcpu-256gb',
    'so-2vcpu-16gb', 'so-4vcpu-32gb', 'so-8vcpu-64gb', 'so-16vcpu-128gb', 'so-24vcpu-192gb', 'so-32vcpu-256gb',
    'so1_5-2vcpu-16gb', 'so1_5-4vcpu-32gb', 'so1_5-8vcpu-64gb', 'so1_5-16vcpu-128gb', 'so1_5-24vcpu-192gb',
    'so1_5-32vcpu-256gb'),
];

/** Why `region` takes no droplets, or undefined. */
export function digitalOceanRegionProblem(region: string): string | undefined {
  const retired = DIGITALOCEAN_RETIRED_REGIONS[region];
  if (retired) return `${region} takes no new droplets (DigitalOcean closed it); use ${retired.successor}`;
  if (!DIGITALOCEAN_REGIONS.includes(region)) {
    return `${JSON.stringify(region)} is not a DigitalOcean region (catalogue of ${DIGITALOCEAN_CATALOGUE_DATE}: ${DIGITALOCEAN_REGIONS.join(', ')})`;
  }
  return undefined;
}

/** Why `size` is not a droplet size this template knows, or undefined. */
export function digitalOceanSizeProblem(size: string): string | undefined {
  if (DIGITALOCEAN_SIZES.includes(size)) return undefined;
  return `${JSON.stringify(size)} is not a droplet size this template knows (catalogue of ${DIGITALOCEAN_CATALOGUE_DATE}, `
    + 'e.g. s-1vcpu-2gb, s-2vcpu-4gb, g-2vcpu-8gb); if DigitalOcean sells it, set allowUncataloguedType: true on the host';
}
