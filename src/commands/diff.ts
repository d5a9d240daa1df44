import { EXIT, errorLine, SourceError, UsageError } from '../errors.js';
import { kubeProxyReader } from '../analysis/kube-proxy/index.js';
import {
  diffNodes,
  pruneIptables,
  readOfBeforeIptables,
  type DiffOptions,
  type DiffSideInput,
} from '../analysis/diff.js';
import type { Diff } from '../model/diff.js';
import type { Warning } from '../model/types.js';
import { loadNodeState, REQUIRED_PROBES } from '../collect/load-state.js';
import { loadServices, type ServiceLoadOptions } from '../collect/load-services.js';
import { SameBytes, SameInputs, sameFileBytes, SameTexts } from '../collect/same-inputs.js';
import { DIFF_IPTABLES_MIN_BYTES, diffIptablesOffload } from './diff-iptables-offload.js';
import type { decodeLbMaps } from '../tools/bpf-map/index.js';
import { openSnapshot, streamProbe, type ProbeSource } from '../collect/source.js';
import { parseIpset, type IpSet } from '../tools/ipset/index.js';
import { scanConntrack } from '../tools/conntrack/index.js';
import { createOffload, type Offload, type OffloadOptions, type RouteScan } from '../collect/offload.js';
import { unreadableSources } from './trace.js';

const MAX_CT_ENTRIES = 50_000;
const CT_PROBES = ['conntrack4', 'conntrack6'] as const;

export type SideLabel = 'before' | 'after';

/** Where a side comes from: `live` (this node, or the one `--exec` reaches) or a snapshot directory / `.tar.gz`. */
export async function openSide(
  spec: string,
  label: SideLabel,
  live: () => Promise<ProbeSource>,
  warn: (w: string) => void,
  /** --node: the node to read on a side that is a cilium sysdump */
  node?: string,
): Promise<ProbeSource> {
  if (spec === 'live') return live();
  try {
    const opened = await openSnapshot(spec, node === undefined ? {} : { node, nodeOnlyForSysdump: true });
    for (const w of opened.warnings) warn(`${label}: ${w}`);
    return opened.source;
  } catch (e) {
    if (e instanceof SourceError) throw new SourceError(`${label}: ${e.source}`, e.detail);
    throw e;
  }
}

/** Reads one side: node state, every Service layer, the rulesets and ipsets leftovers live in. */
export async function loadDiffSide(
  source: ProbeSource,
  label: SideLabel,
  offloadOpts?: OffloadOptions | false,
  /**
   * `check` reads a node the same way, and a node without any Service source is still checked;
   * `keepIptables`: only these chains of the parsed iptables are kept (the rest is released at once)
   */
  opts: {
    requireServices?: boolean;
    keepIptables?: (table: string, chain: string) => boolean;
    /** shared by the two sides of one diff: LB maps byte for byte the same are decoded once */
    lbMemo?: ServiceLoadOptions['lbMemo'];
    /** the whole iptables-save read elsewhere (diff's before side: diff-iptables-offload.ts) */
    iptablesWhole?: ServiceLoadOptions['iptablesWhole'];
    /** check: kube-proxy's per-Service chains read lean (ServiceLoadOptions.leanIptables) */
    leanIptables?: boolean;
    /**
     * 'count': the NATed conntrack entries are counted, not kept (`conntrack` holds none; its `cut` and the
     * warnings are the same). diffNodes reads only the after side's entries.
     */
    conntrack?: 'keep' | 'count';
    /** the NATed conntrack entries read per probe (tests: to reach the cut on a small table) */
    maxConntrack?: number;
    /** shared by the two sides of one diff: probe outputs of the node state with the same text are parsed once */
    sameTexts?: SameTexts;
    /** shared by the two sides of one diff: an iptables-save dump with the same bytes is parsed once */
    iptablesMemo?: ServiceLoadOptions['iptablesMemo'];
    /** route scans already started for this side (routePairScans): taken instead of a worker of its own */
    routeScans?: Map<string, Promise<RouteScan | undefined>>;
  } = {},
): Promise<
  DiffSideInput & { serviceSources?: { probe: string; status: string; origin?: string; message?: string }[] }
> {
  // the route tables and the conntrack tables are byte scans this side's other reads do not wait
  // for: on a snapshot directory they run in worker threads (offload.ts)
  const offload = offloadOpts === false ? undefined : createOffload(source, offloadOpts);
  try {
    return await readSide(
      source,
      label,
      offload,
      opts.requireServices ?? true,
      opts.keepIptables,
      {
        ...(opts.lbMemo ? { lbMemo: opts.lbMemo } : {}),
        ...(opts.iptablesWhole ? { iptablesWhole: opts.iptablesWhole } : {}),
        ...(opts.leanIptables ? { leanIptables: true } : {}),
        ...(opts.iptablesMemo ? { iptablesMemo: opts.iptablesMemo } : {}),
      },
      opts.conntrack === 'count',
      opts.maxConntrack ?? MAX_CT_ENTRIES,
      opts.sameTexts,
      opts.routeScans,
    );
  } finally {
    await offload?.close();
  }
}

async function readSide(
  source: ProbeSource,
  label: SideLabel,
  offload: Offload | undefined,
  requireServices: boolean,
  keepIptables?: (table: string, chain: string) => boolean,
  loadOpts: ServiceLoadOptions = {},
  countConntrack = false,
  maxCt = MAX_CT_ENTRIES,
  sameTexts?: SameTexts,
  routeScans?: Map<string, Promise<RouteScan | undefined>>,
): Promise<
  DiffSideInput & { serviceSources?: { probe: string; status: string; origin?: string; message?: string }[] }
> {
  const scans = new Map<string, NonNullable<ReturnType<Offload['routes']>>>();
  for (const f of [4, 6] as const) {
    const p = routeScans?.get(`ip-route${f}`) ?? offload?.routes(`ip-route${f}`, f);
    if (p) scans.set(`ip-route${f}`, p);
  }
  const cts = new Map<string, NonNullable<ReturnType<Offload['conntrack']>>>();
  for (const id of CT_PROBES) {
    const p = offload?.conntrack(id, { kind: 'plain', q: { nat: 'dnat' } }, maxCt, countConntrack);
    if (p) cts.set(id, p);
  }
  // routes as columns: a diff traces a few flows and asks for a few routes (the default route, the
  // local table), it never walks all of a large node's routes
  const state = await loadNodeState(source, {
    routes: 'columns',
    routeScan: (id) => scans.get(id),
    ...(sameTexts ? { sameTexts } : {}),
  });
  const services = await loadServices(source, state.addrs, kubeProxyReader, loadOpts);
  // released before this side's other reads (and the other side's) await: the Services are already derived
  const iptables = keepIptables
    ? services.parsed.iptables.map((x) => ({ ...x, rules: pruneIptables(x.rules, keepIptables) }))
    : services.parsed.iptables;
  services.parsed.iptables = [];
  // a node without kube-proxy has no KUBE-SERVICES: expected here, not worth a warning
  const warnings: Warning[] = services.warnings.filter(
    (w) => w.code !== 'kube-proxy-no-services' && w.code !== 'kube-proxy-no-nat',
  );
  const present = services.sources.filter((s) => s.status !== 'missing');
  if (requireServices && (present.length === 0 || present.every((s) => s.status === 'failed'))) {
    const failed = present.map((s) => `${s.probe}: ${s.message}`).join('; ');
    throw new SourceError(
      `${label}: ${source.description}`,
      failed
        ? `no readable Service source (${failed})`
        : 'no Service source (LB maps, cilium-dbg service list / bpf lb list, iptables-save, nft list ruleset, ipvsadm): cannot tell what it serves',
    );
  }
  const noState = REQUIRED_PROBES.every((id) => {
    const s = state.sources.find((x) => x.probe === id);
    return !s || s.status === 'missing' || s.status === 'failed';
  });
  if (noState)
    warnings.push({
      code: 'no-node-state',
      message: `no ip-link/ip-addr/ip-route in ${source.description}: NodePorts are compared as programmed and paths cannot be traced`,
    });
  for (const w of state.warnings) if (w.code === 'probe-unreadable') warnings.push(w);
  let ipsets: IpSet[] | undefined;
  try {
    const got = await source.read('ipset');
    if (got && got.text.trim() !== '') {
      const p = parseIpset(got.text, 'ipset');
      ipsets = p.value;
      warnings.push(...p.warnings);
    } else if (got) ipsets = [];
  } catch (e) {
    warnings.push({ code: 'probe-unreadable', message: `ipset: ${errorLine(e)}`, source: 'ipset' });
  }
  // only entries with destination NAT matter (connections kube-proxy translated): streamed, the rest dropped unparsed
  const conntrack: NonNullable<DiffSideInput['conntrack']> = [];
  for (const id of CT_PROBES) {
    try {
      const pre = await cts.get(id);
      let r = pre?.result;
      if (!r) {
        const st = await streamProbe(source, id);
        if (!st) continue;
        r = await scanConntrack(
          st.chunks,
          { nat: 'dnat' },
          { probe: id, maxEntries: maxCt, ...(countConntrack ? { onEntry: () => {} } : {}) },
        );
      }
      conntrack.push({ probe: id, entries: r.entries, cut: r.cut });
      warnings.push(...r.warnings.slice(0, 5));
      if (r.cut)
        warnings.push({
          code: 'conntrack-cut',
          message: `${id}: more than ${maxCt} NATed entries; the rest were not read`,
          source: id,
        });
    } catch (e) {
      warnings.push({ code: 'probe-unreadable', message: `${id}: ${errorLine(e)}`, source: id });
    }
  }
  const side: DiffSideInput & { serviceSources?: typeof services.sources } = {
    source: source.description,
    state,
    services: services.entries,
    iptables,
    warnings,
  };
  side.serviceSources = services.sources;
  if (conntrack.length) side.conntrack = conntrack;
  if (services.parsed.nft) side.nft = services.parsed.nft;
  if (ipsets) side.ipsets = ipsets;
  return side;
}

export interface DiffOutcome {
  diff: Diff;
  exitCode: number;
  /** sources of either side that could not be read or parsed (`before: path: why`) */
  unreadable: string[];
}

/** `netpath diff BEFORE AFTER`: exit 1 when the migration regressed anything, 0 when it is clean. */
export async function runDiff(
  before: ProbeSource,
  after: ProbeSource,
  opts: {
    maxFlows?: number;
    offload?: OffloadOptions | false;
    /**
     * false: each side decodes every source itself (the reference the shared decoding is tested against); `keep`:
     * applied to each parsed probe output shared by the two sides (SameTexts)
     */
    sameInputs?: boolean | { keep: <T>(v: T) => T };
    /**
     * the before side's iptables-save in a worker thread (diff-iptables-offload.ts); false: read here.
     * Default: on, unless `offload` is false
     */
    iptablesOffload?: Parameters<typeof diffIptablesOffload>[1] | false;
    /** the traced flows' memo (DiffOptions.memo); false: every flow asks afresh (the reference) */
    memo?: DiffOptions['memo'];
    /**
     * 'keep': the before side keeps its NATed conntrack entries (the reference). Default 'count': diffNodes
     * reads only the after side's, so the before side's are counted for its warnings and never sent from the
     * worker nor held (50,000 entries at the cut)
     */
    beforeConntrack?: 'keep' | 'count';
    /** NATed conntrack entries read per probe (tests: a cut on a small table) */
    maxConntrack?: number;
    /**
     * kube-proxy's per-Service chains of both sides' iptables-save read lean (tools/iptables/lean-rules.ts), here
     * and in the before side's worker: the Services and what findLeftovers reads are the same (it reads through
     * model/iptables-lean.ts). false: parsed whole (the reference). Default true
     */
    leanIptables?: boolean;
    /** false: each side scans its route files itself (the reference the pair scan is tested against). Default true */
    routePairs?: boolean;
  } = {},
): Promise<DiffOutcome> {
  if (opts.maxFlows !== undefined && (!Number.isInteger(opts.maxFlows) || opts.maxFlows < 0))
    throw new UsageError('--max-flows must be a whole number');
  // the LB maps are often the same bytes on both sides (kube-proxy's removal does not touch them)
  const lbMemo = opts.sameInputs === false ? undefined : new SameInputs<ReturnType<typeof decodeLbMaps>>();
  // and so are most other probe files, and every pod namespace's
  const sameTexts =
    opts.sameInputs === false
      ? undefined
      : new SameTexts(typeof opts.sameInputs === 'object' ? opts.sameInputs.keep : undefined);
  const lean = opts.leanIptables ?? true;
  // iptables-save byte for byte the same on both sides (a node diffed with itself, or rules unchanged between two
  // captures) is parsed once, here, and both sides take that parse: no worker parses it a second time
  const worker = !(opts.iptablesOffload === false || (opts.offload === false && opts.iptablesOffload === undefined));
  const sameDumps = new Set<string>();
  // the before side's dumps its worker reads: the after side's parse of such a probe is kept for nobody
  const workerReads = new Set<string>();
  if (opts.sameInputs !== false && worker) {
    const min = (opts.iptablesOffload ? opts.iptablesOffload.minBytes : undefined) ?? DIFF_IPTABLES_MIN_BYTES;
    for (const id of ['iptables-save', 'ip6tables-save']) {
      const fb = before.file?.(id);
      const fa = after.file?.(id);
      if (!fb || fb.size < min) continue;
      if (fa && fb.size === fa.size && sameFileBytes(fb.path, fa.path)) sameDumps.add(id);
      else workerReads.add(id);
    }
  }
  const iptablesMemo =
    opts.sameInputs === false
      ? undefined
      : new SameBytes(
          typeof opts.sameInputs === 'object' ? opts.sameInputs.keep : undefined,
          (key) => !workerReads.has(key.split('|')[0]!),
        );
  // started first: the largest parse of a realistic pair, on the other core while this thread reads the rest
  const kp = worker ? diffIptablesOffload(before, { lean, ...opts.iptablesOffload, skip: sameDumps }) : undefined;
  // route9: both sides' route files in one worker per family, the after side made from the before side's scan
  const pairs = routePairScans(before, after, opts.offload, opts.routePairs);
  let b: Awaited<ReturnType<typeof loadDiffSide>>;
  let a: Awaited<ReturnType<typeof loadDiffSide>>;
  try {
    [b, a] = await Promise.all([
      // of the before side's rulesets diffNodes reads a few chains (readOfBeforeIptables); the rest is released
      loadDiffSide(before, 'before', opts.offload, {
        keepIptables: readOfBeforeIptables,
        lbMemo,
        leanIptables: lean,
        ...(sameTexts ? { sameTexts } : {}),
        ...(iptablesMemo ? { iptablesMemo } : {}),
        ...(kp ? { iptablesWhole: kp.take } : {}),
        ...(pairs ? { routeScans: pairs.before } : {}),
        conntrack: opts.beforeConntrack ?? 'count',
        ...(opts.maxConntrack !== undefined ? { maxConntrack: opts.maxConntrack } : {}),
      }),
      loadDiffSide(after, 'after', opts.offload, {
        ...(pairs ? { routeScans: pairs.after } : {}),
        lbMemo,
        leanIptables: lean,
        ...(sameTexts ? { sameTexts } : {}),
        ...(iptablesMemo ? { iptablesMemo } : {}),
        ...(opts.maxConntrack !== undefined ? { maxConntrack: opts.maxConntrack } : {}),
      }),
    ]);
  } finally {
    await kp?.close();
    await pairs?.close();
  }
  const diff = diffNodes(b, a, {
    ...(opts.maxFlows !== undefined ? { maxFlows: opts.maxFlows } : {}),
    ...(opts.memo !== undefined ? { memo: opts.memo } : {}),
  });
  const unreadable = [
    ...unreadableSources([b.state.sources, b.serviceSources ?? []], b.state.warnings).map((x) => `before: ${x}`),
    ...unreadableSources([a.state.sources, a.serviceSources ?? []], a.state.warnings).map((x) => `after: ${x}`),
  ];
  // a verdict over a side that could not be read whole is no verdict: neither "clean" nor a regression it made up
  const exitCode = unreadable.some((u) => !/ is outside the versions /.test(u))
    ? EXIT.source
    : diff.summary.verdict === 'clean'
      ? EXIT.ok
      : EXIT.bad;
  return { diff, exitCode, unreadable };
}

/**
 * route9: the route files of two snapshots of one node are the same bytes but for the routes that
 * changed: one worker per family scans the before file and makes the after side's scan from it
 * (tools/ip/route-pair.ts), instead of one full scan per side. undefined when a side is not files on
 * disk, or when turned off; a family whose files are too small for a worker is left to each side.
 */
function routePairScans(
  before: ProbeSource,
  after: ProbeSource,
  offloadOpts: OffloadOptions | false | undefined,
  on = true,
):
  | {
      before: Map<string, Promise<RouteScan | undefined>>;
      after: Map<string, Promise<RouteScan | undefined>>;
      close: () => Promise<void>;
    }
  | undefined {
  if (!on || offloadOpts === false || !after.file) return undefined;
  const off = createOffload(before, offloadOpts);
  if (!off) return undefined;
  const b = new Map<string, Promise<RouteScan | undefined>>();
  const a = new Map<string, Promise<RouteScan | undefined>>();
  for (const f of [4, 6] as const) {
    const id = `ip-route${f}`;
    const p = off.routePair(id, f, after);
    if (!p) continue;
    b.set(id, p.before);
    a.set(id, p.after);
  }
  return { before: b, after: a, close: () => off.close() };
}
