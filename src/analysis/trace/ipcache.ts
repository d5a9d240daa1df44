// Cilium's ipcache as the trace engine asks it: which identity an address has, and the node it is tunnelled or
// encrypted to. The datapath decides node vs pod vs world from this map (bpf/lib/identity.h), not from routes, so a
// trace that has it follows it; a trace without it says what it could not decide.
import type { Evidence, IpcacheEntry } from '../../model/types.js';
import { canonPrefix, familyOf } from '../../model/addr.js';

import type { TraceContext } from './context.js';
import { sourceProblem } from './hops.js';

// reserved identities (pkg/identity/numericidentity.go; bpf/lib/identity.h)
export const ID_HOST = 1;
export const ID_WORLD = 2;
export const ID_REMOTE_NODE = 6;
export const ID_KUBE_APISERVER = 7;
export const ID_WORLD_V4 = 9;
export const ID_WORLD_V6 = 10;

/** identity_is_remote_node (rule 'ipcache-remote-node-identity'): remote-node, kube-apiserver (a node that runs it), or a per-node identity (scope 0x02). */
export function isRemoteNodeIdentity(id: number): boolean {
  return id === ID_REMOTE_NODE || id === ID_KUBE_APISERVER || (id & 0xff000000) >>> 0 === 0x02000000;
}

/** identity_is_cluster: not world, not a CIDR (local-scope 0x01) identity. */
export function isClusterIdentity(id: number): boolean {
  if (id === ID_WORLD || id === ID_WORLD_V4 || id === ID_WORLD_V6) return false;
  return (id & 0xff000000) >>> 0 !== 0x01000000;
}

export interface IpcacheView {
  /** longest-prefix match, as the datapath's LPM lookup answers; undefined when no entry covers the address */
  lookup(ip: string): IpcacheEntry | undefined;
  /** the probe it came from: `cilium-ipcache` (the CLI) or the pinned map */
  from: string;
}

type IpcacheFact = { known: true; value: IpcacheView } | { known: false; because: string };

const cache = new WeakMap<TraceContext, IpcacheFact>();

/** The node's ipcache, or why it is unknown. The pinned map wins over the CLI: it is what the programs read. */
export function ipcacheOf(ctx: TraceContext): IpcacheFact {
  const hit = cache.get(ctx);
  if (hit) return hit;
  const c = ctx.state.cilium;
  const entries = c.ipcacheMap ?? c.ipcache;
  let out: IpcacheFact;
  if (entries === undefined) {
    const why = [sourceProblem(ctx, 'cilium-ipcache'), sourceProblem(ctx, 'bpf-map/cilium_ipcache_v2')]
      .filter((x) => x !== undefined)
      .join('; ');
    out = { known: false, because: `the ipcache was not read (${why})` };
  } else {
    out = { known: true, value: buildView(entries, c.ipcacheMap ? 'pinned ipcache map' : 'cilium-ipcache') };
  }
  cache.set(ctx, out);
  return out;
}

function buildView(entries: IpcacheEntry[], from: string): IpcacheView {
  // per family and prefix length, the entries by canonical prefix: a lookup tries each length present, longest first
  const byLen = new Map<string, Map<number, Map<string, IpcacheEntry>>>();
  for (const e of entries) {
    // clustermesh entries of another cluster are keyed by cluster id too: not this cluster's addresses
    if (e.clusterId !== undefined && e.clusterId !== 0) continue;
    const p = canonPrefix(e.prefix);
    if (!p) continue;
    const fam = String(familyOf(p.split('/')[0]!));
    const len = Number(p.split('/')[1]);
    let f = byLen.get(fam);
    if (!f) byLen.set(fam, (f = new Map()));
    let m = f.get(len);
    if (!m) f.set(len, (m = new Map()));
    if (!m.has(p)) m.set(p, e);
  }
  const lens = new Map([...byLen].map(([fam, m]) => [fam, [...m.keys()].sort((a, b) => b - a)]));
  return {
    from,
    lookup(ip: string) {
      const fam = String(familyOf(ip));
      const f = byLen.get(fam);
      if (!f) return undefined;
      for (const len of lens.get(fam)!) {
        const p = canonPrefix(`${ip}/${len}`);
        const e = p ? f.get(len)!.get(p) : undefined;
        if (e) return e;
      }
      return undefined;
    },
  };
}

/** `10.0.1.5/32 identity=6 tunnelendpoint=…` as evidence text is the entry's own line. */
export function ipcacheEvidence(e: IpcacheEntry): Evidence[] {
  return [e.source];
}

/** What an identity is, in words, for `because` texts. */
export function identityName(id: number): string {
  const reserved: Record<number, string> = {
    1: 'host',
    2: 'world',
    3: 'unmanaged',
    4: 'health',
    5: 'init',
    6: 'remote-node',
    7: 'kube-apiserver',
    8: 'ingress',
    9: 'world-ipv4',
    10: 'world-ipv6',
  };
  return reserved[id] ?? ((id & 0xff000000) >>> 0 === 0x01000000 ? `CIDR identity ${id}` : `identity ${id}`);
}
