import type { Evidence } from './types.js';

export type NftVerdictKind = 'accept' | 'drop' | 'return' | 'continue' | 'jump' | 'goto' | 'reject' | 'queue';

export interface NftVerdict {
  kind: NftVerdictKind;
  target?: string;
}

/** `left op right`, both sides rendered as nft prints them (`ip saddr`, `meta l4proto`, `fib saddr type`). */
export interface NftMatch {
  left: string;
  op: string;
  /** one value, or the members of an anonymous set; `@name` for a named set */
  right: string[];
}

export interface NftVmapElement {
  key: string[];
  verdict: NftVerdict;
  comment?: string;
}

export interface NftRule {
  family: string;
  table: string;
  chain: string;
  matches: NftMatch[];
  verdict?: NftVerdict;
  /** `KEY vmap @set` or `KEY vmap { ... }` */
  vmap?: { key: string; set?: string; elements?: NftVmapElement[] };
  numgen?: { mode: string; mod: number; offset: number };
  dnat?: { addr: string; port?: number };
  masquerade?: boolean;
  /** `mark set ...` rendered */
  markSet?: string;
  /** `update @set { ... }` / `add @set { ... }` */
  setUpdate?: string;
  comment?: string;
  /** statements this parser does not read (`xt` from iptables-nft, log, limit, ...) */
  unknown?: string[];
  source: Evidence;
}

export interface NftSetElement {
  key: string[];
  verdict?: NftVerdict;
  value?: string;
  comment?: string;
}

export interface NftSet {
  family: string;
  table: string;
  name: string;
  isMap: boolean;
  type?: string;
  flags?: string[];
  /** seconds */
  timeout?: number;
  comment?: string;
  elements: NftSetElement[];
  source: Evidence;
}

export interface NftChain {
  family: string;
  table: string;
  name: string;
  type?: string;
  hook?: string;
  prio?: number | string;
  policy?: string;
  rules: NftRule[];
  source?: Evidence;
}

export interface NftTable {
  family: string;
  name: string;
  sets: NftSet[];
  chains: NftChain[];
}

export interface NftRuleset {
  tables: NftTable[];
}
