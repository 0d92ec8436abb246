/**
 * The Nix rendering helpers, checked against the real parsers: every string
 * rendered by constructs/nix.ts must evaluate (nix-instantiate) to exactly the
 * input, also after a trip through real Terraform (the hive is a Terraform output).
 */
import { TerraformOutput, TerraformStack, TerraformVariable, Testing } from 'cdktf';
import {
  NixExpr, nix, nixAttrName, nixAttrs, nixIndentedString, nixInt, nixList, nixPath, nixString, splitTokens,
  terraformTemplateSafe, toNix,
} from '../constructs/nix';
import { NIX, TERRAFORM, describeWith, nixEval, seededRandom, terraformApplyOutputs } from './support/nix-tools';

const ADVERSARIAL: string[] = [
  '',
  'plain',
  '"',
  '""',
  '\\',
  '\\\\',
  '\\"',
  '${x}',
  '\\${x}',
  '$${x}',
  '$$${x}',
  '${',
  '$',
  'a$',
  '$"',
  '$\\',
  '}',
  '{',
  "''",
  "'''",
  "''${x}",
  "''\\n",
  "'",
  "a'",
  "a''",
  "a'''\n'",
  '%{ if true }x%{ endif }',
  '%%{',
  '%',
  'line 1\nline 2\n',
  '\n',
  '\n\n',
  '\r\n',
  '\t',
  '  leading spaces',
  '\tleading tab\n  two\n    four',
  ' \n  \n',
  'trailing space ',
  'ünïcödé ✓ 日本語',
  'emoji 😀 🏳️‍🌈',
  '\u0001\u001f\u007f',
  '#{not a token}',
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDTs0hobzL/DOcKlNVwncDZ6nJBtJOJ90zWelEFsMO+b a "quoted" ${comment}',
];

/** Deterministic random strings over the characters that matter to Nix and Terraform. */
function generated(count: number): string[] {
  const alphabet = ['$', '{', '}', '\\', '"', "'", '%', '\n', '\r', '\t', ' ', 'a', 'é', '😀', '/', '#', '&'];
  const random = seededRandom(20261122);
  return Array.from({ length: count }, () => {
    const length = Math.floor(random() * 16);
    return Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
  });
}

const CASES = [...ADVERSARIAL, ...generated(300)];

describe('rendering (no tools needed)', () => {
  test('double-quoted strings use the documented escapes only', () => {
    expect(nixString('a"b\\c${d}$e\nf\tg\rh').code).toBe('"a\\"b\\\\c\\${d}$e\\nf\\tg\\rh"');
    expect(nixString('').code).toBe('""');
    expect(nixString('ünï 😀').code).toBe('"ünï 😀"');
  });

  test('attribute names are bare only when Nix allows it', () => {
    expect(nixAttrName('web-1').code).toBe('web-1');
    expect(nixAttrName("a'b_c").code).toBe("a'b_c");
    expect(nixAttrName('1abc').code).toBe('"1abc"');
    expect(nixAttrName('if').code).toBe('"if"');
    expect(nixAttrName('or').code).toBe('"or"');
    expect(nixAttrName('a.b').code).toBe('"a.b"');
    expect(nixAttrName('${x}').code).toBe('"\\${x}"');
  });

  test('paths only for plain relative paths', () => {
    expect(nixPath('hosts/web-1.nix').code).toBe('./hosts/web-1.nix');
    for (const bad of ['/etc/passwd', '../x.nix', 'a/../b.nix', 'a//b', 'a/./b', 'a b.nix', 'x${y}.nix', '', 'a/']) {
      expect(() => nixPath(bad)).toThrow(/not a plain relative path/);
    }
  });

  test('NUL and unregistered token markers are refused', () => {
    expect(() => nixString('a\0b')).toThrow(/NUL/);
    expect(() => nixString('${TfToken[TOKEN.999999]}')).toThrow(/Unrecognized Token/);
    expect(() => nixString('#{TfToken[TOKEN.1]}')).toThrow(/cdktf token/);
    expect(() => nixIndentedString('#{TfToken[TOKEN.1]}')).toThrow(/cdktf token/);
  });

  test('the nix tag only splices NixExpr values', () => {
    const user = 'x"; evil = true; y = "';
    expect(() => nix`{ a = ${user as unknown as NixExpr}; }`).toThrow(/not a NixExpr/);
    expect(nix`{ a = ${nixString(user)}; }`.code).toBe('{ a = "x\\"; evil = true; y = \\""; }');
  });

  test('integers, negative ones in parentheses; no fractions', () => {
    expect(nixInt(22).code).toBe('22');
    expect(nixInt(-1).code).toBe('(-1)');
    expect(() => nixInt(1.5)).toThrow(/not an integer/);
  });

  test('cdktf tokens stay tokens, each in a Nix string of its own', () => {
    const stack = new TerraformStack(Testing.app(), 'tokens');
    const address = new TerraformVariable(stack, 'address', { type: 'string' }).stringValue;
    expect(nixString(address).code).toBe(`"${address}"`);
    expect(nixString(`$${address}:22`).code).toBe(`("$" + "${address}" + ":22")`);
    expect(splitTokens(`a${address}b${address}`).map((f) => f.kind)).toEqual(['literal', 'token', 'literal', 'token']);
    expect(splitTokens(`${address}${address}c`).map((f) => f.kind)).toEqual(['token', 'token', 'literal']);
    expect(() => nixAttrName(address)).toThrow(/cannot be Terraform tokens/);
    expect(() => terraformTemplateSafe(`x$${address}`)).toThrow(/literal "\$" directly before/);
    expect(terraformTemplateSafe(nixString(`$${address}`).code)).toBe(`("$" + "${address}")`);
  });
});

describeWith([NIX], 'Nix evaluates rendered values back to the input', () => {
  test('double-quoted strings: adversarial and generated', () => {
    const expr = `[ ${CASES.map((c) => nixString(c).code).join('\n')} ]`;
    expect(nixEval<string[]>(expr)).toEqual(CASES);
  });

  test("indented ('') strings: adversarial and generated", () => {
    const withLines = [...CASES, 'a\n b\n  c', ' x\n y\n', '\n\n  \n', "  ''\n  ${a}\n"];
    const expr = `[\n${withLines.map((c) => nixIndentedString(c).code).join('\n')}\n]`;
    expect(nixEval<string[]>(expr)).toEqual(withLines);
  });

  test('attribute names', () => {
    const names = ['web-1', 'if', 'or', 'inherit', '__curPos', 'a.b', '1abc', '', ' ', '${x}', '"', 'ünï', 'a b', "it's"];
    const set = nixAttrs(names.map((n) => [n, n] as const));
    const result = nixEval<Record<string, string>>(set.code);
    expect(Object.keys(result).sort()).toEqual([...names].sort());
    for (const n of names) expect(result[n]).toBe(n);
  });

  test('data: lists, nested sets, numbers, booleans, null, attribute paths', () => {
    const data = { list: ['a', 'b${c}', 1, -2, true, null, ['x'], { k: 'v' }], nested: { 'a b': { c: false } } };
    expect(nixEval(toNix(data).code)).toEqual(data);
    const withPath = nixAttrs([[['networking', 'hostName'], 'web-1'], [['a', 'if'], 1]]);
    expect(nixEval(withPath.code)).toEqual({ networking: { hostName: 'web-1' }, a: { if: 1 } });
    expect(nixEval(nixList([nix`builtins.toString ${nixInt(5)}`, nixString('x')]).code)).toEqual(['5', 'x']);
  });

  test('multi-line values spliced with the nix tag keep their exact content', () => {
    const script = 'line 1\n  indented ${VAR}\n\ttab\n';
    const code = nix`{
      a = {
        script = ${nixIndentedString(script)};
      };
    }`;
    expect(nixEval(code.code)).toEqual({ a: { script } });
  });
});

describeWith([NIX, TERRAFORM], 'Terraform then Nix give back the input', () => {
  test('literal strings through a real terraform apply', () => {
    const outputs: Record<string, { value: string }> = {};
    CASES.forEach((c, i) => {
      outputs[`case_${i}`] = { value: terraformTemplateSafe(nixString(c).code) };
      outputs[`indented_${i}`] = { value: terraformTemplateSafe(nixIndentedString(c).code) };
    });
    const applied = terraformApplyOutputs({ output: outputs });
    const nixSource = CASES.map((_, i) => String(applied[`case_${i}`].value));
    const nixIndented = CASES.map((_, i) => String(applied[`indented_${i}`].value));
    // Terraform hands back exactly the Nix source we rendered...
    expect(nixSource).toEqual(CASES.map((c) => nixString(c).code));
    // ...and Nix reads it as the original strings.
    expect(nixEval<string[]>(`[ ${nixSource.join('\n')} ]`)).toEqual(CASES);
    expect(nixEval<string[]>(`[\n${nixIndented.join('\n')}\n]`)).toEqual(CASES);
  });

  test('tokens in a synthesized cdktf stack are substituted by Terraform, literal text is not', () => {
    const stack = new TerraformStack(Testing.app(), 'roundtrip');
    const address = new TerraformVariable(stack, 'address', { type: 'string' }).stringValue;
    const tricky = ['${x}', '%{ if true }', '$', '$${y}', '"\\'];
    const value = nix`{
      host = ${nixString(address)};
      url = ${nixString(`http://[${address}]:80/$`)};
      tricky = ${toNix(tricky)};
      antiquote = "\${builtins.toString 1}";
    }`;
    new TerraformOutput(stack, 'hive', { staticId: true, value: terraformTemplateSafe(value.code) });
    const synthesized = JSON.parse(Testing.synth(stack));
    expect(synthesized.output.hive.value).toContain('"${var.address}"');
    const applied = terraformApplyOutputs(synthesized, { address: '2001:db8::1' });
    expect(nixEval(String(applied.hive.value))).toEqual({
      host: '2001:db8::1',
      url: 'http://[2001:db8::1]:80/$',
      tricky,
      antiquote: '1',
    });
  });
});
