import type { Parsed, WgDevice, WgPeer } from '../../model/types.js';
import { canonPrefix } from '../../model/addr.js';
import { ev } from '../common.js';
import { ParseError } from '../parse-error.js';
import { endpoint, lineShape, splitFields } from './fields.js';
import { REDACTED } from './redact.js';
import { Warnings } from '../warnings.js';
import { cleanPaste } from '../paste.js';
import { looksLikeWgShow, parseWgShow } from './parse-show.js';
import { throwIfToolError } from '../tool-error.js';

function counter(s: string): number | undefined {
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * `wg show all dump`: tab-separated, per interface `ifname private-key public-key listen-port
 * fwmark`, then per peer `ifname public-key preshared-key endpoint allowed-ips latest-handshake
 * rx tx persistent-keepalive`. Private and preshared keys are never read into the model.
 */
export function parseWgDump(text: string, probe: string): Parsed<WgDevice[]> {
  throwIfToolError(text, probe, 'wg');
  const pasted = cleanPaste(text, probe);
  if (looksLikeWgShow(pasted.text)) {
    const r = parseWgShow(pasted.text, probe);
    return { value: r.value, warnings: [...pasted.warnings, ...r.warnings] };
  }
  const warnings = new Warnings(probe, { more: 'lines skipped' }).preface(pasted.warnings);
  const devs = new Map<string, WgDevice>();
  let known = 0;
  let perInterface = 0;
  let unknown = 0;
  const clean = pasted.text;
  for (const raw of clean.split('\n')) {
    if (raw.trim() === '') continue;
    const { fields: f } = splitFields(raw.trim());
    const shape = lineShape(f);
    if (shape === 'iface-interface' || shape === 'iface-peer') {
      perInterface++;
      continue;
    }
    if (shape === 'unknown') {
      unknown++;
      // never echo the line: it may hold a key
      warnings.add(
        'line-skipped',
        `line ${known + perInterface + unknown} with ${f.length} fields is not a \`wg show all dump\` line`,
      );
      continue;
    }
    known++;
    if (shape === 'interface') {
      const [name, , pub, port, fwmark] = f as [string, string, string, string, string];
      const d: WgDevice = {
        name,
        publicKey: pub === '(none)' ? '' : pub,
        peers: [],
        source: ev(probe, `${name} public-key ${pub} listen-port ${port} fwmark ${fwmark}`),
      };
      if (Number(port) <= 65535) d.listenPort = Number(port);
      if (fwmark !== 'off') {
        const mark = Number(fwmark);
        if (mark <= 0xffffffff) d.fwmark = mark;
      }
      if (devs.has(name)) warnings.add('duplicate-interface', `${name} listed twice; the later line wins`);
      devs.set(name, d);
      continue;
    }
    const [name, pub, psk, ep, allowed, hs, rx, tx, ka] = f as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const d = devs.get(name);
    if (!d) {
      warnings.add('record-skipped', `peer ${pub} of ${name} comes before any interface line of ${name}`);
      continue;
    }
    const ips: string[] = [];
    let bad: string | undefined;
    if (allowed !== '(none)') {
      for (const p of allowed.split(',')) {
        const c = canonPrefix(p);
        if (c === null) bad ??= p;
        else ips.push(c);
      }
    }
    const epCanon = ep === '(none)' ? undefined : endpoint(ep);
    if (bad !== undefined || epCanon === null) {
      warnings.add(
        'record-skipped',
        `peer ${pub} of ${name}: ${bad !== undefined ? `allowed-ip ${JSON.stringify(bad.slice(0, 60))}` : `endpoint ${JSON.stringify(ep.slice(0, 60))}`} is not an address`,
      );
      continue;
    }
    const pskNote = psk === '(none)' ? '' : ` preshared-key ${REDACTED}`;
    const peer: WgPeer = {
      publicKey: pub,
      allowedIps: ips,
      source: ev(probe, `${name} peer ${pub}${pskNote} endpoint ${ep} allowed-ips ${allowed}`),
    };
    if (epCanon !== undefined) peer.endpoint = epCanon;
    const h = counter(hs);
    if (h !== undefined) peer.latestHandshake = h;
    const r = counter(rx);
    if (r !== undefined) peer.rxBytes = r;
    const t = counter(tx);
    if (t !== undefined) peer.txBytes = t;
    if (ka !== 'off') peer.persistentKeepalive = Number(ka);
    d.peers.push(peer);
  }
  if (known === 0 && perInterface > 0)
    throw new ParseError(probe, 'this is `wg show IFACE dump` (no interface-name column); capture `wg show all dump`');
  if (known === 0 && unknown > 0)
    throw new ParseError(probe, 'not `wg show all dump` output (tab-separated interface and peer lines expected)');
  // wg ends every line with a newline; a last line without one may have been cut short
  if (clean.slice(clean.lastIndexOf('\n') + 1).trim() !== '')
    warnings.add('unterminated-line', 'output does not end with a newline; its last line may be cut');
  if (perInterface > 0)
    warnings.add('line-skipped', `${perInterface} line(s) of a per-interface dump (no interface name) skipped`);
  return { value: [...devs.values()], warnings: warnings.done() };
}
