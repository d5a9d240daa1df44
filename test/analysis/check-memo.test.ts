// check's per-run memo (trace/memo.ts: who an address is, the frontends of each Service question, the failed
// probes; backendPaths: where each candidate backend's path ends) against no
// memo at all: the same report, and the same trace for every flow check plans, on every bundled snapshot node
// and on a small generated one (bench/gen.mjs). The kept values are deep-frozen, so a caller that edits a
// shared answer throws here instead of changing a later flow's trace.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/commands/check.js';
import { loadDiffSide } from '../../src/commands/diff.js';
import { dirSource } from '../../src/collect/source.js';
import { planFlows } from '../../src/analysis/check/index.js';
import { createTraceContext, traceFlow } from '../../src/analysis/trace.js';
import { createTraceMemo } from '../../src/analysis/trace/memo.js';
import { deepFreeze } from '../helpers/files.js';

const root = new URL('../../', import.meta.url).pathname;

/** Every node directory of the bundled snapshots (one with an ip-addr probe, not a pod's namespace). */
function nodeDirs(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    const names = readdirSync(d, { withFileTypes: true });
    if (names.some((e) => e.isFile() && e.name.startsWith('ip-addr'))) out.push(d);
    for (const e of names) if (e.isDirectory() && e.name !== 'netns') walk(join(d, e.name));
  };
  walk(join(root, 'fixtures/snapshots'));
  return out.sort();
}

const frozen = { keep: <T>(v: T): T => deepFreeze(v) };

/** the report of check without the memo, then with it (each on its own reading of the node) */
async function reports(dir: string) {
  // a node check refuses (no links) is refused the same way by both
  const run = (memo: false | typeof frozen) =>
    runCheck(dirSource(dir), { offload: false, memo }).then(
      (o) => o.report,
      (e: unknown) => ({ refused: String(e) }),
    );
  return { plain: await run(false), memo: await run(frozen) };
}

/** every flow check plans, traced without the memo and then with it, over the node's whole Service list */
async function traces(dir: string) {
  const side = await loadDiffSide(dirSource(dir), 'after', false, { requireServices: false });
  const ctx = createTraceContext(side.state, side.services);
  const { flows } = planFlows(ctx, ctx.services);
  const plain = flows.map((p) => traceFlow(ctx, p.flow));
  ctx.memo = createTraceMemo(frozen.keep);
  ctx.backendPaths = new Map();
  const memo = flows.map((p) => traceFlow(ctx, p.flow));
  return { flows, plain, memo, ctx };
}

describe('check with its per-run memo, against no memo', () => {
  const dirs = nodeDirs();
  let gen = '';

  beforeAll(() => {
    gen = mkdtempSync(join(tmpdir(), 'npD-check-memo-'));
    // 20 pods, 100 Services × 10 backends in the LB maps and in kube-proxy's rules, 10,000 conntrack entries
    execFileSync(
      process.execPath,
      [join(root, 'bench/gen.mjs'), join(gen, 'node'), '--pods', '20', '--routes', '100', '--scale', '0.01'],
      { stdio: 'ignore' },
    );
  }, 60_000);

  afterAll(() => {
    if (gen) rmSync(gen, { recursive: true, force: true });
  });

  it('finds the bundled nodes', () => {
    expect(dirs.length).toBeGreaterThanOrEqual(15);
  });

  it('same report on every bundled node', async () => {
    for (const d of dirs) {
      const r = await reports(d);
      expect(r.memo, d).toEqual(r.plain);
    }
  }, 120_000);

  it('same trace for every planned flow on every bundled node', async () => {
    let services = 0;
    for (const d of dirs) {
      const t = await traces(d);
      expect(t.memo, d).toEqual(t.plain);
      services += t.flows.filter((f) => f.frontend !== undefined).length;
    }
    // the Service look-ups were exercised, not only plain addresses
    expect(services).toBeGreaterThan(20);
  }, 120_000);

  it('same report and traces on a generated node with 20 pods and 100 Services', async () => {
    const dir = join(gen, 'node');
    expect(existsSync(join(dir, 'iptables-save.txt'))).toBe(true);
    const r = await reports(dir);
    expect('flowsChecked' in r.plain && r.plain.flowsChecked).toBeGreaterThan(200);
    expect(r.memo).toEqual(r.plain);
    const t = await traces(dir);
    expect(t.memo).toEqual(t.plain);
    // the memo answered repeated questions (a memo that never hits would test nothing)
    expect(t.ctx.memo!.endpoints.size).toBeLessThan(t.flows.length * 2);
  }, 120_000);
});
