/**
 * A Fib whose large tables are the kernel's: each lookup of a family served by the kernel is the
 * answer to `ip route get fibmatch …` (the FIB entry the kernel matched, with its table), asked
 * beforehand in one `ip -batch`. Pure: it answers from a map of questions to answers, and records
 * the questions it has no answer for (`missing`) so the caller can ask them and build it again.
 *
 * The rule walk and its steps come from the dumped rules and the tables dumped whole (the small
 * ones, and the local table), through the ordinary engine (lookup.ts), over those routes plus the
 * kernel's answers. The result must be the kernel's: the same table, prefix and type, or the same
 * errno. When it is not (a blackhole route in a table only the kernel holds, input-path refusals the
 * dump cannot show), the family is listed in `unexplained` and the caller reads the whole table
 * instead: never a different answer in silence.
 */
import type { Family, Route } from '../../model/types.js';
import type { RouteColumns } from '../../model/route-columns.js';
import type { RouteGetAnswer } from '../../tools/ip/route-get.js';
import { routeGetLine } from '../../exec/route-get-input.js';
import { FibImpl } from './lookup.js';
import { tname } from './rules.js';
import type { Fib, FibInput, RouteDecision, RouteQuery } from './types.js';

export interface KernelFibInput extends Omit<FibInput, 'routes' | 'columns'> {
  /** routes of the tables dumped whole (for an asked family: its small tables and table local) */
  routes: Route[];
  /**
   * the same kind of routes held column-wise (a live trace's dumped tables): indexed as they are, so a
   * dumped table of 50,000 routes is not turned into 50,000 Route objects for each round of questions
   */
  columns?: RouteColumns[];
  /** the families whose large tables the kernel answers for; the others are looked up in `routes` */
  asked: Set<Family>;
  /** tables of each asked family that were not dumped (their routes come from the kernel's answers) */
  askedTables: Record<Family, Set<number>>;
  /** `route get fibmatch …` line → the kernel's answer */
  answers: ReadonlyMap<string, RouteGetAnswer>;
}

export class KernelFib implements Fib {
  /** questions asked of this Fib that have no answer yet */
  readonly missing = new Set<string>();
  /** families where an answer could not be reproduced from the dumped rules and tables: read the tables */
  readonly unexplained = new Map<Family, string>();
  readonly warnings: string[];
  private readonly base: FibImpl;
  private readonly shared: FibImpl;
  private readonly solo = new Map<string, FibImpl>();
  private readonly defaultRules: Record<Family, boolean>;
  /** a uidrange rule: `ip route get` with iif carries no uid (INVALID_UID) where the engine takes 0 */
  private readonly uidRules: Record<Family, boolean>;
  /** an IPv4 rule selects on the input device or the source (then a forwarded lookup has no output twin) */
  private readonly v4SelectsInput: boolean;

  constructor(private readonly input: KernelFibInput) {
    this.base = new FibImpl({ ...input, routes: input.routes });
    // the answers' routes from tables only the kernel holds, once each
    const seen = new Set<string>();
    const extra: Route[] = [];
    for (const a of input.answers.values())
      if (a.ok && input.askedTables[a.route.family]?.has(a.route.table)) {
        const k = `${a.route.family}|${a.route.table}|${a.route.source.text}`;
        if (!seen.has(k)) {
          seen.add(k);
          extra.push(a.route);
        }
      }
    this.shared = extra.length ? new FibImpl({ ...input, routes: [...input.routes, ...extra] }) : this.base;
    this.warnings = this.base.warnings;
    this.uidRules = {
      4: this.base.rules(4).some((r) => r.uidrange !== undefined),
      6: this.base.rules(6).some((r) => r.uidrange !== undefined),
    };
    this.v4SelectsInput = this.base.compiledRules(4).some((c) => c.rule.iif !== undefined || c.srcLen > 0);
    this.defaultRules = {
      4: this.base.compiledRules(4)[0]?.isDefault ?? true,
      6: this.base.compiledRules(6)[0]?.isDefault ?? true,
    };
  }

  get routeCount(): number {
    return this.shared.routeCount;
  }
  get indexBytes(): number {
    return this.shared.indexBytes;
  }
  prepare(): void {
    this.shared.prepare();
  }
  rules(family: Family) {
    return this.base.rules(family);
  }
  /** for the bpf_fib_lookup comparison (bpf-fib.ts), which reads the compiled rules */
  compiledRules(family: Family) {
    return this.base.compiledRules(family);
  }

  /** The `route get fibmatch` line for a query, or null when the query has a field the line cannot carry. */
  static line(q: RouteQuery): string | null {
    // uid 0 is what `ip route get` run as root carries (and bpf_fib_lookup's); tos is not on the line
    if ((q.uid !== undefined && q.uid !== 0) || q.tos !== undefined) return null;
    try {
      return routeGetLine({
        family: q.family,
        dst: q.dst,
        fibmatch: true,
        ...(q.src !== undefined ? { src: q.src } : {}),
        ...(q.iif !== undefined ? { iif: q.iif } : {}),
        ...(q.oif !== undefined ? { oif: q.oif } : {}),
        ...(q.mark !== undefined ? { mark: q.mark >>> 0 } : {}),
        ...(q.ipproto !== undefined ? { ipproto: q.ipproto } : {}),
        ...(q.sport !== undefined ? { sport: q.sport } : {}),
        ...(q.dport !== undefined ? { dport: q.dport } : {}),
      });
    } catch {
      return null;
    }
  }

  lookup(q: RouteQuery, opts?: { steps?: boolean }): RouteDecision {
    if (!this.input.asked.has(q.family)) return this.base.lookup(q, opts);
    const proxy = this.outputProxy(q);
    const line = this.uidRules[q.family] ? null : KernelFib.line(proxy ?? q);
    if (line === null) {
      // not an address (the engine says why without a table), or a field `ip route get` is not given
      const d = this.base.lookup(q, opts);
      if (d.result !== 'invalid')
        this.unexplained.set(
          q.family,
          `a lookup with a uid or tos, or under uidrange rules (${q.dst}), is not asked of the kernel`,
        );
      return d;
    }
    const a = this.input.answers.get(line);
    if (!a) {
      this.missing.add(line);
      return {
        family: q.family,
        dst: q.dst,
        result: 'unknown',
        nexthops: [],
        multipath: false,
        steps: [],
        notes: [`not yet asked of the kernel: ip ${line}`],
      };
    }
    // an error answer is checked on the steps too (which tables the walk passed), so they are always built
    const stepsWanted = opts?.steps !== false;
    const o = a.ok ? opts : { steps: true };
    let d = this.shared.lookup(q, o);
    if (!this.agrees(d, a)) {
      // another question's answer may shadow this one in the shared tables: this answer alone
      let f = this.solo.get(line);
      if (!f) {
        const routes = a.ok && this.input.askedTables[q.family].has(a.route.table) ? [a.route] : [];
        f = new FibImpl({ ...this.input, routes: [...this.input.routes, ...routes] });
        this.solo.set(line, f);
      }
      d = f.lookup(q, o);
      if (!this.agrees(d, a)) {
        const got = d.error ?? (d.route ? `${d.route.source.text} (table ${tname(d.table ?? 0)})` : d.result);
        const want = a.ok ? `${a.route.source.text} (table ${tname(a.route.table)})` : a.error;
        this.unexplained.set(
          q.family,
          `ip ${line}: the kernel answered ${want}, the dumped rules and tables give ${got}`,
        );
        return d;
      }
    }
    if (!stepsWanted) d.steps = [];
    d.kernelQuery = `ip ${line}`;
    if (proxy)
      d.notes.push(
        `asked of the kernel as a locally generated lookup (ip ${line}): forwarding is off on ${q.iif}, so the kernel refuses the forwarded one, and no IPv4 rule selects on the input device or the source`,
      );
    if (d.steps.length) {
      for (const st of d.steps)
        if (st.kind === 'table-miss' && st.table !== undefined && this.input.askedTables[q.family].has(st.table))
          st.text = `table ${tname(st.table)}: did not decide (per the kernel's answer to ip ${line}; the table was not dumped)`;
      d.steps.push({ kind: 'note', text: `the kernel's answer: ip ${line}` });
    }
    return d;
  }

  /**
   * A forwarded IPv4 lookup on a device with forwarding off: the kernel finds the route and then refuses
   * (EHOSTUNREACH, ip_route_input_slow), and fibmatch prints nothing. When no rule selects on the input
   * device or the source, the output lookup without them reaches the same table entry: that is asked.
   */
  private outputProxy(q: RouteQuery): RouteQuery | undefined {
    if (q.family !== 4 || q.iif === undefined || q.iif === 'lo' || this.v4SelectsInput) return undefined;
    const sys = this.input.sysctl ?? {};
    const v = (k: string) => sys[k]?.value.trim();
    const fwd = v(`net.ipv4.conf.${q.iif}.forwarding`) ?? v('net.ipv4.conf.all.forwarding') ?? v('net.ipv4.ip_forward');
    if (fwd !== '0') return undefined;
    const { iif: _i, src: _s, ...rest } = q;
    return rest;
  }

  /** The engine's decision is the kernel's: its table, prefix and type; or its errno. */
  private agrees(d: RouteDecision, a: RouteGetAnswer): boolean {
    if (!a.ok) {
      if (a.errno === undefined || d.error !== a.errno) return false;
      // EINVAL, EHOSTUNREACH and EACCES are also what a blackhole, unreachable or prohibit route gives: when the
      // walk passed a table only the kernel holds, the error may have come from there (fibmatch prints no route)
      if (a.errno === 'ENETUNREACH') return true;
      const asked = this.input.askedTables[d.family];
      return !d.steps.some((st) => st.table !== undefined && asked.has(st.table));
    }
    const r = a.route;
    if (d.error !== undefined || !d.route) return false;
    if (d.route.dst !== r.dst || d.route.type !== r.type) return false;
    if (d.table === r.table) return true;
    // without custom IPv4 rules the kernel merges table local into main, and then names main for a local route
    return r.family === 4 && this.defaultRules[4] && d.table === 255 && r.table === 254;
  }
}
