import { endpointHost, familyOf } from '../model/addr.js';
import type { Flow } from '../model/trace.js';
import type { Address, NodeState } from '../model/types.js';
import type { ServiceQuery } from '../model/service.js';
import { parseIpAddr } from '../tools/ip/index.js';
import type { ScanResult } from '../tools/conntrack/index.js';
import { loadNetnsDetails, loadNodeState, loadRouteFamilies, netnsHolding, type RouteScanStart } from './load-state.js';
import { type KubeProxyReader, loadServices, type LoadedServices } from './load-services.js';
import { MAX_FLOW_ENTRIES } from './conntrack.js';
import { narrowSourceScan, SOURCE_SCAN_MAX } from './flow-conntrack.js';
import type { Offload } from './offload.js';
import type { ProbeSource } from './source.js';
import { endScansEarly } from './scan-early.js';

// The plan of what one flow's trace reads. Two halves of one decision live here: which live probes may wait until
// a path needs them (traceDefers, handed to the live source before anything runs), and what is read once the flow
// is known (loadForFlow). A probe deferred by the first must be one the second reads only when the path needs it.

// (traceDefers lives in trace-defers.ts, which imports no parser: the CLI hands it to the live source first)
export { traceDefers } from './trace-defers.js';

/**
 * What a trace of one flow reads, and why that is all it can use:
 * - Service sources are asked about the destination (and port) only: traceService looks up that
 *   frontend, or for a node address kube-proxy's NodePort on every address, and nothing else;
 * - route tables of the families the path can consult: the destination's, its Service backends'
 *   (a Service may translate to the other family), and the WireGuard peer endpoints' (the outer
 *   packet); no lookup is made in another family;
 * - every pod namespace's addresses (which namespace holds an address), and links and routes of the
 *   namespaces holding the source, the destination or a backend: the only ones classify() and the
 *   pod's own routing read.
 */
export async function loadForFlow(
  source: ProbeSource,
  flow: Flow,
  kubeProxy: KubeProxyReader,
  offload?: Offload,
): Promise<{
  state: NodeState;
  services: LoadedServices;
  conntrack?: Promise<{ result: ScanResult; origin: string } | undefined>;
}> {
  // the destination's route table and the flow's conntrack entries are scanned in worker threads while this one
  // reads the rest (offload.ts)
  const family = familyOf(flow.dst) as 4 | 6;
  const routeScans = new Map<string, NonNullable<ReturnType<Offload['routes']>>>();
  const first = offload?.routes(`ip-route${family}`, family);
  if (first) routeScans.set(`ip-route${family}`, first);
  const routeScan: RouteScanStart = (id) => routeScans.get(id);
  // the flow's conntrack tuples to any destination, scanned from the start: the backends narrow them once the
  // Services are loaded (flow-conntrack.ts)
  const ctId = `conntrack${family}`;
  const early = offload?.conntrack(ctId, { kind: 'flow-source', flow, family }, SOURCE_SCAN_MAX);
  // workers bin/netpath.js started from the arguments (scan-early.ts) for jobs other than these two
  endScansEarly();
  const addrText = await source.read('ip-addr').catch(() => undefined);
  let addrs: Address[] = [];
  if (addrText) {
    try {
      addrs = parseIpAddr(addrText.text, 'ip-addr').value;
    } catch {
      addrs = [];
    }
  }
  const only: ServiceQuery[] = [
    { kind: 'address', address: flow.dst, ...(flow.dport !== undefined ? { port: flow.dport } : {}) },
  ];
  // traceService falls back to kube-proxy's NodePort (0.0.0.0:PORT) for a packet to a node address, and to
  // Cilium's wildcard NodePort entry for a connect() to any node's address or loopback (socket-LB)
  if (flow.dport !== undefined)
    only.push({ kind: 'address', address: familyOf(flow.dst) === 6 ? '::' : '0.0.0.0', port: flow.dport });
  const services = await loadServices(source, addrs, kubeProxy, { only });
  const alsoDst = conntrackBackends(services, flow);
  const exact = () => offload?.conntrack(ctId, { kind: 'flow', flow, family, alsoDst }, MAX_FLOW_ENTRIES);
  const conntrack = early?.then(async (pre) => {
    // no answer from the worker: this thread reads the table (lookupConntrack), as without one
    if (!pre) return undefined;
    const result = narrowSourceScan(pre.result, flow, family, alsoDst, MAX_FLOW_ENTRIES);
    // too many tuples, or a warning, to narrow: the exact question, in a worker as before
    return result ? { result, origin: pre.origin } : exact();
  });
  const backends = services.entries.flatMap((e) => e.backends.map((b) => b.address));
  const fams = new Set<4 | 6>([family]);
  for (const a of backends) fams.add(familyOf(a) === 6 ? 6 : 4);
  const state = await loadNodeState(source, { routes: 'columns', families: [...fams], netns: 'addrs', routeScan });
  for (const w of state.wg)
    for (const p of w.peers)
      if (p.endpoint) {
        const f = familyOf(endpointHost(p.endpoint));
        if (f !== null) fams.add(f);
      }
  await loadRouteFamilies(source, state, [...fams], undefined, routeScan);
  await loadNetnsDetails(source, state, netnsHolding(state, [flow.src, flow.dst, ...backends]));
  return conntrack ? { state, services, conntrack } : { state, services };
}

/** Backends of the Services at the flow's destination: the conntrack lookup also matches tuples to them. */
export function conntrackBackends(services: LoadedServices, flow: Flow): { address: string; port: number }[] {
  return services.entries
    .filter((e) => e.frontend.address === flow.dst)
    .flatMap((e) => e.backends.map((b) => ({ address: b.address, port: b.port })));
}
