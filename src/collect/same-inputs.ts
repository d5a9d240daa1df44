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
