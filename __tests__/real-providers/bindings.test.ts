/**
 * The provider bindings are the providers' own: .gen/providers/hcloud is what
 * the real `cdktf get` writes from the real terraform-provider-hcloud, byte for
 * byte; the built-in terraform_data binding has exactly the attributes the
 * engines' own schema has; and every provider version the JSON pins is the one
 * its binding was generated for and the one the tests run.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeWithRealTools, mustRunEngine } from '../support/real-tools';
import { REPO_ROOT, filesUnder } from '../support/process';
import { synthFleet, validFleet } from '../support/fleet';

jest.setTimeout(600_000);


const COMMITTED_HCLOUD = path.join(REPO_ROOT, '.gen', 'providers', 'hcloud');

/** The version real-tools.sh builds (its one pin). */
function pinnedHcloudVersion(): string {
  const script = fs.readFileSync(path.join(REPO_ROOT, 'scripts', 'dev', 'real-tools.sh'), 'utf8');
  const m = /^HCLOUD_VERSION=(\S+)$/m.exec(script);
  if (!m) throw new Error('scripts/dev/real-tools.sh pins no HCLOUD_VERSION');
  return m[1];
}

/** The version a generated or prebuilt binding says it was generated for. */
function bindingVersion(providerIndexSource: string): string {
  const m = /providerVersion: '([^']+)'/.exec(providerIndexSource);
  if (!m) throw new Error('binding carries no providerVersion');
  return m[1];
}

describe('provider versions line up', () => {
  const json = synthFleet(validFleet());
  const required = json.terraform.required_providers;

  test('hcloud: the JSON pins the version the bindings were generated for and the tests build', () => {
    const binding = bindingVersion(fs.readFileSync(path.join(COMMITTED_HCLOUD, 'provider', 'index.ts'), 'utf8'));
    expect(required.hcloud).toEqual({ source: 'hetznercloud/hcloud', version: binding });
    expect(binding).toBe(pinnedHcloudVersion());
  });

  test('digitalocean: the JSON pins the provider version @cdktf/provider-digitalocean was generated from', () => {
    const pkg = JSON.parse(fs.readFileSync(require.resolve('@cdktf/provider-digitalocean/package.json'), 'utf8'));
    const generated = bindingVersion(fs.readFileSync(require.resolve('@cdktf/provider-digitalocean/lib/provider/index.js'), 'utf8'));
    expect(pkg.cdktf.provider).toEqual({ name: 'registry.terraform.io/digitalocean/digitalocean', version: generated });
    expect(required.digitalocean).toEqual({ source: 'digitalocean/digitalocean', version: generated });
  });

  test("cdktf.json's constraints admit exactly the pinned versions' minor series", () => {
    const conf = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdktf.json'), 'utf8'));
    const constraint = (name: string): string => (conf.terraformProviders as string[]).find((p) => p.startsWith(`${name}@`))!.split('@')[1];
    for (const [name, key] of [['hetznercloud/hcloud', 'hcloud'], ['digitalocean/digitalocean', 'digitalocean']] as const) {
      const [major, minor] = (required[key].version as string).split('.');
      expect(constraint(name)).toBe(`~> ${major}.${minor}`);
    }
  });
});

describeWithRealTools('bindings from the real providers', (tools) => {
  // cdktf get works with terraform only (scripts/dev/gen-bindings.sh says why): a machine
  // without terraform runs the rest with OpenTofu and says that this one did not run.
  const withTerraform = tools.engines.some((e) => e.name === 'terraform') ? test : test.skip;
  // eslint-disable-next-line no-console
  if (withTerraform === test.skip) console.warn('SKIPPED `cdktf get` bindings check: terraform is not on PATH (cdktf get does not work with OpenTofu)');
  withTerraform('`cdktf get` against the real hcloud provider reproduces .gen/providers/hcloud byte for byte', () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gen-bindings-')), 'hcloud');
    execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'dev', 'gen-bindings.sh'), out], { env: tools.env, stdio: 'pipe' });
    const fresh = filesUnder(out);
    const committed = filesUnder(COMMITTED_HCLOUD);
    expect(Object.keys(fresh).sort()).toEqual(Object.keys(committed).sort());
    expect(Object.keys(fresh).length).toBeGreaterThan(50); // every resource and data source, not a hand-picked few
    const differing = Object.keys(fresh).filter((f) => fresh[f] !== committed[f]);
    expect(differing).toEqual([]);
  });

  test.each(tools.engines.map((e) => [e.name, e] as const))(
    "%s: the terraform_data binding has exactly the engine's own schema attributes",
    async (_name, engine) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'builtin-schema-'));
      fs.writeFileSync(path.join(dir, 'main.tf.json'), JSON.stringify({
        terraform: { required_providers: { terraform: { source: 'terraform.io/builtin/terraform' } } },
        resource: { terraform_data: { probe: {} } },
      }));
      await mustRunEngine(engine, dir, ['init', '-input=false', '-no-color'], tools.env);
      const schema = JSON.parse(await mustRunEngine(engine, dir, ['providers', 'schema', '-json'], tools.env));
      const builtin = Object.entries(schema.provider_schemas as Record<string, { resource_schemas: Record<string, { block: { attributes: Record<string, { computed?: boolean; optional?: boolean; required?: boolean }> } }> }>)
        .find(([address]) => address.endsWith('/builtin/terraform'))![1];
      const attributes = builtin.resource_schemas.terraform_data.block.attributes;
      // The generator writes one line per attribute: `// NAME - computed: B, optional: B, required: B`.
      const expected = Object.entries(attributes)
        .map(([a, v]) => `${a} - computed: ${!!v.computed}, optional: ${!!v.optional}, required: ${!!v.required}`).sort();
      const binding = fs.readFileSync(path.join(REPO_ROOT, '.gen', 'providers', 'terraform', 'data', 'index.ts'), 'utf8');
      const bound = [...binding.matchAll(/^ {2}\/\/ (\w+ - computed: \w+, optional: \w+, required: \w+)$/gm)].map((m) => m[1]).sort();
      expect(bound).toEqual(expected);
    },
  );
});
