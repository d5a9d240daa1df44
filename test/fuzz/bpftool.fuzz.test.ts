import {
  parseBpftoolCgroup,
  parseBpftoolLink,
  parseBpftoolNet,
  parseBpftoolProg,
} from '../../src/tools/bpftool/index.js';
import { defineFuzz, ok, seeds } from './harness.js';

defineFuzz({
  name: 'bpftool net show',
  seeds: seeds('bpftool/net-show'),
  parse: parseBpftoolNet,
  check: (as) => {
    for (const a of as) ok(a.dev.length > 0);
  },
});
defineFuzz({ name: 'bpftool prog show', seeds: seeds('bpftool/prog-show'), parse: parseBpftoolProg });
defineFuzz({ name: 'bpftool link show', seeds: seeds('bpftool/link-show'), parse: parseBpftoolLink });
defineFuzz({
  name: 'bpftool cgroup tree/show',
  seeds: seeds('bpftool/cgroup'),
  parse: (t, p) => parseBpftoolCgroup(t, p, '/sys/fs/cgroup'),
  check: (cs) => {
    for (const c of cs) ok(c.attachType.length > 0);
  },
});
