import { findRoutes, parsePrefixInto, ROUTE_TYPE_CODE } from '../../model/route-columns.js';
import { familyOf, ipToBytes, bytesToIp, joinHostPort, prefixContains, prefixLen } from '../../model/addr.js';
import type { CheckFlowCategory } from '../../model/check.js';
import type { Flow } from '../../model/trace.js';
import type { Family, Route } from '../../model/types.js';
import type { ServiceEntry } from '../../model/service.js';
import { classify, type TraceContext } from '../trace.js';
import { routeQuery } from '../routing.js';

/** A flow `check` traces, and what it stands for. */
export interface PlannedFlow {
  category: CheckFlowCategory;
  label: string;
  flow: Flow;
  /** for a flow from outside: the device it is taken to arrive on (enumerated, not inferred from routes) */
  arrivesOn?: string;
  /** for a Service flow: the frontend as `address:port/PROTO` */
  frontend?: string;
  /** a reply is traced only when its request was delivered */
  replyOf?: number;
}

/** How many other local pods each local pod is traced to. */
const POD_PEERS = 2;

/**
 * Addresses used for "somewhere outside": the documentation and well-known public ranges, the first one this
 * node's routing sends through the default route (never one the node has a more specific route for).
 */
const OUTSIDE: Record<Family, string[]> = {
  4: ['192.0.2.1', '198.51.100.1', '203.0.113.1', '8.8.8.8', '1.1.1.1'],
  6: ['2001:db8:ffff::1', '2001:4860:4860::8888', '2606:4700:4700::1111', '100::1'],
};

const host = (ip: string) => (ip.includes(':') ? `[${ip}]` : ip);
const protoOf = (p: string): Flow['proto'] => (p === 'UDP' ? 'udp' : p === 'SCTP' ? 'sctp' : 'tcp');

/** This node's pods, per family, sorted: pod namespaces' addresses and Cilium's endpoints that classify as local pods. */
export function localPods(ctx: TraceContext, fam: Family): string[] {
  const ips = new Set<string>();
  for (const ns of ctx.state.netns)
    for (const a of ns.addrs)
      if (a.ifname !== 'lo' && a.scope === 'global' && a.family === fam && !a.local.startsWith('fe80'))
        ips.add(a.local);
  for (const e of ctx.state.cilium.endpoints ?? [])
    if (!e.isHost) for (const ip of [e.ipv4, e.ipv6]) if (ip && familyOf(ip) === fam) ips.add(ip);
  // pods behind per-endpoint routes (`<pod> dev lxc…`) when neither namespaces nor endpoints were captured
  for (const r of findRoutes(
    ctx.state,
    (x) => x.nexthops.length === 1 && x.nexthops[0]!.gateway === undefined && !!x.nexthops[0]!.dev?.startsWith('lxc'),
    { family: fam, table: 254, type: 'unicast', len: fam === 4 ? 32 : 128 },
  ))
    ips.add(r.dst.slice(0, r.dst.indexOf('/')));
  // a namespace behind one of the node's own addressed devices (a router, a switch, a lab's other node) is
  // no pod: a pod's host-side device carries no global address of the node
  const addressed = new Set(ctx.state.addrs.filter((a) => a.scope === 'global').map((a) => a.ifname));
  return [...ips]
    .filter((ip) => {
      const c = classify(ctx, ip);
      return c.kind === 'local-pod' && !(c.dev !== undefined && addressed.has(c.dev));
    })
    .sort(compareIp);
}

function compareIp(a: string, b: string): number {
  const x = ipToBytes(a)!;
  const y = ipToBytes(b)!;
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** The node's own address a host flow starts from: the preferred source of the default route, else the first global address of an uplink. */
export function hostAddress(ctx: TraceContext, fam: Family): string | undefined {
  const d = defaultRoute(ctx, fam);
  if (d?.prefsrc) return d.prefsrc;
  const dev = d?.nexthops[0]?.dev;
  const addrs = ctx.state.addrs.filter((a) => a.family === fam && a.scope === 'global' && !a.secondary);
  return (addrs.find((a) => a.ifname === dev) ?? addrs.find((a) => isUplink(a.ifname)))?.local;
}

/** A device that faces the network (not a pod's, Cilium's own, a tunnel's, or loopback). */
export function isUplink(dev: string): boolean {
  return !/^(lo|lxc|cilium_|kube-ipvs0|docker0|tunl|vxlan|genev)/.test(dev);
}

export function defaultRoute(ctx: TraceContext, fam: Family): Route | undefined {
  return findRoutes(ctx.state, (r) => r.family === fam && r.nexthops.length > 0, {
    family: fam,
    table: 254,
    type: 'unicast',
    len: 0,
  })[0];
}

/** An address outside the node that the default route carries, or undefined when the node has no default route. */
export function outsideAddress(ctx: TraceContext, fam: Family): string | undefined {
  if (!defaultRoute(ctx, fam)) return undefined;
  return OUTSIDE[fam].find((ip) => {
    const ans = routeQuery(ctx.routing, { family: fam, dst: ip });
    return ans.result === 'unicast' && ans.route !== undefined && prefixLen(ans.route.dst) === 0;
  });
}

/**
 * One address in each remote node's pod CIDR: the main-table routes inside the native-routing CIDR that lead
 * to another node, and the ipcache prefixes with a tunnel endpoint. A known Service backend inside the CIDR is
 * preferred (a real pod); otherwise the CIDR's first host address.
 */
export function remotePodTargets(ctx: TraceContext, fam: Family, backends: Set<string>): string[] {
  const cidr = fam === 4 ? ctx.dp.nativeRoutingCidr.v4 : ctx.dp.nativeRoutingCidr.v6;
  const prefixes = new Set<string>();
  if (cidr.known) for (const r of routesWithin(ctx, fam, cidr.value)) prefixes.add(r.dst);
  for (const e of ctx.state.cilium.ipcache ?? ctx.state.cilium.ipcacheMap ?? [])
    if (e.tunnelEndpoint && familyOf(e.tunnelEndpoint) === fam && prefixLen(e.prefix) < (fam === 4 ? 32 : 128))
      prefixes.add(e.prefix);
  const out: string[] = [];
  for (const p of [...prefixes].sort()) {
    const known = [...backends].find((b) => familyOf(b) === fam && prefixContains(p, b));
    const ip = known ?? firstHost(p);
    if (ip && classify(ctx, ip).kind === 'remote-pod' && !out.includes(ip)) out.push(ip);
  }
  return out;
}

const POD_CIDR_TYPES = new Set<number>(
  (['unicast', 'blackhole', 'unreachable', 'prohibit'] as const).map((t) => ROUTE_TYPE_CODE[t]),
);

/**
 * Main-table routes inside `cidr` (more specific than the default route): a blackhole or unreachable route to
 * another node's pod CIDR is exactly what check must try. On route columns the prefix is tested on the key
 * words, so a node with a million routes builds only the few inside the CIDR.
 */
function routesWithin(ctx: TraceContext, fam: Family, cidr: string): Route[] {
  const want = (r: Route) =>
    r.table === 254 &&
    POD_CIDR_TYPES.has(ROUTE_TYPE_CODE[r.type]) &&
    prefixLen(r.dst) >= prefixLen(cidr) &&
    prefixContains(cidr, r.dst.slice(0, r.dst.indexOf('/')));
  const cols = ctx.state.routeColumns;
  if (!cols) return ctx.state.routes.filter((r) => r.family === fam && want(r));
  const words = fam === 4 ? 1 : 4;
  const ck = new Uint32Array(words);
  const clen = parsePrefixInto(fam, cidr, ck, 0);
  const out: Route[] = [];
  if (clen < 0) return out;
  for (const c of cols) {
    if (c.family !== fam) continue;
    for (let i = 0; i < c.count; i++) {
      if (c.table[i] !== 254 || !POD_CIDR_TYPES.has(c.type[i]!) || c.len[i]! < clen) continue;
      if (!within(c.key, i * words, ck, clen)) continue;
      const r = c.route(i);
      if (want(r)) out.push(r);
    }
  }
  return out;
}

/** Whether the key at `at` starts with the first `len` bits of `prefix`. */
function within(key: Uint32Array, at: number, prefix: Uint32Array, len: number): boolean {
  for (let w = 0; w * 32 < len; w++) {
    const bits = Math.min(32, len - w * 32);
    const mask = bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
    if ((key[at + w]! & mask) >>> 0 !== (prefix[w]! & mask) >>> 0) return false;
  }
  return true;
}

function firstHost(prefix: string): string | undefined {
  const b = ipToBytes(prefix.slice(0, prefix.indexOf('/')));
  if (!b) return undefined;
  b[b.length - 1] = (b[b.length - 1] ?? 0) + 1;
  return bytesToIp(b);
}

/** The devices NodePort and LoadBalancer traffic from outside arrives on: Cilium's native devices, else the uplinks. */
export function arrivalDevices(ctx: TraceContext, fam: Family): { dev: string; addr: string }[] {
  const native = ctx.dp.nativeDevices.known ? new Set(ctx.dp.nativeDevices.value) : undefined;
  const out: { dev: string; addr: string }[] = [];
  for (const a of ctx.state.addrs) {
    if (a.family !== fam || a.scope !== 'global' || a.secondary) continue;
    if (native ? !native.has(a.ifname) : !isUplink(a.ifname)) continue;
    const link = ctx.state.links.find((l) => l.name === a.ifname);
    if (link && (link.flags.includes('LOOPBACK') || (link.operstate === 'DOWN' && !link.flags.includes('UP'))))
      continue;
    if (!out.some((o) => o.dev === a.ifname)) out.push({ dev: a.ifname, addr: a.local });
  }
  return out;
}

/**
 * Every flow that matters on the node, in the order they are worth checking: pod to pod, pod to other nodes'
 * pods, pod to outside, host to pods, replies, then each Service frontend from a pod and from the host, and
 * NodePort / LoadBalancer frontends from outside on each arrival device.
 */
export function planFlows(ctx: TraceContext, services: ServiceEntry[]): { flows: PlannedFlow[]; notes: string[] } {
  const flows: PlannedFlow[] = [];
  const notes: string[] = [];
  const backends = new Set<string>();
  for (const e of services) for (const b of e.backends.slice(0, 4)) backends.add(b.address);
  const svcFlows: PlannedFlow[] = [];
  for (const fam of [4, 6] as Family[]) {
    const pods = localPods(ctx, fam);
    const me = hostAddress(ctx, fam);
    const outside = outsideAddress(ctx, fam);
    if (pods.length === 0 && !me) continue;
    const add = (f: PlannedFlow, reply?: Omit<PlannedFlow, 'replyOf'>) => {
      flows.push(f);
      if (reply) flows.push({ ...reply, replyOf: flows.length - 1 });
    };
    // each pod to the next POD_PEERS pods (in address order, wrapping): every pod is a source and a destination
    for (let i = 0; i < pods.length; i++)
      for (let k = 1; k <= Math.min(POD_PEERS, pods.length - 1); k++) {
        const a = pods[i]!;
        const b = pods[(i + k) % pods.length]!;
        add({
          category: 'pod-to-pod',
          label: `pod ${a} → pod ${b}`,
          flow: { src: a, dst: b, proto: 'tcp', dport: 80 },
        });
      }
    const remotes = remotePodTargets(ctx, fam, backends);
    remotes.forEach((r, i) => {
      const p = pods[i % Math.max(pods.length, 1)];
      if (!p) return;
      add(
        {
          category: 'pod-to-remote-pod',
          label: `pod ${p} → ${r} (another node's pod CIDR)`,
          flow: { src: p, dst: r, proto: 'tcp', dport: 80 },
        },
        {
          category: 'reply',
          label: `reply ${r} (another node's pod CIDR) → pod ${p}`,
          flow: { src: r, dst: p, proto: 'tcp', sport: 80, dport: 40000 },
        },
      );
    });
    if (outside)
      for (const p of pods.slice(0, 1))
        add({
          category: 'pod-to-outside',
          label: `pod ${p} → outside ${outside}`,
          flow: { src: p, dst: outside, proto: 'tcp', dport: 443 },
        });
    else if (pods.length > 0)
      notes.push(`IPv${fam}: no default route, so no pod → outside flow (see the no-default-route finding)`);
    if (me)
      for (const p of pods)
        add(
          {
            category: 'host-to-pod',
            label: `host ${me} → pod ${p}`,
            flow: { src: me, dst: p, proto: 'tcp', dport: 80 },
          },
          {
            category: 'reply',
            label: `reply pod ${p} → host ${me}`,
            flow: { src: p, dst: me, proto: 'tcp', sport: 80, dport: 40000 },
          },
        );
    // the node itself from outside, on each device such traffic arrives on (kubelet's port: every node listens)
    if (outside)
      for (const d of arrivalDevices(ctx, fam))
        add({
          category: 'outside-to-host',
          label: `outside ${outside} on ${d.dev} → host ${d.addr}`,
          flow: { src: outside, dst: d.addr, proto: 'tcp', dport: 10250 },
          arrivesOn: d.dev,
        });
    // Services: one frontend per address, port and protocol; the sources take turns among the pods
    const seen = new Set<string>();
    const devs = arrivalDevices(ctx, fam);
    const podSet = new Set(pods);
    const hairpinned = new Set<string>();
    let turn = 0;
    for (const e of services) {
      const f = e.frontend;
      if (familyOf(f.address) !== fam || f.scope === 'internal' || f.port === 0) continue;
      const proto = protoOf(f.proto);
      const any = f.address === '0.0.0.0' || f.address === '::';
      const external = e.type === 'NodePort' || e.type === 'LoadBalancer' || e.type === 'ExternalIP';
      if (external) {
        if (!outside) continue;
        for (const d of devs) {
          if (!any && e.type === 'NodePort' && f.address !== d.addr) continue;
          const dst = any ? d.addr : f.address;
          const key = `out|${d.dev}|${dst}|${f.port}|${proto}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const fe = `${host(dst)}:${f.port}/${f.proto}`;
          svcFlows.push({
            category: 'nodeport-from-outside',
            label: `outside ${outside} on ${d.dev} → ${e.type} ${fe}`,
            flow: { src: outside, dst, proto, dport: f.port },
            arrivesOn: d.dev,
            frontend: fe,
          });
        }
        if (e.type === 'NodePort' || any) continue;
      }
      if (any) continue;
      const key = `in|${f.address}|${f.port}|${proto}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const fe = `${host(f.address)}:${f.port}/${f.proto}`;
      // a pod that is not one of the Service's own backends: a pod reaching itself through its Service
      // (hairpin) is a path of its own, not the one every other client takes
      const own = new Set(e.backends.map((b) => b.address));
      let p: string | undefined;
      for (let k = 0; k < pods.length && p === undefined; k++) {
        const c = pods[(turn + k) % pods.length]!;
        if (!own.has(c)) p = c;
      }
      turn++;
      p ??= pods[turn % Math.max(pods.length, 1)];
      if (p)
        svcFlows.push({
          category: 'pod-to-service',
          label: `pod ${p} → ${e.type} ${fe}`,
          flow: { src: p, dst: f.address, proto, dport: f.port },
          frontend: fe,
        });
      // hairpin: a local pod that backs this frontend reaching itself through it (the per-packet LB's loopback SNAT,
      // none for IPv6 before 1.19, or socket-LB's rewrite to the pod's own address), once per pod and family: every
      // Service takes the same path for it
      for (const bk of e.backends) {
        if (bk.state !== 'active' || bk.port === 0 || !podSet.has(bk.address) || hairpinned.has(bk.address)) continue;
        hairpinned.add(bk.address);
        svcFlows.push({
          category: 'pod-to-service',
          label: `pod ${bk.address} → its own ${e.type} ${fe} (hairpin)`,
          flow: { src: bk.address, dst: f.address, proto, dport: f.port, backend: joinHostPort(bk.address, bk.port) },
          frontend: fe,
        });
        break;
      }
      if (me)
        svcFlows.push({
          category: 'host-to-service',
          label: `host ${me} → ${e.type} ${fe}`,
          flow: { src: me, dst: f.address, proto, dport: f.port },
          frontend: fe,
        });
    }
  }
  return { flows: [...flows, ...svcFlows], notes };
}
