import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CILIUM_RULES,
  ciliumRuleHolds,
  inVersionRange,
  parseCiliumVersion,
  versionRangeText,
} from '../../src/model/cilium-rules.js';

const src = fileURLToPath(new URL('../../src', import.meta.url));
const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sources(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );

describe('the Cilium version rules table', () => {
  it('has unique ids and ranges whose start is not after their end', () => {
    const ids = CILIUM_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of CILIUM_RULES) {
      const { from, to } = r.versions;
      if (from && to) expect(inVersionRange(parseCiliumVersion(to)!, { from }), r.id).toBe(true);
      expect(r.what.length, r.id).toBeGreaterThan(10);
      expect(r.cilium.length, r.id).toBeGreaterThan(5);
    }
  });

  it('names files that exist, and every file that reads the table is named by a rule', () => {
    const named = new Set(CILIUM_RULES.flatMap((r) => r.usedBy));
    for (const f of named) expect(existsSync(join(src, f)), f).toBe(true);
    // a reader imports the table and names one of its rules; the renderer and the hop type carry ids generically
    const ids = CILIUM_RULES.map((r) => `'${r.id}'`);
    const readers = sources(src)
      .filter((f) => {
        const text = readFileSync(f, 'utf8');
        return /from '[./]+\/?(model\/)?cilium-rules\.js'/.test(text) && ids.some((id) => text.includes(id));
      })
      .map((f) => relative(src, f));
    expect(readers.length).toBeGreaterThanOrEqual(5);
    expect(readers.filter((f) => !named.has(f))).toEqual([]);
  });

  it('reads version strings as Cilium prints them', () => {
    expect(parseCiliumVersion('1.17.6-cee.1')).toEqual([1, 17]);
    expect(parseCiliumVersion(' v1.18.0 ')).toEqual([1, 18]);
    expect(parseCiliumVersion('latest')).toBeNull();
  });

  it('holds inside its range, both ends included, and an open end runs on', () => {
    expect(ciliumRuleHolds('tcx-attach', [1, 15])).toBe(false);
    expect(ciliumRuleHolds('tcx-attach', [1, 16])).toBe(true);
    expect(ciliumRuleHolds('tcx-attach', [2, 0])).toBe(true);
    expect(ciliumRuleHolds('legacy-routing-ipsec', [1, 18])).toBe(true);
    expect(ciliumRuleHolds('legacy-routing-ipsec', [1, 19])).toBe(false);
    expect(ciliumRuleHolds('legacy-routing-wireguard', [1, 13])).toBe(true);
    expect(ciliumRuleHolds('legacy-routing-wireguard', [1, 14])).toBe(false);
    expect(ciliumRuleHolds('lb-no-icmp-echo-for-vips', [1, 12])).toBe(true);
  });

  it('every rule analysis/ decides with names the Cilium sources read to confirm it', () => {
    // Rules not yet read against Cilium's source go here, each with why, so the gap stays visible; empty means
    // every rule analysis/ uses has a reading.
    const KNOWN_UNVERIFIED: readonly string[] = [];
    const byAnalysis = CILIUM_RULES.filter((r) => r.usedBy.some((f) => f.startsWith('analysis/')));
    expect(byAnalysis.length).toBeGreaterThan(5);
    const unread = byAnalysis.filter((r) => (r.checked ?? []).length === 0).map((r) => r.id);
    // equality both ways: a new unread rule fails, and so does a listed rule that has gained a reading
    expect(unread).toEqual([...KNOWN_UNVERIFIED]);
  });

  it('places the cut-offs the upstream changes put there', () => {
    // cilium/cilium#29778 (1.16 cycle): the BPF-masquerade fallback became a start-up error
    expect(ciliumRuleHolds('bpf-masquerade-needs-nodeport', [1, 15])).toBe(true);
    expect(ciliumRuleHolds('bpf-masquerade-needs-nodeport', [1, 16])).toBe(false);
    // cilium/cilium#24561 deprecated `tunnel` in 1.14, #29053 removed it in 1.15
    expect(ciliumRuleHolds('config-tunnel-key', [1, 14])).toBe(true);
    expect(ciliumRuleHolds('config-tunnel-key', [1, 15])).toBe(false);
  });

  it('writes ranges the way the messages print them', () => {
    expect(versionRangeText({ from: '1.13', to: '1.18' })).toBe('1.13–1.18');
    expect(versionRangeText({ from: '1.13', to: '1.13' })).toBe('1.13');
    expect(versionRangeText({ from: '1.16' })).toBe('1.16+');
    expect(versionRangeText({ to: '1.19' })).toBe('≤ 1.19');
  });
});
