import type { CiliumEncryptStatus, Parsed } from '../../model/types.js';
import { DANGEROUS_KEYS, cleanText, ev } from '../common.js';
import { ParseError } from '../parse-error.js';
import { Warnings } from '../warnings.js';

function num(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d{1,10}$/.test(s.trim())) return undefined;
  return Number(s.trim());
}

/**
 * `cilium-dbg encrypt status` (`cilium encrypt status` before 1.15), as cilium-dbg/cmd/encrypt_status.go prints
 * it: `Encryption: MODE`, then for IPsec `Decryption interface(s):`, `Keys in use:`, `Max Seq. Number:` (`Max.
 * sequence number:` in 1.11), `Errors:` and one indented `XfrmName: N` (`XfrmName N` in 1.11) per error; for
 * WireGuard one `Interface:` with indented `Public key:` and `Number of peers:` per device.
 */
export function parseCiliumEncryptStatus(text: string, probe: string): Parsed<CiliumEncryptStatus> {
  const warnings = new Warnings(probe);
  const notUnderstood = (line: string) => warnings.add('line-skipped', `\`${line.slice(0, 120)}\` not understood`);
  let st: CiliumEncryptStatus | undefined;
  let wg: NonNullable<CiliumEncryptStatus['wireguard']>[number] | undefined;
  let inErrors = false;
  for (const raw of cleanText(text).split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^([A-Za-z][A-Za-z .()]*?):\s*(.*)$/.exec(line);
    const key = m?.[1]?.toLowerCase();
    const val = m?.[2]?.trim() ?? '';
    if (key === 'encryption') {
      st = { mode: val.split(/\s+/)[0] ?? '', source: ev(probe, line) };
      continue;
    }
    if (!st) continue;
    if (key === 'nodeencryption' || key === 'node encryption') st.nodeEncryption = val;
    else if (key === 'interface') {
      wg = { name: val, source: ev(probe, line) };
      (st.wireguard ??= []).push(wg);
      inErrors = false;
    } else if (key === 'public key' && wg) wg.publicKey = val;
    else if (key === 'number of peers' && wg) {
      const n = num(val);
      if (n !== undefined) wg.peers = n;
    } else if (key === 'decryption interface(s)') {
      st.ipsec ??= { xfrmErrors: Object.create(null) as Record<string, number> };
      st.ipsec.decryptInterfaces = val === '' ? [] : val.split(/,\s*/);
    } else if (key === 'keys in use') {
      st.ipsec ??= { xfrmErrors: Object.create(null) as Record<string, number> };
      const n = num(val);
      if (n !== undefined) st.ipsec.keysInUse = n;
    } else if (key === 'max seq. number' || key === 'max. sequence number') {
      st.ipsec ??= { xfrmErrors: Object.create(null) as Record<string, number> };
      st.ipsec.maxSeqNumber = val;
    } else if (key === 'errors') {
      st.ipsec ??= { xfrmErrors: Object.create(null) as Record<string, number> };
      const n = num(val);
      if (n !== undefined) st.ipsec.errors = n;
      inErrors = true;
    } else if (inErrors && st.ipsec) {
      const e = /^(Xfrm\w{1,64}):?\s+(\d{1,20})$/.exec(line);
      const n = e ? Number(e[2]) : NaN;
      if (e && !DANGEROUS_KEYS.has(e[1]!) && Number.isSafeInteger(n)) st.ipsec.xfrmErrors[e[1]!] = n;
      else notUnderstood(line);
    } else notUnderstood(line);
  }
  if (!st || st.mode === '') throw new ParseError(probe, 'no `Encryption:` line');
  return { value: st, warnings: warnings.done() };
}
