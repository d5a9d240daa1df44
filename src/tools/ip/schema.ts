import { z } from 'zod';

// iproute2 JSON shapes (ip -j). Keys are omitted when absent; flags are `key: null`
// (print_null), so presence is tested with `in`, never truthiness. Unknown keys are allowed:
// newer iproute2 adds keys (tcp_usec_ts, protocol on addresses, extern_valid on neighbours).

export const ipLinkSchema = z.looseObject({
  ifindex: z.number().int().nonnegative(),
  ifname: z.string().min(1),
  link: z.string().nullable().optional(),
  link_index: z.number().int().optional(),
  link_netnsid: z.number().int().optional(),
  flags: z.array(z.string()).optional(),
  mtu: z.number().int().optional(),
  operstate: z.string().optional(),
  address: z.string().optional(),
  master: z.string().optional(),
  linkinfo: z.looseObject({ info_kind: z.string().optional(), info_slave_kind: z.string().optional() }).optional(),
  xdp: z.looseObject({ mode: z.number().int().optional(), prog: z.looseObject({ id: z.number().int().optional() }).optional() }).optional(),
});

export const ipAddrInfoSchema = z.looseObject({
  family: z.enum(['inet', 'inet6']),
  local: z.string(),
  address: z.string().optional(),
  prefixlen: z.number().int().min(0).max(128),
  scope: z.union([z.string(), z.number()]).optional(),
  secondary: z.boolean().optional(),
  label: z.string().optional(),
});

export const ipAddrSchema = z.looseObject({
  ifindex: z.number().int().nonnegative(),
  ifname: z.string().min(1),
  addr_info: z.array(z.unknown()).optional(),
});

const gatewayVia = z.looseObject({ family: z.enum(['inet', 'inet6']), host: z.string() });
const nexthop = z.looseObject({
  gateway: z.string().optional(),
  via: gatewayVia.optional(),
  dev: z.string().optional(),
  weight: z.number().int().optional(),
  flags: z.array(z.string()).optional(),
});

export const ipRouteSchema = z.looseObject({
  type: z.string().optional(),
  dst: z.string(),
  from: z.string().optional(),
  gateway: z.string().optional(),
  via: gatewayVia.optional(),
  dev: z.string().optional(),
  table: z.union([z.string(), z.number()]).optional(),
  protocol: z.union([z.string(), z.number()]).optional(),
  scope: z.union([z.string(), z.number()]).optional(),
  prefsrc: z.string().optional(),
  metric: z.number().int().nonnegative().optional(),
  flags: z.array(z.string()).optional(),
  nexthops: z.array(nexthop).optional(),
  nhid: z.number().int().optional(),
  tos: z.union([z.string(), z.number()]).optional(),
  dsfield: z.union([z.string(), z.number()]).optional(),
});

export const ipRuleSchema = z.looseObject({
  priority: z.number().int().nonnegative(),
  src: z.string().optional(),
  srclen: z.number().int().optional(),
  dst: z.string().optional(),
  dstlen: z.number().int().optional(),
  iif: z.string().optional(),
  oif: z.string().optional(),
  fwmark: z.string().optional(),
  fwmask: z.string().optional(),
  tos: z.union([z.string(), z.number()]).optional(),
  ipproto: z.union([z.string(), z.number()]).optional(),
  sport: z.number().int().optional(),
  dport: z.number().int().optional(),
  sport_start: z.number().int().optional(),
  sport_end: z.number().int().optional(),
  dport_start: z.number().int().optional(),
  dport_end: z.number().int().optional(),
  uid_start: z.number().int().optional(),
  uid_end: z.number().int().optional(),
  table: z.union([z.string(), z.number()]).optional(),
  goto: z.number().int().optional(),
  action: z.string().optional(),
  suppress_prefixlen: z.number().int().optional(),
  suppress_ifgroup: z.union([z.string(), z.number()]).optional(),
});

export const ipNeighSchema = z.looseObject({
  dst: z.string(),
  dev: z.string().optional(),
  lladdr: z.string().optional(),
  state: z.array(z.string()).optional(),
});

export const ipNetnsSchema = z.looseObject({ name: z.string().min(1), id: z.number().int().optional() });
