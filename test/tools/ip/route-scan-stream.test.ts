import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SourceError } from '../../../src/errors.js';
import { allRoutes } from '../../../src/model/route-columns.js';
import {
  routesFromFile,
  scanIpRouteData,
  scanIpRouteJson,
  scanIpRouteStream,
  stampOf,
  type ReadBytes,
} from '../../../src/tools/ip/route-scan.js';
import { inputs, RUNS, SEED, seeds } from '../../fuzz/harness.js';

// The route scan read piece by piece through one reused buffer (scanIpRouteStream, what the worker
// thread runs) must find exactly what the scan of the whole bytes finds: the same columns, element
// offsets, parsed routes, warnings, or the same refusal, wherever the pieces end (inside a key, a
// number, a multi-byte character, between elements). Routes read back from the file by those
// offsets must be the routes of the whole scan; a file changed in between is an error naming it.

type Fam = 4 | 6;

const FIX = fileURLToPath(new URL('../../../fixtures/', import.meta.url));

/** every bundled JSON route capture: fixtures/tools/ip/route and the snapshots' ip-route{4,6}.json */
function captures(): { name: string; fam: Fam; bytes: Buffer }[] {
  const out: { name: string; fam: Fam; bytes: Buffer }[] = [];
  for (const n of readdirSync(join(FIX, 'tools/ip/route')).sort())
    if (n.endsWith('.json'))
      out.push({ name: n, fam: /\.6-/.test(n) ? 6 : 4, bytes: readFileSync(join(FIX, 'tools/ip/route', n)) });
  const walk = (dir: string): void => {
    for (const n of readdirSync(dir).sort()) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (/^ip-route[46]\.json$/.test(n))
        out.push({ name: p.slice(FIX.length), fam: n === 'ip-route6.json' ? 6 : 4, bytes: readFileSync(p) });
    }
  };
  walk(join(FIX, 'snapshots'));
  return out;
}

/** the bytes handed over at most `max` at a time (a short read as a file or pipe may give) */
function reader(bytes: Uint8Array, max: number): ReadBytes {
  let pos = 0;
  return (buf, at, n) => {
    const k = Math.min(n, max, bytes.length - pos);
    buf.set(bytes.subarray(pos, pos + k), at);
    pos += k;
    return k;
  };
}

/** [buffer size, largest read]: one byte at a time, odd sizes, the worker's own */
const PIECES: [number, number][] = [
  [1, 1],
  [7, 3],
  [64, 64],
  [4096, 1000],
  [1 << 20, 1 << 20],
];

function streamAgrees(bytes: Uint8Array, fam: Fam, pieces = PIECES): void {
  const whole = scanIpRouteData(bytes, 'p', fam);
  for (const [chunk, max] of pieces) {
    const s = scanIpRouteStream(reader(bytes, max), 'p', fam, { chunk, size: bytes.length });
    expect(s, `buffer ${chunk}, reads of ${max}`).toEqual(whole);
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'npF-route-stream-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** the worker's scan of a file: through a small buffer, read with pread at its own position */
function scanFile(path: string, fam: Fam, chunk = 4096) {
  const fd = openSync(path, 'r');
  try {
    let pos = 0;
    const read: ReadBytes = (buf, at, n) => {
      const k = readSync(fd, buf, at, n, pos);
      pos += k;
      return k;
    };
    const data = scanIpRouteStream(read, 'p', fam, { chunk });
    return data && routesFromFile(path, data, 'p', stampOf(statSync(path)));
  } finally {
    closeSync(fd);
  }
}

describe('the streamed route scan = the scan of the whole bytes', () => {
  const all = captures();

  it('finds the bundled captures', () => {
    expect(all.length).toBeGreaterThan(20);
    expect(all.some((c) => c.fam === 6)).toBe(true);
  });

  it('on every bundled JSON route capture, in pieces of every size', () => {
    let scanned = 0;
    for (const c of all) {
      streamAgrees(c.bytes, c.fam);
      if (scanIpRouteData(c.bytes, 'p', c.fam)) scanned++;
    }
    // the comparison is not between two refusals
    expect(scanned).toBeGreaterThan(20);
  });

  it('on documents cut or padded at their ends', () => {
    for (const c of all.slice(0, 8)) {
      const t = c.bytes.toString('utf8');
      for (const doc of [t.slice(0, -2), ` \n${t}\n\n `, `${t}x`, '[]', ' [ ] ', '[', '', '   ', '[{}]', `${t}\r`])
        streamAgrees(Buffer.from(doc, 'utf8'), c.fam);
    }
  });

  for (const fam of [4, 6] as Fam[])
    it(`on fuzzed IPv${fam} captures, in random pieces`, () => {
      const s = seeds('ip/route', new RegExp(`\\.${fam}-j.*\\.json$`));
      fc.assert(
        fc.property(inputs(s), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 50 }), (t, chunk, max) => {
          streamAgrees(Buffer.from(t, 'utf8'), fam, [[chunk, max]]);
        }),
        { numRuns: RUNS * 4, seed: SEED },
      );
    });

  it('on bulk tables whose repeated tails are matched across refills of the buffer', () => {
    // the element shapes of real bulk routes (fixtures/tools/ip/lab/capture-shapes.sh), each with a
    // prefix of its own, so TailCache holds tails whose bytes the reused buffer has long overwritten
    const shapes = JSON.parse(
      readFileSync(join(FIX, 'tools/ip/route/np-perf-shapes.4-j-d-table-all.json'), 'utf8'),
    ) as Record<string, unknown>[];
    const bulk = shapes.filter((r) => typeof r.dst === 'string' && (r.nhid !== undefined || r.nexthops || r.gateway));
    expect(bulk.length).toBeGreaterThan(2);
    const els: Record<string, unknown>[] = [];
    for (let i = 0; i < 900; i++) {
      const e = { ...bulk[i % bulk.length]!, dst: `${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24` };
      // one tail in a hundred changed: a table id the cache must not answer from an older tail
      if (i % 100 === 99) e.table = '200';
      els.push(e);
    }
    const doc = Buffer.from(JSON.stringify(els), 'utf8');
    const stats = { lean: 0, tails: 0, runs: 0 };
    scanIpRouteStream(reader(doc, 1 << 20), 'p', 4, { chunk: 4096, stats });
    expect(stats.tails).toBeGreaterThan(500);
    // runs of bulk elements (runOf) stop short of each view's end: they too meet the refills
    expect(stats.runs).toBeGreaterThan(300);
    streamAgrees(doc, 4, [
      [257, 257],
      [4096, 4096],
      [1 << 16, 999],
    ]);
  });

  it('a reader that refuses the input refuses the scan', () => {
    const c = all.find((x) => x.name.endsWith('np-ip-a.4-j-d-table-all.json'))!;
    let calls = 0;
    const read: ReadBytes = (buf, at, n) => (++calls > 2 ? -1 : reader(c.bytes, 16)(buf, at, n));
    expect(scanIpRouteStream(read, 'p', 4, { chunk: 16 })).toBeUndefined();
  });
});

describe('routes read back from the file by their offsets', () => {
  it('are the routes of the whole scan, on every bundled capture', () => {
    let n = 0;
    for (const c of captures()) {
      const path = join(tmp, 'r.json');
      writeFileSync(path, c.bytes);
      const whole = scanIpRouteJson(c.bytes, 'p', c.fam);
      const file = scanFile(path, c.fam);
      if (!whole) {
        expect(file).toBeUndefined();
        continue;
      }
      expect(allRoutes(file!.columns)).toEqual(allRoutes(whole.columns));
      expect(file!.warnings).toEqual(whole.warnings);
      n += whole.columns.count;
    }
    expect(n).toBeGreaterThan(100);
  });

  const c = () => captures().find((x) => x.name.endsWith('np-ip-a.4-j-d-table-all.json'))!;
  /** a slot whose route is built from the file (not one the scan parsed already) */
  const lateSlot = (s: NonNullable<ReturnType<typeof scanFile>>) => {
    for (let i = s.columns.count - 1; i >= 0; i--) if (s.columns.type[i] !== 255) return i;
    throw new Error('no route');
  };

  it('a file grown after the scan is an error naming it', () => {
    const path = join(tmp, 'grown.json');
    writeFileSync(path, c().bytes);
    const s = scanFile(path, 4)!;
    writeFileSync(path, Buffer.concat([c().bytes, Buffer.from('\n')]));
    expect(() => s.columns.route(lateSlot(s))).toThrow(SourceError);
    expect(() => s.columns.route(lateSlot(s))).toThrow(new RegExp(`^${path}: changed after it was scanned`));
  });

  it('a file rewritten in place under the same size, time and inode is an error too, never another route', () => {
    const path = join(tmp, 'same.json');
    const bytes = c().bytes;
    const d = dataOf(bytes);
    const s = routesFromFile(path, d, 'p', { size: 0, mtimeMs: 0, ino: 0 });
    const i = lateSlot(s);
    // another prefix in the element slot i is read from: its destination's first character changed
    const el = bytes.subarray(d.starts[i]!, d.ends[i]!).toString('latin1');
    const k = d.starts[i]! + el.indexOf('"dst":"') + 7;
    expect(k).toBeGreaterThan(d.starts[i]! + 6);
    const edited = Buffer.from(bytes);
    edited[k] = edited[k] === 0x31 ? 0x32 : 0x31;
    writeFileSync(path, edited);
    // the stamp the scan would have taken had the edit come within the mtime's resolution
    const same = routesFromFile(path, d, 'p', stampOf(statSync(path)));
    expect(() => same.columns.route(i)).toThrow(new RegExp(`^${path}: changed after it was scanned`));
    // the unedited file under the same stamp reads back fine: the check is the edit, not the path
    writeFileSync(path, bytes);
    const fine = routesFromFile(path, d, 'p', stampOf(statSync(path)));
    expect(fine.columns.route(i)).toEqual(scanIpRouteJson(bytes, 'p', 4)!.columns.route(i));
  });

  it('a file gone after the scan is an error naming it', () => {
    const path = join(tmp, 'gone.json');
    writeFileSync(path, c().bytes);
    const s = scanFile(path, 4)!;
    rmSync(path);
    expect(() => s.columns.route(lateSlot(s))).toThrow(SourceError);
    expect(() => s.columns.route(lateSlot(s))).toThrow(new RegExp(`^${path}: `));
  });
});

/** the scan data of bytes, as the worker hands it over */
function dataOf(bytes: Buffer) {
  const d = scanIpRouteStream(reader(bytes, 1 << 20), 'p', 4);
  if (!d) throw new Error('not scanned');
  return d;
}
