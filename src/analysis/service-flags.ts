import {
  FLAG_NAMES,
  type FlagReading,
  type ServiceEntry,
  type ServiceFlagReport,
  type ServiceProperty,
  type ServiceSource,
  unknownWhy,
} from '../model/service.js';
import type { Evidence } from '../model/types.js';
import { parseCiliumVersion } from '../model/cilium-rules.js';

/**
 * svc lookup's flag report (issue 14): every flag that decides what happens to a packet, as each source shows it,
 * and `unknown` with why where a source cannot show it (docs/services.md, "Flags"). What an input's format cannot
 * show is marked on the entry by its reader (ServiceEntry.unknown); what a layer cannot do at all (kube-proxy has no
 * L7 load balancer) is a fact of the layer, stated here with its reason.
 */

/** Node-wide Cilium settings that decide a flag a Service entry does not carry (from `cilium-dbg status`). */
export interface NodeLbFacts {
  version?: string;
  /** `Backend Selection: Random | Maglev (Table Size: N)` */
  backendSelection?: { value: string; source: Evidence };
  /** `Mode: SNAT | DSR | Hybrid` (KubeProxyReplacement Details) */
  kprMode?: { mode: string; source: Evidence };
}

// status lines are aligned with runs of spaces: one is enough in a sentence
const squash = (t: string) => t.replace(/\s+/g, ' ').trim();
const val = <T>(value: T, from: string): FlagReading<T> => ({ value, from });
const unk = <T>(why: string): FlagReading<T> => ({ unknown: why });
export const flagKnown = <T>(r: FlagReading<T> | undefined): r is { value: T; from: string } =>
  r !== undefined && 'value' in r;

/** Before 1.17 (true), from 1.17 (false), or not known (undefined): per-Service algorithm and DSR start in 1.17. */
function before117(version: string | undefined): boolean | undefined {
  const v = version === undefined ? null : parseCiliumVersion(version);
  if (!v) return undefined;
  return v[0] < 1 || (v[0] === 1 && v[1] < 17);
}

/** The input an entry was read from, for the `from` of its readings. */
function origin(e: ServiceEntry): string {
  const probe = e.evidence[0]?.probe ?? e.source;
  const raw = (e.flags.raw ?? []).filter((w) => w !== 'type-not-printed');
  return raw.length ? `${probe} [${raw.join(', ')}]` : probe;
}

/** The flags of one entry, as its source shows them. */
export function flagReport(e: ServiceEntry, node: NodeLbFacts = {}): ServiceFlagReport {
  if (e.source === 'cilium-bpf' || e.source === 'cilium-dbg') return ciliumFlags(e, node);
  if (e.source === 'ipvs') return ipvsFlags(e);
  return kubeProxyFlags(e);
}

function ciliumFlags(e: ServiceEntry, node: NodeLbFacts): ServiceFlagReport {
  const f = e.flags;
  const from = origin(e);
  const why = (p: ServiceProperty) => unknownWhy(e, p);
  const notSet = 'this source did not show it';
  const bool = (p: ServiceProperty, v: boolean | undefined): FlagReading<boolean> => {
    const w = why(p);
    if (w !== undefined) return unk(w);
    return v === undefined ? unk(notSet) : val(v, from);
  };
  const policy = (p: ServiceProperty, local: boolean | undefined) => {
    const r = bool(p, local);
    return flagKnown(r)
      ? val(r.value ? ('Local' as const) : ('Cluster' as const), r.from)
      : unk<'Local' | 'Cluster'>(r.unknown);
  };
  const out: ServiceFlagReport = {
    routable: bool('routable', f.routable),
    dsr: ciliumDsr(e, node, from),
    algorithm: ciliumAlgorithm(e, node, from),
    sessionAffinity: bool('affinity', f.sessionAffinity),
    externalTrafficPolicy: policy('traffic-policy', f.externalTrafficPolicyLocal),
    internalTrafficPolicy: policy('internal-traffic-policy', f.internalTrafficPolicyLocal),
    l7LoadBalancer: bool('l7-redirect', f.l7LoadBalancer),
    sourceRangeCheck: bool('source-range-check', f.sourceRangeCheck),
  };
  if (!flagKnown(out.sessionAffinity) || out.sessionAffinity.value) {
    const w = why('affinity-timeout') ?? why('affinity');
    out.affinityTimeoutSeconds =
      w !== undefined
        ? unk(w)
        : f.affinityTimeoutSeconds !== undefined
          ? val(f.affinityTimeoutSeconds, from)
          : unk(notSet);
  }
  if (!flagKnown(out.l7LoadBalancer) || out.l7LoadBalancer.value) {
    const w = why('l7-redirect');
    out.l7ProxyPort = w !== undefined ? unk(w) : f.l7ProxyPort !== undefined ? val(f.l7ProxyPort, from) : unk(notSet);
  }
  if (!flagKnown(out.sourceRangeCheck) || out.sourceRangeCheck.value) {
    const w = why('source-ranges');
    out.sourceRanges = e.sourceRanges ? val(e.sourceRanges, from) : unk(w ?? notSet);
  }
  return out;
}

/**
 * DSR for this Service. From 1.17 a Service carries its own DSR bit (flags2 0x80), which the datapath obeys when
 * compiled with ENABLE_DSR_BYUSER (nodeport_uses_dsr; the agent sets it in Hybrid and annotation mode); otherwise
 * the node's NodePort mode decides for every Service: DSR, SNAT, or Hybrid (DSR for TCP, SNAT for UDP). Before 1.17
 * only the node's mode exists. Annotation mode is not in the node state netpath reads, so a clear bit under a DSR or
 * Hybrid node stays unknown.
 */
function ciliumDsr(e: ServiceEntry, node: NodeLbFacts, from: string): FlagReading<boolean> {
  const marked = unknownWhy(e, 'dsr');
  const bit = marked === undefined ? e.flags.dsr : undefined;
  if (bit === true) return val(true, from);
  const m = node.kprMode;
  const mode = m ? /^(DSR|SNAT|Hybrid)\b/i.exec(m.mode)?.[1]?.toUpperCase() : undefined;
  const modeText = m ? `node NodePort mode ${m.mode} (${squash(m.source.text)})` : undefined;
  const old = before117(node.version);
  const shown = bit === false ? `DSR bit clear (${from})` : (marked ?? 'this source did not show it');
  if (mode === 'SNAT') {
    // a clear bit is SNAT in every mode that reads it, and SNAT is the node's default
    if (bit === false || old === true) return val(false, bit === false ? `${from}; ${modeText}` : modeText!);
    return unk(`${shown}; the node default is SNAT (${modeText}), and from 1.17 a Service can be DSR by annotation`);
  }
  if (mode === 'DSR' || mode === 'HYBRID') {
    if (old === true) {
      if (mode === 'DSR') return val(true, modeText!);
      if (e.frontend.proto === 'TCP') return val(true, `${modeText}: DSR for TCP`);
      if (e.frontend.proto === 'UDP') return val(false, `${modeText}: SNAT for UDP`);
      return unk(`${modeText}: DSR for TCP and SNAT for UDP, and this frontend is for any protocol`);
    }
    return unk(
      `${shown}; ${modeText}: from 1.17 a clear bit means SNAT when the datapath obeys per-Service bits (Hybrid or annotation mode), which the node state does not show`,
    );
  }
  return unk(`${shown}; the node's NodePort mode (cilium-dbg status: Mode) was not read`);
}

/**
 * How a new connection gets its backend. From 1.17 slot 0 may carry a per-Service algorithm (1 random, 2 Maglev);
 * 0, and every Service before 1.17, uses the node's bpf-lb-algorithm (`Backend Selection:` in the status).
 */
function ciliumAlgorithm(e: ServiceEntry, node: NodeLbFacts, from: string): FlagReading<string> {
  const marked = unknownWhy(e, 'algorithm');
  if (marked === undefined && e.flags.algorithm !== undefined) return val(e.flags.algorithm, from);
  const bs = node.backendSelection;
  const def = bs ? (/maglev/i.test(bs.value) ? 'maglev' : /random/i.test(bs.value) ? 'random' : undefined) : undefined;
  // the maps say when the node default applies (no byte before 1.17, byte 0 from then); other inputs only before 1.17
  const defaultApplies = e.source === 'cilium-bpf' || before117(node.version) === true;
  if (def !== undefined && defaultApplies)
    return val(def, `node default, Backend Selection: ${bs!.value} (${squash(bs!.source.text)})`);
  const why = marked ?? 'this source did not show it';
  if (def !== undefined)
    return unk(
      `${why}; the node default is ${def} (${squash(bs!.source.text)}), and from 1.17 a Service can choose its own by annotation`,
    );
  return unk(`${why}; the node's default (cilium-dbg status: Backend Selection) was not read`);
}

const NOT_CILIUM_ROUTABLE =
  "routable (bpf-lb-external-clusterip) is Cilium's setting; kube-proxy has no per-Service equivalent: whether traffic from outside reaches this frontend is up to routing";

function kubeProxyFlags(e: ServiceEntry): ServiceFlagReport {
  const f = e.flags;
  const nft = e.source === 'kube-proxy-nftables';
  const chain = e.chain ?? '';
  const where = `${e.evidence[0]?.probe ?? e.source}${chain ? ` ${chain}` : ''}`;
  // a chain missing from the dump: what it would have matched is not known
  const gap = e.incomplete;
  const bool = (v: boolean | undefined, yes: string, no: string): FlagReading<boolean> =>
    gap && !v ? unk(gap) : v ? val(true, `${where}: ${yes}`) : val(false, `${where}: ${no}`);
  const isClusterIp = e.type === 'ClusterIP';
  // the ClusterIP rule jumps to the internal-traffic chain: the local-only one (KUBE-SVL-… / local-…) for ITP=Local
  const itp: FlagReading<'Local' | 'Cluster'> = !isClusterIp
    ? unk("internalTrafficPolicy is decided by the Service's ClusterIP rule, not this frontend's")
    : /^(KUBE-SVL-|local-)/.test(chain)
      ? val('Local', `${where}: jumps to the node-local endpoints chain`)
      : /^(KUBE-SVC-|service-)/.test(chain)
        ? val('Cluster', `${where}: jumps to the cluster-wide endpoints chain`)
        : unk(`the ClusterIP rule's target ${chain || '(none)'} is not a Service chain kube-proxy names`);
  const etp: FlagReading<'Local' | 'Cluster'> = isClusterIp
    ? unk('externalTrafficPolicy applies to NodePort, LoadBalancer and ExternalIP frontends, not a ClusterIP')
    : gap && !f.externalTrafficPolicyLocal
      ? unk(gap)
      : f.externalTrafficPolicyLocal
        ? val('Local', `${where}: outside traffic goes to the node-local endpoints chain`)
        : val('Cluster', `${where}: outside traffic goes to the cluster-wide endpoints chain`);
  const out: ServiceFlagReport = {
    routable: unk(NOT_CILIUM_ROUTABLE),
    dsr: val(false, 'kube-proxy always DNATs through conntrack on this node: replies return through it'),
    algorithm:
      f.algorithm !== undefined
        ? val(f.algorithm, nft ? `${where}: numgen random` : `${where}: statistic mode random`)
        : unk('this source did not show it'),
    sessionAffinity: bool(
      f.sessionAffinity,
      nft
        ? 'the affinity set sends a known client to its endpoint'
        : '`-m recent --rcheck` sends a known client to its endpoint',
      nft ? 'no affinity set' : 'no `-m recent` rule',
    ),
    externalTrafficPolicy: etp,
    internalTrafficPolicy: itp,
    l7LoadBalancer: val(false, 'kube-proxy has no L7 load balancer'),
    sourceRangeCheck: bool(
      f.sourceRangeCheck,
      nft ? 'a firewall chain checks the source' : 'a KUBE-FW chain checks the source',
      nft ? 'no firewall chain' : 'no KUBE-FW chain',
    ),
  };
  if (f.sessionAffinity)
    out.affinityTimeoutSeconds =
      f.affinityTimeoutSeconds !== undefined ? val(f.affinityTimeoutSeconds, where) : unk('no timeout in the rule');
  if (f.sourceRangeCheck)
    out.sourceRanges = e.sourceRanges ? val(e.sourceRanges, where) : unk('the allowed ranges are not in this dump');
  return out;
}

/**
 * IPVS forwards per real server: masquerading (`-m`, kube-proxy's only method) sends replies back through this node;
 * direct routing (`-g`) and tunnelling (`-i`) let the real server answer the client itself. The parser keeps the
 * method at the end of the real server's id.
 */
function ipvsDsr(e: ServiceEntry): FlagReading<boolean> {
  const methods = new Set(e.backends.map((b) => / (Masq|Route|Tunnel)$/.exec(b.id ?? '')?.[1] ?? 'none'));
  if (e.backends.length === 0 || methods.has('none'))
    return unk('ipvsadm shows no forwarding method for (some of) its real servers');
  if (methods.size > 1) return unk(`its real servers mix forwarding methods (${[...methods].join(', ')})`);
  const m = [...methods][0]!;
  return m === 'Masq'
    ? val(false, 'every real server is masqueraded (-m): replies return through this node')
    : val(
        true,
        `every real server uses ${m === 'Route' ? 'direct routing (-g)' : 'IP-in-IP tunnelling (-i)'}: it answers the client directly`,
      );
}

function ipvsFlags(e: ServiceEntry): ServiceFlagReport {
  const f = e.flags;
  const where = e.chain ?? e.evidence[0]?.text ?? 'ipvsadm';
  const sched = (f.raw ?? []).find((w) => w.startsWith('scheduler:'))?.slice('scheduler:'.length);
  const inIpset = (what: string) =>
    `kube-proxy's IPVS mode keeps ${what} in ipsets and iptables rules, which ipvsadm does not show`;
  const out: ServiceFlagReport = {
    routable: unk(NOT_CILIUM_ROUTABLE),
    dsr: ipvsDsr(e),
    // IPVS `mh` is its Maglev hashing scheduler; the name is kept as ipvsadm prints it
    algorithm: sched ? val(`ipvs:${sched}`, `${where}: -s ${sched}`) : unk('ipvsadm printed no scheduler'),
    sessionAffinity: f.sessionAffinity ? val(true, `${where}: persistent`) : val(false, `${where}: not persistent`),
    externalTrafficPolicy: unk(inIpset('externalTrafficPolicy')),
    internalTrafficPolicy: unk(inIpset('internalTrafficPolicy')),
    l7LoadBalancer: val(false, 'IPVS has no L7 load balancer'),
    sourceRangeCheck: unk(inIpset('loadBalancerSourceRanges')),
    sourceRanges: unk(inIpset('loadBalancerSourceRanges')),
  };
  if (f.sessionAffinity && f.affinityTimeoutSeconds !== undefined)
    out.affinityTimeoutSeconds = val(f.affinityTimeoutSeconds, `${where}: persistent ${f.affinityTimeoutSeconds}`);
  return out;
}

// a flag that only means something when its parent is on: taken from a source whose parent is not off
const PARENT: Partial<Record<keyof ServiceFlagReport, keyof ServiceFlagReport>> = {
  affinityTimeoutSeconds: 'sessionAffinity',
  l7ProxyPort: 'l7LoadBalancer',
  sourceRanges: 'sourceRangeCheck',
};

const isOff = (r: FlagReading<unknown> | undefined) => r !== undefined && 'value' in r && r.value === false;

/**
 * The flags of a frontend across layers: each from the first source (precedence order) that shows it; unknown only
 * when none does, with every source's reason.
 */
export function mergeFlags(bySource: { source: ServiceSource; flags: ServiceFlagReport }[]): ServiceFlagReport {
  const out: Record<string, FlagReading<unknown>> = {};
  for (const k of FLAG_NAMES) {
    const parent = PARENT[k];
    if (parent && isOff(out[parent])) continue;
    const readings = bySource.flatMap((s) => {
      const r = s.flags[k] as FlagReading<unknown> | undefined;
      if (parent && isOff(s.flags[parent] as FlagReading<unknown>)) return [];
      return r ? [{ source: s.source, r }] : [];
    });
    if (readings.length === 0) continue;
    const known = readings.find((x) => flagKnown(x.r));
    if (known) {
      const r = known.r as { value: unknown; from: string };
      out[k] = { value: r.value, from: `${known.source}: ${r.from}` };
    } else
      out[k] = {
        unknown: readings.map((x) => `${x.source}: ${(x.r as { unknown: string }).unknown}`).join('; '),
      };
  }
  return out as unknown as ServiceFlagReport;
}

/**
 * Flags two layers program differently (`sessionAffinity: cilium-bpf false, kube-proxy-iptables true`): which one
 * applies depends on which layer translates the flow, so the merged value alone would mislead.
 */
export function flagDifferences(bySource: { source: ServiceSource; flags: ServiceFlagReport }[]): string[] {
  const out: string[] = [];
  for (const k of FLAG_NAMES) {
    const known = bySource.flatMap((s) => {
      const r = s.flags[k] as FlagReading<unknown> | undefined;
      return flagKnown(r) ? [{ source: s.source, v: JSON.stringify(r.value) }] : [];
    });
    if (new Set(known.map((x) => x.v)).size > 1) out.push(`${k}: ${known.map((x) => `${x.source} ${x.v}`).join(', ')}`);
  }
  return out;
}
