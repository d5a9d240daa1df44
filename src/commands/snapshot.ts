import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Runner } from '../exec/runner.js';
import { captureNode, writeError, writeSnapshotDir } from '../collect/capture.js';
import { readSnapshotFiles } from '../collect/source.js';
import { writeTarGz } from '../collect/tar-write.js';
import { EXIT, SourceError, UsageError } from '../errors.js';
import type { Redactor } from '../redact/redactor.js';
import { learnNames, redactFiles } from '../redact/snapshot.js';
import { byCodeUnit } from '../model/order.js';

export interface RedactOption {
  redactor: Redactor;
  keySource: 'random' | 'key-file';
}

export interface SnapshotRequest {
  output: string;
  timeoutMs?: number;
  node?: string;
  onProgress?: (probe: string, done: number, total: number) => void;
  /** replace addresses, MACs, WireGuard public keys and node names before anything is written */
  redact?: RedactOption;
}

const NEEDED = ['ip-link', 'ip-addr', 'ip-route4', 'ip-route6'];
const isArchive = (p: string) => /\.(tar\.gz|tgz)$/.test(p);

/** A redacted snapshot must not land next to files it does not own (an earlier, unredacted capture). */
function refuseNonEmpty(output: string): void {
  if (isArchive(output)) return;
  let names: string[];
  try {
    names = readdirSync(output);
  } catch {
    return;
  }
  if (names.length > 0)
    throw new UsageError(
      `${output} exists and is not empty: a redacted snapshot is only written to a new or empty directory`,
    );
}

function writeOut(output: string, files: Map<string, string>): void {
  if (!isArchive(output)) {
    writeSnapshotDir(output, files);
    return;
  }
  let data: Buffer;
  try {
    data = writeTarGz(files, basename(output).replace(/\.(tar\.gz|tgz)$/, ''));
  } catch (e) {
    // a member path ustar cannot hold (a namespace name near 128 characters)
    throw new SourceError(output, e instanceof Error ? e.message : String(e));
  }
  try {
    writeFileSync(output, data);
  } catch (e) {
    throw writeError(output, e);
  }
}

function redactionLines(dropped: string[], keySource: RedactOption['keySource']): string[] {
  const lines = [
    `  redacted: addresses (prefix-preserving), MAC addresses, WireGuard public keys and node names replaced; key ${keySource === 'random' ? 'random for this run, not stored' : 'from the key file'}`,
  ];
  for (const d of dropped) lines.push(`  left out: ${d}`);
  return lines;
}

/** Captures a node into a directory or a .tar.gz. Exit 3 when the node gave nothing a trace needs. */
export async function takeSnapshot(
  runner: Runner,
  req: SnapshotRequest,
): Promise<{ summary: string; exitCode: number }> {
  if (req.redact) refuseNonEmpty(req.output);
  const opts: Parameters<typeof captureNode>[1] = {};
  if (req.timeoutMs !== undefined) opts.timeoutMs = req.timeoutMs;
  if (req.node !== undefined) opts.node = req.node;
  if (req.onProgress) opts.onProgress = req.onProgress;
  const captured = await captureNode(runner, opts);
  const m = captured.manifest;
  const ok = m.probes.filter((p) => p.file).length;
  const failed = m.probes.filter((p) => p.failed);
  const missing = NEEDED.filter((id) => !m.probes.some((p) => p.id === id && p.file));
  // the reason given is the one of the probes that are needed, not of whichever tool failed first
  const why = m.probes.find((p) => NEEDED.includes(p.id) && p.message)?.message ?? failed[0]?.message ?? 'no output';
  if (missing.length === NEEDED.length)
    throw new SourceError(req.output, `the node gave none of ${NEEDED.join(', ')} (${why})`);
  let files = captured.files;
  const lines = [`${req.output}: ${ok} of ${m.probes.length} probes captured${m.node ? ` from node ${m.node}` : ''}`];
  if (req.redact) {
    learnNames(req.redact.redactor, files, req.node !== undefined ? [req.node] : []);
    const red = redactFiles(req.redact.redactor, files, req.redact.keySource);
    files = red.files;
    lines.push(...redactionLines(red.dropped, req.redact.keySource));
  }
  for (const f of failed) lines.push(`  ${f.id}: ${f.message ?? f.failed}`);
  writeOut(req.output, files);
  return { summary: lines.join('\n'), exitCode: EXIT.ok };
}

export interface ClusterSnapshotRequest {
  output: string;
  nodes: { name: string; prefix: string[] }[];
  concurrency: number;
  timeoutMs?: number;
  redact?: RedactOption;
}

/**
 * Captures every node into `<output>/<node>/`, a bounded number at a time. A node that cannot be reached or
 * gives nothing is reported and the others go on; exit 3 only when no node could be captured. Redacted, every
 * node is captured into memory first, so all of them share one mapping (and every node name is known).
 */
export async function takeClusterSnapshot(
  runnerFor: (prefix: string[]) => Runner,
  req: ClusterSnapshotRequest,
): Promise<{ summary: string; exitCode: number }> {
  if (req.redact) refuseNonEmpty(req.output);
  const lines: string[] = [];
  const captured: { name: string; files: Map<string, string> }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < req.nodes.length) {
      const n = req.nodes[next++]!;
      try {
        const node = await captureNode(runnerFor(n.prefix), {
          node: n.name,
          ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}),
        });
        const m = node.manifest;
        if (!NEEDED.some((id) => m.probes.some((p) => p.id === id && p.file))) {
          const why =
            m.probes.find((p) => NEEDED.includes(p.id) && p.message)?.message ??
            m.probes.find((p) => p.failed)?.message ??
            'no output';
          throw new SourceError(`${req.output}/${n.name}`, `the node gave none of ${NEEDED.join(', ')} (${why})`);
        }
        if (req.redact) captured.push({ name: n.name, files: node.files });
        else writeSnapshotDir(join(req.output, n.name), node.files);
        lines.push(
          `${req.output}/${n.name}: ${m.probes.filter((p) => p.file).length} of ${m.probes.length} probes captured from node ${n.name}`,
        );
      } catch (e) {
        lines.push(`${n.name}: not captured — ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(req.concurrency, req.nodes.length) }, worker));
  const ok = req.redact ? captured.length : lines.filter((l) => !/: not captured — /.test(l)).length;
  if (req.redact) {
    const r = req.redact.redactor;
    const all = req.nodes.map((n) => n.name);
    for (const c of captured) learnNames(r, c.files, all);
    const dropped: string[] = [];
    for (const c of captured.sort((a, b) => byCodeUnit(a.name, b.name))) {
      const red = redactFiles(r, c.files, req.redact.keySource);
      const dir = r.nodeName(c.name);
      writeSnapshotDir(join(req.output, dir), red.files);
      lines.push(`  ${c.name} → ${req.output}/${dir}`);
      dropped.push(...red.dropped.map((d) => `${dir}/${d}`));
    }
    lines.push(...redactionLines(dropped, req.redact.keySource));
  }
  const head = lines.filter((l) => !l.startsWith('  ')).sort();
  lines.splice(
    0,
    lines.length,
    `${req.output}: ${ok} of ${req.nodes.length} nodes captured`,
    ...head,
    ...lines.filter((l) => l.startsWith('  ')),
  );
  if (ok === 0) throw new SourceError(req.output, `no node could be captured (${lines.slice(1).join('; ')})`);
  return { summary: lines.join('\n'), exitCode: ok === req.nodes.length ? EXIT.ok : EXIT.source };
}

/**
 * `snapshot --redact --from SRC`: an existing snapshot (directory or .tar.gz; with `cluster`, a directory of
 * node snapshots) written redacted to `output`.
 */
export async function redactSnapshot(req: {
  from: string;
  output: string;
  cluster: boolean;
  redact: RedactOption;
}): Promise<{ summary: string; exitCode: number }> {
  if (resolve(req.from) === resolve(req.output))
    throw new UsageError(
      '--from and -o are the same: a redacted snapshot is written next to the original, never over it',
    );
  refuseNonEmpty(req.output);
  const r = req.redact.redactor;
  const text = (files: Map<string, Buffer>) =>
    new Map([...files].map(([k, v]) => [k, v.toString('utf8')] as [string, string]));
  const lines: string[] = [];
  if (!req.cluster) {
    const { files, warnings } = await readSnapshotFiles(req.from);
    learnNames(r, text(files));
    const red = redactFiles(r, files, req.redact.keySource);
    writeOut(req.output, red.files);
    lines.push(
      `${req.output}: ${red.files.size} files of ${req.from} written redacted`,
      ...warnings.map((w) => `  ${w}`),
      ...redactionLines(red.dropped, req.redact.keySource),
    );
    return { summary: lines.join('\n'), exitCode: EXIT.ok };
  }
  let names: string[];
  try {
    names = readdirSync(req.from)
      .filter((n) => statSync(join(req.from, n)).isDirectory())
      .sort();
  } catch {
    throw new SourceError(req.from, 'no such cluster directory');
  }
  if (names.length === 0) throw new SourceError(req.from, 'no node snapshot in the directory');
  const nodes: { name: string; files: Map<string, Buffer> }[] = [];
  for (const n of names) nodes.push({ name: n, files: (await readSnapshotFiles(join(req.from, n))).files });
  for (const n of nodes) learnNames(r, text(n.files), names);
  const dropped: string[] = [];
  for (const n of nodes) {
    const red = redactFiles(r, n.files, req.redact.keySource);
    const dir = r.nodeName(n.name);
    writeSnapshotDir(join(req.output, dir), red.files);
    lines.push(`  ${n.name} → ${req.output}/${dir}`);
    dropped.push(...red.dropped.map((d) => `${dir}/${d}`));
  }
  lines.unshift(`${req.output}: ${nodes.length} node snapshots of ${req.from} written redacted`);
  lines.push(...redactionLines(dropped, req.redact.keySource));
  return { summary: lines.join('\n'), exitCode: EXIT.ok };
}

export const CILIUM_PODS_ARGV = ['kubectl', '-n', 'kube-system', 'get', 'pods', '-l', 'k8s-app=cilium', '-o', 'json'];

/**
 * Nodes of a cluster and the prefix that reaches each one: `kubectl exec` into the Cilium agent pod on it
 * (read-only probes run inside the agent container, which has ip, tc, bpftool and cilium-dbg).
 */
export async function discoverCiliumNodes(runner: Runner): Promise<{ name: string; prefix: string[] }[]> {
  const r = await runner(CILIUM_PODS_ARGV, { timeoutMs: 30_000 });
  if (r.failed) throw new SourceError('kubectl', r.message ?? r.failed);
  if (r.exitCode !== 0)
    throw new SourceError('kubectl', (r.stderr.split('\n')[0] ?? '').trim() || `exit code ${r.exitCode}`);
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
    if (
      typeof pod !== 'string' ||
      typeof node !== 'string' ||
      !/^[a-z0-9][a-z0-9.-]{0,252}$/.test(pod) ||
      !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/.test(node)
    )
      continue;
    if (phase !== undefined && phase !== 'Running') continue;
    out.push({ name: node, prefix: ['kubectl', '-n', 'kube-system', 'exec', pod, '-c', 'cilium-agent', '--'] });
  }
  return out.sort((a, b) => byCodeUnit(a.name, b.name));
}

/**
 * `snapshot --from <sysdump> --node NAME`: one node of a cilium sysdump written as a netpath snapshot
 * (probe files named as SNAPSHOT.md says, and a manifest naming what the sysdump lacked), redacted if asked.
 */
export async function convertSysdump(req: {
  from: string;
  node: string | undefined;
  output: string;
  redact?: RedactOption;
}): Promise<{ summary: string; exitCode: number }> {
  if (resolve(req.from) === resolve(req.output))
    throw new UsageError('--from and -o are the same: the snapshot is written next to the sysdump, never over it');
  refuseNonEmpty(req.output);
  const { openSnapshot } = await import('../collect/source.js');
  const { sysdumpSnapshotFiles } = await import('../collect/sysdump.js');
  const { NODE_PROBES } = await import('../collect/probes.js');
  const opened = await openSnapshot(req.from, req.node === undefined ? {} : { node: req.node });
  const files = await sysdumpSnapshotFiles(
    opened.source,
    NODE_PROBES.map((p) => p.id),
  );
  const lines = [`${req.output}: ${files.size} files of ${opened.source.description} written`];
  lines.push(...opened.warnings.map((w) => `  ${w}`));
  const m = JSON.parse(files.get('manifest.json')?.toString('utf8') ?? '{}') as {
    node?: string;
    probes?: { id: string }[];
  };
  if (req.redact) {
    const r = req.redact.redactor;
    learnNames(
      r,
      new Map([...files].map(([k, v]) => [k, v.toString('utf8')] as [string, string])),
      m.node ? [m.node] : [],
    );
    const red = redactFiles(r, files, req.redact.keySource);
    writeOut(req.output, red.files);
    lines.push(...redactionLines(red.dropped, req.redact.keySource));
  } else writeOut(req.output, new Map([...files].map(([k, v]) => [k, v.toString('utf8')] as [string, string])));
  if (m.probes?.length) lines.push(`  not in the sysdump: ${m.probes.map((p) => p.id).join(', ')}`);
  return { summary: lines.join('\n'), exitCode: EXIT.ok };
}
