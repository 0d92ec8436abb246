/**
 * `npm run deploy -- [cdktf deploy options]`: `cdktf deploy` with an install width
 * that keeps a large fleet's installs parallel.
 *
 * Why: Terraform works on at most 10 resources at a time unless told otherwise
 * (`-parallelism=10`), and every host's install step holds one of those slots for
 * the whole nixos-infect run and the reboot wait (minutes on a real server). A
 * 40-host fleet would convert in four waves. cdktf forwards
 * `--terraform-parallelism=N` to `terraform plan` and `apply` as `-parallelism=N`
 * (cdktf's own `--parallelism` is something else: how many *stacks* run at once).
 *
 * What it does:
 * - local state: runs `cdktf deploy --terraform-parallelism=INSTALL_WIDTH ARGS...`,
 *   unless ARGS (or CDKTF_TERRAFORM_PARALLELISM, cdktf's environment form) already
 *   set a width: yours wins. A wide apply also creates that many servers at once, so
 *   each cloud adapter's `deployEnvironment` (e.g. DigitalOcean's API throttle) is
 *   set, each variable unless you set it yourself.
 * - Terraform Cloud (TF_CLOUD_ORGANIZATION + TF_WORKSPACE, or cdktf.json context):
 *   the runs happen on HCP workers, which take the width from the workspace's
 *   TFE_PARALLELISM environment variable; Terraform refuses a custom `-parallelism`
 *   with a cloud backend ("Custom parallelism values are currently not supported").
 *   So nothing is added, a width given here is refused before anything runs, and a
 *   line reminds you of the workspace variable.
 *
 * `planDeploy` is pure and exported for the tests; the install benchmark
 * (__tests__/e2e/install-bench.test.ts) runs this very script.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CloudAdapterClass } from '../constructs/cloud-adapter';
import { CLOUD_ADAPTERS } from '../constructs/clouds';
import { TFC_CONTEXT_KEY, terraformCloudSettings } from '../constructs/terraform-cloud';

/**
 * How many resources Terraform works on at once in `npm run deploy`: every host of a
 * fleet up to this size installs at the same time; a larger fleet installs in waves
 * of this many. It is also the number of servers created at once (see the README's
 * "Install width" for what that costs the cloud APIs). TFE_PARALLELISM allows 1-256.
 */
export const INSTALL_WIDTH = 100;

/** Terraform's own default, for messages. */
export const TERRAFORM_DEFAULT_WIDTH = 10;

const WIDTH_OPTION = /^--terraform(-p|P)arallelism(=|$)/;

export interface DeployPlan {
  /** Arguments after `cdktf`. */
  readonly args: string[];
  /** Environment variables to add for cdktf and Terraform. */
  readonly env: Record<string, string>;
  /** What to tell the user before cdktf starts. */
  readonly notice: string;
}

/**
 * The `cdktf` command line for `npm run deploy ARGS`, or an error (thrown) when the
 * arguments cannot work: a width in Terraform Cloud mode, a width that is not a
 * positive integer.
 */
export function planDeploy(
  userArgs: string[],
  env: Record<string, string | undefined>,
  cdktfContext: unknown,
  adapters: readonly CloudAdapterClass[] = CLOUD_ADAPTERS,
): DeployPlan {
  const remote = terraformCloudSettings(env, cdktfContext);
  const widthArg = userArgs.findIndex((a) => WIDTH_OPTION.test(a));
  const envWidth = env.CDKTF_TERRAFORM_PARALLELISM;
  const given = widthArg >= 0
    ? (userArgs[widthArg].includes('=') ? userArgs[widthArg].split('=')[1] : userArgs[widthArg + 1])
    : envWidth !== undefined && envWidth !== '' ? envWidth : undefined;
  const source = widthArg >= 0 ? '--terraform-parallelism' : 'CDKTF_TERRAFORM_PARALLELISM';
  if (remote) {
    if (given !== undefined) {
      throw new Error(`${source} cannot be used with Terraform Cloud (workspace ${remote.workspace}): Terraform refuses a custom `
        + '-parallelism there. Set the environment variable TFE_PARALLELISM (1-256) in the workspace instead.');
    }
    return {
      args: ['deploy', ...userArgs],
      env: {},
      notice: `Terraform Cloud workspace ${remote.workspace}: installs run as wide as the workspace's TFE_PARALLELISM `
        + `(Terraform's default ${TERRAFORM_DEFAULT_WIDTH} unless set; set it to the fleet's host count, at most 256).`,
    };
  }
  const added = adapters.flatMap((a) => a.deployEnvironment ?? []).filter((v) => env[v.name] === undefined || env[v.name] === '');
  const throttle: Record<string, string> = Object.fromEntries(added.map((v) => [v.name, v.value]));
  const apiNote = added.map((v) => `; ${v.notice}`).join('');
  if (given !== undefined) {
    if (!/^[1-9][0-9]*$/.test(given)) throw new Error(`${source} must be a positive integer, got ${JSON.stringify(given)}`);
    return { args: ['deploy', ...userArgs], env: throttle, notice: `install width ${given} (from ${source})${apiNote}` };
  }
  return {
    args: ['deploy', `--terraform-parallelism=${INSTALL_WIDTH}`, ...userArgs],
    env: throttle,
    notice: `install width ${INSTALL_WIDTH}: up to ${INSTALL_WIDTH} hosts install at once (change it with --terraform-parallelism=N)${apiNote}`,
  };
}

function cdktfContext(root: string): unknown {
  try {
    const config = JSON.parse(fs.readFileSync(path.join(root, 'cdktf.json'), 'utf8')) as { context?: Record<string, unknown> };
    return config.context?.[TFC_CONTEXT_KEY];
  } catch {
    return undefined;
  }
}

/** The project's CDK CLI: cdktf-cli, or cdktn-cli after the move to CDK Terrain (same options). */
function cliPath(root: string): string {
  for (const pkg of ['cdktf-cli', 'cdktn-cli']) {
    try {
      const manifest = require.resolve(`${pkg}/package.json`, { paths: [root] });
      const { bin } = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { bin?: string | Record<string, string> };
      const rel = typeof bin === 'string' ? bin : bin && Object.values(bin)[0];
      if (rel) return path.join(path.dirname(manifest), rel);
    } catch {
      // not installed: try the next
    }
  }
  throw new Error('no CDK CLI found: run npm ci (package.json has cdktf-cli)');
}

function main(argv: string[]): number {
  const root = process.cwd();
  const plan = planDeploy(argv, process.env, cdktfContext(root));
  console.error(`nixos-fleet deploy: ${plan.notice}`);
  const cli = cliPath(root);
  const r = spawnSync(process.execPath, [cli, ...plan.args], { stdio: 'inherit', cwd: root, env: { ...process.env, ...plan.env } });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

// In an esbuild bundle (scripts/app/run.js) `require.main === module` holds for every bundled
// module, so also check the script's name: importing this file must not run it.
if (require.main === module && path.parse(process.argv[1] ?? '').name === 'deploy') {
  try {
    process.exit(main(process.argv.slice(2)));
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  }
}
