/**
 * Where Terraform keeps state and runs: locally, or in Terraform Cloud
 * (HCP Terraform). Read from the environment or the cdktf context by the app
 * (main.ts), never inside a construct.
 */

/** A Terraform Cloud workspace the stack runs in. */
export interface TerraformCloudSettings {
  /** Organization name. */
  readonly organization: string;
  /** Workspace name (one fleet stack per workspace). */
  readonly workspace: string;
  /**
   * Terraform Enterprise host name.
   * @default 'app.terraform.io'
   */
  readonly hostname?: string;
  /**
   * Workspace project.
   * @default - the organization's default project
   */
  readonly project?: string;
}

/** Source names, so error messages can say where a value came from. */
export const TFC_ENV = {
  organization: 'TF_CLOUD_ORGANIZATION',
  workspace: 'TF_WORKSPACE',
  hostname: 'TF_CLOUD_HOSTNAME',
  project: 'TF_CLOUD_PROJECT',
} as const;

/** cdktf context key (cdktf.json "context" or `--context`): `{ organization, workspace, hostname?, project? }`. */
export const TFC_CONTEXT_KEY = 'terraformCloud';

/**
 * Terraform Cloud settings from the environment (Terraform's own variable
 * names) or, where the environment is silent, the cdktf context.
 * Returns undefined for a local backend; throws on half a configuration.
 */
export function terraformCloudSettings(
  env: Record<string, string | undefined>,
  context: unknown,
): TerraformCloudSettings | undefined {
  const ctx = (context && typeof context === 'object' ? context : {}) as Record<string, unknown>;
  const pick = (key: keyof typeof TFC_ENV): string | undefined => {
    const fromEnv = env[TFC_ENV[key]];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    const fromCtx = ctx[key];
    return typeof fromCtx === 'string' && fromCtx !== '' ? fromCtx : undefined;
  };
  const organization = pick('organization');
  const workspace = pick('workspace');
  const hostname = pick('hostname');
  const project = pick('project');
  if (organization === undefined && workspace === undefined) {
    if (hostname !== undefined || project !== undefined) {
      throw new Error(`Terraform Cloud: ${hostname !== undefined ? TFC_ENV.hostname : TFC_ENV.project} is set but ${TFC_ENV.organization} and ${TFC_ENV.workspace} are not`);
    }
    return undefined;
  }
  if (organization === undefined) {
    throw new Error(`Terraform Cloud: workspace ${JSON.stringify(workspace)} is set but no organization: set ${TFC_ENV.organization} (or context ${TFC_CONTEXT_KEY}.organization)`);
  }
  if (workspace === undefined) {
    throw new Error(`Terraform Cloud: organization ${JSON.stringify(organization)} is set but no workspace: set ${TFC_ENV.workspace} (or context ${TFC_CONTEXT_KEY}.workspace)`);
  }
  if (!/^[A-Za-z0-9_-]+$/.test(organization)) throw new Error(`Terraform Cloud: organization must be [A-Za-z0-9_-]+, got ${JSON.stringify(organization)}`);
  if (!/^[A-Za-z0-9_-]{1,90}$/.test(workspace)) throw new Error(`Terraform Cloud: workspace must be [A-Za-z0-9_-], at most 90 characters, got ${JSON.stringify(workspace)}`);
  if (hostname !== undefined && !/^[A-Za-z0-9.-]+(:\d+)?$/.test(hostname)) throw new Error(`Terraform Cloud: hostname is not a host name: ${JSON.stringify(hostname)}`);
  return { organization, workspace, ...(hostname ? { hostname } : {}), ...(project ? { project } : {}) };
}
