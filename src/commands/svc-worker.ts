import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { iptablesServices, keepFor } from '../collect/iptables-services.js';
import { kubeProxyServicesFromIptables } from '../analysis/kube-proxy/iptables.js';
import { iptablesLinesNeeded } from '../analysis/kube-proxy/iptables-lines.js';
import type { IptablesJob, IptablesReply } from './svc-offload.js';

// One iptables-save dump per worker (svc-offload.ts): read it and find the asked Services in it with
// loadServices' own code. Anything unusual posts { ok: false }, and the main thread reads the file
// itself, so that its errors and warnings are the ones a one-thread read gives.

function run(job: IptablesJob): IptablesReply {
  const bytes = readFileSync(job.path);
  // the main thread's read refuses NUL bytes (dirSource): leave that message to it
  if (bytes.includes(0)) return { ok: false };
  const r = iptablesServices(
    bytes,
    job.probe,
    job.family,
    { linesNeeded: iptablesLinesNeeded, servicesFromIptables: kubeProxyServicesFromIptables },
    keepFor(job.only),
    job.narrow,
  );
  return { ok: true, entries: r.entries, warnings: r.warnings };
}

let reply: IptablesReply;
try {
  reply = run(workerData as IptablesJob);
} catch {
  reply = { ok: false };
}
parentPort!.postMessage(reply);
