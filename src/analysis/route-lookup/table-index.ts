/** The route tables' index (see RouteIndex). */
import type { Family, Route } from '../../model/types.js';
import {
  SLOT_SKIPPED,
  columnsFromRoutes,
  keyWords,
  mergeColumns,
  type RouteColumns,
} from '../../model/route-columns.js';
import { PrefixIndex, sortByPrefix } from '../prefix-index.js';
import { parsePrefix } from './rules.js';
import type { FibInput } from './types.js';

interface PendingTable {
  c: RouteColumns;
  base: number;
  /**
   * where this table's slots are, in dump order: pairs [start, end) of slot ranges (a dump lists a table's routes
   * together, so a table is one range or a few); a range may hold SLOT_SKIPPED slots, which are not the table's
   */
  runs: number[];
  /** how many slots of the table the runs hold (skipped ones not counted) */
  count: number;
  /** distinct addresses answered by a scan of list so far */
  scans: number;
  /**
   * Each scanned address's answer (the containing prefixes' chain heads and lengths): a trace asks one table
   * the same address many times (a diff's 40 flows: ~240 look-ups of ~30 addresses), and a repeat costs a
   * whole scan. The chains the scan wrote to meta stay as they are until build() writes the same ones.
   */
  answers?: Map<number | string, { heads: Int32Array; lens: Uint8Array }>;
}

/** What a table lookup needs: every stored prefix containing an address, longest first (PrefixIndex.matches). */
export interface TableMatcher {
  matches(addr: Uint32Array, out: Int32Array, lens: Uint8Array): number;
}

/**
 * Lookups a table answers by a linear scan of its routes before it is sorted and indexed. A scan of a
 * million IPv4 routes costs a few milliseconds; sorting and indexing them costs a second or more, and
 * a trace asks a table a handful of questions. Past this many, the index pays for itself. Only distinct
 * addresses count: an address asked again is answered from its kept scan.
 */
export const SCANS_BEFORE_INDEX = 24;

/**
 * The routes of every table, indexed for longest-prefix match: per-route arrays by global index and,
 * per family and table, a PrefixIndex built on the first lookup that reaches it. Same-prefix routes are
 * chained in the kernel's order of preference (source prefix, TOS, metric).
 */
export class RouteIndex {
  /** route sources, one per family at most; a global route index is base[s] + slot */
  private readonly segs: RouteColumns[] = [];
  private readonly base: number[] = [];
  private routesIndexed = 0;
  // build-time per-route arrays (global index)
  private next: Int32Array = new Int32Array(0);
  private metric: Uint32Array = new Uint32Array(0);
  private tos: Uint8Array = new Uint8Array(0);
  private srcLen: Int16Array = new Int16Array(0);
  /** per route: 1 once fill() wrote its entries in the arrays above and in meta */
  private filled: Uint8Array = new Uint8Array(0);
  /** per route: [next same-prefix route, type | tos<<8 | plain<<16 | (srcLen+1)<<17] */
  protected meta: Int32Array = new Int32Array(0);
  protected readonly srcKeys = new Map<number, Uint32Array>();
  /** per family and table: the index, or the routes waiting to be indexed on the first lookup */
  private readonly tables: [Map<number, PrefixIndex | PendingTable>, Map<number, PrefixIndex | PendingTable>] = [
    new Map(),
    new Map(),
  ];
  readonly warnings: string[] = [];

  constructor(input: FibInput) {
    const segs: RouteColumns[] = [...(input.columns ?? [])];
    if (input.routes) {
      for (const fam of [4, 6] as const) {
        const c = columnsFromRoutes(input.routes, fam);
        for (const r of c.invalid)
          this.warnings.push(`route "${r.source.text}": destination ${r.dst} is not an IPv${fam} prefix; ignored`);
        if (c.count > 0) segs.push(c);
      }
    }
    this.scansBeforeIndex = input.scansBeforeIndex ?? SCANS_BEFORE_INDEX;
    let total = 0;
    for (const fam of [4, 6] as const) {
      const same = segs.filter((c) => c.family === fam);
      if (same.length === 0) continue;
      const c = mergeColumns(same);
      this.segs.push(c);
      this.base.push(total);
      total += c.count;
    }
    // left zero (never written, never paged in) but where a table is built: a chain's end is written when its head
    // is (build), and a source prefix length of 0 stands for none (fill writes only lengths > 0)
    this.next = new Int32Array(total);
    this.metric = new Uint32Array(total);
    this.tos = new Uint8Array(total);
    this.srcLen = new Int16Array(total);
    this.meta = new Int32Array(total * 2);
    this.filled = new Uint8Array(total);
    for (let s = 0; s < this.segs.length; s++) this.index(this.segs[s]!, this.base[s]!);
  }

  get routeCount(): number {
    return this.routesIndexed;
  }

  get indexBytes(): number {
    let b =
      this.meta.byteLength +
      this.next.byteLength +
      this.metric.byteLength +
      this.tos.byteLength +
      this.srcLen.byteLength;
    for (const m of this.tables) for (const t of m.values()) if (t instanceof PrefixIndex) b += t.byteSize;
    return b;
  }

  /** The Route of a global index (built on first use by the column source). */
  protected route(g: number): Route {
    const segs = this.segs;
    let s = segs.length - 1;
    while (this.base[s]! > g) s--;
    return segs[s]!.route(g - this.base[s]!);
  }

  /**
   * Splits one column source into its tables (the ranges of each one's slots, in dump order). The per-route arrays
   * the lookups read (metric, TOS, source prefix, meta) are filled later, only for the routes a scan hits
   * or a table being indexed holds: a trace reaches two or three tables of a million-route dump and
   * hits a handful of their routes, so filling every slot up front was most of this step's cost.
   */
  private index(c: RouteColumns, base: number): void {
    const fam = c.family;
    const n = c.count;
    const ctype = c.type;
    const ctable = c.table;
    // each table's ranges of slots, in one pass (tables come in runs: the map is touched when the table changes);
    // the slots themselves are listed only if the table is indexed (slotsOf)
    const byTable = new Map<number, PendingTable>();
    let runT = -1;
    let runStart = 0;
    let runN = 0;
    let indexed = 0;
    const close = (end: number) => {
      if (runN === 0) return;
      let p = byTable.get(runT);
      if (p === undefined) byTable.set(runT, (p = { c, base, runs: [], count: 0, scans: 0 }));
      p.runs.push(runStart, end);
      p.count += runN;
      indexed += runN;
    };
    for (let i = 0; i < n; i++) {
      if (ctype[i] === SLOT_SKIPPED) continue;
      const t = ctable[i]!;
      if (t !== runT) {
        close(i);
        runT = t;
        runStart = i;
        runN = 0;
      }
      runN++;
    }
    close(n);
    this.routesIndexed += indexed;
    // a table is sorted and indexed when a lookup first reaches it: a trace consults two or three
    // of a node's tables, often of one family
    const tables = this.tables[fam === 4 ? 0 : 1];
    for (const [t, p] of byTable) tables.set(t, p);
  }

  /** Fills the per-route arrays of slot i of c (global index base + i), once. */
  private fill(c: RouteColumns, base: number, i: number): void {
    const g = base + i;
    if (this.filled[g] === 1) return;
    this.filled[g] = 1;
    const ctos = c.tos;
    this.metric[g] = c.metric[i]!;
    this.tos[g] = ctos[i]!;
    let sl = 0;
    if (c.hasSrc[i] === 1 && c.family === 6) {
      const sp = parsePrefix(6, c.route(i).src!);
      if (sp && sp.len > 0) {
        this.srcLen[g] = sp.len;
        this.srcKeys.set(g, sp.key);
        sl = sp.len + 1;
      }
    }
    this.meta[g * 2 + 1] = c.type[i]! | (ctos[i]! << 8) | (c.plain[i]! << 16) | (sl << 17);
  }

  /** Every table indexed now (a benchmark separates the build from the lookups). */
  prepare(): void {
    const scans = this.scansBeforeIndex;
    this.scansBeforeIndex = 0;
    for (const fam of [4, 6] as const) for (const t of [...this.tables[fam === 4 ? 0 : 1].keys()]) this.table(fam, t);
    this.scansBeforeIndex = scans;
  }

  protected table(family: Family, t: number): TableMatcher | undefined {
    const m = this.tables[family === 4 ? 0 : 1];
    const x = m.get(t);
    if (x === undefined || x instanceof PrefixIndex) return x;
    if (this.scansBeforeIndex <= 0) {
      const idx = this.build(x);
      m.set(t, idx);
      return idx;
    }
    // the choice between a scan, a kept answer and the index waits for the address: only a new one counts
    const scan = this.scanner(x);
    return {
      matches: (addr, out, lens) => {
        const key = addr.length === 1 ? addr[0]! : addr.join(':');
        const kept = x.answers?.get(key);
        if (kept) {
          out.set(kept.heads);
          lens.set(kept.lens);
          return kept.heads.length;
        }
        const cur = m.get(t);
        if (cur instanceof PrefixIndex) return cur.matches(addr, out, lens);
        if (x.scans >= this.scansBeforeIndex) {
          const idx = this.build(x);
          m.set(t, idx);
          x.answers = undefined;
          return idx.matches(addr, out, lens);
        }
        x.scans++;
        const n = scan.matches(addr, out, lens);
        (x.answers ??= new Map()).set(key, { heads: out.slice(0, n), lens: lens.slice(0, n) });
        return n;
      },
    };
  }

  /** distinct addresses per table answered by a scan before the table is indexed (0: index on the first lookup) */
  private scansBeforeIndex: number;

  /**
   * One lookup by a scan of the table's routes: the same answer as its PrefixIndex (the containing
   * prefixes, longest first, each with its routes chained in the kernel's order, written to meta
   * where the lookup reads them; build() later writes the same chains).
   */
  private scanner(p: PendingTable): TableMatcher {
    return {
      matches: (addr, out, lens) => {
        const { c, base, runs } = p;
        const words = keyWords(c.family);
        const ckey = c.key;
        const clen = c.len;
        const ctype = c.type;
        // the routes whose prefix contains addr, in dump order
        const all = words === 1 ? scan4(ckey, clen, runs, addr[0]!) : scan6(ckey, clen, runs, addr);
        // a skipped slot inside a range is no route
        const hit = all.filter((i) => ctype[i] !== SLOT_SKIPPED);
        // per prefix length (one network per length can contain addr), routes chained as build() chains them
        const heads = new Map<number, number>();
        const next = new Map<number, number>();
        for (const i of hit) this.fill(c, base, i);
        for (const i of hit) {
          const g = base + i;
          const l = clen[i]!;
          const head = heads.get(l);
          next.set(g, -1);
          if (head === undefined) heads.set(l, g);
          else if (this.before(g, head)) {
            next.set(g, head);
            heads.set(l, g);
          } else {
            let cur = head;
            while (next.get(cur)! >= 0 && !this.before(g, next.get(cur)!)) cur = next.get(cur)!;
            next.set(g, next.get(cur)!);
            next.set(cur, g);
          }
        }
        for (const [g, n] of next) this.meta[g * 2] = n;
        const byLen = [...heads.keys()].sort((x, y) => y - x);
        for (let k = 0; k < byLen.length; k++) {
          out[k] = heads.get(byLen[k]!)!;
          lens[k] = byLen[k]!;
        }
        return byLen.length;
      },
    };
  }

  /** One table: prefixes sorted, same-prefix routes chained in the kernel's order. */
  private build(p: PendingTable): PrefixIndex {
    const { c, base } = p;
    const list = slotsOf(p);
    for (let k = 0; k < list.length; k++) this.fill(c, base, list[k]!);
    const words = keyWords(c.family);
    const ckey = c.key;
    const clen = c.len;
    const sorted = sortByPrefix(words, ckey, clen, list);
    // unique prefixes: key, length, and the head of the route chain
    const cnt = sorted.length;
    const keys = new Uint32Array(cnt * words);
    const lens = new Uint8Array(cnt);
    const heads = new Int32Array(cnt);
    let m = -1;
    let prev = -1;
    for (let k = 0; k < cnt; k++) {
      const i = sorted[k]!;
      const g = base + i;
      if (
        prev >= 0 &&
        clen[prev] === clen[i] &&
        (words === 1 ? ckey[prev] === ckey[i] : samePrefix(ckey, clen, prev, i, words))
      ) {
        this.chain(heads, m, g);
      } else {
        m++;
        if (words === 1) keys[m] = ckey[i]!;
        else for (let w = 0; w < 4; w++) keys[m * 4 + w] = ckey[i * 4 + w]!;
        lens[m] = clen[i]!;
        heads[m] = g;
        this.next[g] = -1;
      }
      prev = i;
    }
    m++;
    // chains are final: the lookup reads them from meta
    const meta = this.meta;
    const next = this.next;
    for (let k = 0; k < cnt; k++) {
      const g = base + sorted[k]!;
      meta[g * 2] = next[g]!;
    }
    return new PrefixIndex(words, keys.subarray(0, m * words), lens.subarray(0, m), heads.subarray(0, m));
  }

  /** Adds route g to the same-prefix chain at heads[m], in the kernel's preference order; equal entries keep dump order. */
  private chain(heads: Int32Array, m: number, g: number): void {
    const head = heads[m]!;
    if (this.before(g, head)) {
      this.next[g] = head;
      heads[m] = g;
      return;
    }
    let cur = head;
    while (this.next[cur]! >= 0 && !this.before(g, this.next[cur]!)) cur = this.next[cur]!;
    this.next[g] = this.next[cur]!;
    this.next[cur] = g;
  }

  /** a is tried before b at the same destination prefix */
  private before(a: number, b: number): boolean {
    const sa = this.srcLen[a]!;
    const sb = this.srcLen[b]!;
    if (sa !== sb) return sa > sb;
    const ta = this.tos[a]!;
    const tb = this.tos[b]!;
    if (ta !== tb) return ta > tb;
    return this.metric[a]! < this.metric[b]!;
  }
}

/** Slots in the ranges whose IPv4 prefix contains a (small loops of their own: V8 optimises each once). */
function scan4(ckey: Uint32Array, clen: Uint8Array, runs: number[], a: number): number[] {
  const hit: number[] = [];
  for (let r = 0; r < runs.length; r += 2)
    for (let i = runs[r]!, end = runs[r + 1]!; i < end; i++) {
      const l = clen[i]!;
      if (l === 0 || (ckey[i]! ^ a) >>> (32 - l) === 0) hit.push(i);
    }
  return hit;
}

function scan6(ckey: Uint32Array, clen: Uint8Array, runs: number[], addr: Uint32Array): number[] {
  const hit: number[] = [];
  for (let r = 0; r < runs.length; r += 2)
    for (let i = runs[r]!, end = runs[r + 1]!; i < end; i++) if (contains6(ckey, i * 4, clen[i]!, addr)) hit.push(i);
  return hit;
}

/** A pending table's slots, in dump order. */
function slotsOf(p: PendingTable): Int32Array {
  const list = new Int32Array(p.count);
  const ctype = p.c.type;
  let at = 0;
  for (let r = 0; r < p.runs.length; r += 2)
    for (let i = p.runs[r]!, end = p.runs[r + 1]!; i < end; i++) if (ctype[i] !== SLOT_SKIPPED) list[at++] = i;
  return list;
}

/** the IPv6 prefix at key[at..] of length len contains addr */
function contains6(key: Uint32Array, at: number, len: number, addr: Uint32Array): boolean {
  for (let w = 0, rem = len; w < 4 && rem > 0; w++, rem -= 32) {
    const x = key[at + w]! ^ addr[w]!;
    if (rem >= 32 ? x !== 0 : x >>> (32 - rem) !== 0) return false;
  }
  return true;
}

function samePrefix(key: Uint32Array, len: Uint8Array, a: number, b: number, words: number): boolean {
  if (len[a] !== len[b]) return false;
  for (let w = 0; w < words; w++) if (key[a * words + w] !== key[b * words + w]) return false;
  return true;
}
