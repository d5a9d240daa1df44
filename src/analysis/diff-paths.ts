import { findRoutes } from '../model/route-columns.js';
import type { FlowCategory, PathDiff, PathHop, PathSide, PathStep, ServiceDiff } from '../model/diff.js';
import { hopField, type Flow, type Hop, type HopKind, type Trace } from '../model/trace.js';
import type { Family } from '../model/types.js';
import { familyOf, joinHostPort, prefixLen } from '../model/addr.js';
import { classify, traceFlow, type TraceContext } from './trace.js';
import { nodeAddresses } from './diff-services.js';
import type { DiffSideInput } from './diff.js';

export const DEFAULT_MAX_FLOWS = 40;
const LB: ReadonlySet<HopKind> = new Set(['socket-lb', 'tc-lb', 'kube-proxy']);

function hopLabel(h: Hop): string {
  switch (h.kind) {
    case 'socket-lb':
      return `socket-lb ${h.program ?? ''}`.trim();
    case 'tc-lb':
      return `tc-lb ${h.at === 'cil_from_netdev' || h.at === 'xdp' ? 'cil_from_netdev' : h.at === 'cil_from_container' ? 'cil_from_container' : 'per-packet'}`;
    case 'kube-proxy':
      return `kube-proxy ${h.chain ?? ''}`.trim();
    case 'bpf':
      return `bpf ${h.program ?? '?'} ${h.dev ?? ''} ${h.hook ?? ''}`.replace(/\s+/g, ' ').trim();
    case 'route':
      return `route${h.netns ? ' in pod' : ''}${h.table !== undefined ? ` table ${h.table === 254 ? 'main' : h.table === 255 ? 'local' : h.table}` : ''}${h.dev ? ` dev ${h.dev}` : ''}`;
    case 'redirect_peer':
    case 'redirect':
      return `${h.kind} ${h.dev ?? ''}`.trim();
    case 'redirect_neigh':
      return `redirect_neigh ${h.dev ?? ''}${h.nexthop ? ` → ${h.nexthop}` : ''}`;
    case 'netfilter':
      return `netfilter ${(h.hooks ?? []).join('→')}`.trim();
    case 'masquerade':
      return `masquerade ${h.applied === true ? `SNAT${h.snatTo ? ` to ${h.snatTo}` : ''}` : h.applied === false ? 'none' : 'unknown'}${h.by ? ` (${h.by})` : ''}`;
    case 'gateway':
      return `gateway ${h.gateway ?? ''}`.trim();
    case 'wireguard':
      return `wireguard ${h.dev ?? ''}`.trim();
    case 'deliver':
      return `deliver${h.dev ? ` ${h.dev}` : ''}`;
    case 'drop':
      return `drop${h.reason ? `: ${h.reason}` : ''}`;
    default:
      return h.kind;
  }
}

/** A hop as a path diff shows it; its display text is carried whole for the renderers. */
function pathHop(h: Hop): PathHop {
  const p: PathHop = { kind: h.kind, label: hopLabel(h), detail: h.detail };
  const program = hopField(h, 'program');
  const chain = hopField(h, 'chain');
  const dev = hopField(h, 'dev');
  const hook = hopField(h, 'hook');
  if (program) p.program = program;
  if (chain) p.chain = chain;
  if (dev) p.dev = dev;
  if (hook) p.hook = hook;
  if (h.inferred) p.inferred = true;
  return p;
}

function side(t: Trace): PathSide {
  return {
    disposition: t.disposition,
    hops: t.hops.map(pathHop),
    warnings: t.warnings.slice(0, 5).map((w) => w.message),
  };
}

/** The two hop lists aligned on their labels (longest common subsequence); adjacent removed/added pairs become replacements. */
export function alignHops(before: PathHop[], after: PathHop[]): PathStep[] {
  const n = before.length;
  const m = after.length;
  const L: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      L[i]![j] = before[i]!.label === after[j]!.label ? L[i + 1]![j + 1]! + 1 : Math.max(L[i + 1]![j]!, L[i]![j + 1]!);
  const raw: PathStep[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && before[i]!.label === after[j]!.label) {
      raw.push({ change: 'same', before: before[i]!, after: after[j]! });
      i++;
      j++;
    } else if (j < m && (i === n || L[i]![j + 1]! >= L[i + 1]![j]!)) raw.push({ change: 'added', after: after[j++]! });
    else raw.push({ change: 'removed', before: before[i++]! });
  }
  // pair each run of removals with the run of additions next to it
  const out: PathStep[] = [];
  for (let k = 0; k < raw.length; ) {
    if (raw[k]!.change === 'same') {
      out.push(raw[k++]!);
      continue;
    }
    const rem: PathStep[] = [];
    const add: PathStep[] = [];
    while (k < raw.length && raw[k]!.change !== 'same') (raw[k]!.change === 'removed' ? rem : add).push(raw[k++]!);
    // a hop replaced by one of its kind first (masquerade by masquerade), then load balancer by load
    // balancer (kube-proxy DNAT → socket-LB), then by position
    const partner = new Map<PathStep, PathStep>();
    const free = [...add];
    const take = (r: PathStep, ok: (a: PathStep) => boolean) => {
      const i = free.findIndex(ok);
      if (i >= 0) partner.set(r, free.splice(i, 1)[0]!);
    };
    for (const r of rem) take(r, (a) => a.after!.kind === r.before!.kind);
    for (const r of rem) if (!partner.has(r) && LB.has(r.before!.kind)) take(r, (a) => LB.has(a.after!.kind));
    for (const r of rem) if (!partner.has(r)) take(r, () => true);
    for (const r of rem) {
      const a = partner.get(r);
      out.push(a ? { change: 'replaced', before: r.before!, after: a.after! } : r);
    }
    for (const a of free) out.push(a);
  }
  return out;
}

function kindDiff(a: HopKind[], b: HopKind[]): HopKind[] {
  const rest = [...b];
  const out: HopKind[] = [];
  for (const k of a) {
    const i = rest.indexOf(k);
    if (i >= 0) rest.splice(i, 1);
    else out.push(k);
  }
  return out;
}

const ok = (d: string) => d === 'delivered' || d === 'forwarded';

export function comparePaths(
  id: string,
  category: FlowCategory,
  label: string,
  flow: Flow,
  before: Trace,
  after: Trace,
  svc?: ServiceDiff,
): PathDiff {
  const b = side(before);
  const a = side(after);
  const steps = alignHops(b.hops, a.hops);
  const changedKinds = {
    removed: kindDiff(
      b.hops.map((h) => h.kind),
      a.hops.map((h) => h.kind),
    ),
    added: kindDiff(
      a.hops.map((h) => h.kind),
      b.hops.map((h) => h.kind),
    ),
  };
  const changed = steps.some((s) => s.change !== 'same') || b.disposition !== a.disposition;
  const lb = (x: PathSide) =>
    x.hops.some((h) => h.kind === 'socket-lb' || h.kind === 'tc-lb' || h.kind === 'kube-proxy');
  // a Service flow that was load-balanced before and is not after goes to the Service address itself: lost
  const untranslated = svc !== undefined && lb(b) && !lb(a) && ok(b.disposition);
  const regression =
    (ok(b.disposition) && (a.disposition === 'dropped' || a.disposition === 'no-route')) || untranslated;
  const swaps = steps
    .filter((s) => s.change !== 'same')
    .slice(0, 3)
    .map((s) =>
      s.change === 'replaced'
        ? `${s.before!.label} → ${s.after!.label}`
        : s.change === 'removed'
          ? `no more ${s.before!.label}`
          : `new ${s.after!.label}`,
    );
  const disp = b.disposition === a.disposition ? a.disposition : `${b.disposition} → ${a.disposition}`;
  const summary = untranslated
    ? `no layer translates ${svc!.frontend} after: the packet keeps the Service address (${disp})`
    : changed
      ? `${swaps.join('; ')}${swaps.length ? '; ' : ''}${disp}`
      : `same path; ${disp}`;
  const d: PathDiff = {
    id,
    category,
    label,
    flow,
    before: b,
    after: a,
    changedKinds,
    steps,
    changed,
    regression,
    summary,
  };
  if (svc) {
    d.frontend = svc.frontend;
    if (svc.name) d.service = svc.name;
  }
  return d;
}

interface Endpoints {
  pod?: string;
  host?: string;
  outside?: string;
  remotePod?: { ip: string; port: number };
}

/** A source of each kind, the same on both sides when possible, for one address family. */
function pickEndpoints(
  before: DiffSideInput,
  after: DiffSideInput,
  bctx: TraceContext,
  actx: TraceContext,
  fam: Family,
): Endpoints {
  const out: Endpoints = {};
  const famOk = (ip: string) => familyOf(ip) === fam;
  const pods = (s: DiffSideInput) => {
    const ips = new Set<string>();
    for (const ns of s.state.netns)
      for (const a of ns.addrs) if (a.ifname !== 'lo' && a.scope === 'global' && famOk(a.local)) ips.add(a.local);
    for (const e of s.state.cilium.endpoints ?? [])
      if (!e.isHost) for (const ip of [e.ipv4, e.ipv6]) if (ip && famOk(ip)) ips.add(ip);
    return [...ips].sort();
  };
  // a pod of this node on both sides; a bounded number of candidates (classify can be a route lookup)
  const bp = new Set(pods(before));
  let first: string | undefined;
  for (const ip of pods(after).slice(0, 64)) {
    if (classify(actx, ip).kind !== 'local-pod') continue;
    if (bp.has(ip) && classify(bctx, ip).kind === 'local-pod') {
      out.pod = ip;
      break;
    }
    first ??= ip;
  }
  out.pod ??= first ?? [...bp].slice(0, 64).find((ip) => classify(bctx, ip).kind === 'local-pod');
  const an = nodeAddresses(after.state)
    .filter((a) => a.family === fam)
    .map((a) => a.local);
  const bn = new Set(nodeAddresses(before.state).map((a) => a.local));
  out.host = an.find((ip) => bn.has(ip)) ?? an[0];
  // the first backend that is a pod of another node on both sides (classify is a route lookup: a large
  // node has 100,000 backends, so look at a bounded number of distinct addresses)
  const seen = new Set<string>();
  let fallback: { ip: string; port: number } | undefined;
  search: for (const list of [after.services, before.services])
    for (const e of list)
      for (const b of e.backends) {
        if (seen.has(b.address) || !famOk(b.address)) continue;
        seen.add(b.address);
        if (seen.size > 256) break search;
        if (classify(actx, b.address).kind !== 'remote-pod') continue;
        if (classify(bctx, b.address).kind === 'remote-pod') {
          out.remotePod = { ip: b.address, port: b.port };
          break search;
        }
        fallback ??= { ip: b.address, port: b.port };
      }
  out.remotePod ??= fallback;
  // a client outside: the node that owns that pod, else the default gateway
  const node = out.remotePod ? classify(actx, out.remotePod.ip).node : undefined;
  const dflt = (ctx: TraceContext) =>
    findRoutes(
      ctx.state,
      (r) =>
        r.family === fam &&
        r.table === 254 &&
        r.type === 'unicast' &&
        prefixLen(r.dst) === 0 &&
        r.nexthops[0]?.gateway !== undefined,
      { family: fam, table: 254, type: 'unicast', len: 0 },
    )[0]?.nexthops[0]?.gateway;
  const client = node ?? dflt(actx) ?? dflt(bctx);
  if (client) out.outside = client;
  return out;
}

interface Candidate {
  category: FlowCategory;
  label: string;
  flow: Flow;
  svc?: ServiceDiff;
}

const protoOf = (p: ServiceDiff['proto']): Flow['proto'] => (p === 'UDP' ? 'udp' : p === 'SCTP' ? 'sctp' : 'tcp');

/**
 * Representative flows traced on both sides with the trace engine: each Service frontend from a local
 * pod and from the host, each NodePort from outside, and pod → pod across nodes. At most `max` flows:
 * regressions and changed frontends first, then the rest in order; the output says when it sampled.
 */
export function diffPaths(
  before: DiffSideInput,
  after: DiffSideInput,
  bctx: TraceContext,
  actx: TraceContext,
  services: ServiceDiff[],
  max = DEFAULT_MAX_FLOWS,
): { flows: PathDiff[]; candidates: number; sampled: boolean; note?: string } {
  const ends: Record<Family, Endpoints | undefined> = { 4: undefined, 6: undefined };
  const endsFor = (fam: Family) => (ends[fam] ??= pickEndpoints(before, after, bctx, actx, fam));
  const cands: Candidate[] = [];
  const missing = new Set<string>();
  const order = [...services]
    .filter((s) => s.address !== '0.0.0.0' && s.address !== '::')
    .sort(
      (x, y) =>
        Number(y.regression) - Number(x.regression) ||
        Number(y.status !== 'unchanged') - Number(x.status !== 'unchanged'),
    );
  for (const s of order) {
    const fam = familyOf(s.address) as Family;
    const e = endsFor(fam);
    const proto = protoOf(s.proto);
    const to = `${joinHostPort(s.address, s.port)}/${proto}`;
    if (s.type === 'NodePort') {
      if (e.outside)
        cands.push({
          category: 'nodeport-from-outside',
          label: `outside ${e.outside} → NodePort ${to}`,
          flow: { src: e.outside, dst: s.address, proto, dport: s.port },
          svc: s,
        });
      else missing.add(`IPv${fam} NodePort flows from outside: no remote node or default gateway to play the client`);
      continue;
    }
    if (e.pod)
      cands.push({
        category: 'service-from-pod',
        label: `pod ${e.pod} → ${s.type} ${to}`,
        flow: { src: e.pod, dst: s.address, proto, dport: s.port },
        svc: s,
      });
    else missing.add(`IPv${fam} flows from a pod: no pod of this node in either state`);
    if (e.host)
      cands.push({
        category: 'service-from-host',
        label: `host ${e.host} → ${s.type} ${to}`,
        flow: { src: e.host, dst: s.address, proto, dport: s.port },
        svc: s,
      });
  }
  for (const fam of [4, 6] as Family[]) {
    const e = ends[fam] ?? (fam === 4 ? endsFor(4) : undefined);
    if (!e?.pod) continue;
    if (e.remotePod)
      cands.unshift({
        category: 'pod-to-pod',
        label: `pod ${e.pod} → pod ${joinHostPort(e.remotePod.ip, e.remotePod.port)} on another node`,
        flow: { src: e.pod, dst: e.remotePod.ip, proto: 'tcp', dport: e.remotePod.port },
      });
    else missing.add(`IPv${fam} pod → pod across nodes: no pod of another node is known (no remote Service backend)`);
  }
  const picked = cands.slice(0, max);
  const flows = picked.map((c, i) =>
    comparePaths(`f${i + 1}`, c.category, c.label, c.flow, traceFlow(bctx, c.flow), traceFlow(actx, c.flow), c.svc),
  );
  const notes = [...missing];
  if (cands.length > picked.length)
    notes.unshift(
      `sampled: ${picked.length} of ${cands.length} flows traced (regressions and changed frontends first); the rest are left out to stay fast`,
    );
  const out: { flows: PathDiff[]; candidates: number; sampled: boolean; note?: string } = {
    flows,
    candidates: cands.length,
    sampled: cands.length > picked.length,
  };
  if (notes.length) out.note = notes.join('; ');
  return out;
}
