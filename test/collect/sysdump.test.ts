import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { zipSync } from 'fflate';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { openSnapshot } from '../../src/collect/source.js';
import { bugtoolFileName } from '../../src/collect/sysdump.js';
import { TAR_LIMITS } from '../../src/collect/tar.js';
import { openZip } from '../../src/collect/zip.js';
import { nodeJsonSchema } from '../../src/render/node.js';

const FIX = 'fixtures/sysdump/kind-v4';
const TS = '20261207-053652';
const SYSDUMP = join(FIX, `cilium-sysdump-${TS}`);
const SNAP = join(FIX, 'snapshot-k1');
const K1 = `cilium-bugtool-cilium-7x2kq-${TS}`;

const tmp = mkdtempSync(join(tmpdir(), 'np-sysdump-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

/**
 * The folder zipped as cilium-cli's zipDirectory does: each regular file (no directory entries) under the
 * folder's own name, deflated.
 */
function zipOf(dir: string, out: string, edit: (name: string, data: Buffer) => Buffer | null = (_n, d) => d): string {
  const top = join(dir, '..');
  const members: Record<string, [Uint8Array, { level: 6 }]> = {};
  for (const f of files(dir)) {
    const name = relative(top, f);
    const data = edit(name, readFileSync(f));
    if (data) members[name] = [data, { level: 6 }];
  }
  writeFileSync(out, zipSync(members));
  return out;
}

const ZIP = zipOf(SYSDUMP, join(tmp, `cilium-sysdump-${TS}.zip`));

type Hop = { kind: string; detail: string; evidence?: unknown; netns?: string } & Record<string, unknown>;

const trace = async (src: string, dst: string, ...source: string[]) => {
  const r = await runCli(['trace', src, dst, '-o', 'json', ...source]);
  expect(r.err).not.toMatch(/internal error/);
  return {
    code: r.code,
    t: JSON.parse(r.out) as {
      hops: Hop[];
      disposition: string;
      src: { kind: string };
      dst: { kind: string };
      warnings: { code: string }[];
    },
  };
};

describe('cilium sysdump as a source', () => {
  it('is laid out as cilium-cli writes it: members under cilium-sysdump-<ts>/, no directory entries', () => {
    const names = openZip(readFileSync(ZIP)).members.map((m) => m.path);
    expect(names.length).toBe(files(SYSDUMP).length);
    expect(names.every((n) => n.startsWith(`cilium-sysdump-${TS}/`))).toBe(true);
    expect(names).toContain(`cilium-sysdump-${TS}/${K1}/cmd/${bugtoolFileName('cilium-dbg status --verbose')}`);
    expect(bugtoolFileName('cilium-dbg status --verbose')).toBe('cilium-dbg-status---verbose.md');
    expect(bugtoolFileName('bpftool cgroup tree /run/cilium/cgroupv2')).toBe(
      'bpftool-cgroup-tree--run-cilium-cgroupv2.md',
    );
  });

  it('without --node, or with a node it does not hold, is a usage error listing its nodes', async () => {
    for (const extra of [[], ['--node', 'k9']]) {
      const r = await runCli(['trace', '10.244.1.12', '10.244.1.57', '-s', ZIP, ...extra]);
      expect(r.code).toBe(2);
      expect(r.err).toContain('k1 (pod cilium-7x2kq), k2 (pod cilium-q9wz4)');
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
    const plain = await runCli(['node', '-s', SNAP, '--node', 'k1']);
    expect(plain.code).toBe(2);
    expect(plain.err).toMatch(/--node picks a node of a cilium sysdump/);
    const noSnap = await runCli(['node', '--node', 'k1']);
    expect(noSnap.code).toBe(2);
    const diffPlain = await runCli(['diff', SNAP, SNAP, '--node', 'k1']);
    expect(diffPlain.code).toBe(2);
    expect(diffPlain.err).toMatch(/neither side is a sysdump/);
    // one side a sysdump, the other a snapshot of the same node: --node reads the sysdump's k1
    const diff = await runCli(['diff', SNAP, ZIP, '--node', 'k1', '-q']);
    expect(diff.code).toBe(0);
  });

  it('traces to the same hops and disposition as a JSON snapshot of the same node (less the pod namespaces)', async () => {
    const pairs = [
      ['10.244.1.12', '10.244.1.57'],
      ['10.244.1.12', '10.244.2.7'],
      ['10.244.1.12', '172.18.0.1'],
      ['172.18.0.3', '10.244.1.57'],
      ['10.244.1.57', '10.244.3.21'],
    ];
    for (const [src, dst] of pairs) {
      const fromZip = await trace(src!, dst!, '-s', ZIP, '--node', 'k1');
      const fromDir = await trace(src!, dst!, '-s', SYSDUMP, '--node', 'cilium-7x2kq');
      const fromSnap = await trace(src!, dst!, '-s', SNAP);
      // a sysdump holds no pod network namespace: the hop inside the pod is the one it cannot show
      const seen = (t: typeof fromSnap.t) => t.hops.filter((h) => !(h.kind === 'route' && h.lookup === 'pod-netns'));
      expect(fromZip.t.hops.some((h) => /pod netns/.test(h.detail))).toBe(false);
      expect(fromZip.t.disposition, `${src} → ${dst}`).toBe(fromSnap.t.disposition);
      expect(fromZip.code).toBe(fromSnap.code);
      // every fact of every hop (device, program and its id, rule, table, route, next hop, neighbour, NAT),
      // less the words and evidence lines, which name the probe files and the pod's namespace
      // (bugtool's `ip -d rule` also prints each rule's protocol, which `ip -j rule show` leaves out)
      const facts = (hs: Hop[]) =>
        hs.map(({ evidence: _e, detail: _d, netns: _n, ...all }) => {
          // the pod's namespace name (a redirect's targetNetns) is what a sysdump cannot hold
          const { targetNetns: _t, ...rest } = all as typeof all & { targetNetns?: string };
          return typeof rest.rule === 'string' ? { ...rest, rule: rest.rule.replace(/ proto \S+/, '') } : rest;
        });
      expect(facts(fromZip.t.hops), `${src} → ${dst}`).toEqual(facts(seen(fromSnap.t)));
      expect(fromZip.t.src.kind).toBe(fromSnap.t.src.kind);
      expect(fromZip.t.dst.kind).toBe(fromSnap.t.dst.kind);
      expect(fromZip.t.warnings.map((w) => w.code)).not.toContain('required-probe-unavailable');
      expect(fromZip.t.warnings.map((w) => w.code)).not.toContain('probe-unreadable');
      expect(fromDir.t.hops).toEqual(fromZip.t.hops);
      expect(fromDir.t.disposition).toBe(fromZip.t.disposition);
    }
  });

  it('names every probe it lacks, with why, in netpath node and in the warnings of an answer', async () => {
    const r = await runCli(['node', '-s', ZIP, '--node', 'k1', '-o', 'json']);
    expect(r.code).toBe(0);
    const rep = nodeJsonSchema.parse(JSON.parse(r.out));
    expect(rep.node).toBe('k1');
    const why = Object.fromEntries(rep.missingProbes.map((m) => [m.probe, m.why]));
    expect(why['ip-rule6']).toMatch(/IPv6 policy rules are not in a sysdump/);
    expect(why['bpftool-link']).toMatch(/does not run `bpftool link show`/);
    expect(why['nft-ruleset']).toMatch(/does not run `nft list ruleset`/);
    expect(why.conntrack4).toMatch(/kernel's conntrack table/);
    expect(why['cilium-service-list']).toMatch(/^not in this sysdump \(no .*cilium-dbg-service-list--o-json\.md or /);
    expect(rep.facts.routingMode).toMatchObject({ known: true, value: 'native' });
    expect(rep.facts.kernel).toMatchObject({ known: true, value: '6.18.44-fc-v1272' });
    const note = rep.warnings.find((w) => w.code === 'source-note')!.message;
    for (const id of ['nft-ruleset', 'conntrack4', 'ipvsadm', 'wg', 'cilium-service-list']) expect(note).toContain(id);
    expect(note).toMatch(/no pod network namespaces/);
    // every probe that is read comes from the bugtool file it is named after
    const origin = Object.fromEntries(rep.probes.map((p) => [p.probe, p.origin ?? '']));
    expect(origin['ip-addr']).toBe(`${ZIP}:${K1}/cmd/ip-a.md`);
    expect(origin['ip-link']).toBe(`${ZIP}:${K1}/cmd/ip--d--s-l.md`);
    expect(origin['cilium-config']).toBe(`${ZIP}:cilium-configmap-${TS}.yaml`);
    expect(rep.probes.find((p) => p.probe === 'tc-filter/eth0.ingress')?.status).toBe('ok');
  });

  it('reads the node name from k8s-pods-<ts>.yaml when the sysdump has it', async () => {
    // the PodList's shape (metadata.name, spec.nodeName) is all this reads; the rest of a real one is left out
    const pods = stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [{ metadata: { name: 'cilium-7x2kq' }, spec: { nodeName: 'kind-worker' } }],
    });
    const dir = join(tmp, 'with-pods', `cilium-sysdump-${TS}`);
    cpSync(SYSDUMP, dir, { recursive: true });
    writeFileSync(join(dir, `k8s-pods-${TS}.yaml`), pods);
    const zip = zipOf(dir, join(tmp, 'with-pods.zip'));
    const r = await runCli(['node', '-s', zip, '-q']);
    expect(r.err).toContain('kind-worker (pod cilium-7x2kq), k2 (pod cilium-q9wz4)');
    const ok = await runCli(['node', '-s', zip, '--node', 'kind-worker', '-q']);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^kind-worker: Cilium 1\.13\.9/);
  });

  it('reads the names of Cilium ≤ 1.14 bugtool (`cilium …`, `ip rule`), and a command that failed is unreadable, not empty', async () => {
    // the ≤ 1.14 agent commands were `cilium …`, the rule listing `ip rule`
    const dir = join(tmp, 'old', `cilium-sysdump-${TS}`);
    cpSync(SYSDUMP, dir, { recursive: true });
    const cmd = join(dir, K1, 'cmd');
    renameSync(join(cmd, 'cilium-dbg-status---verbose.md'), join(cmd, 'cilium-status---verbose.md'));
    renameSync(join(cmd, 'cilium-dbg-endpoint-list--o-json.md'), join(cmd, 'cilium-endpoint-list--o-json.md'));
    renameSync(join(cmd, 'ip--d-rule.md'), join(cmd, 'ip-rule.md'));
    // what bugtool appends when a command exits non-zero (root.go writeCmdToFile)
    writeFileSync(join(cmd, 'ip--6-r.md'), "> Error while running 'ip -6 r':  exit status 1\n\n");
    const r = await runCli(['node', '-s', dir, '--node', 'k1', '-o', 'json']);
    const rep = nodeJsonSchema.parse(JSON.parse(r.out));
    const st = Object.fromEntries(rep.probes.map((p) => [p.probe, p]));
    expect(st['cilium-status']?.origin).toMatch(/cilium-status---verbose\.md$/);
    expect(st['ip-rule4']?.origin).toMatch(/ip-rule\.md$/);
    expect(st['ip-route6']).toMatchObject({ status: 'failed' });
    expect(st['ip-route6']?.message).toMatch(/`ip -6 r` failed: exit status 1/);
    expect(rep.facts.ciliumVersion).toMatchObject({ known: true, value: '1.13.9' });
  });

  it('snapshot --from converts one node into a snapshot that answers as the sysdump does', async () => {
    const out = join(tmp, 'converted');
    const r = await runCli(['snapshot', '--from', ZIP, '--node', 'k1', '-o', out]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/not in the sysdump: .*nft-ruleset/);
    expect(readFileSync(join(out, 'ip-addr.txt'), 'utf8')).toBe(
      readFileSync(join(SYSDUMP, K1, 'cmd', 'ip-a.md'), 'utf8'),
    );
    expect(readFileSync(join(out, 'cilium-endpoints.json'), 'utf8')).toBe(
      readFileSync(join(SYSDUMP, K1, 'cmd', 'cilium-dbg-endpoint-list--o-json.md'), 'utf8'),
    );
    const a = await trace('10.244.1.12', '10.244.2.7', '-s', ZIP, '--node', 'k1');
    const b = await trace('10.244.1.12', '10.244.2.7', '-s', out);
    expect(b.t.hops.map((h) => [h.kind, h.detail])).toEqual(a.t.hops.map((h) => [h.kind, h.detail]));
    expect(b.t.disposition).toBe(a.t.disposition);
    const again = await runCli(['snapshot', '--from', ZIP, '-o', join(tmp, 'converted2')]);
    expect(again.code).toBe(2);
    // with --redact, the node's name and addresses leave no trace in what is written
    const red = join(tmp, 'redacted');
    expect((await runCli(['snapshot', '--from', ZIP, '--node', 'k1', '--redact', '-o', red])).code).toBe(0);
    for (const f of files(red)) {
      const text = readFileSync(f, 'utf8');
      expect(text, f).not.toMatch(/\bk1\b|172\.18\.0\.2\b|10\.244\.1\.12\b/);
    }
    expect((await runCli(['node', '-s', red, '-q'])).out).toMatch(/^node-\w+: Cilium 1\.13\.9, native routing/);
  });

  it('keeps to the .tar.gz limits and names what it skipped', async () => {
    const bad = join(tmp, 'bad.zip');
    writeFileSync(bad, 'PK not really a zip');
    const r = await runCli(['node', '-s', bad, '--node', 'k1']);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/not a readable zip archive/);

    const hostile = zipOf(SYSDUMP, join(tmp, 'hostile.zip'));
    const withEscape = zipSync({
      ...Object.fromEntries(
        files(SYSDUMP).map((f) => [relative(FIX, f), [readFileSync(f), { level: 1 }] as [Uint8Array, { level: 1 }]]),
      ),
      '../escape.md': [Buffer.from('x'), { level: 1 }],
    });
    writeFileSync(hostile, withEscape);
    const opened = await openSnapshot(hostile, { node: 'k1' });
    expect(opened.warnings).toEqual([`${hostile}: skipped archive member ../escape.md: unsafe path`]);

    const saved = TAR_LIMITS.entries;
    TAR_LIMITS.entries = 10;
    try {
      await expect(openSnapshot(ZIP, { node: 'k1' })).rejects.toThrow(/more than 10 entries/);
    } finally {
      TAR_LIMITS.entries = saved;
    }
    const savedBytes = TAR_LIMITS.uncompressedBytes;
    TAR_LIMITS.uncompressedBytes = 1000;
    try {
      await expect(openSnapshot(ZIP, { node: 'k1' })).rejects.toThrow(/more than 1000 bytes inflated/);
    } finally {
      TAR_LIMITS.uncompressedBytes = savedBytes;
    }
  });
});
