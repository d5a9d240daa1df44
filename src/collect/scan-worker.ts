import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerJob, WorkerReply } from './offload.js';

// One job per worker (offload.ts): scan one probe file and post the result once. Any failure posts
// { ok: false }: the main thread then reads the file itself and reports what is wrong with it.
// Each job kind imports only its own scanner: in the bundle a conntrack worker then does not compile the
// route scanner and zod (~0.75 MiB, which the route scan needs to word a warning), nor a route worker the
// conntrack scanner.

async function run(job: WorkerJob): Promise<{ reply: WorkerReply; transfer: ArrayBuffer[] }> {
  const no = { reply: { ok: false } as WorkerReply, transfer: [] };
  if (job.kind === 'routes') {
    const [{ columnBuffers }, { scanIpRouteStream, stampOf }] = await Promise.all([
      import('../model/route-columns.js'),
      import('../tools/ip/route-scan.js'),
    ]);
    // read through one reused buffer, never the whole file: the main thread reads a route's element
    // back from the file when a lookup needs it (routesFromFile)
    const fd = openSync(job.path, 'r');
    try {
      const stamp = stampOf(fstatSync(fd));
      let pos = 0;
      const read = (buf: Uint8Array, at: number, n: number) => {
        const k = readSync(fd, buf, at, n, pos);
        pos += k;
        // the main thread's read refuses NUL bytes (dirSource): leave that message to it
        return buf.subarray(at, at + k).includes(0) ? -1 : k;
      };
      const data = scanIpRouteStream(read, job.probe, job.family, { size: stamp.size });
      // changed while it was read: the main thread reads it again, as one whole
      const after = stampOf(fstatSync(fd));
      if (!data || after.size !== stamp.size || after.mtimeMs !== stamp.mtimeMs || pos !== stamp.size) return no;
      const transfer = [
        ...columnBuffers(data.columns),
        data.starts.buffer as ArrayBuffer,
        data.ends.buffer as ArrayBuffer,
      ];
      return { reply: { ok: true, kind: 'routes', data, stamp }, transfer };
    } finally {
      closeSync(fd);
    }
  }
  const [{ scanConntrack }, { flowQuery }, { fileChunks, SCAN_PIECE }] = await Promise.all([
    import('../tools/conntrack/index.js'),
    import('./conntrack.js'),
    import('./file-chunks.js'),
  ]);
  const q =
    job.query.kind === 'flow'
      ? flowQuery(job.query.flow, job.query.family, job.query.alsoDst)
      : job.query.kind === 'flow-source'
        ? (await import('./flow-conntrack.js')).flowSourceQuery(job.query.flow, job.query.family)
        : job.query.q;
  const result = await scanConntrack(fileChunks(job.path, SCAN_PIECE), q, {
    probe: job.probe,
    ...(job.maxEntries !== undefined ? { maxEntries: job.maxEntries } : {}),
    // counted: a line in the usual shape is checked without building its entry (ScanOptions.count)
    ...(job.countOnly ? { count: true } : {}),
  });
  return { reply: { ok: true, kind: 'conntrack', result }, transfer: [] };
}

run(workerData as WorkerJob).then(
  ({ reply, transfer }) => parentPort!.postMessage(reply, transfer),
  () => parentPort!.postMessage({ ok: false } satisfies WorkerReply),
);
