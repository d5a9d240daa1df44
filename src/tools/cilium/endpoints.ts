import type { CiliumEndpoint, Parsed, Warning } from '../../model/types.js';
import { canonIp } from '../../model/addr.js';
import { cleanText, ev, looksLikeJson, parseJsonText, warn } from '../common.js';
import { ParseError } from '../parse-error.js';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);

/**
 * `cilium-dbg endpoint list -o json` (an array of models.Endpoint: addressing, interface name and
 * index, identity, labels, pod name live under `status`; older agents also filled `spec`).
 * Text tables (`endpoint list`, `bpf endpoint list`) are read for their IPs and ids.
 */
export function parseCiliumEndpoints(text: string, probe: string): Parsed<CiliumEndpoint[]> {
  const clean = cleanText(text);
  return looksLikeJson(clean) ? endpointsJson(clean, probe) : endpointsText(clean, probe);
}

function endpointsJson(text: string, probe: string): Parsed<CiliumEndpoint[]> {
  const r = parseJsonText(text);
  if (!r.ok) throw new ParseError(probe, r.message);
  if (!Array.isArray(r.value)) throw new ParseError(probe, 'expected a JSON array (cilium-dbg endpoint list -o json)');
  const warnings: Warning[] = [];
  const out: CiliumEndpoint[] = [];
  for (const raw of r.value) {
    const e = obj(raw);
    const id = e?.id;
    if (!e || typeof id !== 'number') {
      warnings.push(warn('record-skipped', 'endpoint without a numeric id', probe));
      continue;
    }
    const st = obj(e.status) ?? {};
    const net = obj(st.networking) ?? {};
    const ep: CiliumEndpoint = { id, source: { probe, text: '' } };
    const addrs = Array.isArray(net.addressing) ? net.addressing : [];
    for (const a of addrs) {
      const o = obj(a);
      const v4 = typeof o?.ipv4 === 'string' ? canonIp(o.ipv4) : null;
      const v6 = typeof o?.ipv6 === 'string' ? canonIp(o.ipv6) : null;
      if (v4 && !ep.ipv4) ep.ipv4 = v4;
      if (v6 && !ep.ipv6) ep.ipv6 = v6;
    }
    if (typeof net['interface-name'] === 'string') ep.ifname = net['interface-name'];
    if (typeof net['interface-index'] === 'number') ep.ifindex = net['interface-index'];
    const ident = obj(st.identity);
    if (typeof ident?.id === 'number') ep.identity = ident.id;
    const labels = obj(st.labels);
    const lab = [...(Array.isArray(labels?.['security-relevant']) ? labels['security-relevant'] : []), ...(Array.isArray(ident?.labels) ? ident.labels : [])].filter((x): x is string => typeof x === 'string');
    if (lab.length) ep.labels = [...new Set(lab)];
    if (lab.includes('reserved:host')) ep.isHost = true;
    const ext = obj(st['external-identifiers']);
    const pod = typeof ext?.['k8s-pod-name'] === 'string' ? ext['k8s-pod-name'] : typeof ext?.['pod-name'] === 'string' ? ext['pod-name'] : undefined;
    const ns = typeof ext?.['k8s-namespace'] === 'string' ? ext['k8s-namespace'] : undefined;
    if (pod) ep.name = ns && !pod.includes('/') ? `${ns}/${pod}` : pod;
    if (typeof st.state === 'string') ep.state = st.state;
    ep.source = ev(probe, `endpoint ${id}${ep.name ? ` ${ep.name}` : ''}${ep.ipv4 ? ` ipv4 ${ep.ipv4}` : ''}${ep.ipv6 ? ` ipv6 ${ep.ipv6}` : ''}${ep.ifname ? ` dev ${ep.ifname}` : ''}${ep.isHost ? ' (host)' : ''}${ep.state ? ` ${ep.state}` : ''}`);
    out.push(ep);
  }
  return { value: out, warnings };
}

function endpointsText(text: string, probe: string): Parsed<CiliumEndpoint[]> {
  const out: CiliumEndpoint[] = [];
  const lines = text.split('\n');
  // `bpf endpoint list`: IP ADDRESS   LOCAL ENDPOINT INFO (id=N sec_id=N flags=0x.. ifindex=N ...)
  const bpf = lines.some((l) => /^IP ADDRESS\s+LOCAL ENDPOINT INFO/.test(l.trim()));
  if (bpf) {
    for (const l of lines) {
      const m = /^(\S+?)(?::\d+)?\s+id=(\d+)\s+sec_id=(\d+)\s+flags=(0x[0-9a-f]+)\s+ifindex=(\d+)/i.exec(l.trim());
      if (!m) continue;
      const ip = canonIp(m[1]!);
      if (!ip) continue;
      const ep: CiliumEndpoint = { id: Number(m[2]), identity: Number(m[3]), ifindex: Number(m[5]), source: ev(probe, l.trim()) };
      if (ip.includes(':')) ep.ipv6 = ip;
      else ep.ipv4 = ip;
      if (Number(m[2]) === 0 || (parseInt(m[4]!, 16) & 1) === 1) ep.isHost = true;
      out.push(ep);
    }
    return { value: out, warnings: [] };
  }
  // `endpoint list`: ENDPOINT  POLICY(ingress) POLICY(egress) IDENTITY LABELS IPv6 IPv4 STATUS; labels wrap over lines
  if (!lines.some((l) => /^ENDPOINT\s+POLICY/.test(l.trim()))) throw new ParseError(probe, 'not cilium endpoint list output');
  let cur: CiliumEndpoint | undefined;
  for (const l of lines) {
    const m = /^(\d+)\s+(Enabled|Disabled)\s+(Enabled|Disabled)\s+(\d+)\s+(.*)$/.exec(l.trim());
    if (m) {
      cur = { id: Number(m[1]), identity: Number(m[4]), labels: [], source: ev(probe, l.trim()) };
      out.push(cur);
    }
    if (!cur) continue;
    for (const w of l.trim().split(/\s+/)) {
      if (/^(k8s|reserved|container|cidr):/.test(w)) cur.labels!.push(w);
      const ip = canonIp(w);
      if (ip && ip.includes(':')) cur.ipv6 = ip;
      else if (ip) cur.ipv4 = ip;
      if (w === 'ready' || w === 'not-ready' || w === 'waiting-for-identity' || w === 'regenerating') cur.state = w;
    }
    if (cur.labels!.includes('reserved:host')) cur.isHost = true;
  }
  return { value: out, warnings: [] };
}
