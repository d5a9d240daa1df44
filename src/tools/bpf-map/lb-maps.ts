import type { Evidence, Parsed } from '../../model/types.js';
import type { Backend, BackendState, L4Proto, ServiceEntry, ServiceFlags, ServiceType } from '../../model/service.js';
import { bytesToIp, joinHostPort } from '../../model/addr.js';
import {
  parseMapDumpRows,
  rowEntry,
  uniformDump,
  hexByteAt,
  HEX_OF,
  uniformEntry,
  uniformKeyAt,
  uniformValueAt,
  uniformAllZero,
  uniformOr,
  type BtfLayout,
  type DumpRows,
  type RawEntry,
  type UniformDump,
} from './dump.js';
import { ipToBytes } from '../../model/addr.js';
import { Warnings } from '../warnings.js';
import {
  ciliumRule,
  ciliumRuleHolds,
  parseCiliumVersion,
  type CiliumMinor,
  type CiliumRuleId,
} from '../../model/cilium-rules.js';
import { byCodeUnit } from '../../model/order.js';

/** Dump texts, or their bytes (scanned without decoding them whole). */
export interface LbMapDumps {
  services4?: string | Uint8Array;
  backends4?: string | Uint8Array;
  revnat4?: string | Uint8Array;
  services6?: string | Uint8Array;
  backends6?: string | Uint8Array;
  revnat6?: string | Uint8Array;
}

export interface LbLayout {
  /** e.g. '1.17+', '1.16', '1.13-1.14', or a range of those when the data cannot tell them apart */
  version: string;
  ambiguous: boolean;
  because: string;
}

export const LB_MAP_NAMES = {
  services4: 'cilium_lb4_services_v2',
  backends4: 'cilium_lb4_backends_v3',
  revnat4: 'cilium_lb4_reverse_nat',
  services6: 'cilium_lb6_services_v2',
  backends6: 'cilium_lb6_backends_v3',
  revnat6: 'cilium_lb6_reverse_nat',
} as const;

/** The rules of model/cilium-rules.ts that change the byte layout of these maps (docs/cilium-datapath.md §1.2). */
const LAYOUT_RULES = [
  'lb-backend-cluster-id-u16',
  'lb-backend-zone',
  'lb-l4-protocol',
  'lb-service-qcount',
  'lb-service-algorithm',
  'lb-service-flags2-high-bits',
] as const satisfies readonly CiliumRuleId[];

/** A layout era: the release lines between two starts of a layout rule, labelled `1.13-1.14`, `1.15`, `1.17+`. */
interface Era {
  label: string;
  first: CiliumMinor;
}

/** The eras, oldest first: cut where a layout rule starts, from the first release with these maps on. */
const ERAS: Era[] = (() => {
  const ids = ['lb-maps-v3', ...LAYOUT_RULES] as const;
  const starts = [...new Set(ids.map((id) => ciliumRule(id).versions.from!))]
    .map((t) => parseCiliumVersion(t)!)
    .sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  return starts.map((first, i) => {
    const next = starts[i + 1];
    const name = `${first[0]}.${first[1]}`;
    // the rules are all 1.x: an era ends one minor before the next one starts
    const label = !next ? `${name}+` : next[1] - first[1] > 1 ? `${name}-${first[0]}.${next[1] - 1}` : name;
    return { label, first };
  });
})();

/** Whether a layout rule holds in an era (each era lies wholly inside or outside every rule's range). */
const eraHas = (era: Era, id: (typeof LAYOUT_RULES)[number]) => ciliumRuleHolds(id, era.first);
const erasWith = (id: (typeof LAYOUT_RULES)[number]) => ERAS.filter((e) => eraHas(e, id));

function eraOfVersion(v: string): Era | null {
  const ver = parseCiliumVersion(v);
  if (!ver) return null;
  // another major is past the table (the newest layout) or before it (none); an older 1.x has no _v3 maps, so a
  // version given with them is decoded as the oldest layout
  if (ver[0] !== 1) return ver[0] > 1 ? ERAS[ERAS.length - 1]! : null;
  return ERAS.filter((e) => e.first[1] <= ver[1]).pop() ?? ERAS[0]!;
}

const PROTO: Record<number, L4Proto> = { 0: 'ANY', 6: 'TCP', 17: 'UDP', 132: 'SCTP' };
const STATE: Record<number, BackendState> = { 0: 'active', 1: 'terminating', 2: 'quarantined', 3: 'maintenance' };

const u16be = (b: number[], o: number) => (b[o]! << 8) | b[o + 1]!;
const u16le = (b: number[], o: number) => b[o]! | (b[o + 1]! << 8);
const u32le = (b: number[], o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
// a whole decode names ~10 addresses and writes ~3 hex dumps per Service: no copy, array or map per call;
// the text is the one of the plain forms (`& 0xff` is the Uint8Array conversion; a non-byte prints as before)
const HEX2 = Array.from({ length: 256 }, (_, x) => x.toString(16).padStart(2, '0'));
const hex1 = (x: number) => HEX2[x] ?? x.toString(16).padStart(2, '0');
// one flat string (join): a string built by += is a rope of ~2 pieces per byte, which is kept in the evidence
export const hex = (b: number[]) => {
  const parts = new Array<string>(b.length);
  for (let i = 0; i < b.length; i++) parts[i] = hex1(b[i]!);
  return parts.join(' ');
};
export const ip = (b: number[], o: number, n: number) =>
  n === 4 && o + 4 <= b.length
    ? `${b[o]! & 0xff}.${b[o + 1]! & 0xff}.${b[o + 2]! & 0xff}.${b[o + 3]! & 0xff}`
    : bytesToIp(Uint8Array.from(b.slice(o, o + n)));

// BTF field layouts, for dumps that only carry `formatted` objects.
const addr6: BtfField = { names: ['address'], size: 16 };
type BtfField = { names: string[]; size: number; optional?: boolean };
const svcKey = (alen: number): BtfLayout => [
  alen === 4 ? { names: ['address'], size: 4 } : addr6,
  { names: ['dport'], size: 2 },
  { names: ['backend_slot'], size: 2 },
  { names: ['proto'], size: 1 },
  { names: ['scope'], size: 1 },
  { names: ['pad'], size: 2, optional: true },
];
const svcVal: BtfLayout = [
  { names: ['backend_id', 'affinity_timeout', 'l7_lb_proxy_port'], size: 4 },
  { names: ['count'], size: 2 },
  { names: ['rev_nat_index'], size: 2 },
  { names: ['flags'], size: 1 },
  { names: ['flags2'], size: 1 },
  { names: ['qcount', 'pad'], size: 2, optional: true },
];
const beVal = (alen: number): BtfLayout => [
  alen === 4 ? { names: ['address'], size: 4 } : addr6,
  { names: ['port'], size: 2 },
  { names: ['proto'], size: 1 },
  { names: ['flags'], size: 1 },
  // cluster_id is u8 (≤ 1.14) or u16; the bytes after it are zone/pad. A u8 cluster_id with 3 pad
  // bytes and a u16 with zone+pad both fill 4 bytes; written back LE the bytes come out the same.
  { names: ['cluster_id'], size: 2, optional: true },
  { names: ['zone'], size: 1, optional: true },
  { names: ['pad'], size: 1, optional: true },
];
const rnVal = (alen: number): BtfLayout => [
  alen === 4 ? { names: ['address'], size: 4 } : addr6,
  { names: ['port'], size: 2 },
];

interface SvcRow {
  e: RawEntry;
  addr: string;
  port: number;
  slot: number;
  proto: number;
  scope: number;
  u32: number;
  count: number;
  revnat: number;
  flags: number;
  flags2: number;
  qcount: number;
}

interface BeRow {
  e: RawEntry;
  id: number;
  addr: string;
  port: number;
  proto: number;
  state: number;
  tail: number[];
}

/** backend id → row of the backend dump, and the rows in the order a Map built over the dump holds them */
interface BackendIndex {
  get(id: number): number | undefined;
  values(): Iterable<number>;
}

interface FamilyData {
  fam: 4 | 6;
  svcMap: string;
  beMap: string;
  rnMap: string;
  /** service rows whose frontend the caller asked for */
  svcs: SvcRow[];
  /** backend id → row of the backend dump (the last row with that id, at the position of the first) */
  bes: BackendIndex;
  /** row i of the backend dump */
  beEntry: ((i: number) => RawEntry) | undefined;
  badBes: Set<number>;
  /** rev-NAT index → row of the reverse-NAT dump (the last row with that index) */
  revnat: { get(id: number): number | undefined } | undefined;
  /** row i of the reverse-NAT dump */
  rnEntry: ((i: number) => RawEntry) | undefined;
  hasBeDump: boolean;
  /** first rows that tell layouts apart (over every service and backend, not only the asked ones) */
  firstSvc: { proto?: SvcRow; qcount?: SvcRow; alg?: SvcRow; flags2?: SvcRow };
  firstBe: { proto?: BeRow; cid16?: BeRow; zone?: BeRow; pad?: BeRow };
}

/**
 * Row by id, for ids in dump order that are each there once (as the kernel's hash map holds them; undefined
 * when one is repeated, or past 2^21 rows): a binary search of the ids when they ascend, else of `id * 2^21 + row` sorted (a
 * native sort of numbers). Either costs less than a Map of 100,000 ids, for one look-up (svc lookup) or one
 * per backend slot (check, diff).
 */
function uniqueIds(ids: Uint32Array): ((id: number) => number | undefined) | undefined {
  const n = ids.length;
  let ascending = true;
  for (let i = 1; i < n; i++)
    if (ids[i]! <= ids[i - 1]!) {
      ascending = false;
      break;
    }
  if (ascending)
    return (id) => {
      const lo = lowerBound(ids, id, n);
      return lo < n && ids[lo] === id ? lo : undefined;
    };
  const R = 2 ** 21;
  // too many rows to pack with their id in a double's 53 bits: the caller's Map (right for unique ids too)
  if (n > R) return undefined;
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) packed[i] = ids[i]! * R + i;
  packed.sort();
  for (let i = 1; i < n; i++) if (Math.floor(packed[i]! / R) === Math.floor(packed[i - 1]! / R)) return undefined;
  return (id) => {
    const x = id * R;
    const lo = lowerBound(packed, x, n);
    return lo < n && packed[lo]! - x < R ? packed[lo]! - x : undefined;
  };
}

/** Which frontends to decode: all, or the ones at one address (and port). */
export interface FrontendFilter {
  address: string;
  port?: number;
}

/**
 * Decodes the pinned Cilium LB maps from `bpftool [-j] map dump pinned /sys/fs/bpf/tc/globals/<name>`
 * texts into Services (source 'cilium-bpf'). The byte layout differs by Cilium version; it is
 * inferred from the data and `opts.version`, and reported with whether the data could tell.
 *
 * With `only` ('none': no Service is asked for), every entry is still read (the layout is decided by all of them, and unreadable
 * entries are reported), but only Services at that frontend are built, with the warnings about them.
 */
export function decodeLbMaps(
  dumps: LbMapDumps,
  opts: {
    version?: string;
    probes?: Partial<Record<keyof LbMapDumps, string>>;
    only?: FrontendFilter | FrontendFilter[] | 'none';
    /** false: every dump through the row scan (the reference the in-place reading is tested against) */
    inPlace?: boolean;
  } = {},
): Parsed<{ services: ServiceEntry[]; layout: LbLayout }> {
  // each warning names the map it is about; one about the maps together (their layout) names none
  const warnings = new Warnings(undefined);
  const probe = (k: keyof LbMapDumps) => opts.probes?.[k] ?? LB_MAP_NAMES[k];
  const asked =
    opts.only === undefined
      ? undefined
      : opts.only === 'none'
        ? []
        : (Array.isArray(opts.only) ? opts.only : [opts.only]).flatMap((f) => {
            const b = ipToBytes(f.address);
            return b === null ? [] : [{ bytes: b, port: f.port }];
          });

  const fams: FamilyData[] = [];
  for (const fam of [4, 6] as const) {
    const alen = fam === 4 ? 4 : 16;
    const sk = fam === 4 ? 'services4' : 'services6';
    const bk = fam === 4 ? 'backends4' : 'backends6';
    const rk = fam === 4 ? 'revnat4' : 'revnat6';
    const d: FamilyData = {
      fam,
      svcMap: probe(sk),
      beMap: probe(bk),
      rnMap: probe(rk),
      svcs: [],
      bes: new Map(),
      beEntry: undefined,
      badBes: new Set(),
      revnat: undefined,
      rnEntry: undefined,
      hasBeDump: dumps[bk] !== undefined,
      firstSvc: {},
      firstBe: {},
    };
    // the asked frontends in this family's key bytes (undefined: every row)
    const match = asked?.filter((a) => a.bytes.length === alen);
    const st = dumps[sk];
    // a dump as bpftool writes it is read in place (the same rows, entries and warnings as the row scan)
    const su = st !== undefined && typeof st !== 'string' && opts.inPlace !== false ? uniformDump(st) : undefined;
    if (su !== undefined && su.klen === alen + 8 && su.vlen === 12) {
      // element i's key byte j is at k + 7j, its value byte j at v + 7j
      const t = su.text;
      const f = d.firstSvc;
      // the first rows that tell layouts apart. A property no row can have (its bytes are 0 in every element,
      // or flags2's high digit is 0-3 in every one: the dump check's ORs) is not looked for, and once every
      // other one is found no later row changes them
      const zero = (j: number) => uniformAllZero(su, 'value', j);
      const hi2 = uniformOr(su, 'value', 9);
      const none = {
        proto: uniformAllZero(su, 'key', alen + 4),
        qcount: zero(10) && zero(11),
        alg: zero(3),
        flags2: hi2 !== undefined && (hi2[0] & ~3) === 0x30,
      };
      for (
        let i = 0, k = uniformKeyAt(su, 0, 0), v = uniformValueAt(su, 0, 0);
        i < su.count &&
        ((f.proto === undefined && !none.proto) ||
          (f.qcount === undefined && !none.qcount) ||
          (f.alg === undefined && !none.alg) ||
          (f.flags2 === undefined && !none.flags2));
        i++, k += su.stride, v += su.stride
      ) {
        const slot = hexByteAt(t, k + 7 * (alen + 2)) | (hexByteAt(t, k + 7 * (alen + 3)) << 8);
        const flags2 = hexByteAt(t, v + 63);
        if (f.proto === undefined && hexByteAt(t, k + 7 * (alen + 4)) !== 0)
          f.proto = svcRow(uniformEntry(su, i), alen);
        if (slot === 0) {
          if (f.qcount === undefined && (hexByteAt(t, v + 70) | hexByteAt(t, v + 77)) !== 0)
            f.qcount = svcRow(uniformEntry(su, i), alen);
          if (f.alg === undefined && (flags2 & 0x04) === 0 && hexByteAt(t, v + 21) !== 0)
            f.alg = svcRow(uniformEntry(su, i), alen);
        }
        if (f.flags2 === undefined && (flags2 & 0xc0) !== 0) f.flags2 = svcRow(uniformEntry(su, i), alen);
      }
      if (match === undefined) for (let i = 0; i < su.count; i++) d.svcs.push(svcRow(uniformEntry(su, i), alen));
      else if (su.lower) for (const i of uniformKeySearch(su, match)) d.svcs.push(svcRow(uniformEntry(su, i), alen));
      else
        for (let i = 0; i < su.count; i++) {
          let hit = false;
          for (let m = 0; m < match.length && !hit; m++)
            hit = uniformKeyIs(su, i, alen, match[m]!.bytes, match[m]!.port);
          if (hit) d.svcs.push(svcRow(uniformEntry(su, i), alen));
        }
    } else if (st !== undefined) {
      const r = parseMapDumpRows(st, d.svcMap, { key: svcKey(alen), value: svcVal });
      warnings.include(r.warnings);
      const { rows } = r;
      const b = rows.bytes;
      for (let i = 0; i < rows.count; i++) {
        if (!sized(rows, i, alen + 8, 12, d.svcMap, warnings)) continue;
        const k = rows.koff[i]!;
        const v = rows.voff[i]!;
        const proto = b[k + alen + 4]!;
        const slot = b[k + alen + 2]! | (b[k + alen + 3]! << 8);
        const u32 = (b[v]! | (b[v + 1]! << 8) | (b[v + 2]! << 16) | (b[v + 3]! << 24)) >>> 0;
        const flags2 = b[v + 9]!;
        const qcount = b[v + 10]! | (b[v + 11]! << 8);
        const f = d.firstSvc;
        const lazy = () => svcRow(rowEntry(rows, i), alen);
        if (f.proto === undefined && proto !== 0) f.proto = lazy();
        if (f.qcount === undefined && slot === 0 && qcount !== 0) f.qcount = lazy();
        if (f.alg === undefined && slot === 0 && (flags2 & 0x04) === 0 && u32 >>> 24 !== 0) f.alg = lazy();
        if (f.flags2 === undefined && (flags2 & 0xc0) !== 0) f.flags2 = lazy();
        if (match !== undefined && !match.some((m) => keyIs(b, k, alen, m.bytes, m.port))) continue;
        d.svcs.push(svcRow(rowEntry(rows, i), alen));
      }
    }
    const bt = dumps[bk];
    const bu = bt !== undefined && typeof bt !== 'string' && opts.inPlace !== false ? uniformDump(bt) : undefined;
    if (bu !== undefined && bu.klen === 4 && bu.vlen === alen + 8) {
      d.beEntry = (i) => uniformEntry(bu, i);
      const t = bu.text;
      // the ids are decoded on the first look-up (a question no Service answers makes none)
      let index: BackendIndex | undefined;
      let order: Iterable<number> | undefined;
      const load = (): BackendIndex => {
        if (index !== undefined) return index;
        const ids = new Uint32Array(bu.count);
        // the eight hex digits of each key, little-endian; written out rather than four hexByteAt calls: the loop
        // runs once, mostly before V8 optimises it, where a call is not inlined
        // (the dump check let only hex digits through: no -1 from HEX_OF here)
        const h = HEX_OF;
        for (let i = 0, k = uniformKeyAt(bu, 0, 0); i < bu.count; i++, k += bu.stride)
          ids[i] =
            ((h[t[k]!]! << 4) |
              h[t[k + 1]!]! |
              (h[t[k + 7]!]! << 12) |
              (h[t[k + 8]!]! << 8) |
              (h[t[k + 14]!]! << 20) |
              (h[t[k + 15]!]! << 16) |
              (h[t[k + 21]!]! << 28) |
              (h[t[k + 22]!]! << 24)) >>>
            0;
        const byId = uniqueIds(ids);
        if (byId === undefined) {
          // a repeated id (a text edited by hand: the kernel's hash map holds each once), or past 2^21 rows, takes
          // the Map the row scan builds, whose values are in the order of each id's first row
          const bes = new Map<number, number>();
          for (let i = 0; i < bu.count; i++) bes.set(ids[i]!, i);
          order = bes.values();
          index = bes;
        } else index = { get: byId, values: () => ids.keys() };
        return index;
      };
      d.bes = { get: (id) => load().get(id), values: () => load().values() };
      const f = d.firstBe;
      const at = (i: number, j: number) => hexByteAt(t, uniformValueAt(bu, i, alen + j));
      const look = (i: number) => {
        if (f.proto === undefined && at(i, 2) !== 0) f.proto = beRow(uniformEntry(bu, i), alen);
        if (f.cid16 === undefined && at(i, 5) !== 0) f.cid16 = beRow(uniformEntry(bu, i), alen);
        if (f.zone === undefined && at(i, 6) !== 0) f.zone = beRow(uniformEntry(bu, i), alen);
        if (f.pad === undefined && at(i, 7) !== 0) f.pad = beRow(uniformEntry(bu, i), alen);
      };
      // as for the services: what no row can have is not looked for, and once all else is found no later row
      // changes them
      const zero = (j: number) => uniformAllZero(bu, 'value', alen + j);
      const none = { proto: zero(2), cid16: zero(5), zone: zero(6), pad: zero(7) };
      const open = () =>
        (f.proto === undefined && !none.proto) ||
        (f.cid16 === undefined && !none.cid16) ||
        (f.zone === undefined && !none.zone) ||
        (f.pad === undefined && !none.pad);
      if (open()) {
        // rows in the order the row scan's Map holds them: dump order unless an id is repeated
        load();
        if (order) {
          for (const i of order) if (open()) look(i);
        } else for (let i = 0; i < bu.count && open(); i++) look(i);
      }
    } else if (bt !== undefined) {
      const r = parseMapDumpRows(bt, d.beMap, { key: { scalar: 4 }, value: beVal(alen) });
      warnings.include(r.warnings);
      const { rows } = r;
      const b = rows.bytes;
      d.beEntry = (i) => rowEntry(rows, i);
      const bes = new Map<number, number>();
      d.bes = bes;
      for (let i = 0; i < rows.count; i++) {
        const k = rows.koff[i]!;
        const id = (b[k]! | (b[k + 1]! << 8) | (b[k + 2]! << 16) | (b[k + 3]! << 24)) >>> 0;
        if (rows.klen[i] === 4 && rows.vlen[i] !== alen + 8) d.badBes.add(id);
        if (!sized(rows, i, 4, alen + 8, d.beMap, warnings)) continue;
        bes.set(id, i);
      }
      const f = d.firstBe;
      for (const i of d.bes.values()) {
        const v = rows.voff[i]! + alen;
        const lazy = () => beRow(rowEntry(rows, i), alen);
        if (f.proto === undefined && b[v + 2] !== 0) f.proto = lazy();
        if (f.cid16 === undefined && b[v + 5] !== 0) f.cid16 = lazy();
        if (f.zone === undefined && b[v + 6] !== 0) f.zone = lazy();
        if (f.pad === undefined && b[v + 7] !== 0) f.pad = lazy();
      }
    }
    const rt = dumps[rk];
    const ru = rt !== undefined && typeof rt !== 'string' && opts.inPlace !== false ? uniformDump(rt) : undefined;
    if (ru !== undefined && ru.klen === 2 && ru.vlen === alen + 2) {
      // the row a Map over the dump gives (the last with that key): a native search from the end of the text
      // for a few look-ups (svc lookup's one frontend), then the Map (decoding every Service asks once per
      // Service)
      let revnat: Map<number, number> | undefined;
      let asked = 0;
      const search = ru.lower ? lastKeyRow(ru) : undefined;
      d.revnat = {
        get: (id) => {
          if (search !== undefined && revnat === undefined && ++asked <= RN_SEARCHES)
            return search([id >> 8, id & 0xff]);
          if (revnat === undefined) {
            revnat = new Map();
            for (let i = 0, k = uniformKeyAt(ru, 0, 0); i < ru.count; i++, k += ru.stride)
              revnat.set((hexByteAt(ru.text, k) << 8) | hexByteAt(ru.text, k + 7), i);
          }
          return revnat.get(id);
        },
      };
      d.rnEntry = (i) => uniformEntry(ru, i);
    } else if (rt !== undefined) {
      const revnat = new Map<number, number>();
      d.revnat = revnat;
      const r = parseMapDumpRows(rt, d.rnMap, { key: { scalar: 2 }, value: rnVal(alen) });
      warnings.include(r.warnings);
      const rows = r.rows;
      d.rnEntry = (i) => rowEntry(rows, i);
      for (let i = 0; i < r.rows.count; i++) {
        if (!sized(r.rows, i, 2, alen + 2, d.rnMap, warnings)) continue;
        const k = r.rows.koff[i]!;
        revnat.set((r.rows.bytes[k]! << 8) | r.rows.bytes[k + 1]!, i);
      }
    }
    fams.push(d);
  }

  const layout = detectLayout(fams, opts.version, warnings);
  const era = layout.era;
  const services: ServiceEntry[] = [];
  for (const d of fams) services.push(...buildServices(d, era, warnings));
  services.sort(
    (a, b) =>
      (a.id ?? 0) - (b.id ?? 0) ||
      byCodeUnit(a.frontend.address, b.frontend.address) ||
      a.frontend.port - b.frontend.port ||
      byCodeUnit(a.frontend.scope ?? '', b.frontend.scope ?? ''),
  );
  return {
    value: { services, layout: { version: layout.version, ambiguous: layout.ambiguous, because: layout.because } },
    warnings: warnings.done(),
  };
}

/**
 * The elements of a uniform service dump (every hex digit lowercase) whose key starts with one of these
 * addresses (and ports), in dump order: their text is searched natively. In a dump whose frame is checked and
 * whose hex digits are [0-9a-f], `{` starts an element and nothing else, so a hit is an element's key.
 */
function uniformKeySearch(u: UniformDump, match: { bytes: Uint8Array; port: number | undefined }[]): number[] {
  const buf = textBuffer(u);
  const found = new Set<number>();
  for (const m of match) {
    const bytes = [...m.bytes];
    if (m.port !== undefined) bytes.push(m.port >> 8, m.port & 0xff);
    const pat = Buffer.from(keyText(bytes));
    for (let p = buf.indexOf(pat, u.start); p >= 0; ) {
      const off = p - u.start;
      const aligned = off % u.stride === 0;
      if (aligned) found.add(off / u.stride);
      p = buf.indexOf(pat, p + (aligned ? u.stride : 1));
    }
  }
  return [...found].sort((x, y) => x - y);
}

/** A uniform dump's text as a Buffer (for its native searches), without a copy. */
function textBuffer(u: UniformDump): Buffer {
  const t = u.text;
  return Buffer.isBuffer(t) ? t : Buffer.from(t.buffer, t.byteOffset, t.length);
}

/** The start of an element whose key begins with these bytes, as bpftool -j prints it (lowercase "0xhh"). */
function keyText(bytes: number[]): string {
  return `{"key":[${bytes.map((x) => `"0x${hex1(x)}"`).join(',')}`;
}

/** Reverse-NAT look-ups answered by a native search of the text before its keys are put in a Map. */
const RN_SEARCHES = 8;

/**
 * The last element of a uniform dump (every hex digit lowercase) whose whole key is these bytes: its text is
 * searched natively from the end. In a checked dump `{` starts an element and nothing else.
 */
function lastKeyRow(u: UniformDump): (key: number[]) => number | undefined {
  const buf = textBuffer(u);
  return (key) => {
    const pat = `${keyText(key)}]`;
    for (let p = buf.lastIndexOf(pat); p >= u.start; p = buf.lastIndexOf(pat, p - 1))
      if ((p - u.start) % u.stride === 0) return (p - u.start) / u.stride;
    return undefined;
  };
}

/** element i of a uniform service dump has this address (and port) */
function uniformKeyIs(u: UniformDump, i: number, alen: number, addr: Uint8Array, port: number | undefined): boolean {
  const k = uniformKeyAt(u, i, 0);
  for (let j = 0; j < alen; j++) if (hexByteAt(u.text, k + 7 * j) !== addr[j]) return false;
  return port === undefined || ((hexByteAt(u.text, k + 7 * alen) << 8) | hexByteAt(u.text, k + 7 * alen + 7)) === port;
}

/** the service key at b[k..] has this address (and port) */
function keyIs(b: Uint8Array, k: number, alen: number, addr: Uint8Array, port: number | undefined): boolean {
  for (let j = 0; j < alen; j++) if (b[k + j] !== addr[j]) return false;
  return port === undefined || ((b[k + alen]! << 8) | b[k + alen + 1]!) === port;
}

function svcRow(e: RawEntry, alen: number): SvcRow {
  const k = e.key;
  const v = e.value;
  return {
    e,
    addr: ip(k, 0, alen),
    port: u16be(k, alen),
    slot: u16le(k, alen + 2),
    proto: k[alen + 4]!,
    scope: k[alen + 5]!,
    u32: u32le(v, 0),
    count: u16le(v, 4),
    revnat: u16be(v, 6),
    flags: v[8]!,
    flags2: v[9]!,
    qcount: u16le(v, 10),
  };
}

function beRow(e: RawEntry, alen: number): BeRow {
  const v = e.value;
  return {
    e,
    id: u32le(e.key, 0),
    addr: ip(v, 0, alen),
    port: u16be(v, alen),
    proto: v[alen + 2]!,
    state: v[alen + 3]!,
    tail: v.slice(alen + 4),
  };
}

function revnatRow(e: RawEntry, alen: number): { addr: string; port: number; e: RawEntry } {
  return { addr: ip(e.value, 0, alen), port: u16be(e.value, alen), e };
}

function sized(rows: DumpRows, i: number, k: number, v: number, map: string, warnings: Warnings): boolean {
  const kl = rows.klen[i]!;
  const vl = rows.vlen[i]!;
  if (kl !== k || vl !== v) {
    warnings.add(
      'bad-entry',
      `${map} entry #${rows.index[i]}: key ${kl} bytes / value ${vl} bytes, expected ${k} / ${v}; skipped`,
      map,
    );
    return false;
  }
  return true;
}

function detectLayout(fams: FamilyData[], version: string | undefined, warnings: Warnings): LbLayout & { era: Era } {
  let cands = new Set<Era>(ERAS);
  const seen: string[] = [];
  const only = (allowed: Era[], why: string) => {
    const next = new Set([...cands].filter((c) => allowed.includes(c)));
    seen.push(why);
    if (next.size > 0) cands = next;
    else
      warnings.add(
        'layout-conflict',
        `map data contradicts itself (${why}); decoded as ${[...cands].map((e) => e.label).join(' or ')}`,
      );
  };
  // the first row of any family (IPv4 first) that has the property
  const firstSvc = (k: keyof FamilyData['firstSvc']) => {
    for (const d of fams) if (d.firstSvc[k]) return { s: d.firstSvc[k]!, d };
    return undefined;
  };
  const firstBe = (k: keyof FamilyData['firstBe']) => {
    for (const d of fams) if (d.firstBe[k]) return { b: d.firstBe[k]!, d };
    return undefined;
  };
  const proto = firstSvc('proto');
  if (proto) only(erasWith('lb-l4-protocol'), `${proto.d.svcMap} key has protocol byte ${proto.s.proto}`);
  const beProto = firstBe('proto');
  if (beProto)
    only(erasWith('lb-l4-protocol'), `${beProto.d.beMap} backend ${beProto.b.id} has protocol byte ${beProto.b.proto}`);
  const q = firstSvc('qcount');
  if (q) only(erasWith('lb-service-qcount'), `${q.d.svcMap} slot 0 has qcount bytes ${q.s.qcount}`);
  const alg = firstSvc('alg');
  if (alg) only(erasWith('lb-service-algorithm'), `${alg.d.svcMap} slot 0 has an algorithm byte ${alg.s.u32 >>> 24}`);
  const f2 = firstSvc('flags2');
  const f2Rule = 'lb-service-flags2-high-bits';
  if (f2)
    only(
      erasWith(f2Rule),
      `${f2.d.svcMap} flags2 0x${f2.s.flags2.toString(16)} uses bits defined from ${ciliumRule(f2Rule).versions.from}`,
    );
  const cid16 = firstBe('cid16');
  if (cid16)
    only(
      erasWith('lb-backend-cluster-id-u16'),
      `${cid16.d.beMap} backend ${cid16.b.id} has a non-zero byte 9 (u16 cluster_id)`,
    );
  const zone = firstBe('zone');
  if (zone) only(erasWith('lb-backend-zone'), `${zone.d.beMap} backend ${zone.b.id} has a non-zero zone byte`);
  const pad = firstBe('pad');
  if (pad)
    warnings.add(
      'implausible-backend',
      `${pad.d.beMap} backend ${pad.b.id}: padding byte is ${pad.b.tail[3]}; no known layout sets it`,
      pad.d.beMap,
    );
  if (version !== undefined) {
    const ve = eraOfVersion(version);
    if (ve === null)
      warnings.add('version-unknown', `Cilium version '${version}' not understood; layout from the data only`);
    else if (!cands.has(ve)) {
      warnings.add(
        'layout-conflict',
        `Cilium ${version} given, but the maps look like ${[...cands].map((e) => e.label).join(' or ')} (${seen.join('; ')}); decoded by the data`,
      );
    } else {
      cands = new Set([ve]);
      seen.unshift(`version ${version} given`);
    }
  }
  const list = ERAS.filter((e) => cands.has(e));
  const era = list[list.length - 1]!;
  const start = (e: Era) => `${e.first[0]}.${e.first[1]}`;
  const label =
    list.length === ERAS.length
      ? `${start(ERAS[0]!)}+`
      : list.length === 1
        ? era.label
        : `${start(list[0]!)}–${era.label}`;
  const ambiguous = list.length > 1;
  const because = ambiguous
    ? `${seen.length ? seen.join('; ') + '; ' : ''}nothing in the maps tells ${list.map((e) => e.label).join(', ')} apart (protocol, qcount, algorithm, cluster/zone bytes all zero); those fields decode the same in each`
    : seen.join('; ');
  return { era, version: label, ambiguous, because };
}

function typeOf(flags: number, flags2: number): ServiceType {
  if (flags & 0x01) return 'ExternalIP';
  if (flags & 0x02) return 'NodePort';
  if (flags & 0x20) return 'LoadBalancer';
  if (flags & 0x08) return 'HostPort';
  if (flags2 & 0x01) return 'LocalRedirect';
  return 'ClusterIP';
}

function buildServices(d: FamilyData, era: Era, warnings: Warnings): ServiceEntry[] {
  const flags2High = eraHas(era, 'lb-service-flags2-high-bits');
  const algorithm = eraHas(era, 'lb-service-algorithm');
  const qcount = eraHas(era, 'lb-service-qcount');
  const backendProto = eraHas(era, 'lb-l4-protocol');
  const groups = new Map<string, SvcRow[]>();
  for (const s of d.svcs) {
    const k = `${s.addr}|${s.port}|${s.proto}|${s.scope}`;
    const g = groups.get(k);
    if (g) g.push(s);
    else groups.set(k, [s]);
  }
  const out: ServiceEntry[] = [];
  for (const g of groups.values()) {
    const f = g[0]!;
    const protoName = PROTO[f.proto];
    const feText = `${joinHostPort(f.addr, f.port)}${f.proto !== 0 ? '/' + (protoName ?? f.proto) : ''}${f.scope === 1 ? '/i' : ''}`;
    const svcEv = (s: SvcRow): Evidence => ({
      probe: d.svcMap,
      text: `${feText} slot ${s.slot}: key ${hex(s.e.key)} value ${hex(s.e.value)}`,
    });
    if (protoName === undefined) {
      warnings.add('bad-entry', `${d.svcMap} ${feText}: unknown protocol byte ${f.proto}; skipped`, d.svcMap);
      continue;
    }
    if (f.scope > 1) {
      warnings.add('bad-entry', `${d.svcMap} ${feText}: unknown scope byte ${f.scope}; skipped`, d.svcMap);
      continue;
    }
    const m = g.find((s) => s.slot === 0);
    if (!m) {
      warnings.add(
        'service-without-master',
        `${d.svcMap} ${feText}: backend slots but no slot 0; BPF finds no service here`,
        d.svcMap,
      );
      continue;
    }
    const raw = [
      `flags=0x${m.flags.toString(16).padStart(2, '0')}`,
      `flags2=0x${m.flags2.toString(16).padStart(2, '0')}`,
    ];
    const flags: ServiceFlags = {
      externalTrafficPolicyLocal: (m.flags & 0x04) !== 0,
      internalTrafficPolicyLocal: (m.flags2 & 0x10) !== 0,
      sessionAffinity: (m.flags & 0x10) !== 0,
      routable: (m.flags & 0x40) !== 0,
      sourceRangeCheck: (m.flags & 0x80) !== 0,
      l7LoadBalancer: (m.flags2 & 0x04) !== 0,
      twoScopes: (m.flags2 & 0x20) !== 0,
      raw,
    };
    if (!flags2High && (m.flags2 & 0xc0) !== 0) {
      warnings.add(
        'unknown-flag-bits',
        `${d.svcMap} ${feText}: flags2 bits 0x${(m.flags2 & 0xc0).toString(16)} have no meaning before Cilium ${ciliumRule('lb-service-flags2-high-bits').versions.from}`,
        d.svcMap,
      );
    }
    if (flags2High) flags.dsr = (m.flags2 & 0x80) !== 0;
    if (flags.l7LoadBalancer) {
      // proxy port is stored in network order in the low two bytes of the union
      flags.l7ProxyPort = u16be(m.e.value, 0);
    } else {
      const timeout = algorithm ? m.u32 & 0xffffff : m.u32;
      if (flags.sessionAffinity) flags.affinityTimeoutSeconds = timeout;
      if (algorithm) {
        const a = m.u32 >>> 24;
        if (a === 1) flags.algorithm = 'random';
        else if (a === 2) flags.algorithm = 'maglev';
        else if (a !== 0)
          warnings.add('unknown-flag-bits', `${d.svcMap} ${feText}: unknown LB algorithm ${a}`, d.svcMap);
      }
    }
    // what these bytes cannot show (svc lookup's flag report): unknown with why, never read as "off"
    const unknown: NonNullable<ServiceEntry['unknown']> = [
      {
        property: 'source-ranges',
        because: `the allowed ranges are in cilium_lb${d.fam}_source_range (an LPM trie), which netpath does not read`,
      },
    ];
    const from = ciliumRule('lb-service-algorithm').versions.from;
    if (!algorithm)
      unknown.push({
        property: 'algorithm',
        because: `before ${from} the Service map has no algorithm byte: the node's bpf-lb-algorithm decides`,
      });
    else if (!flags.l7LoadBalancer && flags.algorithm === undefined && m.u32 >>> 24 === 0)
      unknown.push({ property: 'algorithm', because: "algorithm byte 0: the node's default (bpf-lb-algorithm)" });
    if (!flags2High)
      unknown.push({
        property: 'dsr',
        because: `before ${ciliumRule('lb-service-flags2-high-bits').versions.from} the Service map has no DSR bit: the node's NodePort mode decides`,
      });
    if (flags.l7LoadBalancer)
      unknown.push({ property: 'affinity-timeout', because: 'an L7 load-balancer Service keeps its proxy port there' });
    const entry: ServiceEntry = {
      source: 'cilium-bpf',
      unknown,
      frontend: { address: f.addr, port: f.port, proto: protoName, scope: f.scope === 1 ? 'internal' : 'external' },
      type: typeOf(m.flags, m.flags2),
      id: m.revnat,
      flags,
      backends: [],
      slots: qcount ? { count: m.count, qcount: m.qcount } : { count: m.count },
      evidence: [svcEv(m)],
    };
    if (!qcount && m.qcount !== 0) raw.push(`pad=0x${m.qcount.toString(16)}`);

    const slots = g.filter((s) => s !== m && s.slot !== 0).sort((a, b) => a.slot - b.slot);
    if (g.filter((s) => s.slot === 0).length > 1)
      warnings.add('duplicate-slot', `${d.svcMap} ${feText}: slot 0 twice`, d.svcMap);
    const present = new Set(slots.map((s) => s.slot));
    const want = m.count + (qcount ? m.qcount : 0);
    const missing: number[] = [];
    for (let i = 1; i <= want && missing.length < 5; i++) if (!present.has(i)) missing.push(i);
    if (missing.length) {
      warnings.add(
        'slot-missing',
        `${d.svcMap} ${feText}: count says ${want} slots, slot ${missing.join(', ')} absent (BPF drops flows that pick it)`,
        d.svcMap,
      );
    }
    for (const s of slots) {
      if (s.revnat !== m.revnat) {
        warnings.add(
          'revnat-mismatch',
          `${d.svcMap} ${feText} slot ${s.slot}: rev-NAT ${s.revnat}, slot 0 has ${m.revnat}`,
          d.svcMap,
        );
      }
      const id = s.u32;
      const bi = d.bes.get(id);
      const be = bi === undefined ? undefined : beRow(d.beEntry!(bi), d.fam === 4 ? 4 : 16);
      if (!be) {
        if (d.hasBeDump) {
          const why = d.badBes.has(id) ? 'is unreadable' : 'is not in the backend map';
          warnings.add(
            'backend-missing',
            `${d.svcMap} ${feText} slot ${s.slot}: backend ${id} ${why} (${d.beMap})`,
            d.svcMap,
          );
        }
        entry.evidence.push(svcEv(s));
        continue;
      }
      const state = STATE[be.state];
      if (state === undefined)
        warnings.add('unknown-flag-bits', `${d.beMap} backend ${id}: unknown state flags ${be.state}`, d.beMap);
      const b: Backend = {
        address: be.addr,
        port: be.port,
        state: state ?? 'unknown',
        id: String(id),
        slot: s.slot,
        source: {
          probe: d.beMap,
          text: `backend ${id} ${joinHostPort(be.addr, be.port)} (slot ${s.slot} of ${feText}): value ${hex(be.e.value)}`,
        },
      };
      if (backendProto) {
        const bp = PROTO[be.proto];
        if (bp !== undefined) b.proto = bp;
        else warnings.add('bad-entry', `${d.beMap} backend ${id}: unknown protocol byte ${be.proto}`, d.beMap);
      }
      entry.backends.push(b);
    }

    if (d.revnat) {
      const ri = d.revnat.get(m.revnat);
      const rn = ri === undefined ? undefined : revnatRow(d.rnEntry!(ri), d.fam === 4 ? 4 : 16);
      if (!rn) {
        warnings.add(
          'revnat-missing',
          `${d.rnMap}: no entry ${m.revnat} for ${feText}; replies are not rewritten back to the frontend`,
          d.rnMap,
        );
      } else {
        entry.evidence.push({
          probe: d.rnMap,
          text: `rev-NAT ${m.revnat} → ${joinHostPort(rn.addr, rn.port)}: key ${hex(rn.e.key)} value ${hex(rn.e.value)}`,
        });
        if (rn.addr !== f.addr || rn.port !== f.port) {
          warnings.add(
            'revnat-mismatch',
            `${d.rnMap} entry ${m.revnat} is ${joinHostPort(rn.addr, rn.port)}, frontend is ${feText}`,
            d.rnMap,
          );
        }
      }
    }
    out.push(entry);
  }
  return out;
}

/**
 * How one LB map dump is read, for code that rewrites dumps (redaction): its BTF layouts, and where the
 * address is (the first bytes of the service key, of the backend value, of the reverse-NAT value, in
 * every layout era). undefined for a map that is not one of the six.
 */
export function lbMapDumpSpec(
  name: string,
): { layouts: { key: BtfLayout; value: BtfLayout }; side: 'key' | 'value'; alen: 4 | 16 } | undefined {
  const entry = (Object.entries(LB_MAP_NAMES) as [keyof LbMapDumps, string][]).find(([, n]) => n === name);
  if (!entry) return undefined;
  const k = entry[0];
  const alen = k.endsWith('4') ? 4 : 16;
  if (k.startsWith('services')) return { layouts: { key: svcKey(alen), value: svcVal }, side: 'key', alen };
  if (k.startsWith('backends')) return { layouts: { key: { scalar: 4 }, value: beVal(alen) }, side: 'value', alen };
  return { layouts: { key: { scalar: 2 }, value: rnVal(alen) }, side: 'value', alen };
}

/** The first index in the ascending a[0..n) whose value is not below x (n when there is none). */
function lowerBound(a: ArrayLike<number>, x: number, n: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
