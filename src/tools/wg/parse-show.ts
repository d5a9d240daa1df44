import { canonPrefix } from '../../model/addr.js';
import { endpoint } from './fields.js';
import type { Parsed, WgDevice, WgPeer } from '../../model/types.js';
import { ev } from '../common.js';
import { Warnings } from '../warnings.js';
import { ParseError } from '../parse-error.js';

/** True when the text is the human form of `wg show` (`interface: wg0` then indented `key: value` lines). */
export function looksLikeWgShow(text: string): boolean {
  return /^interface: \S+\s*$/m.test(text);
}

/**
 * `wg show` / `wg` (the human form). Private and preshared keys are never read: `wg` prints them as
 * `(hidden)`, and a line that shows one anyway is skipped without echoing it.
 *
 * The form cannot give what the dump gives exactly: `latest handshake: 3 hours … ago` is relative to
 * a capture time the paste does not carry, and `transfer: 3.06 KiB received` is rounded, so
 * latestHandshake, rxBytes and txBytes stay undefined (unknown). An interface whose public key is
 * not printed (boringtun) has publicKey '' as in the dump's `(none)`.
 */
export function parseWgShow(text: string, probe: string): Parsed<WgDevice[]> {
  const warnings = new Warnings(probe);
  const devs: WgDevice[] = [];
  let dev: WgDevice | undefined;
  let peer: WgPeer | undefined;
  const badEndpoints: string[] = [];
  const unknown: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    let m: RegExpExecArray | null;
    if ((m = /^interface: (\S+)$/.exec(line))) {
      dev = { name: m[1]!, publicKey: '', peers: [], source: ev(probe, line) };
      devs.push(dev);
      peer = undefined;
      continue;
    }
    if ((m = /^peer: (\S+)$/.exec(line))) {
      if (!dev) {
        unknown.push('a peer before any `interface:` line');
        continue;
      }
      peer = { publicKey: m[1]!, allowedIps: [], source: ev(probe, line) };
      dev.peers.push(peer);
      continue;
    }
    m = /^([a-z][a-z -]*[a-z]): (.*)$/.exec(line);
    if (!m || !dev) {
      unknown.push(line.slice(0, 60));
      continue;
    }
    const [, key, value] = m as unknown as [string, string, string];
    // keys are read from the interface block until the first peer, then from that peer
    if (key === 'private key' || key === 'preshared key') continue;
    if (!peer) {
      if (key === 'public key') dev.publicKey = value === '(none)' ? '' : value;
      else if (key === 'listening port' && /^\d{1,5}$/.test(value) && Number(value) <= 65535)
        dev.listenPort = Number(value);
      else if (key === 'fwmark' && /^(0x[0-9a-f]+|\d+)$/i.test(value)) dev.fwmark = Number(value);
      else unknown.push(`${key}: ${value.slice(0, 40)}`);
      continue;
    }
    if (key === 'endpoint') {
      const e = endpoint(value);
      if (e === null) badEndpoints.push(`${peer.publicKey.slice(0, 12)}… ${value.slice(0, 60)}`);
      else peer.endpoint = e;
    } else if (key === 'allowed ips') {
      if (value === '(none)') continue;
      for (const p of value.split(',')) {
        const c = canonPrefix(p.trim());
        if (c === null) badEndpoints.push(`${peer.publicKey.slice(0, 12)}… allowed ip ${p.trim().slice(0, 60)}`);
        else peer.allowedIps.push(c);
      }
    } else if (key === 'persistent keepalive') {
      const k = /^every (\d+) seconds?$/.exec(value);
      if (k) peer.persistentKeepalive = Number(k[1]);
    } else if (key !== 'latest handshake' && key !== 'transfer') unknown.push(`${key}: ${value.slice(0, 40)}`);
    if (dev) dev.source = ev(probe, `interface: ${dev.name}`);
  }
  if (devs.length === 0) throw new ParseError(probe, 'no `interface: NAME` line: not `wg show` output');
  if (badEndpoints.length > 0)
    warnings.add(
      'record-unreadable',
      `${badEndpoints.length} peer value(s) not an address, left unknown (first: ${badEndpoints[0]})`,
    );
  if (unknown.length > 0)
    warnings.add('line-skipped', `${unknown.length} line(s) not in \`wg show\` form (first: ${unknown[0]})`);
  return { value: devs, warnings: warnings.done() };
}
