import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ServiceEntry } from '../../src/model/service.js';
import type { Warning } from '../../src/model/types.js';
import { parseBpftoolNet, parseBpftoolProg } from '../../src/tools/bpftool/index.js';
import { parseCiliumEndpoints, parseCiliumStatus } from '../../src/tools/cilium/index.js';
import { parseCiliumLbList, parseCiliumServiceList } from '../../src/tools/cilium-lb/index.js';
import { parseConntrack } from '../../src/tools/conntrack/index.js';
import { parseIpAddr, parseIpLink, parseIpRoute, parseIpRule } from '../../src/tools/ip/index.js';
import { kubeProxyServicesFromIptables, kubeProxyServicesFromNft } from '../../src/analysis/kube-proxy/index.js';
import { parseIptablesSave } from '../../src/tools/iptables/index.js';
import { parseIpvsadm } from '../../src/tools/ipvsadm/index.js';
import { parseNftRuleset } from '../../src/tools/nft/index.js';
import { parseTcFilter } from '../../src/tools/tc/index.js';
import { parseWgDump } from '../../src/tools/wg/index.js';
import { redactWgDump } from '../../src/tools/wg/redact.js';

/**
 * The real-output corpus (fixtures/corpus, issue 13 item 8): every entry is what a person pasted or
 * published, stored verbatim. Each is read with the parser netpath uses for its probe; every fact
 * the index lists must hold, and every warning emitted must be one the index expects (and each
 * expected one must be emitted), so a warning is never unexplained and never silently dropped.
 */

const ROOT = join(import.meta.dirname, '../../fixtures/corpus');

interface Fact {
  says: string;
  /** sub-list of the projection to look in (iptables-save: `services` or `rules`) */
  in?: string;
  has?: unknown;
  hasNo?: unknown;
  is?: unknown;
  count?: number;
}

interface Entry {
  file: string;
  probe: string;
  /** tc-filter: the device and direction the command named */
  dev?: string;
  direction?: 'ingress' | 'egress';
  source: { url: string; date?: string; note?: string };
  tool: string;
  version: string;
  truncated?: string;
  facts: Fact[];
  warnings: Record<string, string>;
  /** a format netpath rejects on purpose: a substring of the one-line error */
  rejects?: string;
}

const index = JSON.parse(readFileSync(join(ROOT, 'index.json'), 'utf8')) as { entries: Entry[] };

/** What a person checks, without evidence text: services as `addr:port/PROTO` and `addr:port state`. */
function svc(e: ServiceEntry): Record<string, unknown> {
  const host = (a: string) => (a.includes(':') ? `[${a}]` : a);
  const out: Record<string, unknown> = {
    frontend: `${host(e.frontend.address)}:${e.frontend.portName ?? e.frontend.port}/${e.frontend.proto}`,
    type: e.type,
    backends: e.backends.map((b) => `${host(b.address)}:${b.portName ?? b.port} ${b.state}`),
    flags: e.flags,
  };
  if (e.name !== undefined) out.name = e.name;
  if (e.id !== undefined) out.id = e.id;
  if (e.frontend.scope !== undefined) out.scope = e.frontend.scope;
  return out;
}

function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(strip);
  if (v === null || typeof v !== 'object') return v;
  const o: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v))
    if (k !== 'source' && k !== 'evidence' && !k.endsWith('Source')) o[k] = strip(x);
  return o;
}

type Read = { value: unknown; warnings: Warning[] };

function read(e: Entry, text: string): Read {
  const p = e.probe;
  switch (p) {
    case 'cilium-service-list':
    case 'cilium-lb-list':
    case 'ipvsadm': {
      const r =
        p === 'ipvsadm'
          ? parseIpvsadm(text, p)
          : p === 'cilium-lb-list'
            ? parseCiliumLbList(text, p)
            : parseCiliumServiceList(text, p);
      return { value: r.value.map(svc), warnings: r.warnings };
    }
    case 'iptables-save': {
      const r = parseIptablesSave(text, p);
      const s = kubeProxyServicesFromIptables(r.value, p, 4);
      const rules = r.value.tables.flatMap((t) =>
        t.chains.flatMap((c) =>
          c.rules.map((x) => ({
            table: t.name,
            chain: c.name,
            target: x.target?.name,
            to: x.target?.options.find((o) => o.name === 'to-destination')?.args[0],
            comment: x.comment,
            packets: x.packets,
          })),
        ),
      );
      return { value: { services: s.value.map(svc), rules }, warnings: [...r.warnings, ...s.warnings] };
    }
    case 'nft-ruleset': {
      const r = parseNftRuleset(text, p);
      const s = kubeProxyServicesFromNft(r.value, p);
      return { value: s.value.map(svc), warnings: [...r.warnings, ...s.warnings] };
    }
    case 'cilium-status':
      return parseCiliumStatus(text, p);
    case 'cilium-endpoints':
      return parseCiliumEndpoints(text, p);
    case 'ip-addr':
      return parseIpAddr(text, p);
    case 'ip-link':
      return parseIpLink(text, p);
    case 'ip-route4':
      return parseIpRoute(text, p, 4);
    case 'ip-rule4':
      return parseIpRule(text, p, 4);
    case 'tc-filter':
      return parseTcFilter(text, p, e.dev ?? '', e.direction ?? 'ingress');
    case 'bpftool-net':
      return parseBpftoolNet(text, p);
    case 'bpftool-prog':
      return parseBpftoolProg(text, p);
    case 'conntrack':
      return parseConntrack(text, p);
    case 'wg':
      return parseWgDump(text, p);
    default:
      throw new Error(`index.json: no parser for probe ${p}`);
  }
}

/** `expected` holds in `actual`: objects key by key, arrays element by element and of the same length. */
function matches(actual: unknown, expected: unknown): boolean {
  if (expected === null) return actual === undefined || actual === null;
  if (Array.isArray(expected))
    return (
      Array.isArray(actual) && actual.length === expected.length && expected.every((x, i) => matches(actual[i], x))
    );
  if (typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object') return false;
    return Object.entries(expected as Record<string, unknown>).every(([k, x]) =>
      matches((actual as Record<string, unknown>)[k], x),
    );
  }
  return actual === expected;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : n.endsWith('.txt') ? [relative(ROOT, p)] : [];
  });
}

describe('real-output corpus', () => {
  it('has at least 40 entries, each file indexed once and each index entry a file', () => {
    const listed = index.entries.map((e) => e.file).sort();
    expect(new Set(listed).size).toBe(listed.length);
    expect(listed).toEqual(files(ROOT).sort());
    expect(listed.length).toBeGreaterThanOrEqual(40);
    for (const e of index.entries) {
      expect(e.source.url, e.file).toMatch(/^https?:\/\/|^github:/);
      expect(e.facts.length + (e.rejects ? 1 : 0), `${e.file} lists no fact`).toBeGreaterThan(0);
    }
  });

  it('holds no WireGuard secret: a dump is as redaction leaves it, the human form shows its keys (hidden)', () => {
    const wg = index.entries.filter((e) => e.probe === 'wg');
    expect(wg.some((e) => e.tool.startsWith('wg show all dump'))).toBe(true);
    for (const e of wg) {
      const text = readFileSync(join(ROOT, e.file), 'utf8');
      // the human form prints no private key; redacting it would take its public keys too
      if (e.tool.startsWith('wg show all dump')) expect(redactWgDump(text), e.file).toBe(text);
      else expect(text, e.file).not.toMatch(/^\s*(?:private|preshared) key: (?!\(hidden\))/m);
    }
  });

  for (const e of index.entries) {
    it(`${e.file}: ${e.tool} ${e.version}`, () => {
      const text = readFileSync(join(ROOT, e.file), 'utf8');
      if (e.rejects !== undefined) {
        expect(() => read(e, text)).toThrow(e.rejects);
        return;
      }
      const r = read(e, text);
      const value = strip(r.value);
      for (const f of e.facts) {
        const where = f.in === undefined ? value : (value as Record<string, unknown>)[f.in];
        const shown = JSON.stringify(where, null, 1)?.slice(0, 3000);
        if (f.count !== undefined) expect((where as unknown[]).length, `${f.says}\n${shown}`).toBe(f.count);
        if (f.has !== undefined)
          expect(
            (where as unknown[]).some((x) => matches(x, f.has)),
            `${f.says}\n${shown}`,
          ).toBe(true);
        if (f.hasNo !== undefined)
          expect(
            (where as unknown[]).some((x) => matches(x, f.hasNo)),
            `${f.says}\n${shown}`,
          ).toBe(false);
        if (f.is !== undefined) expect(matches(where, f.is), `${f.says}\n${shown}`).toBe(true);
      }
      const got = [...new Set(r.warnings.map((w) => w.code))].sort();
      const why = r.warnings.map((w) => `${w.code}: ${w.message}`).join('\n');
      expect(got, `warnings emitted vs expected:\n${why}`).toEqual(Object.keys(e.warnings).sort());
      // once per kind: a paste artefact is reported by one summary line, not one warning per line
      const paste = r.warnings.filter((w) => w.code === 'paste-skipped').map((w) => w.message.replace(/^\d+ /, ''));
      expect(new Set(paste).size, why).toBe(paste.length);
    });
  }
});
