// The lean read of iptables-save (src/tools/iptables/lean-rules.ts, model/iptables-lean.ts) against the full parse:
// the same warnings, the same kube-proxy Services and leftovers read through the lean rules, and — once asked for —
// the same rules, on every iptables dump under fixtures/, on a generated node of the check bench's shape (bench/gen.mjs:
// 110 pods, 100 Services × 10 backends) and on mutated copies of it; leanRule against readRuleLine on fuzzed lines;
// and check's report with and without the lean read on every bundled node and the generated one.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ByteLines, parseIptablesLines, readRuleLine } from '../../../src/tools/iptables/parse-iptables.js';
import { leanChainName, leanRule, parseIptablesLean } from '../../../src/tools/iptables/lean-rules.js';
import { kubeProxyServicesFromIptables } from '../../../src/analysis/kube-proxy/iptables.js';
import { findLeftovers } from '../../../src/analysis/diff-leftovers.js';
import type { DiffSideInput } from '../../../src/analysis/diff.js';
import type { IptablesRuleset } from '../../../src/model/iptables.js';
import { ruleOption, targetOption } from '../../../src/model/iptables.js';
import { LeanChain, leanRules } from '../../../src/model/iptables-lean.js';
import { runCheck } from '../../../src/commands/check.js';
import { loadDiffSide } from '../../../src/commands/diff.js';
import { dirSource } from '../../../src/collect/source.js';
import { filesUnder } from '../../helpers/files.js';
import { genSnapshot } from '../../helpers/bench-gen.js';
import { seeded } from '../../helpers/seeded.js';

const root = new URL('../../../', import.meta.url).pathname;
const PROBE = 'iptables-save';

type Outcome = { error: string } | { warnings: unknown; rules: IptablesRuleset };
const parse = (text: string, lean: boolean): Outcome | undefined => {
  const lines = new ByteLines(Buffer.from(text, 'utf8'));
  try {
    const r = lean ? parseIptablesLean(lines, PROBE) : parseIptablesLines(lines, PROBE);
    return r && { warnings: r.warnings, rules: r.value };
  } catch (e) {
    return { error: String(e) };
  }
};

const leanChains = (rs: IptablesRuleset) =>
  rs.tables.reduce((n, t) => n + t.chains.filter((c) => leanRules(c) !== undefined).length, 0);

/** a side of one ruleset, as check hands findLeftovers one (services: kube-proxy's read of it) */
function sideOf(base: DiffSideInput, rules: IptablesRuleset): DiffSideInput {
  const svc = kubeProxyServicesFromIptables(rules, PROBE, 4);
  const cilium = base.services.filter((e) => e.source !== 'kube-proxy-iptables');
  return { ...base, services: [...cilium, ...svc.value], iptables: [{ probe: PROBE, family: 4, rules }] };
}

/**
 * The lean read of `text` against the full parse. Returns whether the lean read was taken (undefined from
 * parseIptablesLean: the caller parses whole, nothing to compare) and how many chains it read lean.
 */
function same(text: string, base?: DiffSideInput): { lean: boolean; chains: number } {
  const full = parse(text, false)!;
  const lean = parse(text, true);
  if (lean === undefined) return { lean: false, chains: 0 };
  if ('error' in full || 'error' in lean) {
    expect(lean).toEqual(full);
    return { lean: true, chains: 0 };
  }
  expect(lean.warnings).toEqual(full.warnings);
  const chains = leanChains(lean.rules);
  // Services and leftovers read through the lean rules (none parsed whole on the way)
  const svc = kubeProxyServicesFromIptables(lean.rules, PROBE, 4);
  expect(svc).toEqual(kubeProxyServicesFromIptables(full.rules, PROBE, 4));
  if (base) {
    const a = sideOf(base, lean.rules);
    const b = sideOf(base, full.rules);
    expect(findLeftovers(a, a)).toEqual(findLeftovers(b, b));
  }
  expect(leanChains(lean.rules)).toBe(chains);
  // and the rules themselves, once asked for
  expect(JSON.parse(JSON.stringify(lean.rules))).toEqual(JSON.parse(JSON.stringify(full.rules)));
  return { lean: true, chains };
}

describe('iptables-save read lean, against the full parse', () => {
  let gen = '';
  let text = '';
  let base: DiffSideInput;

  beforeAll(async () => {
    gen = mkdtempSync(join(tmpdir(), 'npD-lean-'));
    genSnapshot(join(gen, 'node'), ['--pods', '110', '--routes', '100']);
    text = readFileSync(join(gen, 'node', 'iptables-save.txt'), 'utf8');
    base = await loadDiffSide(dirSource(join(gen, 'node')), 'after', false, { requireServices: false });
  }, 120_000);

  afterAll(() => {
    if (gen) rmSync(gen, { recursive: true, force: true });
  });

  it('every iptables dump under fixtures/', () => {
    const files = filesUnder(join(root, 'fixtures'), /iptables/).filter((f) => /^-A /m.test(readFileSync(f, 'utf8')));
    expect(files.length).toBeGreaterThanOrEqual(10);
    let read = 0;
    for (const f of files) {
      const r = same(readFileSync(f, 'utf8'));
      if (r.chains > 0) read++;
    }
    // the kube-proxy dumps among them were read lean, not only handed back to the full parse
    expect(read).toBeGreaterThan(5);
  });

  it("the check bench's node (generated, 100 Services × 10 backends): every per-Service chain read lean", () => {
    const r = same(text, base);
    expect(r).toEqual({ lean: true, chains: 1100 });
  });

  const lines = () => text.split('\n');
  const edit = (f: (l: string[]) => void) => {
    const l = lines();
    f(l);
    return l.join('\n');
  };
  const at = (l: string[], re: RegExp, nth = 0) => {
    let k = -1;
    for (let i = 0, seen = 0; i < l.length; i++)
      if (re.test(l[i]!) && seen++ === nth) {
        k = i;
        break;
      }
    if (k < 0) throw new Error(`no line ${re}`);
    return k;
  };
  const sepName = (l: string[]) => /^:(KUBE-SEP-\S+)/.exec(l[at(l, /^:KUBE-SEP-/, 3)]!)![1]!;
  const svcName = (l: string[]) => /^:(KUBE-SVC-\S+)/.exec(l[at(l, /^:KUBE-SVC-/, 2)]!)![1]!;

  const mutations: [string, () => string, 'lean' | 'whole' | 'either'][] = [
    [
      'a leftover hook: PREROUTING no longer jumps to KUBE-SERVICES',
      () => edit((l) => l.splice(at(l, /^-A PREROUTING /), 1)),
      'lean',
    ],
    [
      'a leftover rule of another shape in an endpoint chain (that chain read whole)',
      () =>
        edit((l) => {
          const s = sepName(l);
          l.splice(
            at(l, new RegExp(`^-A ${s} `)),
            0,
            `-A ${s} -m recent --name ${s} --set --mask 255.255.255.255 --rsource -j ACCEPT`,
          );
        }),
      'lean',
    ],
    [
      'a rule a lean shape allows but kube-proxy never writes there (ACCEPT in an endpoint chain)',
      () =>
        edit((l) => {
          const s = sepName(l);
          l.splice(at(l, new RegExp(`^-A ${s} `)), 0, `-A ${s} -p udp -m udp --dport 53 -j ACCEPT`);
        }),
      'lean',
    ],
    [
      'a garbled rule line (unbalanced quote) in a Service chain',
      () =>
        edit((l) => {
          const s = svcName(l);
          l.splice(at(l, new RegExp(`^-A ${s} `)), 0, `-A ${s} -m comment --comment "half -j KUBE-MARK-MASQ`);
        }),
      'lean',
    ],
    [
      'a garbled line that is no rule',
      () => edit((l) => l.splice(at(l, /^-A KUBE-SEP-/, 40), 0, 'garbage (pasted) here')),
      'lean',
    ],
    ['a missing COMMIT', () => edit((l) => l.splice(at(l, /^COMMIT$/), 1)), 'lean'],
    [
      'a chain declared but empty, jumped to from KUBE-SERVICES',
      () =>
        edit((l) => {
          l.splice(at(l, /^:KUBE-SERVICES /) + 1, 0, ':KUBE-SVC-EMPTYEMPTYEMPTY0 - [0:0]');
          l.splice(
            at(l, /^-A KUBE-SERVICES /),
            0,
            '-A KUBE-SERVICES -d 10.96.250.1/32 -p tcp -m comment --comment "ns9/empty:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-EMPTYEMPTYEMPTY0',
          );
        }),
      'lean',
    ],
    [
      'a jump to an undeclared chain from a lean rule',
      () =>
        edit((l) => {
          const k = at(l, /^-A KUBE-SVC-.* -j KUBE-SEP-/, 5);
          l[k] = l[k]!.replace(/-j KUBE-SEP-\S+$/, '-j KUBE-SEP-NOTINTHISDUMP0');
        }),
      'whole',
    ],
    [
      'a rule appended to an undeclared per-Service chain',
      () =>
        edit((l) =>
          l.splice(
            at(l, /^-A KUBE-SEP-/, 7),
            0,
            '-A KUBE-SEP-UNDECLARED00000 -p tcp -m comment --comment "x/y:z" -m tcp -j DNAT --to-destination 10.244.9.9:80',
          ),
        ),
      'lean',
    ],
    [
      'a per-Service chain declared again after its rules (a flush)',
      () =>
        edit((l) => {
          const s = sepName(l);
          l.splice(at(l, /^COMMIT$/), 0, `:${s} - [0:0]`);
        }),
      'lean',
    ],
    [
      'a rule before its chain is declared',
      () =>
        edit((l) => {
          const s = sepName(l);
          l.splice(at(l, /^:KUBE-SEP-/), 0, `-A ${s} -j KUBE-MARK-MASQ`);
        }),
      'lean',
    ],
    ['an -F line', () => edit((l) => l.splice(at(l, /^COMMIT$/), 0, `-F ${sepName(l)}`)), 'whole'],
    [
      'a counter-prefixed rule',
      () => edit((l) => l.splice(at(l, /^COMMIT$/), 0, `[1:2] -A ${sepName(l)} -j RETURN`)),
      'whole',
    ],
    [
      'a rule line behind a vertical tab',
      () => edit((l) => l.splice(at(l, /^COMMIT$/), 0, `\v-A ${sepName(l)} -j RETURN`)),
      'whole',
    ],
    ['the nat table opened twice', () => edit((l) => l.push('*nat', `-A ${sepName(l)} -j RETURN`, 'COMMIT')), 'whole'],
    [
      'a negated source, a tab and doubled blanks in endpoint rules',
      () =>
        edit((l) => {
          const k = at(l, /^-A KUBE-SEP-.* -s /, 9);
          l[k] = l[k]!.replace(' -s ', ' !  -s\t');
        }),
      'lean',
    ],
    [
      'a quoted target and a comment without quotes',
      () =>
        edit((l) => {
          const k = at(l, /^-A KUBE-SVC-.* -j KUBE-SEP-/, 11);
          l[k] = l[k]!.replace(/-j (KUBE-SEP-\S+)$/, '-j "$1"').replace(
            /--comment "([^" ]+) -> ([^"]+)"/,
            '--comment $1',
          );
        }),
      'lean',
    ],
    [
      'a statistic match with an unknown mode and a probability out of range',
      () =>
        edit((l) => {
          const k = at(l, /--mode random --probability/, 13);
          l[k] = l[k]!.replace('--mode random --probability 0.', '--mode nth --probability 7.');
        }),
      'lean',
    ],
    [
      // every endpoint chain jumps to it: the full parse warns of the missing chain
      'KUBE-MARK-MASQ not declared (and its rules gone)',
      () => edit((l) => l.splice(0, l.length, ...l.filter((x) => !/^(:|-A )KUBE-MARK-MASQ /.test(x)))),
      'whole',
    ],
    [
      // not ASCII: the lean read copies each line out of the bytes instead of slicing one decoded text
      'a non-ASCII comment in an endpoint rule and in a Service rule',
      () =>
        edit((l) => {
          const k = at(l, /^-A KUBE-SEP-.*--comment "/, 5);
          l[k] = l[k]!.replace('--comment "', '--comment "caf\u00e9 ');
          const j = at(l, /^-A KUBE-SVC-.*--comment "/, 7);
          l[j] = l[j]!.replace('--comment "', '--comment "\u00fcber ');
        }),
      'lean',
    ],
    [
      // the lean read builds the chains of a table whose declarations all come before its rules
      "a chain declared after the rules (the nat table's chains then all made by the full parse)",
      () => edit((l) => l.splice(at(l, /^COMMIT$/), 0, ':KUBE-SVC-LATEDECLARED0000 - [0:0]')),
      'lean',
    ],
    [
      'counters and a policy on per-Service chain declarations',
      () =>
        edit((l) => {
          const k = at(l, /^:KUBE-SEP-/, 4);
          l[k] = l[k]!.replace(' - [0:0]', ' - [12:3456]');
          const j = at(l, /^:KUBE-SVC-/, 6);
          l[j] = l[j]!.replace(' - [0:0]', ' ACCEPT [0:0]');
        }),
      'lean',
    ],
    [
      'a per-Service chain declaration the full parse cannot read (no policy)',
      () =>
        edit((l) => {
          const k = at(l, /^:KUBE-SEP-/, 5);
          l[k] = l[k]!.replace(' - [0:0]', '');
        }),
      'whole',
    ],
    [
      'a rule appended to an undeclared chain of another name, and a jump to it from an endpoint chain',
      () =>
        edit((l) => {
          const s = sepName(l);
          l.splice(at(l, /^COMMIT$/), 0, '-A KUBE-UNDECLARED-THING -j RETURN');
          l.splice(at(l, new RegExp(`^-A ${s} `)), 0, `-A ${s} -j KUBE-UNDECLARED-THING`);
        }),
      'lean',
    ],
    [
      'declarations moved: a per-Service chain declared first, another last, non-lean ones between',
      () =>
        edit((l) => {
          const k = at(l, /^:KUBE-SVC-/, 8);
          const [d] = l.splice(k, 1);
          l.splice(at(l, /^:/), 0, d!);
          const j = at(l, /^:KUBE-SEP-/, 9);
          const [e] = l.splice(j, 1);
          l.splice(at(l, /^-A /), 0, e!);
        }),
      'lean',
    ],
    [
      'a DNAT target without a port',
      () =>
        edit((l) => {
          const k = at(l, /-j DNAT --to-destination/, 17);
          l[k] = l[k]!.replace(/--to-destination (\S+):\d+$/, '--to-destination $1');
        }),
      'lean',
    ],
  ];

  for (const [name, make, expectRead] of mutations)
    it(`a mutated copy: ${name}`, () => {
      const t = make();
      expect(t).not.toBe(text);
      const r = same(t, base);
      if (expectRead !== 'either') expect(r.lean ? 'lean' : 'whole').toBe(expectRead);
      if (r.lean) expect(r.chains).toBeGreaterThan(1000);
    });

  it('leanChainName: the names KUBE-(SVC|SVL|EXT|FW|XLB|SEP)-[A-Za-z0-9]+ and no other (fuzzed)', () => {
    const { rnd, pick } = seeded(20261208);
    const re = /^KUBE-(SVC|SVL|EXT|FW|XLB|SEP)-[A-Za-z0-9]+$/;
    const parts = [
      'KUBE-',
      'KUBE',
      'SVC',
      'SVL',
      'EXT',
      'FW',
      'XLB',
      'SEP',
      'SVX',
      'FWX',
      'F',
      '-',
      'A',
      'z',
      '09',
      '_',
      '.',
    ];
    let yes = 0;
    const kinds = ['SVC', 'SVL', 'EXT', 'FW', 'XLB', 'SEP', 'SVX', 'FWX', 'F', 'SE', ''];
    const tail = 'AZaz09_.-';
    for (let i = 0; i < 20000; i++) {
      let name = `KUBE-${pick(kinds)}-`;
      for (let j = Math.floor(rnd() * 5); j > 0; j--) name += rnd() < 0.9 ? pick(['Q', 'z', '7']) : pick([...tail]);
      // and a character changed anywhere, now and then
      if (rnd() < 0.3) {
        const k = Math.floor(rnd() * name.length);
        name = name.slice(0, k) + pick([...tail, ...parts]) + name.slice(k + 1);
      }
      const b = Buffer.from(`x ${name} y`, 'latin1');
      const got = leanChainName(b, 2, 2 + name.length);
      expect(got, name).toBe(re.test(name));
      if (got) yes++;
    }
    expect(yes).toBeGreaterThan(1000);
  });

  it('leanRule: a line it takes is the line readRuleLine parses, option by option (fuzzed)', () => {
    const { rnd, pick } = seeded(20261207);
    const src = text.split('\n').filter((l) => /^-A KUBE-(SVC|SEP)-/.test(l));
    const pieces = [
      ' ',
      '  ',
      '\t',
      '"',
      "'",
      '\\',
      '!',
      ' ! ',
      '-m tcp',
      '-m udp',
      '--dport 80',
      '-p TCP',
      '-j',
      '-m',
      '-s',
      '--comment',
      '--mode random',
      '--probability 0.5',
      '-m statistic',
      '-g X',
      '--to-destination 1.2.3.4:5',
      '-d 10.0.0.1/32',
      '-p',
      '"a b"',
      '--set-xmark 0x4000/0x4000',
      '-m comment',
      '-x',
      '--9',
      '""',
      '-i eth0',
    ];
    const queries: [string, string | undefined][] = [
      ['source', ''],
      ['source', undefined],
      ['destination', ''],
      ['destination', undefined],
      ['protocol', ''],
      ['dport', undefined],
      ['dport', 'tcp'],
      ['dport', 'udp'],
      ['mode', 'statistic'],
      ['probability', 'statistic'],
      ['comment', 'comment'],
      ['in-interface', ''],
      ['src-type', 'addrtype'],
      ['rcheck', 'recent'],
      ['destination-port', undefined],
    ];
    let taken = 0;
    for (let n = 0; n < 8_000; n++) {
      let line = pick(src);
      const edits = Math.floor(rnd() * 3);
      for (let e = 0; e < edits; e++) {
        const words = line.split(' ');
        const k = Math.floor(rnd() * (words.length + 1));
        if (rnd() < 0.5) words.splice(k, 0, pick(pieces));
        else words.splice(k, 1);
        line = words.join(' ');
      }
      line = line.trim();
      const lean = leanRule(line, 1, PROBE);
      if (!lean) continue;
      taken++;
      const full = readRuleLine(line).opts!;
      expect(full.problems, line).toEqual([]);
      expect(full.unknownModules, line).toEqual([]);
      const rule = {
        table: 'nat',
        chain: 'X',
        line: 1,
        matches: full.matches,
        source: lean.source,
        ...(full.target ? { target: full.target } : {}),
        ...(full.comment !== undefined ? { comment: full.comment } : {}),
      };
      expect(lean.target, line).toBe(rule.target?.name);
      expect(rule.target?.goto, line).toBe(false);
      expect(lean.comment, line).toBe(rule.comment);
      for (const [q, m] of queries) expect(lean.option(q, m), `${line} ${q} ${m}`).toEqual(ruleOption(rule, q, m));
      expect(lean.text(lean.toDest), line).toBe(targetOption(rule, 'to-destination')?.args[0]);
      const stat = rule.matches.find((x) => x.module === 'statistic');
      expect(lean.statModule, line).toBe(stat !== undefined);
      if (stat) {
        expect(lean.text(lean.statMode), line).toBe(stat.options.find((o) => o.name === 'mode')?.args[0]);
        expect(lean.text(lean.statProb), line).toBe(stat.options.find((o) => o.name === 'probability')?.args[0]);
      }
      // nothing else in the rule: every option of the whole parse is one a lean field answers
      const opts = rule.matches.flatMap((x) => x.options.map((o) => `${x.module}:${o.name}`));
      for (const o of opts)
        expect(
          ['source', 'destination', 'protocol', 'dport', 'mode', 'probability', 'comment'],
          `${line} ${o}`,
        ).toContain(o.split(':')[1]);
      expect(
        rule.target!.options.every((o) => o.name === 'to-destination'),
        line,
      ).toBe(true);
    }
    // both ways were exercised
    expect(taken).toBeGreaterThan(1_000);
    expect(taken).toBeLessThan(8_000);
  });

  it('a LeanChain is a plain chain to JSON, and its rules once set stay set', () => {
    const lean = parse(text, true)!;
    if ('error' in lean) throw new Error(lean.error);
    const c = lean.rules.tables[0]!.chains.find((x) => x instanceof LeanChain)!;
    const full = parse(text, false)!;
    if ('error' in full) throw new Error(full.error);
    const plain = full.rules.tables[0]!.chains.find((x) => x.name === c.name)!;
    expect(Object.keys(JSON.parse(JSON.stringify(c))).sort()).toEqual(Object.keys(plain).sort());
    c.rules = [];
    expect(leanRules(c)).toBeUndefined();
    expect(c.rules).toEqual([]);
  });

  it("check's report with and without the lean read: every bundled node and the generated one", async () => {
    const dirs = filesUnder(join(root, 'fixtures/snapshots'), /^iptables-save/).map((f) => join(f, '..'));
    dirs.push(join(gen, 'node'));
    expect(dirs.length).toBeGreaterThan(8);
    for (const d of dirs) {
      const run = (lean: boolean) =>
        runCheck(dirSource(d), { offload: false, lean }).then(
          (o) => ({ report: o.report, exitCode: o.exitCode, unreadable: o.unreadable }),
          (e: unknown) => ({ refused: String(e) }),
        );
      expect(await run(true), d).toEqual(await run(false));
    }
  }, 240_000);
});
