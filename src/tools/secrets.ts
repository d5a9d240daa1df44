import { redactWgDump } from './wg/redact.js';
import { redactXfrm } from './xfrm/redact.js';

/**
 * The probes that print secrets, and how each is cleaned: WireGuard private and preshared keys, IPsec (xfrm)
 * key bytes. Applied to a probe's output before it is kept in memory or written (capture, live), and again
 * to any snapshot file being redacted (a snapshot not taken by netpath may still carry them).
 */
export function redactSecrets(id: string, text: string): string {
  if (id === 'wg') return redactWgDump(text);
  // `ip xfrm policy` carries no key, but a pasted file may hold both outputs
  if (id === 'ip-xfrm-state' || id === 'ip-xfrm-policy') return redactXfrm(text);
  return text;
}

/** The same, by snapshot file name (`wg.txt`, `ip-xfrm-state.txt`). */
export function redactSecretsInFile(path: string, text: string): string {
  const m = /^(wg|ip-xfrm-state|ip-xfrm-policy)\.(txt|json)$/.exec(path);
  return m ? redactSecrets(m[1]!, text) : text;
}
