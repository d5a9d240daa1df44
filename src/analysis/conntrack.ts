import type { ConntrackEntry, FlowConntrack } from '../model/conntrack.js';
import type { Warning } from '../model/types.js';
import type { Flow, Hop } from '../model/trace.js';

/**
 * What the node's conntrack table says about a traced flow.
 *
 * The kernel runs the nat table (iptables nat chains, nft nat chains, so kube-proxy's DNAT) only for
 * the first packet of a connection: nf_nat_inet_fn() (net/netfilter/nf_nat_core.c) consults the NAT
 * hooks when the entry's NAT is not yet initialised (IP_CT_NEW), and for every later packet applies
 * the binding stored in the entry (nf_nat_packet). So for a packet of an existing connection the
 * entry, not the rules or their statistic probabilities, decides the backend. A UDP "connection" is
 * the same: datagrams with the tuple of a live entry reuse it, even after its backend is gone.
 */
export interface CtJudgement {
  hop: Hop;
  /** the backend an existing entry sends this connection to (DNAT), when it decides */
  pin?: { address: string; port?: number; entry: ConntrackEntry };
  warnings: Warning[];
}

const hostPort = (a: string, p: number | undefined) => (p === undefined ? a : `${a.includes(':') ? `[${a}]` : a}:${p}`);

function describe(e: ConntrackEntry): string {
  const bits = [e.state, ...e.flags.map((f) => `[${f}]`), e.zone !== undefined ? `zone ${e.zone}` : undefined].filter(
    (x) => x !== undefined,
  );
  return bits.length ? ` (${bits.join(' ')})` : '';
}

function sameOrig(e: ConntrackEntry, flow: Flow, dst: string, dport: number | undefined): boolean {
  const t = e.orig;
  return (
    t.src === flow.src &&
    t.dst === dst &&
    (flow.sport === undefined || t.sport === flow.sport) &&
    (dport === undefined || t.dport === undefined || t.dport === dport)
  );
}

function sameReply(e: ConntrackEntry, flow: Flow): boolean {
  const t = e.reply;
  return (
    t.src === flow.src &&
    t.dst === flow.dst &&
    (flow.sport === undefined || t.sport === flow.sport) &&
    (flow.dport === undefined || t.dport === flow.dport)
  );
}

/**
 * `backends`: the Service's candidates when the flow goes to a frontend (to tell a stale entry),
 * `natByRules`: the translation is netfilter's (kube-proxy), so an entry's DNAT is the kernel's own
 * decision; with Cilium the kernel entry only records what BPF already translated.
 */
export function judgeConntrack(
  ct: FlowConntrack | undefined,
  flow: Flow,
  opts: { backends?: { address: string; port: number }[]; natByRules?: boolean } = {},
): CtJudgement | undefined {
  if (ct?.status !== 'ok') return undefined;
  const probe = ct.probe;
  const backends = opts.backends ?? [];
  const warnings: Warning[] = [];
  const orig = ct.entries.filter((e) => sameOrig(e, flow, flow.dst, flow.dport));
  const viaBackend = ct.entries.filter(
    (e) => !orig.includes(e) && backends.some((b) => sameOrig(e, flow, b.address, b.port)),
  );
  const reply = ct.entries.filter((e) => sameReply(e, flow));
  const exact = flow.sport !== undefined && flow.proto !== 'icmp';
  const tuple = `${hostPort(flow.src, flow.sport)} → ${hostPort(flow.dst, flow.dport)}/${flow.proto}`;

  if (exact) {
    const e = orig[0];
    if (e) {
      const to = hostPort(e.reply.src, e.reply.sport);
      const snat = e.snat ? `; source NAT to ${hostPort(e.reply.dst, e.reply.dport)} (the reply comes back there)` : '';
      const unreplied = e.flags.includes('UNREPLIED') ? '; no reply seen yet' : '';
      const hop: Hop = { kind: 'conntrack', detail: '', evidence: [e.source] };
      if (e.snat) hop.snatTo = e.reply.dst;
      if (e.dnat) {
        hop.backend = to;
        hop.detail = `an existing conntrack entry${describe(e)} holds ${tuple}: DNAT to ${to}${snat}${unreplied}. ${
          opts.natByRules === false
            ? 'The kernel recorded the translation already made before netfilter'
            : 'Packets of this connection follow the entry; the nat rules are consulted only for a new connection'
        }`;
        const pin = { address: e.reply.src, ...(e.reply.sport !== undefined ? { port: e.reply.sport } : {}), entry: e };
        if (
          backends.length > 0 &&
          !backends.some((b) => b.address === e.reply.src && (e.reply.sport === undefined || b.port === e.reply.sport))
        )
          warnings.push({
            code: 'conntrack-stale-backend',
            message: `the conntrack entry for ${tuple} sends it to ${to}, which is not a backend of the Service any more: packets of this connection keep going there until the entry expires or is deleted`,
            source: probe,
          });
        return opts.natByRules === false ? { hop, warnings } : { hop, pin, warnings };
      }
      hop.detail = `an existing conntrack entry${describe(e)} holds ${tuple}${e.snat ? '' : ' without NAT'}${snat}${unreplied}: packets of this connection are not NEW`;
      return { hop, warnings };
    }
    const r = reply[0];
    if (r) {
      const hop: Hop = {
        kind: 'conntrack',
        detail: `${tuple} is the reply direction of the existing connection ${hostPort(r.orig.src, r.orig.sport)} → ${hostPort(r.orig.dst, r.orig.dport)}${describe(r)}${r.dnat || r.snat ? ': conntrack reverses its NAT on the way back' : ''}`,
        evidence: [r.source],
      };
      return { hop, warnings };
    }
    const b = viaBackend[0];
    if (b) {
      return {
        hop: {
          kind: 'conntrack',
          detail: `the kernel tracked ${tuple} to the backend ${hostPort(b.orig.dst, b.orig.dport)}${describe(b)}: translated before netfilter saw it`,
          evidence: [b.source],
        },
        warnings,
      };
    }
    if (ct.captureTruncated || ct.cut) return undefined;
    return {
      hop: {
        kind: 'conntrack',
        detail: `no entry for ${tuple} among the ${ct.lines} lines of ${probe}: its first packet starts a new connection, and the rules decide`,
        evidence: [],
        inferred: true,
        because: `the absence of the tuple in ${ct.origin ?? probe}, captured at one moment`,
      },
      warnings,
    };
  }

  const seen = [...orig, ...viaBackend];
  if (seen.length > 0) {
    const groups = new Map<string, number>();
    for (const e of seen) {
      const parts = [
        e.dnat
          ? `DNAT to ${hostPort(e.reply.src, e.reply.sport)}`
          : e.orig.dst !== flow.dst
            ? `to ${hostPort(e.orig.dst, e.orig.dport)}`
            : undefined,
        e.snat ? `SNAT to ${e.reply.dst}` : undefined,
      ].filter((x) => x !== undefined);
      const k = parts.length ? parts.join(' + ') : 'no NAT';
      groups.set(k, (groups.get(k) ?? 0) + 1);
    }
    const list = [...groups].map(([k, n]) => `${n} × ${k}`).join(', ');
    return {
      hop: {
        kind: 'conntrack',
        detail: `${seen.length}${ct.cut ? '+' : ''} existing connection(s) from ${flow.src} to ${hostPort(flow.dst, flow.dport)}/${flow.proto} in ${probe}: ${list}. A new connection (${flow.proto === 'icmp' ? 'a new echo id' : 'a new source port'}) does not use them${flow.proto === 'icmp' ? '' : '; give --sport to follow one'}`,
        evidence: seen.slice(0, 3).map((e) => e.source),
      },
      warnings,
    };
  }
  if (reply.length > 0) {
    const r = reply[0]!;
    return {
      hop: {
        kind: 'conntrack',
        detail: `${reply.length} existing connection(s) whose replies have this shape, e.g. ${hostPort(r.orig.src, r.orig.sport)} → ${hostPort(r.orig.dst, r.orig.dport)}${describe(r)}`,
        evidence: reply.slice(0, 3).map((e) => e.source),
      },
      warnings,
    };
  }
  return undefined;
}

/** Where the conntrack lookup sits in a path: before the first netfilter step (nat PREROUTING/OUTPUT). */
export function insertConntrackHop(hops: Hop[], hop: Hop): Hop[] {
  let at = hops.findIndex((h) => h.kind === 'kube-proxy' || h.kind === 'netfilter' || h.kind === 'stack');
  if (at < 0) {
    const bpf = hops.findIndex((h) => h.kind === 'bpf');
    at = bpf >= 0 ? bpf + 1 : hops[0]?.kind === 'route' && hops[0].inferred ? 1 : 0;
  }
  return [...hops.slice(0, at), hop, ...hops.slice(at)];
}
