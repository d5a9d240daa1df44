import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { dirSource } from '../../src/collect/source.js';
import type { WorkerJob } from '../../src/collect/offload.js';
import { earlyScans, endScansEarly, jobKey } from '../../src/collect/scan-early.js';
import { SOURCE_SCAN_MAX } from '../../src/collect/flow-conntrack.js';
import { EARLY_SOURCE_SCAN_MAX, startTraceEarly, traceArgs } from '../../src/commands/trace-early.js';
import { runTrace, type TraceRequest } from '../../src/commands/trace.js';

// bin/netpath.js starts a trace's two first scans from its arguments, before the CLI loads (trace-early.ts); the
// trace adopts a worker only for the very job it would start (scan-early.ts). The answer must be the one of a
// trace that starts its own workers, and of one that reads everything in this thread. The workers are the built
// ones (`npm run build`): the early start runs dist/bundle/scan-worker.cjs, recorded as the stub beside it.

const BUNDLE = fileURLToPath(new URL('../../dist/bundle', import.meta.url));
const STUB = join(BUNDLE, 'scan-worker.js');
const ROOT = fileURLToPath(new URL('../../fixtures/snapshots/', import.meta.url));
// nodes with both a JSON IPv4 route table and a conntrack table: both early jobs apply
const nodes: string[] = [];
for (const c of readdirSync(ROOT, { withFileTypes: true }))
  if (c.isDirectory())
    for (const n of readdirSync(`${ROOT}${c.name}`, { withFileTypes: true }))
      if (
        n.isDirectory() &&
        existsSync(`${ROOT}${c.name}/${n.name}/conntrack4.txt`) &&
        existsSync(`${ROOT}${c.name}/${n.name}/ip-route4.json`)
      )
        nodes.push(`${c.name}/${n.name}`);

const tmp = mkdtempSync(join(tmpdir(), 'np-trace-early-'));
afterAll(() => {
  endScansEarly();
  rmSync(tmp, { recursive: true, force: true });
});

/** the flows of the table's first tuples (each has entries there), with their ports */
function ctFlows(dir: string, n: number): TraceRequest[] {
  const out: TraceRequest[] = [];
  for (const line of readFileSync(join(dir, 'conntrack4.txt'), 'utf8').split('\n')) {
    const m = / (tcp|udp) .*? src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)/.exec(line);
    if (m) out.push({ src: m[2]!, dst: m[3]!, proto: m[1]!, protoExplicit: true, port: m[5]!, sport: m[4]! });
    if (out.length === n) break;
  }
  // an empty table: a flow from outside to outside, port 80 (the conntrack job still runs, on nothing)
  if (out.length === 0) out.push({ src: '198.51.100.1', dst: '198.51.100.77', port: '80' });
  return out;
}

const argvOf = (r: TraceRequest, dir: string): string[] => [
  'trace',
  r.src,
  r.dst,
  '--proto',
  r.proto ?? 'tcp',
  ...(r.port !== undefined ? ['--port', String(r.port)] : []),
  ...(r.sport !== undefined ? ['--sport', String(r.sport)] : []),
  '-s',
  dir,
];

describe('trace: scans started from the arguments (bin/netpath.js)', () => {
  it('the worker bundle is built', () => {
    expect(existsSync(join(BUNDLE, 'scan-worker.cjs')), 'run npm run build').toBe(true);
  });
  it('there are nodes with a route and a conntrack table', () => {
    expect(nodes.length).toBeGreaterThan(2);
  });
  it('reads the flow as parseFlow does, and nothing it does not know', () => {
    const d = '/d';
    expect(traceArgs(['trace', '10.0.0.1', '10.0.0.2', '-s', d])).toEqual({
      dir: d,
      flow: { src: '10.0.0.1', dst: '10.0.0.2', proto: 'tcp' },
    });
    expect(
      traceArgs(['trace', '--snapshot=/d', '--proto', 'udp', '2001:DB8::1', '2001:db8:0::2', '--port=53', '--json']),
    ).toEqual({ dir: d, flow: { src: '2001:db8::1', dst: '2001:db8::2', proto: 'udp', dport: 53 } });
    expect(traceArgs(['trace', '10.0.0.1', '10.0.0.2', '--sport', '9', '--backend', '10.1.0.1:80', '-s', d])).toEqual({
      dir: d,
      flow: { src: '10.0.0.1', dst: '10.0.0.2', proto: 'tcp', sport: 9, backend: '10.1.0.1:80' },
    });
    // names, other commands, options that read other files, values parseFlow refuses, no snapshot: nothing
    for (const argv of [
      ['trace', 'default/web', '10.0.0.2', '-s', d],
      ['svc', 'lookup', '10.0.0.1', '-s', d],
      ['trace', '10.0.0.1', '10.0.0.2', '--cluster', d],
      ['trace', '10.0.0.1', '10.0.0.2', '-s', d, '--node', 'k1'],
      ['trace', '10.0.0.1', '10.0.0.2', '-s', d, '--exec', 'ssh x'],
      ['trace', '10.0.0.1', '10.0.0.2', '-s', d, '--unknown'],
      ['trace', '10.0.0.1', '10.0.0.2', '-s', d, '--port', '70000'],
      ['trace', '10.0.0.1', '10.0.0.2', '-s', d, '--proto', 'icmp', '--port', '1'],
      ['trace', '10.0.0.1', '10.0.0.2', '-s', d, '--proto', 'TCP'],
      ['trace', '10.0.0.1', '2001:db8::2', '-s', d],
      ['trace', '10.0.0.1', '10.0.0.2'],
      ['trace', '10.0.0.1', '10.0.0.2', '-s'],
      ['trace', '10.0.0.1', '10.0.0.2', '10.0.0.3', '-s', d],
      ['trace', '10.0.0.1', '10.0.0.2', '--', '-s', d],
    ])
      expect(traceArgs(argv), argv.join(' ')).toBeUndefined();
  });
  it("asks the conntrack worker what loadForFlow asks (flow-conntrack.ts's limit)", () => {
    expect(EARLY_SOURCE_SCAN_MAX).toBe(SOURCE_SCAN_MAX);
  });
  it('a job is known by what it asks, not by the order of its fields', () => {
    const flow = { src: '10.0.0.1', dst: '10.0.0.2', proto: 'tcp' as const, dport: 80 };
    const a: WorkerJob = {
      kind: 'conntrack',
      path: '/p',
      probe: 'conntrack4',
      query: { kind: 'flow-source', flow, family: 4 },
    };
    const b: WorkerJob = {
      query: { family: 4, flow: { dport: 80, proto: 'tcp', dst: '10.0.0.2', src: '10.0.0.1' }, kind: 'flow-source' },
      probe: 'conntrack4',
      path: '/p',
      kind: 'conntrack',
    };
    expect(jobKey(STUB, a)).toBe(jobKey(STUB, b));
    expect(jobKey(STUB, a)).not.toBe(jobKey(STUB, { ...a, maxEntries: 1 }));
    expect(jobKey(STUB, a)).not.toBe(jobKey('/other/scan-worker.js', a));
    expect(jobKey(STUB, a)).not.toBe(
      jobKey(STUB, { ...a, query: { kind: 'flow-source', flow: { ...flow, sport: 1 }, family: 4 } }),
    );
  });
  for (const node of nodes) {
    it(`${node}: the early workers are adopted and answer as workers the trace starts, and as this thread`, async () => {
      const dir = `${ROOT}${node}`;
      const src = dirSource(dir);
      const reqs = ctFlows(dir, 3);
      expect(reqs.length).toBeGreaterThan(0);
      for (const req of reqs) {
        startTraceEarly(argvOf(req, dir), BUNDLE, 0);
        expect([...earlyScans().keys()].map((k) => JSON.parse(k.split('\n')[1]!).kind)).toEqual([
          'routes',
          'conntrack',
        ]);
        const starts: string[] = [];
        const replies: string[] = [];
        const viaEarly = await runTrace(src, req, {
          offload: {
            script: STUB,
            minBytes: 0,
            onStart: (k, early) => starts.push(`${k}${early ? ' early' : ''}`),
            onReply: (k, ok) => replies.push(`${k} ${ok}`),
          },
        });
        // the first two jobs are the early ones; any later job (the exact conntrack scan) is the trace's own
        expect(starts.slice(0, 2), JSON.stringify(req)).toEqual(['routes early', 'conntrack early']);
        expect(
          replies.every((r) => r.endsWith(' true')),
          replies.join(', '),
        ).toBe(true);
        expect(earlyScans().size).toBe(0);
        const own = await runTrace(src, req, { offload: { script: STUB, minBytes: 0 } });
        const here = await runTrace(src, req, { offload: false });
        expect(viaEarly, JSON.stringify(req)).toEqual(own);
        expect(viaEarly, JSON.stringify(req)).toEqual(here);
      }
    }, 60_000);
  }
  it('an early job that is not the trace’s own is ended, never adopted, and the answer is unchanged', async () => {
    const dir = `${ROOT}${nodes[0]}`;
    const src = dirSource(dir);
    const req = ctFlows(dir, 1)[0]!;
    // another source port: the same route table, other conntrack tuples
    startTraceEarly(argvOf({ ...req, sport: String((Number(req.sport) % 65535) + 1) }, dir), BUNDLE, 0);
    expect(earlyScans().size).toBe(2);
    const starts: string[] = [];
    const got = await runTrace(src, req, {
      offload: { script: STUB, minBytes: 0, onStart: (k, early) => starts.push(`${k}${early ? ' early' : ''}`) },
    });
    expect(starts.slice(0, 2)).toEqual(['routes early', 'conntrack']);
    expect(earlyScans().size).toBe(0);
    expect(got).toEqual(await runTrace(src, req, { offload: false }));
    // a trace that starts no worker (offload off) ends them too
    startTraceEarly(argvOf(req, dir), BUNDLE, 0);
    expect(earlyScans().size).toBe(2);
    await runTrace(src, req, { offload: false });
    expect(earlyScans().size).toBe(0);
  }, 60_000);
  it('the CLI on a large conntrack table: started early or not, the same output; a usage error exits at once', () => {
    // a copy of a node whose conntrack table is over offload.ts's threshold (the table repeated); the rest linked
    const from = `${ROOT}${nodes[0]}`;
    const dir = join(tmp, 'big');
    mkdirSync(dir);
    for (const f of readdirSync(from)) if (f !== 'conntrack4.txt') symlinkSync(join(from, f), join(dir, f));
    const one = readFileSync(join(from, 'conntrack4.txt'));
    const n = Math.ceil((32 * 1024 * 1024) / one.length) + 1;
    writeFileSync(join(dir, 'conntrack4.txt'), Buffer.concat(Array.from({ length: n }, () => one)));
    const req = ctFlows(from, 1)[0]!;
    const cli = fileURLToPath(new URL('../../bin/netpath.js', import.meta.url));
    const loader = fileURLToPath(new URL('../../dist/cli-loader.js', import.meta.url));
    const opts = { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH } } as const;
    const args = [...argvOf(req, dir), '--json'];
    const early = spawnSync(process.execPath, [cli, ...args], opts);
    // the same CLI without the early starts (bin/netpath.js less its start lines)
    const bin = join(tmp, 'no-early.mjs');
    writeFileSync(bin, `import { loadCli } from ${JSON.stringify(loader)};\nloadCli().cli.run();\n`);
    const later = spawnSync(process.execPath, [bin, ...args], opts);
    expect(JSON.parse(early.stdout).hops.length).toBeGreaterThan(0);
    expect({ code: early.status, out: early.stdout, err: early.stderr }).toEqual({
      code: later.status,
      out: later.stdout,
      err: later.stderr,
    });
    // started, then a usage error the CLI finds (not this parser): the unadopted workers do not hold the process
    const bad = spawnSync(process.execPath, [cli, ...argvOf(req, dir), '-o', 'nope'], opts);
    expect(bad.error, 'timed out: an early worker held the process').toBeUndefined();
    expect(bad.status).toBe(2);
  }, 180_000);
});
