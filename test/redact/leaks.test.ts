import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSnapshotFiles } from '../../src/collect/source.js';
import { Redactor } from '../../src/redact/redactor.js';
import { assertNoLeak } from '../helpers/redact.js';
import { learnNames, redactFiles } from '../../src/redact/snapshot.js';

// No original address, MAC address, WireGuard key or node name may survive redaction. The originals are
// found here independently of the redactor (every dotted quad, every token that parses as IPv6, every string of
// a JSON document, the decoded LB-map bytes), and every redacted file is searched for each of them.
const root = fileURLToPath(new URL('../..', import.meta.url));
const KEY = Buffer.alloc(32, 0x33);

const SNAPS = join(root, 'fixtures/snapshots');

describe('redacted bundled snapshots keep no original address, MAC, key or node name', () => {
  for (const set of readdirSync(SNAPS).filter((n) => statSync(join(SNAPS, n)).isDirectory())) {
    it(`${set}: every node, one mapping for the whole cluster`, async () => {
      const r = new Redactor({ key: KEY });
      const nodes = readdirSync(join(SNAPS, set)).filter((n) => statSync(join(SNAPS, set, n)).isDirectory());
      const loaded = await Promise.all(
        nodes.map(async (n) => ({ n, files: (await readSnapshotFiles(join(SNAPS, set, n))).files })),
      );
      const text = (f: Map<string, Buffer>) =>
        new Map([...f].map(([k, v]) => [k, v.toString('utf8')] as [string, string]));
      for (const { files } of loaded) learnNames(r, text(files), nodes);
      let searched = 0;
      for (const { n, files } of loaded) {
        const red = redactFiles(r, files, 'random');
        expect(red.dropped).toEqual([]);
        expect([...red.files.keys()].sort()).toEqual([...files.keys()].sort());
        // a pasted snapshot (paste-k1/text) has neither hostname.txt nor manifest.json
        const host = files.get('hostname.txt')?.toString('utf8').trim();
        const names = [n, ...(host ? [host] : [])].filter(
          (x) => !/^(before|after.*|text|json|endpoint-routes)$/.test(x),
        );
        searched += assertNoLeak(r, text(files), red.files, names);
        if (!files.has('manifest.json')) continue;
        // the same address has the same placeholder on every node: node-a's peer key is the gateway's own key
        const m = JSON.parse(red.files.get('manifest.json')!);
        expect(m.node).toBe(r.nodeName(JSON.parse(files.get('manifest.json')!.toString()).node));
        expect(m.capturedWith ?? '(redacted)').toBe('(redacted)');
        expect(m.redaction.method).toBe('netpath-prefix-preserving-v1');
      }
      expect(searched).toBeGreaterThan(20);
    });
  }
});

describe('every real tool output in fixtures/tools, redacted as a snapshot file', () => {
  const TOOLS = join(root, 'fixtures/tools');
  const all: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) {
        if (n !== 'src') walk(p);
      } else if (n !== 'README.md') all.push(p);
    }
  };
  walk(TOOLS);
  it(`keeps none of the originals (${all.length} files)`, () => {
    const r = new Redactor({ key: KEY });
    let searched = 0;
    for (const p of all) {
      const rel = relative(TOOLS, p);
      // LB map dumps are read by their map name; everything else as a probe file of its own
      const lb =
        /bpf-map\/lb-maps\/[^/]+\/(cilium_lb[46]_[a-z_0-9]+)\.(json|txt)$/.exec(rel) ??
        /bpf-map\/ipcache\/[^/]+\/(cilium_ipcache(?:_v2)?)\.(json|txt)$/.exec(rel);
      // xfrm outputs by the probe file they would be (their keys are removed by that name)
      const xfrm = /^xfrm\/ip-(?:[js]-)?xfrm-(state|policy)\./.exec(rel);
      const id = lb
        ? `bpf-map/${lb[1]}.${lb[2]}`
        : xfrm
          ? `ip-xfrm-${xfrm[1]}.txt`
          : rel.startsWith('ip/')
            ? `ip-${basename(p)}`
            : basename(p);
      const files = new Map([[id, readFileSync(p, 'utf8')]]);
      const red = redactFiles(r, files, 'random');
      if (red.dropped.length > 0) {
        // only a file netpath cannot decode may be dropped, and then nothing of it is written
        expect(red.files.size, rel).toBe(0);
        continue;
      }
      searched += assertNoLeak(r, files, red.files, []);
    }
    expect(searched).toBeGreaterThan(500);
  });
});
