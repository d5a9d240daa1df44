import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { cliSpec } from '../../src/cli.js';
import { allCommands } from '../../src/render/cli-spec.js';
import type { Runner } from '../../src/exec/runner.js';
import { replayRunner } from '../helpers/replay.js';
import { runCli } from '../helpers/cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'np-help-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const run = runCli;

/** Shell words of one example line: quotes honoured; a comment, pipe or redirection ends the netpath part. */
function words(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q: string | null = null;
  let started = false;
  for (const ch of line) {
    if (q) {
      if (ch === q) q = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      q = ch;
      started = true;
    } else if (/\s/.test(ch)) {
      if (started) out.push(cur);
      cur = '';
      started = false;
    } else if (ch === '#' || ch === '|' || ch === '>' || ch === '<') {
      break;
    } else {
      cur += ch;
      started = true;
    }
  }
  if (started) out.push(cur);
  return out;
}

describe('--help examples', () => {
  const commands = allCommands(cliSpec()).filter((c) => c.subcommands.length === 0);

  it('every command has examples in its --help', async () => {
    for (const c of commands) {
      const h = await run([...c.path, '--help']);
      expect(h.code).toBe(0);
      expect(h.out, c.path.join(' ')).toMatch(/\nExamples[^\n]*:\n {2}netpath /);
    }
  });

  it('each example, run from the repository root on the bundled snapshots, exits 0 or 1 (never 2 or 3)', async () => {
    let ran = 0;
    for (const c of commands) {
      const help = (await run([...c.path, '--help'])).out;
      const block = /\nExamples[^\n]*:\n((?: {2}netpath [^\n]*\n?)+)/.exec(help)![1]!;
      for (const line of block.split('\n').filter(Boolean)) {
        const argv = words(line.trim()).slice(1);
        // snapshot examples capture a node: replay the probes of a bundled snapshot, write into a temp dir
        const live = replayRunner(join(root, 'fixtures/snapshots/kind-v4/k1'));
        const o = argv.indexOf('-o');
        if (argv[0] === 'snapshot' && o >= 0) argv[o + 1] = join(work, `${ran}-${argv[o + 1]!.replace(/\//g, '_')}`);
        const noKubectl: Runner = async () => {
          throw new Error(`example ${line} needs kubectl`);
        };
        const r = await run(argv, { liveRunner: () => live, runner: async () => live, kubectl: noKubectl });
        expect([0, 1], `${line}\n${r.err}`).toContain(r.code);
        expect(r.out.length, line).toBeGreaterThan(0);
        ran++;
      }
    }
    expect(ran).toBeGreaterThanOrEqual(15);
  });
});

describe('netpath man', () => {
  it('is a man(7) page with every command, its options and examples, and the exit codes', async () => {
    const r = await run(['man']);
    expect(r.code).toBe(0);
    const page = r.out;
    expect(page).toMatch(/^\.TH NETPATH 1 /);
    for (const sec of [
      'NAME',
      'SYNOPSIS',
      'DESCRIPTION',
      'OPTIONS',
      'COMMANDS',
      '"EXIT STATUS"',
      'ENVIRONMENT',
      '"SEE ALSO"',
    ])
      expect(page).toContain(`\n.SH ${sec}\n`);
    for (const c of allCommands(cliSpec()).filter((x) => x.subcommands.length === 0)) {
      expect(page).toContain(`.SS "netpath ${c.path.join(' ')}"`);
      for (const o of c.options) expect(page).toContain(o.long.replace(/-/g, '\\-'));
    }
    // no text line that roff would take as a request
    const body = page.split('\n').filter((l) => !/^\.(TH|SH|SS|TP|PP|RS|RE|nf|fi|br)\b/.test(l));
    expect(body.filter((l) => /^[.']/.test(l))).toEqual([]);
    expect(page).not.toMatch(/[^\x00-\x7f]/);
  });

  const groff = spawnSync('groff', ['--version'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!groff)(
    `groff formats it without a warning, and man -l shows it${groff ? '' : ' (skipped: groff not installed)'}`,
    async () => {
      const file = join(work, 'netpath.1');
      writeFileSync(file, (await run(['man'])).out);
      const g = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', file], { encoding: 'utf8' });
      expect(g.stderr).toBe('');
      expect(g.status).toBe(0);
      const m = spawnSync('man', ['-l', file], {
        encoding: 'utf8',
        env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '100' },
      });
      if (m.error === undefined && m.status === 0) {
        expect(m.stderr).toBe('');
        expect(m.stdout).toMatch(/NETPATH\(1\)/);
        expect(m.stdout).toMatch(/EXIT STATUS/);
        expect(m.stdout).toContain('netpath trace 10.244.1.12 10.244.2.7 --port 8080 -s fixtures/snapshots/kind-v4/k1');
      }
    },
  );
});
