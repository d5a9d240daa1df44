import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decodeIpcacheMap,
  parseCiliumEgressList,
  parseCiliumEncryptStatus,
  parseCiliumIpcache,
} from '../../../src/tools/cilium/index.js';
import { redactFiles } from '../../../src/redact/snapshot.js';
import { Redactor } from '../../../src/redact/redactor.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import { loadNodeState } from '../../../src/collect/load-state.js';
import { memorySource } from '../../../src/collect/source.js';

const fx = (p: string) => readFileSync(new URL(`../../../fixtures/tools/${p}`, import.meta.url), 'utf8');

describe('cilium bpf ipcache list', () => {
  it('reads the 1.17+ form with flags', () => {
    const { value, warnings } = parseCiliumIpcache(fx('cilium/ipcache/v1.17-kind-cilium-dbg-hastunnel.txt'), 'ci');
    expect(warnings).toEqual([]);
    expect(value).toHaveLength(18);
    const by = new Map(value.map((e) => [e.prefix, e]));
    expect(by.get('10.244.1.0/24')).toMatchObject({
      identity: 2,
      encryptKey: 0,
      tunnelEndpoint: '172.18.0.2',
      flags: ['hastunnel'],
    });
    // no tunnel endpoint is none, not 0.0.0.0
    expect(by.get('172.18.0.2/32')).toMatchObject({ identity: 6, flags: [] });
    expect(by.get('172.18.0.2/32')!.tunnelEndpoint).toBeUndefined();
    expect(by.get('0.0.0.0/0')!.source.text).toBe(
      '0.0.0.0/0           identity=2 encryptkey=0 tunnelendpoint=0.0.0.0 flags=<none>',
    );
  });

  it('reads the 1.12 form (no flags: unknown, not none; vtepmac kept as printed)', () => {
    const { value } = parseCiliumIpcache(fx('cilium/ipcache/v1.12-docs-vtep.txt'), 'ci');
    expect(value.map((e) => [e.prefix, e.identity, e.tunnelEndpoint, e.flags, e.extra?.vtepmac])).toEqual([
      ['10.1.5.0/24', 2, '10.169.72.36', undefined, '01:50:56:A0:7D:D8'],
      ['10.1.6.0/24', 2, '10.169.72.34', undefined, '01:50:56:A0:7D:D8'],
      ['10.0.0.130/32', 3, undefined, undefined, '00:00:00:00:00:00'],
      ['0.0.0.0/0', 2, undefined, undefined, '00:00:00:00:00:00'],
    ]);
  });

  it('refuses a text with no ipcache table', () => {
    expect(() => parseCiliumIpcache('Error: cannot reach agent\n', 'ci')).toThrow(ParseError);
  });
});

describe('pinned ipcache maps (bpftool, captured here)', () => {
  it('decodes cilium_ipcache (12-byte values, up to 1.17)', () => {
    const { value, warnings } = decodeIpcacheMap(
      fx('bpf-map/ipcache/bpf-map/cilium_ipcache.json'),
      'bpf-map/cilium_ipcache',
    );
    expect(warnings).toEqual([]);
    const by = new Map(value.map((e) => [e.prefix, e]));
    expect([...by.keys()].sort()).toEqual(
      ['0.0.0.0/0', '192.0.2.10/32', '192.0.2.20/32', '198.51.100.0/24', '198.51.100.7/32'].sort(),
    );
    expect(by.get('198.51.100.0/24')).toMatchObject({
      identity: 2,
      tunnelEndpoint: '192.0.2.20',
      flags: ['hastunnel'],
    });
    expect(by.get('198.51.100.7/32')).toMatchObject({ identity: 24260, encryptKey: 3, tunnelEndpoint: '192.0.2.20' });
    // a zero flag byte in a v1 value may be padding (before 1.15): flags unknown
    expect(by.get('192.0.2.20/32')!.flags).toBeUndefined();
  });

  it('decodes cilium_ipcache_v2 (24-byte values, 1.18+) with IPv6 prefixes and tunnel endpoints', () => {
    const { value } = decodeIpcacheMap(fx('bpf-map/ipcache/bpf-map/cilium_ipcache_v2.json'), 'v2');
    const by = new Map(value.map((e) => [e.prefix, e]));
    expect(by.get('2001:db8:1::/64')).toMatchObject({
      identity: 2,
      tunnelEndpoint: '2001:db8::14',
      flags: ['hastunnel', 'ipv6tunnel'],
    });
    expect(by.get('2001:db8:1::7/128')).toMatchObject({ identity: 24260 });
    expect(by.get('192.0.2.20/32')).toMatchObject({ identity: 6, flags: [] });
  });

  it('the plain-text bpftool dump decodes to the same entries as -j', () => {
    for (const m of ['cilium_ipcache', 'cilium_ipcache_v2']) {
      const j = decodeIpcacheMap(fx(`bpf-map/ipcache/bpf-map/${m}.json`), 'p').value.map(({ source: _s, ...e }) => e);
      const t = decodeIpcacheMap(fx(`bpf-map/ipcache/bpf-map-text/${m}.txt`), 'p').value.map(
        ({ source: _s, ...e }) => e,
      );
      expect(t).toEqual(j);
    }
  });

  it('--redact rewrites the prefix and tunnel endpoint bytes, keeping prefix lengths and identities', () => {
    const r = new Redactor({ key: Buffer.alloc(32, 3) });
    for (const m of ['cilium_ipcache', 'cilium_ipcache_v2']) {
      const orig = fx(`bpf-map/ipcache/bpf-map/${m}.json`);
      const { files, dropped } = redactFiles(r, new Map([[`bpf-map/${m}.json`, orig]]), 'random');
      expect(dropped).toEqual([]);
      const a = decodeIpcacheMap(orig, 'p').value;
      const b = decodeIpcacheMap(files.get(`bpf-map/${m}.json`)!, 'p').value;
      expect(b.map((e) => [e.prefix.split('/')[1], e.identity, e.flags])).toEqual(
        a.map((e) => [e.prefix.split('/')[1], e.identity, e.flags]),
      );
      for (const [i, e] of b.entries()) {
        const o = a[i]!;
        if (o.prefix !== '0.0.0.0/0') expect(e.prefix).not.toBe(o.prefix);
        if (o.tunnelEndpoint) expect(e.tunnelEndpoint).toBe(r.ip(o.tunnelEndpoint));
        if (/\/(32|128)$/.test(o.prefix)) expect(e.prefix.split('/')[0]).toBe(r.ip(o.prefix.split('/')[0]!));
      }
    }
  });
});

describe('cilium bpf egress list', () => {
  it('reads rows of every version, `Not Found` as not-found', () => {
    expect(
      parseCiliumEgressList(fx('cilium/egress/v1.13-docs-pr-23167.txt'), 'e').value.map(({ source: _s, ...e }) => e),
    ).toEqual([
      { sourceIp: '192.168.2.23', destCidr: '192.168.60.13/32', egressIp: '0.0.0.0', gatewayIp: '192.168.60.12' },
    ]);
    expect(parseCiliumEgressList(fx('cilium/egress/v1.18-issue-39985.txt'), 'e').value[0]).toMatchObject({
      sourceIp: '172.28.131.174',
      destCidr: '0.0.0.0/0',
      egressIp: '148.251.148.232',
      gatewayNone: 'not-found',
    });
    expect(parseCiliumEgressList(fx('cilium/egress/v1.14-not-found-issue-27142.txt'), 'e').value).toHaveLength(1);
  });

  it('`No entries found.` is an empty table, not an error; no table at all is', () => {
    const r = parseCiliumEgressList(fx('cilium/egress/v1.10-no-entries-issue-16278.txt'), 'e');
    expect(r.value).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(() => parseCiliumEgressList('Cannot find egress gateway bpf maps\n', 'e')).toThrow(ParseError);
  });
});

describe('cilium encrypt status', () => {
  it('reads the IPsec form (1.11)', () => {
    const { value, warnings } = parseCiliumEncryptStatus(fx('cilium/encrypt/v1.11-ipsec-issue-17274.txt'), 'es');
    expect(warnings).toEqual([]);
    expect(value.mode).toBe('ipsec');
    expect(value.nodeEncryption).toBe('disabled');
    expect(value.ipsec).toEqual({
      keysInUse: 2,
      maxSeqNumber: '0xffffbd4f/0xffffffff',
      errors: 12,
      xfrmErrors: { XfrmInStateProtoError: 12 },
    });
  });

  it('reads Disabled and the WireGuard form', () => {
    expect(parseCiliumEncryptStatus(fx('cilium/encrypt/v1.17-disabled.txt'), 'es').value.mode).toBe('Disabled');
    const wg = parseCiliumEncryptStatus(fx('cilium/encrypt/wireguard.from-format.txt'), 'es').value;
    expect(wg.mode).toBe('Wireguard');
    expect(wg.wireguard?.map(({ source: _s, ...w }) => w)).toEqual([
      { name: 'cilium_wg0', publicKey: 'GsIGt1Juo6p8gR93driyMD5FwFu2uOBBYGVsZtfQxho=', peers: 1 },
    ]);
  });
});

describe('loading the new probes into NodeState', () => {
  it('a probe that is not in the snapshot is missing and its field unknown (undefined), never empty', async () => {
    const s = await loadNodeState(memorySource(new Map([['uname.txt', '6.1.0\n']]), 'test'));
    expect(s.cilium.ipcache).toBeUndefined();
    expect(s.cilium.ipcacheMap).toBeUndefined();
    expect(s.cilium.encryptStatus).toBeUndefined();
    expect(s.cilium.egressGateway).toBeUndefined();
    expect(s.xfrm).toEqual({});
    for (const id of [
      'cilium-ipcache',
      'bpf-map/cilium_ipcache_v2',
      'bpf-map/cilium_ipcache',
      'cilium-encrypt-status',
      'cilium-egress-list',
      'ip-xfrm-state',
      'ip-xfrm-policy',
    ])
      expect(s.sources.find((x) => x.probe === id)?.status, id).toBe('missing');
  });

  it('each probe file lands in its field with evidence naming the probe; v2 map wins over v1', async () => {
    const s = await loadNodeState(
      memorySource(
        new Map([
          ['cilium-ipcache.txt', fx('cilium/ipcache/v1.17-kind-cilium-dbg-hastunnel.txt')],
          ['bpf-map/cilium_ipcache.json', fx('bpf-map/ipcache/bpf-map/cilium_ipcache.json')],
          ['bpf-map/cilium_ipcache_v2.json', fx('bpf-map/ipcache/bpf-map/cilium_ipcache_v2.json')],
          ['cilium-encrypt-status.txt', fx('cilium/encrypt/v1.11-ipsec-issue-17274.txt')],
          ['cilium-egress-list.txt', fx('cilium/egress/v1.18-issue-39985.txt')],
          ['ip-xfrm-state.txt', fx('xfrm/ip-xfrm-state.cilium-docs-xfrm-guide.txt')],
          ['ip-xfrm-policy.txt', fx('xfrm/ip-xfrm-policy.iproute2-6.1.txt')],
        ]),
        'test',
      ),
    );
    expect(s.cilium.ipcache?.[0]?.source.probe).toBe('cilium-ipcache');
    expect(s.cilium.ipcacheMap?.[0]?.source.probe).toBe('bpf-map/cilium_ipcache_v2');
    expect(s.cilium.encryptStatus?.mode).toBe('ipsec');
    expect(s.cilium.egressGateway?.[0]?.source.probe).toBe('cilium-egress-list');
    expect(s.xfrm.states?.[0]?.source.probe).toBe('ip-xfrm-state');
    expect(s.xfrm.policies).toHaveLength(6);
  });
});

describe('cilium bpf ipcache list -o json', () => {
  it('reads the JSON form (encoding/json of the map from prefix to values) as the table, clustermesh `@N` too', () => {
    const text = fx('cilium/ipcache/v1.17-kind-cilium-dbg-hastunnel.txt');
    const table = parseCiliumIpcache(text, 'ci').value;
    // the agent's map[string][]string, built from the table's own lines
    const obj: Record<string, string[]> = {};
    for (const l of text.split('\n').slice(1).filter(Boolean)) {
      const [k, ...v] = l.split(/\s+/);
      (obj[k!] ??= []).push(v.join(' '));
    }
    const json = parseCiliumIpcache(JSON.stringify(obj, null, 2), 'ci').value;
    const strip = (es: typeof table) =>
      es.map(({ source: _s, ...e }) => e).sort((a, b) => a.prefix.localeCompare(b.prefix));
    expect(strip(json)).toEqual(strip(table));
    const mesh = parseCiliumIpcache(text.replace('10.244.1.0/24 ', '10.244.1.0/24@7'), 'ci').value;
    expect(mesh.find((e) => e.clusterId !== undefined)).toMatchObject({ prefix: '10.244.1.0/24', clusterId: 7 });
  });
});
