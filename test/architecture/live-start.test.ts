import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// A live trace starts its probes before it loads the trace command and the parsers (cli/trace.ts): the modules it
// loads first must not pull them in through a static import, or their loading (~40 ms of CPU on the bench: zod builds
// every schema as its module loads) runs before the first probe instead of while the probes run.

const src = join(fileURLToPath(new URL('../..', import.meta.url)), 'src');

/** What the live path loads before its first probe (cli/trace.ts: trace-defers, kernelRoutesEarly, sourceFor). */
const FIRST = ['collect/trace-defers.ts', 'model/addr.ts', 'collect/kernel-routes.ts', 'collect/live-source.ts'];

/** Modules imported at run time by a file: static imports and re-exports, not `import type` nor `import()`. */
function valueImports(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const out: string[] = [];
  for (const st of sf.statements) {
    let spec: ts.Expression | undefined;
    if (ts.isImportDeclaration(st)) {
      const c = st.importClause;
      const typeOnly =
        c?.isTypeOnly ||
        (c && !c.name && c.namedBindings && ts.isNamedImports(c.namedBindings)
          ? c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly)
          : false);
      if (!typeOnly) spec = st.moduleSpecifier;
    } else if (ts.isExportDeclaration(st) && !st.isTypeOnly) spec = st.moduleSpecifier;
    if (spec && ts.isStringLiteral(spec)) out.push(spec.text);
  }
  return out;
}

/** The files (relative to src/) and packages loaded with `files`, by static import. */
function closure(files: string[]): { files: Set<string>; packages: Set<string> } {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const todo = [...files];
  while (todo.length > 0) {
    const rel = todo.pop()!;
    if (seen.has(rel)) continue;
    seen.add(rel);
    const file = join(src, rel);
    for (const m of valueImports(file)) {
      if (!m.startsWith('.')) {
        if (!m.startsWith('node:')) packages.add(m);
        continue;
      }
      const target = resolve(dirname(file), m).replace(/\.js$/, '.ts');
      if (existsSync(target)) todo.push(relative(src, target));
    }
  }
  return { files: seen, packages };
}

describe('a live trace loads no parser before its first probe', () => {
  it('the modules it loads first import neither zod nor a parser, nor the trace command', () => {
    const { files, packages } = closure(FIRST);
    expect([...packages]).toEqual([]);
    const heavy = [...files].filter((f) => /^(tools\/ip\/|commands\/|analysis\/)|schema\.ts$|flow-plan\.ts$/.test(f));
    expect(heavy).toEqual([]);
  });

  it('finds what a static import brings in (the check can fail)', () => {
    // flow-plan.ts imports the ip parsers, and they import zod
    const { files, packages } = closure(['collect/flow-plan.ts']);
    expect(packages.has('zod')).toBe(true);
    expect(files.has('tools/ip/index.ts')).toBe(true);
    expect(valueImports(join(src, 'collect/kernel-routes.ts'))).not.toContain('../tools/ip/route-get.js');
  });
});

// A trace printed as text (a live trace's default) loads its renderer alone (render/output.ts T): the registry of
// every renderer builds the zod JSON contracts and the svc / node / check renderers as it loads (~50 ms of module
// start-up on the bench namespace, bench/RESULTS.md live9), none of which a text trace uses.
describe('a trace printed as text loads no JSON contract', () => {
  it('render/text.ts imports neither zod, nor render/json.ts, nor the renderers of other commands', () => {
    const { files, packages } = closure(['render/text.ts']);
    expect([...packages].filter((p) => p === 'zod' || p === 'cli-table3')).toEqual([]);
    expect([...files].filter((f) => /^render\/(json|svc|node|check|table|renderers)\.ts$/.test(f))).toEqual([]);
  });

  it('render/output.ts renders a text trace and its --quiet line from render/text.ts, not from the registry', () => {
    const text = readFileSync(join(src, 'render/output.ts'), 'utf8');
    expect(text).toMatch(/const T = \(\) => import\('\.\/text\.js'\);/);
    expect(text).toMatch(/trace: async \(t, o\) => \(await T\(\)\)\.renderTraceText\(t, o\),/);
    expect(text).toMatch(/trace: async \(t, o\) => `\$\{\(await T\(\)\)\.resultLine\(t, o\)\}\\n`,/);
    // the registry itself pulls zod in (the check can fail)
    expect(closure(['render/renderers.ts']).packages.has('zod')).toBe(true);
  });
});
