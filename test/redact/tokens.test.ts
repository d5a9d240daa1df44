import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readSnapshotFiles } from '../../src/collect/source.js';
import { Redactor } from '../../src/redact/redactor.js';
import { learnNames, redactFiles } from '../../src/redact/snapshot.js';

// Redaction rewrites a token only when the whole token is an address (README "Redaction"): every other token of
// every bundled file — `cilium/v2::CiliumNode`, `xfe80::1`, a program tag — comes out unchanged. Each file is
// tokenised before and after (whitespace, then the punctuation no address contains); a token that changed must
// be an address on both sides, with the same affixes (`src=`, `addr:`, `/24`, `:8080`, `/TCP`).

const root = fileURLToPath(new URL('../..', import.meta.url));
const KEY = Buffer.alloc(32, 0x5a);

/**
 * The shape of a token that is an address with what may surround it in tool output (`src=`, `addr:`, `[…]`,
 * `%zone`, `/24`, `:8080`, `/TCP`, `/i`, a bridge id's `8000.` priority, a trailing `.` or `:`), the address
 * itself replaced by `<addr>`; undefined when the token is no such thing.
 */
function addressShape(tok: string, names: Map<string, string>, after: boolean): string | undefined {
  if (after ? /^node-[a-z2-7]{8}$/.test(tok) : names.has(tok)) return '<name>';
  if (/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(tok)) return '<key>';
  const ec2 = /^ip-\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3}((?:\.[\w-]+)*)$/.exec(tok);
  if (ec2) return `<ec2>${ec2[1]}`;
  const bare = bareShape(tok);
  if (bare !== undefined) return bare;
  // `addr:10.0.0.1`, `src=10.0.0.1`: a label before the address
  const label = /^([A-Za-z_][\w-]*[:=])(.+)$/.exec(tok);
  if (label) {
    const inner = bareShape(label[2]!);
    return inner === undefined ? undefined : `${label[1]}${inner}`;
  }
  return undefined;
}

function bareShape(tok: string): string | undefined {
  if (isAddr(tok)) return '<addr>';
  let t = tok;
  let tail = '';
  const cut = (re: RegExp) => {
    const m = re.exec(t);
    if (!m) return;
    tail = m[0] + tail;
    t = t.slice(0, t.length - m[0].length);
  };
  // one side of a bracketed list (`[eth0 10.0.27.0]`)
  if (!t.startsWith('[')) cut(/\]+$/);
  cut(/[.:]$/);
  cut(/\/i$/);
  cut(/\/(TCP|UDP|SCTP|ANY|tcp|udp|sctp)$/);
  const open = !t.endsWith(']') && !/\]:\d+$/.test(t) ? (/^\[+/.exec(t)?.[0] ?? '') : '';
  t = t.slice(open.length);
  let head = '';
  const br = /^\[(.+)\](:\d{1,5})?$/.exec(t);
  if (br) {
    head = '[';
    tail = `]${br[2] ?? ''}${tail}`;
    t = br[1]!;
  } else {
    const port = /^(.+?)(:\d{1,5})$/.exec(t);
    if (port && isIPv4(port[1]!.replace(/\/\d{1,2}$/, ''))) {
      tail = port[2]! + tail;
      t = port[1]!;
    }
  }
  // a prefix length, or the port of kube-proxy's nft chain names (`…__172.18.0.2/6443`)
  cut(/\/\d{1,5}$/);
  cut(/%[\w.-]+$/);
  const bridge = /^[0-9a-f]{4}\./.exec(t);
  if (bridge && isAddr(t.slice(5))) return `${open}${head}${bridge[0]}<addr>${tail}`;
  if (isAddr(t)) return `${open}${head}<addr>${tail}`;
  // iproute2's short prefixes: `10.244/16`
  return /^\d{1,3}(\.\d{1,3}){0,2}\/\d{1,2}$/.test(tok) ? '<short>' : undefined;
}

const isAddr = (a: string) =>
  isIPv4(a) || (a.includes(':') && isIPv6(a)) || /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5,}$/.test(a);

/** Whitespace, then the separators no address holds (quotes, commas, parentheses, `_`; `=` and `:` kept). */
const tokens = (s: string) => s.split(/[\s,;"'(){}<>|_]+/).filter((t) => t !== '');

/** Every changed token of `before` → `after`, as `before → after` strings, when it is not an address change. */
function corrupted(before: string, after: string, names: Map<string, string>): string[] {
  const b = tokens(before);
  const a = tokens(after);
  if (b.length !== a.length) return [`token count ${b.length} → ${a.length}`];
  const bad: string[] = [];
  for (let i = 0; i < b.length; i++) {
    if (b[i] === a[i]) continue;
    const sb = addressShape(b[i]!, names, false);
    const sa = addressShape(a[i]!, names, true);
    // a dotted quad is an address wherever it stands, even glued to a word (`tcp10.180.0.1:80`)
    const quads = (t: string) =>
      t.replace(/(?<![\d.])\d{1,3}(\.\d{1,3}){3}(?![\d.])/g, (q) => (isIPv4(q) ? '<v4>' : q));
    if ((sb === undefined || sb !== sa) && quads(b[i]!) !== quads(a[i]!)) bad.push(`${b[i]} → ${a[i]}`);
  }
  return bad;
}

/** JSON documents compared leaf by leaf (keys too); strings through the same token rule. */
function corruptedJson(before: unknown, after: unknown, names: Map<string, string>, at = '$'): string[] {
  if (typeof before === 'string' && typeof after === 'string') {
    // a node-name field holds a name, whatever it is: its placeholder is the redaction of a name
    if (/\.(node|node[-_]?name|nodename|hostname|host-name)$/i.test(at) && /^node-[a-z2-7]{8}$/.test(after)) return [];
    return corrupted(before, after, names).map((x) => `${at}: ${x}`);
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    if (before.length !== after.length) return [`${at}: length ${before.length} → ${after.length}`];
    return before.flatMap((x, i) => corruptedJson(x, after[i], names, `${at}[${i}]`));
  }
  if (before && after && typeof before === 'object' && typeof after === 'object') {
    const bk = Object.keys(before);
    const ak = Object.keys(after);
    if (bk.length !== ak.length) return [`${at}: ${bk.length} keys → ${ak.length}`];
    return bk.flatMap((k, i) => [
      ...corrupted(k, ak[i]!, names).map((x) => `${at} key: ${x}`),
      ...corruptedJson(
        (before as Record<string, unknown>)[k],
        (after as Record<string, unknown>)[ak[i]!],
        names,
        `${at}.${k}`,
      ),
    ]);
  }
  return before === after ? [] : [`${at}: ${String(before)} → ${String(after)}`];
}

function check(path: string, raw: string, after: string, names: Map<string, string>): string[] {
  // colour codes are dropped by redaction, on purpose (they could split an address)
  const before = raw.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\u001b/g, '');
  if (path.endsWith('.json')) {
    try {
      return corruptedJson(JSON.parse(before), JSON.parse(after), names);
    } catch {
      /* not JSON (a fixture of a broken file): compared as text */
    }
  }
  const bl = before.replace(/\r/g, '').split('\n');
  const al = after.replace(/\r/g, '').split('\n');
  if (bl.length !== al.length) return [`line count ${bl.length} → ${al.length}`];
  return bl.flatMap((l, i) => corrupted(l, al[i]!, names).map((x) => `line ${i + 1}: ${x}`));
}

describe('redaction changes address tokens only', () => {
  it('the rule itself: words that merely contain address-like runs stay, addresses go', () => {
    const r = new Redactor({ key: KEY });
    const line =
      'Kubernetes APIs: ["cilium/v2::CiliumNode", "core/v1::Pods"] xfe80::1 tag 59:f4:a9:31:74:4d:cd:c6 inet 10.0.0.1/24 fe80::1/64 link/ether 36:63:f3:94:84:fa';
    const out = r.text(line);
    expect(out).toContain('cilium/v2::CiliumNode');
    expect(out).toContain('core/v1::Pods');
    expect(out).toContain('xfe80::1');
    expect(out).toContain('tag 59:f4:a9:31:74:4d:cd:c6');
    expect(out).not.toContain('10.0.0.1/24');
    expect(out).not.toContain('36:63:f3:94:84:fa');
    expect(corrupted(line, out, new Map())).toEqual([]);
    // and the checker fails a corrupted word
    expect(corrupted('cilium/v2::CiliumNode', 'cilium/v3a1f::9ciliumNode', new Map())).not.toEqual([]);
  });

  const SNAPS = join(root, 'fixtures/snapshots');
  for (const set of readdirSync(SNAPS).filter((n) => statSync(join(SNAPS, n)).isDirectory())) {
    it(`fixtures/snapshots/${set}: every file of every node`, async () => {
      const r = new Redactor({ key: KEY });
      const nodes = readdirSync(join(SNAPS, set)).filter((n) => statSync(join(SNAPS, set, n)).isDirectory());
      const loaded = await Promise.all(
        nodes.map(async (n) => ({ n, files: (await readSnapshotFiles(join(SNAPS, set, n))).files })),
      );
      const text = (f: Map<string, Buffer>) => new Map([...f].map(([k, v]) => [k, v.toString('utf8')] as const));
      for (const { files } of loaded) learnNames(r, text(files), nodes);
      let compared = 0;
      for (const { n, files } of loaded) {
        const host = files.get('hostname.txt')?.toString('utf8').trim();
        const names = new Map([n, ...(host ? [host] : [])].map((x) => [x, r.nodeName(x)] as const));
        const red = redactFiles(r, files, 'random');
        for (const [path, buf] of files) {
          // netpath's own record, and LB map bytes rewritten as raw bytes: not tool text to tokenise
          if (path === 'manifest.json' || path.startsWith('bpf-map/')) continue;
          const after = red.files.get(path);
          expect(after, `${n}/${path}`).toBeDefined();
          expect(check(path, buf.toString('utf8'), after!, names), `${set}/${n}/${path}`).toEqual([]);
          compared++;
        }
      }
      expect(compared).toBeGreaterThan(5);
    });
  }

  for (const dir of ['fixtures/tools', 'fixtures/corpus']) {
    it(`${dir}: every file, redacted as a snapshot file`, () => {
      if (dir === 'fixtures/corpus' && !existsSync(join(root, dir))) return;
      const all: string[] = [];
      const walk = (d: string): void => {
        for (const n of readdirSync(d)) {
          const p = join(d, n);
          if (statSync(p).isDirectory()) {
            if (n !== 'src') walk(p);
          } else if (!/\.(md|mjs|ts|c|sh)$/.test(n)) all.push(p);
        }
      };
      walk(join(root, dir));
      const r = new Redactor({ key: KEY });
      let compared = 0;
      for (const p of all) {
        const rel = relative(join(root, dir), p);
        if (/bpf-map\//.test(rel)) continue;
        const id = rel.startsWith('ip/') ? `ip-${basename(p)}` : basename(p);
        const before = readFileSync(p, 'utf8');
        const red = redactFiles(r, new Map([[id, before]]), 'random');
        const after = red.files.get(id);
        if (after === undefined) continue; // dropped whole (binary, undecodable): nothing written
        expect(check(id, before, after, new Map()), rel).toEqual([]);
        compared++;
      }
      if (dir === 'fixtures/tools') expect(compared).toBeGreaterThan(100);
    });
  }
});
