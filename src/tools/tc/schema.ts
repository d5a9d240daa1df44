import { z } from 'zod';

const u32 = z.number().int().nonnegative().max(0xffffffff);
const word = z.string().regex(/^[\w.:-]{1,64}$/);

/** One element of `tc -j filter show dev X ingress|egress` (iproute2 6.1). */
export const tcFilterSchema = z.looseObject({
  protocol: word.optional(),
  pref: u32.optional(),
  kind: word,
  chain: u32.optional(),
  // absent on the per-priority header element
  options: z
    .looseObject({
      handle: z.string().max(64).optional(),
      // u32 names its nodes `fh` instead of `handle`
      fh: z.string().max(64).optional(),
      ht_divisor: z.number().optional(),
      bpf_name: z.string().max(256).optional(),
      'direct-action': z.boolean().optional(),
      prog: z
        .looseObject({
          id: u32.optional(),
          name: z.string().max(64).optional(),
          tag: z
            .string()
            .regex(/^[0-9a-f]{1,64}$/)
            .optional(),
        })
        .optional(),
    })
    .optional(),
});

/** One element of `tc -j qdisc show [dev X]`; `dev` is left out when the command filtered on it. */
export const tcQdiscSchema = z.looseObject({
  kind: word,
  handle: z.string().max(32).optional(),
  dev: z.string().min(1).max(64).optional(),
  parent: z.string().max(32).optional(),
  root: z.boolean().optional(),
});
