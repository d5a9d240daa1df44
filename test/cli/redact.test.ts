import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redactor } from '../../src/redact/redactor.js';
import { runCli } from '../helpers/cli.js';

// `snapshot --redact --from` on the bundled snapshots, then the same questions asked of the redacted copy and of
// the original with `--redact` on the output: with one key file the answers must be the same text.
const root = fileURLToPath(new URL('../..', import.meta.url));
const SNAPS = join(root, 'fixtures/snapshots');
const tmp = mkdtempSync(join(tmpdir(), 'np-redact-cli-'));
const KEY = join(tmp, 'key');
writeFileSync(KEY, 'netpath test key: 32 bytes or more of secret');
const r = Redactor.fromKeyFile(KEY);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const run = (argv: string[]) =>
  runCli(argv, {
    liveRunner: () => {
      throw new Error('no live probing in this test');
    },
  });

const noEvidence = (s: string) => JSON.parse(s, (k, v) => (k === 'evidence' ? undefined : v));

describe('netpath snapshot --redact --from', () => {
  it('redacts a cluster directory: the journey across the redacted nodes is the redacted journey', async () => {
    const out = join(tmp, 'v6-wg');
    const s = await run([
      'snapshot',
      '--cluster',
      '--redact',
      '--redact-key-file',
      KEY,
      '--from',
      join(SNAPS, 'v6-wg'),
      '-o',
      out,
    ]);
    expect(s.code).toBe(0);
    expect(s.err).toBe('');
    expect(s.out).toMatch(/4 node snapshots of .* written redacted/);
    expect(s.out).toMatch(/key from the key file/);
    const dirs = readdirSync(out).sort();
    expect(dirs).toEqual(['gateway', 'node-a', 'node-b', 'node-c'].map((n) => r.nodeName(n)).sort());
    const [src, dst] = ['2001:db8:42::a:5', '2001:db8:42::c:9'];
    const redacted = await run(['trace', '--cluster', out, r.ip(src)!, r.ip(dst)!, '--port', '443', '--json']);
    const original = await run([
      'trace',
      '--cluster',
      join(SNAPS, 'v6-wg'),
      src,
      dst,
      '--port',
      '443',
      '--json',
      '--redact',
      '--redact-key-file',
      KEY,
    ]);
    expect(redacted.code).toBe(0);
    expect(original.code).toBe(0);
    const j = JSON.parse(redacted.out);
    expect(j.legs.map((l: { node: string }) => l.node)).toEqual(
      ['node-a', 'gateway', 'node-c'].map((n) => r.nodeName(n)),
    );
    expect(j.legs.flatMap((l: { trace: { hops: { kind: string }[] } }) => l.trace.hops.map((h) => h.kind))).toContain(
      'wireguard',
    );
    expect(noEvidence(redacted.out)).toEqual(noEvidence(original.out));
    // and the text a person reads
    const t1 = await run(['trace', '--cluster', out, r.ip(src)!, r.ip(dst)!, '--port', '443']);
    const t2 = await run([
      'trace',
      '--cluster',
      join(SNAPS, 'v6-wg'),
      src,
      dst,
      '--port',
      '443',
      '--redact',
      '--redact-key-file',
      KEY,
    ]);
    expect(t1.out.split('\n')[0]).toBe(t2.out.split('\n')[0]);
    expect(t2.out).not.toMatch(/2001:db8|node-a|node-c/);
  });

  it('redacts one node into a .tar.gz; svc lookup on it answers what the original answers, redacted', async () => {
    const tgz = join(tmp, 'k1.tar.gz');
    const s = await run([
      'snapshot',
      '--redact',
      '--redact-key-file',
      KEY,
      '--from',
      join(SNAPS, 'kind-v4-svc/k1'),
      '-o',
      tgz,
    ]);
    expect(s.code).toBe(0);
    expect(existsSync(tgz)).toBe(true);
    const a = await run(['svc', 'lookup', `${r.ip('10.96.0.10')}:53/udp`, '-s', tgz, '--json']);
    const b = await run([
      'svc',
      'lookup',
      '10.96.0.10:53/udp',
      '-s',
      join(SNAPS, 'kind-v4-svc/k1'),
      '--json',
      '--redact',
      '--redact-key-file',
      KEY,
    ]);
    expect(a.code).toBe(0);
    expect(noEvidence(a.out)).toEqual(noEvidence(b.out));
    expect(JSON.parse(a.out).frontends[0].backends.map((x: { address: string }) => x.address)).toEqual(
      ['10.244.1.57', '10.244.2.7'].map((x) => r.ip(x)),
    );
    const t = await run([
      'trace',
      r.ip('10.244.1.12')!,
      r.ip('10.96.0.10')!,
      '--proto',
      'udp',
      '--port',
      '53',
      '-s',
      tgz,
      '--json',
    ]);
    const u = await run([
      'trace',
      '10.244.1.12',
      '10.96.0.10',
      '--proto',
      'udp',
      '--port',
      '53',
      '-s',
      join(SNAPS, 'kind-v4-svc/k1'),
      '--json',
      '--redact',
      '--redact-key-file',
      KEY,
    ]);
    expect(t.code).toBe(0);
    expect(noEvidence(t.out)).toEqual(noEvidence(u.out));
    expect(JSON.parse(t.out).hops[0].kind).toBe('socket-lb');
  });

  it('without a key file, two runs give two mappings and the summary says the key is not stored', async () => {
    const a = await run(['snapshot', '--redact', '--from', join(SNAPS, 'kind-v4/k2'), '-o', join(tmp, 'k2a')]);
    const _b = await run(['snapshot', '--redact', '--from', join(SNAPS, 'kind-v4/k2'), '-o', join(tmp, 'k2b')]);
    expect(a.out).toMatch(/key random for this run, not stored/);
    expect(readFileSync(join(tmp, 'k2a/ip-addr.json'), 'utf8')).not.toBe(
      readFileSync(join(tmp, 'k2b/ip-addr.json'), 'utf8'),
    );
    // nothing in the snapshot can give the key back: no file holds it or anything but the mapped output
    expect(JSON.parse(readFileSync(join(tmp, 'k2a/manifest.json'), 'utf8')).redaction.key).toBe(
      'random for this run, not stored',
    );
  });

  it('refuses to write next to other files, over its source, or without --redact', async () => {
    const busy = join(tmp, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'ip-route4.json'), '[]');
    const cases: [string[], number, RegExp][] = [
      [['snapshot', '--redact', '--from', join(SNAPS, 'kind-v4/k1'), '-o', busy], 2, /exists and is not empty/],
      [['snapshot', '--redact', '--from', join(SNAPS, 'kind-v4/k1'), '-o', join(SNAPS, 'kind-v4/k1')], 2, /same/],
      [['snapshot', '--from', join(SNAPS, 'kind-v4/k1'), '-o', join(tmp, 'x')], 2, /--from needs --redact/],
      [
        [
          'snapshot',
          '--redact',
          '--redact-key-file',
          join(tmp, 'nokey'),
          '--from',
          join(SNAPS, 'kind-v4/k1'),
          '-o',
          join(tmp, 'y'),
        ],
        3,
        /nokey: no such key file/,
      ],
      [
        ['snapshot', '--redact', '--from', join(tmp, 'nothing-here'), '-o', join(tmp, 'z')],
        3,
        /no such snapshot directory/,
      ],
    ];
    for (const [argv, code, re] of cases) {
      const x = await run(argv);
      expect(x.code, argv.join(' ')).toBe(code);
      expect(x.err, argv.join(' ')).toMatch(re);
      expect(x.err.trim().split('\n')).toHaveLength(1);
    }
    expect(readFileSync(join(busy, 'ip-route4.json'), 'utf8')).toBe('[]');
  });
});
