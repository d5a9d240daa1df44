import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAllowed } from '../src/exec/allowlist.js';

// Every process netpath starts during the whole suite is appended to this log by src/exec/audit.ts;
// the run fails if any of them is not on the read-only allow-list.
export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'netpath-audit-'));
  const log = join(dir, 'spawns.jsonl');
  process.env.NETPATH_AUDIT_LOG = log;
  return () => {
    const lines = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
    rmSync(dir, { recursive: true, force: true });
    // a process fed stdin is checked with it: only validated route get lines may reach `ip -batch -`
    const bad = lines
      .map((l) => JSON.parse(l) as { argv: string[]; input?: string })
      .filter((e) => !isAllowed(e.argv, e.input));
    if (bad.length > 0)
      throw new Error(
        `netpath ran commands outside its read-only allow-list: ${bad.map((b) => JSON.stringify(b.argv)).join(', ')}`,
      );
    // a subset of the suite may start no process; test/exec/live.test.ts proves the hook logs spawns
    console.log(`spawn audit: ${lines.length} processes started by netpath, all on the read-only allow-list`);
  };
}
