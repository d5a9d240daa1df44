import { createReadStream, readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { columnBuffers } from '../model/route-columns.js';
import { scanIpRouteData } from '../tools/ip/route-scan.js';
import { scanConntrack } from '../tools/conntrack/index.js';
import { flowQuery } from './conntrack.js';
import type { WorkerJob, WorkerReply } from './offload.js';

// One job per worker (offload.ts): scan one probe file and post the result once. Any failure posts
// { ok: false }: the main thread then reads the file itself and reports what is wrong with it.

async function run(job: WorkerJob): Promise<{ reply: WorkerReply; transfer: ArrayBuffer[] }> {
  const no = { reply: { ok: false } as WorkerReply, transfer: [] };
  if (job.kind === 'routes') {
    const bytes = readFileSync(job.path);
    // the main thread's read refuses NUL bytes (dirSource): leave that message to it
    if (bytes.includes(0)) return no;
    const data = scanIpRouteData(bytes, job.probe, job.family);
    if (!data) return no;
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    const transfer = [
      ...columnBuffers(data.columns),
      data.starts.buffer as ArrayBuffer,
      data.ends.buffer as ArrayBuffer,
    ];
    if (own) transfer.push(bytes.buffer as ArrayBuffer);
    return { reply: { ok: true, kind: 'routes', data, bytes }, transfer };
  }
  const q = job.query.kind === 'flow' ? flowQuery(job.query.flow, job.query.family, job.query.alsoDst) : job.query.q;
  const result = await scanConntrack(
    createReadStream(job.path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>,
    q,
    { probe: job.probe, ...(job.maxEntries !== undefined ? { maxEntries: job.maxEntries } : {}) },
  );
  return { reply: { ok: true, kind: 'conntrack', result }, transfer: [] };
}

run(workerData as WorkerJob).then(
  ({ reply, transfer }) => parentPort!.postMessage(reply, transfer),
  () => parentPort!.postMessage({ ok: false } satisfies WorkerReply),
);
