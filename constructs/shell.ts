/**
 * POSIX shell rendering for the scripts the install step runs on hosts: the
 * only way user-influenced values enter those scripts.
 *
 * The scripts themselves are .sh files (constructs/nixos-install.sh, ...);
 * `shellAssignments` renders their data as quoted assignments, so values are
 * data to the shell, never code.
 */

/** Quotes a value as one POSIX shell word. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The line of a script template that `renderShellScript` replaces with the data. */
const SHELL_DATA_MARKER = '# @DATA@';

const SHELL_NAME = /^[a-z_][a-z0-9_]*$/;

/** A script template cut at its data line: what comes before it and what comes after. */
export interface ShellTemplateParts {
  /** The lines before `# @DATA@` (the `#!` line and the header comment). */
  readonly head: string;
  /** The lines after it: the program, the same for every host. */
  readonly body: string;
}

/** Cuts a script template at its one `# @DATA@` line. */
export function splitShellTemplate(template: string, what: string): ShellTemplateParts {
  const lines = template.split('\n');
  const at = lines.indexOf(SHELL_DATA_MARKER);
  if (at < 0 || lines.indexOf(SHELL_DATA_MARKER, at + 1) >= 0) {
    throw new Error(`${what}: the script template must contain the line "${SHELL_DATA_MARKER}" exactly once`);
  }
  return { head: lines.slice(0, at).join('\n'), body: lines.slice(at + 1).join('\n') };
}

/**
 * The data lines of a script: one `name='value'` assignment per entry, in order,
 * joined by newlines. Names must be lower-case shell identifiers; values may hold
 * anything but NUL.
 */
export function shellAssignments(data: Record<string, string | number>, what: string): string {
  return Object.entries(data).map(([name, value]) => {
    if (!SHELL_NAME.test(name)) throw new Error(`${what}: ${JSON.stringify(name)} is not a shell variable name`);
    const text = String(value);
    if (text.includes('\0')) throw new Error(`${what}: ${name} contains a NUL character`);
    return `${name}=${shellQuote(text)}`;
  }).join('\n');
}
