import { type FrontendKeep, serviceMatches, type ServiceEntry, type ServiceQuery } from '../model/service.js';
import type { Address, Family, Parsed, SourceReport, Warning } from '../model/types.js';
import { errorLine, SourceError } from '../errors.js';
import { parseCiliumLbList, parseCiliumServiceList } from '../tools/cilium-lb/index.js';
import { parseCiliumStatus } from '../tools/cilium/index.js';
import { decodeLbMaps, LB_MAP_NAMES, type LbMapDumps } from '../tools/bpf-map/index.js';
import type { IptablesRuleset } from '../model/iptables.js';
import type { NftRuleset } from '../model/nft.js';
import { ipvsVipsFromAddrs, parseIpvsadm } from '../tools/ipvsadm/index.js';
import { parseNftRuleset } from '../tools/nft/index.js';
import type { ByteLines, RuleLine } from '../tools/iptables/parse-iptables.js';
import { readProbeBytes, type ProbeSource } from './source.js';
import { iptablesServices, keepFor, type Narrow, narrowFor } from './iptables-services.js';
import { failuresIn } from './load-state.js';
import { parseCiliumVersion } from '../model/cilium-rules.js';
import type { SameBytes, SameInputs } from './same-inputs.js';

const LB_KEYS = Object.keys(LB_MAP_NAMES) as (keyof LbMapDumps)[];

const IPTABLES_PROBES = [
  ['iptables-save', 4],
  ['ip6tables-save', 6],
] as const;

export interface LoadedServices {
  entries: ServiceEntry[];
  warnings: Warning[];
  sources: SourceReport[];
  /** layout of the LB maps, when they were decoded */
  lbLayout?: { version: string; ambiguous: boolean; because: string };
  /** the rulesets parsed on the way, for callers that look at more than Services (diff's leftovers) */
  parsed: {
    iptables: { probe: string; family: 4 | 6; rules: IptablesRuleset }[];
    nft?: { probe: string; rules: NftRuleset };
  };
}

/**
 * Turns kube-proxy's rules into Services. That is interpretation (src/analysis/kube-proxy), a layer above this one:
 * the commands pass it in, so reading stays below interpreting (docs/architecture.md).
 */
export interface KubeProxyReader {
  servicesFromIptables(rs: IptablesRuleset, probe: string, family: Family, keep?: FrontendKeep): Parsed<ServiceEntry[]>;
  servicesFromNft(rs: NftRuleset, probe: string): Parsed<ServiceEntry[]>;
  /** the iptables-save lines that can hold the kept frontends (the rest is skipped unparsed) */
  linesNeeded(
    lines: ByteLines,
    family: Family,
    keep: FrontendKeep,
    narrow: { address?: string; name?: string },
  ): { skip: ((idx: number) => boolean) & { kept?: Int32Array }; cache: Map<number, RuleLine> };
}

export interface ServiceLoadOptions {
  /**
   * Only the Services that can answer this question (serviceMatches). Every source is still read;
   * the large ones (LB maps, iptables-save) build only the frontends asked for, and report problems
   * of what they read (unreadable entries, the map layout), not of Services nobody asked about.
   */
  only?: ServiceQuery | ServiceQuery[];
  /**
   * For one question: reads and interprets an iptables-save dump elsewhere (a worker thread, see
   * src/commands/svc-offload.ts), started as loading starts. Undefined from it, or a promise of
   * undefined, means: read it here, with the same code (iptablesServices).
   */
  iptablesOffload?: IptablesOffload;
  /**
   * diff: the LB maps' decoding shared between the two sides when their dumps (and the version and the
   * question) are byte for byte the same; the entries are then the same objects on both sides
   */
  lbMemo?: SameInputs<ReturnType<typeof decodeLbMaps>>;
  /**
   * diff's before side: its whole iptables-save read elsewhere (a worker thread, commands/diff-iptables-offload.ts),
   * answering with the Services and the ruleset the caller keeps. Undefined from it, or a promise of undefined,
   * means: read it here. Not used with `only`.
   */
  iptablesWhole?: IptablesWholeOffload;
  /**
   * check: iptables-save's per-Service chains read lean (tools/iptables/lean-rules.ts; the caller reads the rulesets
   * through model/iptables-lean.ts). Not used with `only`.
   */
  leanIptables?: boolean;
  /**
   * diff: a whole iptables-save dump (no `only`) parsed here is kept for the other side, which takes the parse when
   * its dump is byte for byte the same (the entries and ruleset are then the same objects on both sides)
   */
  iptablesMemo?: SameBytes;
}

export type IptablesWholeOffload = (
  id: string,
) =>
  | Promise<{ entries: ServiceEntry[]; warnings: Warning[]; rules: IptablesRuleset; origin: string } | undefined>
  | undefined;

export type IptablesOffload = (
  id: string,
  family: 4 | 6,
  only: ServiceQuery[],
  narrow: Narrow,
) => Promise<{ entries: ServiceEntry[]; warnings: Warning[]; origin: string } | undefined> | undefined;

/** Every layer that programs Services on the node: Cilium (maps and cilium-dbg), kube-proxy, IPVS. */
export async function loadServices(
  source: ProbeSource,
  addrs: Address[],
  kubeProxy: KubeProxyReader,
  opts: ServiceLoadOptions = {},
): Promise<LoadedServices> {
  const out: LoadedServices = { entries: [], warnings: [], sources: [], parsed: { iptables: [] } };
  const failed = failuresIn(await source.manifest().catch(() => undefined));
  // a probe the capture lost (no privilege, a timeout) is a failed source with its reason, not a missing one
  const lost = (id: string, sink: Pick<LoadedServices, 'sources' | 'warnings'> = out): boolean => {
    const why = failed.get(id);
    if (why === undefined || why.absent) return false;
    sink.sources.push({ probe: id, status: 'failed', message: why.message });
    sink.warnings.push({ code: 'probe-unreadable', message: `${id}: ${why.message}`, source: id });
    return true;
  };
  const only = opts.only === undefined ? undefined : Array.isArray(opts.only) ? opts.only : [opts.only];
  const asked = (e: Parameters<typeof serviceMatches>[0]) => only!.some((q) => serviceMatches(e, q));
  const keep: FrontendKeep | undefined = only === undefined ? undefined : keepFor(only);
  // one IPv4 address or one name asked: iptables rules that cannot name it are not read
  const narrow = narrowFor(only);
  // the largest source starts first, on the other core, while this thread reads the rest
  const offloaded = new Map<string, ReturnType<IptablesOffload>>();
  if (only !== undefined && opts.iptablesOffload)
    for (const [id, fam] of IPTABLES_PROBES) offloaded.set(id, opts.iptablesOffload(id, fam, only, narrow));
  type Use<T> = (input: T) => { entries: ServiceEntry[]; warnings: Warning[] };
  const one = (id: string, use: Use<string>): Promise<void> =>
    oneOf(
      id,
      async () => source.read(id),
      (g) => use(g.text),
    );
  // an output scanned as bytes, never decoded whole
  const oneBytes = (id: string, use: Use<Buffer>): Promise<void> =>
    oneOf(
      id,
      async () => readProbeBytes(source, id),
      (g) => use(g.bytes),
    );
  const oneOf = async <G extends { origin: string }>(
    id: string,
    read: () => Promise<G | undefined>,
    use: Use<G>,
  ): Promise<void> => {
    let got: G | undefined;
    try {
      got = await read();
    } catch (e) {
      out.sources.push({
        probe: id,
        status: 'failed',
        message: errorLine(e),
        ...(e instanceof SourceError ? { origin: e.source } : {}),
      });
      out.warnings.push({ code: 'probe-unreadable', message: `${id}: ${errorLine(e)}`, source: id });
      return;
    }
    if (!got) {
      if (!lost(id)) out.sources.push({ probe: id, status: 'missing' });
      return;
    }
    try {
      const r = use(got);
      for (const e of r.entries) out.entries.push(e);
      out.warnings.push(...r.warnings);
      out.sources.push({ probe: id, status: r.warnings.length ? 'partial' : 'ok', origin: got.origin });
    } catch (e) {
      out.sources.push({ probe: id, status: 'failed', origin: got.origin, message: errorLine(e) });
      out.warnings.push({ code: 'probe-unreadable', message: `${id}: ${errorLine(e)}`, source: id });
    }
  };
  // the agent's version, when the snapshot has it: it narrows the LB map layout (the data can still overrule it)
  // and says which flag words `bpf lb list` prints
  let version: string | undefined;
  try {
    const st = await source.read('cilium-status');
    if (st) version = parseCiliumStatus(st.text, 'cilium-status').value.version;
  } catch {
    version = undefined;
  }

  // the pinned LB maps decode together: services reference backends and reverse NAT entries. They are
  // read before the rules (their report goes after them, in the order of a one-thread read) so that this
  // thread decodes them while the iptables worker, if any, searches its dump.
  type Sink = Pick<LoadedServices, 'entries' | 'warnings' | 'sources' | 'lbLayout'>;
  const lbMaps = async (sink: Sink): Promise<void> => {
    const dumps: LbMapDumps = {};
    const probes: Partial<Record<keyof LbMapDumps, string>> = {};
    for (const [k, name] of Object.entries(LB_MAP_NAMES) as [keyof LbMapDumps, string][]) {
      const id = `bpf-map/${name}`;
      try {
        const got = await readProbeBytes(source, id);
        if (got) {
          dumps[k] = got.bytes;
          probes[k] = id;
          sink.sources.push({ probe: id, status: 'ok', origin: got.origin });
        } else if (!lost(id, sink)) sink.sources.push({ probe: id, status: 'missing' });
      } catch (e) {
        sink.sources.push({
          probe: id,
          status: 'failed',
          message: errorLine(e),
          ...(e instanceof SourceError ? { origin: e.source } : {}),
        });
        sink.warnings.push({ code: 'probe-unreadable', message: `${id}: ${errorLine(e)}`, source: id });
      }
    }
    if (Object.keys(dumps).length > 0) {
      try {
        const byAddr = only?.flatMap((q) =>
          q.kind === 'address' ? [{ address: q.address, ...(q.port !== undefined ? { port: q.port } : {}) }] : [],
        );
        const filter = only === undefined ? {} : { only: byAddr!.length > 0 ? byAddr! : ('none' as const) };
        const dopts = { probes, ...(version ? { version } : {}), ...filter };
        const inputs = LB_KEYS.map((k) => dumps[k]);
        const memoKey = JSON.stringify(dopts);
        let d = opts.lbMemo?.get(memoKey, inputs);
        if (d === undefined) {
          d = decodeLbMaps(dumps, dopts);
          opts.lbMemo?.set(memoKey, inputs, d);
        }
        sink.entries.push(...d.value.services);
        sink.warnings.push(...d.warnings);
        sink.lbLayout = d.value.layout;
        if (d.value.layout.ambiguous)
          sink.warnings.push({
            code: 'lb-layout-ambiguous',
            message: `LB map layout: ${d.value.layout.version} (${d.value.layout.because})`,
            source: 'bpf-map',
          });
      } catch (e) {
        // the map the parser names is unreadable (the maps decode together: no Service comes from any of them)
        const bad = e instanceof SourceError ? e.source : 'bpf-map';
        const src = sink.sources.find((x) => x.probe === bad);
        if (src) {
          src.status = 'failed';
          src.message = errorLine(e);
        }
        sink.warnings.push({ code: 'probe-unreadable', message: `${bad}: ${errorLine(e)}`, source: bad });
      }
    }
  };
  const lb: Sink = { entries: [], warnings: [], sources: [] };
  await lbMaps(lb);

  await oneOf(
    'cilium-service-list',
    async () => source.read('cilium-service-list'),
    (g) => {
      const p = parseCiliumServiceList(g.text, 'cilium-service-list');
      for (const e of p.value) markServiceListUnknowns(e, g.ext);
      return { entries: p.value, warnings: p.warnings };
    },
  );
  await one('cilium-lb-list', (t) => {
    const p = parseCiliumLbList(t, 'cilium-lb-list');
    for (const e of p.value) markLbListUnknowns(e, version);
    return { entries: p.value, warnings: p.warnings };
  });
  for (const [id, fam] of IPTABLES_PROBES) {
    // a worker's answer is recorded as oneOf records a read here; without one, this thread reads
    const done = await offloaded.get(id);
    if (done) {
      for (const e of done.entries) out.entries.push(e);
      out.warnings.push(...done.warnings);
      out.sources.push({ probe: id, status: done.warnings.length ? 'partial' : 'ok', origin: done.origin });
      continue;
    }
    const whole = only === undefined ? await opts.iptablesWhole?.(id) : undefined;
    if (whole) {
      for (const e of whole.entries) out.entries.push(e);
      out.warnings.push(...whole.warnings);
      out.sources.push({ probe: id, status: whole.warnings.length ? 'partial' : 'ok', origin: whole.origin });
      out.parsed.iptables.push({ probe: id, family: fam, rules: whole.rules });
      continue;
    }
    await oneBytes(id, (b) => {
      const lean = opts.leanIptables === true;
      const parse = () => iptablesServices(b, id, fam, kubeProxy, keep, narrow, lean);
      const r = opts.iptablesMemo && !keep ? opts.iptablesMemo.parse(`${id}|${fam}|${lean}`, b, parse) : parse();
      // a ruleset read for one question holds only the chains it reaches: not for other uses
      if (!keep) out.parsed.iptables.push({ probe: id, family: fam, rules: r.rules });
      return { entries: r.entries, warnings: r.warnings };
    });
  }
  await one('nft-ruleset', (t) => {
    const rs = parseNftRuleset(t, 'nft-ruleset');
    out.parsed.nft = { probe: 'nft-ruleset', rules: rs.value };
    const svc = kubeProxy.servicesFromNft(rs.value, 'nft-ruleset');
    return { entries: svc.value, warnings: [...rs.warnings, ...svc.warnings] };
  });
  await one('ipvsadm', (t) => {
    const p = parseIpvsadm(t, 'ipvsadm', { vips: ipvsVipsFromAddrs(addrs) });
    return { entries: p.value, warnings: p.warnings };
  });

  out.entries.push(...lb.entries);
  out.warnings.push(...lb.warnings);
  out.sources.push(...lb.sources);
  if (lb.lbLayout) out.lbLayout = lb.lbLayout;
  if (only !== undefined) out.entries = out.entries.filter(asked);
  return out;
}

/**
 * What a `cilium-dbg service list` cannot show, so that nothing reads it from an unset flag. The text table prints
 * frontend, type and backends only. The JSON form (models.ServiceSpecFlags) carries the type, the traffic policies
 * (when the agent set them), natPolicy, name, namespace, cluster and healthCheckNodePort: no routable, DSR,
 * algorithm, session affinity, L7 redirect or source ranges.
 */
export function markServiceListUnknowns(e: ServiceEntry, ext: 'json' | 'txt'): void {
  const u: NonNullable<ServiceEntry['unknown']> = e.unknown ?? [];
  const add = (property: (typeof u)[number]['property'], because: string) => {
    if (!u.some((x) => x.property === property)) u.push({ property, because });
  };
  const never = [
    'routable',
    'dsr',
    'algorithm',
    'affinity',
    'affinity-timeout',
    'l7-redirect',
    'source-range-check',
    'source-ranges',
  ] as const;
  if (ext === 'txt') {
    const why = 'the text `cilium service list` does not show it';
    for (const p of [...never, 'traffic-policy', 'internal-traffic-policy'] as const) add(p, why);
  } else {
    for (const p of never) add(p, '`cilium service list -o json` has no field for it (models.ServiceSpecFlags)');
    if (e.flags.externalTrafficPolicyLocal === undefined)
      add('traffic-policy', 'no extTrafficPolicy in this `cilium service list -o json` entry');
    if (e.flags.internalTrafficPolicyLocal === undefined)
      add('internal-traffic-policy', 'no intTrafficPolicy in this `cilium service list -o json` entry');
    // the parser needs a type: without flags.type it says ClusterIP, which nothing may take for a fact
    if (!(e.flags.raw ?? []).some((w) => w.startsWith('type='))) add('type', 'no flags.type in this entry');
  }
  if (u.length) e.unknown = u;
}

/**
 * `cilium bpf lb list` shows the service flags in brackets (`[NodePort, Local, sessionAffinity]`) only in the
 * layouts that print them; without any flag word, no flag can be read. With them, a word's absence is the flag
 * clear (ServiceFlags.String() prints every set flag), except `dsr`, which is printed from 1.17 only. The list
 * never prints the algorithm, the affinity timeout or the allowed source ranges.
 */
export function markLbListUnknowns(e: ServiceEntry, version?: string): void {
  const raw = e.flags.raw ?? [];
  const u: NonNullable<ServiceEntry['unknown']> = [...(e.unknown ?? [])];
  if (raw.includes('type-not-printed'))
    u.push({ property: 'type', because: 'this `cilium bpf lb list` row prints no Service type' });
  const printed = raw.filter((w) => w !== 'type-not-printed').length > 0;
  if (!printed) {
    const why = 'this `cilium bpf lb list` layout prints no service flags';
    for (const property of [
      'traffic-policy',
      'internal-traffic-policy',
      'affinity',
      'routable',
      'dsr',
      'l7-redirect',
      'source-range-check',
    ] as const)
      u.push({ property, because: why });
  } else {
    const f = e.flags;
    f.externalTrafficPolicyLocal ??= false;
    f.internalTrafficPolicyLocal ??= false;
    f.sessionAffinity ??= false;
    f.sourceRangeCheck ??= false;
    f.l7LoadBalancer ??= false;
    const v = version === undefined ? null : parseCiliumVersion(version);
    if (f.dsr === undefined) {
      if (v && (v[0] > 1 || v[1] >= 17)) f.dsr = false;
      else
        u.push({
          property: 'dsr',
          because: v
            ? `Cilium ${version} has no per-Service DSR flag (\`dsr\` is printed from 1.17)`
            : '`bpf lb list` prints `dsr` from 1.17, and the Cilium version was not read',
        });
    }
  }
  u.push(
    { property: 'algorithm', because: '`cilium bpf lb list` does not print the load-balancing algorithm' },
    { property: 'affinity-timeout', because: '`cilium bpf lb list` does not print the affinity timeout' },
    {
      property: 'source-ranges',
      because: 'the allowed ranges are in cilium_lb{4,6}_source_range, which netpath does not read',
    },
  );
  e.unknown = u;
}
