/**
 * Live traces on nodes with large route tables ask the kernel instead of dumping them (issue 17).
 *
 * Whether a table is large is read from the kernel's own counters, two short files: IPv4 prefixes per
 * table in /proc/net/fib_triestat (`Main:`, `Local:`, `Id N:` sections, each with `Prefixes: N`), the
 * number of IPv6 routes in /proc/net/rt6_stats (its fourth hex field, fib_rt_entries; IPv6 has no count
 * per table). An IPv4 table with more than LARGE_TABLE prefixes is answered by the kernel; the other IPv4
 * tables are dumped one by one (`ip -4 -j -d route show table N`, which the kernel filters by table).
 * With more than LARGE_TABLE IPv6 routes, table main is answered by the kernel and the tables the IPv6
 * rules look up (and table local) are dumped. Everything else reads the full dumps as before.
 */
import type { Family, Rule } from '../model/types.js';
import type { RawOutput, Runner } from '../exec/runner.js';
import { MAX_ROUTE_GET_LINES, routeGetInput, routeGetLine } from '../exec/route-get-input.js';
// route-get.js (and the ip parsers behind it) is imported when the first answer is read: a live trace starts this
// module's reads before its probes, and the parsers load while those run (cli/trace.ts)
import type { RouteGetAnswer } from '../tools/ip/route-get.js';

/** Above this many routes a dump costs more than ~0.3 s of CPU (ip's JSON printer and netpath's read). */
export const LARGE_TABLE = 50_000;

/**
 * Once a table is over LARGE_TABLE (the kernel answers and its batch of questions runs anyway), an IPv4 table
 * over this many prefixes is asked too instead of dumped: an asked table adds no process and no question, while
 * a dump costs ip's JSON and netpath's scan, ~20 µs of CPU per prefix on the loaded 2-vCPU VM (bench/RESULTS.md,
 * branch live5: the bench's 50,000-prefix table 300 cost 1.08 s), ~0.1 s at 5,000. The small tables are still
 * dumped: they are what explains a refused answer (fibmatch prints no route for a blackhole), and a refused
 * answer that may come from an asked mid-sized table has that table dumped after all (dumpingMid).
 */
export const DUMP_MAX = 5_000;

export interface KernelRoutePlan {
  /** families whose large tables the kernel answers */
  asked: Set<Family>;
  /** per asked family, the tables not dumped */
  askedTables: Record<Family, Set<number>>;
  /** per asked family, the tables dumped one by one */
  dumped: Record<Family, number[]>;
  /** one line on how it was decided, for the probe record */
  why: string;
  /** IPv4 tables asked only because they hold more than DUMP_MAX prefixes (at most LARGE_TABLE: dumpable) */
  mid: number[];
}

/** Table id → prefixes, from /proc/net/fib_triestat; null when the text is not that file. */
export function parseFibTriestat(text: string): Map<number, number> | null {
  const out = new Map<number, number>();
  let table: number | undefined;
  for (const line of text.split('\n')) {
    const head = /^(Main|Local|Id (\d+)):$/.exec(line);
    if (head) {
      table = head[1] === 'Main' ? 254 : head[1] === 'Local' ? 255 : Number(head[2]);
      continue;
    }
    const m = /^\s+Prefixes:\s+(\d+)$/.exec(line);
    if (m && table !== undefined) out.set(table, Number(m[1]));
  }
  return text.startsWith('Basic info:') ? out : null;
}

/** The number of IPv6 routes (fib_rt_entries, the fourth field), from /proc/net/rt6_stats. */
export function parseRt6Stats(text: string): number | null {
  const f = text.trim().split(/\s+/);
  if (f.length !== 7 || !f.every((x) => /^[0-9a-f]{4,8}$/.test(x))) return null;
  return Number.parseInt(f[3]!, 16);
}

/** Decides, from the two counters and the rules, which families the kernel answers and which tables are dumped. */
export function planFromCounters(
  triestat: string | undefined,
  rt6: string | undefined,
  rules: Rule[],
  large = LARGE_TABLE,
  dumpMax = DUMP_MAX,
): KernelRoutePlan {
  const plan: KernelRoutePlan = {
    asked: new Set(),
    askedTables: { 4: new Set(), 6: new Set() },
    dumped: { 4: [], 6: [] },
    why: '',
    mid: [],
  };
  const why: string[] = [];
  const v4 = triestat === undefined ? null : parseFibTriestat(triestat);
  if (v4) {
    // table local is always dumped: without custom rules the kernel merges it into main (the counters then show
    // the merged trie for both), and fibmatch names main for a local route that a dump shows in table local
    const big = [...v4].filter(([t, n]) => n > large && t !== 255);
    if (big.length > 0) {
      plan.asked.add(4);
      for (const [t] of big) plan.askedTables[4].add(t);
      // with the kernel answering anyway, a mid-sized table is cheaper asked than dumped (DUMP_MAX)
      const mid = [...v4].filter(([t, n]) => n > dumpMax && n <= large && t !== 255);
      for (const [t] of mid) plan.askedTables[4].add(t);
      plan.mid = mid.map(([t]) => t).sort((a, b) => a - b);
      plan.dumped[4] = [...new Set([...v4.keys(), 255])]
        .filter((t) => !plan.askedTables[4].has(t))
        .sort((a, b) => a - b);
      why.push(`IPv4: ${big.map(([t, n]) => `table ${t} holds ${n} prefixes`).join(', ')} (over ${large})`);
      if (mid.length > 0)
        why.push(
          `${mid.map(([t, n]) => `table ${t} holds ${n}`).join(', ')} (over ${dumpMax}: asked rather than dumped)`,
        );
    }
  }
  const n6 = rt6 === undefined ? null : parseRt6Stats(rt6);
  if (n6 !== null && n6 > large) {
    plan.asked.add(6);
    plan.askedTables[6].add(254);
    const ruled = rules.filter((r) => r.family === 6 && r.action === 'lookup' && r.table !== undefined);
    plan.dumped[6] = [...new Set([255, ...ruled.map((r) => r.table!)])].filter((t) => t !== 254).sort((a, b) => a - b);
    why.push(`IPv6: ${n6} routes (over ${large})`);
  }
  plan.why = why.join('; ');
  return plan;
}

/** The plan with its mid-sized IPv4 tables dumped instead of asked (what it was before DUMP_MAX). */
export function dumpingMid(plan: KernelRoutePlan): KernelRoutePlan {
  const mid = new Set(plan.mid);
  return {
    asked: plan.asked,
    askedTables: { 4: new Set([...plan.askedTables[4]].filter((t) => !mid.has(t))), 6: plan.askedTables[6] },
    dumped: { 4: [...plan.dumped[4], ...plan.mid].sort((a, b) => a - b), 6: plan.dumped[6] },
    why: plan.why
      .split('; ')
      .filter((w) => !w.endsWith(': asked rather than dumped)'))
      .join('; '),
    mid: [],
  };
}

const tableArg = (t: number) => (t === 255 ? 'local' : t === 254 ? 'main' : t === 253 ? 'default' : String(t));

/**
 * Reads a trace started before the node probes finished (startKernelRoutes), by runner; the trace takes each
 * once (a later trace with the same runner reads afresh).
 */
interface Early {
  counters?: Promise<RawOutput[]>;
  /** IPv4's small tables and their joined dump; undefined when no IPv4 table is large */
  dump4?: Promise<{ tables: number[]; text: string | Error } | undefined>;
  /** the kernel's answers to the trace's first questions (its two ends), asked once the counters say it asks */
  gets?: Promise<Map<string, RouteGetAnswer> | undefined>;
}
const early = new WeakMap<Runner, Early>();

const readCounters = (run: Runner): Promise<RawOutput[]> =>
  Promise.all([run(['cat', '/proc/net/fib_triestat']), run(['cat', '/proc/net/rt6_stats'])]);

function planFromOutputs([a, b]: RawOutput[], rules: Rule[], dumpMax = DUMP_MAX): KernelRoutePlan | undefined {
  if (!a || !b || a.failed || a.exitCode !== 0 || b.failed || b.exitCode !== 0) return undefined;
  if (parseFibTriestat(a.stdout) === null || parseRt6Stats(b.stdout) === null) return undefined;
  return planFromCounters(a.stdout, b.stdout, rules, LARGE_TABLE, dumpMax);
}

/**
 * Starts what a live trace of this family reads first, while the node probes run: the two counters and, for IPv4
 * (whose plan needs no rules), the small tables' dumps when a table is large. The IPv6 plan waits for the rules.
 * `ends` (the flow's addresses): when the kernel answers their family, the plain lookups of both, which every
 * trace's first round asks (classify looks up the source and the destination), are asked now in one batch, so
 * that round needs no process after the probes. An answer the trace never asks is not used.
 */
export function startKernelRoutes(run: Runner, family: Family, ends?: { src: string; dst: string }): void {
  const counters = readCounters(run);
  const e: Early = { counters };
  if (family === 4)
    e.dump4 = counters.then(async (outs) => {
      const plan = planFromOutputs(outs, []);
      if (!plan?.asked.has(4)) return undefined;
      return { tables: plan.dumped[4], text: await dumpNow(run, 4, plan.dumped[4]) };
    });
  if (ends)
    e.gets = counters.then(async (outs) => {
      // whether a family is asked does not depend on the rules (only which IPv6 tables are dumped does)
      if (!planFromOutputs(outs, [])?.asked.has(family)) return undefined;
      let lines: string[];
      try {
        lines = [...new Set([ends.src, ends.dst])].map((dst) => routeGetLine({ family, dst, fibmatch: true }));
      } catch {
        return undefined;
      }
      const got = await askKernel(run, lines);
      return got instanceof Error ? undefined : got;
    });
  early.set(run, e);
}

/**
 * The answers startKernelRoutes asked for, once (empty when nothing was started or the batch failed: the trace
 * then asks those questions itself).
 */
export async function earlyAnswers(run: Runner): Promise<Map<string, RouteGetAnswer>> {
  const e = early.get(run);
  const gets = e?.gets;
  if (e) delete e.gets;
  return (await gets) ?? new Map();
}

/**
 * Reads the counters and decides; undefined when either cannot be read (then every table is dumped). `dumpMax`:
 * DUMP_MAX but in tests that compare with the plan that dumps every table below LARGE_TABLE.
 */
export async function planKernelRoutes(
  run: Runner,
  rules: Rule[],
  dumpMax = DUMP_MAX,
): Promise<KernelRoutePlan | undefined> {
  const e = early.get(run);
  const counters = e?.counters ?? readCounters(run);
  if (e) delete e.counters;
  return planFromOutputs(await counters, rules, dumpMax);
}

/**
 * The dumped tables of a family as one `ip -j` route list (the arrays joined), or an error line naming
 * the table that could not be read.
 */
export async function dumpTables(run: Runner, family: Family, tables: number[]): Promise<string | Error> {
  const e = early.get(run);
  const started = family === 4 ? e?.dump4 : undefined;
  if (e) delete e.dump4;
  const got = await started;
  if (got && got.tables.join() === tables.join()) return got.text;
  return dumpNow(run, family, tables);
}

async function dumpNow(run: Runner, family: Family, tables: number[]): Promise<string | Error> {
  const outs = await Promise.all(
    tables.map((t) => run(['ip', `-${family}`, '-j', '-d', 'route', 'show', 'table', tableArg(t)])),
  );
  for (const [i, o] of outs.entries()) {
    const what = `ip -${family} -j -d route show table ${tableArg(tables[i]!)}`;
    if (o.failed || o.exitCode !== 0) return new Error(`${what}: ${o.message ?? `exit ${o.exitCode}`}`);
  }
  // ip's compact JSON gets its `table` keys spliced in as text: parsing and printing a 50,000-route table again
  // cost more than the rest of the trace. Output the splice cannot vouch for takes the parse.
  const parts: string[] = [];
  for (const [i, o] of outs.entries()) {
    const part = withTableKeys(o.stdout, tableArg(tables[i]!));
    if (part === undefined)
      return joinParsed(
        outs.map((x) => x.stdout),
        family,
        tables,
      );
    if (part !== '') parts.push(part);
  }
  return `[${parts.join(',')}]\n`;
}

/** The tables' lists parsed, `table` added where absent, printed as one list: what withTableKeys reproduces. */
export function joinParsed(texts: string[], family: Family, tables: number[]): string | Error {
  const all: unknown[] = [];
  for (const [i, stdout] of texts.entries()) {
    const what = `ip -${family} -j -d route show table ${tableArg(tables[i]!)}`;
    let list: unknown;
    try {
      list = JSON.parse(stdout);
    } catch {
      return new Error(`${what}: not JSON`);
    }
    if (!Array.isArray(list)) return new Error(`${what}: not a JSON list`);
    // iproute2 leaves `table` out of a dump filtered by table: it is put back, as `table all` prints it
    for (const r of list) {
      if (r === null || typeof r !== 'object') return new Error(`${what}: not a route`);
      all.push('table' in r ? r : { ...r, table: tableArg(tables[i]!) });
    }
  }
  return `${JSON.stringify(all)}\n`;
}

/**
 * The elements of ip's JSON route list, each with `"table":"NAME"` as its last key, joined by commas (no
 * brackets): exactly the text JSON.stringify prints for the list parsed and so extended (joinParsed), or
 * undefined when it might not be. It is only for output that prints back unchanged: compact, strings without
 * escapes or surrogates, integers of at most 15 digits, objects without repeated keys or keys starting with a
 * digit (JSON.parse keeps the last of a repeated key, the spread puts numeric keys first), no route's own `table`.
 */
export function withTableKeys(text: string, name: string): string | undefined {
  let end = text.length;
  if (text.charCodeAt(end - 1) === 0x0a) end--;
  if (end < 2 || text.charCodeAt(0) !== 0x5b || text.charCodeAt(end - 1) !== 0x5d) return undefined;
  if (end === 2) return '';
  const tag = `"table":${JSON.stringify(name)}`;
  let out = '';
  let from = 1;
  let i = 1;
  for (;;) {
    if (text.charCodeAt(i) !== 0x7b) return undefined;
    const close = scanObject(text, i, 0, true);
    if (close < 0) return undefined;
    // close is the index of the object's '}'
    out += text.slice(from, close) + (close === i + 1 ? tag : `,${tag}`);
    from = close;
    i = close + 1;
    const c = text.charCodeAt(i);
    if (c === 0x2c) i++;
    else if (c === 0x5d && i === end - 1) break;
    else return undefined;
  }
  return out + text.slice(from, end - 1);
}

const MAX_DEPTH = 32;

/** Index of the closing '}' of the object at i, or -1; `top`: a route (no `table` key of its own). */
function scanObject(s: string, i: number, depth: number, top: boolean): number {
  if (depth > MAX_DEPTH) return -1;
  i++;
  if (s.charCodeAt(i) === 0x7d) return i;
  // a route has about a dozen keys: a list is cheaper than a Set
  const keys: string[] = [];
  for (;;) {
    const k = scanString(s, i);
    if (k < 0) return -1;
    // a key starting with a digit may be numeric (all of them are declined)
    const c0 = s.charCodeAt(i + 1);
    if (c0 >= 0x30 && c0 <= 0x39) return -1;
    const key = s.slice(i + 1, k - 1);
    if ((top && key === 'table') || keys.includes(key)) return -1;
    keys.push(key);
    if (s.charCodeAt(k) !== 0x3a) return -1;
    i = scanValue(s, k + 1, depth);
    if (i < 0) return -1;
    const c = s.charCodeAt(i);
    if (c === 0x7d) return i;
    if (c !== 0x2c) return -1;
    i++;
  }
}

/** Index after the value at i, or -1. */
function scanValue(s: string, i: number, depth: number): number {
  const c = s.charCodeAt(i);
  if (c === 0x22) return scanString(s, i);
  if (c === 0x7b) {
    const close = scanObject(s, i, depth + 1, false);
    return close < 0 ? -1 : close + 1;
  }
  if (c === 0x5b) {
    if (depth + 1 > MAX_DEPTH) return -1;
    i++;
    if (s.charCodeAt(i) === 0x5d) return i + 1;
    for (;;) {
      i = scanValue(s, i, depth + 1);
      if (i < 0) return -1;
      const d = s.charCodeAt(i);
      if (d === 0x5d) return i + 1;
      if (d !== 0x2c) return -1;
      i++;
    }
  }
  if (c === 0x74) return s.startsWith('true', i) ? i + 4 : -1;
  if (c === 0x66) return s.startsWith('false', i) ? i + 5 : -1;
  if (c === 0x6e) return s.startsWith('null', i) ? i + 4 : -1;
  // an integer JSON.stringify prints as written: no sign on 0, no leading zero, fraction or exponent
  let j = i;
  if (c === 0x2d) j++;
  const first = s.charCodeAt(j);
  // (what follows a number must be ',', '}' or ']': a fraction or exponent fails the caller's check)
  if (first < 0x31 || first > 0x39) return c === 0x30 ? i + 1 : -1;
  let k = j + 1;
  while (k - j < 16 && s.charCodeAt(k) >= 0x30 && s.charCodeAt(k) <= 0x39) k++;
  return k - j > 15 ? -1 : k;
}

/** Index after the string at i (no escapes, control characters or surrogates), or -1. */
function scanString(s: string, i: number): number {
  if (s.charCodeAt(i) !== 0x22) return -1;
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x22) return j + 1;
    if (c === 0x5c || c < 0x20 || (c >= 0xd800 && c <= 0xdfff)) return -1;
  }
  return -1;
}

/** Asks the kernel every line in one batch per MAX_ROUTE_GET_LINES; the answers by line, or an error. */
export async function askKernel(run: Runner, lines: string[]): Promise<Map<string, RouteGetAnswer> | Error> {
  const out = new Map<string, RouteGetAnswer>();
  for (let i = 0; i < lines.length; i += MAX_ROUTE_GET_LINES) {
    const part = lines.slice(i, i + MAX_ROUTE_GET_LINES);
    const input = routeGetInput(part);
    if (input === null) return new Error('ip -batch route get: a question is not a valid route get line');
    const o = await run(['ip', '-d', '-j', '-force', '-batch', '-'], { input });
    if (o.failed) return new Error(o.message ?? `ip -batch route get: ${o.failed}`);
    const { parseRouteGetBatch } = await import('../tools/ip/route-get.js');
    try {
      const got = parseRouteGetBatch(part, o.stdout, o.stderr);
      for (const [k, a] of got.entries()) out.set(part[k]!, a);
    } catch (e) {
      return e as Error;
    }
  }
  return out;
}
