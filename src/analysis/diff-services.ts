import type { FrontendSide, ServiceChange, ServiceDiff } from '../model/diff.js';
import {
  type Backend,
  type L4Proto,
  type ServiceEntry,
  type ServiceSource,
  type ServiceType,
  unknownWhy,
} from '../model/service.js';
import type { Address, Evidence, Family, NodeState } from '../model/types.js';
import { familyOf, joinHostPort } from '../model/addr.js';
import type { IpSet } from '../tools/ipset/index.js';
import type { DiffSideInput } from './diff.js';
import { byCodeUnit } from '../model/order.js';

const CILIUM: ReadonlySet<ServiceSource> = new Set(['cilium-bpf', 'cilium-dbg']);
export const isCilium = (s: ServiceSource): boolean => CILIUM.has(s);
// What acts first on a packet: Cilium's maps (socket and tc hooks run before netfilter), then
// cilium-dbg's view of them, then kube-proxy's rules.
const PRECEDENCE: ServiceSource[] = ['cilium-bpf', 'cilium-dbg', 'kube-proxy-iptables', 'kube-proxy-nftables', 'ipvs'];

// Devices whose addresses are not where clients reach a NodePort: loopback, kube-proxy's and
// Cilium's own devices, pod-side veths, container bridges and overlay devices.
const NOT_NODE_DEVICE =
  /^(lo|kube-ipvs0|cilium_|lxc|docker|cni|flannel|vxlan|genev|nodelocaldns|virbr|kube-bridge|tunl|ip6tnl|sit0|weave|cali)/;

/** The node's own addresses a client outside can send a NodePort packet to, by family. */
export function nodeAddresses(state: NodeState): Address[] {
  return state.addrs.filter((a) => a.scope === 'global' && !NOT_NODE_DEVICE.test(a.ifname));
}

const wildcard = (fam: Family) => (fam === 4 ? '0.0.0.0' : '::');
const isWildcard = (a: string) => a === '0.0.0.0' || a === '::';
export const frontendText = (a: string, p: number, proto: L4Proto) => `${joinHostPort(a, p)}/${proto}`;

/** A frontend as the diff keys it: NodePorts per node address, everything else as programmed. */
interface Slot {
  address: string;
  port: number;
  proto: L4Proto;
  entries: ServiceEntry[];
}

const slotKey = (a: string, p: number, proto: L4Proto) => `${a}|${p}|${proto}`;

/**
 * Every frontend a side serves, keyed as the diff compares them. A kube-proxy NodePort (iptables and
 * nftables program it for `--dst-type LOCAL`, every local address) becomes one frontend per node
 * address plus `0.0.0.0:PORT` for the node's other local addresses; an IPVS or Cilium NodePort on an
 * address that is not a node address (loopback, cilium_host) folds into that `0.0.0.0:PORT` too.
 */
export function frontendSlots(side: DiffSideInput): Map<string, Slot> {
  const nodes = nodeAddresses(side.state);
  const nodeSet = new Set(nodes.map((a) => a.local));
  const slots = new Map<string, Slot>();
  const put = (address: string, e: ServiceEntry) => {
    const k = slotKey(address, e.frontend.port, e.frontend.proto);
    let s = slots.get(k);
    if (!s) {
      s = { address, port: e.frontend.port, proto: e.frontend.proto, entries: [] };
      slots.set(k, s);
    }
    if (!s.entries.includes(e)) s.entries.push(e);
  };
  for (const e of side.services) {
    // the internal scope of a two-scopes Cilium Service is what pods and the host get: compared through the ClusterIP
    if (e.frontend.scope === 'internal') continue;
    const a = e.frontend.address;
    const fam = (familyOf(a) ?? 4) as Family;
    if (e.type === 'NodePort') {
      if (isWildcard(a)) {
        put(a, e);
        if (!isCilium(e.source)) for (const n of nodes) if (n.family === fam) put(n.local, e);
      } else put(nodeSet.has(a) ? a : wildcard(fam), e);
      continue;
    }
    put(a, e);
  }
  return slots;
}

/** The slot of `other` that serves what `s` does: same key, or the other side's protocol-less (`ANY`, Cilium ≤ 1.16) entry. */
function counterpart(s: Slot, other: Map<string, Slot>): Slot | undefined {
  return (
    other.get(slotKey(s.address, s.port, s.proto)) ??
    (s.proto !== 'ANY'
      ? other.get(slotKey(s.address, s.port, 'ANY'))
      : (other.get(slotKey(s.address, s.port, 'TCP')) ?? other.get(slotKey(s.address, s.port, 'UDP'))))
  );
}

const activeSet = (bs: Backend[]) =>
  [
    ...new Set(
      bs.filter((b) => b.state === 'active' || b.state === 'unknown').map((b) => joinHostPort(b.address, b.port)),
    ),
  ].sort();

function inSet(
  sets: IpSet[] | undefined,
  name: string,
  test: (m: IpSet['members'][number]) => boolean,
): Evidence | undefined {
  const s = sets?.find((x) => x.name === name);
  return s?.members.find(test)?.source;
}

/** The side's view of one frontend: which layers, which one acts first, what it does. */
function sideOf(slot: Slot, ipsets: IpSet[] | undefined): FrontendSide {
  const entries = [...slot.entries].sort((a, b) => PRECEDENCE.indexOf(a.source) - PRECEDENCE.indexOf(b.source));
  const owner = entries[0]!;
  const layers = [...new Set(entries.map((e) => e.source))];
  let type: ServiceType = owner.type;
  const evidence: Evidence[] = owner.evidence.slice(0, 4);
  const p = owner.frontend.proto;
  const matchesFe = (m: IpSet['members'][number]) =>
    m.ip === owner.frontend.address &&
    m.port === owner.frontend.port &&
    (m.proto === undefined || m.proto.toUpperCase() === p);
  // IPVS shows neither the type of a VIP nor the traffic policy; kube-proxy's ipsets do
  let policy: FrontendSide['trafficPolicy'];
  if (owner.source === 'ipvs') {
    const fam = familyOf(owner.frontend.address) === 6 ? '6-' : '';
    const ext = inSet(ipsets, `KUBE-${fam}EXTERNAL-IP`, matchesFe);
    const lb = inSet(ipsets, `KUBE-${fam}LOAD-BALANCER`, matchesFe);
    if (ext) {
      type = 'ExternalIP';
      evidence.push(ext);
    } else if (lb) {
      type = 'LoadBalancer';
      evidence.push(lb);
    }
    const local =
      type === 'NodePort'
        ? inSet(ipsets, `KUBE-${fam}NODE-PORT-LOCAL-${p}`, (m) => m.port === owner.frontend.port)
        : type === 'ExternalIP'
          ? inSet(ipsets, `KUBE-${fam}EXTERNAL-IP-LOCAL`, matchesFe)
          : type === 'LoadBalancer'
            ? inSet(ipsets, `KUBE-${fam}LOAD-BALANCER-LOCAL`, matchesFe)
            : undefined;
    if (local) {
      policy = 'Local';
      evidence.push(local);
    } else policy = ipsets && type !== 'ClusterIP' ? 'Cluster' : 'unknown';
  } else if (unknownWhy(owner, 'traffic-policy') !== undefined) policy = 'unknown';
  else if (type === 'ClusterIP') {
    // kube-proxy sends an internalTrafficPolicy=Local ClusterIP to its local-endpoints chain
    const kpLocal =
      !isCilium(owner.source) && (/^KUBE-SVL-/.test(owner.chain ?? '') || /^local-/.test(owner.chain ?? ''));
    policy = owner.flags.internalTrafficPolicyLocal || kpLocal ? 'Local' : 'Cluster';
  } else policy = owner.flags.externalTrafficPolicyLocal ? 'Local' : 'Cluster';
  const affinityUnknown = unknownWhy(owner, 'affinity');
  const unknown: NonNullable<FrontendSide['unknown']> = [];
  if (affinityUnknown !== undefined) unknown.push({ field: 'affinity', because: affinityUnknown });
  const policyWhy = unknownWhy(owner, 'traffic-policy');
  if (policy === 'unknown')
    unknown.push({
      field: 'traffic-policy',
      because: policyWhy ?? `${owner.source} does not show it and kube-proxy's ipsets were not read`,
    });
  const typeWhy = unknownWhy(owner, 'type');
  if (typeWhy !== undefined) unknown.push({ field: 'type', because: typeWhy });
  const side: FrontendSide = {
    type,
    layers,
    owner: owner.source,
    programmedAs: frontendText(owner.frontend.address, owner.frontend.port, owner.frontend.proto),
    proto: owner.frontend.proto,
    backends: activeSet(owner.backends),
    affinity: {
      enabled: affinityUnknown !== undefined ? 'unknown' : owner.flags.sessionAffinity === true,
      ...(owner.flags.affinityTimeoutSeconds !== undefined
        ? { timeoutSeconds: owner.flags.affinityTimeoutSeconds }
        : {}),
    },
    trafficPolicy: policy,
    evidence,
  };
  if (unknown.length) side.unknown = unknown;
  const name = entries.find((e) => e.name)?.name;
  if (name) side.name = name;
  if (owner.chain) side.chain = owner.chain;
  const inc = owner.incomplete;
  if (inc) side.incomplete = inc;
  return side;
}

const listText = (xs: string[]) =>
  xs.length === 0 ? 'none' : xs.length <= 4 ? xs.join(', ') : `${xs.slice(0, 4).join(', ')} … (${xs.length})`;

const affinityText = (x: FrontendSide['affinity']) =>
  x.enabled === 'unknown'
    ? 'unknown'
    : x.enabled
      ? `ClientIP${x.timeoutSeconds !== undefined ? ` ${x.timeoutSeconds}s` : ''}`
      : 'None';
const sameAffinity = (x: FrontendSide['affinity'], y: FrontendSide['affinity']) =>
  x.enabled === y.enabled &&
  (x.timeoutSeconds === undefined || y.timeoutSeconds === undefined || x.timeoutSeconds === y.timeoutSeconds);

/**
 * One field, before → after. Before, several layers may program a frontend differently (Cilium without
 * kube-proxy replacement balances ClusterIPs for pods, without affinity; kube-proxy for everything else):
 * when the after value is what one of them did, the change is stated but is no regression.
 */
function field<T>(
  name: ServiceChange['field'],
  layers: FrontendSide[],
  a: FrontendSide,
  get: (s: FrontendSide) => T,
  same: (x: T, y: T) => boolean,
  text: (x: T) => string,
  because?: (b: T, a: T) => string | undefined,
): ServiceChange | undefined {
  const b = layers[0]!;
  if (same(get(b), get(a))) return undefined;
  const other = layers.slice(1).find((l) => same(get(l), get(a)));
  const c: ServiceChange = { field: name, before: text(get(b)), after: text(get(a)), regression: other === undefined };
  const why = other
    ? `before, ${b.owner} did ${text(get(b))} and ${other.owner} ${text(get(other))}: now one behaviour for all traffic`
    : because?.(get(b), get(a));
  if (why) c.because = why;
  return c;
}

function compare(layers: FrontendSide[], a: FrontendSide, afterHasCilium: boolean): ServiceChange[] {
  const b = layers[0]!;
  const out: (ServiceChange | undefined)[] = [];
  const known = layers.filter((l) => !l.incomplete);
  // no verdict on backends that a side could not read
  if (known.length && !a.incomplete)
    out.push(
      field(
        'backends',
        known,
        a,
        (x) => x.backends,
        (x, y) => x.join(',') === y.join(','),
        listText,
        (bb, ab) => {
          const gone = bb.filter((x) => !ab.includes(x));
          const added = ab.filter((x) => !bb.includes(x));
          return ab.length === 0
            ? 'no active backend after: the frontend drops what it served'
            : `${gone.length ? `lost ${listText(gone)}` : ''}${gone.length && added.length ? '; ' : ''}${added.length ? `gained ${listText(added)}` : ''} (pods rescheduled between the snapshots look like this too)`;
        },
      ),
    );
  // a property one side cannot show is not compared (notCompared says so), whatever the other side says
  const affinityKnown = layers.filter((l) => l.affinity.enabled !== 'unknown');
  if (affinityKnown.length && a.affinity.enabled !== 'unknown')
    out.push(field('affinity', affinityKnown, a, (x) => x.affinity, sameAffinity, affinityText));
  const policied = layers.filter((l) => l.trafficPolicy !== 'unknown');
  if (policied.length && a.trafficPolicy !== 'unknown')
    out.push(
      field(
        'traffic-policy',
        policied,
        a,
        (x) => x.trafficPolicy,
        (x, y) => x === y,
        String,
      ),
    );
  if (b.proto !== a.proto && b.proto !== 'ANY' && a.proto !== 'ANY')
    out.push({ field: 'protocol', before: b.proto, after: a.proto, regression: true });
  const guessed = (s: FrontendSide) =>
    s.owner === 'ipvs' || s.owner === 'kube-proxy-nftables' || s.unknown?.some((u) => u.field === 'type') === true;
  if (b.type !== a.type && !guessed(b) && !guessed(a))
    out.push({ field: 'type', before: b.type, after: a.type, regression: false });
  if (afterHasCilium && !isCilium(a.owner)) {
    out.push({
      field: 'owner',
      before: b.owner,
      after: a.owner,
      regression: true,
      because: `Cilium does not program it: only ${a.owner}'s leftover rules still serve it, with the backends they last knew`,
    });
  }
  return out.filter((c): c is ServiceChange => c !== undefined);
}

/**
 * The properties compare() left alone because a side cannot show them: unknown after, or unknown on every layer
 * before (one layer that shows it is enough to compare against).
 */
function uncompared(layers: FrontendSide[], a: FrontendSide): NonNullable<ServiceDiff['notCompared']> {
  const out: NonNullable<ServiceDiff['notCompared']> = [];
  for (const f of ['affinity', 'traffic-policy'] as const) {
    const unknownIn = (x: FrontendSide) => (f === 'affinity' ? x.affinity.enabled : x.trafficPolicy) === 'unknown';
    const why = (x: FrontendSide) => x.unknown?.find((u) => u.field === f)?.because ?? 'not shown by its input';
    const before = layers.every(unknownIn);
    const after = unknownIn(a);
    if (!before && !after) continue;
    const side = before && after ? 'both' : before ? 'before' : 'after';
    const because =
      side === 'both'
        ? `before: ${why(layers[0]!)}; after: ${why(a)}`
        : `${side}: ${side === 'before' ? why(layers[0]!) : why(a)}`;
    out.push({ field: f, side, because });
  }
  return out;
}

/** One side per layer that programs the slot, the owner (first in precedence) first. */
function layerSides(slot: Slot, ipsets: IpSet[] | undefined): FrontendSide[] {
  const bySource = new Map<ServiceSource, ServiceEntry[]>();
  for (const e of slot.entries) {
    const es = bySource.get(e.source);
    if (es) es.push(e);
    else bySource.set(e.source, [e]);
  }
  // the first layer in precedence is the whole slot's side (its owner): its own side is never built
  let first: ServiceSource | undefined;
  for (const s of bySource.keys())
    if (first === undefined || PRECEDENCE.indexOf(s) < PRECEDENCE.indexOf(first)) first = s;
  const sides: FrontendSide[] = [];
  for (const [s, es] of bySource) if (s !== first) sides.push(sideOf({ ...slot, entries: es }, ipsets));
  sides.sort((x, y) => PRECEDENCE.indexOf(x.owner) - PRECEDENCE.indexOf(y.owner));
  sides.unshift(sideOf(slot, ipsets));
  return sides;
}

/**
 * kube-proxy serves a NodePort on every local address, from anywhere (`--dst-type LOCAL`, IPVS virtual servers
 * on each address). Cilium's bpf_host looks the packet's own address up: from outside only its NodePort
 * addresses answer; the surrogate `0.0.0.0:PORT` is used by socket-LB's wildcard lookup, for this node's sockets.
 */
function nodePortReach(
  s: Slot,
  b: FrontendSide,
  a: FrontendSide,
  as: Map<string, Slot>,
  before: DiffSideInput,
): ServiceChange | undefined {
  if (b.type !== 'NodePort' || !isWildcard(s.address) || b.layers.every(isCilium) || !isCilium(a.owner))
    return undefined;
  const explicit = [...as.values()]
    .filter(
      (x) =>
        x.port === s.port &&
        !isWildcard(x.address) &&
        x.entries.some((e) => isCilium(e.source) && e.type === 'NodePort'),
    )
    .map((x) => x.address);
  const folded = [...new Set(s.entries.filter((e) => !isWildcard(e.frontend.address)).map((e) => e.frontend.address))];
  const dev = (ip: string) => before.state.addrs.find((x) => x.local === ip)?.ifname;
  const listed = folded.map((ip) => `${ip}${dev(ip) ? ` (${dev(ip)})` : ''}`).join(', ');
  return {
    field: 'reach',
    before: `every local address${listed ? ` (${listed} too)` : ''}, from anywhere`,
    after: `from outside on ${explicit.length ? explicit.join(', ') : "Cilium's NodePort addresses"} only; ${listed || 'other local addresses'} from this node's sockets`,
    regression: false,
    because:
      "Cilium's cil_from_netdev looks up the packet's own destination; only socket-LB falls back to the 0.0.0.0 entry",
  };
}

/** Service parity: every frontend before, matched to the after side; added ones last. */
export function diffServices(before: DiffSideInput, after: DiffSideInput): ServiceDiff[] {
  const bs = frontendSlots(before);
  const as = frontendSlots(after);
  const afterHasCilium = after.services.some((e) => isCilium(e.source));
  const out: ServiceDiff[] = [];
  const matched = new Set<Slot>();
  for (const s of bs.values()) {
    const bLayers = layerSides(s, before.ipsets);
    const b = bLayers[0]!;
    const m = counterpart(s, as);
    const base = {
      frontend: frontendText(s.address, s.port, s.proto),
      address: s.address,
      port: s.port,
      proto: s.proto,
    };
    if (!m) {
      const d: ServiceDiff = {
        ...base,
        type: b.type,
        status: 'removed',
        regression: true,
        summary: `served before by ${b.owner}${b.chain ? ` (${shortChain(b.chain)})` : ''}; no layer serves it after`,
        owner: { before: b.owner, after: null },
        before: b,
        changes: [],
      };
      if (b.name) d.name = b.name;
      out.push(d);
      continue;
    }
    matched.add(m);
    const a = sideOf(m, after.ipsets);
    const changes = compare(bLayers, a, afterHasCilium);
    const reach = nodePortReach(s, b, a, as, before);
    if (reach) changes.push(reach);
    const regression = changes.some((c) => c.regression);
    const notCompared = uncompared(bLayers, a);
    const skipped = new Set(notCompared.map((n) => n.field));
    const compared = [
      'backends',
      'protocol',
      ...(skipped.has('affinity') ? [] : ['affinity']),
      ...(skipped.has('traffic-policy') ? [] : ['traffic policy']),
    ];
    const d: ServiceDiff = {
      ...base,
      type: b.type,
      status: changes.length ? 'changed' : 'unchanged',
      regression,
      summary: changes.length
        ? changes.map((c) => `${c.field}: ${c.before} → ${c.after}${c.because ? ` (${c.because})` : ''}`).join('; ')
        : `same ${compared.slice(0, -1).join(', ')} and ${compared.at(-1)}${b.owner !== a.owner ? `; ${b.owner} → ${a.owner}` : ''}${notCompared.length ? `; not compared: ${notCompared.map((n) => n.field).join(', ')}` : ''}`,
      owner: { before: b.owner, after: a.owner },
      before: b,
      after: a,
      changes,
    };
    if (notCompared.length) d.notCompared = notCompared;
    const name = b.name ?? a.name;
    if (name) d.name = name;
    out.push(d);
  }
  for (const s of as.values()) {
    if (matched.has(s) || counterpart(s, bs)) continue;
    const a = sideOf(s, after.ipsets);
    const d: ServiceDiff = {
      frontend: frontendText(s.address, s.port, s.proto),
      address: s.address,
      port: s.port,
      proto: s.proto,
      type: a.type,
      status: 'added',
      regression: false,
      summary: `new after: programmed by ${a.layers.join(', ')}`,
      owner: { before: null, after: a.owner },
      after: a,
      changes: [],
    };
    if (a.name) d.name = a.name;
    out.push(d);
  }
  const rank = { removed: 0, changed: 1, added: 2, unchanged: 3 } as const;
  out.sort(
    (x, y) =>
      Number(y.regression) - Number(x.regression) ||
      rank[x.status] - rank[y.status] ||
      byCodeUnit(x.name ?? '~', y.name ?? '~') ||
      byCodeUnit(x.frontend, y.frontend),
  );
  return out;
}

export function shortChain(c: string): string {
  return c.length > 48 ? c.slice(0, 47) + '…' : c;
}
