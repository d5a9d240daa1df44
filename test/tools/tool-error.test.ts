import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  parseBpftoolCgroup,
  parseBpftoolLink,
  parseBpftoolNet,
  parseBpftoolProg,
} from '../../src/tools/bpftool/index.js';
import { parseIpAddr, parseIpNeigh, parseIpRoute } from '../../src/tools/ip/index.js';
import { parseTcFilter } from '../../src/tools/tc/index.js';
import { parseConntrack } from '../../src/tools/conntrack/index.js';
import { scanConntrackText } from '../../src/tools/conntrack/scan.js';
import { parseIpset } from '../../src/tools/ipset/index.js';
import { parseIptablesSave } from '../../src/tools/iptables/parse-iptables.js';
import { parseNftRuleset } from '../../src/tools/nft/parse-nft.js';
import { parseIpvsadm } from '../../src/tools/ipvsadm/parse-ipvsadm.js';
import { decodeLbMaps } from '../../src/tools/bpf-map/index.js';
import { ParseError } from '../../src/tools/parse-error.js';
import { toolErrorText } from '../../src/tools/tool-error.js';
import { collectProbes, liveSource } from '../../src/collect/live-source.js';
import { dirSource } from '../../src/collect/source.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import type { RawOutput } from '../../src/exec/runner.js';
import { replayRunner } from '../helpers/replay.js';

// Failed tool runs (fixtures/tools/errors/, captured here; see its README) reach the user as the tool's own
// words, named by tool and object, never as a schema or format message about output the tool did not print.
const fx = (f: string) =>
  readFileSync(fileURLToPath(new URL(`../../fixtures/tools/errors/${f}`, import.meta.url)), 'utf8');
const CGROUP = "can't query bpf programs attached to /run/cilium/cgroupv2: Bad file descriptor";

/** The message a parser throws for `text`, or a note that it did not throw. */
function thrown(parse: () => unknown): string {
  try {
    parse();
  } catch (e) {
    expect(e).toBeInstanceOf(ParseError);
    return (e as ParseError).detail;
  }
  return '(parsed without an error)';
}

describe('a failed tool run in place of its output', () => {
  it.each([
    ['bpftool-j-cgroup-tree.not-a-cgroup.json', `bpftool cgroup: ${CGROUP}`],
    ['bpftool-j-cgroup-show.not-a-cgroup.json', `bpftool cgroup: ${CGROUP}`],
    // the plain table: its header comes first, the error last
    ['bpftool-cgroup-tree.not-a-cgroup.2to1.txt', `bpftool cgroup: ${CGROUP}`],
  ])('bpftool cgroup %s reads as what bpftool said', (file, msg) => {
    expect(thrown(() => parseBpftoolCgroup(fx(file), 'bpftool-cgroup', '/run/cilium/cgroupv2'))).toBe(msg);
  });

  it('bpftool prog, link and net without privilege: their error objects and error line', () => {
    expect(thrown(() => parseBpftoolProg(fx('bpftool-j-prog-show.no-caps.json'), 'bpftool-prog'))).toBe(
      "bpftool prog: can't get next program: Operation not permitted",
    );
    expect(thrown(() => parseBpftoolProg(fx('bpftool-prog-show.no-caps.2to1.txt'), 'bpftool-prog'))).toBe(
      "bpftool prog: can't get next program: Operation not permitted",
    );
    expect(thrown(() => parseBpftoolLink(fx('bpftool-j-link-show.no-caps.json'), 'bpftool-link'))).toBe(
      "bpftool link: can't get next link: Operation not permitted",
    );
    expect(thrown(() => parseBpftoolNet(fx('bpftool-j-net-show.no-caps.json'), 'bpftool-net'))).toBe(
      "bpftool net: can't query prog: Operation not permitted",
    );
  });

  it('a bpftool list cut by an error after its first records is the error, not a shorter list', () => {
    // the records of a real listing, then the error object bpftool prints inside the list it had opened
    const tree = JSON.parse(
      readFileSync(
        fileURLToPath(new URL('../../fixtures/snapshots/kind-v4/k1/bpftool-cgroup.json', import.meta.url)),
        'utf8',
      ),
    ) as unknown[];
    const err = JSON.parse(fx('bpftool-j-cgroup-tree.not-a-cgroup.json')) as unknown[];
    const cut = JSON.stringify([...tree, ...err]);
    expect(thrown(() => parseBpftoolCgroup(cut, 'bpftool-cgroup', '/run/cilium/cgroupv2'))).toBe(
      `bpftool cgroup: ${CGROUP}`,
    );
  });

  it('an unpinned LB map: bpftool map says so', () => {
    expect(
      thrown(() => decodeLbMaps({ services4: fx('bpftool-j-map-dump.absent.json'), backends4: '[]', revnat4: '[]' })),
    ).toBe('bpftool map: bpf obj get (/sys/fs/bpf/tc/globals/cilium_lb4_services_v2): No such file or directory');
  });

  it('ip and tc: the namespace, table or device they could not use', () => {
    expect(thrown(() => parseIpAddr(fx('ip-n-j-addr.no-netns.2to1.txt'), 'netns/x/ip-addr'))).toBe(
      'ip: Cannot open network namespace "np-no-such-ns": No such file or directory',
    );
    expect(thrown(() => parseIpRoute(fx('ip-j-route.bad-table.2to1.txt'), 'ip-route4', 4))).toBe(
      'ip: argument "np-no-such-table" is wrong: table id value is invalid',
    );
    expect(thrown(() => parseIpNeigh(fx('ip-j-neigh.no-device.2to1.txt'), 'ip-neigh'))).toBe(
      'ip: Cannot find device "np-no-such-dev"',
    );
    expect(
      thrown(() => parseTcFilter(fx('tc-j-filter.no-device.2to1.txt'), 'tc-filter/x.ingress', 'x', 'ingress')),
    ).toBe('tc: Cannot find device "np-no-such-dev"');
  });

  it('conntrack, iptables-save, ipset, nft and ipvsadm: their refusal, without version banners', () => {
    const ct = 'conntrack: Operation failed: sorry, you must be root or get CAP_NET_ADMIN capability to do this';
    expect(thrown(() => parseConntrack(fx('conntrack-L.no-caps.2to1.txt'), 'conntrack4'))).toBe(ct);
    // the streaming scanner a trace uses on large tables says the same
    expect(
      thrown(() =>
        scanConntrackText(
          fx('conntrack-L.no-caps.2to1.txt'),
          { address: '10.0.0.1', proto: 'tcp' },
          { probe: 'conntrack4' },
        ),
      ),
    ).toBe(ct);
    expect(thrown(() => parseIptablesSave(fx('iptables-save.no-caps.2to1.txt'), 'iptables-save'))).toBe(
      'iptables-save: Could not fetch rule set generation id: Permission denied (you must be root)',
    );
    expect(thrown(() => parseIpset(fx('ipset-save.no-caps.2to1.txt'), 'ipset'))).toBe(
      'ipset: Kernel error received: Operation not permitted',
    );
    expect(thrown(() => parseNftRuleset(fx('nft-j-list-ruleset.no-caps.2to1.txt'), 'nft-ruleset'))).toBe(
      'nft: Operation not permitted (you must be root)',
    );
    expect(thrown(() => parseIpvsadm(fx('ipvsadm-Sn.no-ipvs.2to1.txt'), 'ipvsadm'))).toBe(
      "ipvsadm: Can't initialize ipvs: Protocol not available",
    );
  });

  it('real output is not taken for an error: the conntrack summary line, a bpftool listing', () => {
    expect(toolErrorText('conntrack v1.4.7 (conntrack-tools): 12 flow entries have been shown.\n')).toBeUndefined();
    const snap = fileURLToPath(new URL('../../fixtures/snapshots/kind-v4/k1/', import.meta.url));
    for (const f of ['bpftool-cgroup.json', 'bpftool-prog.json', 'ip-route4.json', 'ip-addr.json'])
      expect(toolErrorText(readFileSync(join(snap, f), 'utf8'), { anywhere: true }), f).toBeUndefined();
  });
});

describe('a snapshot holding a failed run', () => {
  it('the trace state names the probe and what the tool said; no schema message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'np-tool-error-'));
    try {
      writeFileSync(join(dir, 'bpftool-cgroup.json'), fx('bpftool-j-cgroup-tree.not-a-cgroup.json'));
      writeFileSync(join(dir, 'bpftool-prog.json'), fx('bpftool-j-prog-show.no-caps.json'));
      const state = await loadNodeState(dirSource(dir));
      expect(state.sources.find((s) => s.probe === 'bpftool-cgroup')).toMatchObject({
        status: 'failed',
        message: `bpftool cgroup: ${CGROUP}`,
      });
      const msgs = state.warnings.map((w) => w.message);
      expect(msgs).toContain(`bpftool-cgroup: bpftool cgroup: ${CGROUP}`);
      expect(msgs).toContain("bpftool-prog: bpftool prog: can't get next program: Operation not permitted");
      expect(msgs.join('\n')).not.toMatch(/Invalid input|expected number|record-skipped/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a live node whose bpftool answers with an error object', () => {
  // the bundled node, except that bpftool cgroup tree fails as it did on a node whose /run/cilium/cgroupv2 is not
  // a cgroup2 mount: its real stdout and exit status
  const node = fileURLToPath(new URL('../../fixtures/snapshots/kind-v4/k1', import.meta.url));
  const failing = () => {
    const replay = replayRunner(node);
    return async (argv: readonly string[]): Promise<RawOutput> =>
      argv[0] === 'bpftool' && argv.includes('cgroup')
        ? { argv, exitCode: 255, stdout: fx('bpftool-j-cgroup-tree.not-a-cgroup.json'), stderr: '', durationMs: 3 }
        : replay(argv);
  };

  it('records the probe as failed in the tool’s words and keeps no file of it', async () => {
    const { files, runs } = await collectProbes(failing(), { concurrency: 4 });
    expect(files.has('bpftool-cgroup.json')).toBe(false);
    expect(runs.find((r) => r.id === 'bpftool-cgroup')).toMatchObject({
      failed: 'error',
      message: `bpftool cgroup: ${CGROUP}`,
    });
  });

  it('a live trace says what bpftool said, and never "in the snapshot"', async () => {
    const state = await loadNodeState(await liveSource(failing(), { concurrency: 4 }));
    const msgs = state.warnings.map((w) => w.message);
    expect(msgs).toContain(`bpftool-cgroup: bpftool cgroup: ${CGROUP}`);
    expect(msgs.join('\n')).not.toMatch(/in the snapshot|not in live node/);
  });
});
