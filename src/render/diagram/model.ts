import {
  hopField,
  isLbHop,
  type DeliverHop,
  type Hop,
  type MasqueradeHop,
  type RouteHop,
  type TcLbHop,
  type Trace,
  type TraceEndpoint,
} from '../../model/trace.js';
import type { Journey } from '../../model/journey.js';

/**
 * One format-neutral graph for every picture (mermaid, dot, svg). Text in it is raw and unescaped: each
 * renderer escapes for its own format. Ids are generated here (n0, g0, …), never taken from the input, so
 * nothing a snapshot names can become syntax.
 */
export type Tone = 'plain' | 'ok' | 'bad' | 'warn' | 'lb' | 'changed' | 'muted';
export type Shape = 'endpoint' | 'step' | 'route' | 'lb' | 'end';

export interface DiagramNode {
  id: string;
  /** visible text, one entry per line */
  lines: string[];
  shape: Shape;
  tone: Tone;
  /** the node is a guess (hop marked inferred): drawn dashed */
  inferred?: boolean;
  group?: string;
  /** full detail and evidence, shown as a tooltip where the format has one */
  tooltip?: string;
  /** a side branch (another backend, another multipath next hop) of this node: laid out beside the chain */
  branchOf?: string;
  /** the row of a chain node in its column, to line up two columns (before/after); default: after the previous */
  row?: number;
}

export interface DiagramEdge {
  from: string;
  to: string;
  label?: string;
  tooltip?: string;
  style: 'solid' | 'dashed';
  tone: Tone;
  /** from and to are group ids (the reply between the nodes of a cluster), not node ids */
  betweenGroups?: boolean;
}

export interface DiagramGroup {
  id: string;
  label: string;
  parent?: string;
  tone?: Tone;
}

export interface Diagram {
  title: string;
  notes: string[];
  nodes: DiagramNode[];
  edges: DiagramEdge[];
  /** top-level groups are the columns of the picture, in order */
  groups: DiagramGroup[];
  /** start a new band of columns after this many (side-by-side pairs stacked); default: one band */
  columnsPerBand?: number;
}

const WRAP = 44;
const MAX_LINES = 4;
const MAX_BRANCHES = 6;

/** Splits text into lines of at most `width` characters, breaking long words; at most `max` lines. */
export function wrap(text: string, width = WRAP, max = MAX_LINES): string[] {
  const words = text.replace(/\s+/g, ' ').trim().split(' ');
  const lines: string[] = [];
  let cur = '';
  for (let w of words) {
    while ([...w].length > width) {
      if (cur) {
        lines.push(cur);
        cur = '';
      }
      const cps = [...w];
      lines.push(cps.slice(0, width).join(''));
      w = cps.slice(width).join('');
    }
    if (!cur) cur = w;
    else if ([...cur].length + 1 + [...w].length <= width) cur += ` ${w}`;
    else {
      lines.push(cur);
      cur = w;
    }
  }
  if (cur) lines.push(cur);
  if (lines.length > max) {
    const kept = lines.slice(0, max);
    const last = [...kept[max - 1]!];
    kept[max - 1] = (last.length >= width ? last.slice(0, width - 1).join('') : last.join('')) + '…';
    return kept;
  }
  return lines.length ? lines : [''];
}

export class DiagramBuilder {
  readonly nodes: DiagramNode[] = [];
  readonly edges: DiagramEdge[] = [];
  readonly groups: DiagramGroup[] = [];

  node(n: Omit<DiagramNode, 'id'>): string {
    const id = `n${this.nodes.length}`;
    this.nodes.push({ id, ...n });
    return id;
  }

  group(label: string, parent?: string, tone?: Tone): string {
    const id = `g${this.groups.length}`;
    this.groups.push({ id, label, ...(parent ? { parent } : {}), ...(tone ? { tone } : {}) });
    return id;
  }

  edge(e: Omit<DiagramEdge, 'style' | 'tone'> & Partial<Pick<DiagramEdge, 'style' | 'tone'>>): void {
    this.edges.push({ style: 'solid', tone: 'plain', ...e });
  }

  done(title: string, notes: string[] = []): Diagram {
    return { title, notes, nodes: this.nodes, edges: this.edges, groups: this.groups };
  }
}

const hostPort = (a: string, p?: number) => (p === undefined ? a : `${a.includes(':') ? `[${a}]` : a}:${p}`);

export function flowTitle(t: { flow: Trace['flow'] }): string {
  return `${t.flow.src} → ${hostPort(t.flow.dst, t.flow.dport)} ${t.flow.proto}`;
}

const WORD: Record<Trace['disposition'], string> = {
  delivered: 'DELIVERED',
  forwarded: 'FORWARDED',
  dropped: 'DROPPED',
  'no-route': 'NO ROUTE',
  unknown: 'UNKNOWN',
};

function endpointLines(e: TraceEndpoint): string[] {
  const head =
    e.kind === 'local-pod'
      ? e.pod
        ? `pod ${e.pod}`
        : 'local pod'
      : e.kind === 'host'
        ? `host${e.dev ? ` (${e.dev})` : ''}`
        : e.kind.replace('-', ' ');
  return [...wrap(head, WRAP, 2), e.ip];
}

function tooltipOf(h: Hop): string {
  const lines = [`[${h.kind}] ${h.detail}`];
  if (h.inferred && h.because) lines.push(`inferred because ${h.because}`);
  for (const e of h.evidence.slice(0, 8))
    lines.push(`↳ ${e.probe}: ${e.text.replace(/\s+/g, ' ').trim().slice(0, 240)}`);
  if (h.evidence.length > 8) lines.push(`↳ … ${h.evidence.length - 8} more`);
  if (h.explain)
    lines.push(`what: ${h.explain.what}`, `why: ${h.explain.why}`, ...h.explain.confirm.map((c) => `$ ${c.command}`));
  return lines.join('\n');
}

const ROUTE_HEAD: Record<RouteHop['lookup'], string> = {
  bpf_fib_lookup: 'FIB lookup (bpf_fib_lookup)',
  arrival: 'arrives on',
  'pod-netns': 'route in the pod',
  'wireguard-outer': 'route for the encrypted packet',
  output: 'output route lookup',
  input: 'kernel route lookup',
  'tunnel-outer': 'route for the encapsulated packet',
};

/** Where a tc-lb hop translates, in words (up to the first colon, as the node shows it). */
function tcLbWhere(h: TcLbHop): string {
  const where =
    h.at === 'cil_from_container'
      ? `per-packet load balancing in cil_from_container (${h.noSocketLb ?? '?'})`
      : h.at === 'bpf_host'
        ? `per-packet load balancing (${h.noSocketLb ?? '?'})`
        : h.at === 'xdp'
          ? `NodePort/LB load balancing in XDP (${h.program ?? '?'} on ${h.dev ?? '?'}, before the stack and tc)`
          : 'NodePort/LB load balancing in cil_from_netdev';
  const i = where.indexOf(':');
  return i < 0 ? where : where.slice(0, i);
}

/** Where a deliver hop hands the packet, in words. */
function deliveredTo(h: DeliverHop): string {
  switch (h.target) {
    case 'pod':
      return `${h.pod ? `pod ${h.pod}` : 'the pod'} ${h.address}${h.netns ? ` in netns ${h.netns}` : ''}`;
    case 'pod-netns':
      return `inside the pod's own namespace ${h.netns ?? '?'}`;
    case 'loopback':
      return `locally on ${h.address} (loopback)`;
    case 'local-socket':
      return `a local socket on ${h.address}${h.addressDev ? ` (${h.addressDev})` : ''}`;
    case 'l7-proxy':
      return `the node's L7 proxy${h.proxyPort !== undefined ? ` on port ${h.proxyPort}` : ''}`;
  }
}

/** The text and look of one hop's node. */
function hopNode(h: Hop, t: Trace): Pick<DiagramNode, 'lines' | 'shape' | 'tone'> {
  switch (h.kind) {
    case 'route': {
      const arrive = h.lookup === 'arrival';
      const head = arrive ? `arrives on ${h.dev ?? '?'}` : ROUTE_HEAD[h.lookup];
      const body = arrive ? [] : wrap(h.route ?? h.answer, WRAP, 2);
      const table = h.table !== undefined && h.table !== 254 ? [`table ${h.table}`] : [];
      return { lines: [head, ...body, ...table], shape: 'route', tone: 'plain' };
    }
    case 'bpf':
      return {
        lines: [h.program ?? 'BPF program', `${h.hook ?? '?'} on ${h.dev ?? '?'}`],
        shape: 'step',
        tone: 'plain',
      };
    case 'redirect_peer':
      return {
        lines: ['bpf_redirect_peer', ...wrap(`into ${h.netns ?? 'the pod'} via ${h.dev ?? '?'}`, WRAP, 2)],
        shape: 'step',
        tone: 'plain',
      };
    case 'redirect_neigh': {
      const n = h.neighbor ? [`neighbour ${h.neighbor.state.join(',')}`] : [];
      return {
        lines: ['bpf_redirect_neigh', ...wrap(`out of ${h.dev ?? '?'} → ${h.nexthop ?? '?'}`, WRAP, 2), ...n],
        shape: 'step',
        tone: 'plain',
      };
    }
    case 'redirect':
      return { lines: ['bpf_redirect', ...wrap(`to ${h.dev ?? '?'}`, WRAP, 2)], shape: 'step', tone: 'plain' };
    case 'stack':
      return { lines: ['kernel stack', ...wrap(h.detail, WRAP, 2)], shape: 'step', tone: 'plain' };
    case 'netfilter':
      return { lines: ['netfilter', (h.hooks ?? []).join(' → ') || '?'], shape: 'step', tone: 'plain' };
    case 'gateway':
      return { lines: [`leaves ${h.dev ?? ''}`.trim(), `→ ${h.gateway ?? '?'}`], shape: 'step', tone: 'plain' };
    case 'wireguard':
      return {
        lines: [
          `WireGuard ${h.dev ?? ''}`.trim(),
          ...wrap(`peer ${h.peer ? short(h.peer) : '?'} (allowed-ips ${h.allowedIps ?? '?'})`, WRAP, 2),
          ...(h.endpoint ? [`→ UDP ${h.endpoint}`] : []),
        ],
        shape: 'step',
        tone: 'plain',
      };
    case 'encap':
      return {
        lines: [`${h.protocol} ${h.dev}`, `→ UDP ${h.tunnelEndpoint}:${h.port}`],
        shape: 'step',
        tone: 'plain',
      };
    case 'conntrack':
      // an entry that pins the connection: what it translates to is the point, not the sentence
      if (h.backend || h.snatTo)
        return {
          lines: [
            'conntrack (existing entry)',
            ...(h.backend ? [`DNAT → ${h.backend}`] : []),
            ...(h.snatTo ? [`SNAT → ${h.snatTo}`] : []),
          ],
          shape: 'step',
          tone: 'plain',
        };
      return { lines: ['conntrack', ...wrap(h.detail, WRAP, 3)], shape: 'step', tone: 'plain' };
    case 'deliver':
      return {
        lines: ['DELIVERED', ...wrap(deliveredTo(h), WRAP, 3)],
        shape: 'end',
        tone: 'ok',
      };
    case 'drop':
      return {
        lines: [t.disposition === 'no-route' ? 'NO ROUTE' : 'DROPPED', ...wrap(h.reason, WRAP, 3)],
        shape: 'end',
        tone: 'bad',
      };
    case 'socket-lb':
      return {
        lines: [`socket-LB ${h.program ?? ''}`.trim(), 'at connect()/sendmsg()', `Service ${h.frontend ?? '?'}`],
        shape: 'lb',
        tone: 'lb',
      };
    case 'tc-lb':
      return {
        lines: [`per-packet LB`, ...wrap(tcLbWhere(h), WRAP, 2), `Service ${h.frontend}`],
        shape: 'lb',
        tone: 'lb',
      };
    case 'kube-proxy':
      return {
        lines: ['kube-proxy DNAT', ...(h.chain ? [h.chain] : []), `Service ${h.frontend ?? '?'}`],
        shape: 'lb',
        tone: 'lb',
      };
    case 'masquerade':
      return { lines: wrap(`${h.kind}: ${h.detail}`), shape: 'step', tone: 'plain' };
  }
}

function short(key: string): string {
  return key.length > 12 ? `${key.slice(0, 8)}…` : key;
}

/** What a masquerade hop writes on the arrow after it. */
function natLabel(h: MasqueradeHop, t: Trace): { label: string; tone: DiagramEdge['tone'] } {
  if (h.applied === true)
    return { label: `SNAT ${t.flow.src} → ${h.snatTo ?? 'node address'} (${h.by ?? '?'})`, tone: 'lb' };
  if (h.applied === false) {
    const short =
      h.why === 'excluded' && h.exclusionCidr
        ? `destination inside ${h.exclusionCidr}`
        : h.why === 'disabled'
          ? 'masquerading disabled'
          : (h.reason ?? '?');
    return { label: `no SNAT: ${short.length > 60 ? `${short.slice(0, 59)}…` : short}`, tone: 'plain' };
  }
  return { label: 'SNAT unknown', tone: 'warn' };
}

function lastWhere(t: Trace): string | undefined {
  const gw = [...t.hops]
    .reverse()
    .find((h) => hopField(h, 'gateway') || hopField(h, 'nexthop') || hopField(h, 'endpoint'));
  return gw && (hopField(gw, 'endpoint') ?? hopField(gw, 'nexthop') ?? hopField(gw, 'gateway'));
}

interface Pending {
  label?: string;
  tooltip?: string;
  tone?: DiagramEdge['tone'];
}

interface AddOptions {
  column: string;
  withSource: boolean;
  terminal: boolean;
  from?: string;
  pending?: Pending;
  /** the text of the terminal node when the packet is forwarded */
  leaves?: string;
}

/** Adds one node's part of a path to the builder; returns the last node and any label still to be written. */
export function addTrace(
  b: DiagramBuilder,
  t: Trace,
  o: AddOptions,
): { first?: string; last?: string; pending?: Pending } {
  const netnsGroups = new Map<string, string>();
  const groupFor = (netns: string | undefined): string => {
    if (!netns) return o.column;
    let g = netnsGroups.get(netns);
    if (!g) {
      g = b.group(`netns ${netns}`, o.column);
      netnsGroups.set(netns, g);
    }
    return g;
  };
  let prev = o.from;
  let pending: Pending | undefined = o.pending;
  let first: string | undefined;
  const link = (to: string) => {
    if (prev)
      b.edge({
        from: prev,
        to,
        ...(pending?.label ? { label: pending.label } : {}),
        ...(pending?.tooltip ? { tooltip: pending.tooltip } : {}),
        ...(pending?.tone ? { tone: pending.tone } : {}),
      });
    pending = undefined;
    prev = to;
    first ??= to;
  };
  if (o.withSource) {
    const ev = t.src.evidence
      .slice(0, 6)
      .map((e) => `↳ ${e.probe}: ${e.text.replace(/\s+/g, ' ').trim().slice(0, 240)}`);
    const id = b.node({
      lines: endpointLines(t.src),
      shape: 'endpoint',
      tone: 'plain',
      group: groupFor(t.src.kind === 'local-pod' ? t.src.netns : undefined),
      tooltip: [`source: ${t.src.kind} ${t.src.ip}${t.src.because ? ` (${t.src.because})` : ''}`, ...ev].join('\n'),
    });
    link(id);
  }
  for (const h of t.hops) {
    if (h.kind === 'masquerade') {
      const nat = natLabel(h, t);
      pending = {
        label: pending?.label ? `${pending.label} · ${nat.label}` : nat.label,
        tooltip: tooltipOf(h),
        tone: nat.tone,
      };
      continue;
    }
    const spec = hopNode(h, t);
    // the pod's own route and the delivery happen in a pod namespace; socket-LB in the sending socket's
    const netns =
      (h.kind === 'route' || h.kind === 'deliver') && h.netns !== undefined
        ? h.netns
        : h.kind === 'socket-lb' && t.src.kind === 'local-pod'
          ? t.src.netns
          : undefined;
    const id = b.node({
      ...spec,
      group: groupFor(netns),
      tooltip: tooltipOf(h),
      ...(h.inferred ? { inferred: true } : {}),
    });
    if (h.kind === 'drop') pending = { ...pending, tone: 'bad' };
    link(id);
    if (isLbHop(h) && h.backend) {
      pending = { label: `DNAT ${h.frontend ?? t.flow.dst} → ${h.backend}`, tooltip: tooltipOf(h), tone: 'lb' };
      const chosen = h.backend;
      const others = (h.paths ?? []).filter((p) => p.backend !== chosen);
      for (const p of others.slice(0, MAX_BRANCHES)) {
        const tone: DiagramNode['tone'] =
          p.disposition === 'delivered' || p.disposition === 'forwarded'
            ? 'muted'
            : p.disposition === 'unknown'
              ? 'warn'
              : 'bad';
        const alt = b.node({
          lines: [`other backend ${p.backend}`, `${WORD[p.disposition]}:`, ...wrap(p.summary, WRAP, 2)],
          shape: 'step',
          tone,
          group: o.column,
          branchOf: id,
          tooltip: `${p.backend}: ${p.disposition} — ${p.summary}`,
        });
        b.edge({ from: id, to: alt, label: `or DNAT → ${p.backend}`, style: 'dashed', tone: 'muted' });
      }
      if (others.length > MAX_BRANCHES) {
        const more = b.node({
          lines: [`… ${others.length - MAX_BRANCHES} more backends`],
          shape: 'step',
          tone: 'muted',
          group: o.column,
          branchOf: id,
        });
        b.edge({ from: id, to: more, style: 'dashed', tone: 'muted' });
      }
    }
    const candidates = hopField(h, 'candidates');
    if (candidates && candidates.length > 1) {
      for (const c of candidates.slice(1, 1 + MAX_BRANCHES)) {
        const via = [c.gateway ? `via ${c.gateway}` : 'on-link', c.dev ? `dev ${c.dev}` : ''].filter(Boolean).join(' ');
        const alt = b.node({
          lines: ['other multipath next hop', ...wrap(via, WRAP, 2), ...(c.weight ? [`weight ${c.weight}`] : [])],
          shape: 'step',
          tone: 'muted',
          group: o.column,
          branchOf: id,
          tooltip: 'the kernel picks one next hop per flow by hash; the path follows the first',
        });
        b.edge({ from: id, to: alt, label: 'or (multipath hash)', style: 'dashed', tone: 'muted' });
      }
    }
  }
  const last = t.hops[t.hops.length - 1];
  if (o.terminal && (!last || (last.kind !== 'deliver' && last.kind !== 'drop'))) {
    const where = o.leaves ?? (t.disposition === 'forwarded' ? lastWhere(t) : undefined);
    const tone: DiagramNode['tone'] =
      t.disposition === 'delivered' || t.disposition === 'forwarded'
        ? 'ok'
        : t.disposition === 'unknown'
          ? 'warn'
          : 'bad';
    const why =
      t.disposition === 'unknown'
        ? wrap(t.warnings[0]?.message ?? 'the node state does not decide', WRAP, 3)
        : where
          ? wrap(`leaves towards ${where}`, WRAP, 2)
          : [];
    const id = b.node({
      lines: [WORD[t.disposition], ...why],
      shape: 'end',
      tone,
      group: o.column,
      tooltip: t.warnings.map((w) => `warning: ${w.message}`).join('\n') || WORD[t.disposition],
    });
    link(id);
  }
  return { ...(first ? { first } : {}), ...(prev ? { last: prev } : {}), ...(pending ? { pending } : {}) };
}

/** The picture of one node's trace. */
export function traceDiagram(t: Trace): Diagram {
  const b = new DiagramBuilder();
  const col = b.group(t.node ? `node ${t.node}` : 'this node');
  addTrace(b, t, { column: col, withSource: true, terminal: true });
  const notes = t.warnings.slice(0, 6).map((w) => `warning: ${w.message}`);
  return b.done(`${flowTitle(t)}${t.node ? ` on node ${t.node}` : ''} — ${WORD[t.disposition]}`, notes);
}

/** The picture of a cluster journey: one column per node, the journey between them, the reply where it differs. */
export function journeyDiagram(j: Journey): Diagram {
  const b = new DiagramBuilder();
  const columnOf = new Map<string, string>();
  let from: string | undefined;
  let pending: Pending | undefined;
  j.legs.forEach((leg, i) => {
    const col = b.group(columnOf.has(leg.node) ? `node ${leg.node} (again)` : `node ${leg.node}`);
    if (!columnOf.has(leg.node)) columnOf.set(leg.node, col);
    const isLast = i === j.legs.length - 1;
    const leaves = isLast && j.leftAt ? `${j.leftAt}, outside the captured nodes` : undefined;
    const r = addTrace(b, leg.trace, {
      column: col,
      withSource: i === 0,
      terminal: isLast,
      ...(from ? { from } : {}),
      ...(pending ? { pending } : {}),
      ...(leaves ? { leaves } : {}),
    });
    from = r.last;
    const hop = leg.next ? /^(\S+) belongs to (.+)$/.exec(leg.next) : null;
    const next = hop ? `to ${hop[2]} (${hop[1]})` : undefined;
    pending = next
      ? {
          label: r.pending?.label ? `${r.pending.label} · ${next}` : next,
          ...(r.pending?.tooltip ? { tooltip: r.pending.tooltip } : {}),
          tone: r.pending?.tone ?? 'plain',
        }
      : r.pending;
  });
  const notes: string[] = [];
  const rp = j.returnPath;
  if (rp) {
    notes.push(
      `reply: ${rp.nodes.join(' → ')} — ${WORD[rp.disposition]}${rp.differs ? ' (not the request path reversed)' : ' (the request path reversed)'}`,
    );
    if (rp.differs) {
      for (const n of rp.nodes) {
        if (!columnOf.has(n)) {
          const col = b.group(`node ${n} (reply only)`, undefined, 'warn');
          columnOf.set(n, col);
          b.node({ lines: ['the reply passes here'], shape: 'step', tone: 'warn', group: col });
        }
      }
      for (let i = 0; i + 1 < rp.nodes.length; i++) {
        b.edge({
          from: columnOf.get(rp.nodes[i]!)!,
          to: columnOf.get(rp.nodes[i + 1]!)!,
          ...(i === 0 ? { label: 'reply' } : {}),
          style: 'dashed',
          tone: 'warn',
          betweenGroups: true,
        });
      }
    }
  }
  for (const w of j.warnings.slice(0, 6)) notes.push(`warning: ${w.message}`);
  const port = j.flow.dport !== undefined ? hostPort(j.flow.dst, j.flow.dport) : j.flow.dst;
  return b.done(
    `${j.flow.src} → ${port} ${j.flow.proto} across ${j.legs.map((l) => l.node).join(' → ')} — ${WORD[j.disposition]}`,
    notes,
  );
}
