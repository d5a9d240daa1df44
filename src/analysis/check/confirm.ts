import { canonIp, endpointHost, familyOf } from '../../model/addr.js';
import type { Flow, Trace } from '../../model/trace.js';

// Commands a finding suggests for the live node (netpath never runs them). Every token that comes from node
// state is checked for its shape first, so a crafted device name or address cannot put shell syntax into a
// line a person may paste: an address must parse as one, a device must be a device name.

/** A device name as the kernel allows it (IFNAMSIZ 16, no spaces or slashes), else a placeholder. */
export function safeDev(dev: string): string {
  return /^[A-Za-z0-9_.@:-]{1,15}$/.test(dev) ? dev : 'DEVICE';
}

function ip(a: string): string {
  return canonIp(a) ?? 'ADDRESS';
}

/** `ip route get` for the flow (or towards a Service backend), from its source. */
export function confirmRoute(t: Pick<Trace, 'flow'>, backend?: string): string {
  const dst = backend ? ip(endpointHost(backend)) : ip(t.flow.dst);
  return `ip route get ${dst} from ${ip(t.flow.src)}${t.flow.proto === 'icmp' ? '' : ` ipproto ${t.flow.proto}${t.flow.dport !== undefined && !backend ? ` dport ${t.flow.dport}` : ''}`}`;
}

function filter(f: Flow): string {
  const parts = [`host ${ip(f.src)}`, `host ${ip(f.dst)}`];
  if (f.proto !== 'icmp') parts.push(f.dport !== undefined ? `${f.proto} port ${f.dport}` : f.proto);
  return parts.join(' and ');
}

/** Where the packet is lost: pwru follows it through the kernel, Hubble shows Cilium's drop reason. */
export function confirmDrop(t: Pick<Trace, 'flow'>): string[] {
  return [
    `pwru --output-tuple '${filter(t.flow)}'`,
    `hubble observe --verdict DROPPED --from-ip ${ip(t.flow.src)} --to-ip ${ip(t.flow.dst)}`,
  ];
}

export function confirmTcpdump(dev: string, f: Flow): string {
  return `tcpdump -ni ${safeDev(dev)} '${filter(f)}'`;
}

export function confirmNeighbor(addr: string, dev: string): string[] {
  const a = ip(addr);
  return [
    `ip neigh show ${a} dev ${safeDev(dev)}`,
    familyOf(a) === 6 ? `ndisc6 ${a} ${safeDev(dev)}` : `arping -c 3 -I ${safeDev(dev)} ${a}`,
  ];
}

/** A ping that does not fragment, one byte larger than `mtu` allows: it fails where the MTU shrinks. */
export function confirmPmtu(dst: string, mtu: number): string {
  const a = ip(dst);
  const header = familyOf(a) === 6 ? 48 : 28;
  return `ping -M do -c 1 -s ${mtu - header + 1} ${a}`;
}
