import { deriveDatapath, type Datapath, type Fact } from '../analysis/datapath.js';
import { failuresIn, loadNodeState } from '../collect/load-state.js';
import type { ProbeSource } from '../collect/source.js';
import { EXIT, SourceError } from '../errors.js';
import type { Evidence, NodeState } from '../model/types.js';
import type { NodeReport } from '../render/node.js';
import { byCodeUnit } from '../model/order.js';

/*
 * `netpath node`: what netpath concluded about a node, each conclusion with the probe lines it rests on
 * (or `unknown` and why), the probes it lacked, and the warnings. The conclusions are deriveDatapath's
 * (the same a trace uses): this command shows them, it never decides anything of its own.
 */

type FactJson<T> =
  | { known: true; value: T; evidence: Evidence[]; inferred?: boolean; because?: string }
  | {
      known: false;
      because: string;
    };

const plain = <T>(f: Fact<T>): FactJson<T> =>
  f.known
    ? {
        known: true,
        value: f.value,
        evidence: f.evidence,
        ...(f.inferred ? { inferred: true } : {}),
        ...(f.because ? { because: f.because } : {}),
      }
    : { known: false, because: f.because };

/** Encryption as the status states it (WireGuard, IPsec, Disabled), else what deriveDatapath saw of WireGuard. */
function encryption(state: NodeState, dp: Datapath): FactJson<{ mode: string; device?: string }> {
  const e = state.cilium.status?.encryption;
  if (e)
    return { known: true, value: { mode: e.mode, ...(e.device ? { device: e.device } : {}) }, evidence: [e.source] };
  const wg = plain(dp.wireguard);
  return wg.known ? { ...wg, value: { mode: 'Wireguard', device: wg.value.device } } : wg;
}

/**
 * `lost`: probes the source's manifest says it could not capture (a capture's failures, what a sysdump never
 * holds) and that the node state never asked for (the Service layers, conntrack): missing all the same.
 */
export function buildNodeReport(
  state: NodeState,
  description: string,
  lost: Map<string, { message: string; absent: boolean }> = new Map(),
): NodeReport {
  const dp = deriveDatapath(state);
  const uname = state.sources.find((s) => s.probe === 'uname' && (s.status === 'ok' || s.status === 'partial'));
  const kernel = plain(dp.kernel);
  const missingProbes = state.sources
    .filter((s): s is typeof s & { status: 'missing' | 'failed' } => s.status === 'missing' || s.status === 'failed')
    .map((s) => ({
      probe: s.probe,
      status: s.status,
      why: s.message ?? (s.status === 'missing' ? `not in ${description}` : 'unreadable'),
    }))
    .concat(
      [...lost]
        .filter(([id]) => !state.sources.some((s) => s.probe === id))
        .map(([probe, f]) => ({
          probe,
          status: f.absent ? ('missing' as const) : ('failed' as const),
          why: f.message,
        })),
    )
    .sort((a, b) => byCodeUnit(a.probe, b.probe));
  return {
    schemaVersion: 1,
    node: state.node.name,
    source: description,
    facts: {
      ciliumVersion: plain(dp.ciliumVersion),
      // the release is the uname probe's whole output: that line is its evidence
      kernel: kernel.known && uname ? { ...kernel, evidence: [{ probe: 'uname', text: kernel.value }] } : kernel,
      routingMode: plain(dp.routingMode),
      hostRouting: plain(dp.hostRouting),
      kubeProxyReplacement: plain(dp.kubeProxyReplacement),
      socketLB: plain(dp.socketLB),
      attachMode: plain(dp.attachMode),
      deviceMode: plain(dp.deviceMode),
      masquerade: plain(dp.masquerade),
      encryption: encryption(state, dp),
      nativeRoutingCidrV4: plain(dp.nativeRoutingCidr.v4),
      nativeRoutingCidrV6: plain(dp.nativeRoutingCidr.v6),
      devices: plain(dp.nativeDevices),
      directRoutingDevice: plain(dp.directRoutingDevice),
      endpointRoutes: plain(dp.endpointRoutes),
    },
    legacyHostRoutingReasons: dp.legacyReasons,
    probes: state.sources
      .map((s) => ({
        probe: s.probe,
        status: s.status,
        ...(s.origin !== undefined ? { origin: s.origin } : {}),
        ...(s.message !== undefined ? { message: s.message } : {}),
      }))
      .sort((a, b) => byCodeUnit(a.probe, b.probe)),
    missingProbes,
    warnings: [...state.warnings, ...dp.warnings],
  };
}

export interface NodeOutcome {
  report: NodeReport;
  exitCode: number;
}

/** Reads the node and reports; exit 3 when not one probe could be read (nothing to conclude from). */
export async function runNode(source: ProbeSource): Promise<NodeOutcome> {
  const state = await loadNodeState(source);
  const lost = failuresIn(await source.manifest().catch(() => undefined));
  const report = buildNodeReport(state, source.description, lost);
  if (!state.sources.some((s) => s.status === 'ok' || s.status === 'partial'))
    throw new SourceError(source.description, 'no probe output could be read: nothing to report about this node');
  return { report, exitCode: EXIT.ok };
}
