// npm run test:stress — the kernel tests (test/kernel), several times in a row, while every core is kept busy:
// a lab that only passes on an idle machine is a flaky test on a CI machine. Fails if any run fails.
//   STRESS_RUNS=5 (default)   STRESS_LOAD=<busy processes, default one per core>
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

const runs = Number(process.env.STRESS_RUNS ?? 5);
const busy = Number(process.env.STRESS_LOAD ?? availableParallelism());
const work = mkdtempSync(join(tmpdir(), 'np-stress-'));

// the load: busy loops of our own, stopped however this script ends
const load = Array.from({ length: busy }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
const stopLoad = () => {
  for (const p of load) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
};
process.on('exit', stopLoad);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.on(sig, () => {
    stopLoad();
    rmSync(work, { recursive: true, force: true });
    process.exit(130);
  });

/** One vitest run of test/kernel: its exit status, counts from its JSON report, its last lines, its wall time. */
function once(i) {
  const report = join(work, `run-${i}.json`);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(
      'npx',
      ['vitest', 'run', 'test/kernel', '--reporter=default', `--reporter=json`, `--outputFile=${report}`],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NETPATH_KERNEL_TESTS: '1' } },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code, signal) => {
      let r = {};
      try {
        r = JSON.parse(readFileSync(report, 'utf8'));
      } catch {
        /* no report: the run failed before writing it; its output says why */
      }
      const underLoad = load.every((p) => p.exitCode === null && p.signalCode === null);
      resolve({
        ok: code === 0 && underLoad,
        code: code ?? signal,
        passed: r.numPassedTests ?? 0,
        failed: r.numFailedTests ?? 0,
        skipped: (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0),
        seconds: Math.round((Date.now() - started) / 1000),
        underLoad,
        failures: (r.testResults ?? [])
          .filter((f) => f.status === 'failed')
          .map((f) => {
            const t = (f.assertionResults ?? []).filter((a) => a.status === 'failed').map((a) => a.fullName);
            return `${f.name.replace(`${process.cwd()}/`, '')}${t.length ? `: ${t.join('; ')}` : `: ${(f.message ?? '').split('\n')[0]}`}`;
          }),
        tail: out.trim().split('\n').slice(-30).join('\n'),
      });
    });
  });
}

console.log(`test:stress: ${runs} runs of test/kernel with ${busy} busy processes (${availableParallelism()} cores)`);
const results = [];
for (let i = 1; i <= runs; i++) {
  const r = await once(i);
  results.push(r);
  console.log(
    `run ${i}/${runs}: ${r.ok ? 'passed' : 'FAILED'} in ${r.seconds}s — ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped${r.underLoad ? '' : ' (a load process died: not under load)'}`,
  );
  if (!r.ok) {
    for (const f of r.failures) console.log(`  ${f}`);
    if (r.failures.length === 0) console.log(r.tail.replace(/^/gm, '  | '));
  }
}
stopLoad();
rmSync(work, { recursive: true, force: true });
const good = results.filter((r) => r.ok).length;
const secs = results.map((r) => r.seconds);
console.log(
  `test:stress: ${good}/${runs} runs passed under load; wall time per run ${Math.min(...secs)}–${Math.max(...secs)} s`,
);
process.exit(good === runs ? 0 : 1);
