/**
 * The one way a user's string enters the Terraform JSON.
 *
 * Every string in cdk.tf.json is a Terraform template: `${…}` interpolates,
 * `%{…}` runs a directive. A user string (a key comment, a rule description,
 * a key name) must arrive as the literal text, so each goes through
 * `terraformLiteral` in the adapter that places it.
 *
 * Two layers read the string, and both are neutralised:
 * - Terraform: `${` → `$${` and `%{` → `%%{` (its template escapes).
 * - cdktf: before writing the JSON it replaces its token markers
 *   (`${TfToken[…]}`, `#{TfToken[…]}`, `&{TfToken[…]}`) with the values of
 *   real tokens — any variable or attribute of the stack. Text that merely
 *   spells a marker is written so that no marker appears in it: the `{` is
 *   produced by a Terraform interpolation of a string constant instead.
 */

const SPECIAL = /\$+\{TfToken\[|#\{TfToken\[|&\{TfToken\[|\$\{|%\{/g;

function escape(m: string): string {
  // `$…${TfToken[`: all the dollars come from one interpolated constant, so no
  // literal "$" is left before it to turn its "${" into the escape "$${".
  if (m.endsWith('{TfToken[') && m.startsWith('$')) return `\${"${m.slice(0, -'{TfToken['.length)}"}{TfToken[`;
  if (m.endsWith('{TfToken[')) return `${m[0]}\${"{"}TfToken[`;
  return m === '${' ? '$${' : '%%{';
}

/** `text` written so Terraform (and cdktf) read exactly `text`. */
export function terraformLiteral(text: string): string {
  if (typeof text !== 'string') throw new TypeError(`terraformLiteral: expected a string, got ${typeof text}`);
  return text.replace(SPECIAL, escape);
}

/** terraformLiteral for each item. */
export function terraformLiterals(texts: readonly string[]): string[] {
  return texts.map(terraformLiteral);
}

/** terraformLiteral for each key and value (labels and tags are maps). */
export function terraformLiteralMap(map: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [terraformLiteral(k), terraformLiteral(v)]));
}

/**
 * A user string as an HCL string literal inside a Terraform expression
 * (`"..."` with HCL's own quoting), its text literal as above.
 */
export function hclStringLiteral(text: string): string {
  return JSON.stringify(terraformLiteral(text));
}
