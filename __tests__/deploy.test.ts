/** `npm run deploy`: which cdktf command line it runs (the install benchmark runs it for real). */
import { DIGITALOCEAN_REQUESTS_PER_SECOND } from '../constructs/digitalocean-catalogue';
import { INSTALL_WIDTH, planDeploy } from '../scripts/deploy';

const TFC = { TF_CLOUD_ORGANIZATION: 'acme', TF_WORKSPACE: 'fleet-prod' };

describe('npm run deploy', () => {
  test('local state: cdktf deploy at the install width, the user\'s arguments after it', () => {
    const plan = planDeploy(['--auto-approve', 'fleet'], {}, undefined);
    expect(plan.args).toEqual(['deploy', `--terraform-parallelism=${INSTALL_WIDTH}`, '--auto-approve', 'fleet']);
    expect(INSTALL_WIDTH).toBeGreaterThan(10); // Terraform's default, which made a 40-host fleet convert in four waves
    expect(plan.notice).toContain(`install width ${INSTALL_WIDTH}`);
  });

  test('a width you give wins, as a flag or as cdktf\'s environment variable', () => {
    expect(planDeploy(['--terraform-parallelism=20'], {}, undefined).args).toEqual(['deploy', '--terraform-parallelism=20']);
    expect(planDeploy(['--terraform-parallelism', '5'], {}, undefined).args).toEqual(['deploy', '--terraform-parallelism', '5']);
    expect(planDeploy([], { CDKTF_TERRAFORM_PARALLELISM: '30' }, undefined).args).toEqual(['deploy']);
    expect(() => planDeploy(['--terraform-parallelism=0'], {}, undefined)).toThrow(/positive integer/);
    expect(() => planDeploy([], { CDKTF_TERRAFORM_PARALLELISM: 'lots' }, undefined)).toThrow(/CDKTF_TERRAFORM_PARALLELISM must be a positive integer/);
  });

  test('cdktf\'s --parallelism (stacks at once) is passed through and is not taken for the width', () => {
    expect(planDeploy(['--parallelism=2'], {}, undefined).args).toEqual(['deploy', `--terraform-parallelism=${INSTALL_WIDTH}`, '--parallelism=2']);
  });

  test('DigitalOcean requests are throttled under 250 a minute unless you chose a rate', () => {
    const plan = planDeploy([], {}, undefined);
    expect(plan.env).toEqual({ DIGITALOCEAN_REQUESTS_PER_SECOND: String(DIGITALOCEAN_REQUESTS_PER_SECOND) });
    expect(plan.notice).toContain(`DigitalOcean API at most ${DIGITALOCEAN_REQUESTS_PER_SECOND} requests/s`);
    expect(DIGITALOCEAN_REQUESTS_PER_SECOND * 60).toBeLessThan(250);
    expect(planDeploy([], { DIGITALOCEAN_REQUESTS_PER_SECOND: '10' }, undefined).env).toEqual({});
  });

  test('Terraform Cloud: no -parallelism (Terraform refuses it there); the workspace\'s TFE_PARALLELISM is named', () => {
    const plan = planDeploy(['--auto-approve'], TFC, undefined);
    expect(plan.args).toEqual(['deploy', '--auto-approve']);
    expect(plan.env).toEqual({});
    expect(plan.notice).toMatch(/TFE_PARALLELISM/);
    const fromContext = planDeploy([], {}, { organization: 'acme', workspace: 'fleet-prod' });
    expect(fromContext.args).toEqual(['deploy']);
  });

  test('Terraform Cloud: a width given here is refused before anything runs', () => {
    expect(() => planDeploy(['--terraform-parallelism=40'], TFC, undefined)).toThrow(/TFE_PARALLELISM/);
    expect(() => planDeploy([], { ...TFC, CDKTF_TERRAFORM_PARALLELISM: '40' }, undefined)).toThrow(/cannot be used with Terraform Cloud/);
  });

  test('half a Terraform Cloud configuration is an error, as in the app', () => {
    expect(() => planDeploy([], { TF_CLOUD_ORGANIZATION: 'acme' }, undefined)).toThrow(/no workspace/);
  });
});
