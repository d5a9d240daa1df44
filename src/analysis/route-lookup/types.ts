/** What a route lookup takes and answers: the query, the decision and its steps, the FIB's interface. */
import type { Address, Family, Link, Route, Rule } from '../../model/types.js';
import type { RouteColumns } from '../../model/route-columns.js';

export type RouteResult =
  | 'unicast'
  | 'local'
  | 'broadcast'
  | 'multicast'
  | 'anycast'
  | 'blackhole'
  | 'unreachable'
  | 'prohibit'
  | 'no-route'
  /** IPv4 output with a source that is not a local address: the kernel refuses (ENETUNREACH). */
  | 'invalid-source'
  /** the query itself is not routable (not an address, 0.0.0.0/8 destination, ...): EINVAL */
  | 'invalid'
  | 'unknown';

export type Errno = 'ENETUNREACH' | 'EHOSTUNREACH' | 'EACCES' | 'EINVAL';

export interface RouteQuery {
  family: Family;
  dst: string;
  src?: string;
  /** input interface; absent = locally generated (the kernel uses `lo`) */
  iif?: string;
  oif?: string;
  mark?: number;
  ipproto?: number;
  sport?: number;
  dport?: number;
  uid?: number;
  tos?: number;
}

export interface NexthopChoice {
  gateway?: string;
  gatewayFamily?: Family;
  dev?: string;
  weight?: number;
  flags?: string[];
}

export type RouteStepKind =
  | 'rule-skip'
  | 'rule-match'
  | 'goto'
  | 'goto-unresolved'
  | 'nop'
  | 'rule-action'
  | 'table-miss'
  | 'table-hit'
  | 'throw'
  | 'suppress'
  | 'route-skip'
  | 'note';

export interface RouteStep {
  kind: RouteStepKind;
  text: string;
  rule?: Rule;
  table?: number;
  route?: Route;
}

export interface RouteDecision {
  family: Family;
  dst: string;
  result: RouteResult;
  /** the errno the kernel returns for this decision (for `ip route get`: RTNETLINK answers: ...) */
  error?: Errno;
  /** the rule whose action decided (or a built-in default rule); absent for no-route */
  rule?: Rule;
  /** true when `rule` is one of the kernel's default rules because the state had none for this family */
  ruleIsDefault?: boolean;
  table?: number;
  route?: Route;
  /** usable next hops: one, or every candidate of a multipath route (the kernel hashes the flow) */
  nexthops: NexthopChoice[];
  multipath: boolean;
  /** set only when the device is certain (one candidate, or local delivery via lo) */
  dev?: string;
  gateway?: string;
  gatewayFamily?: Family;
  prefsrc?: string;
  steps: RouteStep[];
  /** caveats: assumed flow fields, checks not modelled */
  notes: string[];
  /** set when the kernel answered the lookup (kernel-fib.ts): the `ip route get fibmatch …` it was asked */
  kernelQuery?: string;
}

export interface Fib {
  lookup(q: RouteQuery, opts?: { steps?: boolean }): RouteDecision;
  /** rules in evaluation order for a family (the kernel defaults when the state has none) */
  rules(family: Family): Rule[];
  readonly routeCount: number;
  /** bytes held by the indexes built so far and the per-route arrays (not the Route objects) */
  readonly indexBytes: number;
  /** indexes every table now (tables are otherwise indexed on their first lookup) */
  prepare(): void;
}

export interface FibInput {
  /** routes as objects (small tables, text input, tests) */
  routes?: Route[];
  /** routes held column-wise (a node's full tables): only the routes a lookup hits become objects */
  columns?: RouteColumns[];
  rules: Rule[];
  links?: Link[];
  addrs?: Address[];
  /** `net.ipv4.conf.*.ignore_routes_with_linkdown` etc., as NodeState.sysctl holds them */
  sysctl?: Record<string, { value: string }>;
  /** lookups per table answered by scanning its routes before it is indexed (default SCANS_BEFORE_INDEX) */
  scansBeforeIndex?: number;
}
