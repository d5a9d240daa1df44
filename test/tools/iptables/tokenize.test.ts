import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readRuleLine, tokenize } from '../../../src/tools/iptables/parse-iptables.js';
import { RUNS, SEED, seeds } from '../../fuzz/harness.js';

// tokenize slices runs instead of copying character by character; it must split exactly as the
// character-by-character version did (kept here as the reference).
function reference(line: string): { tokens: string[]; quoted: boolean[] } | null {
  const tokens: string[] = [];
  const quoted: boolean[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && (line[i] === ' ' || line[i] === '\t')) i++;
    if (i >= n) break;
    let tok = '';
    let q = false;
    while (i < n && line[i] !== ' ' && line[i] !== '\t') {
      const c = line[i]!;
      if (c === '"' || c === "'") {
        q = true;
        const close = c;
        i++;
        let closed = false;
        while (i < n) {
          const d = line[i]!;
          if (d === '\\' && close === '"' && i + 1 < n) {
            tok += line[i + 1]!;
            i += 2;
            continue;
          }
          if (d === close) {
            closed = true;
            i++;
            break;
          }
          tok += d;
          i++;
        }
        if (!closed) return null;
      } else if (c === '\\' && i + 1 < n) {
        tok += line[i + 1]!;
        i += 2;
      } else {
        tok += c;
        i++;
      }
    }
    tokens.push(tok);
    quoted.push(q);
  }
  return { tokens, quoted };
}

describe('iptables tokenize', () => {
  const lines = [
    ...seeds('kube-proxy/iptables-save'),
    ...seeds('kube-proxy/upstream', /iptables-restore\.txt$/),
  ].flatMap((s) => s.text.split('\n'));
  it('splits every real line as the reference does', () => {
    for (const l of lines) expect(tokenize(l)).toEqual(reference(l));
    expect(lines.length).toBeGreaterThan(200);
  });
  it('splits random lines of quotes, escapes and blanks as the reference does', () => {
    const chars = fc.constantFrom(' ', '\t', '"', "'", '\\', 'a', 'b', '-', '0', '/', ':');
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 40 }), (cs) => {
        const l = cs.join('');
        expect(tokenize(l)).toEqual(reference(l));
      }),
      { numRuns: RUNS * 20, seed: SEED },
    );
  });
  it('reads counters, insert positions and options of a rule line', () => {
    const r = readRuleLine('[5:300] -I KUBE-SVC-X 2 -p tcp -m comment --comment "a b" -j KUBE-SEP-Y');
    expect(r.cnt).toEqual({ packets: 5, bytes: 300 });
    expect(r.insertAt).toBe(1);
    expect(r.opts?.target?.name).toBe('KUBE-SEP-Y');
    expect(r.opts?.comment).toBe('a b');
  });
});
