import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { dirSource, memorySource } from '../../src/collect/source.js';
import { createOffload, type WorkerJob } from '../../src/collect/offload.js';
import { runTrace, type TraceRequest } from '../../src/commands/trace.js';
import { runDiff } from '../../src/commands/diff.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { canonIp } from '../../src/model/addr.js';

// A trace whose route table and conntrack table are scanned in worker threads (offload.ts) must be
// the trace read in one thread: same hops, evidence, warnings, exit code, unreadable sources. The
// worker is the compiled one (`npm run build`, which CI runs before the tests): the main thread here
// runs the TypeScript sources, the worker the same code as built.

const SCRIPT = fileURLToPath(new URL('../../dist/collect/scan-worker.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../fixtures/snapshots/', import.meta.url));
const nodes: string[] = [];
for (const c of readdirSync(ROOT, { withFileTypes: true }))
  if (c.isDirectory())
    for (const n of readdirSync(`${ROOT}${c.name}`, { withFileTypes: true }))
      if (n.isDirectory()) nodes.push(`${c.name}/${n.name}`);

const tmp = mkdtempSync(join(tmpdir(), 'np-offload-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A few flows per node: between its addresses and pods, to outside, and the conntrack table's own tuples. */
async function flows(dir: string): Promise<TraceRequest[]> {
  const s = await loadNodeState(dirSource(dir));
  const ips = new Set<string>();
  for (const a of s.addrs) if (a.ifname !== 'lo') ips.add(a.local);
  for (const ns of s.netns) for (const a of ns.addrs) if (a.ifname !== 'lo') ips.add(a.local);
  const list = [...ips].filter((ip) => canonIp(ip) === ip);
  const out: TraceRequest[] = [];
  for (const src of list.slice(0, 4))
    for (const dst of [...list.slice(0, 6), '198.51.100.77', '2001:db8:ffff::77'])
      if (src !== dst && src.includes(':') === dst.includes(':')) out.push({ src, dst, port: 80 });
  const ct = join(dir, 'conntrack4.txt');
  if (existsSync(ct)) {
    for (const line of readFileSync(ct, 'utf8')
      .split('\n')
      .filter((l) => / src=/.test(l))
      .slice(0, 6)) {
      const m = / (tcp|udp) .*? src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)/.exec(line);
      if (m) out.push({ src: m[2]!, dst: m[3]!, proto: m[1]!, protoExplicit: true, port: m[5]!, sport: m[4]! });
    }
  }
  return out;
}

describe('trace with its scans in worker threads = trace in one thread', () => {
  it('the worker is built', () => {
    expect(existsSync(SCRIPT), `${SCRIPT}: run npm run build`).toBe(true);
  });
  for (const node of nodes) {
    it(node, async () => {
      const dir = `${ROOT}${node}`;
      const src = dirSource(dir);
      const answered: Record<string, number> = { routes: 0, conntrack: 0 };
      const onReply = (k: WorkerJob['kind'], ok: boolean) => {
        expect(ok, `${node}: the ${k} worker failed`).toBe(true);
        answered[k]!++;
      };
      const fl = await flows(dir);
      expect(fl.length).toBeGreaterThan(0);
      for (const req of fl) {
        const one = await runTrace(src, req, { offload: false });
        const two = await runTrace(src, req, { offload: { script: SCRIPT, minBytes: 0, onReply } });
        expect(two, `${node} ${JSON.stringify(req)}`).toEqual(one);
      }
      // the workers did answer (a fallback to this thread would make the comparison hollow); they scan JSON route
      // dumps only, so a pasted-text snapshot (ip r) is read in this thread and no worker may claim it
      const jsonRoutes = ['ip-route4.json', 'ip-route6.json'].some((f) => existsSync(join(dir, f)));
      if (jsonRoutes) expect(answered.routes).toBeGreaterThan(0);
      else expect(answered.routes).toBe(0);
      if (existsSync(join(dir, 'conntrack4.txt'))) expect(answered.conntrack).toBeGreaterThan(0);
    }, 60_000);
  }
});

describe('diff with its scans in worker threads = diff in one thread', () => {
  for (const m of ['migrate-iptables', 'migrate-nft', 'migrate-ipvs'])
    for (const after of ['after', 'after-broken'])
      it(`${m} before → ${after}`, async () => {
        const answered: string[] = [];
        const b = dirSource(`${ROOT}${m}/before`);
        const a = dirSource(`${ROOT}${m}/${after}`);
        const one = await runDiff(b, a, { offload: false });
        const two = await runDiff(b, a, {
          offload: { script: SCRIPT, minBytes: 0, onReply: (k, ok) => ok && answered.push(k) },
        });
        expect(two).toEqual(one);
        // both sides' IPv4 route tables (one route-pair worker per family: tools/ip/route-pair.ts) and conntrack
        // tables (the fixtures have no IPv6 conntrack file)
        expect(answered.filter((k) => k === 'conntrack').length).toBe(2);
        expect(answered.filter((k) => k === 'route-pair').length).toBeGreaterThanOrEqual(1);
      }, 60_000);
});

describe('a worker that cannot answer leaves the read to this thread', () => {
  const node = `${ROOT}migrate-iptables/after-broken`;
  const req: TraceRequest = {
    src: '172.18.0.2',
    dst: '10.96.0.10',
    proto: 'udp',
    protoExplicit: true,
    port: 53,
    sport: 38803,
  };

  it('a worker script that dies', async () => {
    const bad = join(tmp, 'dies.mjs');
    writeFileSync(bad, 'process.exit(3)\n');
    const fails: string[] = [];
    const one = await runTrace(dirSource(node), req, { offload: false });
    const two = await runTrace(dirSource(node), req, {
      offload: { script: bad, minBytes: 0, onReply: (k, ok) => !ok && fails.push(k) },
    });
    expect(two).toEqual(one);
    expect(fails.sort()).toEqual(['conntrack', 'routes']);
  });

  it('a route and a conntrack file with NUL bytes: the same one-line error as without workers', async () => {
    const dir = join(tmp, 'nul');
    cpSync(node, dir, { recursive: true });
    for (const f of ['ip-route4.json', 'conntrack4.txt'])
      writeFileSync(join(dir, f), Buffer.concat([readFileSync(join(dir, f)), Buffer.from([0, 10])]));
    const fails: string[] = [];
    const one = await runTrace(dirSource(dir), req, { offload: false });
    const two = await runTrace(dirSource(dir), req, {
      offload: { script: SCRIPT, minBytes: 0, onReply: (k, ok) => !ok && fails.push(k) },
    });
    expect(two).toEqual(one);
    expect(one.unreadable.join('\n')).toMatch(/ip-route4\.json: binary data/);
    expect(fails).toContain('routes');
  });

  it('sources that are not files on disk are read in this thread', () => {
    expect(createOffload(memorySource(new Map(), 'mem'), { script: SCRIPT })).toBeUndefined();
  });

  it('close() stops a worker still running and its answer is undefined', async () => {
    const slow = join(tmp, 'slow.mjs');
    writeFileSync(slow, 'setTimeout(() => {}, 60_000)\n');
    const off = createOffload(dirSource(node), { script: slow, minBytes: 0 })!;
    const p = off.routes('ip-route4', 4)!;
    const t0 = Date.now();
    await off.close();
    expect(await p).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(30_000);
  });
});
