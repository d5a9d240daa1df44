import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The layers of src/ (docs/architecture.md draws them). A file may import its own layer and any layer of a higher
// rank number; layers of the same rank are peers and may not import each other. Type-only imports count too:
// a type two layers share belongs in model/.
const LAYERS: { name: string; rank: number; paths: string[] }[] = [
  { name: 'entry', rank: 0, paths: ['main.ts', 'cli-loader.ts'] },
  { name: 'cli', rank: 1, paths: ['cli.ts', 'cli/'] },
  { name: 'commands', rank: 2, paths: ['commands/'] },
  { name: 'render', rank: 3, paths: ['render/'] },
  { name: 'analysis', rank: 3, paths: ['analysis/'] },
  { name: 'collect', rank: 4, paths: ['collect/'] },
  { name: 'redact', rank: 4, paths: ['redact/'] },
  { name: 'tools', rank: 5, paths: ['tools/'] },
  { name: 'exec', rank: 5, paths: ['exec/'] },
  { name: 'model', rank: 6, paths: ['model/', 'errors.ts', 'build-info.ts'] },
];

const root = fileURLToPath(new URL('../..', import.meta.url));
const src = join(root, 'src');

/** The layer of a path relative to src/ (`render/journey.ts`), or undefined when no layer claims it. */
function layerOf(rel: string): (typeof LAYERS)[number] | undefined {
  const p = rel.split(sep).join('/');
  return LAYERS.find((l) => l.paths.some((x) => (x.endsWith('/') ? p.startsWith(x) : p === x)));
}

interface Edge {
  from: string;
  to: string;
  line: number;
}

/** Every edge that breaks the layering, as `from:line → to (layer → layer)`. */
function upward(edges: Edge[]): string[] {
  const out: string[] = [];
  for (const e of edges) {
    const a = layerOf(e.from);
    const b = layerOf(e.to);
    if (!a || !b || a.name === b.name || b.rank > a.rank) continue;
    out.push(
      `src/${e.from}:${e.line} imports src/${e.to}: ${a.name} may not import ${b.name}` +
        (a.rank === b.rank ? ' (peers)' : ' (it points up)'),
    );
  }
  return out;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sources(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

/** Imports of src/ files by src/ files: static, `export … from`, dynamic `import()` and `import('…').Type`. */
function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of sources(src)) {
    const text = readFileSync(file, 'utf8');
    for (const imp of ts.preProcessFile(text, true, true).importedFiles) {
      if (!imp.fileName.startsWith('.')) continue;
      const target = resolve(dirname(file), imp.fileName).replace(/\.js$/, '.ts');
      out.push({
        from: relative(src, file),
        to: relative(src, target),
        line: text.slice(0, imp.pos).split('\n').length,
      });
    }
  }
  return out;
}

describe('layers: cli → commands → (render, analysis) → collect → tools → model', () => {
  const all = edges();

  it('reads the imports (the parse finds known edges)', () => {
    expect(all.length).toBeGreaterThan(300);
    expect(all).toContainEqual(expect.objectContaining({ from: 'main.ts', to: 'cli.ts' }));
    expect(all.some((e) => e.from.startsWith('commands') && e.to.startsWith('analysis'))).toBe(true);
  });

  it('every file of src/ belongs to a layer', () => {
    const lost = sources(src)
      .map((f) => relative(src, f))
      .filter((f) => !layerOf(f));
    expect(lost, 'add these to LAYERS in test/architecture/layers.test.ts and docs/architecture.md').toEqual([]);
  });

  it('every import points down (or stays in its layer)', () => {
    const bad = upward(all);
    if (bad.length) console.error(`imports against the layering:\n  ${bad.join('\n  ')}`);
    expect(bad).toEqual([]);
  });

  it('flags an import that points up, and one between peers', () => {
    expect(
      upward([
        { from: 'render/journey.ts', to: 'commands/trace-cluster.ts', line: 1 },
        { from: 'analysis/trace.ts', to: 'render/text.ts', line: 2 },
        { from: 'tools/ip/index.ts', to: 'model/types.ts', line: 3 },
        { from: 'cli/trace.ts', to: 'cli/options.ts', line: 4 },
      ]),
    ).toEqual([
      'src/render/journey.ts:1 imports src/commands/trace-cluster.ts: render may not import commands (it points up)',
      'src/analysis/trace.ts:2 imports src/render/text.ts: analysis may not import render (peers)',
    ]);
  });
});
