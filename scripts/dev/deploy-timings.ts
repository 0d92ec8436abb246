/**
 * The simulated-deploy measurements (scripts/dev/deploy-bench.ts) and their
 * table in docs/BENCHMARKS.md. Apart from deploy-bench.ts so the benchmark
 * (an esbuild bundle) can render them without loading the stand-in harness.
 */
import type { Engine } from '../../__tests__/e2e/cloudsim/deploy-project';

export interface DeployTimings {
  engine: Engine;
  hosts: number;
  /** `cdktf deploy`, day one: servers created and installed. */
  cdktfDeploySeconds: number;
  /** `cdktf deploy` again, nothing to change. */
  cdktfNoChangeSeconds: number;
  /** `<engine> apply` of the same cdk.tf.json, nothing to change. */
  engineNoChangeSeconds: number;
  /** `<engine> apply` of the same cdk.tf.json on an empty project (after cdktf destroy): create + install. */
  engineFreshApplySeconds: number;
  /** API requests the simulator served for the day-one deploy. */
  apiRequests: number;
}

/** Markdown rows for docs/BENCHMARKS.md. */
export function renderDeployTimings(rows: DeployTimings[]): string {
  const s = (x: number) => `${x.toFixed(1)} s`;
  return [
    '| engine | Hetzner hosts | `cdktf deploy` (create + install) | `<engine> apply`, same JSON, fresh | `cdktf deploy`, no change | `<engine> apply`, no change | API requests (day one) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.engine} | ${r.hosts} | ${s(r.cdktfDeploySeconds)} | ${s(r.engineFreshApplySeconds)} | ${s(r.cdktfNoChangeSeconds)} | ${s(r.engineNoChangeSeconds)} | ${r.apiRequests} |`),
  ].join('\n');
}

