import { appendFileSync } from 'node:fs';

/**
 * Every process netpath starts is announced here first. When NETPATH_AUDIT_LOG names a file, one
 * JSON line per spawn is appended to it, so the test suite can prove that only allow-listed
 * commands ever ran.
 */
export function auditSpawn(argv: readonly string[], prefix: readonly string[], input?: string): void {
  const file = process.env.NETPATH_AUDIT_LOG;
  if (!file) return;
  appendFileSync(file, JSON.stringify(input === undefined ? { argv, prefix } : { argv, prefix, input }) + '\n');
}
