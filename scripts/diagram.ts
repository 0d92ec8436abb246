/**
 * `npm run diagram`: draws the fleet declared in main.ts as docs/fleet.svg.
 *
 * One cluster per cloud, as each cloud adapter describes itself
 * (`describe()`: its private network and each host's facts), with the hosts
 * hanging off their network. Graphviz (`dot`, Debian package
 * `graphviz`) does the layout.
 *
 * The declaration → DOT step (`fleetToDot`) is pure and exported for tests.
 * Every user string reaches DOT only through `htmlLabelText`, inside an HTML
 * label; node and cluster ids are generated, never taken from the fleet.
 *
 * Usage (npm run diagram -- [options]):
 *   --out FILE   where to write the SVG (default docs/fleet.svg)
 *   --dot        print the DOT text to stdout instead of rendering
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CLOUD_ADAPTERS } from '../constructs/clouds';
import { DiagramFact } from '../constructs/cloud-adapter';
import { FleetDeclaration, HostDeclaration } from '../constructs/fleet-declaration';
import { validateFleet } from '../constructs/fleet-validation';
import { fleet } from '../main';

/** Hosts side by side in a cloud before the next row starts. */
const HOSTS_PER_ROW = 5;

/** A cloud's colour mixed with white (t > 0) or black (t < 0): cluster fill and network header. */
function shade(hex: string, t: number): string {
  const target = t > 0 ? 255 : 0;
  const k = Math.abs(t);
  const mix = (c: number): number => Math.round(c + (target - c) * k);
  const rgb = [1, 3, 5].map((o) => mix(parseInt(hex.slice(o, o + 2), 16)));
  return `#${rgb.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * Makes any string safe as text inside a Graphviz HTML label.
 *
 * - `& < > " '` become entities, so the text cannot close the label or open markup.
 * - `\` is doubled: Graphviz applies its escString substitutions (`\N` node
 *   name, `\G` graph name, `\\`) to HTML label text too, after decoding entities.
 * - Tabs and line breaks become spaces (a label row is one line).
 * - Characters XML 1.0 forbids (other C0 controls, U+FFFE/U+FFFF, lone
 *   surrogates) become U+FFFD: Graphviz parses HTML labels as XML and stops at them.
 */
export function htmlLabelText(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    switch (ch) {
      case '&': out += '&amp;'; break;
      case '<': out += '&lt;'; break;
      case '>': out += '&gt;'; break;
      case '"': out += '&quot;'; break;
      case "'": out += '&#39;'; break;
      case '\\': out += '\\\\'; break;
      case '\t': case '\n': case '\r': out += ' '; break;
      default:
        if (code < 0x20 || code === 0xfffe || code === 0xffff || (code >= 0xd800 && code <= 0xdfff)) out += '\ufffd';
        else out += ch;
    }
  }
  return out;
}

/** One row of a node's table: plain text (escaped here) or a styled cell. */
interface Row {
  readonly text: string;
  readonly bold?: boolean;
  /** Text colour, a fixed value from this file. */
  readonly color?: string;
}

/** An HTML-table node label: a coloured header and one row per fact. */
function tableLabel(header: string, headerColor: string, rows: Row[]): string {
  const cells = rows.map((r) => {
    let t = htmlLabelText(r.text);
    if (r.bold) t = `<B>${t}</B>`;
    if (r.color) t = `<FONT COLOR="${r.color}">${t}</FONT>`;
    return `<TR><TD ALIGN="LEFT">${t}</TD></TR>`;
  });
  return '<<TABLE BORDER="1" COLOR="' + headerColor + '" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" BGCOLOR="white">'
    + `<TR><TD BGCOLOR="${headerColor}"><FONT COLOR="white"><B>${htmlLabelText(header)}</B></FONT></TD></TR>`
    + cells.join('')
    + '</TABLE>>';
}

function attachedRow(hosts: number): Row {
  return { text: `${hosts} host${hosts === 1 ? '' : 's'} attached`, color: '#444444' };
}

function tagsRow(host: HostDeclaration): Row[] {
  return host.tags?.length ? [{ text: `tags: ${host.tags.join(', ')}`, color: '#444444' }] : [];
}

function extrasRows(host: HostDeclaration): Row[] {
  const rows: Row[] = [];
  for (const rule of host.firewallRules ?? []) {
    rows.push({ text: `opens ${rule.protocol}${rule.port ? `/${rule.port}` : ''}`, color: '#444444' });
  }
  if (host.module !== undefined) rows.push({ text: `module ${host.module}`, color: '#444444' });
  return rows;
}

/** A cloud adapter's plain facts as table rows. */
function factRows(facts: DiagramFact[]): Row[] {
  return facts.map((f) => ({ text: f.text, ...(f.emphasis ? { bold: true } : {}), ...(f.muted ? { color: '#444444' } : {}) }));
}

/**
 * Renders a fleet declaration as Graphviz DOT text. Pure: no I/O, no validation
 * (an invalid declaration still renders; `main` validates before drawing).
 */
export function fleetToDot(fleet: FleetDeclaration): string {
  const lines: string[] = [];
  const add = (s: string): void => { lines.push(s); };
  const title = `fleet ${fleet.name} · ${fleet.hosts.length} host${fleet.hosts.length === 1 ? '' : 's'}`
    + (fleet.nixChannel ? ` · ${fleet.nixChannel}` : '');

  add('// Generated by `npm run diagram` (scripts/diagram.ts) from main.ts. Do not edit.');
  add('graph fleet {');
  add('  graph [fontname="Helvetica,Arial,sans-serif", fontsize=12, rankdir=TB, nodesep=0.25, ranksep=0.45,'
    + ' newrank=true, labelloc=t, labeljust=l, pad=0.2];');
  add(`  label=<<B>${htmlLabelText(title)}</B>>;`);
  add('  node [shape=plain, fontname="Helvetica,Arial,sans-serif", fontsize=10];');
  add('  edge [color="#9aa0a6", penwidth=1.2];');

  // Generated ids (h0, h1, …) keep user strings out of DOT identifiers.
  const indexed = fleet.hosts.map((host, i) => ({ host, id: `h${i}` }));
  // Each cloud adapter describes its own cluster: nothing cloud-specific lives here.
  for (const adapter of CLOUD_ADAPTERS) {
    const cloud = adapter.cloud;
    const members = indexed.filter((x) => x.host.cloud === cloud);
    if (members.length === 0) continue;
    const d = adapter.describe(fleet);
    add(`  subgraph cluster_${cloud} {`);
    add(`    label=<<FONT COLOR="${d.color}"><B>${htmlLabelText(d.title)}</B></FONT>>;`);
    add(`    style="rounded,filled"; color="${d.color}"; fillcolor="${shade(d.color, 0.94)}"; penwidth=1.5; margin=12;`);

    let hub: string | undefined;
    if (d.network) {
      hub = `net_${cloud}`;
      add(`    ${hub} [label=${tableLabel(d.network.title, shade(d.color, -0.45), [...factRows(d.network.facts), attachedRow(members.length)])}];`);
    }
    for (const { host, id } of members) {
      add(`    ${id} [label=${tableLabel(host.name, d.color, [...factRows(d.hostFacts(host)), ...tagsRow(host), ...extrasRows(host)])}];`);
    }
    if (hub) {
      // Edges to the first row only: more would cross every row below. The
      // network's label says how many hosts are attached.
      for (const { id } of members.slice(0, HOSTS_PER_ROW)) add(`    ${hub} -- ${id};`);
    }
    // Stack hosts in rows of HOSTS_PER_ROW (invisible edges), or a big cloud becomes one very wide row.
    for (let i = HOSTS_PER_ROW; i < members.length; i++) {
      add(`    ${members[i - HOSTS_PER_ROW].id} -- ${members[i].id} [style=invis];`);
    }
    add('  }');
  }
  add('}');
  return lines.join('\n') + '\n';
}

/** Runs Graphviz `dot -Tsvg` on DOT text. Throws with an install hint when `dot` is missing. */
export function renderSvg(dotText: string, dotCommand = 'dot'): string {
  const result = spawnSync(dotCommand, ['-Tsvg'], { input: dotText, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (result.error) {
    const missing = (result.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(missing
      ? `Graphviz "${dotCommand}" not found: install it (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)`
      : `running ${dotCommand}: ${result.error.message}`);
  }
  if (result.status !== 0) throw new Error(`${dotCommand} -Tsvg failed (exit ${result.status}):\n${result.stderr}`);
  return result.stdout;
}

function main(argv: string[]): void {
  const root = path.resolve(__dirname, '..');
  let outFile = path.join(root, 'docs', 'fleet.svg');
  let printDot = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--dot') printDot = true;
    else if (argv[i] === '--out' && argv[i + 1]) outFile = path.resolve(argv[++i]);
    else throw new Error(`unknown argument ${JSON.stringify(argv[i])} (use --out FILE or --dot)`);
  }
  // Same checks as synth: draw only what `cdktf deploy` would build.
  validateFleet(fleet, CLOUD_ADAPTERS).throwIfAny();

  const dotText = fleetToDot(fleet);
  if (printDot) {
    process.stdout.write(dotText);
    return;
  }
  const svg = renderSvg(dotText);
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, svg);
  console.log(`wrote ${path.relative(process.cwd(), outFile) || outFile} (${fleet.hosts.length} hosts)`);
}

// In an esbuild bundle (scripts/app/run.js) `require.main === module` holds for every bundled
// module, so also check the script's name: importing this file must not run it.
if (require.main === module && path.parse(process.argv[1] ?? '').name === 'diagram') {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  }
}
