import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { dirSource, memorySource } from '../../src/collect/source.js';
import { runDiff } from '../../src/commands/diff.js';
import { diffJsonSchema } from '../../src/render/json.js';

// A kube-proxy → Cilium migration whose after side is what a user pastes: `cilium service list` as text instead of
// the LB maps (fixtures/tools/cilium-lb/README.md says how the lists were written from the after snapshots' own
// maps). The text list shows no traffic policy and no session affinity: diff must not read them as Cluster/None,
// must report no regression from them, and must list what it could not compare.

const snaps = fileURLToPath(new URL('../../fixtures/snapshots/', import.meta.url));
const list = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../../fixtures/tools/cilium-lb/service-list/${name}`, import.meta.url)));

/** The after snapshot with its LB maps replaced by the text service list. */
function textAfter(dir: string, serviceList: Buffer) {
  const files = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  for (const k of [...files.keys()]) if (k.startsWith('bpf-map/')) files.delete(k);
  files.set('cilium-service-list.txt', serviceList);
  return memorySource(files, `${dir} (text service list)`);
}

describe.each(['iptables', 'ipvs', 'nft'])('diff migrate-%s before → after with a text `cilium service list`', (m) => {
  it('is clean (exit 0): nothing the text cannot show is a regression, and what was not compared is listed', async () => {
    const before = dirSource(join(snaps, `migrate-${m}/before`));
    const after = textAfter(join(snaps, `migrate-${m}/after`), list('v1.19-migrate-after.from-format.txt'));
    const { diff, exitCode } = await runDiff(before, after);
    expect(diffJsonSchema.safeParse(diff).success).toBe(true);
    expect(diff.after.layers).toEqual(['cilium-dbg']);
    expect(diff.services.filter((s) => s.regression).map((s) => s.summary)).toEqual([]);
    expect(diff.summary.verdict).toBe('clean');
    expect(exitCode).toBe(0);
    // every frontend kept its backends; the policy and affinity were not compared, and say why
    expect(diff.services.every((s) => s.status !== 'removed' && s.status !== 'added')).toBe(true);
    for (const s of diff.services) {
      expect(s.after?.trafficPolicy, s.frontend).toBe('unknown');
      expect(s.after?.affinity.enabled, s.frontend).toBe('unknown');
      expect(s.changes.map((c) => c.field)).not.toContain('traffic-policy');
      expect(s.changes.map((c) => c.field)).not.toContain('affinity');
      expect(s.notCompared?.map((n) => `${n.field}:${n.side}`).sort()).toEqual([
        'affinity:after',
        'traffic-policy:after',
      ]);
      expect(s.notCompared?.[0]?.because).toMatch(/text `cilium service list` does not show it/);
    }
    expect(diff.summary.lines.find((l) => l.startsWith('Not compared:'))).toMatch(
      /session affinity of 11 frontends .*traffic policy of 11 frontends/,
    );
  });
});

describe('the same text after side still shows a real regression', () => {
  it('after-broken (Cilium lost default/sticky): the frontend is removed, exit 1', async () => {
    const before = dirSource(join(snaps, 'migrate-iptables/before'));
    const after = textAfter(
      join(snaps, 'migrate-iptables/after-broken'),
      list('v1.19-migrate-iptables-after-broken.from-format.txt'),
    );
    const { diff, exitCode } = await runDiff(before, after);
    const sticky = diff.services.find((s) => s.frontend === '10.96.88.30:8443/TCP');
    expect(sticky).toMatchObject({ status: 'removed', regression: true });
    expect(diff.summary.verdict).toBe('regressions');
    expect(exitCode).toBe(1);
  });
});
