import type { FrontendKeep, ServiceEntry, ServiceQuery } from '../model/service.js';
import { serviceMatches } from '../model/service.js';
import type { IptablesRuleset } from '../model/iptables.js';
import type { Warning } from '../model/types.js';
import { iptablesByteLines, parseIptablesLines } from '../tools/iptables/parse-iptables.js';
import { parseIptablesLean } from '../tools/iptables/lean-rules.js';
import type { KubeProxyReader } from './load-services.js';

// loadServices' reading of iptables-save, in a module of its own: the iptables worker
// (src/commands/svc-worker.ts) runs the same code and must not load every other parser with it.

/**
 * which lines of iptables-save one question can need: its address, or its `namespace/name`; `wildcard`: and the
 * wildcard NodePort question (0.0.0.0 or ::, some port) asked beside the address, as a trace to address:port does
 */
export type Narrow = { address?: string; name?: string; wildcard?: boolean };

/** the rule loadServices keeps a frontend by, for these questions (a worker rebuilds it from the same questions) */
export function keepFor(only: ServiceQuery[]): FrontendKeep {
  return (f, name) => only.some((q) => serviceMatches(name === undefined ? { frontend: f } : { frontend: f, name }, q));
}

/** which lines one question can need (undefined: every line) */
export function narrowFor(only: ServiceQuery[] | undefined): Narrow {
  // a trace's question: its destination, then the wildcard NodePort frontends (flow-plan.ts loadForFlow)
  const [a, ...rest] = only ?? [];
  if (
    a?.kind === 'address' &&
    a.address !== '0.0.0.0' &&
    a.address !== '::' &&
    rest.length > 0 &&
    rest.every((q) => q.kind === 'address' && (q.address === '0.0.0.0' || q.address === '::'))
  )
    return { address: a.address, wildcard: true };
  const q0 = only?.length === 1 ? only[0]! : undefined;
  return q0 === undefined
    ? {}
    : q0.kind === 'address'
      ? { address: q0.address }
      : { name: `${q0.namespace}/${q0.name}` };
}

/** The Services in one iptables-save dump: what loadServices and the iptables worker both run. */
export function iptablesServices(
  b: Buffer,
  id: string,
  fam: 4 | 6,
  kubeProxy: Pick<KubeProxyReader, 'linesNeeded' | 'servicesFromIptables'>,
  keep: FrontendKeep | undefined,
  narrow: Narrow,
  lean = false,
): { entries: ServiceEntry[]; warnings: Warning[]; rules: IptablesRuleset } {
  return iptablesServicesFromLines(iptablesByteLines(b, id), id, fam, kubeProxy, keep, narrow, lean);
}

/** iptablesServices once the dump's lines are found (the worker finds them before it is asked) */
export function iptablesServicesFromLines(
  found: ReturnType<typeof iptablesByteLines>,
  id: string,
  fam: 4 | 6,
  kubeProxy: Pick<KubeProxyReader, 'linesNeeded' | 'servicesFromIptables'>,
  keep: FrontendKeep | undefined,
  narrow: Narrow,
  /**
   * every frontend asked (no keep): kube-proxy's per-Service chains read lean (tools/iptables/lean-rules.ts), their
   * rules parsed whole only if a reader asks for a chain's `rules`; for a caller that reads the ruleset through
   * model/iptables-lean.ts (check)
   */
  lean = false,
): { entries: ServiceEntry[]; warnings: Warning[]; rules: IptablesRuleset } {
  // for one question, only the chains its frontends reach are decoded and parsed (the rest is
  // indexed by name on the bytes)
  const { lines, warnings: pasted } = found;
  const need = keep ? kubeProxy.linesNeeded(lines, fam, keep, narrow) : undefined;
  const rs =
    (lean && !keep ? parseIptablesLean(lines, id) : undefined) ??
    parseIptablesLines(lines, id, need?.skip, need?.cache);
  const svc = kubeProxy.servicesFromIptables(rs.value, id, fam, keep);
  return { entries: svc.value, warnings: [...pasted, ...rs.warnings, ...svc.warnings], rules: rs.value };
}
