import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Warning } from '../../src/model/types.js';
import { parseBpftoolNet } from '../../src/tools/bpftool/index.js';
import { parseCiliumStatus } from '../../src/tools/cilium/index.js';
import { parseCiliumLbList, parseCiliumServiceList } from '../../src/tools/cilium-lb/index.js';
import { parseConntrack } from '../../src/tools/conntrack/index.js';
import { parseIpAddr, parseIpRoute, parseIpRule } from '../../src/tools/ip/index.js';
import { parseIptablesSave } from '../../src/tools/iptables/index.js';
import { parseIpvsadm } from '../../src/tools/ipvsadm/index.js';
import { cleanPaste } from '../../src/tools/paste.js';
import { parseTcFilter } from '../../src/tools/tc/index.js';
import { parseWgDump } from '../../src/tools/wg/index.js';

/**
 * Issue 13 item 2, on the bundled captures: each artefact a paste carries is injected into a real
 * capture, and the parse must be the same as of the capture itself, with exactly the warning kinds
 * that artefact explains (one each), and nothing else.
 */

const F = join(import.meta.dirname, '../../fixtures/tools');
const read = (p: string) => readFileSync(join(F, p), 'utf8');

type Parse = (t: string) => { value: unknown; warnings: Warning[] };
interface Capture {
  name: string;
  file: string;
  cmd: string;
  parse: Parse;
  /** `#` is the format's comment: a `# ` prefix on every line is not a paste artefact there */
  hashComments?: boolean;
}

const captures: Capture[] = [
  { name: 'ip addr', file: 'ip/addr/np-ip-a.txt', cmd: 'ip addr', parse: (t) => parseIpAddr(t, 'ip-addr') },
  {
    name: 'ip route',
    file: 'ip/route/np-ip-a.4-main.txt',
    cmd: 'ip -4 route',
    parse: (t) => parseIpRoute(t, 'ip-route4', 4),
  },
  {
    name: 'ip rule',
    file: 'ip/rule/shared-node.4.txt',
    cmd: 'ip -4 rule',
    parse: (t) => parseIpRule(t, 'ip-rule4', 4),
  },
  {
    name: 'tc filter',
    file: 'tc/filter-show/tc-filter-show-lxc0a1b-ingress.txt',
    cmd: 'tc filter show dev lxc0a1b ingress',
    parse: (t) => parseTcFilter(t, 'tc-filter/lxc0a1b.ingress', 'lxc0a1b', 'ingress'),
  },
  {
    name: 'bpftool net',
    file: 'bpftool/net-show/bpftool-net-show.node.txt',
    cmd: 'bpftool net show',
    parse: (t) => parseBpftoolNet(t, 'bpftool-net'),
  },
  {
    name: 'cilium status',
    file: 'cilium/status/v1.18.4-netkit-bpf.txt',
    cmd: 'cilium-dbg status',
    parse: (t) => parseCiliumStatus(t, 'cilium-status'),
  },
  {
    name: 'cilium service list',
    file: 'cilium-lb/service-list/v1.17.from-format.txt',
    cmd: 'cilium-dbg service list',
    parse: (t) => parseCiliumServiceList(t, 'cilium-service-list'),
  },
  {
    name: 'cilium bpf lb list',
    file: 'cilium-lb/bpf-lb-list/v1.17.from-format.txt',
    cmd: 'cilium-dbg bpf lb list',
    parse: (t) => parseCiliumLbList(t, 'cilium-lb-list'),
  },
  {
    name: 'ipvsadm -Ln',
    file: 'kube-proxy/ipvsadm/ipvsadm-Ln.synthesized.txt',
    cmd: 'ipvsadm -Ln',
    parse: (t) => parseIpvsadm(t, 'ipvsadm'),
  },
  {
    name: 'iptables-save',
    file: 'kube-proxy/iptables-save/iptables-save.kubeproxy-iptables-mode+cilium-like.nft-backend.txt',
    cmd: 'iptables-save',
    parse: (t) => parseIptablesSave(t, 'iptables-save'),
    hashComments: true,
  },
  {
    name: 'conntrack -L',
    file: 'conntrack/lab/conntrack-L.txt',
    cmd: 'conntrack -L',
    parse: (t) => parseConntrack(t, 'conntrack'),
  },
  {
    name: 'wg show all dump',
    file: 'wg/show-dump/wg-show-all-dump.node.redacted.txt',
    cmd: 'wg show all dump',
    parse: (t) => parseWgDump(t, 'wg'),
  },
];

const lines = (t: string) => t.replace(/\n$/, '').split('\n');
const join_ = (ls: string[]) => `${ls.join('\n')}\n`;

interface Artefact {
  name: string;
  inject: (t: string, c: Capture) => string;
  /** paste warning codes this artefact must produce, once each */
  codes: string[];
  skip?: (c: Capture) => boolean;
}

const artefacts: Artefact[] = [
  { name: 'prompt and command line', inject: (t, c) => `root@node-1:~# ${c.cmd}\n${t}`, codes: ['paste-skipped'] },
  { name: '`$ ` prompt', inject: (t, c) => `$ sudo ${c.cmd}\n${t}`, codes: ['paste-skipped'] },
  {
    name: 'GitHub Actions timestamps',
    inject: (t) => join_(lines(t).map((l) => `2024-05-01T10:00:00.1234567Z ${l}`)),
    codes: ['paste-cleaned'],
  },
  {
    name: 'Cilium CI harness',
    inject: (t, c) =>
      `cmd: kubectl exec -n kube-system cilium-x -- ${c.cmd}\nExitcode: 0 \nStdout:\n${join_(lines(t).map((l, i) => `${i === 0 ? ' ' : ''}\t ${l}`))}`,
    codes: ['paste-skipped', 'paste-cleaned'],
  },
  {
    name: '##[group] lines',
    inject: (t, c) => `##[group]Run ${c.cmd}\n${t}##[endgroup]\n`,
    codes: ['paste-skipped'],
  },
  { name: 'elision at the end', inject: (t) => `${t}...\n`, codes: ['paste-skipped'] },
  { name: '[...] at the end', inject: (t) => `${t}[...]\n`, codes: ['paste-skipped'] },
  {
    name: 'annotation after the first line',
    inject: (t) => {
      const ls = lines(t);
      const i = ls.findIndex((l) => l.trim() !== '');
      ls[i] = `${ls[i]}   <-- this one`;
      return join_(ls);
    },
    codes: ['paste-cleaned'],
  },
  { name: 'CRLF', inject: (t) => t.replace(/\n/g, '\r\n'), codes: [] },
  {
    name: 'ANSI colour',
    inject: (t) => join_(lines(t).map((l) => (l === '' ? l : `\u001b[1;32m${l}\u001b[0m`))),
    codes: [],
  },
  { name: 'Markdown fence', inject: (t) => `\`\`\`console\n${t}\`\`\`\n`, codes: ['paste-skipped'] },
  {
    name: '4-space indent',
    inject: (t) => join_(lines(t).map((l) => (l === '' ? l : `    ${l}`))),
    codes: ['paste-cleaned'],
  },
  {
    name: '`# ` on every line',
    inject: (t) => join_(lines(t).map((l) => `# ${l}`)),
    codes: ['paste-cleaned'],
    skip: (c) => c.hashComments === true,
  },
];

// evidence text and line numbers move with an injected line; everything read must not
const strip = (v: unknown): unknown =>
  JSON.parse(
    JSON.stringify(v, (k, x) =>
      k === 'source' || k === 'evidence' || k.endsWith('Source') || k === 'line' || k === 'lineNo' ? undefined : x,
    ),
  );

describe('paste artefacts injected into bundled captures', () => {
  for (const c of captures) {
    const text = read(c.file);
    const base = c.parse(text);
    it(`${c.name}: the capture itself has no paste warning`, () => {
      expect(base.warnings.filter((w) => w.code.startsWith('paste-'))).toEqual([]);
    });
    for (const a of artefacts) {
      if (a.skip?.(c)) continue;
      it(`${c.name} + ${a.name}`, () => {
        const r = c.parse(a.inject(text, c));
        expect(strip(r.value)).toEqual(strip(base.value));
        const paste = r.warnings.filter((w) => w.code.startsWith('paste-'));
        expect(paste.map((w) => w.code).sort()).toEqual([...a.codes].sort());
        // the parser's own warnings are unchanged (their line numbers included: skipped lines stay as blanks)
        const own = r.warnings.filter((w) => !w.code.startsWith('paste-')).map((w) => w.code);
        expect(own).toEqual(base.warnings.map((w) => w.code));
      });
    }
  }
});

describe('cleanPaste', () => {
  it('keeps line numbers: a skipped line becomes an empty line', () => {
    const r = cleanPaste('$ ip route\ndefault via 10.0.0.1 dev eth0\n...\n', 'p');
    expect(r.text).toBe('\ndefault via 10.0.0.1 dev eth0\n\n');
  });
  it('does not take an nft rule (`ip daddr …`) or a label (`k8s:…`) for a command line', () => {
    const t = '\tip daddr 10.96.0.10 udp dport 53 jump svc\nk8s:app=x\n';
    expect(cleanPaste(t, 'p').warnings.filter((w) => w.code === 'paste-skipped')).toEqual([]);
  });
  it('skips the lines of a command continued with `\\`', () => {
    const r = cleanPaste('# cilium service update --frontend 10.0.0.2:80 \\\n    --backends 1.2.3.4:80\nok\n', 'p');
    expect(r.text).toBe('\n\nok\n');
  });
  it('reports each kind once, with a count', () => {
    const r = cleanPaste('$ ip r\n...\n$ ip r\n...\na\n', 'p');
    expect(r.warnings.map((w) => w.message)).toEqual([
      '2 shell prompt or command line(s) skipped',
      '2 elision line(s) (`...`, `[...]`, `…`: the paste leaves out lines there) skipped',
    ]);
  });
});

describe('cleanPaste cost', () => {
  it('is linear on long lines of spaces, `#`, `<-` and `*` (no regex backtracking blow-up)', () => {
    for (const unit of [
      ' ',
      ' #',
      ' <',
      '*',
      '**a',
      '\t ',
      '$ ',
      '[.',
      ':',
      '@a',
      'a@b:',
      'a:/',
      '(⎈|',
      '➜ ',
      '--',
      'ip ',
    ]) {
      const line = unit.repeat(Math.ceil(200_000 / unit.length));
      const t = Date.now();
      cleanPaste(`${line}\n${line}\n`, 'p');
      expect(Date.now() - t, JSON.stringify(unit)).toBeLessThan(2000);
    }
  });
});
