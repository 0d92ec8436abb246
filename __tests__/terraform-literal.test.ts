/**
 * Every user string reaches Terraform as the literal text (issue 11, item 5).
 *
 * Several declarations full of Terraform template syntax (and of cdktf's own
 * token markers) are synthesized; the test walks every string of each
 * cdk.tf.json, and each one that carries user text is handed to the REAL
 * terraform and tofu as an output value. What they return must be exactly
 * what the user wrote, and every user string must come back.
 */
import { terraformLiteral } from '../constructs/terraform-literal';
import { INSTALL_SCRIPTS_LOCAL } from '../constructs/nixos-install';
import { FleetDeclaration } from '../constructs/fleet-declaration';
import { describeWith, terraformUnescaped } from './support/nix-tools';
import { Json, synthFleet, validFleet } from './support/fleet';
import { TerraformBinary, applyOutputs, findTerraform, newEd25519PublicKey } from './support/real-terraform';
import { engineNames } from './support/real-tools';

/** Template syntax, escapes, half-escapes and cdktf token markers; each tagged so the walk can find it. */
const HOSTILE = [
  '${var.ssh_private_key}',
  '%{ if true }yes%{ endif }',
  '$${looks-escaped}',
  '$$${triple}',
  'trailing dollar $',
  'trailing percent %',
  'unclosed ${',
  'unclosed %{',
  'quote " backslash \\ umlaut ü',
  '${"$"}{already}',
  '%%{double}',
  '${file("/etc/passwd")}',
].map((s, i) => `ZQ${i} ${s}`);

const userStrings = new Set<string>();
const keyWith = (comment: string): string => {
  const key = newEd25519PublicKey(comment);
  userStrings.add(key);
  return key;
};
const text = (s: string): string => {
  userStrings.add(s);
  return s;
};

/** Declarations that put hostile text in every free-text field: key comments, rule descriptions, key names. */
function hostileFleets(): FleetDeclaration[] {
  const base = validFleet();
  const rules = (from: number) => HOSTILE.slice(from, from + 4).map((d, i) => (
    { protocol: 'tcp' as const, port: String(8000 + i), sourceCidrs: ['0.0.0.0/0'], description: text(d) }));
  return [
    // Keys uploaded to both clouds (public_key keeps the comment), descriptions on Hetzner rules.
    {
      ...base,
      adminSshKeys: HOSTILE.slice(0, 8).map(keyWith),
      hetzner: { ...base.hetzner!, sshKeys: 'upload' },
      digitalocean: { ...base.digitalocean!, sshKeys: 'upload' },
      firewallRules: rules(0),
      hosts: base.hosts.map((h) => (h.name === 'web-1' ? { ...h, firewallRules: rules(4) } : h)),
    },
    // The rest of the comments, with sshKeys 'auto' (count expressions around the keys).
    { ...base, adminSshKeys: HOSTILE.slice(8).map(keyWith), firewallRules: rules(8) },
    // Keys already in the project, by (hostile) name.
    { ...base, hetzner: { ...base.hetzner!, sshKeys: { existing: HOSTILE.map(text) } }, firewallRules: rules(11) },
  ];
}

/** Every string in the JSON, with its path. */
function strings(node: Json, at: string[] = [], out: [string, string][] = []): [string, string][] {
  if (typeof node === 'string') out.push([at.join('.'), node]);
  else if (Array.isArray(node)) node.forEach((v, i) => strings(v, [...at, String(i)], out));
  else if (node && typeof node === 'object') Object.entries(node).forEach(([k, v]) => strings(v, [...at, k], out));
  return out;
}

describe('terraformLiteral', () => {
  test('escapes template openers and breaks cdktf token markers', () => {
    expect(terraformLiteral('a ${b} %{c} $')).toBe('a $${b} %%{c} $');
    expect(terraformLiteral('${TfToken[TOKEN.1]}')).not.toMatch(/[$#&]\{TfToken\[/);
    expect(terraformLiteral('plain text')).toBe('plain text');
  });
});

for (const name of engineNames()) { // terraform where the machine has it, OpenTofu always
  const found = findTerraform(name);
  describeWith([() => (typeof found === 'string' ? found : undefined)], `user strings through real ${name}`, () => {
    const bin = found as TerraformBinary;
    test('the helper makes cdktf token markers literal for Terraform too', () => {
      const markers = ['${TfToken[TOKEN.1]}', '#{TfToken[TOKEN.2]}', '&{TfToken[TOKEN.3]}', '$${TfToken[TOKEN.4]}', '$$$${TfToken[TOKEN.5]}', '$#{TfToken[TOKEN.6]}'];
      // Written straight into the JSON (cdktf would refuse the declaration: fleet-validation.test.ts).
      const outputs = applyOutputs(bin, { output: Object.fromEntries(markers.map((m, i) => [`m${i}`, { value: terraformLiteral(m) }])) });
      expect(markers.map((_, i) => outputs[`m${i}`].value)).toEqual(markers);
    }, 120_000);

    test('the tests\' reading of Terraform escapes (terraformUnescaped) is what the engine makes of the install scripts', () => {
      // The install-script tests read the scripts through terraformUnescaped: here the engine does the same reading.
      const texts: string[] = [];
      for (const fleet of [validFleet(), ...hostileFleets()]) {
        const json = synthFleet(fleet);
        texts.push(...Object.values(json.locals[INSTALL_SCRIPTS_LOCAL] as Record<string, string>));
        for (const r of Object.values(json.resource.terraform_data) as { provisioner: { 'remote-exec': { inline: string[] } }[] }[]) {
          texts.push(r.provisioner[0]['remote-exec'].inline[1]); // the host's data lines (the others are references)
        }
      }
      expect(texts.some((t) => t.includes('$${'))).toBe(true);
      const outputs = applyOutputs(bin, { output: Object.fromEntries(texts.map((t, i) => [`t${i}`, { value: t }])) });
      expect(texts.map((_, i) => outputs[`t${i}`].value)).toEqual(texts.map(terraformUnescaped));
    }, 120_000);

    test('every string carrying user text comes back verbatim, and every user string comes back', () => {
      userStrings.clear();
      const carried: [string, string][] = [];
      for (const fleet of hostileFleets()) {
        const json = synthFleet(fleet);
        // The hive (locals.hive_nix_parts → output hive_nix) is Nix source, escaped for Nix and then for
        // Terraform, with server addresses interpolated: the hive's own tests read it back through Nix.
        carried.push(...strings(json).filter(([at, s]) => /ZQ\d+/.test(s) && !/^(locals\.hive_nix|output\.hive_nix)/.test(at)));
      }
      expect(carried.length).toBeGreaterThan(40);
      const config = { output: Object.fromEntries(carried.map(([, s], i) => [`s${i}`, { value: s }])) };
      const outputs = applyOutputs(bin, config);
      const back = carried.map(([where], i) => [where, outputs[`s${i}`].value] as const);
      const notVerbatim = back.filter(([, v]) => !userStrings.has(v as string));
      expect(notVerbatim).toEqual([]);
      const returned = new Set(back.map(([, v]) => v));
      expect([...userStrings].filter((u) => !returned.has(u))).toEqual([]);
    }, 120_000);
  });
}
