import { canonIp } from '../model/addr.js';

// Half of flow-plan.ts's decision (see there), on its own so that a live trace can start its probes before the
// parsers are loaded: this module imports nothing but the address helpers.

/**
 * Live probes a trace between two addresses reads only if its path needs them (loadForFlow): the
 * other family's route table, and pod namespaces' links and routes; they run when first read. The other
 * family's conntrack table and ipset are never read by a trace: deferred, they never run.
 * Names need the whole node: nothing is deferred.
 */
export function traceDefers(src: string, dst: string, kernelRoutes = false): ((id: string) => boolean) | undefined {
  const a = canonIp(src);
  const b = canonIp(dst);
  if (a === null || b === null) return undefined;
  const other = b.includes(':') ? 'ip-route4' : 'ip-route6';
  // the conntrack lookup reads the flow's family only (collect/conntrack.ts); ipset is read by diff alone
  const otherConntrack = b.includes(':') ? 'conntrack4' : 'conntrack6';
  // kernelRoutes: the kernel may answer the lookups (commands/trace.ts), and then no full table is read
  return (id) =>
    id === other ||
    id === otherConntrack ||
    id === 'ipset' ||
    (kernelRoutes && (id === 'ip-route4' || id === 'ip-route6')) ||
    /^netns\/[^/]+\/(ip-link|ip-route4|ip-route6)$/.test(id);
}
