import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { iptablesServices } from '../collect/iptables-services.js';
import { kubeProxyServicesFromIptables } from '../analysis/kube-proxy/iptables.js';
import { iptablesLinesNeeded } from '../analysis/kube-proxy/iptables-lines.js';
import { pruneIptables, readOfBeforeIptables } from '../analysis/diff-before-chains.js';
import type { DiffIptablesJob, DiffIptablesReply } from './diff-iptables-offload.js';

// The before side's iptables-save of a diff, in a thread of its own (diff-iptables-offload.ts): parsed with
// loadServices' own code, its Services derived, and only the chains diffNodes reads of it sent back.
// Anything unusual posts { ok: false } and the main thread reads the file itself, so that its errors and
// warnings are the ones a one-thread read gives.

const job = workerData as DiffIptablesJob;

function answer(): DiffIptablesReply {
  try {
    const bytes = readFileSync(job.path);
    // the main thread's read refuses NUL bytes (dirSource): leave that message to it
    if (bytes.includes(0)) return { ok: false };
    const r = iptablesServices(
      bytes,
      job.probe,
      job.family,
      { linesNeeded: iptablesLinesNeeded, servicesFromIptables: kubeProxyServicesFromIptables },
      undefined,
      {},
      // kube-proxy's per-Service chains read lean (tools/iptables/lean-rules.ts): the Services come out the same and
      // none of these chains is among the few kept (readOfBeforeIptables), so no lean rule is ever parsed whole
      job.lean,
    );
    return { ok: true, entries: r.entries, warnings: r.warnings, rules: pruneIptables(r.rules, readOfBeforeIptables) };
  } catch {
    return { ok: false };
  }
}

parentPort!.postMessage(answer());
