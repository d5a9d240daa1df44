/**
 * Text from a snapshot (device, namespace, pod names, probe lines) is hostile until escaped. `clean` first
 * makes it plain printable text that every format can hold: no control characters (invalid in XML 1.0,
 * statement breaks in mermaid and dot), no lone surrogates or U+FFFE/U+FFFF (invalid in XML), no bidi
 * overrides (they would make a label read differently from what it holds).
 */
export function clean(s: string): string {
  return s
    .replace(/[\t\n\r]/g, ' ')
    .replace(/[\u0000-\u001f\u007f-\u009f\ufffe\uffff\u202a-\u202e\u2066-\u2069]/g, '\ufffd')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/** Multi-line text (lines separated by \n) cleaned line by line. */
export function cleanLines(s: string): string[] {
  return s.split('\n').map(clean);
}

// Mermaid decodes `#name;` / `#123;` entity codes inside labels; everything that could end the quoted string,
// start a directive (`%%{`), a markdown string (backtick) or HTML in the label becomes such a code.
const MERMAID: Record<string, string> = {
  '"': '#quot;',
  '#': '#35;',
  '%': '#37;',
  '&': '#amp;',
  '<': '#lt;',
  '>': '#gt;',
  '`': '#96;',
  '|': '#124;',
  '\\': '#92;',
};

/** One line of a mermaid label, for inside "…". */
export function mermaidLine(s: string): string {
  // mermaid pre-processes lines holding `style…:` or `classDef…:` (its own statements) before parsing
  return clean(s)
    .replace(/["#%&<>`|\\]/g, (c) => MERMAID[c]!)
    .replace(/style/g, '#115;tyle')
    .replace(/classDef/g, '#99;lassDef');
}

/** A quoted mermaid label; lines joined with <br/>. */
export function mermaidLabel(lines: string[]): string {
  return `"${lines.map(mermaidLine).join('<br/>')}"`;
}

/** A quoted Graphviz string (escString): backslashes and quotes escaped, lines joined with \n. */
export function dotString(lines: string[]): string {
  return `"${lines.map((l) => clean(l).replace(/\\/g, '\\\\').replace(/"/g, '\\"')).join('\\n')}"`;
}

/** XML character data. */
export function xmlText(s: string): string {
  return clean(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** An XML attribute value, for inside "…". */
export function xmlAttr(s: string): string {
  return xmlText(s).replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
