// The fleet diagram (scripts/diagram.ts): the declaration → DOT step, rendered by the real
// Graphviz `dot`, and the escaping that keeps user strings from breaking DOT. The SVG checks
// skip (with the reason in the test name) when `dot` is not installed, except on CI.
import { spawnSync } from 'child_process';
import { fleet as exampleFleet } from '../main';
import { FleetDeclaration, HostDeclaration } from '../constructs/fleet-declaration';
import { fleetToDot, htmlLabelText, renderSvg } from '../scripts/diagram';

const DOT_AVAILABLE = !spawnSync('dot', ['-V']).error;
const ON_CI = process.env.CI === 'true';
/** SVG tests: run when `dot` exists, and always on CI (where a missing `dot` must fail). */
const withDot: jest.It = DOT_AVAILABLE || ON_CI ? it : it.skip;
const dotNote = DOT_AVAILABLE || ON_CI ? '' : ' [SKIPPED: Graphviz `dot` not installed; apt-get install graphviz]';

/** Visible text of an SVG or DOT HTML label: entities decoded, Graphviz's no-break spaces as spaces. */
function decodeXml(s: string): string {
  return s
    .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n) => String.fromCodePoint(parseInt(n, 16)))
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\u00a0/g, ' ');
}

/** The text lines Graphviz drew, in order. */
function svgTexts(svg: string): string[] {
  return [...svg.matchAll(/<text\b[^>]*>([^<]*)<\/text>/g)].map((m) => decodeXml(m[1]));
}

/** What each host and network must show, derived from the declaration (not from the DOT). */
function expectedFacts(fleet: FleetDeclaration): string[] {
  const facts: string[] = [];
  if (fleet.hetzner) facts.push(fleet.hetzner.ipRange, fleet.hetzner.subnetRange, fleet.hetzner.networkZone);
  if (fleet.digitalocean) facts.push(fleet.digitalocean.ipRange, fleet.digitalocean.region);
  for (const h of fleet.hosts) {
    facts.push(h.name, ...(h.tags ?? []));
    if (h.cloud === 'hetzner') facts.push(h.serverType, h.location, h.privateIp);
    if (h.cloud === 'digitalocean') facts.push(h.size, h.region, 'assigned by VPC');
    if (h.cloud === 'existing') facts.push(h.address, ...(h.privateIp ? [h.privateIp] : []));
  }
  return facts;
}

const existingMachines: HostDeclaration[] = [
  { name: 'home-nas', cloud: 'existing', address: 'nas.example.org', port: 2222, privateIp: '192.168.1.5', tags: ['home'] },
  { name: 'old-vps', cloud: 'existing', address: '2001:db8::7', alreadyNixos: true, user: 'deploy' },
];
const fleetWithExisting: FleetDeclaration = { ...exampleFleet, hosts: [...exampleFleet.hosts, ...existingMachines] };

/** Strings that would break DOT or markup if pasted in unescaped. */
const HOSTILE = [
  '"; } digraph evil { a -> b; //',
  '<B>bold</B> <TABLE> </TD></TR> ]]> <!-- x -->',
  'back\\slash \\N \\G \\L \\l \\\\ trailing\\',
  "&amp; &lt; &#60; it's",
  'ünïcödé 🚀 · — ✓',
];

describe('htmlLabelText', () => {
  it('leaves no markup, quote or single backslash in the escaped text', () => {
    for (const s of HOSTILE) {
      const e = htmlLabelText(s);
      expect(e).not.toMatch(/[<>"']/);
      // Every backslash comes in pairs: Graphviz turns `\\` back into one and substitutes nothing.
      expect(e.replace(/\\\\/g, '')).not.toContain('\\');
      // Every & starts an entity.
      expect(e.replace(/&(amp|lt|gt|quot|#39);/g, '')).not.toContain('&');
    }
  });

  it('replaces control characters XML forbids and flattens line breaks', () => {
    expect(htmlLabelText('a\u0000b\u0007c\u001bd')).toBe('a\ufffdb\ufffdc\ufffdd');
    expect(htmlLabelText('one\ntwo\r\nthree\tfour')).toBe('one two  three four');
    expect(htmlLabelText('lone \ud800 surrogate')).toBe('lone \ufffd surrogate');
  });
});

describe('fleetToDot', () => {
  it('shows every host and network of the example fleet with its facts', () => {
    const dot = fleetToDot(exampleFleet);
    const text = decodeXml(dot);
    for (const fact of expectedFacts(exampleFleet)) expect(text).toContain(fact);
    expect(dot).toContain('subgraph cluster_hetzner');
    expect(dot).toContain('subgraph cluster_digitalocean');
    expect(dot).not.toContain('cluster_existing'); // the example has no existing machine
  });

  it('puts existing machines in their own cluster with their address', () => {
    const dot = fleetToDot(fleetWithExisting);
    const existing = dot.slice(dot.indexOf('subgraph cluster_existing'));
    expect(decodeXml(existing)).toContain('root@nas.example.org:2222');
    expect(decodeXml(existing)).toContain('deploy@[2001:db8::7]:22');
    expect(decodeXml(existing)).toContain('already NixOS');
    expect(decodeXml(existing)).not.toContain('web-1');
  });

  it('uses generated ids only: no user string becomes a DOT identifier', () => {
    const dot = fleetToDot(fleetWithExisting);
    const ids = [...dot.matchAll(/^\s+(\w+) \[label=/gm)].map((m) => m[1]);
    expect(ids).toEqual(['net_hetzner', 'h0', 'h1', 'net_digitalocean', 'h2', 'h3', 'h4']);
  });
});

describe('fleet.svg via Graphviz dot' + dotNote, () => {
  withDot('every host and network of the example fleet (and existing machines) is drawn', () => {
    const texts = svgTexts(renderSvg(fleetToDot(fleetWithExisting))).join('\n');
    for (const fact of expectedFacts(fleetWithExisting)) expect(texts).toContain(fact);
  });

  withDot('hostile labels round-trip verbatim and do not change the graph', () => {
    const hostileFleet: FleetDeclaration = {
      ...exampleFleet,
      name: HOSTILE[0],
      hosts: HOSTILE.map((label, i): HostDeclaration => ({
        name: label, cloud: 'existing', address: `host${i}.example.org`, tags: [label],
      })),
    };
    const dot = fleetToDot(hostileFleet);
    const svg = renderSvg(dot);
    const texts = svgTexts(svg);
    for (const label of HOSTILE) {
      expect(texts).toContain(label); // the header line is exactly the host name
      expect(texts).toContain(`tags: ${label}`);
    }
    // Still exactly one graph with one node per host: nothing leaked into DOT syntax.
    const nodes = [...svg.matchAll(/<g id="node\d+" class="node">\s*<title>([^<]*)<\/title>/g)].map((m) => m[1]);
    expect(nodes).toEqual(HOSTILE.map((_, i) => `h${i}`));
    expect(svg.match(/<g id="graph\d+" class="graph"/g)).toHaveLength(1);
    expect(svg.match(/<svg\b/g)).toHaveLength(1);
  });

  withDot('control characters do not stop Graphviz', () => {
    const f: FleetDeclaration = {
      ...exampleFleet, hosts: [{ name: 'bell\u0007and\u0000nul', cloud: 'existing', address: 'a.example.org' }],
    };
    expect(svgTexts(renderSvg(fleetToDot(f)))).toContain('bell\ufffdand\ufffdnul');
  });

  withDot('reports a Graphviz syntax error instead of writing a broken SVG', () => {
    expect(() => renderSvg('graph { a -- }')).toThrow(/dot -Tsvg failed/);
  });

  it('says how to install Graphviz when the command is missing', () => {
    expect(() => renderSvg('graph {}', 'dot-that-does-not-exist')).toThrow(/apt-get install graphviz/);
  });
});
