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
  if (job.kind === 'route-pair') return routePair(job);
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

/**
 * A diff's two route files of one family (route-pair.ts): the before side scanned, the after side made
 * from it where the bytes are the same. Each side is sent only when its file was read whole and did not
 * change meanwhile; a side left out is read by the main thread.
 */
async function routePair(
  job: Extract<WorkerJob, { kind: 'route-pair' }>,
): Promise<{ reply: WorkerReply; transfer: ArrayBuffer[] }> {
  const [{ columnBuffers }, { stampOf }, { scanRoutePair }] = await Promise.all([
    import('../model/route-columns.js'),
    import('../tools/ip/route-scan.js'),
    import('../tools/ip/route-pair.js'),
  ]);
  const fds: number[] = [];
  try {
    const open = (path: string) => {
      const fd = openSync(path, 'r');
      fds.push(fd);
      const stamp = stampOf(fstatSync(fd));
      // the main thread's read refuses NUL bytes (dirSource): leave that message to it
      const read = (buf: Uint8Array, at: number, n: number, pos: number) => {
        const k = readSync(fd, buf, at, n, pos);
        return buf.subarray(at, at + k).includes(0) ? -1 : k;
      };
      return { fd, stamp, input: { read, size: stamp.size } };
    };
    const b = open(job.before);
    const a = open(job.after);
    const got = scanRoutePair(b.input, a.input, job.probe, job.family);
    const transfer: ArrayBuffer[] = [];
    const side = (d: typeof got.before, f: typeof b) => {
      // changed while it was read: the main thread reads it again, as one whole
      const now = stampOf(fstatSync(f.fd));
      if (!d || now.size !== f.stamp.size || now.mtimeMs !== f.stamp.mtimeMs) return undefined;
      transfer.push(...columnBuffers(d.columns), d.starts.buffer as ArrayBuffer, d.ends.buffer as ArrayBuffer);
      return { data: d, stamp: f.stamp };
    };
    const before = side(got.before, b);
    const after = side(got.after, a);
    return {
      reply: {
        ok: true,
        kind: 'route-pair',
        ...(before ? { before } : {}),
        ...(after ? { after } : {}),
      },
      transfer,
    };
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

run(workerData as WorkerJob).then(
  ({ reply, transfer }) => parentPort!.postMessage(reply, transfer),
  () => parentPort!.postMessage({ ok: false } satisfies WorkerReply),
);
