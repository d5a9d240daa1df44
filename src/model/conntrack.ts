import { z } from 'zod';
import type { Evidence, Family, Warning } from './types.js';

/**
 * One direction of a conntrack entry as `conntrack -L` prints it. Port fields for TCP, UDP,
 * UDP-Lite, SCTP and DCCP; type/code/id for ICMP and ICMPv6; GRE keys for GRE.
 */
export interface CtTuple {
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  type?: number;
  code?: number;
  id?: number;
  srckey?: number;
  dstkey?: number;
  /** accounting (nf_conntrack_acct), when enabled */
  packets?: number;
  bytes?: number;
  /** `zone-orig=` / `zone-reply=`: a directional zone */
  zone?: number;
}

export type CtFlag = 'ASSURED' | 'UNREPLIED' | 'OFFLOAD' | 'HW_OFFLOAD';

export interface ConntrackEntry {
  family: Family;
  /** l4 protocol name as conntrack prints it (`tcp`, `udp`, `icmp`, `icmpv6`, `sctp`, `unknown`, ...) */
  proto: string;
  protonum: number;
  /** seconds left; absent for offloaded entries */
  timeout?: number;
  /** TCP / SCTP / DCCP state (`ESTABLISHED`, `TIME_WAIT`, ...) */
  state?: string;
  orig: CtTuple;
  reply: CtTuple;
  flags: CtFlag[];
  mark?: number;
  secmark?: number;
  secctx?: string;
  zone?: number;
  /** seconds since the entry was created (`delta-time=`, with nf_conntrack_timestamp) */
  deltaTime?: number;
  /** `[start=...]` / `[stop=...]` of `-o ktimestamp`, as printed */
  start?: string;
  stop?: string;
  helper?: string;
  labels?: string[];
  use?: number;
  /** `-o id` */
  id?: number;
  /** destination NAT: the reply comes from somewhere other than where the original packet went */
  dnat: boolean;
  /** source NAT: the reply goes to somewhere other than where the original packet came from */
  snat: boolean;
  /** 1-based line in the probe output */
  line: number;
  source: Evidence;
}

/** What the node's conntrack table says about one trace's tuples. */
export interface FlowConntrack {
  probe: string;
  status: 'ok' | 'missing' | 'failed';
  origin?: string;
  /** entries whose original or reply tuple is the flow (any source port when the flow has none) */
  entries: ConntrackEntry[];
  /** more entries matched than were kept */
  cut: boolean;
  /** the capture itself was cut at the probe's size limit (manifest `truncated`) */
  captureTruncated: boolean;
  lines: number;
  warnings: Warning[];
  message?: string;
}

/**
 * The cheap part of an entry the scanner reads before a full parse: protocol and both tuples'
 * addresses and ports. Built the same way from a raw line and from a parsed entry.
 */
export interface CtTupleView {
  proto: string;
  orig: { src: string; dst: string; sport?: number; dport?: number };
  reply: { src: string; dst: string; sport?: number; dport?: number };
}

const u32 = z.number().int().min(0).max(0xffffffff);
const u16 = z.number().int().min(0).max(0xffff);
const u8 = z.number().int().min(0).max(0xff);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const tupleSchema = z.strictObject({
  src: z.string().min(2),
  dst: z.string().min(2),
  sport: u16.optional(),
  dport: u16.optional(),
  type: u8.optional(),
  code: u8.optional(),
  id: u16.optional(),
  srckey: u32.optional(),
  dstkey: u32.optional(),
  packets: count.optional(),
  bytes: count.optional(),
  zone: u16.optional(),
});

/** The model's contract (tests check every parsed entry against it). */
export const conntrackEntrySchema = z.strictObject({
  family: z.union([z.literal(4), z.literal(6)]),
  proto: z.string().regex(/^[a-z0-9]+$/),
  protonum: u8,
  timeout: u32.optional(),
  state: z
    .string()
    .regex(/^[A-Z_]+$/)
    .optional(),
  orig: tupleSchema,
  reply: tupleSchema,
  flags: z.array(z.enum(['ASSURED', 'UNREPLIED', 'OFFLOAD', 'HW_OFFLOAD'])),
  mark: u32.optional(),
  secmark: u32.optional(),
  secctx: z.string().optional(),
  zone: u16.optional(),
  deltaTime: count.optional(),
  start: z.string().optional(),
  stop: z.string().optional(),
  helper: z.string().optional(),
  labels: z.array(z.string()).optional(),
  use: u32.optional(),
  id: u32.optional(),
  dnat: z.boolean(),
  snat: z.boolean(),
  line: z.number().int().min(1),
  source: z.strictObject({ probe: z.string(), text: z.string() }),
});
