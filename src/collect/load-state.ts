import { emptyNodeState, type Link, type NodeState, type Parsed, type Route, type Warning } from '../model/types.js';
import { canonPrefix } from '../model/addr.js';
import { errorLine, SourceError } from '../errors.js';
import { parseIpAddr, parseIpLink, parseIpNeigh, parseIpRoute, parseIpRule } from '../tools/ip/index.js';
import { parseTcFilter } from '../tools/tc/index.js';
import { parseBpftoolCgroup, parseBpftoolLink, parseBpftoolNet, parseBpftoolProg } from '../tools/bpftool/index.js';
import { parseWgDump } from '../tools/wg/index.js';
import { parseSysctl } from '../tools/sysctl/index.js';
import { parseUname } from '../tools/uname/index.js';
import {
  decodeIpcacheMap,
  parseCiliumConfig,
  parseCiliumEgressList,
  parseCiliumEncryptStatus,
  parseCiliumEndpoints,
  parseCiliumIpcache,
  parseCiliumStatus,
} from '../tools/cilium/index.js';
import { parseXfrmPolicy, parseXfrmState } from '../tools/xfrm/index.js';
import { CILIUM_CGROUP_ROOT, IPCACHE_MAPS, IPMASQ_MAPS } from './probes.js';
import { decodeIpMasqMap } from '../tools/cilium/ipmasq.js';
import { readProbeBytes, type ProbeSource } from './source.js';
import { scanIpRouteJson, type ScannedRoutes } from '../tools/ip/route-scan.js';
import { columnsFromRoutes, type RouteColumns } from '../model/route-columns.js';
import { byCodeUnit } from '../model/order.js';
import type { SameTexts } from './same-inputs.js';

/** Probes a trace cannot do without: their absence makes the answer `unknown`. */
export const REQUIRED_PROBES = ['ip-link', 'ip-addr', 'ip-route4', 'ip-route6'] as const;

interface ManifestLike {
  node?: unknown;
  kernel?: unknown;
  probes?: unknown;
  notes?: unknown;
}

export interface LoadOptions {
  /**
   * 'columns': the node's route tables go to `state.routeColumns`, scanned from the bytes without
   * building a Route per entry (a trace); 'objects' (default): `state.routes`, every route parsed.
   */
  routes?: 'objects' | 'columns';
  /** outputs at least this large are scanned as bytes (tests lower it to cover small snapshots) */
  scanMinBytes?: number;
  /** route tables of these families only (default both): a trace needs its flow's family */
  families?: (4 | 6)[];
  /**
   * A scan of a route probe already under way elsewhere (a worker thread, see offload.ts):
   * undefined, or a promise of undefined, and the table is read here.
   */
  routeScan?: RouteScanStart;
  /**
   * 'addrs': of each pod namespace only its addresses (enough to tell which namespace holds an
   * address); loadNetnsDetails then reads links and routes of the namespaces a question names.
   */
  netns?: 'all' | 'addrs';
  /**
   * diff: the two sides' probes parsed once when their text is the same (collect/same-inputs.ts); the parsed
   * values are then shared by both states. Not for the route tables read as columns (scanned, not parsed).
   */
  sameTexts?: SameTexts;
}

/** Outputs smaller than this take the text path even for columns: the same result, nothing to gain. */
const SCAN_MIN_BYTES = 64 * 1024;

/**
 * Reads every probe the source has and parses it into one NodeState. Never throws for a bad or
 * missing probe: each is recorded in `state.sources` and `state.warnings`, and the rest stands.
 */
export async function loadNodeState(source: ProbeSource, opts: LoadOptions = {}): Promise<NodeState> {
  const state = emptyNodeState();
  const tables: (RouteTable | undefined)[] = [];

  const families = opts.families ?? [4, 6];

  const manifestText = await source.manifest().catch(() => undefined);
  const failedProbes = failuresIn(manifestText);
  const failures = Promise.resolve(failedProbes);
  const one = makeOne(source, state, failures, opts.sameTexts);
  const deferred: Warning[] = [];
  if (manifestText !== undefined) {
    try {
      const m = JSON.parse(manifestText) as ManifestLike;
      if (typeof m.node === 'string') state.node.name = m.node;
      if (typeof m.kernel === 'string') state.node.kernel = m.kernel;
      // what the source itself says the answer cannot see (a sysdump's missing probes)
      if (Array.isArray(m.notes))
        for (const n of m.notes)
          if (typeof n === 'string') state.warnings.push({ code: 'source-note', message: n, source: 'manifest' });
    } catch {
      state.warnings.push({
        code: 'manifest-unreadable',
        message: 'manifest.json is not valid JSON; ignored',
        source: 'manifest',
      });
    }
  }

  await Promise.all([
    one(
      'uname',
      (t) => parseUname(t, 'uname'),
      (v) => (state.node.kernel = v),
    ),
    one(
      'hostname',
      (t) => parsedLine(t),
      (v) => (state.node.name ??= v),
    ),
    one(
      'ip-link',
      (t) => parseIpLink(t, 'ip-link'),
      (v) => state.links.push(...v),
    ),
    one(
      'ip-addr',
      (t) => parseIpAddr(t, 'ip-addr'),
      (v) => state.addrs.push(...v),
    ),
    ...(opts.routes === 'columns'
      ? families.map(
          async (f, k) =>
            (tables[k] = await routeColumns(
              source,
              `ip-route${f}`,
              f,
              opts.scanMinBytes ?? SCAN_MIN_BYTES,
              failures,
              opts.routeScan,
            )),
        )
      : families.map(async (f, k) => {
          // into a state of its own, applied with the columns path's order (applyTables)
          const own = emptyNodeState();
          await makeOne(source, own, failures)(
            `ip-route${f}`,
            (t) => parseIpRoute(t, `ip-route${f}`, f),
            (v) => (own.routes = v),
          );
          tables[k] = { state: own };
        })),
    one(
      'ip-rule4',
      (t) => parseIpRule(t, 'ip-rule4', 4),
      (v) => state.rules.push(...v),
    ),
    one(
      'ip-rule6',
      (t) => parseIpRule(t, 'ip-rule6', 6),
      (v) => state.rules.push(...v),
    ),
    one(
      'ip-neigh',
      (t) => parseIpNeigh(t, 'ip-neigh'),
      (v) => pushAll(state.neigh, v),
    ),
    one(
      'bpftool-net',
      (t) => parseBpftoolNet(t, 'bpftool-net'),
      (v) => state.bpfNet.push(...v),
    ),
    one(
      'bpftool-prog',
      (t) => parseBpftoolProg(t, 'bpftool-prog'),
      (v) => state.bpfProgs.push(...v),
    ),
    one(
      'bpftool-link',
      (t) => parseBpftoolLink(t, 'bpftool-link'),
      (v) => state.bpfLinks.push(...v),
    ),
    one(
      'bpftool-cgroup',
      (t) => parseBpftoolCgroup(t, 'bpftool-cgroup', CILIUM_CGROUP_ROOT),
      (v) => state.cgroup.push(...v),
    ),
    one(
      'wg',
      (t) => parseWgDump(t, 'wg'),
      (v) => state.wg.push(...v),
    ),
    one(
      'sysctl',
      (t) => parseSysctl(t, 'sysctl'),
      (v) => Object.assign(state.sysctl, v),
    ),
    // per-device IPv4 settings; a key the fixed list also read keeps the fixed list's line as evidence
    one(
      'sysctl-conf4',
      (t) => parseSysctl(t, 'sysctl-conf4'),
      (v) => {
        for (const [k, x] of Object.entries(v)) state.sysctl[k] ??= x;
      },
    ),
    one(
      'cilium-status',
      (t) => parseCiliumStatus(t, 'cilium-status'),
      (v) => (state.cilium.status = v),
    ),
    one(
      'cilium-endpoints',
      (t) => parseCiliumEndpoints(t, 'cilium-endpoints'),
      (v) => (state.cilium.endpoints = v),
    ),
    one(
      'cilium-config',
      (t) => parseCiliumConfig(t, 'cilium-config'),
      (v) => Object.assign(state.cilium.config, v),
    ),
    // Each of these stays undefined (unknown) unless its probe was read: a missing probe is never an empty table.
    one(
      'cilium-ipcache',
      (t) => parseCiliumIpcache(t, 'cilium-ipcache'),
      (v) => (state.cilium.ipcache = v),
    ),
    ...IPCACHE_MAPS.map((name) =>
      one(
        `bpf-map/${name}`,
        (t) => decodeIpcacheMap(t, `bpf-map/${name}`),
        // both pinned during an upgrade to 1.18: the datapath reads the v2 map
        (v) => {
          if (name === 'cilium_ipcache_v2' || state.cilium.ipcacheMap === undefined) state.cilium.ipcacheMap = v;
        },
      ),
    ),
    ...IPMASQ_MAPS.map((name) =>
      one(
        `bpf-map/${name}`,
        (t) => decodeIpMasqMap(t, `bpf-map/${name}`, name.endsWith('v4') ? 4 : 6),
        (v) => {
          state.cilium.ipMasqMap ??= {};
          state.cilium.ipMasqMap[name.endsWith('v4') ? 'v4' : 'v6'] = v;
        },
      ),
    ),
    one(
      'cilium-encrypt-status',
      (t) => parseCiliumEncryptStatus(t, 'cilium-encrypt-status'),
      (v) => (state.cilium.encryptStatus = v),
    ),
    one(
      'cilium-egress-list',
      (t) => parseCiliumEgressList(t, 'cilium-egress-list'),
      (v) => (state.cilium.egressGateway = v),
    ),
    one(
      'ip-xfrm-state',
      (t) => parseXfrmState(t, 'ip-xfrm-state'),
      (v) => (state.xfrm.states = v),
    ),
    one(
      'ip-xfrm-policy',
      (t) => parseXfrmPolicy(t, 'ip-xfrm-policy'),
      (v) => (state.xfrm.policies = v),
    ),
    loadTcFilters(source, one, state),
    loadNetns(
      source,
      one,
      state,
      opts.netns ?? 'all',
      deferred,
      [...failedProbes].filter(([, f]) => !f.absent).map(([id]) => id),
    ),
  ]);

  const nodeNote = await linksFromAddr(source, state, '', state.links);

  if (opts.routes === 'columns') state.routeColumns = applyTables(state, tables, []);
  else {
    applyTables(state, tables, []);
    for (const t of tables) if (t) pushAll(state.routes, t.state.routes);
  }
  addLocalTable(state, families);

  for (const id of REQUIRED_PROBES) {
    const r = state.sources.find((s) => s.probe === id);
    // links read from ip-addr stand in for a missing ip-link (linksFromAddr said what they lack)
    if (id === 'ip-link' && r?.status === 'missing' && state.links.length > 0) continue;
    if (r && (r.status === 'missing' || r.status === 'failed')) {
      state.warnings.push({
        code: 'required-probe-unavailable',
        message:
          r.status === 'missing'
            ? `${id}: ${source.live ? 'no output on this node' : `not in ${source.description}`}`
            : `${id}: ${r.message}`,
        source: id,
      });
    }
  }
  // last, the node's own, then each namespace's in name order: the order a later loadNetnsDetails gives
  if (nodeNote) state.warnings.push(nodeNote);
  state.warnings.push(...deferred.sort((a, b) => byCodeUnit(a.source ?? '', b.source ?? '')));
  return state;
}

/**
 * Probes the capture ran and got nothing from, with the reason it recorded (`bpftool: permission denied:
 * needs CAP_SYS_ADMIN …`): from the manifest of a snapshot or of a live run.
 */
export function failuresIn(manifestText: string | undefined): Map<string, { message: string; absent: boolean }> {
  const out = new Map<string, { message: string; absent: boolean }>();
  if (manifestText === undefined) return out;
  try {
    const m = JSON.parse(manifestText) as ManifestLike;
    if (!Array.isArray(m.probes)) return out;
    for (const p of m.probes as {
      id?: unknown;
      failed?: unknown;
      message?: unknown;
      file?: unknown;
      absent?: unknown;
    }[]) {
      if (typeof p?.id === 'string' && typeof p.failed === 'string' && p.file === undefined) {
        const message = typeof p.message === 'string' ? p.message.split('\n')[0]!.slice(0, 400) : p.failed;
        // a tool that is not installed (or a map that is not pinned) is a layer the node does not have: absent
        const unpinned = /^bpf-map\//.test(p.id) && /No such file or directory|no such pinned map/.test(message);
        // `absent`: a source that never collects the probe says so (a cilium sysdump has no `nft` output)
        out.set(p.id, { message, absent: p.failed === 'ENOENT' || unpinned || p.absent === true });
      }
    }
  } catch {
    /* an unreadable manifest is reported where it is read */
  }
  return out;
}

type One = <T>(id: string, parse: (text: string) => Parsed<T>, apply: (v: T) => void) => Promise<void>;

type Failures = Promise<ReturnType<typeof failuresIn>>;

/** The manifest's lost probes, read once per load. */
const failuresOf = (source: ProbeSource): Failures => source.manifest().then(failuresIn, () => failuresIn(undefined));

/**
 * Reads one probe into the state: parse, apply, record its source report and warnings. A probe the
 * capture ran and lost (no privilege, a timeout) is not a probe nobody ran: its reason (`failures`) is kept.
 */
function makeOne(
  source: ProbeSource,
  state: NodeState,
  failures: Failures = failuresOf(source),
  same?: SameTexts,
): One {
  return async <T>(id: string, parse: (text: string) => Parsed<T>, apply: (v: T) => void): Promise<void> => {
    let got: Awaited<ReturnType<typeof source.read>>;
    try {
      got = await source.read(id);
    } catch (e) {
      // an unreadable file: its path is the source to name
      record(state, id, 'failed', e instanceof SourceError ? e.source : undefined, errorLine(e));
      return;
    }
    if (got === undefined) {
      // a live source runs deferred probes on first read, after the manifest was taken: read it again for them
      const why = (await failures).get(id) ?? (source.live ? (await failuresOf(source)).get(id) : undefined);
      if (why !== undefined && !why.absent) record(state, id, 'failed', undefined, why.message);
      else
        state.sources.push(
          why ? { probe: id, status: 'missing', message: why.message } : { probe: id, status: 'missing' },
        );
      return;
    }
    if (got.text.trim() === '') {
      state.sources.push({ probe: id, status: 'ok', origin: got.origin, message: 'empty output' });
      return;
    }
    try {
      const parsed = same ? same.parse(id, got.text, parse) : parse(got.text);
      apply(parsed.value);
      state.warnings.push(...parsed.warnings);
      state.sources.push({
        probe: id,
        status: parsed.warnings.length > 0 ? 'partial' : 'ok',
        origin: got.origin,
      });
    } catch (e) {
      record(state, id, 'failed', got.origin, errorLine(e));
    }
  };
}

/** A scan of `ip-route4`/`ip-route6` started elsewhere, or undefined. */
export type RouteScanStart = (
  id: string,
  family: 4 | 6,
) => Promise<{ scanned: ScannedRoutes; origin: string } | undefined> | undefined;

/** One route table as read: its columns (if any), and its source report and warnings, applied in a fixed order. */
interface RouteTable {
  columns?: RouteColumns;
  state: NodeState;
}

/**
 * Route tables land in the state after every other probe, in family order, so sources and warnings
 * come out in the same order whether a table was scanned here or in a worker thread, as columns or
 * as objects.
 */
function applyTables(state: NodeState, tables: (RouteTable | undefined)[], have: RouteColumns[]): RouteColumns[] {
  const out = [...have];
  for (const t of tables) {
    if (!t) continue;
    if (t.columns) out.push(t.columns);
    state.sources.push(...t.state.sources);
    state.warnings.push(...t.state.warnings);
  }
  return out.sort((a, b) => a.family - b.family);
}

/**
 * A route table into columns: large JSON output is scanned from its bytes (scanIpRouteJson gives
 * the same routes and warnings parseIpRoute would); small, text or unusual output is parsed as text,
 * exactly as in the objects path, and held as columns.
 */
async function routeColumns(
  source: ProbeSource,
  id: string,
  family: 4 | 6,
  minBytes: number,
  failures: Failures,
  started?: RouteScanStart,
): Promise<RouteTable> {
  const own = emptyNodeState();
  const pre = await started?.(id, family);
  if (pre) {
    own.warnings.push(...pre.scanned.warnings);
    own.sources.push({ probe: id, status: pre.scanned.warnings.length > 0 ? 'partial' : 'ok', origin: pre.origin });
    return { columns: pre.scanned.columns, state: own };
  }
  let got: Awaited<ReturnType<typeof readProbeBytes>> | undefined;
  try {
    got = await readProbeBytes(source, id);
  } catch {
    got = undefined; // the text path reads it again and records the failure in its words
  }
  if (got !== undefined && got.bytes.length >= minBytes) {
    const scanned = scanIpRouteJson(got.bytes, id, family);
    if (scanned) {
      own.warnings.push(...scanned.warnings);
      own.sources.push({ probe: id, status: scanned.warnings.length > 0 ? 'partial' : 'ok', origin: got.origin });
      return { columns: scanned.columns, state: own };
    }
  }
  let columns: RouteColumns | undefined;
  await makeOne(source, own, failures)(
    id,
    (t) => parseIpRoute(t, id, family),
    (v) => (columns = columnsFromRoutes(v, family)),
  );
  return columns ? { columns, state: own } : { state: own };
}

async function loadTcFilters(source: ProbeSource, one: One, state: NodeState): Promise<void> {
  const names = await source.list('tc-filter');
  const ids = new Set<string>();
  for (const n of names) {
    const m = /^(.+)\.(ingress|egress)\.(json|txt)$/.exec(n);
    if (m) ids.add(`${m[1]}.${m[2]}`);
  }
  await Promise.all(
    [...ids].map((id) => {
      const dot = id.lastIndexOf('.');
      const dev = id.slice(0, dot);
      const dir = id.slice(dot + 1) as 'ingress' | 'egress';
      return one(
        `tc-filter/${id}`,
        (t) => parseTcFilter(t, `tc-filter/${id}`, dev, dir),
        (v) => state.tc.push(...v),
      );
    }),
  );
}

/**
 * `ip addr` prints each device's head line (ifindex, name, `@ifN` peer, flags, mtu, master, state) and its
 * `link/…` line (MAC, `link-netns`/`link-netnsid`): when `<prefix>ip-link` is missing they are read from
 * `<prefix>ip-addr`. What only `ip -d link` shows (the device kind) stays unknown, and a warning says so.
 */
async function linksFromAddr(
  source: ProbeSource,
  state: NodeState,
  prefix: string,
  into: Link[],
): Promise<Warning | undefined> {
  const linkId = `${prefix}ip-link`;
  if (state.sources.find((s) => s.probe === linkId)?.status !== 'missing') return;
  const addrId = `${prefix}ip-addr`;
  let got: Awaited<ReturnType<ProbeSource['read']>>;
  try {
    got = await source.read(addrId);
  } catch {
    return; // the ip-addr probe itself records why it cannot be read
  }
  if (got === undefined || got.text.trim() === '') return;
  let links: Link[];
  try {
    // the same head and link/ lines in both tools' text; `ip -j addr` objects carry the same link keys
    links = parseIpLink(got.text, addrId).value;
  } catch {
    return;
  }
  if (links.length === 0) return;
  pushAll(into, links);
  return {
    code: 'links-from-ip-addr',
    message: `${linkId}: not read; devices read from ${addrId}, which does not show their kind (veth, netkit, vxlan, …)`,
    source: linkId,
  };
}

async function loadNetns(
  source: ProbeSource,
  one: One,
  state: NodeState,
  what: 'all' | 'addrs',
  notes: Warning[],
  failed: string[] = [],
): Promise<void> {
  // a namespace whose every probe failed has no directory, but the capture knew it
  const lost = failed.map((id) => /^netns\/([^/]+)\//.exec(id)?.[1]).filter((n): n is string => n !== undefined);
  const names = [...new Set([...(await source.list('netns')), ...lost])].sort();
  await Promise.all(
    names.map(async (name) => {
      const ns = {
        name,
        links: [] as NodeState['links'],
        addrs: [] as NodeState['addrs'],
        routes: [] as NodeState['routes'],
      };
      const p = `netns/${name}`;
      await Promise.all([
        one(
          `${p}/ip-addr`,
          (t) => parseIpAddr(t, `${p}/ip-addr`),
          (v) => ns.addrs.push(...v),
        ),
        ...(what === 'all' ? netnsDetails(one, ns, source, state, notes) : []),
      ]);
      state.netns.push(ns);
    }),
  );
  state.netns.sort((a, b) => byCodeUnit(a.name, b.name));
}

function netnsDetails(
  one: One,
  ns: NodeState['netns'][number],
  source: ProbeSource,
  state: NodeState,
  notes: Warning[],
): Promise<void>[] {
  const p = `netns/${ns.name}`;
  return [
    one(
      `${p}/ip-link`,
      (t) => parseIpLink(t, `${p}/ip-link`),
      (v) => ns.links.push(...v),
    )
      .then(() => linksFromAddr(source, state, `${p}/`, ns.links))
      .then((w) => {
        if (w) notes.push(w);
      }),
    one(
      `${p}/ip-route4`,
      (t) => parseIpRoute(t, `${p}/ip-route4`, 4),
      (v) => pushAll(ns.routes, v),
    ),
    one(
      `${p}/ip-route6`,
      (t) => parseIpRoute(t, `${p}/ip-route6`, 6),
      (v) => pushAll(ns.routes, v),
    ),
  ];
}

/**
 * Links and routes of the named pod namespaces, for a state loaded with `netns: 'addrs'` (each read
 * once: a namespace already complete is left as it is).
 */
export async function loadNetnsDetails(source: ProbeSource, state: NodeState, names: Iterable<string>): Promise<void> {
  const one = makeOne(source, state);
  const want = new Set(names);
  const todo = state.netns.filter(
    (ns) => want.has(ns.name) && !state.sources.some((s) => s.probe === `netns/${ns.name}/ip-link`),
  );
  const notes: Warning[] = [];
  await Promise.all(todo.flatMap((ns) => netnsDetails(one, ns, source, state, notes)));
  state.warnings.push(...notes.sort((a, b) => byCodeUnit(a.source ?? '', b.source ?? '')));
}

/**
 * Route tables of more families into a state loaded with `routes: 'columns'` and fewer `families`
 * (a family already read is not read again).
 */
export async function loadRouteFamilies(
  source: ProbeSource,
  state: NodeState,
  families: (4 | 6)[],
  scanMinBytes = SCAN_MIN_BYTES,
  started?: RouteScanStart,
): Promise<void> {
  const have = new Set(state.routeColumns?.map((c) => c.family));
  const todo = families.filter((f) => !have.has(f) && !state.sources.some((s) => s.probe === `ip-route${f}`));
  if (todo.length === 0) return;
  const failures = failuresOf(source);
  const tables = await Promise.all(
    todo.map((f) => routeColumns(source, `ip-route${f}`, f, scanMinBytes, failures, started)),
  );
  state.routeColumns = applyTables(state, tables, state.routeColumns ?? []);
  addLocalTable(state, todo);
}

/**
 * A plain `ip r` paste is the main table only: without the local table every address of the node would
 * look remote. The kernel adds a `local` route to table local for each address it configures
 * (fib_add_ifaddr, addrconf), so for a family whose routes were read but hold no table-local route,
 * those routes are rebuilt from the node's addresses, and a warning says they were.
 */
function addLocalTable(state: NodeState, families: (4 | 6)[]): void {
  for (const f of families) {
    const src = state.sources.find((s) => s.probe === `ip-route${f}`);
    if (src === undefined || (src.status !== 'ok' && src.status !== 'partial')) continue;
    const addrs = state.addrs.filter((a) => a.family === f);
    if (addrs.length === 0) continue;
    const cols = state.routeColumns?.filter((c) => c.family === f) ?? [];
    const objs = state.routeColumns ? [] : state.routes.filter((r) => r.family === f);
    const anyRoute = objs.length > 0 || cols.some((c) => c.count > 0);
    const hasLocal = objs.some((r) => r.table === 255) || cols.some((c) => c.table.includes(255));
    if (!anyRoute || hasLocal) continue;
    const full = f === 4 ? 32 : 128;
    const made: Route[] = addrs.map((a) => {
      // IPv4 on loopback: the whole prefix is local (`local 127.0.0.0/8 dev lo`)
      const dst =
        f === 4 && a.ifname === 'lo'
          ? (canonPrefix(`${a.local}/${a.prefixlen}`, 4) ?? `${a.local}/32`)
          : `${a.local}/${full}`;
      const r: Route = {
        family: f,
        table: 255,
        type: 'local',
        dst,
        protocol: 'kernel',
        scope: 'host',
        nexthops: [{ dev: a.ifname }],
        source: {
          probe: 'ip-addr',
          text: `local ${dst.endsWith(`/${full}`) ? a.local : dst} dev ${a.ifname} table local (the kernel's route for ${a.local}/${a.prefixlen})`,
        },
      };
      if (f === 4) r.prefsrc = a.local;
      return r;
    });
    if (state.routeColumns) state.routeColumns = [...state.routeColumns, columnsFromRoutes(made, f)];
    else pushAll(state.routes, made);
    state.warnings.push({
      code: 'local-table-inferred',
      message: `ip-route${f}: no table local (a plain \`ip route\` shows table main only); its ${made.length} local routes are those the kernel adds for the node's addresses`,
      source: `ip-route${f}`,
    });
  }
}

/** Namespaces holding any of the addresses (their links and routes decide a path). */
export function netnsHolding(state: NodeState, ips: Iterable<string>): string[] {
  const want = new Set(ips);
  return state.netns.filter((ns) => ns.addrs.some((a) => want.has(a.local))).map((ns) => ns.name);
}

// push(...v) overflows the call stack for a million routes.
function pushAll<T>(into: T[], items: T[]): void {
  for (let i = 0; i < items.length; i++) into.push(items[i]!);
}

function parsedLine(text: string): Parsed<string> {
  const line = text.trim().split('\n')[0]!.trim();
  return { value: line, warnings: [] };
}

function record(state: NodeState, probe: string, status: 'failed', origin: string | undefined, message: string): void {
  state.sources.push(origin === undefined ? { probe, status, message } : { probe, status, origin, message });
  const w: Warning = { code: 'probe-unreadable', message: `${probe}: ${message}`, source: probe };
  state.warnings.push(w);
}
