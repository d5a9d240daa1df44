import { yaml } from './yaml-lazy.js';
import type { Evidence, Parsed } from '../../model/types.js';
import { cleanText, DANGEROUS_KEYS, ev, looksLikeJson, parseJsonText } from '../common.js';
import { ParseError } from '../parse-error.js';
import { configMapSchema } from './schema.js';
import { throwIfToolError } from '../tool-error.js';
import { Warnings } from '../warnings.js';

export type CiliumConfig = Record<string, { value: string; source: Evidence }>;

/**
 * `cilium-dbg config -a` prints the agent's DaemonConfig by Go field name. Only field names checked
 * in Cilium's pkg/option/config.go (DaemonConfig) are mapped to their ConfigMap key; any other
 * name is kept as printed.
 */
const DAEMON_FIELD_TO_KEY: Record<string, string> = {
  KubeProxyReplacement: 'kube-proxy-replacement',
  EnableBPFMasquerade: 'enable-bpf-masquerade',
  EnableIPv4Masquerade: 'enable-ipv4-masquerade',
  EnableIPv6Masquerade: 'enable-ipv6-masquerade',
  EnableIPMasqAgent: 'enable-ip-masq-agent',
  EnableHostLegacyRouting: 'enable-host-legacy-routing',
  EnableEndpointRoutes: 'enable-endpoint-routes',
  EnableAutoDirectRouting: 'auto-direct-node-routes',
  EnableWireguard: 'enable-wireguard',
  EnableIPSec: 'enable-ipsec',
  EnableSocketLB: 'bpf-lb-sock',
  BPFSocketLBHostnsOnly: 'bpf-lb-sock-hostns-only',
  IPv4NativeRoutingCIDR: 'ipv4-native-routing-cidr',
  IPv6NativeRoutingCIDR: 'ipv6-native-routing-cidr',
  EnableIPv4: 'enable-ipv4',
  EnableIPv6: 'enable-ipv6',
  EnableL7Proxy: 'enable-l7-proxy',
  CGroupRoot: 'cgroup-root',
  EnableHostPort: 'enable-host-port',
};

/** Keys compared without case, dashes or underscores: `enable_bpf_masquerade` ≡ `enable-bpf-masquerade`. */
export function configKey(k: string): string {
  return k.toLowerCase().replace(/[-_.\s]/g, '');
}

export function configValue(cfg: CiliumConfig, key: string): { value: string; source: Evidence } | undefined {
  const direct = Object.hasOwn(cfg, key) ? cfg[key] : undefined;
  if (direct) return direct;
  const want = configKey(key);
  for (const [k, v] of Object.entries(cfg)) if (configKey(k) === want) return v;
  return undefined;
}

function normaliseKey(k: string): string {
  return Object.hasOwn(DAEMON_FIELD_TO_KEY, k) ? DAEMON_FIELD_TO_KEY[k]! : k;
}

const MAX_VALUE = 4096;

/**
 * The agent configuration, keys as in the `cilium-config` ConfigMap: the ConfigMap itself
 * (`kubectl get cm cilium-config -o yaml|json`, its `data`), or `cilium-dbg config -a` text
 * (`Key   Value`, `Key : Value`, `key: value`, `key=value`, or `key:value` as `cilium-dbg debuginfo`
 * prints the environment keys).
 */
export function parseCiliumConfig(text: string, probe: string): Parsed<CiliumConfig> {
  throwIfToolError(text, probe, 'cilium-dbg config');
  const clean = cleanText(text);
  const warnings = new Warnings(probe);
  const out: CiliumConfig = Object.create(null);
  const put = (k: string, v: unknown, line: string) => {
    const key = normaliseKey(k.trim());
    if (key === '' || DANGEROUS_KEYS.has(key) || key.length > 253) return;
    let value: string;
    if (typeof v === 'string') value = v;
    else if (typeof v === 'number' || typeof v === 'boolean') value = String(v);
    else if (v === null || v === undefined) value = '';
    else {
      warnings.add('value-skipped', `${key}: not a scalar value`);
      return;
    }
    if (value.length > MAX_VALUE) {
      warnings.add('value-skipped', `${key}: value longer than ${MAX_VALUE} characters`);
      return;
    }
    if (key in out && out[key]!.value !== value)
      warnings.add('key-repeated', `${key} appears twice (${out[key]!.value} then ${value}); the last one is kept`);
    out[key] = { value, source: ev(probe, line) };
  };
  const fromMap = (doc: unknown, form: string) => {
    const p = configMapSchema.safeParse(doc);
    if (!p.success)
      throw new ParseError(probe, `${form} without a ConfigMap \`data\` map: not the cilium-config ConfigMap`);
    for (const [k, v] of Object.entries(p.data.data))
      put(k, v, `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    if (Object.keys(out).length === 0) throw new ParseError(probe, `${form} ConfigMap with an empty \`data\` map`);
  };
  if (looksLikeJson(clean)) {
    const r = parseJsonText(clean);
    if (!r.ok) throw new ParseError(probe, r.message);
    fromMap(r.value, 'JSON');
    return { value: { ...out }, warnings: warnings.done() };
  }
  if (/^(apiVersion|kind|data|metadata):/m.test(clean)) {
    let doc: unknown;
    try {
      doc = yaml().parse(clean, { maxAliasCount: 50, uniqueKeys: false });
    } catch (e) {
      throw new ParseError(probe, `not valid YAML (${(e instanceof Error ? e.message : String(e)).split('\n')[0]})`);
    }
    fromMap(doc, 'YAML');
    return { value: { ...out }, warnings: warnings.done() };
  }
  let n = 0;
  for (const raw of clean.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.length > MAX_VALUE + 256) continue;
    // `Key   Value` / `Key : Value` / `key: value` / `key=value` / `key:value`
    const m =
      /^([A-Za-z][\w.-]*)\s*(?:\s:\s|:\s+|=|\s{2,})(.*)$/.exec(line) ??
      /^([a-z][a-z0-9.-]*):(.*)$/.exec(line) ??
      /^([A-Za-z][\w.-]*)\s*[:=]\s*$/.exec(line);
    if (!m) continue;
    n++;
    put(m[1]!, (m[2] ?? '').trim(), line);
  }
  if (n === 0) throw new ParseError(probe, 'not cilium config output: no `key value` line');
  return { value: { ...out }, warnings: warnings.done() };
}
