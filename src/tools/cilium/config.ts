import { parse as parseYaml } from 'yaml';
import type { Evidence, Parsed, Warning } from '../../model/types.js';
import { cleanText, DANGEROUS_KEYS, ev, looksLikeJson, parseJsonText, warn } from '../common.js';
import { ParseError } from '../parse-error.js';

export type CiliumConfig = Record<string, { value: string; source: Evidence }>;

/** Keys compared without case, dashes or underscores: `EnableBPFMasquerade` ≡ `enable-bpf-masquerade`. */
export function configKey(k: string): string {
  return k.toLowerCase().replace(/[-_.\s]/g, '');
}

export function configValue(cfg: CiliumConfig, key: string): { value: string; source: Evidence } | undefined {
  const want = configKey(key);
  for (const [k, v] of Object.entries(cfg)) if (configKey(k) === want) return v;
  return undefined;
}

/**
 * The agent configuration: the `cilium-config` ConfigMap (`kubectl get cm cilium-config -o yaml|json`,
 * its `data`), or `cilium-dbg config -a` text (`Key   Value`, `key: value` or `key=value` per line).
 */
export function parseCiliumConfig(text: string, probe: string): Parsed<CiliumConfig> {
  const clean = cleanText(text);
  const warnings: Warning[] = [];
  const out: CiliumConfig = Object.create(null);
  const put = (k: string, v: unknown, line: string) => {
    if (DANGEROUS_KEYS.has(k) || k === '') return;
    const value = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
    if (value === undefined) return;
    out[k] = { value, source: ev(probe, line) };
  };
  const fromData = (doc: unknown): boolean => {
    if (doc === null || typeof doc !== 'object') return false;
    const d = doc as Record<string, unknown>;
    const data = d.kind === 'ConfigMap' || 'data' in d ? d.data : undefined;
    if (data === null || typeof data !== 'object') return false;
    for (const [k, v] of Object.entries(data as Record<string, unknown>)) put(k, v, `${k}: ${String(v)}`);
    return true;
  };
  if (looksLikeJson(clean)) {
    const r = parseJsonText(clean);
    if (!r.ok) throw new ParseError(probe, r.message);
    if (!fromData(r.value)) throw new ParseError(probe, 'JSON without a ConfigMap `data` object');
    return { value: { ...out }, warnings };
  }
  if (/^\s*(apiVersion|kind|data|metadata):/m.test(clean)) {
    let doc: unknown;
    try {
      doc = parseYaml(clean, { maxAliasCount: 50 });
    } catch (e) {
      throw new ParseError(probe, `not valid YAML (${(e instanceof Error ? e.message : String(e)).split('\n')[0]})`);
    }
    if (!fromData(doc)) throw new ParseError(probe, 'YAML without a ConfigMap `data` map');
    return { value: { ...out }, warnings };
  }
  let n = 0;
  for (const raw of clean.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z][\w.-]*)\s*(?::\s+|=|\s{2,})(.*)$/.exec(line) ?? /^([A-Za-z][\w.-]*)\s*[:=]\s*$/.exec(line);
    if (!m) continue;
    n++;
    put(m[1]!, (m[2] ?? '').trim(), line);
  }
  if (n === 0) throw new ParseError(probe, 'no `key value` line: not cilium config output');
  return { value: { ...out }, warnings };
}
export { warn };
