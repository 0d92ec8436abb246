/**
 * POSIX shell quoting for the scripts the install step runs on hosts.
 * The only way user-influenced values enter those scripts.
 */

/** Quotes a value as one POSIX shell word. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Terraform reads `${` and `%{` in any string as template syntax, so a script
 * meant literally must escape them. Our scripts avoid both on purpose; this
 * makes a regression fail loudly at synth instead of at apply.
 */
export function assertNoTerraformTemplate(script: string, what: string): string {
  if (script.includes('${') || script.includes('%{')) {
    throw new Error(`${what}: generated script contains Terraform template syntax ("\${" or "%{")`);
  }
  return script;
}
