/**
 * Nix source rendering: the one way any value enters generated Nix (hive.nix).
 *
 * The hive text passes through two languages, and each escapes exactly once:
 *
 *  1. Nix. `nixString`, `nixIndentedString`, `nixAttrName`, `nixPath`,
 *     `nixInt`, `nixBool`, `toNix` turn values into Nix source (`NixExpr`).
 *     Generated code is assembled with the `nix` template tag, which only
 *     accepts `NixExpr` values: a plain string cannot be spliced into Nix by
 *     accident.
 *  2. Terraform. The hive reaches the user's disk as a Terraform output, and
 *     Terraform reads `${` and `%{` in every string as template syntax.
 *     `terraformTemplateSafe` escapes the literal text of the finished Nix
 *     source (`$${`, `%%{`) and leaves cdktf tokens (a server's address, known
 *     only at apply time) as tokens, so Terraform substitutes their values.
 *
 * Token values are cloud-computed addresses and ids (digits, hex, `.`, `:`,
 * `-`): they are placed into Nix strings unescaped, which is why each token
 * becomes a Nix string of its own (see `nixString`).
 */
import { Token, Tokenization } from 'cdktf';
import { terraformLiteral } from './terraform-literal';

/** A piece of Nix source. Build it with the functions of this module, never from user input. */
export class NixExpr {
  /**
   * Nix source written in this repository. Never pass user input here: render
   * it with `nixString` & co. and splice it with the `nix` tag.
   */
  public static raw(code: string): NixExpr {
    return new NixExpr(code, false);
  }

  /** Code that needs no parentheses as a list item or function argument (literal, list, set, name). */
  public static atom(code: string): NixExpr {
    return new NixExpr(code, true);
  }

  private constructor(public readonly code: string, public readonly isAtom: boolean) {}

  public toString(): string {
    return this.code;
  }
}

/**
 * Template tag for generated Nix code: the literal parts are code written here,
 * every `${...}` must be a `NixExpr`. A multi-line value is indented to the
 * column it is spliced at (safe for `''` strings: Nix strips their common indentation).
 */
export function nix(strings: TemplateStringsArray, ...values: NixExpr[]): NixExpr {
  let out = strings[0];
  values.forEach((value, i) => {
    if (!(value instanceof NixExpr)) {
      throw new Error(`nix\`\`: value ${i} is a ${typeof value}, not a NixExpr; render it with nixString(), nixInt(), ...`);
    }
    const lineStart = out.lastIndexOf('\n') + 1;
    const indent = /^ */.exec(out.slice(lineStart))![0];
    out += indentContinuation(value.code, indent) + strings[i + 1];
  });
  return NixExpr.raw(out);
}

/** Indents every line but the first; empty lines stay empty (no trailing blanks). */
export function indentContinuation(code: string, indent: string): string {
  if (indent === '') return code;
  return code.split('\n').map((line, i) => (i === 0 || line === '' ? line : indent + line)).join('\n');
}

// ------------------------------------------------------------------ tokens

/** A piece of a string: literal text, or a cdktf token marker (`${TfToken[TOKEN.n]}`). */
export type StringFragment =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'token'; readonly text: string };

/** Splits a string into literal text and cdktf token markers, in order (cdktf's own tokenizer). */
export function splitTokens(value: string): StringFragment[] {
  const fragments: StringFragment[] = [];
  let pos = 0;
  for (const token of Tokenization.reverseString(value).tokens) {
    const marker = Token.asString(token);
    const at = value.indexOf(marker, pos);
    if (at < 0) throw new Error(`internal error: token marker ${marker} not found in ${JSON.stringify(value)}`);
    if (at > pos) fragments.push({ kind: 'literal', text: value.slice(pos, at) });
    fragments.push({ kind: 'token', text: marker });
    pos = at + marker.length;
  }
  if (pos < value.length) fragments.push({ kind: 'literal', text: value.slice(pos) });
  return fragments;
}

function checkLiteral(text: string, what: string): void {
  if (text.includes('\0')) throw new Error(`${what}: Nix strings cannot hold a NUL character`);
  // A marker cdktf did not recognise: an unregistered token, or a list/map token used as a string.
  if (/[$#&]\{TfToken\[/.test(text)) {
    throw new Error(`${what}: contains a cdktf token that is not a string token: ${JSON.stringify(text)}`);
  }
}

// ------------------------------------------------------------------ strings

/**
 * The content of a Nix double-quoted string for `text` (without the quotes).
 * Rules: `\` → `\\`, `"` → `\"`, `${` → `\${`, newline → `\n`, CR → `\r`,
 * tab → `\t`. Everything else (a lone `$`, `''`, unicode) stands for itself.
 */
export function escapeNixString(text: string): string {
  checkLiteral(text, 'nixString');
  return text.replace(/[\\"\n\r\t]|\$\{/g, (m) => DOUBLE_QUOTED_ESCAPES[m]);
}

const DOUBLE_QUOTED_ESCAPES: Record<string, string> = {
  '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t', '${': '\\${',
};

/**
 * A Nix string expression for `value`. cdktf tokens inside stay tokens: each
 * becomes a Nix string of its own, joined with `+` (`("a" + "<token>")`), so
 * the token's value is never next to escaped text (a literal `$` right before
 * a token would turn Terraform's `${` into its `$${` escape).
 */
export function nixString(value: string): NixExpr {
  if (typeof value !== 'string') throw new Error(`nixString: expected a string, got ${typeof value}`);
  const pieces = splitTokens(value).map((f) => (f.kind === 'token' ? `"${f.text}"` : `"${escapeNixString(f.text)}"`));
  if (pieces.length === 0) return NixExpr.atom('""');
  if (pieces.length === 1) return NixExpr.atom(pieces[0]);
  return NixExpr.atom(`(${pieces.join(' + ')})`);
}

/**
 * A Nix indented string (`''...''`) holding exactly `text`; for multi-line
 * text such as scripts, which stay readable in the generated file. No tokens.
 * Rules: every `'` → `''\'` (a bare quote could merge with a neighbouring
 * `''` escape or the closing `''`, so scripts should prefer double quotes),
 * `${` → `''${`, CR → `''\r`; every non-empty line is prefixed with two
 * spaces, and Nix's indentation stripping must remove exactly that prefix: a
 * line's first space is written `''\ ` when the line is all spaces, or when no
 * line starts with a non-space character; `\` and a lone `$` are literal.
 */
export function nixIndentedString(text: string): NixExpr {
  if (typeof text !== 'string') throw new Error(`nixIndentedString: expected a string, got ${typeof text}`);
  checkLiteral(text, 'nixIndentedString');
  if (splitTokens(text).some((f) => f.kind === 'token')) {
    throw new Error('nixIndentedString: cdktf tokens are not supported here; use nixString');
  }
  if (text === '') return NixExpr.atom("''''");
  const escaped = text.replace(/'|\$\{|\r/g, (m) => INDENTED_ESCAPES[m]).split('\n');
  // Nix strips the smallest indentation of the lines that are not all spaces.
  // One such line starting with a non-space keeps it at our prefix; if there is
  // none, each line's first space is escaped so it does not count as indentation.
  // All-space lines are always escaped: Nix treats them specially (e.g. drops a
  // last one before the closing '').
  const keepsIndentation = escaped.some((line) => /[^ ]/.test(line) && !line.startsWith(' '));
  const lines = escaped.map((line) => {
    if (line === '') return '';
    const allSpaces = !/[^ ]/.test(line);
    const escapeFirstSpace = line.startsWith(' ') && (allSpaces || !keepsIndentation);
    return '  ' + (escapeFirstSpace ? "''\\ " + line.slice(1) : line);
  });
  // The empty first line after the opening '' is dropped by Nix; a final
  // empty line (text ending in a newline) puts the closing '' on its own line.
  return NixExpr.atom(`''\n${lines.join('\n')}''`);
}

const INDENTED_ESCAPES: Record<string, string> = { "'": "''\\'", '${': "''${", '\r': "''\\r" };

// ------------------------------------------------------------------ names, paths, scalars

/** Words that cannot be bare attribute names (Nix keywords and `__curPos`). */
export const NIX_KEYWORDS: ReadonlySet<string> = new Set([
  'if', 'then', 'else', 'assert', 'with', 'let', 'in', 'rec', 'inherit', 'or', '__curPos',
]);

const BARE_ATTR_NAME = /^[a-zA-Z_][a-zA-Z0-9_'-]*$/;

/** An attribute name: bare when Nix allows it, else a quoted string. Never a token. */
export function nixAttrName(name: string): NixExpr {
  if (typeof name !== 'string') throw new Error(`nixAttrName: expected a string, got ${typeof name}`);
  if (Token.isUnresolved(name)) throw new Error(`nixAttrName: attribute names cannot be Terraform tokens: ${name}`);
  if (BARE_ATTR_NAME.test(name) && !NIX_KEYWORDS.has(name)) return NixExpr.atom(name);
  return NixExpr.atom(`"${escapeNixString(name)}"`);
}

/** An attribute path `a.b."c d"`. */
export function nixAttrPath(path: readonly string[]): NixExpr {
  if (path.length === 0) throw new Error('nixAttrPath: empty path');
  return NixExpr.raw(path.map((p) => nixAttrName(p).code).join('.'));
}

const PATH_SEGMENT = /^[A-Za-z0-9._+-]+$/;

/**
 * A path relative to the generated file (`hosts/web-1.nix` → `./hosts/web-1.nix`).
 * Only plain relative paths inside the project: segments of `A-Za-z0-9._+-`,
 * no `.`/`..`, no empty segment (everything else is not a Nix path literal).
 */
export function nixPath(relative: string): NixExpr {
  if (!isNixRelativePath(relative)) {
    throw new Error(`nixPath: not a plain relative path inside the project: ${JSON.stringify(relative)}`);
  }
  return NixExpr.atom(`./${relative}`);
}

export function isNixRelativePath(relative: unknown): relative is string {
  return typeof relative === 'string' && relative.split('/').every((s) => PATH_SEGMENT.test(s) && s !== '.' && s !== '..');
}

export function nixBool(value: boolean): NixExpr {
  if (typeof value !== 'boolean') throw new Error(`nixBool: expected a boolean, got ${typeof value}`);
  return NixExpr.atom(value ? 'true' : 'false');
}

/** An integer; a cdktf number token becomes its token marker (Terraform writes the number). */
export function nixInt(value: number): NixExpr {
  if (Token.isUnresolved(value)) return NixExpr.atom(Tokenization.stringifyNumber(value));
  if (!Number.isSafeInteger(value)) throw new Error(`nixInt: not an integer: ${value}`);
  return NixExpr.atom(value < 0 ? `(${value})` : String(value));
}

export const NIX_NULL = NixExpr.atom('null');

/**
 * Comment lines (`# ...`), one per line of `text`. Every line gets its own `#`,
 * so no text can end the comment; tokens are refused (comments are not substituted on purpose).
 */
export function nixComment(text: string): NixExpr {
  if (typeof text !== 'string') throw new Error(`nixComment: expected a string, got ${typeof text}`);
  checkLiteral(text, 'nixComment');
  if (text.includes('\r')) throw new Error('nixComment: carriage returns are not allowed');
  if (splitTokens(text).some((f) => f.kind === 'token')) throw new Error('nixComment: cdktf tokens are not allowed in comments');
  return NixExpr.raw(text.split('\n').map((line) => (line === '' ? '#' : `# ${line}`)).join('\n'));
}

// ------------------------------------------------------------------ data

/** Plain data `toNix` renders. `undefined` attribute values are left out. */
export type NixValue =
  | string | number | boolean | null | NixExpr
  | readonly NixValue[]
  | { readonly [name: string]: NixValue | undefined };

/**
 * Renders data as Nix: strings through `nixString`, numbers through `nixInt`,
 * arrays as lists, objects as attribute sets (one attribute per line, keys
 * through `nixAttrName`), `NixExpr` as is.
 */
export function toNix(value: NixValue): NixExpr {
  if (value instanceof NixExpr) return value;
  if (value === null) return NIX_NULL;
  switch (typeof value) {
    case 'string': return nixString(value);
    case 'number': return nixInt(value);
    case 'boolean': return nixBool(value);
  }
  if (Array.isArray(value)) return nixList(value.map(toNix));
  if (typeof value === 'object') return nixAttrs(Object.entries(value as Record<string, NixValue | undefined>));
  throw new Error(`toNix: cannot render a ${typeof value}`);
}

/** A list; short lists of short items on one line. */
export function nixList(items: readonly NixExpr[]): NixExpr {
  if (items.length === 0) return NixExpr.atom('[ ]');
  // List items are applications' arguments: anything but an atom needs parentheses.
  const codes = items.map((i) => (i.isAtom ? i.code : `(${i.code})`));
  const oneLine = `[ ${codes.join(' ')} ]`;
  if (oneLine.length <= 80 && !oneLine.includes('\n')) return NixExpr.atom(oneLine);
  return NixExpr.atom(`[\n${codes.map((c) => `  ${indentContinuation(c, '  ')}`).join('\n')}\n]`);
}

/** An attribute set from `[name or path, value]` entries; undefined values are skipped. */
export function nixAttrs(entries: ReadonlyArray<readonly [string | readonly string[], NixValue | undefined]>): NixExpr {
  const lines = entries
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => {
      const name = typeof k === 'string' ? nixAttrName(k) : nixAttrPath(k);
      return `  ${name.code} = ${indentContinuation(toNix(v as NixValue).code, '  ')};`;
    });
  return NixExpr.atom(lines.length === 0 ? '{ }' : `{\n${lines.join('\n')}\n}`);
}

// ------------------------------------------------------------------ Terraform layer

/**
 * Makes finished Nix source safe as a Terraform string: its literal text goes
 * through terraformLiteral (Terraform's template escapes), its cdktf tokens
 * are kept, so Terraform substitutes their values at apply time.
 * Apply it once, to the whole text, after all Nix rendering.
 */
export function terraformTemplateSafe(text: string): string {
  const fragments = splitTokens(text);
  return fragments.map((f, i) => {
    if (f.kind === 'token') return f.text;
    // Literal text passes the one Terraform-literal helper; the tokens stay references.
    const escaped = terraformLiteral(f.text);
    if (escaped.endsWith('$') && fragments[i + 1]?.kind === 'token') {
      // `$` + `${ref}` would read as the escape `$${`. nixString never does this.
      throw new Error(`terraformTemplateSafe: a literal "$" directly before a Terraform token cannot be expressed: ${JSON.stringify(f.text)}`);
    }
    return escaped;
  }).join('');
}
