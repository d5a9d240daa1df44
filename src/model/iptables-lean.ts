import type { Evidence } from './types.js';
import type { IptablesChain, IptablesOption, IptablesRule } from './iptables.js';
import { ruleOption, targetOption } from './iptables.js';

/** Where an argument sits in a lean rule's line: start × 1024 + length (-1: the rule has none). */
export type LeanSpan = number;

/**
 * A rule of kube-proxy's per-Service chains read without building its matches (tools/iptables/lean-rules.ts):
 * the reader takes a line only when it is one of the few shapes kube-proxy writes there, so these fields are all
 * the line holds. Arguments are kept as spans of the line (its evidence text, which is the whole line) and cut
 * only when asked: a dump has ~300,000 such rules. `option` answers as ruleOption would on the fully parsed rule.
 */
export class LeanRule {
  constructor(
    /** 1-based line number in the input */
    readonly line: number,
    readonly source: Evidence,
    readonly target: string,
    /** `-s` / `-d` / `-p` arguments, with `!` before `-s` / `-d` */
    readonly src: LeanSpan,
    readonly srcNeg: boolean,
    readonly dst: LeanSpan,
    readonly dstNeg: boolean,
    readonly proto: LeanSpan,
    /** `-m tcp|udp|sctp --dport N`: the module named and its port */
    readonly portModule: string | undefined,
    readonly dport: LeanSpan,
    readonly commentSpan: LeanSpan,
    /** `-m statistic` (present: statModule) and its --mode / --probability */
    readonly statModule: boolean,
    readonly statMode: LeanSpan,
    readonly statProb: LeanSpan,
    /** DNAT's --to-destination */
    readonly toDest: LeanSpan,
  ) {}

  /** the argument at a span, undefined for none */
  text(span: LeanSpan): string | undefined {
    if (span < 0) return undefined;
    const at = Math.floor(span / 1024);
    return this.source.text.slice(at, at + (span % 1024));
  }

  get comment(): string | undefined {
    return this.text(this.commentSpan);
  }

  /** ruleOption(rule, name, module) of the same line */
  option(name: string, module?: string): IptablesOption | undefined {
    if (module === undefined || module === '') {
      if (name === 'source' && this.src >= 0) return this.#one(name, this.src, this.srcNeg);
      if (name === 'destination' && this.dst >= 0) return this.#one(name, this.dst, this.dstNeg);
      if (name === 'protocol' && this.proto >= 0) return this.#one(name, this.proto, false);
      if (module === '') return undefined;
    }
    if (name === 'dport' && this.dport >= 0 && (module === undefined || module === this.portModule))
      return this.#one(name, this.dport, false);
    if (this.statModule && (module === undefined || module === 'statistic')) {
      if (name === 'mode' && this.statMode >= 0) return this.#one(name, this.statMode, false);
      if (name === 'probability' && this.statProb >= 0) return this.#one(name, this.statProb, false);
    }
    if (name === 'comment' && this.commentSpan >= 0 && (module === undefined || module === 'comment'))
      return this.#one(name, this.commentSpan, false);
    return undefined;
  }

  // a method, not a closure made on every option() call (asked ~10 times of each of ~300,000 rules)
  #one(name: string, span: LeanSpan, negated: boolean): IptablesOption {
    return { name, negated, args: [this.text(span)!] };
  }
}

/**
 * A chain whose rules were read lean. Its `rules` parses them whole on first use (materialize) and keeps those, so
 * a reader that does not know lean rules still sees every rule as the full parse builds it; leanRules() gives the
 * lean ones while nobody has. The lean state is private: JSON and structured clones see a plain chain (toJSON).
 */
export class LeanChain implements IptablesChain {
  name: string;
  declared: boolean;
  policy?: string;
  packets?: number;
  bytes?: number;
  source?: Evidence;
  #lean: LeanRule[] | undefined;
  #rules: IptablesRule[] | undefined;
  readonly #materialize: (c: LeanChain, rules: LeanRule[]) => IptablesRule[];

  readonly #table: string;

  constructor(
    /** the table it is in (a whole rule names it) */
    table: string,
    of: IptablesChain,
    lean: LeanRule[],
    materialize: (c: LeanChain, rules: LeanRule[]) => IptablesRule[],
  ) {
    this.#table = table;
    this.name = of.name;
    this.declared = of.declared;
    if (of.policy !== undefined) this.policy = of.policy;
    if (of.packets !== undefined) this.packets = of.packets;
    if (of.bytes !== undefined) this.bytes = of.bytes;
    if (of.source !== undefined) this.source = of.source;
    this.#lean = lean;
    this.#materialize = materialize;
  }

  get table(): string {
    return this.#table;
  }

  get lean(): LeanRule[] | undefined {
    return this.#lean;
  }

  get rules(): IptablesRule[] {
    if (this.#rules === undefined) {
      this.#rules = this.#materialize(this, this.#lean ?? []);
      this.#lean = undefined;
    }
    return this.#rules;
  }

  set rules(v: IptablesRule[]) {
    this.#rules = v;
    this.#lean = undefined;
  }

  toJSON(): IptablesChain {
    return { ...this, rules: this.rules };
  }
}

/** The chain's lean rules, undefined when its rules are plain IptablesRule objects. */
export function leanRules(chain: IptablesChain): LeanRule[] | undefined {
  return chain instanceof LeanChain ? chain.lean : undefined;
}

export type AnyRule = IptablesRule | LeanRule;

/** The rules of a chain as they are held (lean ones not parsed whole). */
export function chainRules(chain: IptablesChain): readonly AnyRule[] {
  return leanRules(chain) ?? chain.rules;
}

export function ruleCount(chain: IptablesChain): number {
  return chainRules(chain).length;
}

export function targetName(rule: AnyRule): string | undefined {
  return rule instanceof LeanRule ? rule.target : rule.target?.name;
}

export function anyRuleOption(rule: AnyRule, name: string, module?: string): IptablesOption | undefined {
  return rule instanceof LeanRule ? rule.option(name, module) : ruleOption(rule, name, module);
}

export function anyTargetOption(rule: AnyRule, name: string): IptablesOption | undefined {
  if (!(rule instanceof LeanRule)) return targetOption(rule, name);
  return name === 'to-destination' && rule.toDest >= 0
    ? { name, negated: false, args: [rule.text(rule.toDest)!] }
    : undefined;
}

/** The first `-m statistic` match's --mode and --probability (undefined: no statistic match). */
export function statisticOf(rule: AnyRule): { mode: string | undefined; probability: string | undefined } | undefined {
  if (rule instanceof LeanRule)
    return rule.statModule ? { mode: rule.text(rule.statMode), probability: rule.text(rule.statProb) } : undefined;
  const stat = rule.matches.find((m) => m.module === 'statistic');
  if (!stat) return undefined;
  return {
    mode: stat.options.find((o) => o.name === 'mode')?.args[0],
    probability: stat.options.find((o) => o.name === 'probability')?.args[0],
  };
}
