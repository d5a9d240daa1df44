import { Buffer } from 'node:buffer';

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
