#!/usr/bin/env node
// The build's code-cache warm-up (scripts/build-bundle.mjs): runs the CLI in dist/bundle/main.cjs once, compiled
// exactly as dist/cli-loader.js compiles it, and writes V8's code cache for it at exit.
// usage: node scripts/code-cache.mjs OUT [EXIT:N…] ARGS… [--then [EXIT:N…] ARGS…]…   (OUT: dist/bundle/main.cjs.cache;
//        ARGS: netpath's arguments; the commands run one after another in this process, each must exit 0 or an N)
//        node scripts/code-cache.mjs --worker BUNDLE OUT JOBS     (BUNDLE: dist/bundle/scan-worker.cjs; JOBS:
//        a JSON array of workerData values; each job's answer must be { ok: true }; a job's `ask`, if any, is the
//        message a worker that waits for one is sent)
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import wt from 'node:worker_threads';
import { evaluate, loadCli, runBundle } from '../dist/cli-loader.js';

if (process.argv[2] === '--worker') {
  const [file, out, jobs] = process.argv.slice(3);
  const real = createRequire(file);
  // the bundle's require, with node:worker_threads as a worker thread given `job` sees it; its answer resolves
  const asWorker = (job) => {
    let answer;
    const said = new Promise((resolve) => {
      answer = resolve;
    });
    const port = {
      postMessage: (m) => answer(m),
      // the svc worker waits for its question (job.ask) after it has read its file
      once(ev, cb) {
        if (ev === 'message' && job.ask !== undefined) setImmediate(() => cb(job.ask));
        return port;
      },
    };
    const threads = { ...wt, isMainThread: false, workerData: job, parentPort: port };
    const req = Object.assign(
      (id) => (id === 'node:worker_threads' || id === 'worker_threads' ? threads : real(id)),
      real,
    );
    return { req, said };
  };
  let script;
  for (const job of JSON.parse(jobs)) {
    const { req, said } = asWorker(job);
    if (script === undefined) script = runBundle(file, { cache: false, require: req }).script;
    else evaluate(script, file, req);
    const m = await said;
    if (m?.ok !== true) {
      console.error(`code-cache: the ${job.kind ?? 'svc'} job on ${job.path} did not answer ok`);
      process.exit(1);
    }
  }
  writeFileSync(out, script.createCachedData());
} else {
  // the commands, split at each `--then`; each `EXIT:` word before a command's arguments names an exit code it may
  // end with besides 0 (a live trace through a prefix that answers nothing ends unknown, 3)
  const [out, ...rest] = process.argv.slice(2);
  const commands = [[]];
  for (const a of rest) a === '--then' ? commands.push([]) : commands.at(-1).push(a);
  const { cli, script } = loadCli(undefined, { cache: false });
  const argv0 = process.argv[0];
  for (const words of commands) {
    const ok = new Set([0]);
    while (/^EXIT:\d+$/.test(words[0] ?? '')) ok.add(Number(words.shift().slice(5)));
    process.argv = [argv0, 'netpath', ...words];
    process.exitCode = undefined;
    await cli.run();
    const code = process.exitCode ?? 0;
    if (!ok.has(code)) {
      console.error(`code-cache: netpath ${words.join(' ')} exited ${code}`);
      process.exit(1);
    }
  }
  process.exitCode = 0;
  writeFileSync(out, script.createCachedData());
}
