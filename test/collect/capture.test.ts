import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { captureSnapshot, type Manifest } from '../../src/collect/capture.js';
import type { RawOutput, Runner } from '../../src/exec/runner.js';
import { NODE_PROBES } from '../../src/collect/probes.js';

const SNAPSHOTS = fileURLToPath(new URL('../../fixtures/snapshots/', import.meta.url));

interface Recorded {
  manifest: Manifest;
  files: Map<string, string>;
}

/** Loads one captured node: its manifest and every file it names. */
function recorded(node: string): Recorded {
  const dir = join(SNAPSHOTS, node);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const files = new Map<string, string>();
  for (const p of manifest.probes) if (p.file) files.set(p.file, readFileSync(join(dir, p.file), 'utf8'));
  return { manifest, files };
}

/**
 * A runner that replays what the lab node answered to each argv, as its manifest recorded it.
 * An argv the capture never ran is a missing binary (that is how a fallback came to be used).
 */
function replay(rec: Recorded, calls: string[][] = []): Runner {
  const byArgv = new Map(rec.manifest.probes.map((p) => [p.argv.join(' '), p]));
  return async (argv) => {
    calls.push([...argv]);
    // the lab kernel has no CONFIG_MODULES: the module gates (collect/module-gate.ts) let every probe run
    if (argv.join(' ') === 'cat /proc/modules')
      return {
        argv,
        exitCode: 1,
        stdout: '',
        stderr: 'cat: /proc/modules: No such file or directory\n',
        durationMs: 0,
      };
    const p = byArgv.get(argv.join(' '));
    if (!p)
      return {
        argv,
        exitCode: -1,
        stdout: '',
        stderr: '',
        durationMs: 0,
        failed: 'ENOENT',
        message: `${argv[0]}: not installed`,
      };
    const out: RawOutput = {
      argv,
      exitCode: p.exitCode,
      stdout: p.file ? rec.files.get(p.file)! : '',
      stderr: p.stderr,
      durationMs: p.durationMs,
    };
    if (p.failed) out.failed = p.failed;
    return out;
  };
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const f = join(d, n);
      if (statSync(f).isDirectory()) walk(f);
      else out.push(relative(dir, f));
    }
  };
  walk(dir);
  return out.sort();
}

const tmp: string[] = [];
const outDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'np-capture-'));
  tmp.push(d);
  return join(d, 'snap');
};
afterEach(() => {
  for (const d of tmp.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('captureSnapshot, replaying the kind-v4 lab node k1', () => {
  const rec = recorded('kind-v4/k1');

  it('writes every probe that answered, byte for byte, under its snapshot name', async () => {
    const dir = outDir();
    await captureSnapshot(replay(rec), { outDir: dir, node: 'k1' });
    const expected = [...rec.files.keys(), 'manifest.json'].sort();
    expect(listFiles(dir)).toEqual(expected);
    for (const [f, text] of rec.files) expect(readFileSync(join(dir, f), 'utf8')).toBe(text);
    expect(existsSync(join(dir, 'tc-filter/lxc6d1e0f2a3b4c.ingress.json'))).toBe(true);
    expect(existsSync(join(dir, 'netns/cni-7a9b3c4d-k1b/ip-route4.json'))).toBe(true);
  });

  it('follows up only namespaces with an nsid here and devices with a clsact qdisc', async () => {
    const calls: string[][] = [];
    const m = await captureSnapshot(replay(rec, calls), { outDir: outDir(), node: 'k1', concurrency: 3 });
    const nsProbed = new Set(calls.filter((a) => a[0] === 'ip' && a[1] === '-n').map((a) => a[2]));
    expect([...nsProbed].sort()).toEqual(['cni-5f0c1d2e-k1a', 'cni-7a9b3c4d-k1b', 'np-lab-ksw']);
    expect(m.skippedNetns?.map((s) => s.name).sort()).toEqual([
      'cni-1e2d3c4b-k2a',
      'cni-2b3c4d5e-k2b',
      'cni-3c4d5e6f-k3a',
      'np-lab-k1',
      'np-lab-k2',
      'np-lab-k3',
    ]);
    const tcDevs = new Set(calls.filter((a) => a[0] === 'tc' && a[2] === 'filter').map((a) => a[5]));
    expect([...tcDevs].sort()).toEqual(['cilium_host', 'cilium_net', 'eth0', 'lxc0a1b2c3d4e5f', 'lxc6d1e0f2a3b4c']);
  });

  it('records a missing cilium-dbg, then the fallback, in the manifest without failing the capture', async () => {
    const calls: string[][] = [];
    const dir = outDir();
    const m = await captureSnapshot(replay(rec, calls), { outDir: dir, node: 'k1' });
    expect(calls).toContainEqual(['cilium-dbg', 'status', '--verbose']);
    expect(calls).toContainEqual(['cilium', 'status', '--verbose']);
    const st = m.probes.find((p) => p.id === 'cilium-status')!;
    expect(st).toMatchObject({ argv: ['cilium', 'status', '--verbose'], failed: 'ENOENT', exitCode: 1 });
    expect(st.file).toBeUndefined();
    expect(existsSync(join(dir, 'cilium-status.txt'))).toBe(false);
    // empty output is recorded but writes no file
    expect(m.probes.find((p) => p.id === 'wg')).toMatchObject({ exitCode: 0 });
    expect(m.probes.find((p) => p.id === 'wg')!.file).toBeUndefined();
  });

  it('writes a manifest with the node, kernel, version and one entry per probe run', async () => {
    const dir = outDir();
    const progress: number[] = [];
    const m = await captureSnapshot(replay(rec), {
      outDir: dir,
      node: 'k1',
      onProgress: (_p, done) => progress.push(done),
    });
    const onDisk = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    expect(onDisk).toEqual(m);
    expect(m).toMatchObject({
      schemaVersion: 1,
      node: 'k1',
      kernel: rec.files.get('uname.txt')!.trim(),
      netpathVersion: '0.1.0',
    });
    // every probe the lab recorded, plus probes added since (they replay as missing binaries)
    expect(m.probes.map((p) => p.id)).toEqual(expect.arrayContaining(rec.manifest.probes.map((p) => p.id)));
    expect(m.probes.length).toBe(NODE_PROBES.length + 3 * 4 + 5 * 2);
    expect(progress.at(-1)).toBe(m.probes.length);
    expect(m.probes.find((p) => p.id === 'ip-route4')).toMatchObject({ file: 'ip-route4.json', exitCode: 0 });
  });

  it("defaults the node name to the node's own uname -n", async () => {
    const m = await captureSnapshot(replay(rec), { outDir: outDir() });
    expect(m.node).toBe(rec.files.get('hostname.txt')!.trim());
  });

  it('writes .txt when a JSON probe printed text, and cuts stderr at 2 KiB', async () => {
    const base = replay(rec);
    const runner: Runner = async (argv, o) => {
      const r = await base(argv, o);
      if (argv.join(' ') === 'ip -j neigh show')
        return { ...r, stdout: rec.files.get('sysctl.txt')!, stderr: 'x'.repeat(5000) };
      return r;
    };
    const dir = outDir();
    const m = await captureSnapshot(runner, { outDir: dir, node: 'k1' });
    const n = m.probes.find((p) => p.id === 'ip-neigh')!;
    expect(n.file).toBe('ip-neigh.txt');
    expect(n.stderr.length).toBe(2048);
    expect(existsSync(join(dir, 'ip-neigh.json'))).toBe(false);
  });

  it('a probe that throws away its answer (timeout) is recorded, the rest is written', async () => {
    const base = replay(rec);
    const runner: Runner = async (argv, o) =>
      argv[0] === 'nft'
        ? {
            argv,
            exitCode: -1,
            stdout: '',
            stderr: '',
            durationMs: 20_000,
            failed: 'timeout',
            message: 'nft: no answer within 20000 ms (killed)',
          }
        : base(argv, o);
    const dir = outDir();
    const m = await captureSnapshot(runner, { outDir: dir, node: 'k1' });
    expect(m.probes.find((p) => p.id === 'nft-ruleset')).toMatchObject({ failed: 'timeout' });
    expect(existsSync(join(dir, 'nft-ruleset.json'))).toBe(false);
    expect(existsSync(join(dir, 'ip-link.json'))).toBe(true);
  });
});

describe('captureSnapshot, replaying the v6-wg lab node node-a (tcx, wireguard-go)', () => {
  const rec = recorded('v6-wg/node-a');
  const hasWg = (() => {
    try {
      execFileSync('wg', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  it('asks for no tc filters: tcx leaves no clsact qdisc behind', async () => {
    const calls: string[][] = [];
    const m = await captureSnapshot(replay(rec, calls), { outDir: outDir(), node: 'node-a' });
    expect(calls.filter((a) => a[0] === 'tc' && a[2] === 'filter')).toEqual([]);
    expect(m.probes.some((p) => p.id.startsWith('tc-filter/'))).toBe(false);
    expect(m.probes.find((p) => p.id === 'bpftool-link')).toMatchObject({ file: 'bpftool-link.json' });
  });

  it.runIf(hasWg)('never writes the private or preshared key that `wg show all dump` printed', async () => {
    // the recording is redacted already: put real (freshly generated) keys back where wg prints them
    const priv = execFileSync('wg', ['genkey'], { encoding: 'utf8' }).trim();
    const psk = execFileSync('wg', ['genpsk'], { encoding: 'utf8' }).trim();
    const dump = rec.files.get('wg.txt')!;
    const lines = dump.split('\n');
    expect(lines[0]!.split('\t')[1]).toBe('(redacted)');
    expect(lines[1]!.split('\t')[2]).toBe('(redacted)');
    const live = lines
      .map((l, i) => (i === 0 ? l.replace('(redacted)', priv) : i === 1 ? l.replace('(redacted)', psk) : l))
      .join('\n');
    const base = replay(rec);
    const runner: Runner = async (argv, o) => {
      const r = await base(argv, o);
      return argv[0] === 'wg' ? { ...r, stdout: live } : r;
    };
    const dir = outDir();
    await captureSnapshot(runner, { outDir: dir, node: 'node-a' });
    const written = readFileSync(join(dir, 'wg.txt'), 'utf8');
    expect(written).toBe(dump);
    for (const f of listFiles(dir)) {
      const text = readFileSync(join(dir, f), 'utf8');
      expect(text.includes(priv) || text.includes(psk), f).toBe(false);
    }
  });
});

describe('captureSnapshot with IPsec on the node', () => {
  it('never writes the key bytes `ip xfrm state` printed, in any file', async () => {
    const rec = recorded('kind-v4/k1');
    // a throwaway key, where the public sample of the Cilium docs has its own
    const key = `0x${Array.from(crypto.getRandomValues(new Uint8Array(20)), (b) => b.toString(16).padStart(2, '0')).join('')}`;
    const sample = readFileSync(
      fileURLToPath(new URL('../../fixtures/tools/xfrm/ip-xfrm-state.cilium-docs-xfrm-guide.txt', import.meta.url)),
      'utf8',
    );
    const live = sample.replace(/0x6254fced5f7a5ea9401b9015ecf10d65eac51a69/, key);
    expect(live).toContain(key);
    const base = replay(rec);
    const runner: Runner = async (argv, o) =>
      argv.join(' ') === 'ip xfrm state'
        ? { argv, exitCode: 0, stdout: live, stderr: '', durationMs: 1 }
        : base(argv, o);
    const dir = outDir();
    await captureSnapshot(runner, { outDir: dir, node: 'k1' });
    const written = readFileSync(join(dir, 'ip-xfrm-state.txt'), 'utf8');
    expect(written).toContain('aead rfc4106(gcm(aes)) (redacted) 128');
    const hex = key.slice(2);
    for (const f of listFiles(dir)) {
      const text = readFileSync(join(dir, f), 'utf8').toLowerCase();
      // no 8-digit run of the key survives anywhere
      for (let i = 0; i + 8 <= hex.length; i += 4)
        expect(text.includes(hex.slice(i, i + 8)), `${f}: ${hex.slice(i, i + 8)}`).toBe(false);
    }
  });
});
