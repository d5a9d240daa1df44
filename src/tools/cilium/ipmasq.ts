// ip-masq-agent's non-masquerade CIDRs as Cilium's datapath reads them: the pinned LPM maps cilium_ipmasq_v4 /
// cilium_ipmasq_v6 (bpf/lib/nat.h IP_MASQ_AGENT_IPV4/6), dumped by `bpftool -j map dump pinned`. Key: the LPM
// prefix length (u32, host order) and the address (4 or 16 bytes); value: one flags byte.
import type { Evidence, Parsed } from '../../model/types.js';
import { canonPrefix } from '../../model/addr.js';
import { ev, warn } from '../common.js';
import { parseMapDump, type BtfLayout } from '../bpf-map/dump.js';

export interface IpMasqCidr {
  prefix: string;
  source: Evidence;
}

const keyLayout = (alen: number): BtfLayout => [
  { names: ['lpm'], size: 4 },
  { names: ['addr'], size: alen },
];
const VALUE_LAYOUT: BtfLayout = [{ names: ['flags'], size: 1 }];

export function decodeIpMasqMap(text: string, probe: string, fam: 4 | 6): Parsed<IpMasqCidr[]> {
  const alen = fam === 4 ? 4 : 16;
  const d = parseMapDump(text, probe, { key: keyLayout(alen), value: VALUE_LAYOUT });
  const warnings = [...d.warnings];
  const out: IpMasqCidr[] = [];
  for (const e of d.entries) {
    const bits = e.key.length === 4 + alen ? e.key[0]! | (e.key[1]! << 8) | (e.key[2]! << 16) | (e.key[3]! << 24) : -1;
    const a = e.key.slice(4);
    const addr =
      fam === 4
        ? a.join('.')
        : a.reduce((s, b, i) => s + (i % 2 === 0 && i ? ':' : '') + b.toString(16).padStart(2, '0'), '');
    const prefix = bits >= 0 && bits <= alen * 8 ? canonPrefix(`${addr}/${bits}`) : null;
    if (!prefix) {
      warnings.push(
        warn(
          'entry-skipped',
          `${probe} entry #${e.index}: not an IPv${fam} LPM key (${e.key.length} bytes); skipped`,
          probe,
        ),
      );
      continue;
    }
    const hex = (b: number[]) => b.map((x) => x.toString(16).padStart(2, '0')).join(' ');
    out.push({ prefix, source: ev(probe, `key: ${hex(e.key)}  value: ${hex(e.value)} (${prefix})`) });
  }
  return { value: out, warnings };
}
