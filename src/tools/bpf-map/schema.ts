import { z } from 'zod';

/** One element of `bpftool -j map dump`: raw bytes as "0x%02x" strings, plus `formatted` when the map has BTF. */
const Bytes = z.array(z.string());
const Btf = z.union([z.record(z.string(), z.unknown()), z.number(), z.array(z.unknown())]);

export const DumpElementSchema = z.looseObject({
  key: z.union([Bytes, Btf]).optional(),
  value: z.union([Bytes, Btf]).optional(),
  formatted: z.looseObject({ key: Btf.optional(), value: Btf.optional() }).optional(),
});

export type DumpElement = z.infer<typeof DumpElementSchema>;
