import { parseTcFilter, parseTcQdisc } from '../../src/tools/tc/index.js';
import { defineFuzz, eq, seeds } from './harness.js';

for (const dir of ['ingress', 'egress'] as const) {
  defineFuzz({
    name: `tc filter show (${dir})`,
    seeds: seeds('tc/filter-show', new RegExp(`-${dir}[.]`)),
    parse: (t, p) => parseTcFilter(t, p, 'eth0', dir),
    check: (fs) => {
      for (const f of fs) {
        eq(f.direction, dir);
        if (f.progId !== undefined) eq(Number.isSafeInteger(f.progId) && f.progId >= 0, true, String(f.progId));
      }
    },
  });
}

defineFuzz({ name: 'tc qdisc show', seeds: seeds('tc/qdisc-show'), parse: (t, p) => parseTcQdisc(t, p) });
