// Preload (node --import) for tests of the built CLI: appends to the file named by NETPATH_TEST_WORKER_LOG
// one line per worker thread the process starts ("start <script>") and per first answer it posts
// ("reply <script> <ok>"). The CLI falls back to reading in its own thread when a worker is missing or
// fails, with the same output, so its output alone cannot tell whether the workers ran.
import { appendFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import wt from 'node:worker_threads';

const log = process.env.NETPATH_TEST_WORKER_LOG;
const Base = wt.Worker;
wt.Worker = class extends Base {
  constructor(script, opts) {
    super(script, opts);
    // an eval worker (exec/bundle-worker.ts) is named by the bundle file its source runs
    const s = opts?.eval
      ? `eval ${JSON.parse(/const file = (".*");/.exec(String(script))?.[1] ?? '"?"')}`
      : script instanceof URL
        ? script.pathname
        : String(script);
    appendFileSync(log, `start ${s}\n`);
    this.once('message', (m) => appendFileSync(log, `reply ${s} ${m?.ok === true}\n`));
  }
};
// ES modules' `import { Worker } from 'node:worker_threads'` see the patched class only after this
syncBuiltinESMExports();
