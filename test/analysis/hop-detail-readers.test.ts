import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

// A hop's `detail` is display text: consumers read the typed fields of the hop's kind. This scans src/ with
// the type checker (so `h['detail']`, `const { detail } = h` or an alias of the hop are seen as what they
// are) for every read of the `detail` of a hop (model/trace.ts) or of a diff path hop (model/diff.ts), and
// fails on one outside the text renderers. Even there the text is only shown whole: a read that is parsed
// (`.startsWith`, `.replace`, a regex `exec`/`test`, `split`, …) fails everywhere.

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Files, or functions of a file, that may show a hop's display text. */
const ALLOWED: Record<string, '*' | string[]> = {
  // the text and table renderers print it
  'src/render/text.ts': '*',
  'src/render/table.ts': '*',
  'src/render/diff.ts': '*',
  // the diagrams show it in a node's tooltip, and as the body of a stack, conntrack or masquerade box
  'src/render/diagram/model.ts': ['tooltipOf', 'hopNode'],
  'src/render/diagram/diff.ts': ['tooltip'],
  // display text copied whole into other display text: explain's `why`, a backend's `paths[].summary`,
  // a diff path hop's `detail`
  'src/analysis/explain.ts': ['quote'],
  'src/analysis/trace-service.ts': ['summaryOf'],
  'src/analysis/diff-paths.ts': ['pathHop'],
};

const PARSE = new Set(['exec', 'test', 'match', 'matchAll', 'search', 'split', 'replace', 'replaceAll']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sources(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

function program(extra: Record<string, string> = {}): ts.Program {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  const exists = host.fileExists.bind(host);
  host.readFile = (f) => extra[f] ?? read(f);
  host.fileExists = (f) => f in extra || exists(f);
  const getSource = host.getSourceFile.bind(host);
  host.getSourceFile = (f, lang, ...rest) =>
    f in extra ? ts.createSourceFile(f, extra[f]!, lang) : getSource(f, lang, ...rest);
  return ts.createProgram([...sources(join(root, 'src')), ...Object.keys(extra)], options, host);
}

const HOP_MODELS = [join(root, 'src/model/trace.ts'), join(root, 'src/model/diff.ts')];

function isHopDetail(sym: ts.Symbol | undefined): boolean {
  return (sym?.declarations ?? []).some((d) => HOP_MODELS.includes(d.getSourceFile().fileName));
}

function enclosingFunction(n: ts.Node): string | undefined {
  for (let p: ts.Node | undefined = n.parent; p; p = p.parent) {
    if ((ts.isFunctionDeclaration(p) || ts.isMethodDeclaration(p)) && p.name) return p.name.getText();
    if (ts.isVariableDeclaration(p) && (ts.isArrowFunction(p.initializer!) || ts.isFunctionExpression(p.initializer!)))
      return p.name.getText();
  }
  return undefined;
}

/** Whether the value read at `n` is taken apart rather than shown whole. */
function parsed(n: ts.Expression): boolean {
  const p = n.parent;
  if (ts.isPropertyAccessExpression(p) && p.expression === n) return true;
  if (ts.isElementAccessExpression(p) && p.expression === n) return true;
  if (ts.isCallExpression(p) && p.arguments.includes(n) && ts.isPropertyAccessExpression(p.expression))
    return PARSE.has(p.expression.name.text);
  if (ts.isBinaryExpression(p) && p.left === n && p.operatorToken.kind === ts.SyntaxKind.PlusEqualsToken) return true;
  if (ts.isBinaryExpression(p) && /^(==|===|!=|!==|<|>|<=|>=)$/.test(p.operatorToken.getText())) return true;
  return false;
}

interface Finding {
  file: string;
  line: number;
  fn: string | undefined;
  text: string;
  parsed: boolean;
}

function scan(prog: ts.Program, only?: string[]): Finding[] {
  const checker = prog.getTypeChecker();
  const out: Finding[] = [];
  for (const sf of prog.getSourceFiles()) {
    if (sf.isDeclarationFile || (only ? !only.includes(sf.fileName) : !sf.fileName.startsWith(join(root, 'src'))))
      continue;
    const add = (n: ts.Node, isParsed: boolean) =>
      out.push({
        file: relative(root, sf.fileName),
        line: sf.getLineAndCharacterOfPosition(n.getStart()).line + 1,
        fn: enclosingFunction(n),
        text: n.getText(),
        parsed: isParsed,
      });
    const visit = (n: ts.Node): void => {
      if (ts.isPropertyAccessExpression(n) && n.name.text === 'detail') {
        const write =
          ts.isBinaryExpression(n.parent) &&
          n.parent.left === n &&
          n.parent.operatorToken.kind === ts.SyntaxKind.EqualsToken;
        if (!write && isHopDetail(checker.getSymbolAtLocation(n.name))) add(n, parsed(n));
      } else if (ts.isElementAccessExpression(n)) {
        const key = checker.getTypeAtLocation(n.argumentExpression);
        if (key.isStringLiteral() && key.value === 'detail') {
          const sym = checker.getTypeAtLocation(n.expression).getProperty('detail');
          if (isHopDetail(sym)) add(n, parsed(n));
        }
      } else if (ts.isBindingElement(n) && ts.isObjectBindingPattern(n.parent)) {
        const name = (n.propertyName ?? n.name).getText().replace(/^['"]|['"]$/g, '');
        if (name === 'detail') {
          const sym = checker.getTypeAtLocation(n.parent).getProperty('detail');
          if (isHopDetail(sym)) add(n, false);
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out;
}

function violations(findings: Finding[]): string[] {
  return findings
    .filter((f) => {
      if (f.parsed) return true;
      const allow = ALLOWED[f.file];
      return !(allow === '*' || (allow && f.fn !== undefined && allow.includes(f.fn)));
    })
    .map((f) => `${f.file}:${f.line} (${f.fn ?? 'top level'}): ${f.text}${f.parsed ? ' is parsed' : ''}`);
}

describe("a hop's detail is display text only", () => {
  const prog = program({
    [join(root, 'src/analysis/__probe__.ts')]: `
      import type { Hop, Trace } from '../model/trace.js';
      import type { PathHop } from '../model/diff.js';
      export function a(h: Hop) { return h['detail']; }
      export function b(t: Trace) { const { detail: d } = t.hops[0]!; return d; }
      export function c(h: Hop) { const k = 'detail' as const; const x = h; return x[k]; }
      export function d(h: PathHop) { return h.detail; }
      export function e(h: Hop) { h.detail = 'written, not read'; return h.kind; }
      export function f(e: { detail: string }) { return e.detail; }
    `,
    [join(root, 'src/render/__probe__.ts')]: `
      import type { Hop } from '../model/trace.js';
      export function g(h: Hop) { return h.detail.startsWith('FIB'); }
      export function i(h: Hop) { return /x/.test(h.detail); }
    `,
  });

  it('the scan sees renamed, destructured, aliased and parsed reads, and only those of hops', () => {
    const probe = [join(root, 'src/analysis/__probe__.ts'), join(root, 'src/render/__probe__.ts')];
    expect(violations(scan(prog, probe)).map((v) => v.replace(/ \(.*$/, ''))).toEqual([
      'src/analysis/__probe__.ts:4',
      'src/analysis/__probe__.ts:5',
      'src/analysis/__probe__.ts:6',
      'src/analysis/__probe__.ts:7',
      'src/render/__probe__.ts:3',
      'src/render/__probe__.ts:4',
    ]);
  });

  it('no code outside the text renderers reads it, and nothing parses it', () => {
    const findings = scan(prog).filter((f) => !f.file.endsWith('__probe__.ts'));
    expect(violations(findings)).toEqual([]);
    // the allow-list is not stale: every entry still shows the text somewhere
    for (const [file, fns] of Object.entries(ALLOWED))
      for (const fn of fns === '*' ? [undefined] : fns)
        expect(
          findings.some((f) => f.file === file && (fn === undefined || f.fn === fn)),
          `${file} ${fn ?? ''}`,
        ).toBe(true);
  });
});
