import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubeProxyServicesFromIptables } from '../../../src/analysis/kube-proxy/index.js';
import {
  ByteLines,
  iptablesByteLines,
  parseIptablesLines,
  parseIptablesSave,
  pastedDump,
} from '../../../src/tools/iptables/parse-iptables.js';
import { cleanPaste } from '../../../src/tools/paste.js';
import { read } from '../../helpers/kube-proxy.js';

// The byte path (load-services: a dump indexed on its bytes) and the text path (parseIptablesSave) read a
// pasted dump alike, whatever its size.

const CAPTURE = 'iptables-save/iptables-save.kubeproxy-iptables-mode+cilium-like.nft-backend.txt';
const dump = read(CAPTURE);

const byBytes = (text: string) => {
  const { lines, warnings } = iptablesByteLines(Buffer.from(text, 'utf8'), 'p');
  const r = parseIptablesLines(lines, 'p');
  return { value: r.value, warnings: [...warnings, ...r.warnings] };
};
const services = (rs: ReturnType<typeof byBytes>['value']) => kubeProxyServicesFromIptables(rs, 'p', 4).value;

/** every iptables-save / restore file in fixtures/ */
function realDumps(dir = new URL('../../../fixtures/', import.meta.url).pathname): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...realDumps(p));
    else if (/ip6?tables-(save|restore)[^/]*\.txt$/.test(e.name) || /\/iptables-save\//.test(p)) out.push(p);
  }
  return out;
}

describe('iptables-save pasted: bytes read as the text is', () => {
  const pastes: [string, string][] = [
    ['a prompt and the command', `root@node-1:~# iptables-save\n${dump}`],
    ['GitHub Actions timestamps', dump.replace(/^/gm, '2026-12-07T08:00:00.1234567Z ')],
    [
      'the Cilium CI harness indent',
      `cmd: kubectl exec -- iptables-save\nExitcode: 0\nStdout:\n${dump.replace(/^(?=.)/gm, '\t ')}`,
    ],
    [
      'an elision and an annotation',
      dump.replace('-A KUBE-SERVICES ', '...\n-A KUBE-SERVICES ').replace(/(-j KUBE-POSTROUTING)$/m, '$1   <-- here'),
    ],
    ['a Markdown fence', `\`\`\`\n${dump}\`\`\`\n`],
  ];
  for (const [what, text] of pastes) {
    it(what, () => {
      const t = parseIptablesSave(text, 'p');
      const b = byBytes(text);
      expect(b).toEqual(t);
      expect(b.warnings.some((w) => w.code === 'paste-skipped' || w.code === 'paste-cleaned')).toBe(true);
      expect(services(b.value)).toEqual(services(parseIptablesSave(dump, 'p').value));
    });
  }

  it('a paste larger than the paste pass reads by default (a CI log of a large node) reads as the dump itself', () => {
    // the real dump many times over, as iptables-restore input can give a table again; then as a CI log
    let clean = dump;
    while (clean.length < 3.7 * 1024 * 1024) clean += dump;
    const log = `##[group]Run sudo iptables-save\n${clean.replace(/^/gm, '2026-12-07T08:00:00.1234567Z ')}##[endgroup]\n`;
    expect(log.length).toBeGreaterThan(4 * 1024 * 1024);
    const pasted = byBytes(log);
    // the `##[group]` line stays as an empty line: a rule's line number is still the line the user sees
    const plain = byBytes(`\n${clean}`);
    expect(pasted.value).toEqual(plain.value);
    expect(pasted.warnings.slice(0, 2).map((w) => w.message)).toEqual([
      '2 CI-log harness line(s) (`cmd:`, `Exitcode:`, `Stdout:`, `##[group]`) skipped',
      `CI-log timestamp prefix removed from ${clean.split('\n').length} line(s)`,
    ]);
    expect(pasted.warnings.slice(2)).toEqual(plain.warnings);
    expect(parseIptablesSave(log, 'p').value).toEqual(plain.value);
  });

  it('a dump as iptables-save writes it stays on its bytes: nothing there that the paste pass would change', () => {
    const files = realDumps();
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      if (text.includes('\r') || text.includes('\u001b')) continue;
      const pasted = pastedDump(new ByteLines(Buffer.from(text, 'utf8')));
      const p = cleanPaste(text, 'p', { hashComments: true, anySize: true });
      // the detector may see a paste the pass leaves as it is (a corpus grep fragment), never the other way round
      if (!pasted) expect({ f, text: p.text, warnings: p.warnings }).toEqual({ f, text, warnings: [] });
    }
  });
});

describe('pastedDump on a dump of ASCII bytes skips the non-ASCII marks, and only there', () => {
  // the marks of the paste pass (parse-iptables.ts), and a non-ASCII character that is none of them
  const marks = ['<-', '\u2190', '**', '\u00a0', '\u2007', '\u202f', '\u200b', '\ufeff'];
  const files = realDumps();
  it('each mark inside a rule line of every real dump is seen; another non-ASCII character is not', () => {
    let n = 0;
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      const clean = new ByteLines(Buffer.from(text, 'utf8'));
      if (clean.oddStart) continue;
      const at = text.indexOf('\n-A ');
      if (at < 0) continue;
      const put = (s: string) =>
        new ByteLines(Buffer.from(`${text.slice(0, at + 4)}${s}${text.slice(at + 4)}`, 'utf8'));
      for (const m of marks) expect(pastedDump(put(m)), `${f}: ${JSON.stringify(m)}`).toBe(true);
      expect(pastedDump(put('\u00e9')), f).toBe(pastedDump(clean));
      n++;
    }
    expect(n).toBeGreaterThan(5);
  });
});
