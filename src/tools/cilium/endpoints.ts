import type { z } from 'zod';
import type { CiliumEndpoint, Parsed } from '../../model/types.js';
import { canonIp } from '../../model/addr.js';
import { cleanText, ev, looksLikeJson, parseJsonText } from '../common.js';
import { Warnings } from '../warnings.js';
import { ParseError } from '../parse-error.js';
import { withPaste } from '../paste.js';
import { endpointSchema } from './schema.js';
import { throwIfToolError } from '../tool-error.js';

const STATES = new Set([
  'ready',
  'not-ready',
  'waiting-for-identity',
  'waiting-to-regenerate',
  'regenerating',
  'restoring',
  'disconnecting',
  'disconnected',
  'invalid',
]);
const LABEL = /^(k8s|reserved|container|cidr|unspec|any|fqdn|cni|kvstore|io\.kubernetes|cilium-generated):\S+$/;

/**
 * `cilium-dbg endpoint list -o json` (an array of models.Endpoint; `endpoint get ID` prints the same
 * array with one element), the `endpoint list` table, or `bpf endpoint list`.
 */
export function parseCiliumEndpoints(
  text: string,
  probe: string,
  opts: { lean?: boolean } = {},
): Parsed<CiliumEndpoint[]> {
  throwIfToolError(text, probe, 'cilium-dbg endpoint list');
  const clean = cleanText(text);
  return looksLikeJson(clean)
    ? endpointsJson(clean, probe, opts.lean !== false)
    : withPaste(clean, probe, (t) => endpointsText(t, probe));
}

type EndpointJson = z.infer<typeof endpointSchema>;

const obj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isU32 = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
const optStr = (v: unknown) => v === undefined || (typeof v === 'string' && v.length <= 4096);
const optStrs = (v: unknown, max: number) =>
  v === undefined || (Array.isArray(v) && v.length <= max && v.every(optStr));
const optObj = (v: unknown, ok: (o: Record<string, unknown>) => boolean) => v === undefined || (obj(v) && ok(v));

/**
 * endpointSchema's checks by hand, for the values it accepts: true only when the schema would accept `v` and give
 * back the same fields. Anything else goes to the schema, which rejects it with its own words. A node with 500 pods
 * has 500 endpoints, and zod costs ~0.1 s on them.
 */
function leanEndpoint(v: unknown): v is EndpointJson {
  return (
    obj(v) &&
    isU32(v.id) &&
    optObj(
      v.status,
      (st) =>
        optStr(st.state) &&
        optObj(st.identity, (i) => (i.id === undefined || isU32(i.id)) && optStrs(i.labels, 1024)) &&
        optObj(st.labels, (l) => optStrs(l['security-relevant'], 1024)) &&
        optObj(
          st['external-identifiers'],
          (x) => optStr(x['k8s-pod-name']) && optStr(x['k8s-namespace']) && optStr(x['pod-name']),
        ) &&
        optObj(
          st.networking,
          (n) =>
            (n.addressing === undefined ||
              (Array.isArray(n.addressing) &&
                n.addressing.length <= 64 &&
                n.addressing.every((a) => obj(a) && optStr(a.ipv4) && optStr(a.ipv6)))) &&
            optStr(n['interface-name']) &&
            (n['interface-index'] === undefined || isU32(n['interface-index'])),
        ),
    )
  );
}

function endpointsJson(text: string, probe: string, lean: boolean): Parsed<CiliumEndpoint[]> {
  const r = parseJsonText(text);
  if (!r.ok) throw new ParseError(probe, r.message);
  if (!Array.isArray(r.value)) throw new ParseError(probe, 'expected a JSON array (cilium-dbg endpoint list -o json)');
  const warnings = new Warnings(probe);
  const out: CiliumEndpoint[] = [];
  r.value.forEach((raw, i) => {
    let e: EndpointJson;
    if (lean && leanEndpoint(raw)) e = raw;
    else {
      const p = endpointSchema.safeParse(raw);
      if (!p.success) {
        const iss = p.error.issues[0];
        warnings.add(
          'record-skipped',
          `endpoint #${i}: ${iss?.path.join('.') || 'record'}: ${iss?.message ?? 'invalid'}`,
        );
        return;
      }
      e = p.data;
    }
    const st = e.status ?? {};
    const net = st.networking ?? {};
    const ep: CiliumEndpoint = { id: e.id, source: { probe, text: '' } };
    for (const a of net.addressing ?? []) {
      const v4 = a.ipv4 ? canonIp(a.ipv4) : null;
      const v6 = a.ipv6 ? canonIp(a.ipv6) : null;
      if (a.ipv4 && (!v4 || v4.includes(':')))
        warnings.add('value-skipped', `endpoint ${e.id}: ipv4 ${a.ipv4.slice(0, 60)} is not an IPv4 address`);
      else if (v4 && !ep.ipv4) ep.ipv4 = v4;
      if (a.ipv6 && !v6?.includes(':'))
        warnings.add('value-skipped', `endpoint ${e.id}: ipv6 ${a.ipv6.slice(0, 60)} is not an IPv6 address`);
      else if (v6 && !ep.ipv6) ep.ipv6 = v6;
    }
    if (net['interface-name']) ep.ifname = net['interface-name'];
    if (net['interface-index'] !== undefined) ep.ifindex = net['interface-index'];
    if (st.identity?.id !== undefined) ep.identity = st.identity.id;
    const lab = [...(st.labels?.['security-relevant'] ?? []), ...(st.identity?.labels ?? [])];
    if (lab.length) ep.labels = [...new Set(lab)];
    if (lab.includes('reserved:host')) ep.isHost = true;
    const ext = st['external-identifiers'];
    const pod = ext?.['k8s-pod-name'] ?? ext?.['pod-name'];
    const ns = ext?.['k8s-namespace'];
    if (pod) ep.name = ns && !pod.includes('/') ? `${ns}/${pod}` : pod;
    if (st.state) ep.state = st.state;
    ep.source = ev(
      probe,
      `endpoint ${e.id}${ep.name ? ` ${ep.name}` : ''}${ep.identity !== undefined ? ` identity ${ep.identity}` : ''}${ep.ipv4 ? ` ipv4 ${ep.ipv4}` : ''}${ep.ipv6 ? ` ipv6 ${ep.ipv6}` : ''}${ep.ifname ? ` dev ${ep.ifname}` : ''}${ep.ifindex !== undefined ? ` ifindex ${ep.ifindex}` : ''}${ep.isHost ? ' reserved:host' : ''}${ep.state ? ` ${ep.state}` : ''}`,
    );
    out.push(ep);
  });
  return { value: out, warnings: warnings.done() };
}

function endpointsText(text: string, probe: string): Parsed<CiliumEndpoint[]> {
  const warnings = new Warnings(probe);
  const out: CiliumEndpoint[] = [];
  const lines = text.split('\n').map((l) => l.replace(/\t/g, '    ').replace(/\s+$/, ''));
  // `bpf endpoint list`: IP ADDRESS   LOCAL ENDPOINT INFO, then `ip:0  id=N sec_id=N flags=0x.. ifindex=N mac=… nodemac=…`
  // or `ip:0  (localhost)` for the node's own addresses.
  if (lines.some((l) => /^IP ADDRESS\s+LOCAL ENDPOINT INFO/.test(l.trim()))) {
    for (const l of lines) {
      const t = l.trim();
      if (t === '' || /^IP ADDRESS\s/.test(t) || /\(localhost\)$/.test(t)) continue;
      const m = /^(\S+?)(?::\d+)?\s+id=(\d+)\s+sec_id=(\d+)\s+flags=(0x[0-9a-f]+)\s+ifindex=(\d+)(?:\s|$)/i.exec(t);
      const ip = m ? canonIp(m[1]!.replace(/^\[|\]$/g, '')) : null;
      if (!m || !ip || Number(m[2]) > 0xffffffff || Number(m[3]) > 0xffffffff || Number(m[5]) > 0xffffffff) {
        warnings.add('line-unreadable', `not a bpf endpoint entry: ${t.slice(0, 120)}`);
        continue;
      }
      const ep: CiliumEndpoint = {
        id: Number(m[2]),
        identity: Number(m[3]),
        ifindex: Number(m[5]),
        source: ev(probe, t),
      };
      if (ip.includes(':')) ep.ipv6 = ip;
      else ep.ipv4 = ip;
      out.push(ep);
    }
    return { value: out, warnings: warnings.done() };
  }
  // `endpoint list`: ENDPOINT  POLICY (ingress)  POLICY (egress)  IDENTITY  LABELS  IPv6  IPv4  STATUS,
  // the header wraps onto an `ENFORCEMENT  ENFORCEMENT` line and each label takes a line of its own.
  if (!lines.some((l) => /^ENDPOINT\s+POLICY/.test(l.trim())))
    throw new ParseError(
      probe,
      'not cilium endpoint list output (no ENDPOINT POLICY header, no IP ADDRESS LOCAL ENDPOINT INFO header)',
    );
  let cur: CiliumEndpoint | undefined;
  for (const l of lines) {
    const t = l.trim();
    if (t === '' || /^ENDPOINT\s+POLICY/.test(t) || /^ENFORCEMENT\s+ENFORCEMENT/.test(t)) continue;
    const m = /^(\d{1,10})\s+(Enabled|Disabled|Unknown)\s+(Enabled|Disabled|Unknown)\s+(\d{1,10})\s*(.*)$/.exec(t);
    let rest: string;
    // \d{1,10} still admits 9999999999: ids and identities are u32, a larger one is a garbled row
    if (m && (Number(m[1]) > 0xffffffff || Number(m[4]) > 0xffffffff)) {
      cur = undefined;
      warnings.add('line-unreadable', `endpoint id or identity out of range: ${t.slice(0, 120)}`);
      continue;
    }
    if (m) {
      cur = { id: Number(m[1]), identity: Number(m[4]), labels: [], source: ev(probe, t) };
      out.push(cur);
      rest = m[5]!;
    } else if (cur && /^\s{10,}\S/.test(l)) rest = t;
    else {
      cur = undefined;
      continue;
    }
    for (const w of rest.split(/\s+/)) {
      if (w === '') continue;
      if (LABEL.test(w)) cur.labels!.push(w);
      else if (STATES.has(w)) cur.state = w;
      else {
        const ip = canonIp(w);
        if (ip?.includes(':')) cur.ipv6 = ip;
        else if (ip) cur.ipv4 = ip;
      }
    }
    if (cur.labels!.includes('reserved:host')) cur.isHost = true;
  }
  return { value: out, warnings: warnings.done() };
}
