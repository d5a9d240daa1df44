import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isAllowed } from '../../src/exec/allowlist.js';
import {
  IP_PROBE_BATCH,
  IP_PROBE_BATCH_ARGV,
  IP_PROBE_BATCH_INPUT,
  splitIpProbeBatch,
} from '../../src/exec/ip-batch-input.js';
import { NODE_PROBES } from '../../src/collect/probes.js';

// fixtures/tools/ip/batch: one run of its capture.sh (iproute2 6.1.0): the batch, and the four commands run alone
// and concatenated, in a namespace with IPv6 rules too; `nonetns.*` where /run/netns does not exist
const fx = (f: string) => readFileSync(new URL(`../../fixtures/tools/ip/batch/${f}`, import.meta.url), 'utf8');
const run = (name: string) => ({
  exitCode: Number(fx(`${name}.rc`)),
  stdout: fx(`${name}.stdout`),
  stderr: fx(`${name}.stderr`),
});
const lines = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => `${l}\n`);

describe('ip -j -force -batch - (four node probes as one process)', () => {
  it('is fed the fixture batch text, exactly, and nothing else', () => {
    expect(IP_PROBE_BATCH_INPUT).toBe(fx('probes.batch'));
    expect(isAllowed(IP_PROBE_BATCH_ARGV, IP_PROBE_BATCH_INPUT)).toBe(true);
    for (const bad of [
      undefined,
      '',
      IP_PROBE_BATCH_INPUT.trimEnd(),
      `${IP_PROBE_BATCH_INPUT}link set eth0 down\n`,
      'addr show\nrule show\nneigh show\n',
      'rule show\naddr show\nneigh show\nnetns list\n',
      IP_PROBE_BATCH_INPUT.replace('rule show', 'rule flush'),
      IP_PROBE_BATCH_INPUT.replace('addr show', 'addr flush dev eth0'),
      IP_PROBE_BATCH_INPUT.replace('netns list', 'netns add x'),
      // the route get batch's lines are not this batch's, and the other way round
      'route get 10.0.0.1\n',
    ])
      expect(isAllowed(IP_PROBE_BATCH_ARGV, bad), JSON.stringify(bad)).toBe(false);
    expect(isAllowed(['ip', '-d', '-j', '-force', '-batch', '-'], IP_PROBE_BATCH_INPUT)).toBe(false);
    expect(isAllowed(['ip', '-j', '-batch', '-'], IP_PROBE_BATCH_INPUT)).toBe(false);
    expect(isAllowed(['ip', '-j', '-force', '-batch', '/etc/x'])).toBe(false);
    expect(isAllowed(['tc', '-j', '-force', '-batch', '-'], IP_PROBE_BATCH_INPUT)).toBe(false);
  });

  it('batches the node probes as they are: same ids and argv as NODE_PROBES', () => {
    for (const b of IP_PROBE_BATCH) expect(NODE_PROBES.find((p) => p.id === b.id)?.argv).toEqual(b.argv);
  });

  it('splits a clean run into what each command prints alone', () => {
    expect(run('clean').exitCode).toBe(0);
    expect(splitIpProbeBatch(run('clean'))).toEqual(lines(fx('single.stdout')));
    // rule show in the batch is IPv4's: the fixture namespace has IPv6 rules, and none is there
    const rules = JSON.parse(splitIpProbeBatch(run('clean'))![1]!) as { src?: string }[];
    expect(rules.map((r) => r.src)).toContain('10.1.0.0');
    expect(rules.some((r) => r.src?.includes(':'))).toBe(false);
    expect(fx('single.stdout')).toContain('2001:db8:1::7');
  });

  it('without /run/netns, netns list printed nothing: three lines, the fourth part empty', () => {
    const parts = splitIpProbeBatch(run('nonetns'));
    expect(parts).toHaveLength(4);
    expect(parts!.join('')).toBe(fx('nonetns-single.stdout'));
    expect(parts![3]).toBe('');
  });

  it('does not split output it cannot vouch for (each probe then runs alone)', () => {
    const clean = run('clean');
    const ls = lines(clean.stdout);
    for (const bad of [
      { ...clean, exitCode: 1 },
      { ...clean, stderr: 'Command failed -:2\n' },
      { ...clean, failed: 'timeout' },
      { ...clean, stdout: clean.stdout.slice(0, -1) },
      // two commands printed nothing: which two is not known
      { ...clean, stdout: ls.slice(0, 2).join('') },
      { ...clean, stdout: [...ls, ls[0]].join('') },
      // a dump that stopped midway leaves its array unclosed
      { ...clean, stdout: [ls[0], ls[1]!.slice(0, 40), '\n', ls[2], ls[3]].join('') },
      { ...clean, stdout: [ls[0], 'Error: x\n', ls[2], ls[3]].join('') },
      { ...clean, stdout: [ls[0], '{}\n', ls[2], ls[3]].join('') },
    ])
      expect(splitIpProbeBatch(bad), JSON.stringify(bad).slice(0, 80)).toBeUndefined();
  });
});
