import { Buffer } from 'node:buffer';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

type Input = string | Uint8Array | undefined;

const same = (a: Input, b: Input): boolean =>
  typeof a === 'string' || typeof b === 'string' || a === undefined || b === undefined
    ? a === b
    : a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;

/**
 * A result kept with the exact inputs it was computed from. The two sides of a diff often hold the same
 * probe file (the LB maps do not change when kube-proxy goes): the second side gets the first side's
 * result when its inputs are byte for byte the same, instead of decoding them again. The caller must
 * treat the result as read-only, since both sides then share it.
 */
export class SameInputs<T> {
  private readonly kept: { key: string; inputs: Input[]; value: T }[] = [];

  /** the result kept for this key and these exact inputs, if any */
  get(key: string, inputs: Input[]): T | undefined {
    for (const k of this.kept)
      if (k.key === key && k.inputs.length === inputs.length && k.inputs.every((x, i) => same(x, inputs[i])))
        return k.value;
    return undefined;
  }

  set(key: string, inputs: Input[], value: T): void {
    this.kept.push({ key, inputs, value });
  }
}

/**
 * The parsed probe outputs of a diff's two sides, kept with the text each was parsed from. Both sides of a
 * realistic pair hold most probe files byte for byte the same (kube-proxy's removal leaves the devices, the
 * pod namespaces' links and routes, the endpoints as they were): the second side to read a probe takes the first
 * side's parse when its text is the same, instead of parsing it again. Each side still reads its own file and
 * records its own source and warnings (the parse's warnings are the same objects). A parse that throws is not
 * kept: each side fails on its own. The parsed value is then shared by both states: read-only.
 */
export class SameTexts {
  private readonly kept = new Map<string, { text: string; value: unknown }>();

  /** `keep`: applied to each value kept for the other side (tests freeze it, so a writer to a shared model fails) */
  constructor(private readonly keep: <T>(v: T) => T = (v) => v) {}

  parse<T>(id: string, text: string, parse: (text: string) => T): T {
    const k = this.kept.get(id);
    if (k !== undefined && k.text === text) {
      // two sides: nobody else asks for it, and the text need not stay alive
      this.kept.delete(id);
      return k.value as T;
    }
    const v = this.keep(parse(text));
    this.kept.set(id, { text, value: v });
    return v;
  }
}

/**
 * A parse of one probe's bytes, kept for the other side of a diff, as SameTexts keeps a text's: the second side to
 * read the probe takes the first side's result when its bytes are the same, and the kept bytes are let go. Used for
 * iptables-save, whose parse (47 MiB for 10,000 Services) is the largest of a side: a node diffed with itself, or
 * whose rules did not change between two captures, parses it once. A parse that throws is not kept. The result is
 * then shared by both sides: read-only.
 */
export class SameBytes {
  private readonly kept = new Map<string, { bytes: Uint8Array; value: unknown }>();

  constructor(
    /** applied to each value kept for the other side (tests freeze it, so a writer to a shared model fails) */
    private readonly keep: <T>(v: T) => T = (v) => v,
    /** false for a key the other side will not ask for (a worker reads its dump): nothing is kept for it */
    private readonly shared: (key: string) => boolean = () => true,
  ) {}

  parse<T>(key: string, bytes: Uint8Array, parse: () => T): T {
    if (!this.shared(key)) return parse();
    const k = this.kept.get(key);
    if (k !== undefined && same(k.bytes, bytes)) {
      this.kept.delete(key);
      return k.value as T;
    }
    const v = this.keep(parse());
    this.kept.set(key, { bytes, value: v });
    return v;
  }
}

/**
 * Whether two regular files hold the same bytes: sizes first, then both read in 1 MiB steps until they differ
 * (nothing is held whole). False when either cannot be read.
 */
export function sameFileBytes(a: string, b: string): boolean {
  let fa: number | undefined;
  let fb: number | undefined;
  try {
    fa = openSync(a, 'r');
    fb = openSync(b, 'r');
    if (fstatSync(fa).size !== fstatSync(fb).size) return false;
    const ba = Buffer.allocUnsafe(1 << 20);
    const bb = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const na = readSync(fa, ba, 0, ba.length, null);
      let nb = 0;
      // a read may return less than asked: fill bb to as many bytes as ba got
      while (nb < na) {
        const r = readSync(fb, bb, nb, na - nb, null);
        if (r === 0) return false;
        nb += r;
      }
      if (na === 0) return readSync(fb, bb, 0, 1, null) === 0;
      if (ba.compare(bb, 0, nb, 0, na) !== 0) return false;
    }
  } catch {
    return false;
  } finally {
    if (fa !== undefined) closeSync(fa);
    if (fb !== undefined) closeSync(fb);
  }
}
