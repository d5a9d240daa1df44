/**
 * Line grammars of what netpath's mermaid and dot renderers may emit. A hostile name that escaped its quotes
 * would produce a line (or a token) these do not accept. The label decoders give back the text a viewer shows.
 */

const M_LABEL = String.raw`"(?:[^"%#<>&\x60|\\\n]|#\w+;|<br/>)*"`;
const M_ID = String.raw`(?:n\d+|g\d+|notes)`;
const MERMAID_LINES = [
  /^---$/,
  /^title: "(?:[^"\\%#`]|\\.)*"$/,
  /^flowchart TB$/,
  new RegExp(String.raw`^\s*subgraph g\d+\[${M_LABEL}\]$`),
  /^\s*direction TB$/,
  /^\s*end$/,
  new RegExp(String.raw`^\s*${M_ID}(?:\(\[|\[\[|\{\{|\[|\(|>)${M_LABEL}(?:\]\)|\]\]|\}\}|\]|\))$`),
  new RegExp(String.raw`^\s*${M_ID} (?:-->|-\.->|==>)(?:\|${M_LABEL}\|)? ${M_ID}$`),
  /^\s*linkStyle \d+ stroke:#[0-9a-f]{6},color:#[0-9a-f]{6}$/,
  /^\s*classDef \w+ [\w:#,.\- ]+$/,
  new RegExp(String.raw`^\s*class ${M_ID}(?:,${M_ID})* \w+$`),
  /^\s*style g\d+ [\w:#,.\- ]+$/,
  new RegExp(String.raw`^\s*click n\d+ callback ${M_LABEL}$`),
];

/** The lines that do not fit the grammar (empty when the output is well formed). */
export function badMermaidLines(src: string): string[] {
  return src
    .trimEnd()
    .split('\n')
    .filter((l) => !MERMAID_LINES.some((re) => re.test(l)));
}

const M_ENTITY: Record<string, string> = { quot: '"', amp: '&', lt: '<', gt: '>' };

/** The text mermaid shows for a quoted label: entity codes decoded, <br/> as a newline. */
export function decodeMermaidLabel(quoted: string): string {
  return quoted
    .slice(1, -1)
    .split('<br/>')
    .map((l) =>
      l.replace(/#(\w+);/g, (_, e: string) =>
        /^\d+$/.test(e) ? String.fromCodePoint(Number(e)) : (M_ENTITY[e] ?? `#${e};`),
      ),
    )
    .join('\n');
}

/** Node labels of a mermaid flowchart, by node id. */
export function mermaidNodeLabels(src: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = new RegExp(String.raw`^\s*(${M_ID})(?:\(\[|\[\[|\{\{|\[|\(|>)(${M_LABEL})`, 'gm');
  for (const m of src.matchAll(re)) out.set(m[1]!, decodeMermaidLabel(m[2]!));
  return out;
}

export interface DotToken {
  kind: 'id' | 'string' | 'punct';
  value: string;
}

/** Tokenises Graphviz source; throws on anything outside the DOT lexical grammar netpath uses. */
export function tokenizeDot(src: string): DotToken[] {
  const out: DotToken[] = [];
  const re = /\s+|"((?:[^"\\]|\\[\s\S])*)"|([A-Za-z_][\w]*|-?\d+(?:\.\d+)?)|(->|[{}[\];=,])/y;
  let i = 0;
  while (i < src.length) {
    re.lastIndex = i;
    const m = re.exec(src);
    if (!m) throw new Error(`unexpected ${JSON.stringify(src.slice(i, i + 20))} at ${i}`);
    if (m[1] !== undefined)
      out.push({ kind: 'string', value: m[1].replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c)) });
    else if (m[2] !== undefined) out.push({ kind: 'id', value: m[2] });
    else if (m[3] !== undefined) out.push({ kind: 'punct', value: m[3] });
    i = re.lastIndex;
  }
  let depth = 0;
  for (const t of out) {
    if (t.kind !== 'punct') continue;
    if (t.value === '{' || t.value === '[') depth++;
    if (t.value === '}' || t.value === ']') depth--;
    if (depth < 0) throw new Error('unbalanced brackets');
  }
  if (depth !== 0) throw new Error('unbalanced brackets');
  return out;
}

/** `id [label="…"` statements: node and cluster labels as a viewer shows them. */
export function dotNodeLabels(src: string): Map<string, string> {
  const t = tokenizeDot(src);
  const out = new Map<string, string>();
  for (let i = 0; i + 4 < t.length; i++) {
    if (
      t[i]!.kind === 'id' &&
      /^n\d+$/.test(t[i]!.value) &&
      t[i - 1]?.value !== '->' &&
      t[i + 1]!.value === '[' &&
      t[i + 2]!.value === 'label' &&
      t[i + 3]!.value === '=' &&
      t[i + 4]!.kind === 'string'
    )
      out.set(t[i]!.value, t[i + 4]!.value);
  }
  return out;
}
