import { cleanText } from '../tools/common.js';
import { ParseError } from '../tools/parse-error.js';
import { lbMapDumpSpec, parseMapDump } from '../tools/bpf-map/index.js';
import { redactWgDump } from '../tools/wg/index.js';
import { jsonDepth, MAX_JSON_DEPTH, type Redactor } from './redactor.js';

/** Recorded in a redacted snapshot's manifest, so a reader knows what the addresses are. */
export const REDACTION_METHOD = 'netpath-prefix-preserving-v1';

export interface RedactedFiles {
  files: Map<string, string>;
  /** files left out because they cannot be redacted safely, with the reason */
  dropped: string[];
}

/** Files whose text comes from iproute2, where `10/8` is a prefix. */
const isIpProbe = (path: string) => /^(netns\/[^/]+\/)?ip-[a-z0-9]+\.(json|txt)$/.test(path);

/**
 * Names the redactor must know before any file is redacted: the node's own name (hostname, manifest), nodes
 * named by Cilium (`nodeName` in service lists, `cluster/node` lines of health output), plus `extra`; and the
 * device and namespace names that a node name must not be replaced inside.
 */
export function learnNames(r: Redactor, files: Map<string, string>, extra: string[] = []): void {
  const names: string[] = [...extra];
  const hostname = files.get('hostname.txt')?.trim();
  if (hostname) names.push(hostname.split('\n')[0]!.trim());
  const manifest = files.get('manifest.json');
  if (manifest !== undefined) {
    try {
      const m = JSON.parse(manifest) as { node?: unknown };
      if (typeof m.node === 'string') names.push(m.node);
    } catch {
      /* not JSON: nothing to learn */
    }
  }
  const words: string[] = [];
  for (const [path, text] of files) {
    if (path.endsWith('.json'))
      for (const m of text.matchAll(/"(?:nodeName|node-name|nodename)"\s*:\s*"([^"\\]{1,253})"/gi)) names.push(m[1]!);
    if (path.startsWith('cilium-status'))
      for (const m of text.matchAll(/^\s+[A-Za-z0-9][\w.-]*\/([A-Za-z0-9][\w.-]*)(?: \(localhost\))?:\s*$/gm))
        names.push(m[1]!);
    // device names: `ip addr` prints the same head lines as `ip link` (a paste may have only it)
    if (/(^|\/)ip-(link|addr)\./.test(path)) {
      for (const m of text.matchAll(/"ifname"\s*:\s*"([^"\\]+)"/g)) words.push(m[1]!);
      for (const m of text.matchAll(/^\d+:\s+([^:@\s]+)/gm)) words.push(m[1]!);
    }
    const ns = /^netns\/([^/]+)\//.exec(path);
    if (ns) words.push(ns[1]!);
  }
  r.addNames(names);
  r.reserveNames(words);
}

/**
 * One node's snapshot files, redacted through `r` (README "Safety", "Redaction"). A file that cannot be
 * redacted with certainty (binary, a map dump netpath cannot decode) is dropped and named in `dropped`.
 */
export function redactFiles(
  r: Redactor,
  files: Map<string, string | Buffer>,
  keySource: 'random' | 'key-file',
): RedactedFiles {
  const out = new Map<string, string>();
  const dropped: string[] = [];
  const renamed = new Map<string, string>();
  let manifest: string | undefined;
  for (const [path, raw] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    const buf = typeof raw === 'string' ? undefined : raw;
    if (buf?.includes(0)) {
      dropped.push(`${path}: binary data`);
      continue;
    }
    const text = typeof raw === 'string' ? raw : raw.toString('utf8');
    if (text.includes('\0')) {
      dropped.push(`${path}: binary data`);
      continue;
    }
    const opts = { shortPrefixes: isIpProbe(path) };
    if (path === 'manifest.json') {
      manifest = text;
      continue;
    }
    if (path === 'hostname.txt') {
      const name = text.trim().split('\n')[0]!.trim();
      out.set(path, name === '' ? text : `${r.nodeName(name)}\n`);
      continue;
    }
    const map = /^bpf-map\/([^/]+)\.(json|txt)$/.exec(path);
    if (map || path.startsWith('bpf-map/')) {
      const spec = map ? lbMapDumpSpec(map[1]!) : undefined;
      if (!spec) {
        dropped.push(`${path}: a map dump netpath cannot decode, so addresses in its bytes could not be found`);
        continue;
      }
      try {
        const d = parseMapDump(text, path, spec.layouts);
        const hex = (b: number[]) => b.map((x) => `0x${x.toString(16).padStart(2, '0')}`);
        const entries = d.entries.map((e) => {
          const side = spec.side === 'key' ? [...e.key] : [...e.value];
          if (side.length >= spec.alen)
            side.splice(0, spec.alen, ...r.ipBytes(Uint8Array.from(side.slice(0, spec.alen))));
          return spec.side === 'key' ? { key: hex(side), value: hex(e.value) } : { key: hex(e.key), value: hex(side) };
        });
        // written back as `bpftool -j` raw bytes: nothing of the original form (formatted values) survives
        out.set(`bpf-map/${map![1]}.json`, JSON.stringify(entries) + '\n');
        if (map![2] === 'txt') renamed.set(path, `bpf-map/${map![1]}.json`);
        if (d.warnings.length > 0)
          dropped.push(
            `${path}: ${d.warnings.length} unreadable entr${d.warnings.length === 1 ? 'y' : 'ies'} left out`,
          );
      } catch (e) {
        dropped.push(`${path}: ${e instanceof ParseError ? e.message : String(e)}`);
      }
      continue;
    }
    // secrets first, whatever else happens to the file (a snapshot not taken by netpath may carry them)
    const safe = /^wg\.(txt|json)$/.test(path) ? redactWgDump(text) : text;
    // a JSON document value by value (prefix siblings, node-name fields); one that does not parse, or nests
    // deeper than any tool prints, as text: every string of it is still scanned
    if (path.endsWith('.json') && jsonDepth(safe) <= MAX_JSON_DEPTH) {
      let doc: unknown;
      let ok = true;
      try {
        doc = JSON.parse(cleanText(safe));
      } catch {
        ok = false;
      }
      if (ok) {
        out.set(path, JSON.stringify(r.json(doc, opts)) + (safe.endsWith('\n') ? '\n' : ''));
        continue;
      }
    }
    out.set(path, r.text(safe, opts));
  }
  if (manifest !== undefined) out.set('manifest.json', redactManifest(r, manifest, keySource, renamed));
  return { files: out, dropped };
}

function redactManifest(
  r: Redactor,
  text: string,
  keySource: 'random' | 'key-file',
  renamed: Map<string, string>,
): string {
  let m: Record<string, unknown>;
  if (jsonDepth(text) > MAX_JSON_DEPTH) return r.text(text);
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return r.text(text);
    m = v as Record<string, unknown>;
  } catch {
    return r.text(text);
  }
  const red = r.json(m) as Record<string, unknown>;
  if (typeof m.node === 'string') red.node = r.nodeName(m.node);
  // the prefix that reached the node (`ssh host.example.com`, a pod name) says where it is
  if (m.capturedWith !== undefined) red.capturedWith = '(redacted)';
  if (Array.isArray(red.probes)) {
    for (const p of red.probes as { file?: unknown }[])
      if (typeof p?.file === 'string' && renamed.has(p.file)) p.file = renamed.get(p.file);
  }
  red.redaction = {
    method: REDACTION_METHOD,
    key: keySource === 'random' ? 'random for this run, not stored' : 'from a key file, not stored',
    kept: [
      '0.0.0.0/8',
      '127.0.0.0/8',
      '224.0.0.0/4',
      '255.255.255.255',
      '169.254.0.0/16 (prefix)',
      '::',
      '::1',
      'ff00::/8',
      'fe80::/64 (prefix)',
      '::ffff:0:0/96 (prefix)',
    ],
  };
  return JSON.stringify(red, null, 2) + '\n';
}
