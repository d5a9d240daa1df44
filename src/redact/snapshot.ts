import { cleanText } from '../tools/common.js';
import { ParseError } from '../tools/parse-error.js';
import { lbMapDumpSpec, parseMapDump } from '../tools/bpf-map/index.js';
import { IPCACHE_KEY_LAYOUT, IPCACHE_VALUE_LAYOUT, ipcacheEntryShape } from '../tools/cilium/ipcache.js';
import { redactSecretsInFile } from '../tools/secrets.js';
import { jsonDepth, MAX_JSON_DEPTH, type Redactor } from './redactor.js';
import { byCodeUnit } from '../model/order.js';

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
 * One node's snapshot files, redacted through `r` (docs/safety.md, "Redaction"). A file that cannot be
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
  for (const [path, raw] of [...files].sort(([a], [b]) => byCodeUnit(a, b))) {
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
    if (map && /^cilium_ipcache(_v2)?$/.test(map[1]!)) {
      const red = redactIpcacheDump(r, text, path);
      if (typeof red === 'string') dropped.push(red);
      else {
        out.set(`bpf-map/${map[1]}.json`, red.json);
        if (map[2] === 'txt') renamed.set(path, `bpf-map/${map[1]}.json`);
        if (red.skipped > 0)
          dropped.push(`${path}: ${red.skipped} unreadable entr${red.skipped === 1 ? 'y' : 'ies'} left out`);
      }
      continue;
    }
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
    const safe = redactSecretsInFile(path, text);
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

/**
 * The ipcache map dump with its addresses redacted in the bytes: the key's prefix (host bits stay clear, so
 * it is still a prefix of the same length) and the value's tunnel endpoint. An entry whose layout is not one
 * of Cilium's is left out; a dump that cannot be read at all is dropped (the returned reason).
 */
function redactIpcacheDump(r: Redactor, text: string, path: string): { json: string; skipped: number } | string {
  let d: ReturnType<typeof parseMapDump>;
  try {
    d = parseMapDump(text, path, { key: IPCACHE_KEY_LAYOUT, value: IPCACHE_VALUE_LAYOUT });
  } catch (e) {
    return `${path}: ${e instanceof ParseError ? e.message : String(e)}`;
  }
  const hex = (b: number[]) => b.map((x) => `0x${x.toString(16).padStart(2, '0')}`);
  const entries: { key: string[]; value: string[] }[] = [];
  let skipped = d.warnings.length;
  for (const e of d.entries) {
    const s = ipcacheEntryShape(e);
    if (!s) {
      skipped++;
      continue;
    }
    const key = [...e.key];
    const addr = Uint8Array.from(key.slice(8, 8 + s.alen));
    const m = Array.from(r.ipBytes(addr));
    // keep it a prefix: clear the host bits the original had clear
    for (let bit = s.bits; bit < s.alen * 8; bit++) m[bit >> 3]! &= ~(0x80 >> (bit & 7));
    key.splice(8, s.alen, ...m);
    const value = [...e.value];
    const tun = value.slice(s.tunnelAt, s.tunnelAt + s.tunnelLen);
    if (tun.some((b) => b !== 0)) value.splice(s.tunnelAt, s.tunnelLen, ...Array.from(r.ipBytes(Uint8Array.from(tun))));
    entries.push({ key: hex(key), value: hex(value) });
  }
  return { json: JSON.stringify(entries) + '\n', skipped };
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
