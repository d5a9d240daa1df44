import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, SourceError } from '../errors.js';
import { checkNode, type CheckInput, type CheckOptions } from '../analysis/check/index.js';
import { createTraceContext, type TraceContext } from '../analysis/trace.js';
import { journeyFindings } from '../analysis/check/journeys.js';
import type { Node } from '../analysis/journey-walk.js';
import type { CheckReport, Finding } from '../model/check.js';
import { REQUIRED_PROBES } from '../collect/load-state.js';
import { dirSource, type ProbeSource } from '../collect/source.js';
import type { OffloadOptions } from '../collect/offload.js';
import { loadDiffSide } from './diff.js';
import { reasons, unreadableSources } from './trace.js';

export interface CheckOutcome {
  report: CheckReport;
  exitCode: number;
  unreadable: string[];
  /** the node's trace context (`--cluster` follows journeys across the nodes with it) */
  ctx?: TraceContext;
}

/** 1 when a finding is an error, else 0 (3, the state could not be read, is thrown as a SourceError). */
export function exitForFindings(findings: Finding[]): number {
  return findings.some((f) => f.severity === 'error') ? EXIT.bad : EXIT.ok;
}

/** Reads one node (snapshot or live) and checks every path on it. */
export async function runCheck(
  source: ProbeSource,
  opts: CheckOptions & {
    nodeName?: (n: string) => string;
    offload?: OffloadOptions | false;
    /** false: iptables-save parsed whole (the reference the lean read is tested against) */
    lean?: boolean;
  } = {},
): Promise<CheckOutcome> {
  // only `input` holds the side: check drops it once read (releaseSide), so its rulesets and conntrack
  // entries are not kept through the traces
  const { input, serviceSources } = await readNode(source, opts);
  const { ctx } = input;
  const { state } = ctx;
  const report = checkNode(input, {
    ...(opts.maxFlows !== undefined ? { maxFlows: opts.maxFlows } : {}),
    ...(opts.progress ? { progress: opts.progress } : {}),
    ...(opts.memo !== undefined ? { memo: opts.memo } : {}),
  });
  return {
    report,
    exitCode: exitForFindings(report.findings),
    unreadable: unreadableSources([state.sources, serviceSources], state.warnings),
    ctx,
  };
}

/** The node read and its trace context, as the input checkNode takes (the side held by it alone). */
async function readNode(
  source: ProbeSource,
  opts: { nodeName?: (n: string) => string; offload?: OffloadOptions | false; lean?: boolean },
): Promise<{ input: CheckInput & { ctx: TraceContext }; serviceSources: { probe: string; status: string }[] }> {
  // check reads the side's rulesets through model/iptables-lean.ts (findLeftovers, kube-proxy's Services): the
  // per-Service chains are read lean, never parsed whole
  const side = await loadDiffSide(source, 'after', opts.offload, {
    requireServices: false,
    ...(opts.lean === false ? {} : { leanIptables: true }),
  });
  const { state } = side;
  const missing = REQUIRED_PROBES.filter((id) => {
    const s = state.sources.find((x) => x.probe === id);
    return !s || s.status === 'missing' || s.status === 'failed';
  });
  // one route family may be absent (an IPv4-only node); without links, addresses or any routes nothing can be traced
  if (missing.length >= REQUIRED_PROBES.length - 1 || missing.includes('ip-addr') || missing.includes('ip-link'))
    throw new SourceError(source.description, `no node state to check (${reasons(state, missing)})`);
  if (opts.nodeName && state.node.name) state.node.name = opts.nodeName(state.node.name);
  state.warnings.push(...side.warnings);
  const ctx = createTraceContext(state, side.services);
  return {
    input: { ctx, side, warnings: side.warnings, releaseSide: true },
    serviceSources: side.serviceSources ?? [],
  };
}

/**
 * `--cluster DIR`: every node snapshot of the directory checked on its own (findings carry their node), then
 * merged: errors of any node first.
 */
export async function runClusterCheck(
  dir: string,
  opts: CheckOptions & { nodeName?: (n: string) => string } = {},
): Promise<CheckOutcome> {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => statSync(join(dir, n)).isDirectory())
      .sort();
  } catch {
    throw new SourceError(dir, 'no such cluster directory');
  }
  const display = opts.nodeName ?? ((n: string) => n);
  const findings: Finding[] = [];
  const warnings: CheckReport['warnings'] = [];
  const unreadable: string[] = [];
  const nodes: string[] = [];
  const walked: Node[] = [];
  let checked = 0;
  let enumerated = 0;
  for (const n of names) {
    let out: CheckOutcome;
    try {
      out = await runCheck(dirSource(join(dir, n)), {
        ...(opts.maxFlows !== undefined ? { maxFlows: opts.maxFlows } : {}),
        ...(opts.progress ? { progress: opts.progress } : {}),
        offload: false,
      });
    } catch (e) {
      if (!(e instanceof SourceError)) throw e;
      warnings.push({ code: 'node-skipped', message: `${display(n)}: ${e.detail}` });
      continue;
    }
    const name = display(n);
    nodes.push(name);
    if (out.ctx) walked.push({ name, ctx: out.ctx, state: out.ctx.state });
    checked += out.report.flowsChecked;
    enumerated += out.report.flowsEnumerated;
    findings.push(...out.report.findings.map((f) => ({ ...f, node: name })));
    warnings.push(...out.report.warnings.map((w) => ({ ...w, message: `${name}: ${w.message}` })));
    unreadable.push(...out.unreadable.map((u) => `${name}: ${u}`));
  }
  if (nodes.length === 0) throw new SourceError(dir, 'no node snapshot in the directory');
  // cross-node journeys: what a pod's flow meets on the node it is forwarded to
  const journeys = journeyFindings(walked, dir, {
    ...(opts.maxFlows !== undefined ? { maxJourneys: opts.maxFlows } : {}),
  });
  findings.push(...journeys.findings);
  warnings.push(...journeys.warnings);
  // each walk across nodes (a journey, or a reply walked back) is one more checked flow
  checked += journeys.followed;
  enumerated += journeys.enumerated;
  const rank = { error: 0, warning: 1, info: 2 } as const;
  findings.sort((a, b) => rank[a.severity] - rank[b.severity] || b.flows.count - a.flows.count);
  const report: CheckReport = {
    schemaVersion: 1,
    node: null,
    nodes,
    flowsChecked: checked,
    flowsEnumerated: enumerated,
    findings,
    warnings,
  };
  return { report, exitCode: exitForFindings(findings), unreadable };
}
