import { parseSysctl } from '../../src/tools/sysctl/index.js';
import { parseUname } from '../../src/tools/uname/index.js';
import { parseWgDump } from '../../src/tools/wg/index.js';
import { canonPrefix } from '../../src/model/addr.js';
import { defineFuzz, eq, ok, seeds } from './harness.js';

defineFuzz({
  name: 'wg show all dump',
  seeds: seeds('wg/show-dump'),
  parse: parseWgDump,
  check: (ds) => {
    for (const d of ds) {
      for (const peer of d.peers) for (const a of peer.allowedIps) eq(canonPrefix(a), a, a);
    }
  },
});

defineFuzz({
  name: 'sysctl',
  seeds: seeds('sysctl'),
  parse: parseSysctl,
  check: (kv) => {
    eq(Object.getPrototypeOf(kv) === null || Object.getPrototypeOf(kv) === Object.prototype, true);
    for (const [k, v] of Object.entries(kv)) {
      ok(k.length > 0);
      eq(typeof v.value, 'string');
    }
  },
});

defineFuzz({
  name: 'uname -r',
  seeds: seeds('uname'),
  parse: parseUname,
  check: (r) => ok(!/[\n\r\u001b]/.test(r), r),
});
