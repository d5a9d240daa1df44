import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { decodeLbMaps, LB_MAP_NAMES } from '../../src/tools/bpf-map/index.js';

function canBpf(): { ok: boolean; why: string } {
  if (process.getuid?.() !== 0) return { ok: false, why: 'needs root' };
  try {
    execFileSync('bpftool', ['version'], { stdio: 'ignore' });
  } catch {
    return { ok: false, why: 'bpftool missing' };
  }
  return { ok: true, why: '' };
}
const CAN = canBpf();

type Key = keyof typeof LB_MAP_NAMES;
const SIZES: Record<Key, [number, number]> = {
  services4: [12, 12],
  backends4: [4, 12],
  revnat4: [2, 6],
  services6: [24, 12],
  backends6: [4, 24],
  revnat6: [2, 18],
};
const h = (s: string) => s.trim().split(/\s+/);
const V6_SVC = '20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 0a';
const V6_BE = '20 01 0d b8 00 01 00 00 00 00 00 00 00 00 00 05';

// v1.17+ layout. The first six rows are the worked example of docs/cilium-datapath.md §1.2.
const ENTRIES: Record<Key, [string, string][]> = {
  services4: [
    ['0a 60 00 0a 00 35 00 00 11 00 00 00', '00 00 00 00 02 00 00 05 00 00 00 00'],
    ['0a 60 00 0a 00 35 01 00 11 00 00 00', '07 00 00 00 00 00 00 05 00 00 00 00'],
    ['0a 60 00 0a 00 35 02 00 11 00 00 00', '08 00 00 00 00 00 00 05 00 00 00 00'],
    // NodePort 192.0.2.10:31940/TCP, eTP=Local, routable, rev-NAT 8: one active slot, one quarantined slot
    ['c0 00 02 0a 7c c4 00 00 06 00 00 00', '00 00 00 00 01 00 00 08 46 00 01 00'],
    ['c0 00 02 0a 7c c4 01 00 06 00 00 00', '09 00 00 00 00 00 00 08 46 00 00 00'],
    ['c0 00 02 0a 7c c4 02 00 06 00 00 00', '0b 00 00 00 00 00 00 08 46 40 00 00'],
    // NodePort surrogate 0.0.0.0:31940/TCP, non-routable, rev-NAT 7, slot 1 → backend 99 which does not exist
    ['00 00 00 00 7c c4 00 00 06 00 00 00', '00 00 00 00 01 00 00 07 02 00 00 00'],
    ['00 00 00 00 7c c4 01 00 06 00 00 00', '63 00 00 00 00 00 00 07 02 00 00 00'],
  ],
  backends4: [
    ['07 00 00 00', '0a f4 01 ab 00 35 11 00 00 00 00 00'],
    ['08 00 00 00', '0a f4 02 ce 00 35 11 00 00 00 00 00'],
    ['09 00 00 00', '0a f4 01 14 1f 90 06 01 00 00 00 00'],
    ['0b 00 00 00', '0a f4 02 1e 1f 90 06 02 00 00 00 00'],
  ],
  revnat4: [
    ['00 05', '0a 60 00 0a 00 35'],
    ['00 08', 'c0 00 02 0a 7c c4'],
    ['00 07', '00 00 00 00 7c c4'],
  ],
  // [2001:db8::a]:443/TCP ClusterIP, sessionAffinity 10800 s with maglev (2<<24 | 10800), rev-NAT 9
  services6: [
    [`${V6_SVC} 01 bb 00 00 06 00 00 00`, '30 2a 00 02 01 00 00 09 10 00 00 00'],
    [`${V6_SVC} 01 bb 01 00 06 00 00 00`, '0a 00 00 00 00 00 00 09 10 00 00 00'],
  ],
  backends6: [['0a 00 00 00', `${V6_BE} 20 fb 06 00 00 00 00 00`]],
  revnat6: [['00 09', `${V6_SVC} 01 bb`]],
};

describe.skipIf(!CAN.ok)(
  `Cilium LB maps in the kernel, dumped by bpftool and decoded${CAN.ok ? '' : ` [skipped: ${CAN.why}]`}`,
  () => {
    const dir = `/sys/fs/bpf/np-h6-${randomBytes(4).toString('hex')}`;
    const json: Partial<Record<Key, string>> = {};
    const plain: Partial<Record<Key, string>> = {};

    beforeAll(() => {
      if (!existsSync('/sys/fs/bpf')) mkdirSync('/sys/fs/bpf', { recursive: true });
      try {
        execFileSync('findmnt', ['-t', 'bpf', '/sys/fs/bpf'], { stdio: 'ignore' });
      } catch {
        execFileSync('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
      }
      mkdirSync(dir);
      for (const k of Object.keys(LB_MAP_NAMES) as Key[]) {
        const name = LB_MAP_NAMES[k];
        const path = `${dir}/${name}`;
        const [ks, vs] = SIZES[k];
        execFileSync('bpftool', [
          'map',
          'create',
          path,
          'type',
          'hash',
          'key',
          String(ks),
          'value',
          String(vs),
          'entries',
          '64',
          'name',
          name.slice(0, 15),
        ]);
        for (const [key, value] of ENTRIES[k]) {
          execFileSync('bpftool', [
            'map',
            'update',
            'pinned',
            path,
            'key',
            'hex',
            ...h(key),
            'value',
            'hex',
            ...h(value),
          ]);
        }
        json[k] = execFileSync('bpftool', ['-j', 'map', 'dump', 'pinned', path], { encoding: 'utf8' });
        plain[k] = execFileSync('bpftool', ['map', 'dump', 'pinned', path], { encoding: 'utf8' });
      }
      const out = process.env.NP_H6_CAPTURE;
      if (out) {
        mkdirSync(out, { recursive: true });
        for (const k of Object.keys(LB_MAP_NAMES) as Key[]) {
          writeFileSync(`${out}/${LB_MAP_NAMES[k]}.json`, json[k]!);
          writeFileSync(`${out}/${LB_MAP_NAMES[k]}.txt`, plain[k]!);
        }
      }
    });

    afterAll(() => {
      // pinned maps are freed when their pin (the only reference) goes away
      if (dir.startsWith('/sys/fs/bpf/np-h6-')) rmSync(dir, { recursive: true, force: true });
    });

    for (const form of ['json', 'plain'] as const) {
      it(`decodes the ${form} dumps exactly`, () => {
        const r = decodeLbMaps(form === 'json' ? json : plain);
        expect(r.value.layout).toMatchObject({ version: '1.17+', ambiguous: false });
        expect(r.warnings.map((w) => w.code)).toEqual(['backend-missing']);
        expect(r.warnings[0]!.message).toContain('backend 99');
        const s = r.value.services;
        expect(s.map((x) => [x.id, x.type, x.frontend.address, x.frontend.port, x.frontend.proto])).toEqual([
          [5, 'ClusterIP', '10.96.0.10', 53, 'UDP'],
          [7, 'NodePort', '0.0.0.0', 31940, 'TCP'],
          [8, 'NodePort', '192.0.2.10', 31940, 'TCP'],
          [9, 'ClusterIP', '2001:db8::a', 443, 'TCP'],
        ]);
        const dns = s[0]!;
        expect(dns.source).toBe('cilium-bpf');
        expect(dns.flags).toMatchObject({
          routable: false,
          externalTrafficPolicyLocal: false,
          sessionAffinity: false,
          dsr: false,
        });
        expect(dns.slots).toEqual({ count: 2, qcount: 0 });
        expect(dns.backends.map((b) => [b.id, b.slot, b.address, b.port, b.proto, b.state])).toEqual([
          ['7', 1, '10.244.1.171', 53, 'UDP', 'active'],
          ['8', 2, '10.244.2.206', 53, 'UDP', 'active'],
        ]);
        const np = s[2]!;
        expect(np.flags).toMatchObject({ routable: true, externalTrafficPolicyLocal: true });
        expect(np.slots).toEqual({ count: 1, qcount: 1 });
        expect(np.backends.map((b) => [b.id, b.slot, b.address, b.port, b.state])).toEqual([
          ['9', 1, '10.244.1.20', 8080, 'terminating'],
          ['11', 2, '10.244.2.30', 8080, 'quarantined'],
        ]);
        expect(s[1]!.flags.routable).toBe(false);
        expect(s[1]!.backends).toEqual([]);
        const v6 = s[3]!;
        expect(v6.flags).toMatchObject({
          sessionAffinity: true,
          affinityTimeoutSeconds: 10800,
          algorithm: 'maglev',
          routable: false,
        });
        expect(v6.backends).toEqual([
          expect.objectContaining({
            id: '10',
            address: '2001:db8:1::5',
            port: 8443,
            proto: 'TCP',
            state: 'active',
            slot: 1,
          }),
        ]);
        expect(v6.evidence.map((e) => e.probe)).toEqual(['cilium_lb6_services_v2', 'cilium_lb6_reverse_nat']);
      });
    }
  },
);
