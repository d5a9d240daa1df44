import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dirSource, memorySource, type ProbeSource } from '../../src/collect/source.js';
import { runTrace } from '../../src/commands/trace.js';
import { lookupConntrack } from '../../src/collect/conntrack.js';
import { traceContract } from '../../src/render/json.js';

// np-ct-node: captured by scripts/lab/conntrack.sh (kube-proxy-style iptables Services, open connections)
const DIR = fileURLToPath(new URL('../../fixtures/snapshots/conntrack/np-ct-node/', import.meta.url));
const snap = () => dirSource(DIR);
const ANSWERED = new Map(
  readFileSync(new URL('../../fixtures/tools/conntrack/lab/client.log', import.meta.url), 'utf8')
    .split('\n')
    .map((l) => /^tcp 192\.0\.2\.2:(\d+) -> 192\.0\.2\.100:80 answered by (\S+) (\d+)$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => [Number(m[1]), `${m[2]}:${m[3]}`]),
);

/** The snapshot's files in memory, some replaced: to state what a changed node would show. */
function files(edit: Record<string, string | undefined> = {}): Map<string, string> {
  const m = new Map<string, string>();
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else m.set(relative(DIR, p), readFileSync(p, 'utf8'));
    }
  };
  walk(DIR);
  for (const [k, v] of Object.entries(edit)) {
    if (v === undefined) m.delete(k);
    else m.set(k, v);
  }
  return m;
}

describe('trace with the conntrack table (np-ct-node snapshot)', () => {
  it('an established connection follows its entry: the backend that answered it, whatever the rule order', async () => {
    expect(ANSWERED.size).toBe(8);
    const firstCandidate = new Set<string>();
    for (const [sport, backend] of ANSWERED) {
      const { trace, exitCode } = await runTrace(snap(), {
        src: '192.0.2.2',
        dst: '192.0.2.100',
        proto: 'tcp',
        port: 80,
        sport,
      });
      expect(exitCode).toBe(0);
      const i = trace.hops.findIndex((h) => h.kind === 'conntrack');
      const kp = trace.hops.findIndex((h) => h.kind === 'kube-proxy');
      expect(i).toBeGreaterThanOrEqual(0);
      expect(i).toBeLessThan(kp);
      const hop = trace.hops[i]!;
      expect(hop.backend).toBe(backend);
      expect(hop.detail).toMatch(/nat rules are consulted only for a new connection/);
      expect(hop.evidence).toEqual([
        { probe: 'conntrack4', text: expect.stringContaining(`sport=${sport} dport=80 `) },
      ]);
      expect(trace.hops[kp]!.backend).toBe(backend);
      // the entry pins the backend: a fact, not one of N
      expect(trace.hops[kp]).toMatchObject({ selection: { decided: 'conntrack' } });
      expect(trace.warnings.map((w) => w.code)).not.toContain('backend-choice');
      expect(traceContract(trace).hops[i]!.kind).toBe('conntrack');
      firstCandidate.add(trace.hops[kp]!.backends![0]!.address);
    }
    // the rules list the same first candidate every time; the entries send the connections to both
    expect(firstCandidate.size).toBe(1);
    expect(new Set(ANSWERED.values()).size).toBe(2);
  });

  it('without --sport: the existing connections confirm the flow and list where they went; nothing is pinned', async () => {
    const { trace } = await runTrace(snap(), { src: '192.0.2.2', dst: '192.0.2.100', proto: 'tcp', port: 80 });
    const hop = trace.hops.find((h) => h.kind === 'conntrack')!;
    const n2 = [...ANSWERED.values()].filter((b) => b === '198.51.100.2:8080').length;
    expect(hop.detail).toContain(
      `8 existing connection(s) from 192.0.2.2 to 192.0.2.100:80/tcp in conntrack4: ${n2} × DNAT to 198.51.100.2:8080, ${8 - n2} × DNAT to 198.51.100.3:8080`,
    );
    expect(hop.backend).toBeUndefined();
    expect(hop.evidence).toHaveLength(3);
    expect(trace.warnings.map((w) => w.code)).toContain('backend-choice');
  });

  it('a source port with no entry: a new connection, the rules decide (inferred from the absence)', async () => {
    const { trace } = await runTrace(snap(), {
      src: '192.0.2.2',
      dst: '192.0.2.100',
      proto: 'tcp',
      port: 80,
      sport: 41000,
    });
    const hop = trace.hops.find((h) => h.kind === 'conntrack')!;
    expect(hop).toMatchObject({ inferred: true, evidence: [] });
    expect(hop.detail).toMatch(
      /no entry for 192\.0\.2\.2:41000 → 192\.0\.2\.100:80\/tcp among the 13 lines of conntrack4/,
    );
  });

  it('UDP through the masquerading Service and IPv6: DNAT and SNAT both named', async () => {
    const udp = (await runTrace(snap(), { src: '192.0.2.2', dst: '192.0.2.100', proto: 'udp', port: 53, sport: 40053 }))
      .trace;
    expect(udp.hops.find((h) => h.kind === 'conntrack')).toMatchObject({
      backend: '198.51.100.2:5353',
      snatTo: '198.51.100.1',
    });
    const v6 = (
      await runTrace(snap(), { src: '2001:db8:1::2', dst: '2001:db8:100::10', proto: 'tcp', port: 80, sport: 40080 })
    ).trace;
    expect(v6.hops.find((h) => h.kind === 'conntrack')).toMatchObject({
      backend: '[2001:db8:2::2]:8080',
      snatTo: '2001:db8:2::1',
      evidence: [{ probe: 'conntrack6' }],
    });
  });

  it('a reply packet is recognised as the reply direction of its connection', async () => {
    const [sport, backend] = [...ANSWERED][0]!;
    const [addr, port] = backend.split(':');
    const { trace } = await runTrace(snap(), {
      src: addr!,
      dst: '192.0.2.2',
      proto: 'tcp',
      port: sport,
      sport: Number(port),
    });
    expect(trace.hops.find((h) => h.kind === 'conntrack')!.detail).toContain(
      `is the reply direction of the existing connection 192.0.2.2:${sport} → 192.0.2.100:80`,
    );
  });

  it('an entry to a backend the Service no longer has: the connection still goes there, with a warning', async () => {
    const [sport, gone] = [...ANSWERED].find(([, b]) => b === '198.51.100.3:8080')!;
    // the node after kube-proxy removed the endpoint 198.51.100.3 (its rules, not its conntrack entries)
    const rules = readFileSync(join(DIR, 'iptables-save.txt'), 'utf8')
      .split('\n')
      .filter((l) => !l.includes('NPCTWEBBE3'))
      .map((l) => l.replace(/ -m statistic --mode random --probability 0\.50000000000/, ''))
      .join('\n');
    const src = memorySource(files({ 'iptables-save.txt': rules }), 'edited');
    const { trace } = await runTrace(src, { src: '192.0.2.2', dst: '192.0.2.100', proto: 'tcp', port: 80, sport });
    expect(trace.hops.find((h) => h.kind === 'kube-proxy')!.backends!.map((b) => b.address)).toEqual(['198.51.100.2']);
    expect(trace.hops.find((h) => h.kind === 'conntrack')!.backend).toBe(gone);
    expect(trace.hops.find((h) => h.kind === 'kube-proxy')!.backend).toBe(gone);
    expect(trace.warnings.find((w) => w.code === 'conntrack-stale-backend')!.message).toContain(
      `sends it to ${gone}, which is not a backend of the Service any more`,
    );
  });

  it('no conntrack probe: no conntrack hop, the rest unchanged', async () => {
    const without = memorySource(files({ 'conntrack4.txt': undefined, 'conntrack6.txt': undefined }), 'without');
    const a = (await runTrace(without, { src: '192.0.2.2', dst: '192.0.2.100', proto: 'tcp', port: 80, sport: 40001 }))
      .trace;
    const b = (await runTrace(snap(), { src: '192.0.2.2', dst: '192.0.2.100', proto: 'tcp', port: 80, sport: 40001 }))
      .trace;
    expect(a.hops.some((h) => h.kind === 'conntrack')).toBe(false);
    expect(b.hops.filter((h) => h.kind !== 'conntrack' && h.kind !== 'kube-proxy')).toEqual(
      a.hops.filter((h) => h.kind !== 'kube-proxy'),
    );
  });

  it('a capture cut at the size limit: an absent entry proves nothing, and the trace says the table was cut', async () => {
    const m = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as {
      probes: { id: string; truncated?: boolean }[];
    };
    for (const p of m.probes) if (p.id === 'conntrack4') p.truncated = true;
    const src = memorySource(files({ 'manifest.json': JSON.stringify(m) }), 'cut');
    const { trace } = await runTrace(src, {
      src: '192.0.2.2',
      dst: '192.0.2.100',
      proto: 'tcp',
      port: 80,
      sport: 41000,
    });
    expect(trace.hops.some((h) => h.kind === 'conntrack')).toBe(false);
    expect(trace.warnings.map((w) => w.code)).toContain('conntrack-capture-truncated');
  });

  it("the lookup streams the probe and keeps only the flow's entries", async () => {
    const real = snap();
    let wholeReads = 0;
    const src: ProbeSource = {
      ...real,
      stream: real.stream!.bind(real),
      read: async (id) => {
        if (id.startsWith('conntrack')) wholeReads++;
        return real.read(id);
      },
    };
    const ct = await lookupConntrack(src, { src: '192.0.2.2', dst: '192.0.2.100', proto: 'tcp', dport: 80 }, 4, [
      { address: '198.51.100.2', port: 8080 },
    ]);
    expect(wholeReads).toBe(0);
    expect(ct).toMatchObject({ status: 'ok', lines: 13, cut: false });
    expect(ct.entries.map((e) => e.orig.sport).sort()).toEqual([...ANSWERED.keys()].sort());
    const few = await lookupConntrack(src, { src: '192.0.2.2', dst: '192.0.2.100', proto: 'tcp', dport: 80 }, 4, [], 3);
    expect([few.entries.length, few.cut, few.warnings.map((w) => w.code)]).toEqual([3, true, ['conntrack-cut']]);
  });
});
