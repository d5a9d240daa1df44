export type * from './types.js';
export { buildFib } from './lookup.js';
export { kernelDefaultRules, prefixEqual } from './rules.js';
export { bpfFibQuery, fibLookupDivergence, type BpfFibOptions, type Divergence } from './bpf-fib.js';
export { KernelFib, type KernelFibInput } from './kernel-fib.js';
