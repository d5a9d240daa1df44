import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { canonIp, canonPrefix } from '../../src/model/addr.js';
import { ParseError } from '../../src/tools/parse-error.js';

/**
 * Shared machinery for the parser fuzz suite: real fixtures as seeds, mutations of them, adversarial
 * JSON, and the contract every parser keeps (a Parsed value or a ParseError, nothing else, no
 * prototype pollution, canonical addresses in the output).
 */

const ROOT = fileURLToPath(new URL('../../fixtures/tools/', import.meta.url));

export interface Seed {
  name: string;
  text: string;
}

/** Every file under fixtures/tools/<sub> (recursively) whose name matches `re`. */
export function seeds(sub: string, re: RegExp = /\.(txt|json|yaml)$/): Seed[] {
  const out: Seed[] = [];
  const walk = (dir: string): void => {
    for (const n of readdirSync(dir).sort()) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (re.test(n) && n !== 'README.md') out.push({ name: p.slice(ROOT.length), text: readFileSync(p, 'utf8') });
    }
  };
  walk(join(ROOT, sub));
  if (out.length === 0) throw new Error(`no fixtures under ${sub} matching ${re}`);
  return out;
}

/** Fuzz budget: measured at 39 s wall, 70 s CPU for the whole test/fuzz on 2 idle cores (docs/development.md). */
export const RUNS = Number(process.env.NETPATH_FUZZ_RUNS ?? 60);
/** Fixed by default so CI is reproducible; set NETPATH_FUZZ_SEED=random (or a number) to explore. */
const SEED_ENV = process.env.NETPATH_FUZZ_SEED;
export const SEED = SEED_ENV === 'random' ? undefined : Number(SEED_ENV ?? 20261123);

/** Inputs given to a parser in this file (NETPATH_FUZZ_TIMES=1 prints it): the suite's size, measured. */
let inputsRun = 0;
if (process.env.NETPATH_FUZZ_TIMES) afterAll(() => console.log(`fuzz inputs in this file: ${inputsRun}`));

// ---------------------------------------------------------------------------------------------
// Pollution

const PROTOS: [string, object][] = [
  ['Object', Object.prototype],
  ['Array', Array.prototype],
  ['String', String.prototype],
  ['Function', Function.prototype],
  ['Map', Map.prototype],
];
const baseline = new Map(PROTOS.map(([n, p]) => [n, Reflect.ownKeys(p).map(String).sort().join(',')]));

export function assertNoPollution(): void {
  const probe = {} as Record<string, unknown>;
  expect(probe.polluted).toBeUndefined();
  expect(probe.x).toBeUndefined();
  expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
  for (const [n, p] of PROTOS)
    expect(Reflect.ownKeys(p).map(String).sort().join(','), `${n}.prototype changed`).toBe(baseline.get(n));
}

// ---------------------------------------------------------------------------------------------
// Contract

/**
 * Runs `parse`; the only allowed exception is ParseError. Returns the value (or undefined when it
 * threw ParseError) after checking the generic output invariants and the prototypes.
 */
export function contract<T>(
  parse: () => { value: T; warnings: unknown[] },
  probe?: string,
  addrKeys = true,
): T | undefined {
  inputsRun++;
  let r: { value: T; warnings: unknown[] } | undefined;
  try {
    r = parse();
  } catch (e) {
    assertNoPollution();
    if (!(e instanceof ParseError)) {
      throw new Error(
        `threw ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)} instead of ParseError`,
      );
    }
    expect(typeof e.message).toBe('string');
    return undefined;
  }
  assertNoPollution();
  expect(Array.isArray(r.warnings)).toBe(true);
  for (const w of r.warnings as { code: unknown; message: unknown }[]) {
    expect(typeof w.code).toBe('string');
    expect(typeof w.message).toBe('string');
  }
  checkTree(r.value, probe, '$', new Set(), addrKeys);
  return r.value;
}

const PREFIX_KEYS = new Set(['dst', 'src']);
const IP_KEYS = new Set(['local', 'peer', 'gateway', 'prefsrc', 'ipv4', 'ipv6', 'address']);
const PORT_KEYS = new Set(['port', 'listenPort', 'l7ProxyPort']);
/** kernel ids, indexes and u32 counters: never negative or fractional */
const U32_KEYS = new Set([
  'id',
  'progId',
  'linkId',
  'ifindex',
  'btfId',
  'priority',
  'pref',
  'table',
  'mtu',
  'prefixlen',
  'fwmark',
  'identity',
  'linkIndex',
  'linkNetnsId',
]);

/**
 * Generic model invariants, by field name: prefixes canonical with /len, addresses canonical,
 * ports in 0–65535, no NaN/Infinity, no own `__proto__` key, evidence names the probe.
 * `where` tells which record kinds the address keys apply to (ip/neigh/route/rule/service).
 */
function fail(msg: string): never {
  throw new Error(msg);
}

export function checkTree(v: unknown, probe?: string, path = '$', seen = new Set<unknown>(), addrKeys = true): void {
  // Plain checks, not expect(): this walks millions of fields on the 5 MB inputs.
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) fail(`${path} = ${v}`);
    return;
  }
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if (v instanceof Map) {
    for (const [k, x] of v) checkTree(x, probe, `${path}.get(${String(k)})`, seen, addrKeys);
    return;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) checkTree(v[i], probe, `${path}[${i}]`, seen, addrKeys);
    return;
  }
  const o = v as Record<string, unknown>;
  if (Object.hasOwn(o, '__proto__')) fail(`${path} has an own __proto__`);
  const keys = Object.keys(o);
  const isEvidence = keys.length === 2 && typeof o.probe === 'string' && typeof o.text === 'string';
  if (isEvidence) {
    if (probe !== undefined && o.probe !== probe) fail(`${path}.probe = ${String(o.probe)}`);
    return;
  }
  for (const k of keys) {
    const x = o[k];
    if (typeof x === 'string') {
      if (!addrKeys) continue;
      if (PREFIX_KEYS.has(k) && x.includes('/') && canonPrefix(x) !== x)
        fail(`${path}.${k} = ${JSON.stringify(x)} not canonical`);
      if (IP_KEYS.has(k) && (canonIp(x) ?? canonPrefix(x)) !== x)
        fail(`${path}.${k} = ${JSON.stringify(x)} not canonical`);
    } else if (typeof x === 'number') {
      if (!Number.isFinite(x)) fail(`${path}.${k} = ${x}`);
      if (addrKeys && PORT_KEYS.has(k) && !(Number.isInteger(x) && x >= 0 && x <= 65535))
        fail(`${path}.${k} = ${x} is not a port`);
      if (addrKeys && U32_KEYS.has(k) && !(Number.isInteger(x) && x >= 0 && x <= 0xffffffff))
        fail(`${path}.${k} = ${x} is not a u32`);
    } else if (x !== null && typeof x === 'object') {
      // an object where a number/address belongs: e.g. a lookup table indexed by `__proto__`
      if (addrKeys && (PORT_KEYS.has(k) || U32_KEYS.has(k) || IP_KEYS.has(k) || k === 'proto' || k === 'type')) {
        fail(`${path}.${k} is an object (${Object.prototype.toString.call(x)})`);
      }
      checkTree(x, probe, `${path}.${k}`, seen, addrKeys);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Mutations

const ANSI = [
  '\u001b[0m',
  '\u001b[32m',
  '\u001b[1;31m',
  '\u001b[38;5;208m',
  '\u001b[K',
  '\u001b[',
  '\u001b',
  '\u001b[?25h',
];
const TOKENS = [
  '',
  ' ',
  '\t',
  '\n',
  '\r\n',
  '\u0000',
  '\uFFFD',
  '\uD800',
  '"',
  '\\',
  '{',
  '}',
  '[',
  ']',
  ':',
  ',',
  '/',
  '%',
  '0',
  '-1',
  '-0',
  '4294967295',
  '4294967296',
  '18446744073709551616',
  '9007199254740993',
  '1e308',
  '1e309',
  'NaN',
  'Infinity',
  '0x',
  '0xffffffff',
  '0xzz',
  '::',
  ':::',
  '1.2.3.4.5',
  '256.0.0.1',
  '10/8',
  '/129',
  '/33',
  'fe80::1%eth0',
  'default',
  'dev',
  'via',
  'lookup',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '999999999999999999999999',
  'é',
  '日本',
  '\u202e',
];

function lines(t: string): string[] {
  return t.split('\n');
}

/** Cut at a random offset (the brief's "truncated output"). */
const truncated = (s: string) => fc.nat({ max: s.length }).map((k) => s.slice(0, k));

/** Lines picked (with repeats) and shuffled. */
const shuffled = (s: string) => {
  const ls = lines(s);
  return fc
    .array(fc.nat({ max: Math.max(0, ls.length - 1) }), { maxLength: ls.length * 2 + 2 })
    .map((ix) => ix.map((i) => ls[i]!).join('\n') + '\n');
};

/** Splices tokens (ANSI, hostile words) at random offsets. */
const spliced = (s: string, pool: string[]) =>
  fc
    .array(fc.tuple(fc.nat({ max: s.length }), fc.constantFrom(...pool), fc.nat({ max: 8 })), {
      minLength: 1,
      maxLength: 12,
    })
    .map((edits) => {
      let t = s;
      for (const [at, tok, del] of edits.sort((a, b) => b[0] - a[0])) t = t.slice(0, at) + tok + t.slice(at + del);
      return t;
    });

/** A real line with one whitespace-separated word replaced by a hostile token. */
const wordSwap = (s: string) => {
  const ls = lines(s).filter((l) => l.trim() !== '');
  if (ls.length === 0) return fc.constant(s);
  return fc
    .tuple(fc.nat({ max: ls.length - 1 }), fc.nat(), fc.constantFrom(...TOKENS), fc.boolean())
    .map(([li, wi, tok, only]) => {
      const words = ls[li]!.split(' ');
      words[wi % words.length] = tok;
      const l = words.join(' ');
      if (only) return l + '\n';
      const all = lines(s);
      all[all.indexOf(ls[li]!)] = l;
      return all.join('\n');
    });
};

const binary = fc
  .uint8Array({ maxLength: 2048 })
  .chain((b) => fc.constantFrom(Buffer.from(b).toString('latin1'), Buffer.from(b).toString('utf8')));

/** Mutations of one real seed text. */
export function mutate(s: string): fc.Arbitrary<string> {
  return fc.oneof(
    truncated(s),
    shuffled(s),
    spliced(s, ANSI),
    spliced(s, TOKENS),
    wordSwap(s),
    fc.constant(s.replace(/\n/g, '\r\n')),
    fc.constant(s.replace(/\n/g, '\r')),
    fc.constant(s.replace(/(\S+)/g, '\u001b[33m$1\u001b[0m')),
    binary.map((b) => s.slice(0, s.length >> 1) + b),
  );
}

// ---------------------------------------------------------------------------------------------
// Adversarial JSON

const DEEP = 10_000;
export const DEEP_ARRAY = '['.repeat(DEEP) + ']'.repeat(DEEP);
export const DEEP_OBJECT = '{"a":'.repeat(DEEP) + '1' + '}'.repeat(DEEP);

/** Hostile replacement values, as JSON text. */
const HOSTILE = [
  'null',
  'true',
  'false',
  '0',
  '-0',
  '-1',
  '1.5',
  '1e308',
  '-1e308',
  '1e400',
  '4294967296',
  '18446744073709551616',
  '9007199254740993',
  '""',
  '"x"',
  '"-1"',
  '"1e308"',
  '"::"',
  '"999.1.1.1"',
  '"__proto__"',
  '[]',
  '[null]',
  '{}',
  '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  '{"prototype":{"polluted":1}}',
  '"' + 'x'.repeat(5000) + '"',
  '[' + '1,'.repeat(2000) + '1]',
  '['.repeat(200) + ']'.repeat(200),
];

type Path = (string | number)[];

function paths(v: unknown, at: Path = [], out: Path[] = [], limit = 4000): Path[] {
  if (out.length >= limit) return out;
  out.push(at);
  if (Array.isArray(v)) for (const [i, x] of v.slice(0, 50).entries()) paths(x, [...at, i], out, limit);
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out, limit);
  return out;
}

/** Marker replaced after JSON.stringify, so hostile values keep their exact text (1e400, -0, __proto__). */
const MARK_TEXT = 'NP-FUZZ-HOSTILE-MARK';
const MARK = `"${MARK_TEXT}"`;

function setAt(root: unknown, p: Path, val: unknown): unknown {
  if (p.length === 0) return val;
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let o = copy;
  for (const k of p.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  Object.defineProperty(o, p[p.length - 1]!, { value: val, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** Adversarial variants of a real JSON document: wrong types at every key, dangerous keys, big numbers. */
export function jsonMutate(s: string): fc.Arbitrary<string> {
  let doc: unknown;
  try {
    doc = JSON.parse(s);
  } catch {
    return mutate(s);
  }
  const ps = paths(doc);
  const objPaths = ps.filter((p) => {
    let o: unknown = doc;
    for (const k of p) o = (o as Record<string | number, unknown>)[k];
    return o !== null && typeof o === 'object' && !Array.isArray(o);
  });
  const replaceValue = fc
    .tuple(fc.constantFrom(...ps), fc.constantFrom(...HOSTILE))
    .map(([p, h]) => JSON.stringify(setAt(doc, p, MARK_TEXT)).replace(MARK, h));
  const addKey =
    objPaths.length === 0
      ? replaceValue
      : fc
          .tuple(
            fc.constantFrom(...objPaths),
            fc.constantFrom('__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString'),
            fc.constantFrom(...HOSTILE),
          )
          .map(([p, k, h]) => {
            let o: unknown = doc;
            for (const x of p) o = (o as Record<string | number, unknown>)[x];
            const text = JSON.stringify(o);
            const inner = text === '{}' ? `{${JSON.stringify(k)}:${h}}` : `{${JSON.stringify(k)}:${h},${text.slice(1)}`;
            return JSON.stringify(setAt(doc, p, MARK_TEXT)).replace(MARK, inner);
          });
  const deepAt = fc.constantFrom(...ps).map((p) => JSON.stringify(setAt(doc, p, MARK_TEXT)).replace(MARK, DEEP_ARRAY));
  const element =
    Array.isArray(doc) && doc.length > 0
      ? fc
          .tuple(fc.nat({ max: doc.length - 1 }), fc.nat({ max: 30 }))
          .map(([i, n]) => JSON.stringify(Array.from({ length: n }, () => doc[i])))
      : fc.constant(s);
  return fc.oneof(
    { weight: 4, arbitrary: replaceValue },
    { weight: 2, arbitrary: addKey },
    { weight: 1, arbitrary: deepAt },
    { weight: 1, arbitrary: element },
    { weight: 2, arbitrary: mutate(s) },
  );
}

const WRONG = [
  'null',
  '"x"',
  '1e308',
  '-0',
  '-1',
  '18446744073709551616',
  '[]',
  '{}',
  '{"__proto__":{"polluted":1}}',
  '"__proto__"',
  'true',
];

/**
 * The first element of a real JSON array (or the document itself), with each of its keys in turn
 * (up to 60, depth first) given each wrong-typed value. A document that wraps one array (nft's
 * `{"nftables": [...]}`) gives one element of each shape (table, chain, rule, set, …), each alone in the
 * wrapper: every kind of element gets its keys mutated, and no mutation re-serialises the whole ruleset.
 */
export function wrongTypeDocs(text: string): string[] {
  if (!/^\s*[[{]/.test(text)) return [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return [];
  }
  const out: string[] = [];
  const mutations = (el: unknown, wrap: (bad: string) => string): void => {
    for (const p of paths(el, [], [], 60).slice(1)) {
      for (const w of WRONG) out.push(wrap(JSON.stringify(setAt(el, p, MARK_TEXT)).replace(MARK, w)));
    }
  };
  const keys = doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? Object.keys(doc) : [];
  const inner = keys.length === 1 ? (doc as Record<string, unknown>)[keys[0]!] : undefined;
  if (Array.isArray(inner) && inner.length > 1) {
    const shapes = new Map<string, unknown>();
    for (const el of inner) {
      const shape = el !== null && typeof el === 'object' ? Object.keys(el).sort().join(',') : typeof el;
      if (!shapes.has(shape) && shapes.size < 8) shapes.set(shape, el);
    }
    for (const el of shapes.values()) mutations(el, (bad) => `{${JSON.stringify(keys[0])}:[${bad}]}`);
    return out;
  }
  const el = Array.isArray(doc) ? doc[0] : doc;
  if (el === undefined) return [];
  mutations(el, (bad) => (Array.isArray(doc) ? `[${bad}]` : bad));
  return out;
}

export const HOSTILE_DOCS = [
  '',
  '\n',
  '[]',
  '{}',
  'null',
  '0',
  '"x"',
  '[null]',
  '[1e308]',
  '[-0]',
  '[[]]',
  '[{}]',
  '\uFEFF[]',
  '{"__proto__":{"polluted":1}}',
  '[{"__proto__":{"polluted":1}}]',
  '[{"constructor":{"prototype":{"polluted":1}}}]',
  '{"constructor":{"prototype":{"polluted":1}},"prototype":{"polluted":1}}',
  DEEP_ARRAY,
  DEEP_OBJECT,
  `[${DEEP_OBJECT}]`,
  '['.repeat(DEEP),
  '{"a":'.repeat(DEEP),
  '[{"x":' + '['.repeat(DEEP) + ']'.repeat(DEEP) + '}]',
  '\u0000'.repeat(1000),
  '\u001b['.repeat(1000),
  ' '.repeat(100_000),
  '\n'.repeat(100_000),
];

/** Inputs that are not derived from a seed. */
export const standalone: fc.Arbitrary<string> = fc.oneof(
  binary,
  fc.string({ maxLength: 300 }),
  fc.json({ maxDepth: 4 }),
  fc.constantFrom(
    '',
    '\n',
    ' ',
    '[]',
    '{}',
    'null',
    '0',
    '"x"',
    '[null]',
    '[1e308]',
    '[-0]',
    '{"__proto__":{"polluted":1}}',
    '[{"__proto__":{"polluted":1}}]',
    '[{"constructor":{"prototype":{"polluted":1}}}]',
    DEEP_ARRAY,
    DEEP_OBJECT,
    '['.repeat(DEEP),
    '{"a":'.repeat(DEEP),
    '\u001b[31m[\u001b[0m]',
    '\uFEFF[]',
    '\u0000\u0000\u0000',
  ),
);

/** All fuzz inputs for a set of seeds. */
export function inputs(ss: Seed[]): fc.Arbitrary<string> {
  const texts = ss.map((s) => s.text);
  const perSeed = texts.map((t) => (/^\s*[[{]/.test(t) ? jsonMutate(t) : mutate(t)));
  return fc.oneof({ weight: 6, arbitrary: fc.oneof(...perSeed) }, { weight: 1, arbitrary: standalone });
}

/** ~`bytes` of the seed's lines repeated (an enormous but well-formed-looking output). */
export function enormous(text: string, bytes = 5 * 1024 * 1024): string {
  const body = text.endsWith('\n') ? text : text + '\n';
  return body.repeat(Math.max(1, Math.ceil(bytes / Math.max(1, body.length))));
}

/** Every truncation point of a small text (or every `step`-th one for a large text). */
export function cutPoints(text: string, max = 400): number[] {
  const step = Math.max(1, Math.ceil(text.length / max));
  const out: number[] = [];
  for (let i = 0; i <= text.length; i += step) out.push(i);
  if (out[out.length - 1] !== text.length) out.push(text.length);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Suite

export interface FuzzTarget<T> {
  name: string;
  seeds: Seed[];
  parse: (text: string, probe: string) => { value: T; warnings: unknown[] };
  /** record-level invariants beyond the generic ones */
  check?: (value: T) => void;
  runs?: number;
  /** false: skip the by-field-name address/port checks (raw rule models keep the tool's own words) */
  addrKeys?: boolean;
  /** false: evidence may name other probes too (a parse that combines several outputs) */
  probeCheck?: boolean;
  /** CR/ANSI are stripped by cleanText, so the value must not change (false where the format keeps them) */
  cleanInvariant?: boolean;
}

const PROBE = 'fuzz-probe';

function enormousFrom(text: string): string {
  const t = text.trim();
  if (t.startsWith('[')) {
    try {
      const arr = JSON.parse(t) as unknown[];
      if (Array.isArray(arr) && arr.length > 0) {
        const one = arr.map((x) => JSON.stringify(x)).join(',');
        const n = Math.ceil((5 * 1024 * 1024) / (one.length + 1));
        return '[' + Array.from({ length: n }, () => one).join(',') + ']';
      }
    } catch {
      /* not JSON: fall through */
    }
  }
  return enormous(text);
}

export function defineFuzz<T>(t: FuzzTarget<T>): void {
  const run = (text: string): T | undefined => {
    const v = contract(() => t.parse(text, PROBE), t.probeCheck === false ? undefined : PROBE, t.addrKeys ?? true);
    if (v !== undefined) t.check?.(v);
    return v;
  };
  describe(`fuzz ${t.name}`, () => {
    it('keeps the contract on every real seed, cut at every offset', () => {
      for (const s of t.seeds) {
        for (const k of cutPoints(s.text, 150)) {
          try {
            run(s.text.slice(0, k));
          } catch (e) {
            throw new Error(`${s.name} cut at ${k}: ${(e as Error).message}`);
          }
        }
      }
    });

    if (t.cleanInvariant !== false) {
      it('reads CRLF and ANSI-coloured copies of each seed as the seed itself', () => {
        for (const s of t.seeds) {
          const base = run(s.text);
          if (base === undefined) continue;
          const crlf = s.text.replace(/\n/g, '\r\n');
          expect(run(crlf), `${s.name} CRLF`).toEqual(base);
          const ansi = s.text.replace(/(\S+)/g, '\u001b[1;33m$1\u001b[0m');
          expect(run(ansi), `${s.name} ANSI`).toEqual(base);
        }
      });
    }

    it('keeps the contract with a wrong type at every key of a real JSON element', () => {
      for (const s of t.seeds) {
        for (const doc of wrongTypeDocs(s.text)) {
          try {
            run(doc);
          } catch (e) {
            throw new Error(`${s.name} as ${doc.slice(0, 300)}: ${(e as Error).message}`);
          }
        }
      }
    });

    it('keeps the contract with each word of a real line replaced by __proto__ / constructor', () => {
      for (const s of t.seeds.filter((x) => !/^\s*[[{]/.test(x.text)).slice(0, 3)) {
        const all = s.text.split('\n');
        const picked = all
          .map((l, i) => [l, i] as const)
          .filter(([l]) => l.trim() !== '')
          .slice(0, 12);
        for (const [l, i] of picked) {
          const words = l.split(' ');
          for (let w = 0; w < words.length; w++) {
            if (words[w] === '') continue;
            for (const tok of ['__proto__', 'constructor']) {
              const copy = [...words];
              copy[w] = tok;
              const lines = [...all];
              lines[i] = copy.join(' ');
              try {
                run(lines.join('\n'));
              } catch (e) {
                throw new Error(`${s.name} line ${i + 1} as ${JSON.stringify(lines[i])}: ${(e as Error).message}`);
              }
            }
          }
        }
      }
    });

    it('keeps the contract on hostile constants (10k-deep nesting, __proto__ documents, empty, BOM)', () => {
      for (const h of HOSTILE_DOCS) {
        try {
          run(h);
        } catch (e) {
          throw new Error(`${JSON.stringify(h.slice(0, 80))}: ${(e as Error).message}`);
        }
      }
    });

    it('keeps the contract on mutated seeds, adversarial JSON and random input', () => {
      fc.assert(
        fc.property(inputs(t.seeds), (text) => {
          run(text);
        }),
        { numRuns: t.runs ?? RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) },
      );
    });

    it(
      'reads 5 MB of repeated real output without hanging',
      () => {
        const biggest = [...t.seeds].sort((a, b) => b.text.length - a.text.length);
        const jsonSeed = biggest.find((s) => /^\s*\[/.test(s.text));
        const textSeed = biggest.find((s) => !/^\s*[[{]/.test(s.text));
        for (const s of [jsonSeed, textSeed]) {
          if (s === undefined) continue;
          const big = enormousFrom(s.text);
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          const v = contract(() => t.parse(big, PROBE), t.probeCheck === false ? undefined : PROBE, t.addrKeys ?? true);
          const t1 = performance.now();
          if (v !== undefined) t.check?.(v);
          // "Hanging" is judged on this worker's CPU time, which a busy machine does not inflate as it does wall time.
          expect(cpuMs(c0)).toBeLessThan(HANG_CPU_MS);
          if (process.env.NETPATH_FUZZ_TIMES)
            console.log(
              `${t.name} ${s.name} ${(big.length / 1e6).toFixed(1)} MB: parse ${(t1 - t0).toFixed(0)} ms, check ${(performance.now() - t1).toFixed(0)} ms`,
            );
        }
      },
      HANG_WALL_MS,
    );
  });
}

/** CPU budget of one 5 MB parse and its checks (about 5 s when the machine is idle), and a wall-clock safety net. */
export const HANG_CPU_MS = 20_000;
export const HANG_WALL_MS = 180_000;

/** Milliseconds of CPU (user + system) this process spent since `since`. */
export function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

/** Cheap assertions for record checks (expect() is too slow for millions of records). */
export function eq(actual: unknown, expected: unknown, what = ''): void {
  if (!Object.is(actual, expected)) fail(`${what}: ${JSON.stringify(actual)} !== ${JSON.stringify(expected)}`);
}
export function ok(cond: boolean, what = ''): void {
  if (!cond) fail(`check failed: ${what}`);
}
