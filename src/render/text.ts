import { ciliumRule, versionRangeText } from '../model/cilium-rules.js';
import { hopField, type Hop, type Trace, type TraceEndpoint } from '../model/trace.js';
import type { Evidence } from '../model/types.js';
import { painter, type RenderOptions } from './style.js';

const DISPOSITION_WORD: Record<Trace['disposition'], string> = {
  delivered: 'DELIVERED',
  forwarded: 'FORWARDED',
  dropped: 'DROPPED',
  'no-route': 'NO ROUTE',
  unknown: 'UNKNOWN',
};

/** Human trace: the path as a numbered chain, each hop followed by the probe lines that prove it. */
export function renderTraceText(t: Trace, opts: RenderOptions): string {
  const c = painter(opts);
  const out: string[] = [];
  // an IPv6 address with a port is bracketed, or its last group and the port read as one address
  const dst =
    t.flow.dport === undefined
      ? t.flow.dst
      : `${t.flow.dst.includes(':') ? `[${t.flow.dst}]` : t.flow.dst}:${t.flow.dport}`;
  out.push(c.bold(`${t.flow.src} → ${dst} ${t.flow.proto}`) + (t.node ? c.dim(`  on node ${t.node}`) : ''));
  out.push(`  from ${endpoint(t.src)}`);
  out.push(`  to   ${endpoint(t.dst)}`);
  out.push('');
  const width = String(t.hops.length).length;
  t.hops.forEach((h, i) => {
    const n = String(i + 1).padStart(width);
    const kind = colourKind(c, h.kind).padEnd(0);
    const tag = h.inferred ? c.yellow(' (inferred)') : '';
    out.push(`${n}. ${kind} ${h.detail}${tag}`);
    const pad = ' '.repeat(width + 2);
    if (h.inferred && h.because) out.push(`${pad}${c.yellow('because')} ${h.because}`);
    const chosen = hopField(h, 'backend');
    for (const p of hopField(h, 'paths') ?? [])
      out.push(`${pad}${p.backend === chosen ? '▶' : '·'} backend ${p.backend}: ${p.disposition} — ${p.summary}`);
    for (const e of h.evidence) out.push(`${pad}${c.dim(evidenceLine(e, opts.width - pad.length))}`);
    if (h.explain) {
      out.push(...wrapText(`${c.cyan('what')} ${h.explain.what}`, opts.width, pad));
      out.push(...wrapText(`${c.cyan('why')}  ${h.explain.why}`, opts.width, pad));
      for (const x of h.explain.confirm) {
        out.push(`${pad}${c.green('$')} ${x.command}`);
        out.push(...wrapText(c.dim(`# ${x.shows}`), opts.width, `${pad}  `));
      }
      for (const id of h.ciliumRules ?? []) {
        const r = ciliumRule(id);
        out.push(
          ...wrapText(`${c.cyan('rule')} ${id}: ${r.cilium} (Cilium ${versionRangeText(r.versions)})`, opts.width, pad),
        );
      }
    }
  });
  out.push('');
  out.push(resultLine(t, opts));
  out.push(...warningLines(t, opts));
  return out.join('\n') + '\n';
}

/** `result: FORWARDED — leaves this node towards …`: the one line that answers the question. */
export function resultLine(t: Trace, opts: RenderOptions): string {
  const c = painter(opts);
  const word = DISPOSITION_WORD[t.disposition];
  const coloured =
    t.disposition === 'delivered' || t.disposition === 'forwarded'
      ? c.green.bold(word)
      : t.disposition === 'unknown'
        ? c.yellow.bold(word)
        : c.red.bold(word);
  return `result: ${coloured}${summary(t)}`;
}

/** A blank line, `warnings:` and one line per warning; nothing when there are none. */
export function warningLines(t: Pick<Trace, 'warnings'>, opts: RenderOptions): string[] {
  if (t.warnings.length === 0) return [];
  const c = painter(opts);
  return [
    '',
    c.yellow('warnings:'),
    ...t.warnings.map((w) => `  - ${w.message}${w.source ? c.dim(` [${w.source}]`) : ''}`),
  ];
}

function endpoint(e: TraceEndpoint): string {
  const parts = [`${e.kind} ${e.port !== undefined ? `${e.ip.includes(':') ? `[${e.ip}]` : e.ip}:${e.port}` : e.ip}`];
  if (e.service) parts.push(`service ${e.service}`);
  if (e.pod) parts.push(`pod ${e.pod}`);
  if (e.netns) parts.push(`netns ${e.netns}`);
  if (e.dev) parts.push(`dev ${e.dev}`);
  if (e.node) parts.push(`via node ${e.node}`);
  if (e.role) parts.push(e.role);
  const s = parts.join(', ');
  return e.because && e.kind !== 'local-pod' ? `${s} (${e.because})` : s;
}

function summary(t: Trace): string {
  const last = t.hops[t.hops.length - 1];
  if (!last) return '';
  if (t.disposition === 'forwarded') {
    // the last decision about where the packet goes next; an earlier hop's gateway (the pod's own default route)
    // says nothing about where it leaves the node
    const gw = [...t.hops]
      .reverse()
      .find(
        (h) =>
          hopField(h, 'endpoint') ||
          hopField(h, 'nexthop') ||
          (h.kind === 'gateway' && h.gateway) ||
          (h.kind === 'route' && h.lookup !== 'pod-netns' && h.lookup !== 'arrival' && h.result === 'unicast'),
      );
    const onLink = gw?.kind === 'route' && !gw.gateway;
    const where = gw && (hopField(gw, 'endpoint') ?? hopField(gw, 'nexthop') ?? hopField(gw, 'gateway'));
    if (onLink) return ` — leaves this node towards ${gw.dst} (on-link)`;
    return where ? ` — leaves this node towards ${where}` : '';
  }
  if (t.disposition === 'dropped' || t.disposition === 'no-route')
    return ` — ${last.kind === 'drop' ? last.reason : last.detail}`;
  return '';
}

function evidenceLine(e: Evidence, width: number): string {
  const s = `↳ ${e.probe}: ${e.text.replace(/\s+/g, ' ').trim()}`;
  return width > 20 && s.length > width ? s.slice(0, width - 1) + '…' : s;
}

function colourKind(c: ReturnType<typeof painter>, kind: Hop['kind']): string {
  const label = `[${kind}]`;
  if (kind === 'drop') return c.red.bold(label);
  if (kind === 'deliver') return c.green.bold(label);
  if (kind.startsWith('redirect') || kind === 'bpf' || kind === 'socket-lb' || kind === 'tc-lb') return c.cyan(label);
  if (kind === 'route' || kind === 'gateway' || kind === 'wireguard') return c.blue(label);
  return c.magenta(label);
}

/** Word-wrapped lines with a hanging indent (colour codes count as width; close enough for prose). */
function wrapText(s: string, width: number, pad: string): string[] {
  const max = Math.max(40, width - pad.length);
  const out: string[] = [];
  let cur = '';
  for (const w of s.split(' ')) {
    if (cur && cur.length + 1 + w.length > max) {
      out.push(pad + cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) out.push(pad + cur);
  return out;
}
