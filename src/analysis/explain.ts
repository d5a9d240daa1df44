import {
  hopField,
  type BpfHop,
  type Flow,
  type Hop,
  type HopExplain,
  type MasqueradeHop,
  type RouteHop,
  type Trace,
} from '../model/trace.js';
import type { Evidence } from '../model/types.js';
import { endpointHost } from '../model/addr.js';
import { ciliumRule, versionRangeText } from '../model/cilium-rules.js';

/*
 * `--explain`: for each hop, what the kernel or Cilium mechanism is, why the state chose it (tied to the
 * evidence lines of the hop), and live commands that would confirm it on the running node, built from this
 * trace's addresses, ports, devices and namespaces. Facts checked against sources:
 * - bpf_redirect_peer / bpf_redirect_neigh / bpf_fib_lookup: include/uapi/linux/bpf.h helper descriptions;
 *   a peer redirect re-runs __netif_receive_skb_core (another_round) for the peer device, so its taps see it.
 * - packet taps (tcpdump) run before tc ingress in __netif_receive_skb_core, and after tc egress on transmit.
 * - pwru flags (--filter-trace-tc, --filter-track-skb, --filter-track-bpf-helpers, pcap filter as arguments):
 *   cilium/pwru internal/pwru/types.go. hubble observe flags (--from-ip, --to-ip, --to-port, --protocol,
 *   --verdict, --type trace:to-endpoint, trace-sock, --node-name): cilium hubble/cmd/observe/flows.go.
 * - Cilium program roles, socket-LB, masquerade and host-routing rules: docs/cilium-datapath.md.
 */

/** A value for a shell command line: kept bare when it is plainly safe, single-quoted otherwise. */
export function shellQuote(s: string): string {
  // eslint-disable-next-line no-control-regex
  const v = s.replace(/[\u0000-\u001f\u007f]/g, '?');
  return /^[A-Za-z0-9_.:/@%+=,-]+$/.test(v) && !v.startsWith('-') ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

interface Packet {
  src: string;
  dst: string;
  proto: Flow['proto'];
  dport?: number;
  sport?: number;
}

function pcap(p: Packet): string {
  const parts = [`src host ${p.src}`, `dst host ${p.dst}`];
  if (p.proto === 'icmp') parts.push(p.src.includes(':') ? 'icmp6' : 'icmp');
  else parts.push(p.dport !== undefined ? `${p.proto} dst port ${p.dport}` : p.proto);
  return parts.join(' and ');
}

const q = shellQuote;
const tcpdump = (dev: string, p: Packet, netns?: string) =>
  `${netns ? `ip netns exec ${q(netns)} ` : ''}tcpdump -ni ${q(dev)} ${q(pcap(p))}`;
const pwru = (p: Packet, flags: string[]) => `pwru ${flags.join(' ')} ${q(pcap(p))}`;

function hubble(p: Packet, node: string | null, extra: string[] = []): string {
  const a = ['hubble observe', `--from-ip ${p.src}`, `--to-ip ${p.dst}`, `--protocol ${p.proto}`];
  if (p.dport !== undefined && p.proto !== 'icmp') a.push(`--to-port ${p.dport}`);
  if (node) a.push(`--node-name ${q(node)}`);
  return [...a, ...extra].join(' ');
}

function routeGet(p: Packet, iif?: string, netns?: string, mark?: string): string {
  const a = [netns ? `ip -n ${q(netns)} route get` : 'ip route get', p.dst, 'from', p.src];
  if (iif) a.push('iif', q(iif));
  if (mark) a.push('mark', mark);
  if (p.proto !== 'icmp') {
    a.push('ipproto', p.proto);
    if (p.dport !== undefined) a.push('dport', String(p.dport));
  }
  return a.join(' ');
}

function line(ev: Evidence[], probe: string | RegExp): string | undefined {
  const e = ev.find((x) => (typeof probe === 'string' ? x.probe === probe : probe.test(x.probe)));
  return e ? `${e.probe}: ${e.text.replace(/\s+/g, ' ').trim()}` : undefined;
}

/** The interface name inside a pod namespace, from its ip-addr evidence ("2: eth0 inet …"). */
function podIf(ev: Evidence[], netns: string | undefined): string {
  const e = ev.find((x) => netns !== undefined && x.probe === `netns/${netns}/ip-addr`);
  const m = e ? /^\d+:\s+(\S+)\s+inet6?\s/.exec(e.text) : null;
  return m ? m[1]! : 'eth0';
}

const PROGRAM: Record<string, string> = {
  cil_from_container:
    "Cilium's endpoint program on the host side of the pod's veth, at its tc ingress: it sees every packet the pod sends, applies the endpoint's egress policy, Service translation and connection tracking, and decides where the packet goes (local delivery, a FIB lookup and redirect, or the stack).",
  cil_to_container:
    "Cilium's endpoint program at tc egress of the pod's host-side device: it applies the endpoint's ingress policy to packets the stack routes to the pod (endpoint routes).",
  cil_from_netdev:
    "bpf_host's program at tc ingress of a native device: it sees packets from the network before the stack, load-balances NodePort/LoadBalancer traffic, reverses NAT for replies, and hands traffic for local pods straight to the endpoint or to the stack.",
  cil_to_netdev:
    "bpf_host's program at tc egress of a native device: it runs on every packet leaving that device, including those bpf_redirect_neigh sends (the redirect targets the device's egress); BPF masquerading and NodePort NAT happen here.",
  cil_from_host:
    "bpf_host's program at tc egress of cilium_host: packets the host stack routes into cilium_host (the PodCIDR route points there) are delivered to the local endpoint from here.",
  cil_to_host:
    "bpf_host's program at tc ingress of cilium_host/cilium_net: traffic Cilium hands to the host namespace passes it.",
};

/**
 * The hop's display text, quoted whole in the prose of `why` (never parsed: every fact explain needs is a
 * typed field of the hop).
 */
function quote(h: Hop): string {
  return h.detail;
}

/** The route hop of a given lookup in the trace, if any. */
function routeOf(t: Trace, lookup: RouteHop['lookup']): RouteHop | undefined {
  return t.hops.find((x): x is RouteHop => x.kind === 'route' && x.lookup === lookup);
}

/** Adds `explain` to every hop of the trace (a copy; the input is not changed). */
export function explainTrace(t: Trace): Trace {
  const node = t.node;
  let pkt: Packet = {
    src: t.flow.src,
    dst: t.flow.dst,
    proto: t.flow.proto,
    ...(t.flow.dport !== undefined ? { dport: t.flow.dport } : {}),
  };
  const srcDev = t.src.dev;
  const hops = t.hops.map((h) => {
    const before = pkt;
    const ex = explainHop(h, t, before, node, srcDev);
    // the rewrites change what the later hops see
    if (
      (h.kind === 'socket-lb' || h.kind === 'tc-lb' || h.kind === 'kube-proxy' || h.kind === 'conntrack') &&
      h.backend
    ) {
      const backend = h.backend;
      const i = backend.lastIndexOf(':');
      pkt = { ...pkt, dst: endpointHost(backend), dport: Number(backend.slice(i + 1)) };
    }
    if (h.kind === 'masquerade' && h.applied === true && h.snatTo) pkt = { ...pkt, src: h.snatTo };
    return { ...h, explain: ex };
  });
  return { ...t, hops };
}

function explainHop(h: Hop, t: Trace, p: Packet, node: string | null, srcDev: string | undefined): HopExplain {
  const ev = h.evidence;
  const because = h.inferred && h.because ? ` This hop is inferred: ${h.because}.` : '';
  switch (h.kind) {
    case 'socket-lb': {
      const backend = h.backend
        ? { ...p, dst: endpointHost(h.backend), dport: Number(h.backend.slice(h.backend.lastIndexOf(':') + 1)) }
        : p;
      const cg = line(ev, 'bpftool-cgroup');
      const sl = line(ev, 'cilium-status');
      return {
        what: `Cilium's socket-LB: a BPF program on the cgroup ${p.proto === 'udp' ? 'connect/sendmsg' : 'connect'} hook rewrites the socket's destination from the Service frontend to a backend before any packet exists, so every packet carries the backend address and no tc program or netfilter rule ever sees ${h.frontend ?? p.dst}.`,
        why: `${cg ? `${h.program ?? 'A cil_sock program'} is attached at the cgroup root (${cg})` : 'A socket-LB hook is attached'}${sl ? ` and ${sl}` : ''}; the frontend has ${h.backends?.length ?? '?'} backend(s) and this trace follows ${h.backend ?? '?'}${choice(h)}.${because}`,
        confirm: [
          {
            command: `hubble observe --type trace-sock --from-ip ${p.src}${node ? ` --node-name ${q(node)}` : ''}`,
            shows:
              'the socket-LB translation events (pre- and post-translation) for this client; needs Socket LB Tracing enabled',
          },
          ...(srcDev
            ? [
                {
                  command: tcpdump(srcDev, backend),
                  shows: `packets leaving the pod already carry ${h.backend ?? 'the backend'}, never the Service address`,
                },
              ]
            : []),
          {
            command: 'cilium-dbg service list',
            shows: `the frontend ${h.frontend ?? p.dst} and the state of each backend`,
          },
        ],
      };
    }
    case 'tc-lb': {
      const why =
        h.at === 'xdp'
          ? `${h.program ?? '?'} on ${h.dev ?? '?'}, before the stack and tc`
          : (h.noSocketLb ?? undefined);
      const translation = `${h.frontend} → ${h.backend}${h.at === 'cil_from_container' ? ', reverse NAT on the reply' : ''}`;
      return {
        what: "Per-packet load balancing in a tc program: the Service frontend is looked up in the LB map, a backend is chosen and the packet's destination is rewritten (DNAT); the translation is kept in Cilium's conntrack map so the reply is reverse-translated.",
        why: `${why ? `Socket-LB does not translate this flow (${why}), so ` : ''}${translation}${choice(h)}.${because}`,
        confirm: [
          {
            command: pwru(p, ['--filter-trace-tc', '--filter-track-skb']),
            shows:
              'the tc program running for this packet and, tracked past the rewrite, the same packet with the backend as destination',
          },
          {
            command: `cilium-dbg bpf ct list global | grep -F ${q(`${hostPortOf(p)}`)}`,
            shows: `the SVC conntrack entry of this client and frontend (${versionRangeText(ciliumRule('ct-list-svc-entries').versions)} prints it as "SVC")`,
          },
        ],
      };
    }
    case 'kube-proxy': {
      const nft = h.mode === 'nftables';
      return {
        what: "kube-proxy's Service rules in netfilter: nat PREROUTING (OUTPUT for host traffic) jumps to KUBE-SERVICES, which matches the frontend and jumps to the Service chain that picks an endpoint and DNATs to it; conntrack keeps the translation for the reply.",
        why: `Only kube-proxy programs ${h.frontend ?? p.dst} in this node state${h.chain ? ` (chain ${h.chain})` : ''}${choice(h)}.${because}`,
        confirm: [
          {
            command: `conntrack -L -d ${p.dst} -p ${p.proto}${p.dport !== undefined ? ` --dport ${p.dport}` : ''}`,
            shows: `the DNAT entry: original destination ${hostPortOf(p)}, reply from ${h.backend ?? 'the backend'}`,
          },
          {
            command: nft ? 'nft list table ip kube-proxy' : `iptables -t nat -L KUBE-SERVICES -n -v`,
            shows: 'the rule counters that grow with each new connection',
          },
        ],
      };
    }
    case 'bpf': {
      const prog = h.program ?? '?';
      const dev = h.dev ?? '?';
      const tcx = (h.hook ?? '').startsWith('tcx');
      const ingress = (h.hook ?? '').endsWith('ingress');
      const proof = line(ev, /^(tc-filter|bpftool-net|bpftool-link)/);
      return {
        what: `${PROGRAM[prog] ?? `A BPF program (${prog}) attached to ${dev}.`} It is attached ${tcx ? 'with tcx (link-based tc attachment, Linux 6.6+)' : 'as a tc clsact filter'} at ${h.hook ?? '?'} of ${dev}.`,
        why: `${proof ? `The node state shows it there (${proof}).` : 'The node state lists it.'}${because}`,
        confirm: [
          {
            command: tcx
              ? `bpftool net show dev ${q(dev)}`
              : `tc filter show dev ${q(dev)} ${ingress ? 'ingress' : 'egress'}`,
            shows: `${prog} attached to ${dev}${tcx ? ' (bpftool 7.3 or later lists tcx attachments)' : ''}`,
          },
          { command: pwru(p, ['--filter-trace-tc']), shows: `${prog} running for this packet` },
          {
            command: tcpdump(dev, p),
            shows: ingress
              ? `the packet on ${dev}; capture taps run before tc ingress, so this is the packet before ${prog} changes it`
              : `the packet leaving ${dev}; capture taps run after tc egress, so this is the packet as ${prog} left it`,
          },
        ],
      };
    }
    case 'route':
      return explainRoute(h, t, p, because);
    case 'redirect_neigh': {
      const neigh = line(ev, 'ip-neigh');
      const hr = line(routeOf(t, 'bpf_fib_lookup')?.evidence ?? [], 'cilium-status');
      return {
        what: `bpf_redirect_neigh() sends the packet straight to the egress of ${h.dev ?? "the FIB's device"} and fills in the Ethernet header from the neighbour table for the next hop ${h.nexthop ?? ''}: the packet skips the host IP stack (no netfilter FORWARD or POSTROUTING) but still passes the device's tc egress.`,
        why: `${hr ? `BPF host routing is on (${hr}), so Cilium redirects instead of handing the packet to the stack; ` : ''}the FIB chose ${h.dev ?? '?'} towards ${h.nexthop ?? '?'}${neigh ? `, and the neighbour entry exists (${neigh})` : ''}.${because}`,
        confirm: [
          {
            command: pwru(p, ['--filter-track-bpf-helpers', '--filter-trace-tc']),
            shows: 'the bpf_redirect_neigh call for this packet and where it goes next',
          },
          ...(h.nexthop && h.dev
            ? [
                {
                  command: `ip neigh show ${h.nexthop} dev ${q(h.dev)}`,
                  shows: "the next hop's MAC address and state (REACHABLE, STALE, …)",
                },
              ]
            : []),
          ...(h.dev ? [{ command: tcpdump(h.dev, p), shows: `the packet leaving ${h.dev}` }] : []),
        ],
      };
    }
    case 'redirect_peer': {
      const hr = line(ev, 'cilium-status');
      const podDev = podIf(t.dst.evidence.length ? t.dst.evidence : ev, h.netns);
      return {
        what: `bpf_redirect_peer() moves the packet from a tc ingress hook to the ingress of the peer of ${h.dev ?? 'the veth'} inside the pod's namespace in the same receive pass (no per-CPU backlog), so it skips the host stack, netfilter and the host-side device's own hooks.`,
        why: `${hr ? `BPF host routing is on (${hr}) and ` : ''}${p.dst} is a local endpoint in ${h.netns ?? 'a pod namespace'} behind ${h.dev ?? '?'}.${because}`,
        confirm: [
          ...(h.netns
            ? [
                {
                  command: tcpdump(podDev, p, h.netns),
                  shows: `the packet arriving on the pod's ${podDev}; a capture on ${h.dev ?? 'the host-side device'} in the host namespace does not see it`,
                },
              ]
            : []),
          { command: pwru(p, ['--filter-track-bpf-helpers']), shows: 'the bpf_redirect_peer call for this packet' },
          {
            command: hubble(p, node, ['--type trace:to-endpoint']),
            shows: "Cilium's to-endpoint event for the delivery",
          },
        ],
      };
    }
    case 'redirect':
      return {
        what: `A plain bpf_redirect() to the egress of ${h.dev ?? 'the host-side device'}: the packet crosses the veth pair into the pod's namespace and is received there like any veth packet.`,
        why: `${h.why === 'host-routing-unknown' ? quote(h) : (h.reason ?? quote(h))}.${because}`,
        confirm: [
          ...(h.dev ? [{ command: tcpdump(h.dev, p), shows: `the packet leaving ${h.dev} towards the pod` }] : []),
          { command: pwru(p, ['--filter-track-bpf-helpers']), shows: 'the bpf_redirect call and the veth transmit' },
        ],
      };
    case 'stack':
      return {
        what: 'The packet is handed to the kernel IP stack (the program returns TC_ACT_OK): routing, the netfilter hooks and neighbour resolution apply as for any packet.',
        why: `${quote(h)}.${because}`,
        confirm: [
          {
            command: pwru(p, ['--filter-track-skb']),
            shows: 'the kernel functions the packet passes (ip_rcv, ip_forward or ip_local_deliver, nf_hook_slow, …)',
          },
        ],
      };
    case 'netfilter':
      return {
        what: `The netfilter hooks this path crosses (${(h.hooks ?? []).join(' → ')}): iptables or nftables rules there — kube-proxy, Cilium's CILIUM_* chains, a host firewall — can accept, drop, mark or NAT the packet.`,
        why: `The packet goes through the kernel stack here, so these hooks run; netpath does not evaluate the rules in them for a trace yet.${because}`,
        confirm: [
          { command: 'nft list ruleset', shows: 'every rule in those hooks (iptables-nft rules included)' },
          {
            command: pwru(p, ['--filter-track-skb']),
            shows: 'nf_hook_slow calls for this packet, and kfree_skb_reason with NETFILTER_DROP if a rule drops it',
          },
        ],
      };
    case 'wireguard': {
      const ep = h.endpoint;
      const epHost = ep ? endpointHost(ep) : undefined;
      const epPort = ep ? ep.slice(ep.lastIndexOf(':') + 1) : undefined;
      const next = t.hops.slice(t.hops.indexOf(h) + 1).find((x) => x.kind === 'gateway' || x.kind === 'route');
      const out = next ? hopField(next, 'dev') : undefined;
      return {
        what: `WireGuard on ${h.dev ?? '?'} encrypts the packet for the peer whose allowed-ips contain the destination (cryptokey routing) and sends it as UDP to that peer's endpoint; the encrypted packet is then routed like any packet the node sends.`,
        why: `${p.dst} is inside the allowed-ips ${h.allowedIps ?? '?'} of peer ${h.peer ? `${h.peer.slice(0, 8)}…` : '?'}${ep ? `, whose endpoint is ${ep}` : ', which has no endpoint'} (${line(ev, /^wg/) ?? 'wg show'}).${because}`,
        confirm: [
          ...(h.dev
            ? [
                {
                  command: `wg show ${q(h.dev)}`,
                  shows: 'the peer, its endpoint, the latest handshake and transfer counters',
                },
              ]
            : []),
          ...(h.dev ? [{ command: tcpdump(h.dev, p), shows: `the cleartext packet entering ${h.dev}` }] : []),
          ...(epHost && out
            ? [
                {
                  command: `tcpdump -ni ${q(out)} ${q(`udp and dst host ${epHost} and dst port ${epPort}`)}`,
                  shows: `the encrypted packets leaving ${out} for the endpoint`,
                },
              ]
            : []),
        ],
      };
    }
    // issue 15: tunnel mode
    case 'encap': {
      const next = t.hops.slice(t.hops.indexOf(h) + 1).find((x) => x.kind === 'gateway' || x.kind === 'route');
      const out = next ? hopField(next, 'dev') : undefined;
      return {
        what: `Tunnel mode: Cilium sets the tunnel key (the remote node's address) and redirects the packet to ${h.dev}, a ${h.protocol} device in external-control (collect_md) mode; the kernel wraps it in UDP to port ${h.port} of that node, and the outer packet is routed like any packet the node sends.`,
        why: `the destination's ipcache entry names the tunnel endpoint ${h.tunnelEndpoint} (${line(ev, /ipcache/) ?? 'cilium-dbg bpf ipcache list'}).${because}`,
        confirm: [
          { command: tcpdump(h.dev, p), shows: `the inner packet entering ${h.dev}` },
          ...(out
            ? [
                {
                  command: `tcpdump -ni ${q(out)} ${q(`udp and dst host ${h.tunnelEndpoint} and dst port ${h.port}`)}`,
                  shows: `the encapsulated packets leaving ${out} for ${h.tunnelEndpoint}`,
                },
              ]
            : []),
        ],
      };
    }
    case 'gateway':
      return {
        what: 'The packet leaves the node towards a next hop outside the set of cluster nodes this trace knows (a router, or a WireGuard endpoint).',
        why: `${quote(h)}.${because}`,
        confirm: [
          ...(h.gateway && h.dev
            ? [{ command: `ip neigh show ${h.gateway} dev ${q(h.dev)}`, shows: "the gateway's MAC address and state" }]
            : []),
          ...(h.dev
            ? [
                {
                  command: `tcpdump -ni ${q(h.dev)} ${q(`dst host ${t.hops.some((x) => x.kind === 'wireguard') && h.gateway ? h.gateway : p.dst}`)}`,
                  shows: `the packet on the wire out of ${h.dev}`,
                },
              ]
            : []),
        ],
      };
    case 'masquerade':
      return explainNat(h, t, p, because);
    case 'conntrack':
      return {
        what: 'An existing connection-tracking entry decides or confirms how this flow is handled.',
        why: `${quote(h)}.${because}`,
        confirm: [{ command: `conntrack -L -s ${p.src} -d ${p.dst} -p ${p.proto}`, shows: 'the entry and its state' }],
      };
    case 'deliver': {
      const netns = h.netns;
      const dev = netns ? podIf(h.evidence, netns) : undefined;
      const listen =
        p.dport !== undefined && p.proto !== 'icmp'
          ? `ss -ln${p.proto === 'udp' ? 'u' : 't'} ${q(`sport = :${p.dport}`)}`
          : undefined;
      return {
        what: "The packet reaches the destination's network namespace, where the kernel hands it to the socket bound to the destination address and port (or answers with a reset / ICMP unreachable if none is).",
        why: `${quote(h)}.${because}`,
        confirm: [
          ...(netns && dev
            ? [{ command: tcpdump(dev, p, netns), shows: `the packet arriving on ${dev} inside ${netns}` }]
            : []),
          ...(listen
            ? [
                {
                  command: netns ? `ip netns exec ${q(netns)} ${listen}` : listen,
                  shows: `a listening socket on port ${p.dport}`,
                },
              ]
            : []),
          ...(netns
            ? [
                {
                  command: hubble(p, node, ['--type trace:to-endpoint']),
                  shows: "Cilium's to-endpoint event for this flow",
                },
              ]
            : []),
        ],
      };
    }
    case 'drop': {
      const noRoute = t.disposition === 'no-route';
      const inDev = routeOf(t, 'arrival')?.dev ?? (t.src.kind === 'local-pod' ? t.src.dev : undefined);
      return {
        what: noRoute
          ? 'No route covers the destination: the kernel (or bpf_fib_lookup inside a Cilium program) finds nothing to forward it by, and the packet is dropped.'
          : 'The packet is dropped here.',
        why: `${h.reason}.${because}`,
        confirm: [
          ...(noRoute
            ? [
                {
                  command: routeGet(p, inDev),
                  shows:
                    'the kernel\'s answer for the same lookup (expect "Network is unreachable" or an unreachable route)',
                },
              ]
            : []),
          {
            command: hubble(p, node, ['--verdict DROPPED']),
            shows: 'Cilium drop events for this flow with their drop reason',
          },
          {
            command: pwru(p, ['--filter-track-skb']),
            shows: 'where the kernel frees the packet (kfree_skb_reason and its reason)',
          },
        ],
      };
    }
  }
}

function hostPortOf(p: Packet): string {
  return p.dport === undefined ? p.dst : `${p.dst.includes(':') ? `[${p.dst}]` : p.dst}:${p.dport}`;
}

function explainRoute(h: RouteHop, t: Trace, p: Packet, because: string): HopExplain {
  const rule = h.rule ? ` (policy rule ${h.rule})` : '';
  const matched = h.route ? `the matching entry is "${h.route}"${rule}` : `the lookup answers: ${h.answer}`;
  const Matched = matched[0]!.toUpperCase() + matched.slice(1);
  if (h.netns) {
    return {
      what: `The pod's own routing table, in its network namespace ${h.netns}: it decides whether and how the packet leaves the pod's interface before Cilium sees it on the host side.`,
      why: `${Matched}.${because}`,
      confirm: [
        {
          command: routeGet(p, undefined, h.netns),
          shows: 'the same decision made by the kernel inside the pod namespace',
        },
      ],
    };
  }
  if (h.lookup === 'bpf_fib_lookup') {
    const hr = h.evidence.find((e) => e.probe === 'cilium-status');
    const iif = h.iif;
    return {
      what: "bpf_fib_lookup(): the Cilium program asks the kernel FIB for the route, with the pod's host-side device as input interface; Cilium then forwards by the answer (output device, next hop) itself instead of passing the packet to the stack. The flow key comes from the program's parameters, so a packet mark or socket uid that a policy rule selects on is not part of this lookup.",
      why: `${hr ? `BPF host routing is on (${hr.probe}: ${hr.text.replace(/\s+/g, ' ').trim()}), so the route comes from this lookup, not from the stack; ` : ''}${matched}.${because}`,
      confirm: [
        {
          command: routeGet(p, iif),
          shows: `the kernel's FIB answer for a packet arriving on ${iif ?? 'the pod device'} (rules and tables included)`,
        },
      ],
    };
  }
  if (h.lookup === 'arrival') {
    return {
      what: 'Where the packet enters this node: the device through which this node routes back to the source (asymmetric paths arrive elsewhere and may meet rp_filter).',
      why: `${quote(h)}.${because}`,
      confirm: [
        { command: `ip route get ${p.src}`, shows: 'the route back to the source and its device' },
        ...(h.dev ? [{ command: tcpdump(h.dev, p), shows: `the packet arriving on ${h.dev}` }] : []),
      ],
    };
  }
  if (h.lookup === 'wireguard-outer') {
    const mark = h.fwmark ? `0x${h.fwmark.toString(16)}` : undefined;
    return {
      what: "The route of the encrypted WireGuard packet: WireGuard sends it as a UDP packet of this node (with the device's fwmark, if set), so the node's policy rules and tables decide its way out.",
      why: `${Matched}.${because}`,
      confirm: [
        {
          command: `ip route get ${h.dst}${mark ? ` mark ${mark}` : ''}`,
          shows: "the kernel's route for the encrypted packet",
        },
      ],
    };
  }
  const local = h.lookup === 'output';
  const iif = local ? undefined : (routeOf(t, 'arrival')?.dev ?? (t.src.kind === 'local-pod' ? t.src.dev : undefined));
  return {
    what: local
      ? 'The output route lookup for a packet this node sends itself: policy rules in priority order, then the longest matching prefix in the table they select.'
      : "The kernel's route lookup for a packet it forwards: policy rules in priority order (iif, fwmark, source…), then the longest matching prefix in the selected table.",
    why: `${Matched}.${because}`,
    confirm: [{ command: routeGet(p, iif), shows: 'the same lookup, done by the kernel' }],
  };
}

function explainNat(h: MasqueradeHop, t: Trace, p: Packet, because: string): HopExplain {
  const egress = t.hops.find((x) => x.kind === 'redirect_neigh' || x.kind === 'gateway');
  const dev =
    [...t.hops].reverse().find((x): x is BpfHop => x.kind === 'bpf' && x.program === 'cil_to_netdev')?.dev ??
    (egress ? hopField(egress, 'dev') : undefined);
  const status = line(h.evidence, 'cilium-status');
  if (h.applied === true && h.by === 'bpf') {
    return {
      what: `BPF masquerading in cil_to_netdev: pod traffic leaving a masquerade device for a destination outside the SNAT exclusion CIDR gets the device's address as source; Cilium's NAT map remembers the mapping so the reply is translated back.`,
      why: `${status ? `${status}; ` : ''}${p.dst} is outside the exclusion CIDR and the packet leaves through ${dev ?? '?'}${h.snatTo ? `, whose address is ${h.snatTo}` : ''}.${because}`,
      confirm: [
        {
          command: `cilium-dbg bpf nat list | grep -F ${q(p.src)}`,
          shows: `the NAT entry mapping ${p.src} and its port to ${h.snatTo ?? 'the node address'}`,
        },
        ...(dev
          ? [
              {
                command: `tcpdump -ni ${q(dev)} ${q(`src host ${h.snatTo ?? p.src} and dst host ${p.dst}`)}`,
                shows: `on the wire the source is ${h.snatTo ?? 'the node address'}, not ${p.src}`,
              },
            ]
          : []),
      ],
    };
  }
  if (h.applied === true && h.by === 'bpf-nodeport') {
    return {
      what: 'NodePort SNAT: the node rewrites the client source to its own address before forwarding to a backend on another node, so the reply comes back through this node and is reverse-translated (in cil_from_netdev).',
      why: `${quote(h)}.${because}`,
      confirm: [
        { command: `cilium-dbg bpf nat list | grep -F ${q(p.src)}`, shows: 'the NodePort NAT entry for this client' },
      ],
    };
  }
  if (h.applied === true) {
    return {
      what: "iptables masquerading: Cilium's CILIUM_POST_nat chain in nat POSTROUTING masquerades pod traffic to destinations outside the native-routing CIDR.",
      why: `${status ? `${status}; ` : ''}${quote(h)}.${because}`,
      confirm: [
        { command: 'iptables -t nat -S CILIUM_POST_nat', shows: 'the MASQUERADE rule and its exclusions' },
        { command: `conntrack -L -s ${p.src} -d ${p.dst}`, shows: 'the connection with its translated (reply) source' },
      ],
    };
  }
  return {
    what:
      h.applied === false
        ? "Cilium decides per packet whether to masquerade pod traffic leaving the node; here it keeps the pod's own source address."
        : 'Whether the source is masqueraded cannot be decided from this node state.',
    // "not masqueraded: <reason>" is quoted as its reason; a NodePort DSR or an undecided hop as a whole
    why: `${h.applied === false && h.where !== 'bpf-nodeport' ? (h.reason ?? quote(h)) : quote(h)}${status ? ` (${status})` : ''}.${because}`,
    confirm: dev ? [{ command: tcpdump(dev, p), shows: `the packet leaving ${dev} with source ${p.src}` }] : [],
  };
}

/** Why the path follows its backend: a fact only when something pins it (issue 14, backend selection). */
function choice(h: { selection?: { decided: string; because: string; oneOf: string[] } }): string {
  const s = h.selection;
  if (!s) return '';
  if (s.decided === 'not-decided')
    return ` — only to show one: a new connection gets one of ${s.oneOf.length} (${s.because})`;
  return ` — ${s.because}`;
}
