import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isAllowed } from '../../src/exec/allowlist.js';
import {
  MAX_TC_BATCH_LINES,
  splitTcBatch,
  TC_BATCH_ARGV,
  tcBatchInput,
  tcFilterLine,
} from '../../src/exec/tc-batch-input.js';
import { seeded } from '../helpers/seeded.js';

// fixtures/tools/tc/batch: one run of its capture.sh (iproute2 6.1.0)
const fx = (f: string) => readFileSync(new URL(`../../fixtures/tools/tc/batch/${f}`, import.meta.url), 'utf8');
const cleanLines = fx('clean.batch').split('\n').filter(Boolean);
const clean = { exitCode: Number(fx('clean.rc')), stdout: fx('clean.stdout'), stderr: fx('clean.stderr') };
const failed = { exitCode: Number(fx('failed.rc')), stdout: fx('failed.stdout'), stderr: fx('failed.stderr') };
// each command run alone printed one line: its output
const single = fx('single.stdout')
  .split('\n')
  .filter(Boolean)
  .map((l) => `${l}\n`);

describe('tc -j -force -batch - (the per-device filter probes as one process)', () => {
  it('builds and accepts only `filter show dev DEV ingress|egress` lines', () => {
    expect(tcFilterLine('lxc0a1b', 'ingress')).toBe('filter show dev lxc0a1b ingress');
    expect(tcBatchInput(cleanLines)).toBe(fx('clean.batch'));
    expect(isAllowed(TC_BATCH_ARGV, fx('clean.batch'))).toBe(true);
    for (const bad of [
      'filter add dev lxc0a1b ingress bpf da obj x.o',
      'filter del dev lxc0a1b ingress',
      'qdisc del dev lxc0a1b clsact',
      'filter show dev lxc0a1b ingress prio 1',
      'filter show dev lxc0a1b',
      'filter show dev lxc0a1b root',
      'filter show dev "lxc0a1b" ingress',
      'filter show dev lxc#0 ingress',
      'filter show dev -force ingress',
      'filter show dev a/b ingress',
      'filter show dev averyveryverylongname ingress',
      ' filter show dev lxc0a1b ingress',
      'filter  show dev lxc0a1b ingress',
      'filter show dev lxc0a1b ingress\r',
      '',
    ]) {
      expect(tcBatchInput([bad]), bad).toBeNull();
      expect(isAllowed(TC_BATCH_ARGV, `${cleanLines[0]}\n${bad}\n`), bad).toBe(false);
      expect(() => tcFilterLine(bad, 'ingress')).toThrow();
    }
    expect(tcBatchInput([])).toBeNull();
    expect(tcBatchInput(Array(MAX_TC_BATCH_LINES + 1).fill(cleanLines[0]))).toBeNull();
    expect(tcBatchInput(Array(MAX_TC_BATCH_LINES).fill(cleanLines[0]))).not.toBeNull();
    // the batch is fed its lines, nothing else: no stdin, stdin without its final newline, other argv
    expect(isAllowed(TC_BATCH_ARGV)).toBe(false);
    expect(isAllowed(TC_BATCH_ARGV, fx('clean.batch').trimEnd())).toBe(false);
    expect(isAllowed(['tc', '-force', '-batch', '-'], fx('clean.batch'))).toBe(false);
    expect(isAllowed(['tc', '-j', '-batch', '-'], fx('clean.batch'))).toBe(false);
    expect(isAllowed(['tc', '-j', '-force', '-batch', '/etc/x'])).toBe(false);
    // route get lines are the ip batch's, not tc's, and the other way round
    expect(isAllowed(TC_BATCH_ARGV, 'route get 10.0.0.1\n')).toBe(false);
    expect(isAllowed(['ip', '-d', '-j', '-force', '-batch', '-'], fx('clean.batch'))).toBe(false);
  });

  it('splits a clean batch back into what each command prints alone, byte for byte', () => {
    expect(clean.exitCode).toBe(0);
    expect(single).toHaveLength(cleanLines.length);
    expect(splitTcBatch(cleanLines.length, clean)).toEqual(single);
  });

  it('does not split a batch in which a command failed, or output that does not pair with the lines', () => {
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr).toMatch(/Command failed -:4/);
    expect(splitTcBatch(cleanLines.length + 1, failed)).toBeUndefined();
    // the same stdout without the exit code and stderr: the line count no longer pairs with the commands
    expect(splitTcBatch(cleanLines.length + 1, { ...failed, exitCode: 0, stderr: '' })).toBeUndefined();
    expect(splitTcBatch(cleanLines.length - 1, clean)).toBeUndefined();
    expect(splitTcBatch(cleanLines.length, { ...clean, stderr: 'Warning\n' })).toBeUndefined();
    expect(splitTcBatch(cleanLines.length, { ...clean, failed: 'timeout' })).toBeUndefined();
    // a dump that failed midway leaves its array unclosed: the next command's array follows on its line
    const lines = clean.stdout.split('\n');
    const cut = lines[0]!.slice(0, lines[0]!.lastIndexOf(','));
    const unclosed = [cut + lines[1], ...lines.slice(2)].join('\n');
    expect(splitTcBatch(cleanLines.length - 1, { ...clean, stdout: unclosed })).toBeUndefined();
  });

  it('on mutated output (seeded): splits into exactly the commands’ outputs, or not at all', () => {
    const { int } = seeded(20261207);
    let split = 0;
    for (let k = 0; k < 3000; k++) {
      let s = clean.stdout;
      const op = int(4);
      const at = int(s.length);
      if (op === 0) s = s.slice(0, at) + s.slice(at + 1 + int(40));
      else if (op === 1) s = s.slice(0, at) + s[int(s.length)] + s.slice(at);
      else if (op === 2) s = s.slice(0, at);
      else s = s.slice(0, at) + '\n' + s.slice(at);
      const got = splitTcBatch(cleanLines.length, { ...clean, stdout: s });
      if (got === undefined) continue;
      split++;
      // accepted only when each part is a whole JSON array on its line, the parts joined are the output
      expect(got.join('')).toBe(s);
      for (const p of got) expect(Array.isArray(JSON.parse(p))).toBe(true);
      if (s === clean.stdout) expect(got).toEqual(single);
    }
    expect(split).toBeGreaterThan(0);
  });
});
