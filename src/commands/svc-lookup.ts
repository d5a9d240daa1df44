import { EXIT, SourceError, UsageError } from '../errors.js';
import { kubeProxyReader } from '../analysis/kube-proxy/index.js';
import { compareWithApi, lookupServices, parseServiceQuery } from '../analysis/services.js';
import type { FrontendView, LookupResult } from '../model/service.js';
import { kubeGetEndpoints, kubeGetService, type KubeTarget } from '../collect/kube.js';
import { type IptablesOffload, loadServices } from '../collect/load-services.js';
import { iptablesOffload } from './svc-offload.js';
import type { ProbeSource } from '../collect/source.js';
import { parseIpAddr } from '../tools/ip/index.js';
import { emptyNodeState, type Address, type Warning } from '../model/types.js';
import { deriveDatapath, type Fact } from '../analysis/datapath.js';
import type { NodeLbFacts } from '../analysis/service-flags.js';
import { parseCiliumConfig, parseCiliumStatus } from '../tools/cilium/index.js';

export interface SvcLookupOutcome {
  node: string | null;
  result: LookupResult;
  exitCode: number;
  /** Service sources that were there but could not be read or parsed (`path: why`) */
  unreadable: string[];
}

/** `svc lookup`: every frontend that matches, from every layer that programs Services. */
export async function runSvcLookup(
  source: ProbeSource,
  queryText: string,
  kube?: KubeTarget,
  /** iptables-save's workers, started by the caller as early as it has the source (svc-offload.ts) */
  offload: IptablesOffload | undefined = iptablesOffload(source),
): Promise<SvcLookupOutcome> {
  const query = parseServiceQuery(queryText);
  if (!query)
    throw new UsageError(`${JSON.stringify(queryText)} is not address[:port][/tcp|udp|sctp] or namespace/name`);
  let addrs: Address[] = [];
  const a = await source.read('ip-addr').catch(() => undefined);
  if (a) {
    try {
      addrs = parseIpAddr(a.text, 'ip-addr').value;
    } catch {
      addrs = [];
    }
  }
  // every source is read, but only the Services that answer the query are built
  const loaded = await loadServices(source, addrs, kubeProxyReader, {
    only: query,
    ...(offload ? { iptablesOffload: offload } : {}),
  });
  const present = loaded.sources.filter((s) => s.status !== 'missing');
  if (present.length === 0 || present.every((s) => s.status === 'failed')) {
    // one reason, every source it took: `iptables-save, nft-ruleset: permission denied: needs CAP_NET_ADMIN`
    const byReason = new Map<string, string[]>();
    for (const s of present) {
      const why = (s.message ?? 'failed').replace(/^[\w.-]+: /, '');
      byReason.set(why, [...(byReason.get(why) ?? []), s.probe]);
    }
    const failed = [...byReason].map(([why, ids]) => `${ids.join(', ')}: ${why}`).join('; ');
    throw new SourceError(
      source.description,
      failed
        ? `no readable Service source (${failed})`
        : 'no Service source (cilium-dbg service list, bpf lb list, LB maps, iptables-save, nft, ipvsadm)',
    );
  }
  const { kpr, node: lbNode } = await nodeLbSettings(source);
  let result = lookupServices(loaded.entries, query, { kubeProxyReplacement: kpr, node: lbNode });
  const warnings: Warning[] = [...loaded.warnings];
  // LB maps carry no names: a Service the node state cannot name is asked of the API, then looked up by address
  if (query.kind === 'name' && result.frontends.length === 0 && kube) {
    const svc = await kubeGetService(kube, query.namespace, query.name);
    const display = `${query.namespace}/${query.name}`;
    if (svc.clusterIPs.length === 0)
      throw new UsageError(
        `service ${display} has no ClusterIP (${svc.externalName !== undefined ? `ExternalName ${svc.externalName}` : 'headless'}): nothing on a node programs it`,
      );
    const frontends: FrontendView[] = [];
    const apiChecks: Warning[] = [];
    const endpoints = await kubeGetEndpoints(kube, query.namespace, query.name);
    for (const ip of svc.clusterIPs) {
      for (const p of svc.ports) {
        const q = { kind: 'address' as const, address: ip, port: p.port, proto: p.protocol };
        const byAddr = await loadServices(source, addrs, kubeProxyReader, {
          only: q,
          ...(offload ? { iptablesOffload: offload } : {}),
        });
        const found = lookupServices(byAddr.entries, q, { kubeProxyReplacement: kpr, node: lbNode }).frontends;
        for (const f of found) {
          if (frontends.some((x) => x.frontend === f.frontend)) continue;
          f.name ??= display;
          frontends.push(f);
          apiChecks.push(...compareWithApi(f, p, endpoints, `kubectl get endpointslices ${display}`));
        }
      }
    }
    const asked = svc.clusterIPs.flatMap((ip) =>
      svc.ports.map((p) => `${ip.includes(':') ? `[${ip}]` : ip}:${p.port}/${p.protocol}`),
    );
    warnings.push({
      code: 'name-resolved',
      message: `${display} is ${asked.join(', ') || svc.clusterIPs.join(', ')} (from kubectl; the node state does not name it)`,
      source: svc.evidence.probe,
    });
    if (frontends.length === 0)
      warnings.push({
        code: 'not-programmed',
        message: `the API has service ${display}, but no Service source on this node programs ${asked.join(', ')}`,
        source: svc.evidence.probe,
      });
    warnings.push(...apiChecks);
    result = { ...result, frontends };
  }
  if (loaded.lbLayout)
    warnings.push({
      code: 'lb-layout',
      message: `LB maps decoded with the ${loaded.lbLayout.version} layout (${loaded.lbLayout.because})`,
      source: 'bpf-map',
    });
  result.warnings = warnings;
  let node: string | null = null;
  const m = await source.manifest().catch(() => undefined);
  if (m) {
    try {
      const j = JSON.parse(m) as { node?: unknown };
      if (typeof j.node === 'string') node = j.node;
    } catch {
      node = null;
    }
  }
  const unreadable = loaded.sources
    .filter((s) => s.status === 'failed')
    .map((s) => `${s.origin ?? s.probe}: ${s.message ?? 'unreadable'}`)
    .sort();
  // "nothing matches" is only an answer when every source that was there could be read
  return {
    node,
    result,
    exitCode: result.frontends.length > 0 ? EXIT.ok : unreadable.length > 0 ? EXIT.source : EXIT.bad,
    unreadable,
  };
}

/**
 * Whether kube-proxy replacement is on decides if Cilium and kube-proxy both programming a ClusterIP is stale
 * state or the design; the node's NodePort mode and backend selection decide the flags a Service entry does not
 * carry. Only the status and config are read for them (not the whole node state).
 */
async function nodeLbSettings(source: ProbeSource): Promise<{ kpr: Fact<boolean>; node: NodeLbFacts }> {
  const state = emptyNodeState();
  const st = await source.read('cilium-status').catch(() => undefined);
  if (st) {
    try {
      state.cilium.status = parseCiliumStatus(st.text, 'cilium-status').value;
    } catch {
      // unreadable status: the mode stays unknown and the conflict text says so
    }
  }
  // the config only matters when the status does not say whether kube-proxy replacement is on
  // (deriveDatapath takes the status's mode, and its disagreement warnings are not shown here)
  const cfg = state.cilium.status?.kubeProxyReplacement
    ? undefined
    : await source.read('cilium-config').catch(() => undefined);
  if (cfg) {
    try {
      Object.assign(state.cilium.config, parseCiliumConfig(cfg.text, 'cilium-config').value);
    } catch {
      // as above
    }
  }
  const st2 = state.cilium.status;
  const node: NodeLbFacts = {};
  if (st2?.version !== undefined) node.version = st2.version;
  if (st2?.backendSelection) node.backendSelection = st2.backendSelection;
  if (st2?.kprMode) node.kprMode = st2.kprMode;
  return { kpr: deriveDatapath(state).kubeProxyReplacement, node };
}
