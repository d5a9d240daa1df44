import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { runTrace } from '../../src/commands/trace.js';
import { runClusterTrace } from '../../src/commands/trace-cluster.js';
import type { Trace } from '../../src/model/trace.js';
import { journeyDiagram, traceDiagram, type Diagram } from '../../src/render/diagram/model.js';
import { renderMermaid } from '../../src/render/diagram/mermaid.js';
import { renderDot } from '../../src/render/diagram/dot.js';
import { renderSvg } from '../../src/render/diagram/svg.js';
import { clean } from '../../src/render/diagram/escape.js';
import { badMermaidLines, dotNodeLabels, mermaidNodeLabels, tokenizeDot } from '../helpers/diagram-syntax.js';
import { findAll, parseXml, textOf } from '../helpers/xml.js';

const fx = (p: string) => fileURLToPath(new URL(`../../fixtures/snapshots/${p}`, import.meta.url));
const trace = async (snap: string, req: Parameters<typeof runTrace>[1]) =>
  (await runTrace(dirSource(fx(snap)), req)).trace;

/** Every format, checked for syntax, with the labels a viewer would show. */
function renderAll(d: Diagram) {
  const mermaid = renderMermaid(d);
  const dot = renderDot(d);
  const svg = renderSvg(d);
  expect(badMermaidLines(mermaid)).toEqual([]);
  expect(() => tokenizeDot(dot)).not.toThrow();
  const xml = parseXml(svg);
  expect(xml.name).toBe('svg');
  return { mermaid, dot, svg, xml, mLabels: mermaidNodeLabels(mermaid), dLabels: dotNodeLabels(dot) };
}

describe('diagram model from real traces', () => {
  it('kind-v4 pod → remote pod: a chain from the pod netns through the programs to the next hop, SNAT decision on the arrow', async () => {
    const t = await trace('kind-v4/k1', { src: '10.244.1.12', dst: '10.244.2.7', proto: 'tcp', port: 8080 });
    const d = traceDiagram(t);
    // source, every hop but the masquerade decision, and the FORWARDED end
    expect(d.nodes.map((n) => n.lines[0])).toEqual([
      'pod default/web-k1a',
      'route in the pod',
      'cil_from_container',
      'FIB lookup (bpf_fib_lookup)',
      'bpf_redirect_neigh',
      'cil_to_netdev',
      'FORWARDED',
    ]);
    expect(d.nodes.at(-1)!.lines).toContain('leaves towards 172.18.0.3');
    // one straight chain
    expect(d.edges.map((e) => [e.from, e.to])).toEqual(d.nodes.slice(1).map((n, i) => [d.nodes[i]!.id, n.id]));
    expect(d.edges.at(-1)!.label).toBe('no SNAT: destination inside 10.244.0.0/16');
    const netns = d.groups.find((g) => g.label === 'netns cni-5f0c1d2e-k1a')!;
    expect(d.nodes.filter((n) => n.group === netns.id).map((n) => n.lines[0])).toEqual([
      'pod default/web-k1a',
      'route in the pod',
    ]);
    expect(d.groups.find((g) => !g.parent)!.label).toBe('node k1');
    // evidence travels as tooltips
    expect(d.nodes[2]!.tooltip).toContain('tc-filter/lxc6d1e0f2a3b4c.ingress: filter protocol all pref 1 bpf');
  });

  it('kind-v4-svc pod → ClusterIP: socket-LB as a node, DNAT on its arrow, the other backend as a dashed branch', async () => {
    const t = await trace('kind-v4-svc/k1', { src: '10.244.1.12', dst: '10.96.0.10', proto: 'udp', port: 53 });
    const d = traceDiagram(t);
    const lb = d.nodes.find((n) => n.shape === 'lb')!;
    expect(lb.lines[0]).toBe('socket-LB cil_sock4_connect');
    const out = d.edges.filter((e) => e.from === lb.id);
    expect(out.find((e) => e.style === 'solid')!.label).toBe('DNAT 10.96.0.10:53/ANY → 10.244.1.57:53');
    const alt = out.find((e) => e.style === 'dashed')!;
    expect(alt.label).toBe('or DNAT → 10.244.2.7:53');
    const branch = d.nodes.find((n) => n.id === alt.to)!;
    expect(branch.branchOf).toBe(lb.id);
    expect(branch.lines.slice(0, 2)).toEqual(['other backend 10.244.2.7:53', 'FORWARDED:']);
    expect(d.nodes.at(-1)!.lines[0]).toBe('DELIVERED');
    expect(d.nodes.at(-1)!.tone).toBe('ok');
  });

  it('NodePort from outside: tc-LB DNAT and the NodePort SNAT both written on arrows', async () => {
    const t = await trace('kind-v4-svc/k1', { src: '203.0.113.50', dst: '172.18.0.2', proto: 'tcp', port: 31940 });
    const d = traceDiagram(t);
    const labels = d.edges.map((e) => e.label).filter(Boolean);
    expect(
      labels.some((l) => /^DNAT 172\.18\.0\.2:31940\/\w+ → 10\.244\.\d+\.\d+:\d+ · SNAT 203\.0\.113\.50 → /.test(l!)),
    ).toBe(true);
  });

  it('a conntrack entry that pins the connection shows its translation', async () => {
    const t = await trace('conntrack/np-ct-node', {
      src: '192.0.2.2',
      dst: '192.0.2.100',
      proto: 'tcp',
      port: 80,
      sport: 40001,
    });
    const hop = t.hops.find((h) => h.kind === 'conntrack')!;
    expect(hop.backend).toBeDefined();
    const n = traceDiagram(t).nodes.find((x) => x.tooltip?.startsWith('[conntrack]'))!;
    expect(n.lines).toEqual(['conntrack (existing entry)', `DNAT → ${hop.backend}`]);
  });

  it('a drop is a red end node reached by a red arrow', async () => {
    const t = await trace('v6-wg/gateway', { src: '2001:db8:1::10', dst: '2001:db8:77::1', proto: 'tcp' });
    const d = traceDiagram(t);
    const end = d.nodes.at(-1)!;
    expect(end.lines[0]).toBe('NO ROUTE');
    expect(end.tone).toBe('bad');
    expect(d.edges.find((e) => e.to === end.id)!.tone).toBe('bad');
    expect(d.title).toMatch(/— NO ROUTE$/);
  });

  it('cluster journey: one column per node, the hop between nodes labelled, the reply as a note when symmetric', async () => {
    const { journey } = await runClusterTrace(fx('v6-wg'), {
      src: '2001:db8:42::a:5',
      dst: '2001:db8:42::c:9',
      proto: 'tcp',
      port: 443,
    });
    const d = journeyDiagram(journey);
    expect(d.groups.filter((g) => !g.parent).map((g) => g.label)).toEqual([
      'node node-a',
      'node gateway',
      'node node-c',
    ]);
    const cross = d.edges.filter((e) => {
      const col = (id: string) => {
        let g = d.groups.find((x) => x.id === d.nodes.find((n) => n.id === id)!.group);
        while (g?.parent) g = d.groups.find((x) => x.id === g!.parent);
        return g?.id;
      };
      return col(e.from) !== col(e.to);
    });
    expect(cross.map((e) => e.label)).toEqual(['to gateway (2001:db8:1::1)', 'to node-c (2001:db8:2::30)']);
    expect(d.notes[0]).toBe('reply: node-c → gateway → node-a — DELIVERED (the request path reversed)');
    expect(d.edges.some((e) => e.betweenGroups)).toBe(false);
  });

  it('an asymmetric reply is drawn between the node columns', async () => {
    const { journey } = await runClusterTrace(fx('v6-wg'), {
      src: '2001:db8:42::a:5',
      dst: '2001:db8:42::c:9',
      proto: 'tcp',
      port: 443,
    });
    // the same journey with the reply taking another node, as trace --cluster reports it when it differs
    const j = {
      ...journey,
      returnPath: { nodes: ['node-c', 'node-b', 'node-a'], disposition: 'delivered' as const, differs: true },
    };
    const d = journeyDiagram(j);
    const reply = d.edges.filter((e) => e.betweenGroups);
    const label = (id: string) => d.groups.find((g) => g.id === id)!.label;
    expect(reply.map((e) => [label(e.from), label(e.to)])).toEqual([
      ['node node-c', 'node node-b (reply only)'],
      ['node node-b (reply only)', 'node node-a'],
    ]);
    const { mermaid, dot, xml } = renderAll(d);
    expect(mermaid).toMatch(/^ {2}g\d+ -\.->\|"reply"\| g\d+$/m);
    expect(dot).toMatch(/ltail=cluster_g\d+, lhead=cluster_g\d+/);
    expect(findAll(xml, 'path').length).toBeGreaterThan(d.edges.length - 1);
  });
});

describe('renderers: every hop in every format, well formed', () => {
  const cases: [string, string, Parameters<typeof runTrace>[1]][] = [
    ['pod → remote pod', 'kind-v4/k1', { src: '10.244.1.12', dst: '10.244.2.7', proto: 'tcp', port: 8080 }],
    ['pod → ClusterIP', 'kind-v4-svc/k1', { src: '10.244.1.12', dst: '10.96.0.10', proto: 'udp', port: 53 }],
    ['pod → outside (SNAT)', 'kind-v4/k1', { src: '10.244.1.12', dst: '203.0.113.9', proto: 'tcp', port: 443 }],
    ['pod → WireGuard', 'v6-wg/node-a', { src: '2001:db8:42::a:5', dst: '2001:db8:42::c:9', proto: 'tcp', port: 443 }],
    ['no route', 'v6-wg/gateway', { src: '2001:db8:1::10', dst: '2001:db8:77::1', proto: 'tcp' }],
  ];
  for (const [name, snap, req] of cases) {
    it(name, async () => {
      const t = await trace(snap, req);
      const d = traceDiagram(t);
      const r = renderAll(d);
      for (const n of d.nodes) {
        const shown = n.lines.map(clean).join('\n');
        expect(r.mLabels.get(n.id)).toBe(shown);
        expect(r.dLabels.get(n.id)).toBe(shown);
        const g = findAll(r.xml, 'g').find((x) => x.attrs.id === n.id)!;
        expect(findAll(g, 'text').map(textOf)).toEqual(n.lines.map(clean).concat(n.inferred ? ['inferred'] : []));
      }
      // every hop of the trace is a node, or (masquerade) the label of an arrow
      const svgText = findAll(r.xml, 'text').map(textOf).join('\n');
      for (const h of t.hops) {
        if (h.kind === 'masquerade') expect(d.edges.some((e) => e.label?.includes('SNAT'))).toBe(true);
        else expect(d.nodes.some((n) => n.tooltip?.startsWith(`[${h.kind}] ${h.detail}`))).toBe(true);
      }
      for (const e of d.edges.filter((x) => x.label && x.style === 'solid'))
        expect(svgText.replace(/\n/g, ' ')).toContain(e.label!.slice(0, 20));
    });
  }

  it('svg: nodes of a column do not overlap and stay inside the picture', async () => {
    const { journey } = await runClusterTrace(fx('v6-wg'), {
      src: '2001:db8:42::a:5',
      dst: '2001:db8:42::c:9',
      proto: 'tcp',
      port: 443,
    });
    const xml = parseXml(renderSvg(journeyDiagram(journey)));
    const W = Number(xml.attrs.width);
    const H = Number(xml.attrs.height);
    const boxes = findAll(xml, 'g')
      .filter((g) => g.attrs.class === 'node')
      .map((g) => findAll(g, 'rect')[0]!)
      .map((r) => ({ x: +r.attrs.x!, y: +r.attrs.y!, w: +r.attrs.width!, h: +r.attrs.height! }));
    expect(boxes.length).toBeGreaterThan(10);
    for (const [i, a] of boxes.entries()) {
      expect(a.x).toBeGreaterThanOrEqual(0);
      expect(a.y + a.h).toBeLessThanOrEqual(H);
      expect(a.x + a.w).toBeLessThanOrEqual(W);
      for (const b of boxes.slice(i + 1)) {
        const apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
        expect(apart, JSON.stringify([a, b])).toBe(true);
      }
    }
    // readable: node text is 13px, nothing smaller than 10px
    expect(xml.attrs['font-size']).toBe('13');
    for (const t of findAll(xml, 'text'))
      if (t.attrs['font-size']) expect(Number(t.attrs['font-size'])).toBeGreaterThanOrEqual(10);
  });
});

describe('svg layout with side branches', () => {
  it('many backends and a multipath hop: no node overlaps another, no edge runs through a node', async () => {
    const t = await trace('kind-v4-svc/k1', { src: '10.244.1.12', dst: '10.96.0.10', proto: 'udp', port: 53 });
    // the real trace, given more candidates than the fixture has: 9 backends and three equal-cost next hops
    const lb = t.hops[0]!;
    lb.paths = Array.from({ length: 9 }, (_, i) => ({
      backend: `10.244.${i}.9:53`,
      disposition: i % 3 ? ('forwarded' as const) : ('dropped' as const),
      summary: `the path to backend ${i}, in a sentence long enough to wrap`,
    }));
    lb.backend = '10.244.0.9:53';
    t.hops.splice(3, 0, {
      kind: 'route',
      detail: 'FIB lookup in cil_from_container (bpf_fib_lookup, ifindex lxc6d1e0f2a3b4c): multipath',
      lookup: 'bpf_fib_lookup',
      result: 'unicast',
      dst: '10.244.2.7',
      iif: 'lxc6d1e0f2a3b4c',
      answer: 'multipath',
      route: '10.0.0.0/8 proto static',
      evidence: [],
      candidates: [
        { gateway: '172.18.0.3', dev: 'eth0', weight: 1 },
        { gateway: '172.18.0.4', dev: 'eth0', weight: 1 },
        { gateway: '172.19.0.9', dev: 'eth1', weight: 2 },
      ],
    });
    const d = traceDiagram(t);
    expect(d.nodes.filter((n) => n.branchOf).map((n) => n.lines[0])).toEqual([
      ...Array.from({ length: 6 }, (_, i) => `other backend 10.244.${i + 1}.9:53`),
      '… 2 more backends',
      'other multipath next hop',
      'other multipath next hop',
    ]);
    const xml = parseXml(renderSvg(d));
    const boxes = new Map(
      findAll(xml, 'g')
        .filter((g) => g.attrs.class === 'node')
        .map((g) => {
          const r = findAll(g, 'rect')[0];
          if (r)
            return [g.attrs.id!, { x: +r.attrs.x!, y: +r.attrs.y!, w: +r.attrs.width!, h: +r.attrs.height! }] as const;
          const pts = findAll(g, 'path')[0]!
            .attrs.d!.match(/-?[\d.]+,-?[\d.]+/g)!
            .map((p) => p.split(',').map(Number) as [number, number]);
          const xs = pts.map((p) => p[0]);
          const ys = pts.map((p) => p[1]);
          return [
            g.attrs.id!,
            {
              x: Math.min(...xs),
              y: Math.min(...ys),
              w: Math.max(...xs) - Math.min(...xs),
              h: Math.max(...ys) - Math.min(...ys),
            },
          ] as const;
        }),
    );
    const all = [...boxes.entries()];
    for (const [i, [, a]] of all.entries())
      for (const [, b] of all.slice(i + 1))
        expect(a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y).toBe(true);
    for (const g of findAll(xml, 'g').filter((x) => x.attrs.class === 'edge')) {
      const pts = findAll(g, 'path')[0]!
        .attrs.d!.match(/-?[\d.]+,-?[\d.]+/g)!
        .map((p) => p.split(',').map(Number) as [number, number]);
      for (let k = 0; k + 1 < pts.length; k++) {
        const [[x1, y1], [x2, y2]] = [pts[k]!, pts[k + 1]!];
        for (const [id, b] of all) {
          if (id === g.attrs['data-from'] || id === g.attrs['data-to']) continue;
          // an axis-aligned segment crosses a box when it overlaps the box's interior on both axes
          const inX = Math.max(x1, x2) > b.x + 1 && Math.min(x1, x2) < b.x + b.w - 1;
          const inY = Math.max(y1, y2) > b.y + 1 && Math.min(y1, y2) < b.y + b.h - 1;
          expect(inX && inY, `edge ${g.attrs['data-from']}→${g.attrs['data-to']} crosses ${id}`).toBe(false);
        }
      }
    }
  });
});

describe('hostile names from a snapshot', () => {
  const HOSTILE_NS = 'cni-"];x<b>%%{init}%%#&`|\\';
  const HOSTILE_POD =
    '"]\n</text><script>alert(1)</script>\u202e\u0000 %%{init: {"securityLevel":"loose"}}%% #quot; style:#1; end\r\n}digraph{ ]]> &amp;';
  let dir = '';
  let t: Trace;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'np-hostile-'));
    cpSync(fx('kind-v4/k1'), dir, { recursive: true });
    renameSync(join(dir, 'netns/cni-5f0c1d2e-k1a'), join(dir, 'netns', HOSTILE_NS));
    const nsList = JSON.parse(readFileSync(join(dir, 'ip-netns.json'), 'utf8')) as { name: string }[];
    for (const n of nsList) if (n.name === 'cni-5f0c1d2e-k1a') n.name = HOSTILE_NS;
    writeFileSync(join(dir, 'ip-netns.json'), JSON.stringify(nsList));
    const eps = JSON.parse(readFileSync(join(dir, 'cilium-endpoints.json'), 'utf8')) as {
      status: { 'external-identifiers'?: Record<string, string> };
    }[];
    for (const e of eps) {
      const ids = e.status['external-identifiers'];
      if (ids?.['k8s-pod-name'] === 'web-k1a') ids['k8s-pod-name'] = HOSTILE_POD;
    }
    writeFileSync(join(dir, 'cilium-endpoints.json'), JSON.stringify(eps));
    t = (await runTrace(dirSource(dir), { src: '10.244.1.12', dst: '10.244.2.7', proto: 'tcp', port: 8080 })).trace;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reach the trace unchanged (the test is real)', () => {
    expect(t.src.netns).toBe(HOSTILE_NS);
    expect(t.src.pod).toContain('<script>');
  });

  it('cannot break out of labels in any format, and read back as the (cleaned) name', () => {
    const d = traceDiagram(t);
    const r = renderAll(d);
    const src = d.nodes[0]!;
    expect(src.lines.join('\n')).toContain('<script>');
    expect(r.mLabels.get(src.id)).toBe(src.lines.map(clean).join('\n'));
    expect(r.dLabels.get(src.id)).toBe(src.lines.map(clean).join('\n'));
    // mermaid: no directive, no raw HTML, no markdown string can start anywhere in the file
    expect(r.mermaid).not.toMatch(/%%|<script|`/);
    expect(r.mermaid.split('\n').filter((l) => /^\s*click /.test(l))).toHaveLength(
      d.nodes.filter((n) => n.tooltip).length,
    );
    // dot: still exactly one graph
    expect(tokenizeDot(r.dot).filter((x) => x.kind === 'id' && x.value === 'digraph')).toHaveLength(1);
    // svg: no element but the ones the renderer writes
    const names = new Set(
      findAll(r.xml, 'svg')
        .concat(...['g', 'rect', 'text', 'path', 'title', 'defs', 'marker'].map((n) => findAll(r.xml, n)))
        .map((e) => e.name),
    );
    const all: string[] = [];
    const walk = (e: typeof r.xml) => {
      all.push(e.name);
      for (const c of e.children) if (typeof c !== 'string') walk(c);
    };
    walk(r.xml);
    expect(new Set(all)).toEqual(names);
    expect(findAll(r.xml, 'text').map(textOf).join('\n')).toContain('</text><script>alert(1)</script>');
    // control characters and bidi overrides are replaced, not passed on
    expect(r.svg).not.toMatch(/[\u0000\u202e\r]/);
    const netnsGroup = d.groups.find((g) => g.label.startsWith('netns cni-"]'))!;
    expect(r.mermaid).toContain(
      `subgraph ${netnsGroup.id}["netns cni-#quot;];x#lt;b#gt;#37;#37;{init}#37;#37;#35;#amp;#96;#124;#92;"]`,
    );
  });
});
