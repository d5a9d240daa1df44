import { joinFields, KEY_LIKE, lineShape, secretColumn, splitFields } from './fields.js';

export const REDACTED = '(redacted)';

/**
 * Removes the secrets from `wg show all dump` (and `wg show IFACE dump`) output before it is
 * stored: the interface's private key and every peer's preshared key become `(redacted)`;
 * `(none)` stays. A line that is not in a known shape keeps no key-looking token at all, not
 * even a public key. Everything else is left byte for byte.
 */
export function redactWgDump(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const cr = line.endsWith('\r') ? '\r' : '';
      const body = cr ? line.slice(0, -1) : line;
      const { fields, seps } = splitFields(body);
      const col = secretColumn(lineShape(fields));
      if (col === undefined) return body.replace(KEY_LIKE, REDACTED) + cr;
      if (fields[col] !== '(none)') fields[col] = REDACTED;
      return joinFields(fields, seps) + cr;
    })
    .join('\n');
}
