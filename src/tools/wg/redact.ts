// `wg show all dump` prints the interface's private key (2nd field of the interface line) and
// every peer's preshared key (3rd field of a peer line). They must never reach a snapshot.
const KEY = /^[A-Za-z0-9+/]{42,43}=$/;

export function redactWgDump(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const f = line.split('\t');
      if (f.length === 5 && f[1] !== undefined) f[1] = '(redacted)';
      else if (f.length === 9 && f[2] !== undefined && f[2] !== '(none)') f[2] = '(redacted)';
      else if (f.length > 1) {
        // a line in no known shape: keep only what is surely a public key (2nd field of a peer line is unknowable here)
        return f.map((x) => (KEY.test(x.trim()) ? '(redacted)' : x)).join('\t');
      }
      return f.join('\t');
    })
    .join('\n');
}
