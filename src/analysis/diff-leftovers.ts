import { findRoutes } from '../model/route-columns.js';
import type { Leftover } from '../model/diff.js';
import type { ServiceEntry } from '../model/service.js';
import type { ConntrackEntry } from '../model/conntrack.js';
import type { Evidence, Family } from '../model/types.js';
import type { IptablesChain, IptablesRuleset, IptablesTable } from '../model/iptables.js';
import type { NftTable } from '../model/nft.js';
import { type AnyRule, chainRules, leanRules, ruleCount, targetName } from '../model/iptables-lean.js';
import type { DiffSideInput } from './diff.js';
import { frontendText, isCilium } from './diff-services.js';
import { joinHostPort } from '../model/addr.js';

// Chains kubelet creates too (pkg/kubelet/kubelet_network_linux.go: the iptables hint, KUBE-FIREWALL's
// martian-packet rule, its canary, and — before the IPTablesOwnershipCleanup gate — KUBE-MARK-DROP,
// KUBE-MARK-MASQ and KUBE-POSTROUTING): on their own they are not kube-proxy's leftovers.
const KUBELET_CHAINS = new Set([
  'KUBE-IPTABLES-HINT',
  'KUBE-FIREWALL',
  'KUBE-KUBELET-CANARY',
  'KUBE-MARK-DROP',
  'KUBE-MARK-MASQ',
  'KUBE-POSTROUTING',
]);
const MAX_EVIDENCE = 6;
const PER_SERVICE = /^KUBE-(SVC|SVL|EXT|FW|XLB|SEP)-/;

/** kube-proxy's IPVS-mode guard chain: all of the before side's iptables findLeftovers reads. */
export const isIpvsFilterChain = (table: string, chain: string): boolean =>
  table === 'filter' && chain === 'KUBE-IPVS-FILTER';

/** Chains reachable from a built-in chain (one with a policy) through jumps and gotos. */
export function reachable(t: IptablesTable): { chains: Set<string>; hooks: Map<string, Evidence[]> } {
  // filled by a loop: a pair array per chain is 110,000 short-lived arrays on a 10,000-Service dump
  const byName = new Map<string, IptablesChain>();
  for (const c of t.chains) byName.set(c.name, c);
  const seen = new Set<string>();
  const hooks = new Map<string, Evidence[]>();
  const stack: IptablesChain[] = t.chains.filter((c) => c.policy !== undefined);
  for (const c of stack) seen.add(c.name);
  while (stack.length) {
    const c = stack.pop()!;
    // a per-Service chain read lean (tools/iptables/lean-rules.ts) is read through its lean rules, not parsed whole
    for (const r of chainRules(c)) {
      const tg = targetName(r);
      if (!tg) continue;
      const next = byName.get(tg);
      if (!next) continue;
      if (c.policy !== undefined && tg.startsWith('KUBE-')) {
        const h = hooks.get(tg) ?? [];
        h.push(r.source);
        hooks.set(tg, h);
      }
      if (seen.has(tg)) continue;
      seen.add(tg);
      stack.push(next);
    }
  }
  return { chains: seen, hooks };
}

/**
 * kube-proxy's chains of a table sorted by what they still do, in one pass (a full ruleset has ~110,000
 * chains for 10,000 Services): reachable with rules (acting), reachable, empty and jumped to from a
 * built-in chain (emptyHooked), per-Service/endpoint chains in all and unreachable, and the first two
 * reachable rules that translate, reject or drop, in chain order.
 */
export function classifyChains(
  own: IptablesChain[],
  live: Set<string>,
  hooks: Map<string, Evidence[]>,
): { acting: IptablesChain[]; emptyHooked: IptablesChain[]; dnat: AnyRule[]; svcChains: number; deadSvc: number } {
  const acting: IptablesChain[] = [];
  const emptyHooked: IptablesChain[] = [];
  const dnat: AnyRule[] = [];
  let svcChains = 0;
  let deadSvc = 0;
  for (const c of own) {
    const perService = PER_SERVICE.test(c.name);
    if (perService) svcChains++;
    if (!live.has(c.name)) {
      if (perService) deadSvc++;
      continue;
    }
    const rules = chainRules(c);
    if (rules.length > 0) acting.push(c);
    else if (hooks.has(c.name)) emptyHooked.push(c);
    for (let i = 0; i < rules.length && dnat.length < 2; i++) {
      const tg = targetName(rules[i]!);
      if (tg === 'DNAT' || tg === 'REJECT' || tg === 'DROP') dnat.push(rules[i]!);
    }
  }
  return { acting, emptyHooked, dnat, svcChains, deadSvc };
}

const famWord = (f: Family) => (f === 6 ? 'IPv6' : 'IPv4');
const saveCmd = (f: Family) => (f === 6 ? 'ip6tables-save' : 'iptables-save');

function iptablesLeftovers(after: DiffSideInput, ciliumFrontends: Map<string, ServiceEntry>): Leftover[] {
  const out: Leftover[] = [];
  for (const { family, rules, probe } of after.iptables) {
    const kpEntries = after.services.filter(
      (e) => e.source === 'kube-proxy-iptables' && e.evidence[0]?.probe === probe,
    );
    for (const t of (rules as IptablesRuleset).tables) {
      const kube = t.chains.filter((c) => c.name.startsWith('KUBE-'));
      const own = kube.filter((c) => !KUBELET_CHAINS.has(c.name));
      if (own.length === 0) continue;
      const { chains: live, hooks } = reachable(t);
      const { acting, emptyHooked, dnat, svcChains, deadSvc } = classifyChains(own, live, hooks);
      const rulesCount = kube.reduce((n, c) => n + ruleCount(c), 0);
      const evidence: Evidence[] = [];
      for (const ev of hooks.values()) evidence.push(...ev);
      evidence.push(...dnat.map((r) => r.source));
      if (evidence.length === 0) evidence.push(...own.slice(0, 2).flatMap((c) => (c.source ? [c.source] : [])));
      const hookOrder = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'];
      const hooksOf = (evs: Evidence[]) =>
        [...new Set(evs.map((e) => /^-A (\S+)/.exec(e.text)?.[1]).filter((x): x is string => !!x))].sort(
          (a, b) => hookOrder.indexOf(a) - hookOrder.indexOf(b),
        );
      const hookNames = hooksOf([...hooks.values()].flat());
      const svcHooks = hooksOf(hooks.get('KUBE-SERVICES') ?? []);
      const present = (n: string) => own.some((c) => c.name === n && ruleCount(c) > 0 && live.has(c.name));
      const dead = deadSvc
        ? `${deadSvc} KUBE-SVC/SEP/EXT chains are left unreachable (nothing jumps to them: dead state, proof of a partial cleanup)`
        : '';
      let breaks: string;
      const frontends: string[] = [];
      if (t.name === 'nat') {
        const only: string[] = [];
        const differ: string[] = [];
        for (const e of kpEntries) {
          if (e.chain === 'KUBE-SERVICES' || e.chain === 'KUBE-EXTERNAL-SERVICES' || e.chain === 'KUBE-PROXY-FIREWALL')
            continue;
          const fe = frontendText(e.frontend.address, e.frontend.port, e.frontend.proto);
          const c =
            ciliumFrontends.get(fe) ?? ciliumFrontends.get(frontendText(e.frontend.address, e.frontend.port, 'ANY'));
          if (!c) only.push(fe);
          else {
            const kb = e.backends
              .map((b) => joinHostPort(b.address, b.port))
              .sort()
              .join(',');
            const cb = c.backends
              .filter((b) => b.state === 'active')
              .map((b) => joinHostPort(b.address, b.port))
              .sort()
              .join(',');
            if (kb !== cb) differ.push(fe);
          }
        }
        const postrouting = kube.find((c) => c.name === 'KUBE-POSTROUTING' && ruleCount(c) > 0 && live.has(c.name));
        const masq = postrouting
          ? `KUBE-POSTROUTING, hooked from POSTROUTING, still masquerades packets carrying kube-proxy's mark 0x4000`
          : '';
        if (present('KUBE-SERVICES')) {
          frontends.push(...only, ...differ);
          breaks =
            `KUBE-SERVICES is still hooked from ${svcHooks.join(', ') || hookNames.join(', ')}: a packet that reaches netfilter still addressed to one of ${kpEntries.length} Service frontends is DNATed to the backends kube-proxy knew when it stopped (frozen; pod IPs get reused)` +
            (only.length ? `, including ${only.length} that Cilium does not program (${listShort(only)})` : '') +
            (differ.length ? `; for ${differ.length} (${listShort(differ)}) those backends differ from Cilium's` : '') +
            '. Cilium translates at the socket and in tc first, so it hits what reaches the stack untranslated: ICMP/SCTP, host-routed traffic without socket-LB, Services Cilium has dropped.' +
            (masq ? ` ${masq}.` : '');
        } else if (acting.length) {
          breaks = `${acting.map((c) => c.name).join(', ')} still reachable from ${hookNames.join(', ')} and not empty`;
        } else {
          const parts = [
            emptyHooked.length
              ? `${emptyHooked.map((c) => c.name).join(', ')} ${emptyHooked.length === 1 ? 'is' : 'are'} still hooked from ${hooksOf(emptyHooked.flatMap((c) => hooks.get(c.name) ?? [])).join(', ')} but empty (flushed by hand): no Service is translated`
              : '',
            dead,
            masq ? `${masq}, which nothing sets any more` : '',
          ].filter(Boolean);
          breaks = parts.length
            ? parts.join('; ')
            : `${own.length} KUBE-* chains with no jump from a built-in chain: nothing reaches them (dead state, safe to delete)`;
        }
      } else if (t.name === 'filter') {
        const rejected = kpEntries
          .filter(
            (e) =>
              e.noEndpoints !== undefined &&
              (e.chain === 'KUBE-SERVICES' || e.chain === 'KUBE-EXTERNAL-SERVICES' || e.noEndpoints === 'reject'),
          )
          .map((e) => frontendText(e.frontend.address, e.frontend.port, e.frontend.proto));
        frontends.push(...rejected);
        const parts: string[] = [];
        if (present('KUBE-SERVICES'))
          parts.push(
            `KUBE-SERVICES REJECTs new connections to frontends that had no endpoints when kube-proxy stopped, even if they have endpoints now${rejected.length ? ` (${listShort(rejected)})` : ''}`,
          );
        if (present('KUBE-EXTERNAL-SERVICES'))
          parts.push(
            'KUBE-EXTERNAL-SERVICES DROPs outside traffic to externalTrafficPolicy=Local frontends that had no local endpoint then',
          );
        if (present('KUBE-PROXY-FIREWALL'))
          parts.push(
            'KUBE-PROXY-FIREWALL DROPs LoadBalancer traffic from outside the loadBalancerSourceRanges of that time',
          );
        if (present('KUBE-FORWARD'))
          parts.push('KUBE-FORWARD DROPs forwarded packets conntrack calls INVALID and ACCEPTs what kube-proxy marked');
        if (present('KUBE-NODEPORTS')) parts.push('KUBE-NODEPORTS ACCEPTs old health-check node ports');
        breaks = acting.length
          ? `hooked from ${hookNames.join(', ') || 'a built-in chain'}: ${parts.join('; ') || `${acting.length} chains still filter packets`}`
          : `${own.length} KUBE-* chains, none reachable with a rule in it: no effect on packets`;
      } else {
        breaks = acting.length
          ? `${acting.length} chains hooked from ${hookNames.join(', ')} still see packets`
          : `${own.length} KUBE-* chains${own.every((c) => ruleCount(c) === 0) ? ', all empty (kube-proxy canaries),' : ''} with no effect on packets`;
      }
      const l: Leftover = {
        kind: 'iptables-chains',
        name: `${t.name} KUBE-* chains (${famWord(family)})`,
        count: own.length,
        actsOnPackets: acting.length > 0,
        regression: acting.length > 0,
        breaks: `${breaks} [${own.length} chains${svcChains ? `, ${svcChains} per-Service/endpoint` : ''}, ${rulesCount} rules]`,
        command: `${saveCmd(family)} -t ${t.name} | grep -- KUBE-`,
        cleanup: `${saveCmd(family)} | grep -v KUBE | ${family === 6 ? 'ip6tables-restore' : 'iptables-restore'} (Cilium's kube-proxy-free guide; kubelet re-creates its own KUBE-FIREWALL)`,
        evidence: evidence.slice(0, MAX_EVIDENCE),
      };
      if (frontends.length) l.frontends = frontends;
      out.push(l);
    }
  }
  return out;
}

function listShort(xs: string[]): string {
  return xs.length <= 3 ? xs.join(', ') : `${xs.slice(0, 3).join(', ')}, …`;
}

function nftLeftovers(after: DiffSideInput): Leftover[] {
  const out: Leftover[] = [];
  const rs = after.nft?.rules;
  if (!rs) return out;
  for (const t of rs.tables as NftTable[]) {
    if (t.name === 'kube-proxy' && (t.family === 'ip' || t.family === 'ip6')) {
      const base = t.chains.filter((c) => c.hook !== undefined);
      const sips = t.sets.find((s) => s.name === 'service-ips');
      const snp = t.sets.find((s) => s.name === 'service-nodeports');
      const n = (sips?.elements.length ?? 0) + (snp?.elements.length ?? 0);
      const ev: Evidence[] = base.slice(0, 4).flatMap((c) => (c.source ? [c.source] : []));
      if (sips?.elements[0])
        ev.push({
          probe: sips.source.probe,
          text: `service-ips: ${sips.elements[0].key.join(' . ')} : ${sips.elements[0].verdict?.kind ?? ''} ${sips.elements[0].verdict?.target ?? ''}`.trim(),
        });
      out.push({
        kind: 'nft-table',
        name: `table ${t.family} kube-proxy`,
        count: t.chains.length,
        actsOnPackets: base.length > 0,
        regression: base.length > 0,
        breaks:
          base.length > 0
            ? `${base.length} base chains hooked into netfilter (${base
                .map((c) => `${c.hook}`)
                .filter((v, i, a) => a.indexOf(v) === i)
                .join(
                  ', ',
                )}): ${n} frozen Service/NodePort map entries DNAT what reaches the stack untranslated, cluster-ips-check rejects or drops other traffic to the Service CIDR, masquerading SNATs what kube-proxy marked`
            : 'no base chain: nothing reaches it',
        command: `nft list table ${t.family} kube-proxy`,
        cleanup: `nft delete table ${t.family} kube-proxy`,
        evidence: ev.slice(0, MAX_EVIDENCE),
      });
    }
    // KUBE-* chains of iptables-nft, when iptables-save of that family is not in the after state
    const fam: Family | undefined = t.family === 'ip' ? 4 : t.family === 'ip6' ? 6 : undefined;
    if (fam !== undefined && t.name !== 'kube-proxy' && !after.iptables.some((x) => x.family === fam)) {
      const kube = t.chains.filter((c) => c.name.startsWith('KUBE-') && !KUBELET_CHAINS.has(c.name));
      if (kube.length === 0) continue;
      const names = new Set(kube.map((c) => c.name));
      const hooked = t.chains
        .filter((c) => c.hook !== undefined)
        .flatMap((c) => c.rules.filter((r) => r.verdict?.target && names.has(r.verdict.target)));
      out.push({
        kind: 'iptables-chains',
        name: `${t.name} KUBE-* chains (${famWord(fam)}, iptables-nft as seen by nft)`,
        count: kube.length,
        actsOnPackets: hooked.length > 0,
        regression: hooked.length > 0,
        breaks:
          hooked.length > 0
            ? `${kube.length} kube-proxy chains still jumped to from base chains: they keep DNATing/filtering what reaches netfilter (read ${saveCmd(fam)} for the rules: nft shows iptables matches as opaque xt statements)`
            : `${kube.length} kube-proxy chains nothing jumps to`,
        command: `${saveCmd(fam)} -t ${t.name} | grep -- KUBE-`,
        cleanup: `${saveCmd(fam)} | grep -v KUBE | ${fam === 6 ? 'ip6tables-restore' : 'iptables-restore'}`,
        evidence: (hooked.length
          ? hooked.map((r) => r.source)
          : kube.flatMap((c) => (c.source ? [c.source] : []))
        ).slice(0, MAX_EVIDENCE),
      });
    }
  }
  return out;
}

function ipvsLeftovers(after: DiffSideInput, ciliumFrontends: Map<string, ServiceEntry>): Leftover[] {
  const vs = after.services.filter((e) => e.source === 'ipvs');
  if (vs.length === 0) return [];
  const only = vs.filter(
    (e) =>
      !ciliumFrontends.has(frontendText(e.frontend.address, e.frontend.port, e.frontend.proto)) &&
      !ciliumFrontends.has(frontendText(e.frontend.address, e.frontend.port, 'ANY')),
  );
  return [
    {
      kind: 'ipvs',
      name: 'IPVS virtual servers',
      count: vs.length,
      actsOnPackets: true,
      regression: true,
      breaks: `${vs.length} virtual servers still DNAT, in netfilter's LOCAL_IN, every packet the node delivers to itself for one of their address:port pairs (the VIPs on kube-ipvs0, NodePorts on node addresses), to real servers frozen at kube-proxy's removal${only.length ? `; ${only.length} of them Cilium does not program (${listShort(only.map((e) => frontendText(e.frontend.address, e.frontend.port, e.frontend.proto)))})` : ''}`,
      command: 'ipvsadm -Ln',
      cleanup: 'ipvsadm -C',
      frontends: only.map((e) => frontendText(e.frontend.address, e.frontend.port, e.frontend.proto)),
      evidence: vs.slice(0, MAX_EVIDENCE).map((e) => e.evidence[0]!),
    },
  ];
}

function kubeIpvs0(
  before: DiffSideInput,
  after: DiffSideInput,
  ciliumFrontends: Map<string, ServiceEntry>,
): Leftover[] {
  const link = after.state.links.find((l) => l.name === 'kube-ipvs0');
  const addrs = after.state.addrs.filter((a) => a.ifname === 'kube-ipvs0');
  const routes = findRoutes(after.state, (r) => r.type === 'local' && r.nexthops.some((n) => n.dev === 'kube-ipvs0'), {
    type: 'local',
  });
  if (!link && addrs.length === 0) return [];
  const served = new Set([...ciliumFrontends.values()].map((e) => e.frontend.address));
  const cil = addrs.filter((a) => served.has(a.local)).length;
  // kube-proxy's IPVS mode rejected new connections to these addresses on ports it did not serve
  const hasFilter = (s: DiffSideInput) =>
    s.iptables.some(({ rules }) =>
      rules.tables.some((t) => t.chains.some((c) => isIpvsFilterChain(t.name, c.name) && ruleCount(c) > 0)),
    );
  const guard = !hasFilter(before)
    ? ''
    : hasFilter(after)
      ? "; kube-proxy's KUBE-IPVS-FILTER still rejects new connections to their other ports"
      : '; KUBE-IPVS-FILTER, which rejected new connections to their other ports, is gone: every socket listening on all addresses answers on every ClusterIP';
  const evidence: Evidence[] = [
    ...(link ? [link.source] : []),
    ...addrs.slice(0, 3).map((a) => a.source),
    ...routes.slice(0, 2).map((r) => r.source),
  ];
  return [
    {
      kind: 'kube-ipvs0',
      name: 'kube-ipvs0 and its addresses',
      count: addrs.length,
      actsOnPackets: addrs.length > 0,
      regression: addrs.length > 0,
      breaks:
        addrs.length > 0
          ? `${addrs.length} Service addresses are still the node's own (${routes.length || 'their'} \`local\` routes in table local): the kernel delivers to this node whatever Cilium does not translate for them — another port reaches a host process listening on 0.0.0.0 (sshd on ClusterIP:22), ICMP echo is answered, and a Service Cilium does not program is black-holed into the node instead of routed${cil ? `; ${cil} of them are frontends Cilium serves` : ''}${guard}`
          : 'the dummy device is there but holds no address: no effect on packets',
      command: 'ip -br addr show dev kube-ipvs0; ip route show table local dev kube-ipvs0',
      cleanup: 'ip link delete kube-ipvs0',
      evidence: evidence.slice(0, MAX_EVIDENCE),
    },
  ];
}

function ipsetLeftovers(after: DiffSideInput): Leftover[] {
  const sets = after.ipsets?.filter((s) => /^KUBE-/.test(s.name)) ?? [];
  if (sets.length === 0) return [];
  // a set acts only through an iptables rule that matches on it
  const used = new Set<string>();
  for (const { rules } of after.iptables)
    for (const t of rules.tables)
      for (const c of t.chains) {
        // a lean chain's rules load no `set` match (tools/iptables/lean-rules.ts reads no other shape)
        if (leanRules(c)) continue;
        for (const r of c.rules)
          for (const m of r.matches)
            if (m.module === 'set')
              for (const o of m.options) if (o.name === 'match-set' && o.args[0]) used.add(o.args[0]);
      }
  const acting = sets.filter((s) => used.has(s.name) || (s.references ?? 0) > 0);
  const members = sets.reduce((n, s) => n + s.entries, 0);
  return [
    {
      kind: 'ipset',
      name: 'kube-proxy ipsets',
      count: sets.length,
      actsOnPackets: acting.length > 0,
      regression: acting.length > 0,
      breaks: acting.length
        ? `${acting.map((s) => s.name).join(', ')} ${acting.length === 1 ? 'is' : 'are'} still matched by iptables rules (${members} members in all: Service frontends and NodePorts frozen at removal)`
        : `${sets.length} sets, ${members} members, no rule matches on them: no effect on packets (they only hold memory)`,
      command: `ipset list -t ${sets[0]!.name}`,
      cleanup: `ipset destroy <set> (after the iptables rules using it)`,
      evidence: sets.slice(0, MAX_EVIDENCE).map((s) => s.source),
    },
  ];
}

/**
 * Connections still NATed by kube-proxy's rules: conntrack entries whose original destination is a
 * frontend kube-proxy programmed (before, or still after) and whose reply comes from one of its
 * backends. Cilium's socket and tc load balancing never leave such an entry (the packet already
 * carries the backend address, or BPF NATs it outside netfilter), so these were made by kube-proxy.
 */
function conntrackLeftovers(
  before: DiffSideInput,
  after: DiffSideInput,
  ciliumFrontends: Map<string, ServiceEntry>,
): Leftover[] {
  if (!after.conntrack?.length) return [];
  const local = new Set([...after.state.addrs, ...before.state.addrs].map((a) => a.local));
  const fes = new Map<string, { text: string; name?: string; backends: Set<string> }>();
  // `check` passes one node as both sides: a second pass over the same entries would add nothing
  const localOf = { v4: [...local].filter((a) => !a.includes(':')), v6: [...local].filter((a) => a.includes(':')) };
  const add = (e: ServiceEntry, proto: string, a: string, backends: string[]) => {
    const k = `${a}|${e.frontend.port}|${proto}`;
    let f = fes.get(k);
    if (!f) {
      f = { text: frontendText(a, e.frontend.port, e.frontend.proto), backends: new Set() };
      fes.set(k, f);
    }
    if (e.name) f.name ??= e.name;
    for (const b of backends) f.backends.add(b);
  };
  const services = before === after ? after.services : [...before.services, ...after.services];
  for (const e of services) {
    if (isCilium(e.source)) continue;
    const proto = e.frontend.proto.toLowerCase();
    const backends = e.backends.map((b) => joinHostPort(b.address, b.port));
    const fa = e.frontend.address;
    // a NodePort on every local address: each of them (a key per address, the backends written once)
    if (fa === '0.0.0.0' || fa === '::')
      for (const a of fa === '::' ? localOf.v6 : localOf.v4) add(e, proto, a, backends);
    else add(e, proto, fa, backends);
  }
  const hits: { e: ConntrackEntry; fe: string; name?: string }[] = [];
  for (const ct of after.conntrack) {
    for (const e of ct.entries) {
      if (!e.dnat || e.orig.dport === undefined) continue;
      const f = fes.get(`${e.orig.dst}|${e.orig.dport}|${e.proto}`);
      if (!f) continue;
      if (f.backends.size > 0 && !f.backends.has(joinHostPort(e.reply.src, e.reply.sport ?? 0))) continue;
      hits.push({ e, fe: f.text, ...(f.name ? { name: f.name } : {}) });
    }
  }
  if (hits.length === 0) return [];
  const frontends = [...new Set(hits.map((h) => h.fe))];
  const gone = frontends.filter(
    (fe) => !ciliumFrontends.has(fe) && !ciliumFrontends.has(fe.replace(/\/[A-Z]+$/, '/ANY')),
  );
  const cut = after.conntrack.some((c) => c.cut);
  const longest = Math.max(...hits.map((h) => h.e.timeout ?? 0));
  return [
    {
      kind: 'conntrack',
      name: 'connections still NATed by kube-proxy',
      count: hits.length,
      actsOnPackets: true,
      regression: true,
      breaks: `${hits.length} tracked connection${hits.length === 1 ? '' : 's'} to ${frontends.length} Service frontend${frontends.length === 1 ? '' : 's'} (${listShort(frontends)}) still carry the DNAT kube-proxy's rules gave them: conntrack keeps translating their packets outside Cilium's view until they close or time out (longest timeout left ${longest} s; a UDP flow its client keeps refreshing never ends). The two NAT tables do not know each other (Cilium's docs: removing kube-proxy breaks existing Service connections)${gone.length ? `; ${gone.length} of these frontends Cilium does not program at all, so only these old connections still reach them` : ''}${cut ? '; the table was read only in part' : ''}`,
      command: 'conntrack -L -o extended --dst-nat',
      cleanup: 'conntrack -D --orig-dst <Service address> (what kube-proxy itself runs for stale UDP flows)',
      frontends,
      evidence: hits.slice(0, MAX_EVIDENCE).map((h) => h.e.source),
    },
  ];
}

/** Everything kube-proxy left on the after node, each with what it still does to packets. */
export function findLeftovers(before: DiffSideInput, after: DiffSideInput): Leftover[] {
  const cilium = new Map<string, ServiceEntry>();
  for (const e of after.services) {
    if (!isCilium(e.source) || e.frontend.scope === 'internal') continue;
    const k = frontendText(e.frontend.address, e.frontend.port, e.frontend.proto);
    if (!cilium.has(k) || e.source === 'cilium-bpf') cilium.set(k, e);
  }
  return [
    ...iptablesLeftovers(after, cilium),
    ...nftLeftovers(after),
    ...ipvsLeftovers(after, cilium),
    ...kubeIpvs0(before, after, cilium),
    ...ipsetLeftovers(after),
    ...conntrackLeftovers(before, after, cilium),
  ];
}
