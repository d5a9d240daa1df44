/**
 * A strict little XML well-formedness checker for the SVG tests: balanced tags, quoted attributes, only the
 * five predefined or numeric entities, no raw `<` or `&` in text, no characters XML 1.0 forbids. Returns the
 * element tree so tests can read text content. Throws with the offset on the first error.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: (XmlElement | string)[];
}

const NAME = /^[A-Za-z_][\w.:-]*/;
const ENTITY: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
// eslint-disable-next-line no-control-regex
const FORBIDDEN =
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function decode(s: string, at: number): string {
  if (FORBIDDEN.test(s)) throw new Error(`forbidden character near offset ${at}`);
  return s.replace(/&([^;]*);|&/g, (_m, name: string | undefined) => {
    if (name === undefined) throw new Error(`bare & near offset ${at}`);
    if (ENTITY[name] !== undefined) return ENTITY[name]!;
    const num = /^#(\d+)$/.exec(name) ?? /^#x([0-9a-fA-F]+)$/.exec(name);
    if (num) return String.fromCodePoint(parseInt(num[1]!, name[1] === 'x' ? 16 : 10));
    throw new Error(`unknown entity &${name}; near offset ${at}`);
  });
}

export function parseXml(src: string): XmlElement {
  let i = 0;
  if (src.startsWith('<?xml')) i = src.indexOf('?>') + 2;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    const text = src.slice(i, lt < 0 ? src.length : lt);
    if (text.length) {
      if (text.includes('>') && text.includes(']]>')) throw new Error(`]]> in text at ${i}`);
      const t = decode(text, i);
      if (stack.length) stack[stack.length - 1]!.children.push(t);
      else if (t.trim()) throw new Error(`text outside the root at ${i}`);
    }
    if (lt < 0) break;
    i = lt;
    if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i + 4);
      if (end < 0) throw new Error(`unterminated comment at ${i}`);
      i = end + 3;
      continue;
    }
    if (src.startsWith('</', i)) {
      const m = NAME.exec(src.slice(i + 2));
      if (!m) throw new Error(`bad end tag at ${i}`);
      const top = stack.pop();
      if (!top || top.name !== m[0]) throw new Error(`</${m[0]}> does not close <${top?.name}> at ${i}`);
      i += 2 + m[0].length;
      while (/\s/.test(src[i] ?? '')) i++;
      if (src[i] !== '>') throw new Error(`bad end tag at ${i}`);
      i++;
      if (!stack.length) root = top;
      continue;
    }
    const m = NAME.exec(src.slice(i + 1));
    if (!m) throw new Error(`bad tag at ${i}`);
    const el: XmlElement = { name: m[0], attrs: {}, children: [] };
    i += 1 + m[0].length;
    for (;;) {
      const ws = /^\s*/.exec(src.slice(i))![0];
      i += ws.length;
      if (src.startsWith('/>', i) || src[i] === '>') break;
      if (!ws.length) throw new Error(`attributes must be separated by space at ${i}`);
      const a = /^([A-Za-z_][\w.:-]*)\s*=\s*"([^"<]*)"/.exec(src.slice(i));
      if (!a) throw new Error(`bad attribute at ${i}: ${src.slice(i, i + 30)}`);
      if (a[1]! in el.attrs) throw new Error(`duplicate attribute ${a[1]} at ${i}`);
      el.attrs[a[1]!] = decode(a[2]!, i);
      i += a[0].length;
    }
    if (stack.length) stack[stack.length - 1]!.children.push(el);
    else if (root) throw new Error(`second root element at ${i}`);
    if (src.startsWith('/>', i)) {
      i += 2;
      if (!stack.length) root = el;
    } else {
      i += 1;
      stack.push(el);
    }
  }
  if (stack.length) throw new Error(`<${stack[stack.length - 1]!.name}> is not closed`);
  if (!root) throw new Error('no root element');
  return root;
}

export function textOf(el: XmlElement | string): string {
  return typeof el === 'string' ? el : el.children.map(textOf).join('');
}

export function findAll(el: XmlElement, name: string): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement) => {
    if (e.name === name) out.push(e);
    for (const c of e.children) if (typeof c !== 'string') walk(c);
  };
  walk(el);
  return out;
}
