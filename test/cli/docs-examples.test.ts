import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runner } from '../../src/exec/runner.js';
import { describeAllowList } from '../../src/exec/allowlist.js';
import { NODE_PROBES, netnsProbes, tcFilterProbes } from '../../src/collect/probes.js';
import { runCli } from '../helpers/cli.js';

/*
 * Every command example of docs/*.md that runs on a bundled snapshot is run here, as written, from the repository
 * root. The conventions the docs follow (docs/development.md, "Documentation"):
 * - a line `node bin/netpath.js …` or `netpath …` in a fenced block, or such an inline code span, that names a
 *   `fixtures/snapshots/` path is an example; a pipe or redirection ends its netpath part;
 * - it must exit 0, or N when its comment says `# exit N`;
 * - a fenced line `$ command` is followed by its output, up to the next `$ ` line or the end of the block, and
 *   that output must be exactly what netpath prints; with `# ↳ … left out` the evidence lines are left out of it,
 *   with `# excerpt` the lines shown must appear in the output, in order;
 * - a fenced block right after "Excerpt of `command`:" holds lines of that command's output, in order (`…` skips).
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const docsDir = join(root, 'docs');
const docs = readdirSync(docsDir)
  .filter((n) => n.endsWith('.md'))
  .map((n) => ({ name: `docs/${n}`, text: readFileSync(join(docsDir, n), 'utf8') }));
const doc = (name: string) => docs.find((d) => d.name === name)!.text;

interface Example {
  where: string;
  line: string;
  argv: string[];
  exit: number;
  output?: string[];
  /** how `output` compares: exactly, without the `↳` evidence lines, or as lines in order */
  match: 'exact' | 'no-evidence' | 'in-order';
}

/** Shell words of a command line: quotes honoured; a comment, pipe or redirection ends it. */
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
    } else if (ch === '#' || ch === '|' || ch === '>' || ch === '<') break;
    else {
      cur += ch;
      started = true;
    }
  }
  if (started) out.push(cur);
  return out;
}

function example(where: string, line: string, output?: string[]): Example | undefined {
  if (!/^(node bin\/netpath\.js|netpath) /.test(line) || !line.includes('fixtures/snapshots/')) return undefined;
  const w = words(line);
  const comment = /\s#\s(.*)$/.exec(line)?.[1] ?? '';
  const exit = /\bexit (\d+)\b/.exec(comment);
  const match = /↳[^#]*left out/.test(comment) ? 'no-evidence' : /\bexcerpt\b/.test(comment) ? 'in-order' : 'exact';
  return { where, line, argv: w.slice(w[0] === 'node' ? 2 : 1), exit: exit ? Number(exit[1]) : 0, output, match };
}

function examples(): Example[] {
  const out: Example[] = [];
  for (const d of docs) {
    const fences = [...d.text.matchAll(/^```[^\n]*\n([\s\S]*?)^```$/gm)];
    for (const f of fences) {
      const lines = f[1]!.replace(/\n$/, '').split('\n');
      for (let i = 0; i < lines.length; i++) {
        const l = lines[i]!;
        if (l.startsWith('$ ')) {
          let j = i + 1;
          while (j < lines.length && !lines[j]!.startsWith('$ ')) j++;
          const e = example(d.name, l.slice(2), lines.slice(i + 1, j));
          if (e) out.push(e);
          i = j - 1;
        } else {
          const e = example(d.name, l);
          if (e) out.push(e);
        }
      }
    }
    const prose = d.text.replace(/^```[\s\S]*?^```$/gm, '');
    for (const m of prose.matchAll(/`((?:node bin\/netpath\.js|netpath) [^`]+)`/g)) {
      const e = example(d.name, m[1]!);
      if (e) out.push(e);
    }
  }
  return out;
}

const noKubectl: Runner = async () => {
  throw new Error('a docs example must not need kubectl');
};

describe('docs examples', () => {
  const all = examples();

  it('finds the examples of every page that has them', () => {
    expect(all.length).toBeGreaterThanOrEqual(15);
    for (const page of ['docs/usage.md', 'docs/services.md', 'docs/migrating-from-kube-proxy.md', 'docs/pictures.md'])
      expect(
        all.some((e) => e.where === page),
        page,
      ).toBe(true);
    expect(all.filter((e) => e.output).length).toBeGreaterThanOrEqual(4);
  });

  it('run as written on the bundled snapshots, exit as documented and print what is shown', async () => {
    for (const e of all) {
      const r = await runCli(e.argv, { kubectl: noKubectl });
      const what = `${e.where}: ${e.line}\n${r.err}`;
      expect(r.code, what).toBe(e.exit);
      expect(r.err.startsWith('netpath: ') && !r.err.startsWith('netpath: warning'), what).toBe(false);
      if (!e.output) continue;
      const got = r.out.trimEnd().split('\n');
      if (e.match === 'exact') expect(got, what).toEqual(e.output);
      else if (e.match === 'no-evidence')
        expect(
          got.filter((l) => !/^\s+↳ /.test(l)),
          what,
        ).toEqual(e.output);
      else expect(inOrder(got, e.output), what).toBe(true);
    }
  });

  it('an "Excerpt of `command`" block holds lines of its output, in order', async () => {
    let n = 0;
    for (const d of docs)
      for (const m of d.text.matchAll(/Excerpt of `([^`]+)`:\n\n```\n([\s\S]*?)\n```/g)) {
        const e = example(d.name, m[1]!)!;
        const shown = m[2]!.split('\n').filter((l) => l.trim() !== '…');
        const r = await runCli(e.argv);
        expect(inOrder(r.out.split('\n'), shown), `${d.name}: ${m[1]}`).toBe(true);
        n++;
      }
    expect(n).toBeGreaterThanOrEqual(1);
  });
});

/** Whether every line of `shown` occurs in `got`, in this order. */
function inOrder(got: string[], shown: string[]): boolean {
  let i = 0;
  for (const l of shown) {
    while (i < got.length && got[i] !== l) i++;
    if (i === got.length) return false;
    i++;
  }
  return true;
}

describe('docs/pictures.md', () => {
  const text = doc('docs/pictures.md');
  const commands = /^# Pictures[\s\S]*?```\n([\s\S]*?)\n```/m.exec(text)![1]!.split('\n');

  it('shows the real mermaid output of its first picture command', async () => {
    const block = /The first command prints this[^\n]*\n\n```mermaid\n([\s\S]*?)\n```/.exec(text);
    expect(block, 'mermaid block').not.toBeNull();
    const { code, out } = await runCli(words(commands[0]!).slice(2));
    expect(code).toBe(0);
    expect(out.trimEnd()).toBe(block![1]);
  });

  it('ships the SVG its third command draws', async () => {
    expect(commands[2]).toMatch(/-o svg > journey\.svg$/);
    const { code, out } = await runCli(words(commands[2]!).slice(2));
    expect(code).toBe(0);
    expect(readFileSync(join(docsDir, 'pictures/journey-v6-wg.svg'), 'utf8')).toBe(out);
  });
});

describe('docs/safety.md', () => {
  it('lists exactly the allow-list netpath enforces', () => {
    const block = /The commands netpath may run[^\n]*\n\n```\n([\s\S]*?)\n```/.exec(doc('docs/safety.md'));
    expect(block).not.toBeNull();
    expect(block![1]!.split('\n')).toEqual(describeAllowList());
  });
});

describe('docs/snapshot.md', () => {
  it('names the file of every probe netpath captures', () => {
    const table = /^\| file \| live command \|\n((?:\|[^\n]*\n)+)/m.exec(doc('docs/snapshot.md'));
    expect(table, 'the file table').not.toBeNull();
    const names = new Set([...table![1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\.(json|txt)$/, '')));
    const ids = [...NODE_PROBES, ...netnsProbes('<name>'), ...tcFilterProbes('<dev>')].map((p) =>
      p.id.startsWith('bpf-map/') ? 'bpf-map/<map>' : p.id.replace(/\.(ingress|egress)$/, '.<ingress\\|egress>'),
    );
    for (const id of ids) expect([...names], id).toContain(id);
  });
});

describe('docs/usage.md', () => {
  const usage = doc('docs/usage.md');
  /** The long options of a help text's own "Options:" section (not the global ones). */
  const options = (help: string) => {
    const sec = /\nOptions:\n([\s\S]*?)(?:\n\n|$)/.exec(help)?.[1] ?? '';
    return [...sec.matchAll(/^ {2}(?:-\w, )?(--[a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((o) => o !== '--help');
  };
  const subcommands = (help: string) =>
    [...(/\nCommands:\n([\s\S]*?)(?:\n\n|$)/.exec(help)?.[1] ?? '').matchAll(/^ {2}([a-z][a-z-]*)/gm)]
      .map((m) => m[1]!)
      .filter((c) => c !== 'help');

  it('documents every command, and every option each --help lists, under that command', async () => {
    const root = (await runCli(['--help'])).out;
    for (const o of options(root)) expect(usage, `global ${o}`).toContain(o);
    const leaves: string[][] = [];
    const walk = async (path: string[]) => {
      const help = (await runCli([...path, '--help'])).out;
      const subs = subcommands(help);
      if (subs.length === 0) leaves.push(path);
      for (const s of subs) await walk([...path, s]);
    };
    for (const c of subcommands(root)) await walk([c]);
    expect(leaves.length).toBeGreaterThanOrEqual(7);
    for (const path of leaves) {
      const name = path.join(' ');
      expect(usage, name).toContain(`netpath ${name}`);
      const opts = options((await runCli([...path, '--help'])).out);
      if (opts.length === 0) continue;
      const section = new RegExp(`^### \`${name}[ \`][^\\n]*\\n([\\s\\S]*?)(?=^##)`, 'm').exec(usage);
      expect(section, `a "### \`${name}" section`).not.toBeNull();
      for (const o of opts) expect(section![1], `${name} ${o}`).toMatch(new RegExp(`${o}(?![a-z-])`));
    }
  });
});
