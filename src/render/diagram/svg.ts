import type { Diagram, DiagramEdge, DiagramGroup, DiagramNode, Tone } from './model.js';
import { clean, xmlText } from './escape.js';
import { wrap } from './model.js';

/*
 * A small layered layout, enough for netpath's pictures: each top-level group is a column; in a column the
 * main chain runs top to bottom in lane 0, side branches (other backends, other multipath next hops) sit in
 * lanes to the right of the node they branch from. Text is monospace so widths can be computed without
 * font metrics.
 */

const FONT = 13;
const LINE = 17;
const CHAR = FONT * 0.61;
const EDGE_FONT = 11;
const EDGE_LINE = 14;
const EDGE_CHAR = EDGE_FONT * 0.61;
const PAD_X = 10;
const PAD_Y = 7;
const ROW_GAP = 24;
const LANE_GAP = 40;
const COL_GAP = 64;
const COL_PAD = 16;
const COL_HEAD = 28;
const GROUP_PAD = 8;
const GROUP_HEAD = 20;
const TITLE_H = 40;
const MARGIN = 16;
const FAMILY = "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace";

const COLOUR: Record<Tone, { fill: string; stroke: string; text: string }> = {
  plain: { fill: '#ffffff', stroke: '#5f6368', text: '#202124' },
  ok: { fill: '#e6f4ea', stroke: '#1e8e3e', text: '#0d652d' },
  bad: { fill: '#fce8e6', stroke: '#d93025', text: '#a50e0e' },
  warn: { fill: '#fef7e0', stroke: '#f29900', text: '#7a4f00' },
  lb: { fill: '#e8f0fe', stroke: '#1a73e8', text: '#174ea6' },
  changed: { fill: '#fff4e5', stroke: '#e8710a', text: '#202124' },
  muted: { fill: '#f1f3f4', stroke: '#9aa0a6', text: '#5f6368' },
};

/** Display width in character cells: East Asian wide characters take two. */
function cells(s: string): number {
  let n = 0;
  for (const ch of s) n += ch.codePointAt(0)! >= 0x2e80 && !/[\u2190-\u21ff\u2500-\u257f\u2022\u2026]/.test(ch) ? 2 : 1;
  return n;
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

interface Placed extends Box {
  node: DiagramNode;
  col: number;
  lane: number;
  row: number;
  lines: string[];
}

interface Column {
  group: DiagramGroup | undefined;
  x: number;
  w: number;
  top: number;
  bottom: number;
  lane0: number;
}

function nodeSize(lines: string[]): { w: number; h: number } {
  const w = Math.max(...lines.map(cells)) * CHAR + 2 * PAD_X;
  return { w: Math.max(90, Math.ceil(w)), h: lines.length * LINE + 2 * PAD_Y };
}

function edgeLabelLines(label: string | undefined): string[] {
  return label ? wrap(clean(label), 36, 3) : [];
}

function labelWidth(lines: string[]): number {
  return lines.length ? Math.ceil(Math.max(...lines.map(cells)) * EDGE_CHAR) + 8 : 0;
}

/** A column's rows before placement: its nodes, row count, the gap above each row and each row's height. */
interface ColumnRows {
  ps: Placed[];
  rows: number;
  gaps: { total: number; labelAt: number }[];
  heights: number[];
}

interface Layout {
  groupById: Map<string, DiagramGroup>;
  depthOf: (gid: string) => number;
  placed: Map<string, Placed>;
  columns: Column[];
  /** per column:row, the top of the label of the edge into that row */
  labelTops: Map<string, number>;
  /** per column:row, the middle of the gap below the row */
  gapMid: Map<string, number>;
  /** per column, each lane's left edge */
  laneLefts: Map<number, number[]>;
  /** last node of a column → label of its edge to the next column */
  tails: Map<string, string[]>;
  titleLines: string[];
  maxBottom: number;
}

export function renderSvg(d: Diagram): string {
  const lay = layout(d);
  const { columns, titleLines, maxBottom } = lay;
  const replies = d.edges.filter((e) => e.betweenGroups);
  const notesY = maxBottom + (replies.length ? 24 + replies.length * 22 : 0) + 16;
  const notes = d.notes.flatMap((n) => wrap(clean(n), 110, 3));
  const right = Math.max(0, ...columns.map((c) => c.x + c.w));
  const width = Math.ceil(
    Math.max(
      right + MARGIN,
      MARGIN * 2 + Math.max(...titleLines.map(cells)) * 16 * 0.62,
      ...notes.map((n) => MARGIN * 2 + cells(n) * 12 * 0.62),
    ),
  );
  const height = Math.ceil(notesY + notes.length * 16 + MARGIN);

  const svg: string[] = [];
  svg.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FAMILY}" font-size="${FONT}">`,
  );
  svg.push(`<title>${xmlText(d.title)}</title>`);
  svg.push('<defs>');
  for (const [tone, c] of Object.entries(COLOUR)) {
    svg.push(
      `<marker id="arrow-${tone}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${c.stroke}"/></marker>`,
    );
  }
  svg.push('</defs>');
  svg.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  for (const [i, l] of titleLines.entries())
    svg.push(
      `<text x="${MARGIN}" y="${MARGIN + 10 + i * 19}" font-size="16" font-weight="bold" fill="#202124">${xmlText(l)}</text>`,
    );

  drawGroups(svg, d, lay);
  drawEdges(svg, d, lay, replies);
  drawNodes(svg, lay.placed);
  for (const [i, n] of notes.entries())
    svg.push(`<text x="${MARGIN}" y="${notesY + 12 + i * 16}" font-size="12" fill="#5f6368">${xmlText(n)}</text>`);
  svg.push('</svg>');
  return svg.join('\n') + '\n';
}

/** Where every column, node and edge label goes. */
function layout(d: Diagram): Layout {
  const groupById = new Map(d.groups.map((g) => [g.id, g]));
  const topOf = (gid: string | undefined): string | undefined => {
    let g = gid ? groupById.get(gid) : undefined;
    while (g?.parent) g = groupById.get(g.parent);
    return g?.id;
  };
  const depthOf = (gid: string): number => {
    let n = 0;
    let g = groupById.get(gid);
    while (g?.parent) {
      n++;
      g = groupById.get(g.parent);
    }
    return n;
  };
  const colIds: (string | undefined)[] = d.groups.filter((g) => !g.parent).map((g) => g.id);
  if (d.nodes.some((n) => topOf(n.group) === undefined)) colIds.push(undefined);

  const placed = new Map<string, Placed>();
  const incoming = new Map<string, DiagramEdge>();
  for (const e of d.edges) if (!e.betweenGroups && !incoming.has(e.to)) incoming.set(e.to, e);

  const columns: Column[] = [];
  const labelTops = new Map<string, number>();
  // the middle of the gap below each row, and each lane's left edge: branch edges run through the gaps
  const gapMid = new Map<string, number>();
  const laneLefts = new Map<number, number[]>();
  const tails = new Map<string, string[]>(); // last node of a column → label of its edge to the next column
  let x = MARGIN;
  const titleLines = wrap(clean(d.title), 120, 2);
  let top = TITLE_H + MARGIN + (titleLines.length - 1) * 19;
  const perBand = d.columnsPerBand ?? Infinity;
  const nestedOf = (p: Placed): string[] => {
    const out: string[] = [];
    let g = p.node.group ? groupById.get(p.node.group) : undefined;
    while (g?.parent) {
      out.push(g.id);
      g = groupById.get(g.parent);
    }
    return out;
  };
  // rows and lanes of every column first: the columns of a band share their row heights
  const prep = colIds.map((cid, ci) => columnRows(d, cid, ci, topOf, incoming, nestedOf));
  colIds.forEach((cid, ci) => {
    if (ci > 0 && ci % perBand === 0) {
      // a new band below the previous one; its columns were made equally tall when it ended
      top = Math.max(...columns.slice(ci - perBand).map((c) => c.bottom)) + COL_GAP / 2;
      x = MARGIN;
    }
    const { ps, rows, gaps, heights } = prep[ci]!;
    const lanes = Math.max(1, ...ps.map((p) => p.lane + 1));
    // lane 0 must hold its nodes and, right of the arrow, the labels of the edges between them
    let lane0 = Math.max(0, ...ps.filter((p) => p.lane === 0).map((p) => p.w));
    for (const p of ps.filter((q) => q.lane === 0)) {
      const e = incoming.get(p.node.id);
      const inColumn = e && ps.some((q) => q.node.id === e.from && q.lane === 0);
      if (inColumn) lane0 = Math.max(lane0, 2 * (labelWidth(edgeLabelLines(e.label)) + 14));
    }
    const laneW: number[] = [lane0];
    for (let l = 1; l < lanes; l++) laneW.push(Math.max(0, ...ps.filter((p) => p.lane === l).map((p) => p.w)));
    const group = cid ? groupById.get(cid) : undefined;
    const headW = group ? cells(clean(group.label)) * (FONT * 0.62) + 2 * COL_PAD : 0;
    let w = 2 * COL_PAD + laneW.reduce((a, b) => a + b, 0) + (lanes - 1) * LANE_GAP;
    // the label under the last node, on the way to the next column
    const lastMain = ps.filter((p) => p.lane === 0).at(-1);
    const out = lastMain
      ? d.edges.find(
          (e) =>
            e.from === lastMain.node.id && !e.betweenGroups && topOf(d.nodes.find((n) => n.id === e.to)?.group) !== cid,
        )
      : undefined;
    const tail = out ? edgeLabelLines(out.label) : [];
    if (lastMain && out) tails.set(lastMain.node.id, tail);
    w = Math.max(w, headW, 2 * COL_PAD + lane0 / 2 + 8 + labelWidth(tail));

    // vertical: rows of the columns of one band share heights and gaps, so pinned rows line up across them
    const band0 = Number.isFinite(perBand) ? Math.floor(ci / perBand) * perBand : ci;
    const mates = Number.isFinite(perBand) ? prep.slice(band0, band0 + perBand) : [prep[ci]!];
    let y = top + COL_HEAD;
    const rowTop: number[] = [];
    const rowH: number[] = [];
    const labelTop: number[] = [];
    for (let r = 0; r < rows; r++) {
      labelTop[r] = y + gaps[r]!.labelAt;
      y += Math.max(...mates.map((m) => m.gaps[r]?.total ?? 0));
      rowTop[r] = y;
      rowH[r] = Math.max(...mates.map((m) => m.heights[r] ?? 0));
      y += rowH[r]!;
    }
    void heights;
    const lane0Center = x + COL_PAD + lane0 / 2;
    for (const p of ps) {
      let lx = x + COL_PAD;
      for (let l = 0; l < p.lane; l++) lx += laneW[l]! + LANE_GAP;
      p.x = p.lane === 0 ? lane0Center - p.w / 2 : lx;
      p.y = rowTop[p.row]! + (rowH[p.row]! - p.h) / 2;
      placed.set(p.node.id, p);
    }
    let bottom = y + COL_PAD;
    if (tail.length) bottom += 16 + tail.length * EDGE_LINE;
    columns.push({ group, x, w, top, bottom, lane0: lane0Center });
    if ((ci + 1) % perBand === 0 || ci === colIds.length - 1) {
      const band = columns.slice(Math.floor(ci / perBand) * (Number.isFinite(perBand) ? perBand : 0));
      const b = Math.max(...band.map((c) => c.bottom));
      for (const c of band) c.bottom = b;
    }
    for (let r = 0; r < rows; r++) labelTops.set(`${ci}:${r}`, labelTop[r]!);
    for (let r = 0; r + 1 < rows; r++) gapMid.set(`${ci}:${r}`, (rowTop[r]! + rowH[r]! + rowTop[r + 1]!) / 2);
    laneLefts.set(
      ci,
      laneW.map((_, l) => x + COL_PAD + laneW.slice(0, l).reduce((a, b) => a + b, 0) + l * LANE_GAP),
    );
    x += w + COL_GAP;
  });
  const maxBottom = Math.max(top + COL_HEAD, ...columns.map((c) => c.bottom));
  return { groupById, depthOf, placed, columns, labelTops, gapMid, laneLefts, tails, titleLines, maxBottom };
}

/** Rows and lanes of one column; the gaps above its rows and the heights of its rows. */
function columnRows(
  d: Diagram,
  cid: string | undefined,
  ci: number,
  topOf: (gid: string | undefined) => string | undefined,
  incoming: Map<string, DiagramEdge>,
  nestedOf: (p: Placed) => string[],
): ColumnRows {
  const members = d.nodes.filter((n) => topOf(n.group) === cid);
  const main = members.filter((n) => !n.branchOf);
  const cells2 = new Set<string>();
  const ps: Placed[] = [];
  let next = 0;
  for (const n of main) {
    const row = Math.max(next, n.row ?? next);
    next = row + 1;
    const lines = n.lines.map(clean);
    ps.push({ node: n, col: ci, lane: 0, row, lines, x: 0, y: 0, ...nodeSize(lines) });
    cells2.add(`0:${row}`);
  }
  const siblings = new Map<string, number>();
  for (const n of members.filter((m) => m.branchOf)) {
    const parent = ps.find((p) => p.node.id === n.branchOf);
    const k = siblings.get(n.branchOf!) ?? 0;
    siblings.set(n.branchOf!, k + 1);
    const row = (parent?.row ?? 0) + 1 + k;
    let lane = 1;
    while (cells2.has(`${lane}:${row}`)) lane++;
    cells2.add(`${lane}:${row}`);
    const lines = n.lines.map(clean);
    ps.push({ node: n, col: ci, lane, row, lines, x: 0, y: 0, ...nodeSize(lines) });
  }
  const rows0 = Math.max(0, ...ps.map((p) => p.row + 1));
  const firstRow = new Map<string, number>();
  const lastRow = new Map<string, number>();
  for (const p of ps)
    for (const g of nestedOf(p)) {
      firstRow.set(g, Math.min(firstRow.get(g) ?? Infinity, p.row));
      lastRow.set(g, Math.max(lastRow.get(g) ?? -1, p.row));
    }
  // the gap above each row holds the end of groups, the label of the edge into the row and headers of groups starting there
  const gaps: { total: number; labelAt: number }[] = [];
  const heights: number[] = [];
  for (let r = 0; r < rows0; r++) {
    const starts = [...firstRow.values()].filter((v) => v === r).length;
    const ends = r > 0 ? [...lastRow.values()].filter((v) => v === r - 1).length : 0;
    const mainHere = ps.find((p) => p.lane === 0 && p.row === r);
    const e = mainHere ? incoming.get(mainHere.node.id) : undefined;
    const lbl = e && r > 0 ? edgeLabelLines(e.label) : [];
    gaps.push({
      labelAt: ends * GROUP_PAD + 6,
      total:
        ends * GROUP_PAD + ROW_GAP + (lbl.length ? lbl.length * EDGE_LINE + 8 : 0) + starts * (GROUP_HEAD + GROUP_PAD),
    });
    heights.push(Math.max(0, ...ps.filter((p) => p.row === r).map((p) => p.h)));
  }
  return { ps, rows: rows0, gaps, heights };
}

/** Groups: columns first, nested ones on top. */
function drawGroups(svg: string[], d: Diagram, { groupById, depthOf, placed, columns }: Layout): void {
  columns.forEach((c) => {
    if (!c.group) return;
    const col = c.group.tone ? COLOUR[c.group.tone] : { fill: '#f8f9fa', stroke: '#bdc1c6', text: '#3c4043' };
    svg.push(
      `<g class="group"><rect x="${c.x}" y="${c.top}" width="${c.w}" height="${c.bottom - c.top}" rx="10" fill="${c.group.tone ? col.fill : '#f8f9fa'}" stroke="${col.stroke}"${c.group.tone ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    svg.push(
      `<text x="${c.x + COL_PAD}" y="${c.top + 19}" font-weight="bold" fill="${col.text}">${xmlText(c.group.label)}</text></g>`,
    );
  });
  const nested = d.groups.filter((g) => g.parent).sort((a, b) => depthOf(a.id) - depthOf(b.id));
  for (const g of nested) {
    const inside = (gid: string | undefined): boolean =>
      gid === g.id || (gid !== undefined && inside(groupById.get(gid)?.parent));
    const ms = [...placed.values()].filter((p) => inside(p.node.group));
    if (!ms.length) continue;
    const deeper = Math.max(0, ...ms.map((p) => (p.node.group ? depthOf(p.node.group) : 0))) - depthOf(g.id);
    const pad = GROUP_PAD * (1 + deeper);
    const x1 = Math.min(...ms.map((p) => p.x)) - pad;
    const x2 = Math.max(...ms.map((p) => p.x + p.w)) + pad;
    const y1 = Math.min(...ms.map((p) => p.y)) - pad - GROUP_HEAD;
    const y2 = Math.max(...ms.map((p) => p.y + p.h)) + pad;
    svg.push(
      `<g class="group"><rect x="${x1}" y="${y1}" width="${x2 - x1}" height="${y2 - y1}" rx="8" fill="#eef3f8" stroke="#a0b4c8" stroke-dasharray="4 3"/>`,
    );
    svg.push(`<text x="${x1 + 8}" y="${y1 + 15}" font-size="12" fill="#3c4043">${xmlText(g.label)}</text></g>`);
  }
}

/** Edges, with their labels: in a lane, between lanes, between columns, and replies between groups. */
function drawEdges(
  svg: string[],
  d: Diagram,
  { placed, columns, labelTops, laneLefts, gapMid, tails, maxBottom }: Layout,
  replies: DiagramEdge[],
): void {
  d.edges.forEach((e) => {
    svg.push(
      `<g class="edge" data-from="${e.from}" data-to="${e.to}">${e.tooltip || e.label ? `<title>${tip(e.tooltip ?? e.label ?? '')}</title>` : ''}`,
    );
    if (e.betweenGroups) {
      const a = columns.find((c) => c.group?.id === e.from);
      const b = columns.find((c) => c.group?.id === e.to);
      if (a && b) {
        const i = replies.indexOf(e);
        const yy = maxBottom + 24 + i * 22;
        const ax = a.x + a.w / 2 + 12;
        const bx = b.x + b.w / 2 - 12;
        edgePath(
          svg,
          [
            [ax, maxBottom],
            [ax, yy],
            [bx, yy],
            [bx, maxBottom + 2],
          ],
          e,
        );
        edgeLabel(svg, edgeLabelLines(e.label), Math.min(ax, bx) + 10, yy - 16, e.tone);
      }
      svg.push('</g>');
      return;
    }
    const a = placed.get(e.from);
    const b = placed.get(e.to);
    if (!a || !b) {
      svg.push('</g>');
      return;
    }
    const lines = edgeLabelLines(e.label);
    if (a.col === b.col && b.lane === 0 && a.lane === 0) {
      const cx = a.x + a.w / 2;
      edgePath(
        svg,
        [
          [cx, a.y + a.h],
          [cx, b.y],
        ],
        e,
      );
      edgeLabel(svg, lines, cx + 10, labelTops.get(`${b.col}:${b.row}`) ?? a.y + a.h + 6, e.tone);
    } else if (a.col === b.col) {
      const gx = b.x - LANE_GAP / 2;
      const cy = a.y + a.h / 2;
      const lefts = laneLefts.get(a.col) ?? [];
      // beside (not on) the nearer lane's own bus line, so the two branch sets do not seem to join
      const g1 = (lefts[a.lane + 1] ?? b.x) - LANE_GAP / 2 - 9;
      const gap = gapMid.get(`${a.col}:${a.row}`);
      // to a far lane: along the gap under the parent's row, so the line never crosses a node of a nearer lane
      if (b.lane > a.lane + 1 && gap !== undefined)
        edgePath(
          svg,
          [
            [a.x + a.w, cy],
            [g1, cy],
            [g1, gap],
            [gx, gap],
            [gx, b.y + b.h / 2],
            [b.x, b.y + b.h / 2],
          ],
          e,
        );
      else
        edgePath(
          svg,
          [
            [a.x + a.w, cy],
            [gx, cy],
            [gx, b.y + b.h / 2],
            [b.x, b.y + b.h / 2],
          ],
          e,
        );
    } else {
      const ax = a.x + a.w / 2;
      const ay = a.y + a.h;
      const colA = columns[a.col]!;
      const gx = a.col < b.col ? colA.x + colA.w + COL_GAP / 2 : colA.x - COL_GAP / 2;
      const by = b.y + b.h / 2;
      const bx = a.col < b.col ? b.x : b.x + b.w;
      edgePath(
        svg,
        [
          [ax, ay],
          [ax, ay + 12],
          [gx, ay + 12],
          [gx, by],
          [bx, by],
        ],
        e,
      );
      edgeLabel(svg, tails.get(a.node.id) ?? lines, ax + 10, ay + 18, e.tone);
    }
    svg.push('</g>');
  });
}

/** An edge label on a white box, at (lx, ly). */
function edgeLabel(svg: string[], lines: string[], lx: number, ly: number, tone: Tone): void {
  if (!lines.length) return;
  const w = labelWidth(lines);
  svg.push(
    `<rect x="${lx - 4}" y="${ly - 2}" width="${w}" height="${lines.length * EDGE_LINE + 4}" rx="3" fill="#ffffff" fill-opacity="0.92"/>`,
  );
  for (const [i, l] of lines.entries())
    svg.push(
      `<text x="${lx}" y="${ly + 11 + i * EDGE_LINE}" font-size="${EDGE_FONT}" fill="${COLOUR[tone === 'plain' ? 'plain' : tone].text}">${xmlText(l)}</text>`,
    );
}

/** An edge along the points, in its tone, with an arrow head. */
function edgePath(svg: string[], pts: [number, number][], e: DiagramEdge): void {
  const c = COLOUR[e.tone];
  const dash = e.style === 'dashed' ? ' stroke-dasharray="6 4"' : '';
  const wdt = e.tone === 'bad' || e.tone === 'changed' ? 2.5 : 1.5;
  svg.push(
    `<path d="M${pts.map(([a, b]) => `${r1(a)},${r1(b)}`).join(' L')}" fill="none" stroke="${c.stroke}" stroke-width="${wdt}"${dash} marker-end="url(#arrow-${e.tone})"/>`,
  );
}

/** Nodes last, over the edges. */
function drawNodes(svg: string[], placed: Map<string, Placed>): void {
  for (const p of placed.values()) {
    const n = p.node;
    const c = COLOUR[n.tone];
    const rx = n.shape === 'endpoint' ? p.h / 2 : n.shape === 'route' ? 12 : n.shape === 'lb' ? 2 : 5;
    const sw = n.shape === 'end' || n.tone === 'bad' || n.tone === 'changed' ? 2.5 : 1.2;
    svg.push(`<g class="node" id="${n.id}">${n.tooltip ? `<title>${tip(n.tooltip)}</title>` : ''}`);
    if (n.shape === 'lb') {
      const k = 10;
      svg.push(
        `<path d="M${p.x + k},${p.y} L${p.x + p.w - k},${p.y} L${p.x + p.w},${p.y + p.h / 2} L${p.x + p.w - k},${p.y + p.h} L${p.x + k},${p.y + p.h} L${p.x},${p.y + p.h / 2} z" fill="${c.fill}" stroke="${c.stroke}" stroke-width="${sw}"${n.inferred ? ' stroke-dasharray="5 4"' : ''}/>`,
      );
    } else {
      svg.push(
        `<rect x="${r1(p.x)}" y="${r1(p.y)}" width="${r1(p.w)}" height="${r1(p.h)}" rx="${r1(rx)}" fill="${c.fill}" stroke="${c.stroke}" stroke-width="${sw}"${n.inferred ? ' stroke-dasharray="5 4"' : ''}/>`,
      );
    }
    const tx = p.x + p.w / 2;
    p.lines.forEach((l, i) => {
      svg.push(
        `<text x="${r1(tx)}" y="${r1(p.y + PAD_Y + 13 + i * LINE)}" text-anchor="middle" fill="${c.text}"${i === 0 ? ' font-weight="bold"' : ''}>${xmlText(l)}</text>`,
      );
    });
    if (n.inferred)
      svg.push(
        `<text x="${r1(p.x + p.w - 4)}" y="${r1(p.y - 3)}" text-anchor="end" font-size="10" fill="#7a4f00">inferred</text>`,
      );
    svg.push('</g>');
  }
}

function tip(s: string): string {
  return s.split('\n').map(xmlText).join('\n');
}

function r1(v: number): string {
  return String(Math.round(v * 10) / 10);
}
