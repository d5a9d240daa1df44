import type { EgressGatewayEntry, Parsed } from '../../model/types.js';
import { canonIp, canonPrefix } from '../../model/addr.js';
import { cleanText, ev, looksLikeJson, parseJsonText } from '../common.js';
import { ParseError } from '../parse-error.js';
import { Warnings } from '../warnings.js';

/**
 * What `bpf egress list` prints for special gateway values (cilium-dbg/cmd/bpf_egress_list.go `mapGatewayIP`):
 * `Not Found` (the policy's gateway node is not known), `Excluded CIDR` (an excludedCIDRs entry: no redirect).
 */
function gatewayOf(s: string): Pick<EgressGatewayEntry, 'gatewayIp' | 'gatewayNone'> | undefined {
  const t = s.trim();
  if (t === 'Not Found') return { gatewayNone: 'not-found' };
  if (t === 'Excluded CIDR') return { gatewayNone: 'excluded' };
  const ip = canonIp(t);
  return ip === null ? undefined : { gatewayIp: ip };
}

function row(
  src: string,
  dst: string,
  egress: string,
  gw: string,
  line: string,
  probe: string,
): EgressGatewayEntry | undefined {
  const sourceIp = canonIp(src);
  const destCidr = canonPrefix(dst);
  const egressIp = canonIp(egress);
  const gateway = gatewayOf(gw);
  if (sourceIp === null || destCidr === null || !dst.includes('/') || egressIp === null || gateway === undefined)
    return undefined;
  return { sourceIp, destCidr, egressIp, ...gateway, source: ev(probe, line) };
}

/**
 * `cilium-dbg bpf egress list` (`cilium bpf egress list` before 1.15): the `Source IP  Destination CIDR
 * Egress IP  Gateway IP` table (1.11+), or its `-o json` form (a list of {SourceIP, DestCIDR, EgressIP,
 * GatewayIP}). `No entries found.` and a `kubectl` "Defaulted container" line are not rows.
 */
export function parseCiliumEgressList(text: string, probe: string): Parsed<EgressGatewayEntry[]> {
  const clean = cleanText(text);
  const warnings = new Warnings(probe);
  const out: EgressGatewayEntry[] = [];
  const skip = (what: string) => warnings.add('line-skipped', `\`${what.slice(0, 120)}\` is not an egress entry`);
  if (looksLikeJson(clean)) {
    const r = parseJsonText(clean);
    if (!r.ok) throw new ParseError(probe, r.message);
    if (!Array.isArray(r.value)) throw new ParseError(probe, 'expected a JSON array (`bpf egress list -o json`)');
    for (const [i, x] of r.value.entries()) {
      const o = (x !== null && typeof x === 'object' ? x : {}) as Record<string, unknown>;
      const f = [o.SourceIP, o.DestCIDR, o.EgressIP, o.GatewayIP];
      const e = f.every((v) => typeof v === 'string')
        ? row(...(f as [string, string, string, string]), (f as string[]).join(' ').slice(0, 400), probe)
        : undefined;
      if (e) out.push(e);
      else skip(`element #${i}`);
    }
    return { value: out, warnings: warnings.done() };
  }
  let header = false;
  let none = false;
  for (const raw of clean.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (/^Source IP\s+Destination CIDR\s+Egress IP\s+Gateway IP$/.test(line)) {
      header = true;
      continue;
    }
    if (line === 'No entries found.') {
      none = true;
      continue;
    }
    if (!header) continue; // kubectl's "Defaulted container" line, or the note after `No entries found.`
    const m = /^(\S+)\s+(\S+)\s+(\S+)\s+(Not Found|Excluded CIDR|\S+)$/.exec(line);
    const e = m ? row(m[1]!, m[2]!, m[3]!, m[4]!, line, probe) : undefined;
    if (e) out.push(e);
    else skip(line);
  }
  if (!header && !none) throw new ParseError(probe, 'no `Source IP  Destination CIDR  Egress IP  Gateway IP` table');
  return { value: out, warnings: warnings.done() };
}
