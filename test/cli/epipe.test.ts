import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// `netpath … | head` closes the pipe before netpath has written everything: the built binary must not die with
// an EPIPE stack trace, and keeps its own exit code.
const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(root, 'bin/netpath.js');

function withClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    // the read end is gone before netpath's first write: every write to stdout fails with EPIPE
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('a reader that goes away (`| head`)', () => {
  it('help: no stack trace, exit 0', async () => {
    const r = await withClosedStdout(['--help']);
    expect(r.stderr).not.toMatch(/EPIPE|at .*\(|node:events/);
    expect(r.code).toBe(0);
  });

  it('a trace keeps its own exit code (1: no route), quietly', async () => {
    const snap = join(root, 'fixtures/snapshots/v6-wg/gateway');
    const r = await withClosedStdout(['trace', '2001:db8:1::10', '2001:db8:77::1', '-s', snap]);
    expect(r.stderr).not.toMatch(/EPIPE|at .*\(|node:events/);
    expect(r.code).toBe(1);
  });
});
