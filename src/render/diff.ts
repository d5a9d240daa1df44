import Table from 'cli-table3';
import type { Diff, DiffSideInfo, PathDiff, ServiceDiff } from '../model/diff.js';
import { painter, type RenderOptions } from './style.js';

type Paint = ReturnType<typeof painter>;

/** A table that wraps on words and breaks a word longer than its column (cli-table3 would cut it with `…`). */
function table(
  head: string[],
  widths: number[],
  opts: RenderOptions,
): { push: (row: string[]) => void; toString: () => string } {
  const t = new Table({
    head,
    style: { head: opts.color ? ['bold'] : [], border: opts.color ? ['grey'] : [] },
    wordWrap: true,
    wrapOnWordBoundary: true,
    colWidths: widths,
  });
  return {
    push: (row) => t.push(row.map((cell, i) => breakLong(cell, widths[i]! - 2))),
    toString: () => t.toString(),
  };
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

function breakLong(cell: string, room: number): string {
  if (room < 4) return cell;
  return cell
    .split('\n')
    .map((line) =>
      line
        .split(' ')
        .map((word) => {
          const plain = word.replace(ANSI, '');
          if (plain.length <= room || plain !== word) return word;
          const parts: string[] = [];
          for (let i = 0; i < word.length; i += room) parts.push(word.slice(i, i + room));
          return parts.join('\n');
        })
        .join(' '),
    )
    .join('\n');
}

/** Column widths that fill `width`: the fixed ones as given, the last takes the rest. */
function fit(width: number, fixed: number[], minLast = 24): number[] {
  const used = fixed.reduce((a, b) => a + b, 0) + fixed.length + 2;
  return [...fixed, Math.max(minLast, width - used)];
}

function sideLine(label: string, s: DiffSideInfo): string {
  const parts = [
    s.node ? `node ${s.node}` : undefined,
    s.layers.length ? s.layers.join(' + ') : 'no Service layer',
    s.cilium.version ? `Cilium ${s.cilium.version}` : undefined,
    s.cilium.kubeProxyReplacement === true ? 'kube-proxy replacement' : undefined,
  ].filter(Boolean);
  return `${label} ${s.source} (${parts.join(', ')})`;
}

const statusWord = (c: Paint, s: ServiceDiff) => {
  const w = s.status;
  if (s.regression) return c.red.bold(w);
  if (w === 'added') return c.cyan(w);
  if (w === 'unchanged') return c.green(w);
  return c.yellow(w);
};

function ownerText(s: ServiceDiff): string {
  const b = s.before ? s.before.layers.join(' + ') : '—';
  const a = s.after ? s.after.layers.join(' + ') : '—';
  return b === a ? b : `${b} →\n${a}`;
}

function changeText(s: ServiceDiff, verbose: boolean): string {
  if (s.status === 'unchanged') return s.before && s.after ? `${s.after.backends.length} backends, as before` : '';
  if (s.status === 'removed')
    return `no layer serves it after (had ${s.before?.backends.length ?? 0} backends${s.before?.chain ? `, ${s.before.chain}` : ''})`;
  if (s.status === 'added') return `new: ${s.after?.backends.length ?? 0} backends`;
  // the reason of each change is in --verbose and --json; the table keeps to what changed
  return s.changes
    .map((c) => `${c.field}: ${c.before} → ${c.after}${verbose && c.because ? ` (${c.because})` : ''}`)
    .join('\n');
}

/** The path as hop kinds, the load-balancing hop named: `route → bpf → socket-lb(cil_sock4_connect) → … = delivered`. */
function kinds(p: PathDiff, which: 'before' | 'after'): string {
  const s = p[which];
  const hops = s.hops.map((h) =>
    h.kind === 'socket-lb' || h.kind === 'kube-proxy' || h.kind === 'tc-lb' || h.kind === 'drop' ? h.label : h.kind,
  );
  return `${hops.join(' → ')}\n= ${s.disposition}`;
}

/** Human diff: the verdict and a summary first, then the regressions, then one table per part. */
export function renderDiffText(d: Diff, opts: RenderOptions): string {
  const c = painter(opts);
  const out: string[] = [];
  const w = opts.width;
  out.push(c.bold('netpath diff'));
  out.push(`  ${sideLine('before', d.before)}`);
  out.push(`  ${sideLine('after ', d.after)}`);
  out.push('');
  const [verdict, ...rest] = d.summary.lines;
  out.push(d.summary.verdict === 'clean' ? c.green.bold(`CLEAN — ${verdict}`) : c.red.bold(`REGRESSIONS — ${verdict}`));
  for (const l of rest) out.push(`  ${l}`);

  const regs: string[] = [];
  for (const s of d.services.filter((x) => x.regression))
    regs.push(`${s.frontend}${s.name ? ` ${s.name}` : ''} — ${s.status}: ${s.summary}`);
  for (const l of d.leftovers.filter((x) => x.regression))
    regs.push(`leftover ${l.name} — ${l.breaks.split('. ')[0]} (see: ${l.command})`);
  for (const p of d.paths.flows.filter((x) => x.regression)) regs.push(`path ${p.label} — ${p.summary}`);
  for (const b of d.behaviour.filter((x) => x.regression)) regs.push(`${b.title}`);
  if (regs.length) {
    out.push('');
    out.push(c.red.bold('Regressions'));
    const shown = opts.verbose ? regs : regs.slice(0, 25);
    for (const r of shown) out.push(`  ${c.red('✗')} ${r}`);
    if (shown.length < regs.length) out.push(`  … ${regs.length - shown.length} more (--all, or --json)`);
  }

  // Services
  const listed = opts.verbose ? d.services : d.services.filter((s) => s.status !== 'unchanged');
  out.push('');
  out.push(
    c.bold(`Services`) +
      c.dim(
        ` (${d.summary.services.unchanged} unchanged${opts.verbose || d.summary.services.unchanged === 0 ? '' : ', not listed: --all lists them'})`,
      ),
  );
  if (listed.length) {
    const MAX = opts.verbose ? Infinity : 60;
    const t = table(['FRONTEND', 'TYPE', 'SERVICE', 'STATUS', 'OWNER', 'CHANGE'], fit(w, [24, 14, 22, 11, 21]), opts);
    for (const s of listed.slice(0, MAX))
      t.push([s.frontend, s.type, s.name ?? '', statusWord(c, s), ownerText(s), changeText(s, opts.verbose === true)]);
    out.push(t.toString());
    if (listed.length > MAX) out.push(c.dim(`  … ${listed.length - MAX} more frontends (--all, or --json)`));
  } else out.push('  every frontend served before is served after, the same way');

  // Leftovers
  out.push('');
  out.push(c.bold('Leftovers of kube-proxy on the after node'));
  if (d.leftovers.length) {
    const t = table(
      ['WHAT', 'ACTS', 'WHAT IT BREAKS', 'SHOW IT WITH'],
      [24, 6, Math.max(40, w - 24 - 6 - 36 - 5), 36],
      opts,
    );
    for (const l of d.leftovers)
      t.push([
        `${l.name}\n(${l.count})`,
        l.actsOnPackets ? c.red('yes') : 'no',
        l.breaks,
        `${l.command}${l.cleanup ? `\n${c.dim(`clean up: ${l.cleanup}`)}` : ''}`,
      ]);
    out.push(t.toString());
  } else out.push('  none: no KUBE-* chains, kube-proxy nft table, IPVS virtual server, kube-ipvs0 or KUBE-* ipset');

  // Paths
  out.push('');
  const changedFlows = d.paths.flows.filter((p) => p.changed || p.regression);
  out.push(
    c.bold('Paths') +
      (d.paths.sampled
        ? c.yellow(` (sampled: ${d.paths.flows.length} of ${d.paths.candidates} flows traced)`)
        : c.dim(` (${d.paths.flows.length} flows traced)`)) +
      c.dim(
        `: ${changedFlows.length} changed, ${d.paths.flows.length - changedFlows.length} the same${opts.verbose ? '' : ' (not listed: --all lists them)'}`,
      ),
  );
  const flows = opts.verbose ? d.paths.flows : changedFlows.slice(0, 20);
  if (flows.length) {
    const half = Math.max(26, Math.floor((w - 30 - 36 - 9) / 2));
    const t = table(['FLOW', 'BEFORE', 'AFTER', 'WHAT CHANGED'], [30, half, half, 36], opts);
    for (const p of flows) {
      const what = p.regression ? c.red.bold(`REGRESSION: ${p.summary}`) : p.changed ? p.summary : c.dim('same path');
      t.push([p.label, kinds(p, 'before'), kinds(p, 'after'), what]);
    }
    out.push(t.toString());
    const left = (opts.verbose ? d.paths.flows.length : changedFlows.length) - flows.length;
    if (left > 0) out.push(c.dim(`  … ${left} more changed flows (--all, or --json)`));
  }
  if (d.paths.note) out.push(...wrap(d.paths.note, w - 4).map((l) => c.dim(`  ${l}`)));

  // Behaviour
  out.push('');
  out.push(c.bold('Behaviour changes that apply to this node'));
  if (d.behaviour.length) {
    for (const b of d.behaviour) {
      out.push(`  ${b.regression ? c.red('✗') : c.yellow('•')} ${c.bold(b.title)}`);
      out.push(...wrap(b.detail, w - 6).map((l) => `    ${l}`));
      if (b.frontends?.length) out.push(c.dim(`    frontends: ${b.frontends.join(', ')}`));
      for (const e of b.evidence.slice(0, 2))
        out.push(c.dim(`    ↳ ${e.probe}: ${clip(e.text.replace(/\s+/g, ' '), w - 12 - e.probe.length)}`));
    }
  } else out.push('  none that the two states show');

  if (d.warnings.length) {
    out.push('');
    out.push(c.yellow('warnings:'));
    const ws = opts.verbose ? d.warnings : d.warnings.slice(0, 15);
    for (const x of ws) out.push(`  - ${x.message}`);
    if (ws.length < d.warnings.length) out.push(`  … ${d.warnings.length - ws.length} more`);
  }
  return out.join('\n') + '\n';
}

function clip(s: string, n: number): string {
  return n > 10 && s.length > n ? s.slice(0, n - 1) + '…' : s;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const word of text.split(/\s+/)) {
    if (cur && cur.length + 1 + word.length > Math.max(40, width)) {
      lines.push(cur);
      cur = word;
    } else cur = cur ? `${cur} ${word}` : word;
  }
  if (cur) lines.push(cur);
  return lines;
}
