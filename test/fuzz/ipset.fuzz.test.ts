import { parseIpset } from '../../src/tools/ipset/index.js';
import { canonIp, canonPrefix } from '../../src/model/addr.js';
import { defineFuzz, eq, ok, seeds } from './harness.js';

defineFuzz({
  name: 'ipset save / ipset list',
  seeds: seeds('ipset', /\.txt$/),
  parse: parseIpset,
  check: (sets) => {
    for (const s of sets) {
      ok(typeof s.name === 'string' && s.name.length > 0, s.name);
      ok(Number.isInteger(s.entries) && s.entries >= 0, `${s.name} entries`);
      for (const m of s.members) {
        if (m.ip !== undefined) eq(canonIp(m.ip), m.ip, m.ip);
        if (m.ip2 !== undefined) eq(canonIp(m.ip2), m.ip2, m.ip2);
        if (m.net !== undefined) eq(canonPrefix(m.net), m.net, m.net);
        if (m.port !== undefined) ok(Number.isInteger(m.port) && m.port >= 0 && m.port <= 65535, String(m.port));
      }
    }
  },
});
