// `diff`'s shortcuts (kube-proxy's per-Service chains of iptables-save read lean: tools/iptables/lean-rules.ts; each side's memo of addresses, Service look-ups and backend paths while the flows are
// traced: analysis/diff.ts; sources byte for byte the same on both sides decoded once, iptables-save too: collect/same-inputs.ts; the
// before side's iptables-save parsed in a worker: commands/diff-iptables-offload.ts) against the reference that
// reads each side whole and alone in one thread and traces each flow afresh (runDiff { sameInputs: false,
// iptablesOffload: false, memo: false, leanIptables: false }): the same JSON and exit code on every bundled before/after pair (and each
// side against itself), on a generated pair (bench/gen.mjs and --after) and on copies of it with one thing changed
// on the after side.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { dirSource } from '../../src/collect/source.js';
import { runDiff } from '../../src/commands/diff.js';
import { EXIT } from '../../src/errors.js';
import { genSnapshot } from '../helpers/bench-gen.js';
import { deepFreeze } from '../helpers/files.js';
import { parseIptablesLean } from '../../src/tools/iptables/lean-rules.js';
import { iptablesByteLines } from '../../src/tools/iptables/parse-iptables.js';

const snaps = fileURLToPath(new URL('../../fixtures/snapshots/', import.meta.url));
const PAIRS = readdirSync(snaps).filter((d) => d.startsWith('migrate-'));

// the compiled worker (npm run build): vitest runs the TypeScript sources, which have none next to them
const WORKER = fileURLToPath(new URL('../../dist/commands/diff-iptables-worker.js', import.meta.url));
const SCAN_WORKER = fileURLToPath(new URL('../../dist/collect/scan-worker.js', import.meta.url));

async function both(
  before: string,
  after: string,
  /** a cut of the NATed conntrack entries (the bundled tables hold a few); the conntrack scans in workers */
  ct: { max?: number; workers?: boolean } = {},
  /** false: no iptables worker, both sides' dumps read in this thread (SameBytes shares one of the same bytes) */
  iptablesWorker = true,
): Promise<{ json: string; exit: number }> {
  const max = ct.max !== undefined ? { maxConntrack: ct.max } : {};
  const ref = await runDiff(dirSource(before), dirSource(after), {
    offload: false,
    sameInputs: false,
    iptablesOffload: false,
    memo: false,
    beforeConntrack: 'keep',
    leanIptables: false,
    ...max,
  });
  const answered: boolean[] = [];
  const scans: boolean[] = [];
  const fast = await runDiff(dirSource(before), dirSource(after), {
    offload: ct.workers
      ? { script: SCAN_WORKER, minBytes: 0, onReply: (k, ok) => k === 'conntrack' && scans.push(ok) }
      : false,
    iptablesOffload: iptablesWorker ? { script: WORKER, minBytes: 0, onReply: (_p, ok) => answered.push(ok) } : false,
    memo: { keep: (v) => deepFreeze(v) },
    // a parse shared by both sides is frozen: a writer to it fails here
    sameInputs: { keep: (v) => deepFreeze(v) },
    ...max,
  });
  // with workers, both sides' conntrack tables were scanned there (the before side's counted only)
  if (ct.workers && existsSync(join(before, 'conntrack4.txt')) && existsSync(join(after, 'conntrack4.txt')))
    expect(scans.filter(Boolean).length).toBeGreaterThanOrEqual(2);
  // the before side's iptables-save, when it has one, came from the worker; when both sides hold the same bytes it
  // was parsed once in this thread for both (SameBytes), and no worker was started for it
  const bIpt = join(before, 'iptables-save.txt');
  const aIpt = join(after, 'iptables-save.txt');
  const sameDump = existsSync(bIpt) && existsSync(aIpt) && readFileSync(bIpt).equals(readFileSync(aIpt));
  if (sameDump || !iptablesWorker) expect(answered).toEqual([]);
  else if (existsSync(bIpt)) expect(answered).toContain(true);
  const json = JSON.stringify(ref.diff);
  expect(JSON.stringify(fast.diff)).toBe(json);
  expect(fast.exitCode).toBe(ref.exitCode);
  expect(fast.unreadable).toEqual(ref.unreadable);
  return { json, exit: ref.exitCode };
}

const tmp = mkdtempSync(join(tmpdir(), 'np-difffast-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** a copy of `from` under tmp whose file `rel` is changed by `edit` (which must change it) */
function mutated(from: string, name: string, rel: string, edit: (text: string) => string): string {
  const to = join(tmp, name);
  cpSync(from, to, { recursive: true });
  const before = readFileSync(join(to, rel), 'utf8');
  const after = edit(before);
  expect(after).not.toBe(before);
  writeFileSync(join(to, rel), after);
  return to;
}

describe('diff with shared decoding, against each side read alone', () => {
  it('same answer on every bundled pair, and each side against itself', async () => {
    let n = 0;
    for (const p of PAIRS) {
      const sides = ['before', 'after', 'after-broken'].filter((s) => existsSync(join(snaps, p, s)));
      for (const b of sides)
        for (const a of sides) {
          await both(join(snaps, p, b), join(snaps, p, a));
          n++;
        }
    }
    expect(n).toBeGreaterThanOrEqual(27);
  }, 120_000);

  // the before side's NATed conntrack entries are counted, not kept (diffNodes reads the after side's): its
  // warnings and cut must be what keeping them gives, in this thread and in the scan workers
  it("same answer with the before side's conntrack counted: at, below and past the cut, in workers too", async () => {
    const cuts = new Set<string>();
    // the bundled before sides hold 6 NATed entries: a cut at 5 is one entry short, at 6 there is none
    for (const p of PAIRS)
      for (const [max, workers] of [
        [0, false],
        [5, false],
        [5, true],
        [6, true],
        [undefined, true],
      ] as const) {
        const got = await both(join(snaps, p, 'before'), join(snaps, p, 'after'), {
          ...(max !== undefined ? { max } : {}),
          workers,
        });
        for (const w of (JSON.parse(got.json) as { warnings: { code: string; message: string }[] }).warnings)
          if (w.code === 'conntrack-cut') cuts.add(w.message.split(':')[0]!);
      }
    // the before side's table was cut at some limit (the comparison covered its cut warning)
    expect(cuts).toContain('before');
  }, 120_000);

  it('same answer on a generated pair and on copies with one change on the after side', async () => {
    const before = genSnapshot(join(tmp, 'before'));
    const after = genSnapshot(join(tmp, 'after'), ['--after']);
    const base = await both(before, after);
    expect(await both(before, before)).toBeDefined();
    const be = 'bpf-map/cilium_lb4_backends_v3.json';
    const svc = 'bpf-map/cilium_lb4_services_v2.json';
    const entries = (t: string) => JSON.parse(t) as { key: string[]; value: string[] }[];
    const cases: [string, string, (t: string) => string][] = [
      // a backend's port changes (the LB maps are no longer the same bytes on both sides)
      [
        'be-port',
        be,
        (t) => {
          const e = entries(t);
          e[7]!.value[4] = e[7]!.value[4] === '0x01' ? '0x02' : '0x01';
          return JSON.stringify(e);
        },
      ],
      // a backend removed from its Service (the Service's last slot goes, its count drops)
      [
        'be-removed',
        svc,
        (t) => {
          const e = entries(t);
          e.splice(10, 1);
          e[0]!.value[4] = '0x09';
          return JSON.stringify(e);
        },
      ],
      // a backend added: one more slot, pointing at another Service's backend
      [
        'be-added',
        svc,
        (t) => {
          const e = entries(t);
          e.splice(11, 0, { key: [...e[10]!.key.slice(0, 6), '0x0b', ...e[10]!.key.slice(7)], value: e[25]!.value });
          e[0]!.value[4] = '0x0b';
          return JSON.stringify(e);
        },
      ],
      // a route's gateway changes
      ['route', 'ip-route4.json', (t) => t.replace(/"gateway":"([0-9.]+)\.1"/, '"gateway":"$1.9"')],
      // a kube-proxy rule left behind: KUBE-SERVICES sends one ClusterIP to a chain still there
      [
        'kp-left',
        'iptables-save.txt',
        (t) => {
          const svcChain = /^:(KUBE-SVC-\w+)/m.exec(t)![1]!;
          const rule = readFileSync(join(before, 'iptables-save.txt'), 'utf8')
            .split('\n')
            .find((l) => l.startsWith('-A KUBE-SERVICES ') && l.endsWith(`-j ${svcChain}`))!;
          return t.replace(
            /(\*nat\n[\s\S]*?)\nCOMMIT/,
            `$1\n:KUBE-SERVICES - [0:0]\n-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n${rule}\nCOMMIT`,
          );
        },
      ],
    ];
    // routes of the after side's 12,000-route main table (its look-ups are scans with kept answers, then an
    // index): the node's pod CIDR, which the flows from the host to local backends take, changes its gateway or
    // becomes ECMP, or half of it is black-holed (a route only on this side); element shapes as `ip -d -j route
    // show table all` prints them (fixtures/tools/ip/route/np-ip-a.4-j-d-table-all.json, np-perf-shapes.4-…)
    type R = Record<string, unknown>;
    const routeEdit = (f: (rs: R[], at: number) => void) => (t: string) => {
      const rs = JSON.parse(t) as R[];
      const at = rs.findIndex(
        (r) => r.dev === 'cilium_host' && r.table === 'main' && typeof r.dst === 'string' && r.dst.endsWith('.0/24'),
      );
      expect(at).toBeGreaterThanOrEqual(0);
      f(rs, at);
      return JSON.stringify(rs);
    };
    cases.push(
      [
        'route-big',
        'ip-route4.json',
        routeEdit((rs, at) => {
          rs[at]!.gateway = String(rs[at]!.gateway).replace(/\.1$/, '.250');
        }),
      ],
      [
        'route-one-side',
        'ip-route4.json',
        routeEdit((rs, at) => {
          const half = String(rs[at]!.dst).replace('/24', '/25');
          rs.push({ type: 'blackhole', dst: half, table: 'main', protocol: 'boot', scope: 'global', flags: [] });
        }),
      ],
      [
        'route-ecmp',
        'ip-route4.json',
        routeEdit((rs, at) => {
          const r = rs[at]!;
          rs[at] = {
            type: 'unicast',
            dst: r.dst,
            table: 'main',
            protocol: 'boot',
            scope: 'global',
            flags: [],
            nexthops: [
              { gateway: r.gateway, dev: r.dev, weight: 1, flags: [] },
              { gateway: '172.18.0.250', dev: 'eth0', weight: 1, flags: [] },
            ],
          };
        }),
      ],
    );
    for (const [name, rel, edit] of cases) {
      const got = await both(before, mutated(after, name, rel, edit));
      // each change shows in the diff
      expect(got.json, name).not.toBe(base.json);
    }
  }, 240_000);

  // the lean read takes a dump only when every line of the per-Service chains is one of a few shapes; anything else
  // sends the chain, or the dump, to the full parse. Either side, with kube-proxy (before) or its chains left (after)
  it("same answer with kube-proxy's chains read lean, on a dump read lean whole, in part and not at all", async () => {
    const before = genSnapshot(join(tmp, 'lean-before'));
    const after = genSnapshot(join(tmp, 'lean-after'), ['--after']);
    const ipt = 'iptables-save.txt';
    const leanOf = (dir: string) =>
      parseIptablesLean(iptablesByteLines(readFileSync(join(dir, ipt)), 'iptables-save').lines, 'iptables-save');
    // the generated dump is read lean (else this test compares the full parse with itself)
    expect(leanOf(before)).toBeDefined();
    const svcRule = /^-A (KUBE-SVC-\w+) .*-j KUBE-SEP-\w+$/m;
    const partial = mutated(before, 'lean-partial', ipt, (t) =>
      // one endpoint rule with a match the lean read does not take: its chain is parsed whole
      t.replace(svcRule, (l) => l.replace(' -j KUBE-SEP-', ' -m mark ! --mark 0x4000/0x4000 -j KUBE-SEP-')),
    );
    const refused = mutated(before, 'lean-refused', ipt, (t) =>
      // an insert can change a chain after its rules are read: the whole dump is parsed whole
      t.replace(svcRule, (l, c: string) => `${l}\n-I ${c} 1 -j RETURN`),
    );
    expect(leanOf(partial)).toBeDefined();
    expect(leanOf(refused)).toBeUndefined();
    // kube-proxy's rules on the after side too (left behind after its removal)
    const left = mutated(after, 'lean-left', ipt, () => readFileSync(join(before, ipt), 'utf8'));
    for (const b of [before, partial, refused])
      for (const a of [after, b, left]) expect(await both(b, a)).toBeDefined();
  }, 240_000);

  // probe outputs with the same text on both sides are parsed once (collect/same-inputs.ts SameTexts): each side
  // still names its own files, and its own unreadable ones
  it('same answer with probe texts parsed once: a pod namespace changed, a probe unparsable on one or both sides', async () => {
    const before = genSnapshot(join(tmp, 'texts-before'));
    const after = genSnapshot(join(tmp, 'texts-after'), ['--after']);
    const nsRoute = 'netns/cni-5f0c1d2e-k1a/ip-route4.json';
    const nsLink = 'netns/cni-5f0c1d2e-k1a/ip-link.json';
    const gw = mutated(after, 'texts-ns-gw', nsRoute, (t) =>
      t.replace('"gateway":"10.244.1.1"', '"gateway":"10.244.1.9"'),
    );
    const badAfter = mutated(after, 'texts-bad-after', 'ip-link.json', (t) => t.slice(0, t.length >> 1));
    const badNsB = mutated(before, 'texts-bad-ns-b', nsLink, (t) => `${t.slice(0, 40)}\n`);
    const badNsA = mutated(after, 'texts-bad-ns-a', nsLink, () => readFileSync(join(badNsB, nsLink), 'utf8'));
    const base = await both(before, after);
    expect((await both(before, gw)).json).not.toBe(base.json);
    const one = await both(before, badAfter);
    expect(one.exit).toBe(EXIT.source);
    const two = await both(badNsB, badNsA);
    expect(two.exit).toBe(EXIT.source);
    // the same unparsable text on both sides: both name it
    const again = await runDiff(dirSource(badNsB), dirSource(badNsA), { offload: false });
    expect(again.unreadable.filter((u) => u.includes('ip-link')).map((u) => u.split(':')[0])).toEqual([
      'before',
      'after',
    ]);
  }, 240_000);
  // iptables-save with the same bytes on both sides is parsed once, in this thread (SameBytes; no worker for it): a
  // dump of the same size with one character changed is not the same dump, wherever the change is
  it('same answer with iptables-save parsed once for both sides, and not for a same-size dump that differs', async () => {
    const before = genSnapshot(join(tmp, 'dump-before'));
    const after = genSnapshot(join(tmp, 'dump-after'), ['--after']);
    const ipt = 'iptables-save.txt';
    const text = readFileSync(join(before, ipt), 'latin1');
    // the first endpoint's address, the last rule's port (the end of the nat table) and the closing comment's last
    // character: each edit keeps the dump's length
    const dnat = /--to-destination \d+\.\d+\.\d+\.\d*(\d)/.exec(text)!;
    const at = dnat.index + dnat[0].length - 1;
    const other = (c: string) => (c === '1' ? '2' : '1');
    const edits: [string, (t: string) => string][] = [
      ['dump-ep', (t) => t.slice(0, at) + other(t[at]!) + t.slice(at + 1)],
      ['dump-last', (t) => t.replace(/(\d)\nCOMMIT\n/, (_m, d: string) => `${other(d)}\nCOMMIT\n`)],
      ['dump-end', (t) => t.replace(/(\d)\n$/, (_m, d: string) => `${other(d)}\n`)],
    ];
    const left = mutated(after, 'dump-left', ipt, () => text);
    // with the before side's worker, and with both dumps read in this thread (as the CLI reads one under 32 MiB)
    for (const worker of [true, false]) {
      expect(await both(before, left, {}, worker)).toBeDefined();
      expect(await both(before, before, {}, worker)).toBeDefined();
      for (const [name, edit] of edits) {
        const changed = worker ? mutated(left, name, ipt, edit) : join(tmp, name);
        expect(readFileSync(join(changed, ipt)).length, name).toBe(Buffer.byteLength(text, 'latin1'));
        expect(await both(before, changed, {}, worker)).toBeDefined();
        expect(await both(changed, left, {}, worker)).toBeDefined();
      }
    }
  }, 240_000);
});
