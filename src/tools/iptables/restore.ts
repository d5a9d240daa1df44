import type { IptablesRuleset } from '../../model/iptables.js';

/**
 * Applies a kube-proxy `iptables-restore --noflush` input on top of an earlier state: declared chains
 * are replaced, `-X` chains removed, other chains kept. Returns a new ruleset.
 */
export function applyIptablesRestore(base: IptablesRuleset, delta: IptablesRuleset): IptablesRuleset {
  const out: IptablesRuleset = {
    ...base,
    tables: base.tables.map((t) => ({
      ...t,
      chains: t.chains.map((c) => ({ ...c, rules: [...c.rules] })),
      deletedChains: [],
    })),
  };
  for (const dt of delta.tables) {
    let t = out.tables.find((x) => x.name === dt.name);
    if (!t) {
      t = { name: dt.name, chains: [], committed: dt.committed, deletedChains: [] };
      out.tables.push(t);
    }
    for (const dc of dt.chains) {
      const existing = t.chains.find((c) => c.name === dc.name);
      if (dc.declared || !existing) {
        const copy = { ...dc, rules: [...dc.rules] };
        if (existing) t.chains[t.chains.indexOf(existing)] = copy;
        else t.chains.push(copy);
      } else existing.rules.push(...dc.rules);
    }
    const gone = new Set(dt.deletedChains);
    t.chains = t.chains.filter((c) => !gone.has(c.name));
    t.committed = dt.committed;
  }
  return out;
}
