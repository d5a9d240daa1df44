import type { Trace } from '../model/trace.js';
import type { Journey } from '../model/journey.js';
import type { LookupResult } from '../model/service.js';
import { UsageError } from '../errors.js';
import type { RenderOptions } from './style.js';
import { terminalSafe } from './terminal-safe.js';
import type { Diff } from '../model/diff.js';
import type { NodeReport } from './node.js';
import type { CheckReport } from '../model/check.js';

// The renderers (zod contracts, chalk, cli-table3, yaml) cost ~0.15 s to import: every command loads this
// registry to check its -o before any work, but only the chosen renderer is loaded, once it has something to print.
const R = () => import('./renderers.js');
// a trace printed as text (what a live trace prints by default) needs only its own renderer: the registry's zod
// contracts and the svc / node / check renderers cost ~50 ms of module start-up that such a trace never uses
// (bench/RESULTS.md, branch live9)
const T = () => import('./text.js');

/**
 * `-o, --output <format>`: one registry from format name to renderer, so a format is added here once and
 * every command that produces a kind it renders offers it (`--help`, completion and the usage error list
 * the formats from this table).
 */

export interface SvcOutput {
  node: string | null;
  query: string;
  result: LookupResult;
}

/** What each command hands to the renderers. A new command adds its kind here and its contract below. */
export interface Outputs {
  trace: Trace;
  journey: Journey;
  svc: SvcOutput;
  diff: Diff;
  node: NodeReport;
  check: CheckReport;
}
export type OutputKind = keyof Outputs;

type Renderer<K extends OutputKind> = (value: Outputs[K], opts: RenderOptions) => string | Promise<string>;

export interface OutputFormat {
  name: string;
  summary: string;
  /** machine-readable: never coloured, and `--quiet` does not shorten it */
  machine?: boolean;
  /** the kinds this format can render; a kind left out is not offered for that command */
  render: { [K in OutputKind]?: Renderer<K> };
}

/**
 * The JSON contract object of each kind (docs/json.md), checked by its zod schema. `json` and
 * `yaml` print this same object, so the two can never disagree.
 */
type Renderers = Awaited<ReturnType<typeof R>>;
const CONTRACTS: { [K in OutputKind]: (r: Renderers, value: Outputs[K]) => unknown } = {
  trace: (r, t) => r.traceContract(t),
  // the journey is its own contract (docs/json.md: legs of traces in the trace shape)
  journey: (_r, j) => j,
  svc: (r, s) => r.svcContract(s.node, s.query, s.result),
  diff: (r, d) => r.diffContract(d),
  node: (r, n) => r.nodeContract(n),
  check: (r, c) => r.checkContract(c),
};

/** A plain-data copy of the contract: what JSON carries is exactly what YAML gets (no undefined, no shared objects). */
async function contractOf<K extends OutputKind>(kind: K, value: Outputs[K]): Promise<unknown> {
  const r = await R();
  return JSON.parse(JSON.stringify((CONTRACTS[kind] as (r: Renderers, v: Outputs[K]) => unknown)(r, value))) as unknown;
}

function everyKind(f: <K extends OutputKind>(kind: K, value: Outputs[K]) => Promise<string>): OutputFormat['render'] {
  const out: Record<string, Renderer<OutputKind>> = {};
  for (const kind of Object.keys(CONTRACTS) as OutputKind[]) out[kind] = (v) => f(kind, v as never);
  return out as OutputFormat['render'];
}

export const DEFAULT_FORMAT = 'text';

const FORMATS: OutputFormat[] = [
  {
    name: 'text',
    summary: 'the path, hop by hop with its evidence (default)',
    render: {
      trace: async (t, o) => (await T()).renderTraceText(t, o),
      journey: async (j, o) => (await R()).renderJourneyText(j, o),
      svc: async (s, o) => (await R()).renderSvcText(s.query, s.result, o),
      diff: async (d, o) => (await R()).renderDiffText(d, o),
      node: async (n, o) => (await R()).renderNodeText(n, o),
      check: async (c, o) => (await R()).renderCheckText(c, o),
    },
  },
  {
    name: 'json',
    summary: 'the versioned JSON contract (same as --json)',
    machine: true,
    render: everyKind(async (kind, v) => JSON.stringify(await contractOf(kind, v), null, 2) + '\n'),
  },
  {
    name: 'yaml',
    summary: 'the JSON contract as YAML',
    machine: true,
    // lineWidth 0: long evidence lines stay on one line instead of being folded
    render: everyKind(async (kind, v) => (await import('yaml')).stringify(await contractOf(kind, v), { lineWidth: 0 })),
  },
  {
    name: 'table',
    summary: 'a compact table, one row per hop or frontend',
    render: {
      trace: async (t, o) => (await R()).renderTraceTable(t, o),
      journey: async (j, o) => (await R()).renderJourneyTable(j, o),
      svc: async (s, o) => (await R()).renderSvcTable(s.query, s.result, o),
    },
  },
  {
    name: 'wide',
    summary: 'the table with more columns: program ids, next hops, evidence probes, backend states',
    render: {
      trace: async (t, o) => (await R()).renderTraceTable(t, o, true),
      journey: async (j, o) => (await R()).renderJourneyTable(j, o, true),
      svc: async (s, o) => (await R()).renderSvcTable(s.query, s.result, o, true),
    },
  },
  ...(['mermaid', 'dot', 'svg'] as const).map(
    (name): OutputFormat => ({
      name,
      summary: {
        mermaid: 'a mermaid flowchart of the path (GitHub renders it in Markdown)',
        dot: 'a Graphviz digraph of the path (dot -Tsvg, dot -Tpng)',
        svg: 'an SVG picture of the path, drawn in-process (no browser, no Graphviz)',
      }[name],
      machine: true,
      render: {
        trace: async (t) => (await import('./diagram/index.js')).renderTraceDiagram(t, name),
        journey: async (j) => (await import('./diagram/index.js')).renderJourneyDiagram(j, name),
        diff: async (d) => (await import('./diagram/index.js')).renderDiffDiagram(d, name),
      },
    }),
  ),
];

/** Adds a format (e.g. a diagram); a name already registered is replaced. */
export function registerFormat(f: OutputFormat): void {
  const i = FORMATS.findIndex((x) => x.name === f.name);
  if (i >= 0) FORMATS[i] = f;
  else FORMATS.push(f);
}

/** Format names that can render this kind (or every kind, for `--help` of commands with several). */
export function formatsFor(...kinds: OutputKind[]): string[] {
  return FORMATS.filter((f) => kinds.every((k) => f.render[k] !== undefined)).map((f) => f.name);
}

export function findFormat(name: string): OutputFormat | undefined {
  return FORMATS.find((f) => f.name === name);
}

/**
 * The format a command was asked for: `-o NAME`, or `--json`. Checked before any work is done, against
 * every kind the command may produce. Unknown or unavailable → usage error naming the allowed ones.
 */
export function chooseFormat(o: { output?: string; json?: boolean }, ...kinds: OutputKind[]): OutputFormat {
  const allowed = formatsFor(...kinds);
  if (o.json && o.output !== undefined && o.output !== 'json')
    throw new UsageError(`--json and -o ${o.output} exclude each other`);
  const name = o.output ?? (o.json ? 'json' : DEFAULT_FORMAT);
  const f = findFormat(name);
  if (!f || !allowed.includes(name))
    throw new UsageError(`-o/--output must be one of ${allowed.join('|')}, not ${JSON.stringify(name)}`);
  return f;
}

/** `--quiet` for the human formats: only the line that answers (a machine format is printed whole). */
const QUIET: { [K in OutputKind]?: Renderer<K> } = {
  trace: async (t, o) => `${(await T()).resultLine(t, o)}\n`,
  journey: async (j) => `${(await R()).journeyResultLine(j)}\n`,
  svc: async (s) => (await R()).renderSvcQuiet(s.query, s.result),
  diff: (d) => `${d.summary.verdict === 'clean' ? 'CLEAN' : 'REGRESSIONS'} — ${d.summary.lines[0]}\n`,
  node: async (n) => (await R()).renderNodeQuiet(n),
  check: async (r) => `${(await R()).checkResultLine(r)}\n`,
};

export async function renderOutput<K extends OutputKind>(
  format: OutputFormat,
  kind: K,
  value: Outputs[K],
  opts: RenderOptions & { quiet?: boolean },
): Promise<string> {
  const r = format.render[kind] as Renderer<K> | undefined;
  if (!r)
    throw new UsageError(`-o ${format.name} cannot show ${kind} output; use one of ${formatsFor(kind).join('|')}`);
  const { quiet, ...ropts } = opts;
  const q = QUIET[kind] as Renderer<K> | undefined;
  // machine formats escape on their own (JSON/YAML string escapes, each diagram format's label escaping)
  if (format.machine) return r(value, { ...ropts, color: false });
  const safe = terminalSafe(value);
  if (quiet && q) return q(safe, ropts);
  return r(safe, ropts);
}
