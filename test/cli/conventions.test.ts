import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replayRunner } from '../helpers/replay.js';
import { fakeKubectl, asKubectlJson } from '../helpers/kubectl.js';
import { runCli } from '../helpers/cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const K1 = join(root, 'fixtures/snapshots/kind-v4/k1');
const SVC = join(root, 'fixtures/snapshots/kind-v4-svc/k1');
const V6 = join(root, 'fixtures/snapshots/v6-wg');
const GW = join(V6, 'gateway');
const ANSI = /\u001b\[/;

const run = runCli;

describe('colour', () => {
  const argv = ['trace', '10.244.1.12', '10.244.2.7', '-s', K1];
  it('only on a terminal; NO_COLOR set and non-empty turns it off (an empty NO_COLOR does not, per no-color.org)', async () => {
    expect((await run(argv, { isTTY: true })).out).toMatch(ANSI);
    expect((await run(argv, { isTTY: true, env: { NO_COLOR: '' } })).out).toMatch(ANSI);
    expect((await run(argv, { isTTY: true, env: { NO_COLOR: '1' } })).out).not.toMatch(ANSI);
    expect((await run([...argv, '--no-color'], { isTTY: true })).out).not.toMatch(ANSI);
    expect((await run(argv, { isTTY: false })).out).not.toMatch(ANSI);
  });
});

describe('--quiet', () => {
  it('trace prints only the result line, with the same exit code; before or after the command', async () => {
    const full = await run(['trace', '10.244.1.12', '10.244.2.7', '--port', '8080', '-s', K1]);
    const q = await run(['trace', '10.244.1.12', '10.244.2.7', '--port', '8080', '-s', K1, '-q']);
    expect(q).toEqual({ code: 0, out: 'result: FORWARDED — leaves this node towards 172.18.0.3\n', err: '' });
    expect(full.out.split('\n')).toContain(q.out.trimEnd());
    expect((await run(['--quiet', 'trace', '10.244.1.12', '10.244.2.7', '--port', '8080', '-s', K1])).out).toBe(q.out);
    const drop = await run(['trace', '2001:db8:1::10', '2001:db8:77::1', '-s', GW, '-q']);
    expect(drop.code).toBe(1);
    expect(drop.out.split('\n').filter(Boolean)).toHaveLength(1);
    expect(drop.out).toMatch(/^result: NO ROUTE/);
  });

  it('journey and svc lookup: one line each; machine formats stay whole; errors still print', async () => {
    expect((await run(['trace', '2001:db8:42::a:5', '2001:db8:42::c:9', '--cluster', V6, '-q'])).out).toBe(
      'journey: DELIVERED\n',
    );
    expect((await run(['svc', 'lookup', '10.96.0.10', '-s', SVC, '-q'])).out).toBe(
      '10.96.0.10:53/ANY ClusterIP: 2/2 backends active (cilium-bpf)\n',
    );
    expect(await run(['svc', 'lookup', '10.96.0.99', '-s', SVC, '-q'])).toMatchObject({
      code: 1,
      out: 'no frontend matches 10.96.0.99 in any Service source\n',
    });
    const json = await run(['trace', '10.244.1.12', '10.244.2.7', '-s', K1, '-q', '-o', 'json']);
    expect(json.out).toBe((await run(['trace', '10.244.1.12', '10.244.2.7', '-s', K1, '-o', 'json'])).out);
    const bad = await run(['trace', '10.244.1.12', '10.244.2.7', '-s', '/nonexistent', '-q']);
    expect(bad).toEqual({ code: 3, out: '', err: 'netpath: /nonexistent: no such snapshot directory or file\n' });
    expect((await run(['trace', '10.244.1.12', '10.244.2.7', '-s', K1, '-q', '-v'])).code).toBe(2);
  });

  it('snapshot prints only its summary line', async () => {
    const out = mkdtempSync(join(tmpdir(), 'np-q-'));
    try {
      const live = replayRunner(K1);
      const r = await run(['snapshot', '-o', join(out, 's'), '-q'], { liveRunner: () => live });
      expect(r.code).toBe(0);
      expect(r.out.split('\n').filter(Boolean)).toHaveLength(1);
      expect(r.out).toMatch(/^.*\/s: \d+ of \d+ probes captured/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('--verbose', () => {
  it('a snapshot: one stderr line per probe file, read or missing; stdout unchanged', async () => {
    const argv = ['trace', '10.244.1.12', '10.244.2.7', '-s', K1, '-o', 'json'];
    const v = await run([...argv, '--verbose']);
    expect(v.out).toBe((await run(argv)).out);
    const lines = v.err.trimEnd().split('\n');
    expect(
      lines.every((l) => /^netpath: probe \S+: (read \S+, \d+ ms, [\d.]+ (B|KiB|MiB)|not in the snapshot)$/.test(l)),
      v.err,
    ).toBe(true);
    expect(lines).toContain(
      `netpath: probe ip-route4: read ${join(K1, 'ip-route4.json')}, ${/ip-route4: read \S+, (\d+) ms/.exec(v.err)![1]} ms, 1.6 KiB`,
    );
    expect(lines.some((l) => /^netpath: probe wg: not in the snapshot$/.test(l))).toBe(true);
  });

  it('live probes: each with its argv (prefix included), exit code, duration and output size; kubectl too', async () => {
    const live = replayRunner(K1);
    const kubectl = fakeKubectl({
      'pod/nginx-deployment-67d4bdd6f5-w6kd7': asKubectlJson('pod.nginx-deployment-67d4bdd6f5-w6kd7.yaml'),
    });
    const r = await run(
      ['-v', 'trace', '10.244.1.12', 'default/nginx-deployment-67d4bdd6f5-w6kd7', '--exec', 'ssh node1'],
      { liveRunner: () => live, kubectl },
    );
    expect(r.code).toBe(0);
    const lines = r.err.trimEnd().split('\n');
    expect(lines).toHaveLength(live.calls.length + kubectl.calls.length);
    expect(lines).toContain('netpath: probe ssh node1 ip -4 -j -d route show table all: exit 0, 2 ms, stdout 1.6 KiB');
    expect(lines).toContain(
      'netpath: probe ssh node1 cilium-dbg service list -o json: ENOENT (cilium-dbg: not installed), 2 ms, stdout 0 B',
    );
    expect(lines).toContain(
      'netpath: probe kubectl -n default get pod nginx-deployment-67d4bdd6f5-w6kd7 -o json: exit 0, 1 ms, stdout 6.0 KiB',
    );
  });
});
