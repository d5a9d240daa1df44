import type { Warning } from '../model/types.js';

export interface WarningOptions {
  /** warnings kept by add(), all kinds together; the rest are counted (a hostile file must not flood the report) */
  max?: number;
  /** what the dropped warnings were, for the count: `N more <more> (warnings truncated)` */
  more?: string;
  /** a longer message is cut to this many characters */
  maxMessage?: number;
  /** what once() counts: `<message> [N <unit>]` */
  unit?: string;
}

/**
 * The warnings of one parse. add() keeps the first `max` warnings and counts the rest per kind
 * (code and source): done() then says, once per kind, how many more there were. once() says a thing
 * once per (code, message), however often it applies, with how often.
 *
 * A parse that reads several inputs (the LB maps: one dump per map) gives each warning its own
 * source; `probe` is the default, and `undefined` when a warning of the whole parse names none.
 */
export class Warnings {
  private readonly lead: Warning[] = [];
  /** add()'s kept warnings and include()'s, in the order they came */
  private readonly items: Warning[] = [];
  private kept = 0;
  private firstKept: Warning | undefined;
  private readonly dropped = new Map<string, { code: string; source: string | undefined; n: number }>();
  private readonly counted = new Map<string, { w: Warning; n: number }>();
  private readonly max: number;
  private readonly more: string;
  private readonly maxMessage: number | undefined;
  private readonly unit: string;

  constructor(
    readonly probe: string | undefined,
    opts: WarningOptions = {},
  ) {
    this.max = opts.max ?? 50;
    this.more = opts.more ?? 'of this kind';
    this.maxMessage = opts.maxMessage;
    this.unit = opts.unit ?? 'records';
  }

  /** warnings add() was given so far, kept or not */
  get added(): number {
    let n = this.kept;
    for (const d of this.dropped.values()) n += d.n;
    return n;
  }

  /** the first warning add() kept */
  get first(): Warning | undefined {
    return this.firstKept;
  }

  /** A warning; `source` names the input it is about when that is not `probe`. */
  add(code: string, message: string, source: string | undefined = this.probe): void {
    if (this.kept < this.max) {
      const m = this.maxMessage;
      const text = m !== undefined && message.length > m ? message.slice(0, m - 3) + '...' : message;
      const w = withSource({ code, message: text }, source);
      this.items.push(w);
      this.kept++;
      this.firstKept ??= w;
    } else {
      const key = `${code}\u0000${source ?? ''}`;
      const d = this.dropped.get(key);
      if (d) d.n++;
      else this.dropped.set(key, { code, source, n: 1 });
    }
  }

  /**
   * One warning per (code, message); `example` names the first record it applied to. `times`: it
   * applied to that many records at once (the route scanner counts a million in one call).
   */
  once(code: string, message: string, example?: string, times = 1): void {
    const key = `${code}\u0000${message}`;
    const c = this.counted.get(key);
    if (c) c.n += times;
    else
      this.counted.set(key, {
        w: withSource({ code, message: example ? `${message} (e.g. ${example})` : message }, this.probe),
        n: times,
      });
  }

  /** Warnings of an earlier pass over the same input (the paste clean-up): reported first, never capped. */
  preface(ws: readonly Warning[]): this {
    this.lead.push(...ws);
    return this;
  }

  /**
   * The finished warnings of a part of this parse that has a collector of its own (one map dump of several):
   * kept in the order they come, not counted against this collector's cap (their own already applied).
   */
  include(ws: readonly Warning[]): void {
    this.items.push(...ws);
  }

  /** The warnings: the preface, those kept, a count per kind of those dropped, then the once() warnings. */
  done(): Warning[] {
    const out = [...this.lead, ...this.items];
    for (const { code, source, n } of this.dropped.values())
      out.push(withSource({ code, message: `${n} more ${this.more} (warnings truncated)` }, source));
    for (const { w, n } of this.counted.values())
      out.push(n > 1 ? { ...w, message: `${w.message} [${n} ${this.unit}]` } : w);
    return out;
  }
}

function withSource(w: Warning, source: string | undefined): Warning {
  return source === undefined ? w : { ...w, source };
}
