import type { Parsed, Warning, WgDevice, WgPeer } from '../../model/types.js';
import { canonPrefix } from '../../model/addr.js';
import { cleanText, ev, warn } from '../common.js';
import { ParseError } from '../parse-error.js';

export { redactWgDump } from './redact.js';

/**
 * `wg show all dump`: per interface one line `ifname private-key public-key listen-port fwmark`,
 * then per peer `ifname public-key preshared-key endpoint allowed-ips latest-handshake rx tx keepalive`,
 * tab-separated. The private and preshared keys are never kept.
 */
export function parseWgDump(text: string, probe: string): Parsed<WgDevice[]> {
  const warnings: Warning[] = [];
  const devs = new Map<string, WgDevice>();
  let recognised = 0;
  for (const raw of cleanText(text).split('\n')) {
    if (raw.trim() === '') continue;
    const f = raw.split('\t');
    if (f.length === 5) {
      recognised++;
      const [name, , pub, port, fwmark] = f as [string, string, string, string, string];
      const d: WgDevice = { name, publicKey: pub, peers: [], source: ev(probe, `${name} public-key ${pub} listen-port ${port} fwmark ${fwmark}`) };
      if (/^\d+$/.test(port)) d.listenPort = Number(port);
      if (fwmark !== 'off' && /^(0x[0-9a-f]+|\d+)$/i.test(fwmark)) d.fwmark = Number(fwmark);
      devs.set(name, d);
    } else if (f.length === 9) {
      recognised++;
      const [name, pub, , endpoint, allowed, hs, rx, tx, ka] = f as [string, string, string, string, string, string, string, string, string];
      const d = devs.get(name);
      if (!d) {
        warnings.push(warn('record-skipped', `peer of ${name} before its interface line`, probe));
        continue;
      }
      const ips = allowed === '(none)' ? [] : allowed.split(',').map((p) => canonPrefix(p.trim())).filter((p): p is string => p !== null);
      const peer: WgPeer = { publicKey: pub, allowedIps: ips, source: ev(probe, `${name} peer ${pub} endpoint ${endpoint} allowed-ips ${allowed}`) };
      if (endpoint !== '(none)') peer.endpoint = endpoint;
      if (/^\d+$/.test(hs)) peer.latestHandshake = Number(hs);
      if (/^\d+$/.test(rx)) peer.rxBytes = Number(rx);
      if (/^\d+$/.test(tx)) peer.txBytes = Number(tx);
      if (/^\d+$/.test(ka)) peer.persistentKeepalive = Number(ka);
      d.peers.push(peer);
    } else {
      warnings.push(warn('record-skipped', `line with ${f.length} fields is not wg dump output`, probe));
    }
  }
  if (recognised === 0 && warnings.length > 0) throw new ParseError(probe, 'not `wg show all dump` output (tab-separated fields expected)');
  return { value: [...devs.values()], warnings };
}
