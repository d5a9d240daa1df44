import type { IptablesRuleset } from '../model/iptables.js';
import { isPortmapChain } from './diff-chain-names.js';
import { isIpvsFilterChain } from './diff-leftovers.js';

// In a module of its own: the diff's iptables worker (src/commands/diff-iptables-worker.ts) prunes with it and
// must not load the trace engine that analysis/diff.ts brings.

/**
 * The chains of the before side's iptables that diffNodes reads (hostPort's portmap chains, the IPVS
 * filter); leftovers are looked for on the after side only. A large kube-proxy ruleset is most of a
 * side's heap (~570 MiB for 10,000 Services): `diff` keeps only these of the before side.
 */
export const readOfBeforeIptables = (table: string, chain: string): boolean =>
  isPortmapChain(table, chain) || isIpvsFilterChain(table, chain);

/** A ruleset with only the chains `keep` names (tables, their order and every other field as they were). */
export function pruneIptables(rs: IptablesRuleset, keep: (table: string, chain: string) => boolean): IptablesRuleset {
  return { ...rs, tables: rs.tables.map((t) => ({ ...t, chains: t.chains.filter((c) => keep(t.name, c.name)) })) };
}
