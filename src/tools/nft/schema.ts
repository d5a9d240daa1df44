import { z } from 'zod';

/** `nft -j list ruleset` envelope: a flat list of one-key objects. */
export const NftEnvelope = z.looseObject({
  nftables: z.array(z.record(z.string(), z.unknown())),
});

export const NftTableJson = z.looseObject({ family: z.string(), name: z.string() });
export const NftChainJson = z.looseObject({
  family: z.string(),
  table: z.string(),
  name: z.string(),
  type: z.string().optional(),
  hook: z.string().optional(),
  prio: z.union([z.number(), z.string()]).optional(),
  policy: z.string().optional(),
});
export const NftSetJson = z.looseObject({
  family: z.string(),
  table: z.string(),
  name: z.string(),
  type: z.union([z.string(), z.array(z.string())]).optional(),
  map: z.union([z.string(), z.array(z.string())]).optional(),
  flags: z.union([z.string(), z.array(z.string())]).optional(),
  timeout: z.number().optional(),
  comment: z.string().optional(),
  elem: z.array(z.unknown()).optional(),
});
export const NftRuleJson = z.looseObject({
  family: z.string(),
  table: z.string(),
  chain: z.string(),
  comment: z.string().optional(),
  expr: z.array(z.record(z.string(), z.unknown())).optional(),
});
