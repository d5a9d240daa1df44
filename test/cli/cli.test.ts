import { describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import type { Runner } from '../../src/exec/runner.js';
import { traceJsonSchema } from '../../src/render/json.js';
import { runCli } from '../helpers/cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const K1 = join(root, 'fixtures/snapshots/kind-v4/k1');
const GW = join(root, 'fixtures/snapshots/v6-wg/gateway');

const run = runCli;

function copySnapshot(from: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'np-snap-'));
  cpSync(from, dir, { recursive: true });
  return dir;
}

describe('netpath trace (CLI)', () => {
  it('answers on a bundled snapshot with exit 0 and the JSON contract', async () => {
    const r = await run(['trace', '10.244.1.12', '10.244.2.7', '--port', '8080', '--snapshot', K1, '--json']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const j = traceJsonSchema.parse(JSON.parse(r.out));
    expect(j.disposition).toBe('forwarded');
    expect(j.flow).toEqual({ src: '10.244.1.12', dst: '10.244.2.7', proto: 'tcp', dport: 8080 });
  });

  it('exits 1 when there is no route, and says why', async () => {
    const r = await run(['trace', '2001:db8:1::10', '2001:db8:77::1', '-s', GW, '--no-color']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/result: NO ROUTE/);
    expect(r.out).toMatch(/no route to 2001:db8:77::1/);
  });

  it('exits 2 with one line for an argument that is not an address, or a bad flag', async () => {
    for (const argv of [
      ['trace', '10.0.0.300', '10.0.0.1', '-s', K1],
      ['trace', '10.0.0.1', 'fe80::1%eth0', '-s', K1],
      ['trace', '10.0.0.1', '2001:db8::1', '-s', K1],
      ['trace', '10.0.0.1', '10.0.0.2', '--port', '70000', '-s', K1],
      ['trace', '10.0.0.1', '10.0.0.2', '--proto', 'gre', '-s', K1],
      ['trace', '10.0.0.1', '10.0.0.2', '--proto', 'icmp', '--port', '80', '-s', K1],
      ['trace', '10.0.0.1'],
      ['frobnicate'],
    ]) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.trim().length).toBeGreaterThan(0);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });

  it('exits 3 naming the source when the snapshot is missing, empty or not a snapshot', async () => {
    const missing = await run(['trace', '10.0.0.1', '10.0.0.2', '-s', '/nonexistent/snap']);
    expect(missing.code).toBe(3);
    expect(missing.err).toBe('netpath: /nonexistent/snap: no such snapshot directory or file\n');
    const empty = mkdtempSync(join(tmpdir(), 'np-empty-'));
    try {
      const r = await run(['trace', '10.0.0.1', '10.0.0.2', '-s', empty]);
      expect(r.code).toBe(3);
      expect(r.err).toMatch(/no node state to trace on/);
      writeFileSync(join(empty, 'x.rar'), 'Rar!');
      const x = await run(['trace', '10.0.0.1', '10.0.0.2', '-s', join(empty, 'x.rar')]);
      expect(x.code).toBe(3);
      expect(x.err).toMatch(/x\.rar: not a directory, a \.tar\.gz snapshot or a cilium sysdump \.zip/);
      // a .zip is read as a cilium sysdump
      writeFileSync(join(empty, 'x.zip'), 'PK');
      const z = await run(['trace', '10.0.0.1', '10.0.0.2', '-s', join(empty, 'x.zip'), '--node', 'k1']);
      expect(z.code).toBe(3);
      expect(z.err).toMatch(/x\.zip: not a readable zip archive/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('keeps the sound part of the answer when a probe is truncated, and says which', async () => {
    const dir = copySnapshot(K1);
    try {
      const routes = readFileSync(join(dir, 'ip-route4.json'), 'utf8');
      writeFileSync(join(dir, 'ip-route4.json'), routes.slice(0, Math.floor(routes.length / 2)));
      const r = await run(['trace', '10.244.1.12', '10.244.2.7', '-s', dir, '--json']);
      expect(r.code).toBe(3);
      const j = JSON.parse(r.out);
      expect(j.disposition).toBe('unknown');
      expect(j.src.kind).toBe('local-pod');
      expect(j.hops[0].kind).toBe('route');
      expect(j.warnings.map((w: { message: string }) => w.message).join('\n')).toMatch(/ip-route4: not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads ANSI-coloured probe output and an unknown cilium status format without crashing', async () => {
    const dir = copySnapshot(K1);
    try {
      const addr = readFileSync(join(dir, 'ip-addr.json'), 'utf8');
      writeFileSync(
        join(dir, 'ip-addr.json'),
        `\u001b[0m${addr.replace(/"10\.244\.1\.57"/, '"\u001b[32m10.244.1.57\u001b[0m"')}`,
      );
      writeFileSync(join(dir, 'cilium-status.txt'), 'Cilium: something else entirely\n');
      rmSync(join(dir, 'cilium-config.txt'));
      const r = await run(['trace', '10.244.1.12', '10.244.1.57', '-s', dir, '--json']);
      const j = JSON.parse(r.out);
      expect(j.warnings.map((w: { message: string }) => w.message).join('\n')).toMatch(
        /cilium-status: .*(not cilium status output|none of the lines)/,
      );
      // with host routing unknown the local delivery is reported, but not as redirect_peer
      expect(j.hops.map((h: { kind: string }) => h.kind)).toContain('redirect');
      expect(j.hops.find((h: { kind: string }) => h.kind === 'redirect').inferred).toBe(true);
      expect(j.disposition).toBe('delivered');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('live mode reports missing tools with one line per probe and exit 3', async () => {
    const runner: Runner = async (argv) => ({
      argv,
      exitCode: -1,
      stdout: '',
      stderr: '',
      durationMs: 0,
      failed: 'ENOENT',
      message: `${argv[0]}: not installed`,
    });
    const r = await run(['trace', '10.0.0.1', '10.0.0.2'], { runner: async () => runner });
    expect(r.code).toBe(3);
    expect(r.err).toBe(
      'netpath: live node: no node state to trace on (ip-link, ip-addr, ip-route4: ip: not installed)\n',
    );
  });

  it('the built binary prints a one-line error, never a stack trace', () => {
    if (!existsSync(join(root, 'dist/main.js'))) return; // built by `npm run build` / prepare
    const r = spawnSync(process.execPath, [join(root, 'bin/netpath.js'), 'trace', 'nope', '10.0.0.1', '-s', K1], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('netpath: source "nope" is not an IPv4 or IPv6 address\n');
  });
});
