import { z } from 'zod';

const u32 = z.number().int().nonnegative().max(0xffffffff);
const name = z.string().max(256);

/** An entry of the `tc` or `xdp` list of `bpftool -j net show`. */
export const netEntrySchema = z.looseObject({
  devname: z.string().min(1).max(64),
  ifindex: u32,
  // tc list: clsact/ingress|egress (7.1+), tcx/ingress|egress and netkit/primary|peer (7.3+)
  kind: z.string().max(64).optional(),
  // xdp list: driver, generic, offload
  mode: z.string().max(32).optional(),
  name: name.optional(),
  // legacy tc and xdp carry `id`; tcx and netkit carry `prog_id` and `link_id` (0 without a link)
  id: u32.optional(),
  prog_id: u32.optional(),
  link_id: u32.optional(),
  multi_attachments: z
    .array(z.looseObject({ mode: z.string().max(32), id: u32 }))
    .max(16)
    .optional(),
});

export const netBlockSchema = z.looseObject({
  xdp: z.array(z.unknown()).optional(),
  tc: z.array(z.unknown()).optional(),
  flow_dissector: z.array(z.unknown()).optional(),
  netfilter: z.array(z.unknown()).optional(),
});

/** An element of `bpftool -j prog show`. */
export const progSchema = z.looseObject({
  id: u32,
  // a number when bpftool does not know the program type
  type: z.union([z.string().min(1).max(64), u32]),
  name: name.optional(),
  tag: z
    .string()
    .regex(/^[0-9a-f]{1,64}$/)
    .optional(),
  map_ids: z.array(u32).max(4096).optional(),
  btf_id: u32.optional(),
});

/** An element of `bpftool -j link show`. */
export const linkSchema = z.looseObject({
  id: u32,
  // bpftool 7.1 prints link types it has no name for as their enum number
  type: z.union([z.string().min(1).max(64), u32]),
  prog_id: u32.optional(),
  ifindex: u32.optional(),
  devname: z.string().max(64).optional(),
  attach_type: z.union([z.string().min(1).max(64), u32]).optional(),
});

/** A program of `bpftool -j cgroup show PATH` or of a `programs` list of `cgroup tree`. */
export const cgroupProgSchema = z.looseObject({
  id: u32,
  attach_type: z.union([z.string().min(1).max(64), u32]),
  // absent with `effective`
  attach_flags: z.string().max(64).optional(),
  name: name.optional(),
});

export const cgroupTreeEntrySchema = z.looseObject({
  cgroup: z.string().min(1).max(4096),
  programs: z.array(z.unknown()),
});
