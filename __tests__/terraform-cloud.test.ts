/** The backend switch: environment first, then cdktf context; half a configuration is an error. */
import { terraformCloudSettings } from '../constructs/terraform-cloud';

describe('terraformCloudSettings', () => {
  test('nothing set: local backend', () => {
    expect(terraformCloudSettings({}, undefined)).toBeUndefined();
    expect(terraformCloudSettings({ TF_CLOUD_ORGANIZATION: '', TF_WORKSPACE: '' }, {})).toBeUndefined();
  });

  test('from the environment (Terraform\'s own variable names)', () => {
    expect(terraformCloudSettings({ TF_CLOUD_ORGANIZATION: 'acme', TF_WORKSPACE: 'fleet-prod', TF_CLOUD_HOSTNAME: 'tfe.acme.internal', TF_CLOUD_PROJECT: 'infra' }, undefined))
      .toEqual({ organization: 'acme', workspace: 'fleet-prod', hostname: 'tfe.acme.internal', project: 'infra' });
  });

  test('from the cdktf context, the environment wins', () => {
    expect(terraformCloudSettings({}, { organization: 'ctx-org', workspace: 'ctx-ws' })).toEqual({ organization: 'ctx-org', workspace: 'ctx-ws' });
    expect(terraformCloudSettings({ TF_WORKSPACE: 'env-ws' }, { organization: 'ctx-org', workspace: 'ctx-ws' })).toEqual({ organization: 'ctx-org', workspace: 'env-ws' });
  });

  test.each<[string, Record<string, string>, unknown, RegExp]>([
    ['organization without workspace', { TF_CLOUD_ORGANIZATION: 'acme' }, undefined, /organization "acme" is set but no workspace: set TF_WORKSPACE/],
    ['workspace without organization', { TF_WORKSPACE: 'prod' }, undefined, /workspace "prod" is set but no organization: set TF_CLOUD_ORGANIZATION/],
    ['context half', {}, { organization: 'acme' }, /is set but no workspace/],
    ['hostname alone', { TF_CLOUD_HOSTNAME: 'tfe.example.com' }, undefined, /TF_CLOUD_HOSTNAME is set but TF_CLOUD_ORGANIZATION and TF_WORKSPACE are not/],
    ['bad organization', { TF_CLOUD_ORGANIZATION: 'ac me', TF_WORKSPACE: 'prod' }, undefined, /organization must be/],
    ['bad workspace', { TF_CLOUD_ORGANIZATION: 'acme', TF_WORKSPACE: 'prod/1' }, undefined, /workspace must be/],
  ])('%s is a clear error', (_n, env, ctx, msg) => {
    expect(() => terraformCloudSettings(env, ctx)).toThrow(msg);
  });
});
