/**
 * .sops.yaml through the `yaml` library's Document API (issue 11, item 9):
 * whatever valid YAML the user writes in their part is read as YAML (not by
 * line patterns), and their comments and anchors survive a rewrite.
 */
import { parse } from 'yaml';
import { ed25519PublicKeyFromLine, ed25519PublicKeyToAgeRecipient } from '../scripts/lib/age-recipient';
import { BEGIN_MARKER, END_MARKER, parseAdmins, renderSopsConfig, splitSopsConfig } from '../scripts/secrets-recipients';
import { newEd25519PublicKey } from './support/real-terraform';

const recipient = (): string => ed25519PublicKeyToAgeRecipient(ed25519PublicKeyFromLine(newEd25519PublicKey('')));
const A = recipient();
const B = recipient();
const H = recipient();

const generated = (hostLine = 'hosts: []\ncreation_rules:'): string => `${BEGIN_MARKER}\n${hostLine}\n${END_MARKER}\n`;

describe('.sops.yaml as YAML', () => {
  test('admins in any YAML form: flow list, quoted, comments between entries', () => {
    expect(parseAdmins(`admins: [ &admin_a ${A}, "${B}" ]\n`, 'f')).toEqual([{ anchor: 'admin_a', recipient: A }, { recipient: B }]);
    const block = `admins:\n  # alice\n  - &admin_a '${A}'   # laptop\n\n  # bob\n  - ${B}\nother: 1\n`;
    expect(parseAdmins(block, 'f')).toEqual([{ anchor: 'admin_a', recipient: A }, { recipient: B }]);
  });

  test('invalid YAML and non-list admins are refused with a reason', () => {
    expect(() => parseAdmins('admins: [\n', 'f')).toThrow(/f is not valid YAML/);
    expect(() => parseAdmins(`admins:\n  alice: ${A}\n`, 'f')).toThrow(/"admins:" must be a list/);
    expect(() => parseAdmins('admins:\n  - [nested]\n', 'f')).toThrow(/cannot read this admins entry: "- \[nested\]"/);
  });

  test('the user part and their rules keep every comment and anchor, byte for byte; aliases resolve', () => {
    const head = `# my notes\nx-common: &common\n  shamir_threshold: 1 # keep\nadmins:\n  - &admin_a ${A}  # alice\n\n`;
    const tail = `  # shared file, my own rule\n  - path_regex: '(^|/)shared\\.yaml$'\n    key_groups:\n      - age: [ *admin_a ]\n`;
    const text = head + generated() + tail;
    const parts = splitSopsConfig(text, 'f');
    const out = renderSopsConfig(parts, parseAdmins(parts.head, 'f'), [{ name: 'web-1', recipient: H, note: 'SHA256:x at 10.0.0.1:22' }]);
    expect(out.startsWith(head)).toBe(true);
    expect(out.endsWith(`${END_MARKER}\n${tail}`)).toBe(true);
    const data = parse(out);
    expect(data.creation_rules).toEqual([
      { path_regex: '(^|/)web-1\\.yaml$', key_groups: [{ age: [A, H] }] },
      { path_regex: '(^|/)shared\\.yaml$', key_groups: [{ age: [A] }] },
    ]);
    expect(data['x-common']).toEqual({ shamir_threshold: 1 });
    // Read back: the host entry and its note come from the YAML, and a second render is identical.
    const again = splitSopsConfig(out, 'f');
    expect([...again.hosts.values()]).toEqual([{ name: 'web-1', recipient: H, note: 'SHA256:x at 10.0.0.1:22' }]);
    expect(renderSopsConfig(again, parseAdmins(again.head, 'f'), [...again.hosts.values()])).toBe(out);
  });

  test('a rule below the END marker that names an anchor nobody defines is refused before writing', () => {
    const text = `admins:\n  - &admin_a ${A}\n${generated()}  - path_regex: x\n    key_groups:\n      - age: [ *nobody ]\n`;
    const parts = splitSopsConfig.bind(null, text, 'f');
    expect(() => {
      const p = parts();
      renderSopsConfig(p, parseAdmins(p.head, 'f'), []);
    }).toThrow(/would not be valid YAML|not valid YAML/);
  });
});
