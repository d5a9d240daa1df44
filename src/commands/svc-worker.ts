import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { iptablesServicesFromLines, keepFor } from '../collect/iptables-services.js';
import { kubeProxyServicesFromIptables } from '../analysis/kube-proxy/iptables.js';
import { iptablesLinesNeeded, lineIndexOf } from '../analysis/kube-proxy/iptables-lines.js';
import { iptablesByteLines } from '../tools/iptables/parse-iptables.js';
import type { IptablesAsk, IptablesJob, IptablesReply } from './svc-offload.js';

// One iptables-save dump per worker (svc-offload.ts): it is read, its lines found and indexed as soon as the
// worker starts, before the question is known; the question then arrives as a message and is answered
// with loadServices' own code. Anything unusual posts { ok: false }, and the main thread reads the file
// itself, so that its errors and warnings are the ones a one-thread read gives.

const job = workerData as IptablesJob;
let found: ReturnType<typeof iptablesByteLines> | undefined;
try {
  const bytes = readFileSync(job.path);
  // the main thread's read refuses NUL bytes (dirSource): leave that message to it
  if (!bytes.includes(0)) found = iptablesByteLines(bytes, job.probe);
  // the line index depends on the bytes only: built now, while the main thread is still getting to its question
  if (found) lineIndexOf(found.lines);
} catch {
  found = undefined;
}

function answer(ask: IptablesAsk): IptablesReply {
  if (!found) return { ok: false };
  try {
    const r = iptablesServicesFromLines(
      found,
      job.probe,
      job.family,
      { linesNeeded: iptablesLinesNeeded, servicesFromIptables: kubeProxyServicesFromIptables },
      keepFor(ask.only),
      ask.narrow,
    );
    return { ok: true, entries: r.entries, warnings: r.warnings };
  } catch {
    return { ok: false };
  }
}

parentPort!.once('message', (ask: IptablesAsk) => parentPort!.postMessage(answer(ask)));
