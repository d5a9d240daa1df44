// Loaded with `node --import` by bench/ab.mjs: at exit, appends this process's main-thread CPU time (user+sys,
// in seconds, 10 ms ticks from /proc/self/task/<pid>/stat) to the file NP_BENCH_MT_FILE names. Worker threads
// run on the other core; the main thread's CPU is what bounds the wall time on an idle 2-core machine.
import { appendFileSync, readFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const file = process.env.NP_BENCH_MT_FILE;
// (--import runs in worker threads too: only the main thread reports)
if (file && isMainThread)
  process.on('exit', () => {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // fields after the command name (which may hold spaces) in parentheses: utime and stime are the 12th and 13th
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    appendFileSync(file, `${(Number(f[11]) + Number(f[12])) / 100}\n`);
  });
