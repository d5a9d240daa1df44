import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendFileSync,
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/**
 * The error contract of docs/json.md ("Exit codes"), for every command and every kind of failure, on the built CLI
 * (bin/netpath.js, as a user runs it): the documented exit code, at most one line on stderr naming the source
 * (exactly one for an error), never a stack trace, and the partial answer on stdout when it is sound.
 *
 * Live probing never touches this machine: PATH points at a directory of shims (none, a probe that hangs, `ip`
 * and `tc` replaying a bundled snapshot). The shims are what netpath spawns, under allow-listed argv, so the spawn
 * audit sees them like any probe. Permission cases run as uid 65534 (setpriv), root only.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(root, 'bin/netpath.js');
const K1 = join(root, 'fixtures/snapshots/kind-v4/k1');
const SVC = join(root, 'fixtures/snapshots/kind-v4-svc/k1');
const V6 = join(root, 'fixtures/snapshots/v6-wg');
const MIG = join(root, 'fixtures/snapshots/migrate-iptables');
const w = mkdtempSync(join(tmpdir(), 'np-exit-'));
const isRoot = process.getuid?.() === 0 && spawnSync('which', ['setpriv']).status === 0;
const built = existsSync(join(root, 'dist/main.js'));
// uid 65534 appends its spawns here; merged into the suite's audit log afterwards
const audit = join(w, 'audit.jsonl');

const p = (...x: string[]) => join(w, ...x);
function script(dir: string, name: string, body: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(dir, name), 0o755);
}

/** `ip` and `tc` that print what k1's snapshot holds for each allow-listed query: a node without a node. */
function replayShims(dir: string): void {
  const ipFiles: [string, string][] = [
    ['-j -d link show', 'ip-link.json'],
    ['-j addr show', 'ip-addr.json'],
    ['-4 -j -d route show table all', 'ip-route4.json'],
    ['-6 -j -d route show table all', 'ip-route6.json'],
    ['-4 -j rule show', 'ip-rule4.json'],
    ['-6 -j rule show', 'ip-rule6.json'],
    ['-j neigh show', 'ip-neigh.json'],
    ['-j netns list', 'ip-netns.json'],
  ];
  const cases = ipFiles.map(([a, f]) => `  "${a}") f=${f};;`).join('\n');
  const nsCases = ['link', 'addr', 'route4', 'route6']
    .map((k) => {
      const a = {
        link: '-j -d link show',
        addr: '-j addr show',
        route4: '-4 -j -d route show table all',
        route6: '-6 -j -d route show table all',
      }[k];
      return `    "${a}") f=netns/$ns/ip-${k}.json;;`;
    })
    .join('\n');
  script(
    dir,
    'ip',
    `case "$*" in\n${cases}\n  "-n "*) ns=$2; shift 2\n    case "$*" in\n${nsCases}\n    *) exit 1;;\n    esac;;\n  *) exit 1;;\nesac\nexec /bin/cat "${K1}/$f"`,
  );
  script(
    dir,
    'tc',
    `case "$*" in\n  "-j qdisc show") exec /bin/cat "${K1}/tc-qdisc.json";;\n  "-j filter show dev "*) exec /bin/cat "${K1}/tc-filter/$5.$6.json";;\nesac\nexit 1`,
  );
}

interface Case {
  name: string;
  argv: string[];
  code: number;
  /** the stderr line (null: stderr must be empty) */
  err: RegExp | null;
  out?: (stdout: string) => void;
  path?: string;
  nobody?: boolean;
}

function run(c: Pick<Case, 'argv' | 'path' | 'nobody'>) {
  const env = {
    PATH: c.path ?? process.env.PATH ?? '/usr/bin:/bin',
    NETPATH_AUDIT_LOG: c.nobody ? audit : (process.env.NETPATH_AUDIT_LOG ?? ''),
    LC_ALL: 'C',
    HOME: w,
  };
  const cmd = c.nobody
    ? [
        'setpriv',
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        '--inh-caps=-all',
        '--bounding-set=-all',
        process.execPath,
        BIN,
        ...c.argv,
      ]
    : [process.execPath, BIN, ...c.argv];
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', env, cwd: w, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const json = (check: (j: Record<string, unknown>) => void) => (s: string) =>
  check(JSON.parse(s) as Record<string, unknown>);

const ADDR = ['10.244.1.12', '10.244.2.7', '--port', '8080'];
const NO_TOOLS = '/nonexistent-np-path';

const CASES: Case[] = [
  // ---- trace
  {
    name: 'trace: a bad flag',
    argv: ['trace', ...ADDR, '-s', K1, '--frob'],
    code: 2,
    err: /^netpath: unknown option '--frob' \(run with --help for usage\)$/,
  },
  {
    name: 'trace: not an address',
    argv: ['trace', '10.0.0.300', '10.0.0.1', '-s', K1],
    code: 2,
    err: /^netpath: source "10\.0\.0\.300" is not an IPv4 or IPv6 address/,
  },
  {
    name: 'trace: a bad --timeout',
    argv: ['trace', ...ADDR, '--timeout', 'soon'],
    code: 2,
    err: /^netpath: --timeout must be milliseconds, not "soon"$/,
  },
  {
    name: 'trace: a missing snapshot directory',
    argv: ['trace', ...ADDR, '-s', '/nonexistent/snap'],
    code: 3,
    err: /^netpath: \/nonexistent\/snap: no such snapshot directory or file$/,
  },
  {
    name: 'trace: truncated JSON in one probe: the sound part of the answer, the file named',
    argv: ['trace', ...ADDR, '-s', 'garbled', '--json'],
    code: 3,
    err: /^netpath: warning: \S*garbled\/ip-route4\.json: not valid JSON \(.*\); the output looks truncated$/,
    out: json((j) => {
      expect(j.disposition).toBe('unknown');
      expect((j.src as { kind: string }).kind).toBe('local-pod');
      expect((j.hops as { kind: string }[])[0]!.kind).toBe('route');
    }),
  },
  {
    name: 'trace: a corrupt .tar.gz',
    argv: ['trace', ...ADDR, '-s', 'corrupt.tar.gz'],
    code: 3,
    err: /^netpath: corrupt\.tar\.gz: not a readable gzip archive \(.*\)$/,
  },
  {
    name: 'trace: a cut .tar.gz',
    argv: ['trace', ...ADDR, '-s', 'cut.tar.gz'],
    code: 3,
    err: /^netpath: cut\.tar\.gz: (not a readable gzip archive|entry at byte \d+ runs past the end)/,
  },
  {
    name: 'trace: no tool installed (live)',
    argv: ['trace', ...ADDR],
    path: NO_TOOLS,
    code: 3,
    err: /^netpath: live node: no node state to trace on \(ip-link, ip-addr, ip-route4: ip: not installed\)$/,
  },
  {
    name: 'trace: a probe that hangs is killed at --timeout (live)',
    argv: ['trace', ...ADDR, '--timeout', '300'],
    path: 'hang-ip',
    code: 3,
    err: /^netpath: live node: no node state to trace on \(ip-link, ip-addr, ip-route4: ip: no answer within 300 ms \(killed\)\)$/,
  },
  {
    name: 'trace: bpftool hangs, ip and tc answer: the path from them, the timeouts named (live)',
    // the replaying shims answer in milliseconds, but a loaded CI machine may take a while to start a shell
    argv: ['trace', ...ADDR, '--timeout', '3000', '--json'],
    path: 'replay-hang-bpftool',
    code: 0,
    // a Cilium map not pinned on this node is answered without starting bpftool (exec/live.ts inProcess), so
    // the first timeout named is a map only on a node that has them pinned
    err: /^netpath: warning: (bpftool-[a-z]+|bpf-map\/cilium_[a-z0-9_]+): bpftool: no answer within 3000 ms \(killed\) \(and \d+ more unreadable sources, listed in the warnings\)$/,
    out: json((j) => {
      expect(j.disposition).toBe('forwarded');
      expect((j.hops as { kind: string; program?: string }[]).find((h) => h.kind === 'bpf')!.program).toBe(
        'cil_from_container',
      );
      expect(JSON.stringify(j.warnings)).toMatch(/bpftool-net: bpftool: no answer within 3000 ms \(killed\)/);
    }),
  },
  {
    name: 'trace: a Cilium version whose status format is unknown: answered, the version named',
    argv: ['trace', ...ADDR, '-s', 'future-cilium', '-q'],
    code: 0,
    err: /^netpath: warning: \S*future-cilium\/cilium-status\.txt: cilium 9\.0\.0 is outside the versions whose status format netpath knows \(1\.10–1\.19\)/,
    out: (s) => expect(s).toBe('result: FORWARDED — leaves this node towards 172.18.0.3\n'),
  },
  {
    name: 'trace: an unreadable probe file (uid 65534)',
    argv: ['trace', ...ADDR, '-s', 'locked-file', '--json'],
    nobody: true,
    code: 3,
    err: /^netpath: warning: \S*locked-file\/ip-route4\.json: permission denied$/,
    out: json((j) => expect(j.disposition).toBe('unknown')),
  },
  {
    name: 'trace: an unreadable snapshot directory (uid 65534)',
    argv: ['trace', ...ADDR, '-s', 'locked-dir'],
    nobody: true,
    code: 3,
    err: /^netpath: locked-dir: no node state to trace on \(ip-link, ip-addr, ip-route4: permission denied\)$/,
  },
  {
    name: 'trace: an unreadable .tar.gz (uid 65534)',
    argv: ['trace', ...ADDR, '-s', 'locked.tar.gz'],
    nobody: true,
    code: 3,
    err: /^netpath: locked\.tar\.gz: permission denied$/,
  },
  {
    name: 'trace: answered, no route (exit 1)',
    argv: ['trace', '2001:db8:1::10', '2001:db8:77::1', '-s', join(V6, 'gateway'), '-q'],
    code: 1,
    err: null,
  },

  // ---- trace --cluster
  {
    name: 'trace --cluster: a bad flag',
    argv: ['trace', '--cluster', V6, '2001:db8:42::a:5', '2001:db8:42::c:9', '--frob'],
    code: 2,
    err: /^netpath: unknown option '--frob'/,
  },
  {
    name: 'trace --cluster: not an address',
    argv: ['trace', '--cluster', V6, 'node-a', '2001:db8:42::c:9'],
    code: 2,
    err: /^netpath: /,
  },
  {
    name: 'trace --cluster: with --snapshot',
    argv: ['trace', '--cluster', V6, '-s', K1, ...ADDR],
    code: 2,
    err: /^netpath: --cluster excludes --snapshot and --exec$/,
  },
  {
    name: 'trace --cluster: a missing directory',
    argv: ['trace', '--cluster', '/nonexistent/c', ...ADDR],
    code: 3,
    err: /^netpath: \/nonexistent\/c: no such cluster directory$/,
  },
  {
    name: 'trace --cluster: no node snapshot in it',
    argv: ['trace', '--cluster', 'empty-cluster', ...ADDR],
    code: 3,
    err: /^netpath: empty-cluster: no node snapshot in the directory$/,
  },
  {
    name: 'trace --cluster: garbled JSON on one node: the journey, the file named',
    argv: ['trace', '--cluster', 'garbled-cluster', '2001:db8:42::a:5', '2001:db8:42::c:9', '-q'],
    code: 0,
    err: /^netpath: warning: \S*garbled-cluster\/node-b\/ip-route6\.json: not valid JSON/,
  },
  {
    name: 'trace --cluster: an unreadable node file (uid 65534)',
    argv: ['trace', '--cluster', 'locked-cluster', '2001:db8:42::a:5', '2001:db8:42::c:9', '-q'],
    nobody: true,
    code: 0,
    err: /^netpath: warning: \S*locked-cluster\/node-b\/nft-ruleset\.json: permission denied$/,
  },

  // ---- svc lookup
  {
    name: 'svc lookup: a bad flag',
    argv: ['svc', 'lookup', '10.96.0.10', '-s', SVC, '--frob'],
    code: 2,
    err: /^netpath: unknown option '--frob'/,
  },
  {
    name: 'svc lookup: not an address or a name',
    argv: ['svc', 'lookup', '10.96.0.10:99999', '-s', SVC],
    code: 2,
    err: /^netpath: "10\.96\.0\.10:99999" is not/,
  },
  {
    name: 'svc lookup: a missing snapshot',
    argv: ['svc', 'lookup', '10.96.0.10', '-s', '/nonexistent/snap'],
    code: 3,
    err: /^netpath: \/nonexistent\/snap: no such snapshot directory or file$/,
  },
  {
    name: 'svc lookup: a corrupt .tar.gz',
    argv: ['svc', 'lookup', '10.96.0.10', '-s', 'corrupt.tar.gz'],
    code: 3,
    err: /^netpath: corrupt\.tar\.gz: not a readable gzip archive/,
  },
  {
    name: 'svc lookup: answered, nothing matches (exit 1)',
    argv: ['svc', 'lookup', '10.96.0.99', '-s', SVC, '-q'],
    code: 1,
    err: null,
  },
  {
    name: 'svc lookup: a garbled LB map and nothing found: not an answer (exit 3), the map named',
    argv: ['svc', 'lookup', '10.96.0.10', '-s', 'garbled-svc', '--json'],
    code: 3,
    err: /^netpath: warning: \S*garbled-svc\/bpf-map\/cilium_lb4_services_v2\.json: /,
    out: json((j) => expect(j.frontends).toEqual([])),
  },
  {
    name: 'svc lookup: no tool installed (live)',
    argv: ['svc', 'lookup', '10.96.0.10'],
    path: NO_TOOLS,
    code: 3,
    err: /^netpath: live node: no Service source \(/,
  },
  {
    name: 'svc lookup: the only Service source hangs (live)',
    argv: ['svc', 'lookup', '10.96.0.10', '--timeout', '300'],
    path: 'hang-nft',
    code: 3,
    err: /^netpath: live node: no readable Service source \(nft-ruleset: no answer within 300 ms \(killed\)\)$/,
  },
  {
    name: 'svc lookup: every Service source unreadable (uid 65534)',
    argv: ['svc', 'lookup', '10.96.0.10', '-s', 'locked-svc'],
    nobody: true,
    code: 3,
    err: /^netpath: locked-svc: no readable Service source \(.*permission denied.*\)$/,
  },

  // ---- snapshot
  {
    name: 'snapshot: a bad flag',
    argv: ['snapshot', '-o', 'x', '--frob'],
    code: 2,
    err: /^netpath: unknown option '--frob'/,
  },
  {
    name: 'snapshot: a bad --timeout',
    argv: ['snapshot', '-o', 'x', '--timeout', '-1'],
    code: 2,
    err: /^netpath: --timeout must be milliseconds/,
  },
  {
    name: 'snapshot: no tool installed',
    argv: ['snapshot', '-o', 'snap-none'],
    path: NO_TOOLS,
    code: 3,
    err: /^netpath: snap-none: the node gave none of ip-link, ip-addr, ip-route4, ip-route6 \(ip: not installed\)$/,
  },
  {
    name: 'snapshot: ip hangs',
    argv: ['snapshot', '-o', 'snap-hang', '--timeout', '300'],
    path: 'hang-ip',
    code: 3,
    err: /^netpath: snap-hang: the node gave none of .* \(ip: no answer within 300 ms \(killed\)\)$/,
  },
  {
    name: 'snapshot: bpftool hangs: the rest is captured and the timeouts listed',
    argv: ['snapshot', '-o', 'snap-partial', '--timeout', '3000'],
    path: 'replay-hang-bpftool',
    code: 0,
    err: null,
    out: (s) => {
      expect(s).toMatch(/^ {2}bpftool-net: bpftool: no answer within 3000 ms \(killed\)$/m);
      expect(existsSync(p('snap-partial', 'ip-route4.json'))).toBe(true);
    },
  },
  {
    name: 'snapshot: an output it cannot write (uid 65534)',
    argv: ['snapshot', '--redact', '--from', K1, '-o', '/root/np-no-access'],
    nobody: true,
    code: 3,
    err: /^netpath: \/root\/np-no-access\S*: cannot write the snapshot: permission denied$/,
  },
  {
    name: 'snapshot --redact --from a corrupt .tar.gz',
    argv: ['snapshot', '--redact', '--from', 'corrupt.tar.gz', '-o', 'r1'],
    code: 3,
    err: /^netpath: corrupt\.tar\.gz: not a readable gzip archive/,
  },
  {
    name: 'snapshot --redact into a directory that is not empty',
    argv: ['snapshot', '--redact', '--from', K1, '-o', 'garbled'],
    code: 2,
    err: /^netpath: garbled exists and is not empty/,
  },
  {
    name: 'snapshot --redact-key-file missing',
    argv: ['snapshot', '--redact-key-file', 'no-key', '--from', K1, '-o', 'r2'],
    code: 3,
    err: /^netpath: no-key: no such key file$/,
  },

  // ---- snapshot --cluster
  {
    name: 'snapshot --cluster: no node given',
    argv: ['snapshot', '--cluster', '-o', 'c0'],
    code: 2,
    err: /^netpath: --cluster needs --kubectl or at least one --node-exec name=prefix$/,
  },
  {
    name: 'snapshot --cluster: a bad --node-exec',
    argv: ['snapshot', '--cluster', '-o', 'c1', '--node-exec', 'noequals'],
    code: 2,
    err: /^netpath: --node-exec takes name=prefix, not "noequals"$/,
  },
  {
    name: 'snapshot --cluster: no node reachable',
    argv: ['snapshot', '--cluster', '-o', 'c2', '--node-exec', 'a=np-no-such-cmd', '--node-exec', 'b=np-no-such-cmd'],
    path: NO_TOOLS,
    code: 3,
    err: /^netpath: c2: no node could be captured \(/,
  },
  {
    name: 'snapshot --cluster: one node of two unreachable: the other captured, the lost one named',
    argv: [
      'snapshot',
      '--cluster',
      '-o',
      'c3',
      '--node-exec',
      'good=/usr/bin/env',
      '--node-exec',
      'bad=np-no-such-cmd',
      '--timeout',
      '3000',
    ],
    path: 'replay-hang-bpftool',
    code: 3,
    err: /^netpath: bad: not captured — c3\/bad: the node gave none of /,
    out: (s) => expect(s).toMatch(/^c3: 1 of 2 nodes captured$/m),
  },

  // ---- diff
  {
    name: 'diff: a bad flag',
    argv: ['diff', join(MIG, 'before'), join(MIG, 'after'), '--frob'],
    code: 2,
    err: /^netpath: unknown option '--frob'/,
  },
  {
    name: 'diff: a bad --max-flows',
    argv: ['diff', join(MIG, 'before'), join(MIG, 'after'), '--max-flows', 'x'],
    code: 2,
    err: /^netpath: --max-flows must be a number, not "x"$/,
  },
  {
    name: 'diff: both sides live',
    argv: ['diff', 'live', 'live'],
    code: 2,
    err: /^netpath: before and after cannot both be "live"/,
  },
  {
    name: 'diff: clean (exit 0)',
    argv: ['diff', join(MIG, 'before'), join(MIG, 'after'), '-q'],
    code: 0,
    err: null,
    out: (o) => expect(o).toMatch(/^CLEAN/),
  },
  {
    name: 'diff: regressions (exit 1)',
    argv: ['diff', join(MIG, 'before'), join(MIG, 'after-broken'), '-q'],
    code: 1,
    err: null,
    out: (o) => expect(o).toMatch(/^REGRESSIONS/),
  },
  {
    name: 'diff: a missing side',
    argv: ['diff', join(MIG, 'before'), '/nonexistent/after'],
    code: 3,
    err: /^netpath: after: \/nonexistent\/after: no such snapshot directory or file$/,
  },
  {
    name: 'diff: a corrupt .tar.gz side',
    argv: ['diff', 'corrupt.tar.gz', join(MIG, 'after')],
    code: 3,
    err: /^netpath: before: corrupt\.tar\.gz: not a readable gzip archive/,
  },
  {
    name: 'diff: truncated JSON on one side: no verdict (exit 3), the file named',
    argv: ['diff', join(MIG, 'before'), 'garbled-after', '-q'],
    code: 3,
    err: /^netpath: warning: after: \S*garbled-after\/ip-route4\.json: not valid JSON/,
  },
  {
    name: 'diff: a live side with no tool installed',
    argv: ['diff', join(MIG, 'before'), 'live'],
    path: NO_TOOLS,
    code: 3,
    err: /^netpath: after: live node: no Service source/,
  },
  {
    name: 'diff: a live side whose only Service source hangs',
    argv: ['diff', join(MIG, 'before'), 'live', '--timeout', '300'],
    path: 'hang-nft',
    code: 3,
    err: /^netpath: after: live node: no readable Service source \(nft-ruleset: (nft: )?no answer within 300 ms \(killed\)\)$/,
  },
  {
    name: 'diff: an unreadable side (uid 65534)',
    argv: ['diff', join(MIG, 'before'), 'locked-after', '-q'],
    nobody: true,
    code: 3,
    err: /^netpath: warning: after: \S*locked-after\/iptables-save\.txt: permission denied/,
  },

  // ---- commands
  { name: 'commands', argv: ['commands'], code: 0, err: null, out: (s) => expect(s).toMatch(/^ip -j -d link show$/m) },
  {
    name: 'commands: an extra argument',
    argv: ['commands', 'extra'],
    code: 2,
    err: /^netpath: too many arguments for 'commands'/,
  },
  {
    name: 'no command at all: an unknown one',
    argv: ['frobnicate'],
    code: 2,
    err: /^netpath: unknown command 'frobnicate'/,
  },
];

describe.skipIf(!built)('exit codes and the error contract of every command (built CLI)', () => {
  beforeAll(() => {
    chmodSync(w, 0o755);
    writeFileSync(audit, '');
    chmodSync(audit, 0o666);
    // snapshots with one broken part
    cpSync(K1, p('garbled'), { recursive: true });
    const routes = readFileSync(p('garbled', 'ip-route4.json'), 'utf8');
    writeFileSync(p('garbled', 'ip-route4.json'), routes.slice(0, routes.length >> 1));
    cpSync(K1, p('future-cilium'), { recursive: true });
    writeFileSync(
      p('future-cilium', 'cilium-status.txt'),
      readFileSync(join(K1, 'cilium-status.txt'), 'utf8')
        .replace('1.13.9 (v1.13.9-cde7f964)', '9.0.0 (v9.0.0-0123abcd)')
        .replace(/^Host Routing:.*\n/m, ''),
    );
    cpSync(SVC, p('garbled-svc'), { recursive: true });
    rmSync(p('garbled-svc', 'nft-ruleset.json'));
    writeFileSync(p('garbled-svc', 'bpf-map', 'cilium_lb4_services_v2.json'), '[{"key":["0x0a","0x60"');
    mkdirSync(p('empty-cluster', 'not-a-node'), { recursive: true });
    cpSync(V6, p('garbled-cluster'), { recursive: true });
    cpSync(join(MIG, 'after'), p('garbled-after'), { recursive: true });
    writeFileSync(
      p('garbled-after', 'ip-route4.json'),
      readFileSync(join(MIG, 'after', 'ip-route4.json'), 'utf8').slice(0, 100),
    );
    writeFileSync(p('garbled-cluster', 'node-b', 'ip-route6.json'), '[{"dst":');
    // archives
    writeFileSync(p('corrupt.tar.gz'), Buffer.from('this is not gzip at all, only text that says it is'));
    const good = readFileSync(join(root, 'fixtures/snapshots/kind-v4/k1/ip-link.json'));
    writeFileSync(
      p('cut.tar.gz'),
      gzipSync(Buffer.concat([Buffer.from('k1/ip-link.json'.padEnd(100, '\0')), Buffer.alloc(412), good])).subarray(
        0,
        200,
      ),
    );
    // shims
    script(p('hang-ip'), 'ip', 'exec /bin/sleep 30');
    script(p('hang-nft'), 'nft', 'exec /bin/sleep 30');
    replayShims(p('replay-hang-bpftool'));
    script(p('replay-hang-bpftool'), 'bpftool', 'exec /bin/sleep 30');
    // for uid 65534
    cpSync(K1, p('locked-file'), { recursive: true });
    cpSync(K1, p('locked-dir'), { recursive: true });
    cpSync(SVC, p('locked-svc'), { recursive: true });
    cpSync(V6, p('locked-cluster'), { recursive: true });
    cpSync(join(MIG, 'after'), p('locked-after'), { recursive: true });
    writeFileSync(p('locked.tar.gz'), readFileSync(p('corrupt.tar.gz')));
    spawnSync('chmod', ['-R', 'a+rX', w]);
    chmodSync(p('locked-file', 'ip-route4.json'), 0o600);
    chmodSync(p('locked-dir'), 0o700);
    for (const f of [
      'nft-ruleset.json',
      'bpf-map/cilium_lb4_services_v2.json',
      'bpf-map/cilium_lb4_backends_v3.json',
      'bpf-map/cilium_lb4_reverse_nat.json',
    ])
      chmodSync(p('locked-svc', f), 0o600);
    chmodSync(p('locked-cluster', 'node-b', 'nft-ruleset.json'), 0o600);
    chmodSync(p('locked-after', 'iptables-save.txt'), 0o600);
    chmodSync(p('locked.tar.gz'), 0o600);
  });
  afterAll(() => {
    if (process.env.NETPATH_AUDIT_LOG && existsSync(audit))
      appendFileSync(process.env.NETPATH_AUDIT_LOG, readFileSync(audit, 'utf8'));
    rmSync(w, { recursive: true, force: true });
  });

  for (const c of CASES) {
    it.skipIf(c.nobody && !isRoot)(c.name, () => {
      const r = run({ ...c, ...(c.path && !c.path.startsWith('/') ? { path: p(c.path) } : {}) });
      expect(r.err, 'no stack trace').not.toMatch(/\n\s+at |^\s+at /m);
      const lines = r.err.split('\n').filter(Boolean);
      if (c.err === null) expect(lines, 'stderr').toEqual([]);
      else {
        expect(lines, 'one line on stderr').toHaveLength(1);
        expect(lines[0]).toMatch(c.err);
      }
      expect(r.code, `${c.argv.join(' ')}\n${r.err}`).toBe(c.code);
      if (c.code === 2) expect(r.out, 'no answer on a usage error').toBe('');
      c.out?.(r.out);
    });
  }
});
