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
 * (code): done() then says, once per kind, how many more there were. once() says a thing once
 * per (code, message), however often it applies, with how often.
 */
export class Warnings {
  private readonly lead: Warning[] = [];
  private readonly kept: Warning[] = [];
  private readonly dropped = new Map<string, number>();
  private readonly counted = new Map<string, { w: Warning; n: number }>();
  private readonly max: number;
  private readonly more: string;
  private readonly maxMessage: number | undefined;
  private readonly unit: string;

  constructor(
    readonly probe: string,
    opts: WarningOptions = {},
  ) {
    this.max = opts.max ?? 50;
    this.more = opts.more ?? 'of this kind';
    this.maxMessage = opts.maxMessage;
    this.unit = opts.unit ?? 'records';
  }

  /** warnings add() was given so far, kept or not */
  get added(): number {
    let n = this.kept.length;
    for (const d of this.dropped.values()) n += d;
    return n;
  }

  /** the first warning add() kept */
  get first(): Warning | undefined {
    return this.kept[0];
  }

  add(code: string, message: string): void {
    if (this.kept.length < this.max) {
      const m = this.maxMessage;
      const text = m !== undefined && message.length > m ? message.slice(0, m - 3) + '...' : message;
      this.kept.push({ code, message: text, source: this.probe });
    } else this.dropped.set(code, (this.dropped.get(code) ?? 0) + 1);
  }

  /** One warning per (code, message); `example` names the first record it applied to. */
  once(code: string, message: string, example?: string): void {
    const key = `${code}\u0000${message}`;
    const c = this.counted.get(key);
    if (c) c.n++;
    else
      this.counted.set(key, {
        w: { code, message: example ? `${message} (e.g. ${example})` : message, source: this.probe },
        n: 1,
      });
  }

  /** Warnings of an earlier pass over the same input (the paste clean-up): reported first, never capped. */
  preface(ws: readonly Warning[]): this {
    this.lead.push(...ws);
    return this;
  }

  /** The warnings: the preface, those kept, a count per kind of those dropped, then the once() warnings. */
  done(): Warning[] {
    const out = [...this.lead, ...this.kept];
    for (const [code, n] of this.dropped)
      out.push({ code, message: `${n} more ${this.more} (warnings truncated)`, source: this.probe });
    for (const { w, n } of this.counted.values())
      out.push(n > 1 ? { ...w, message: `${w.message} [${n} ${this.unit}]` } : w);
    return out;
  }
}
