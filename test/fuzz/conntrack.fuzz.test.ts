import { parseConntrack } from '../../src/tools/conntrack/index.js';
import { conntrackEntrySchema } from '../../src/model/conntrack.js';
import { canonIp } from '../../src/model/addr.js';
import { defineFuzz, eq, ok, seeds } from './harness.js';

defineFuzz({
  name: 'conntrack -L',
  seeds: seeds('conntrack', /\.txt$/),
  parse: parseConntrack,
  check: (es) => {
    for (const e of es) {
      ok(conntrackEntrySchema.safeParse(e).success, JSON.stringify(e).slice(0, 200));
      for (const a of [e.orig.src, e.orig.dst, e.reply.src, e.reply.dst]) eq(canonIp(a), a, a);
    }
  },
});
