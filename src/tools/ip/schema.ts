import { z } from 'zod';

// iproute2 JSON shapes (ip -j), checked against iproute2 6.1 on kernel 6.18. Keys are omitted when
// absent; flags are `key: null` (print_null), so presence is tested with hasOwnProperty, never
// truthiness. Unknown keys are allowed: newer iproute2 adds keys (tcp_usec_ts on routes, protocol on
// addresses, extern_valid on neighbours, dscp/flowlabel/port masks on rules).

const name = z.string().min(1).max(256);
const strOrNum = z.union([z.string().max(256), z.number()]);
const u32 = z.number().int().min(0).max(0xffffffff);

// ifindex, link ids, mtu and program ids are u32 in the kernel; larger JSON numbers
// (4294967296, found by fuzzing) are not a device to report.
export const ipLinkSchema = z.looseObject({
  ifindex: u32.positive(),
  ifname: name,
  link: z.string().nullable().optional(),
  link_index: u32.optional(),
  link_netnsid: u32.optional(),
  flags: z.array(z.string()).optional(),
  gso_max_size: u32.optional(),
  gro_max_size: u32.optional(),
  gso_ipv4_max_size: u32.optional(),
  gro_ipv4_max_size: u32.optional(),
  mtu: u32.optional(),
  operstate: z.string().optional(),
  address: z.string().optional(),
  master: z.string().optional(),
  linkinfo: z.looseObject({ info_kind: z.string().optional(), info_slave_kind: z.string().optional() }).optional(),
  xdp: z
    .looseObject({
      mode: z.number().int().optional(),
      prog: z.looseObject({ id: u32.optional() }).optional(),
      attached: z
        .array(
          z.looseObject({ mode: z.number().int().optional(), prog: z.looseObject({ id: u32.optional() }).optional() }),
        )
        .optional(),
    })
    .optional(),
});

export const ipAddrInfoSchema = z.looseObject({
  family: z.enum(['inet', 'inet6']),
  local: z.string(),
  /** peer of a point-to-point address (not the link-layer address it means in `ip link`) */
  address: z.string().optional(),
  prefixlen: z.number().int().min(0).max(128),
  scope: strOrNum.optional(),
  secondary: z.boolean().optional(),
  label: z.string().optional(),
});

export const ipAddrSchema = z.looseObject({
  ifindex: u32.positive(),
  ifname: name,
  addr_info: z.array(z.unknown()).optional(),
});

const via = z.looseObject({ family: z.enum(['inet', 'inet6']), host: z.string() });
const flagList = z.array(z.string());

export const ipNexthopSchema = z.looseObject({
  gateway: z.string().optional(),
  via: via.optional(),
  dev: z.string().optional(),
  weight: z.number().int().positive().optional(),
  flags: flagList.optional(),
});

/** One element of `ip -j [-d] route show table all`; the parser checks the same rules by hand on its hot path. */
export const ipRouteSchema = z.looseObject({
  type: z.string().optional(),
  dst: z.string(),
  from: z.string().optional(),
  tos: strOrNum.optional(),
  dsfield: strOrNum.optional(),
  nhid: u32.optional(),
  gateway: z.string().optional(),
  via: via.optional(),
  dev: z.string().optional(),
  table: strOrNum.optional(),
  protocol: strOrNum.optional(),
  scope: strOrNum.optional(),
  prefsrc: z.string().optional(),
  metric: u32.optional(),
  flags: flagList.optional(),
  /** `[{"mtu":1400,"advmss":1360}]`; a locked metric loses its lock flag in JSON (iproute2 6.1) */
  metrics: z.array(z.record(z.string(), z.unknown())).optional(),
  nexthops: z.array(ipNexthopSchema).optional(),
  pref: z.string().optional(),
  expires: z.number().optional(),
  encap: z.string().optional(),
  cache: z.array(z.string()).optional(),
});

export const ipRuleSchema = z.looseObject({
  priority: u32,
  src: z.string().optional(),
  srclen: z.number().int().min(0).max(128).optional(),
  dst: z.string().optional(),
  dstlen: z.number().int().min(0).max(128).optional(),
  iif: z.string().optional(),
  oif: z.string().optional(),
  fwmark: z.string().optional(),
  fwmask: z.string().optional(),
  tos: strOrNum.optional(),
  ipproto: strOrNum.optional(),
  sport: z.number().int().min(0).max(65535).optional(),
  dport: z.number().int().min(0).max(65535).optional(),
  sport_start: z.number().int().min(0).max(65535).optional(),
  sport_end: z.number().int().min(0).max(65535).optional(),
  dport_start: z.number().int().min(0).max(65535).optional(),
  dport_end: z.number().int().min(0).max(65535).optional(),
  uid_start: u32.optional(),
  uid_end: u32.optional(),
  table: strOrNum.optional(),
  goto: u32.optional(),
  action: z.string().optional(),
  suppress_prefixlen: z.number().int().optional(),
  suppress_ifgroup: strOrNum.optional(),
});

export const ipNeighSchema = z.looseObject({
  dst: z.string(),
  dev: z.string().optional(),
  lladdr: z.string().optional(),
  state: z.array(z.string()).optional(),
});

// nsid is u32 like the text form's; -1 (unassigned) or larger is not an id to report
export const ipNetnsSchema = z.looseObject({ name: name, id: u32.optional() });

/** First zod issue as `path: message`, for a one-line warning. */
export function zodWhy(r: { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } }): string {
  const i = r.error.issues[0];
  if (!i) return 'invalid';
  return i.path.length > 0 ? `${i.path.map(String).join('.')}: ${i.message}` : i.message;
}
