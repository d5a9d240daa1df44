#!/usr/bin/env node
// node bench/ct-natless.mjs IN OUT: a conntrack listing with each entry's reply coming from its original
// destination and port (no destination NAT), as on a node whose connections are mostly pod to pod. Derived from
// a generated bench table (bench/gen.mjs), for timing the `--nat dnat` scan on lines it does not keep.
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

const [inp, out] = process.argv.slice(2);
if (!inp || !out) {
  console.error('usage: node bench/ct-natless.mjs IN OUT');
  process.exit(2);
}
const w = createWriteStream(out);
const tuple = / src=(\S+) dst=(\S+) sport=(\S+) dport=(\S+)/g;
for await (const l of createInterface({ input: createReadStream(inp) })) {
  const m = [...l.matchAll(tuple)];
  if (m.length !== 2) {
    w.write(`${l}\n`);
    continue;
  }
  const [o, r] = m;
  w.write(
    `${l.slice(0, r.index)} src=${o[2]} dst=${r[2]} sport=${o[4]} dport=${r[4]}${l.slice(r.index + r[0].length)}\n`,
  );
}
w.end();
