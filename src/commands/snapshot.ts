import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Runner } from '../exec/runner.js';
import { captureSnapshot } from '../collect/capture.js';
import { writeTarGz } from '../collect/tar-write.js';
import { EXIT, SourceError } from '../errors.js';

export interface SnapshotRequest {
  output: string;
  timeoutMs?: number;
  node?: string;
  onProgress?: (probe: string, done: number, total: number) => void;
}

function readTree(dir: string, base = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of readdirSync(join(dir, base))) {
    const rel = base ? `${base}/${name}` : name;
    const st = statSync(join(dir, rel));
    if (st.isDirectory()) for (const [k, v] of readTree(dir, rel)) out.set(k, v);
    else if (st.isFile()) out.set(rel, readFileSync(join(dir, rel)));
  }
  return out;
}

/** Captures a node into a directory or a .tar.gz. Exit 3 when the node gave nothing a trace needs. */
export async function takeSnapshot(runner: Runner, req: SnapshotRequest): Promise<{ summary: string; exitCode: number }> {
  const archive = /\.(tar\.gz|tgz)$/.test(req.output);
  const dir = archive ? mkdtempSync(join(tmpdir(), 'netpath-snap-')) : req.output;
  try {
    const opts: Parameters<typeof captureSnapshot>[1] = { outDir: dir };
    if (req.timeoutMs !== undefined) opts.timeoutMs = req.timeoutMs;
    if (req.node !== undefined) opts.node = req.node;
    if (req.onProgress) opts.onProgress = req.onProgress;
    const m = await captureSnapshot(runner, opts);
    const ok = m.probes.filter((p) => p.file).length;
    const failed = m.probes.filter((p) => p.failed);
    if (archive) writeFileSync(req.output, writeTarGz(readTree(dir), basename(req.output).replace(/\.(tar\.gz|tgz)$/, '')));
    const needed = ['ip-link', 'ip-addr', 'ip-route4', 'ip-route6'];
    const missing = needed.filter((id) => !m.probes.some((p) => p.id === id && p.file));
    const lines = [`${req.output}: ${ok} of ${m.probes.length} probes captured${m.node ? ` from node ${m.node}` : ''}`];
    for (const f of failed) lines.push(`  ${f.id}: ${f.message ?? f.failed}`);
    if (missing.length === needed.length) throw new SourceError(req.output, `the node gave none of ${needed.join(', ')} (${failed[0]?.message ?? 'no output'})`);
    return { summary: lines.join('\n'), exitCode: EXIT.ok };
  } finally {
    if (archive) rmSync(dir, { recursive: true, force: true });
  }
}

export interface ClusterSnapshotRequest {
  output: string;
  nodes: { name: string; prefix: string[] }[];
  concurrency: number;
  timeoutMs?: number;
}

/**
 * Captures every node into `<output>/<node>/`, a bounded number at a time. A node that cannot be reached or
 * gives nothing is reported and the others go on; exit 3 only when no node could be captured.
 */
export async function takeClusterSnapshot(runnerFor: (prefix: string[]) => Runner, req: ClusterSnapshotRequest): Promise<{ summary: string; exitCode: number }> {
  const lines: string[] = [];
  let ok = 0;
  let next = 0;
  const worker = async () => {
    while (next < req.nodes.length) {
      const n = req.nodes[next++]!;
      try {
        const r = await takeSnapshot(runnerFor(n.prefix), { output: `${req.output}/${n.name}`, node: n.name, ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}) });
        ok++;
        lines.push(r.summary.split('\n')[0]!);
      } catch (e) {
        lines.push(`${n.name}: not captured — ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(req.concurrency, req.nodes.length) }, worker));
  lines.sort();
  lines.unshift(`${req.output}: ${ok} of ${req.nodes.length} nodes captured`);
  if (ok === 0) throw new SourceError(req.output, `no node could be captured (${lines.slice(1).join('; ')})`);
  return { summary: lines.join('\n'), exitCode: ok === req.nodes.length ? EXIT.ok : EXIT.source };
}

export const CILIUM_PODS_ARGV = ['kubectl', '-n', 'kube-system', 'get', 'pods', '-l', 'k8s-app=cilium', '-o', 'json'];

/**
 * Nodes of a cluster and the prefix that reaches each one: `kubectl exec` into the Cilium agent pod on it
 * (read-only probes run inside the agent container, which has ip, tc, bpftool and cilium-dbg).
 */
export async function discoverCiliumNodes(runner: Runner): Promise<{ name: string; prefix: string[] }[]> {
  const r = await runner(CILIUM_PODS_ARGV, { timeoutMs: 30_000 });
  if (r.failed) throw new SourceError('kubectl', r.message ?? r.failed);
  if (r.exitCode !== 0) throw new SourceError('kubectl', (r.stderr.split('\n')[0] ?? '').trim() || `exit code ${r.exitCode}`);
  let doc: unknown;
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    throw new SourceError('kubectl', 'get pods -o json did not print JSON');
  }
  const items = (doc as { items?: unknown }).items;
  if (!Array.isArray(items)) throw new SourceError('kubectl', 'get pods -o json has no items list');
  const out: { name: string; prefix: string[] }[] = [];
  for (const it of items) {
    const pod = (it as { metadata?: { name?: unknown } }).metadata?.name;
    const node = (it as { spec?: { nodeName?: unknown } }).spec?.nodeName;
    const phase = (it as { status?: { phase?: unknown } }).status?.phase;
    if (typeof pod !== 'string' || typeof node !== 'string' || !/^[a-z0-9][a-z0-9.-]{0,252}$/.test(pod) || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/.test(node)) continue;
    if (phase !== undefined && phase !== 'Running') continue;
    out.push({ name: node, prefix: ['kubectl', '-n', 'kube-system', 'exec', pod, '-c', 'cilium-agent', '--'] });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
