import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseCiliumEndpoints } from '../../../src/tools/cilium/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';

const fx = (f: string) =>
  readFileSync(fileURLToPath(new URL(`../../../fixtures/tools/cilium/endpoints/${f}`, import.meta.url)), 'utf8');

describe('parseCiliumEndpoints', () => {
  it('endpoint JSON (1.18.0 `endpoint get`): addressing, interface, identity, pod, state', () => {
    const { value, warnings } = parseCiliumEndpoints(fx('v1.18.0-endpoint-get-33.json'), 'cilium-endpoints');
    expect(warnings).toEqual([]);
    expect(value).toHaveLength(1);
    expect(value[0]).toMatchObject({
      id: 33,
      ipv4: '10.0.0.220',
      ifname: 'lxcf9e134da9662',
      ifindex: 94,
      identity: 24121,
      name: 'kube-system/coredns-54558b56c7-zth5g',
      state: 'ready',
    });
    expect(value[0]!.ipv6).toBeUndefined();
    expect(value[0]!.isHost).toBeUndefined();
    expect(value[0]!.labels).toContain('k8s:k8s-app=kube-dns');
    expect(value[0]!.source.text).toBe(
      'endpoint 33 kube-system/coredns-54558b56c7-zth5g identity 24121 ipv4 10.0.0.220 dev lxcf9e134da9662 ifindex 94 ready',
    );
  });

  it('endpoint list table (1.18.0): wrapped header, multi-line labels, host endpoint without IP', () => {
    const { value } = parseCiliumEndpoints(fx('v1.18.0-endpoint-list.txt'), 'cilium-endpoints');
    expect(value.map((e) => e.id)).toEqual([33, 274, 342, 398, 2838]);
    expect(value[0]).toMatchObject({ identity: 24121, ipv4: '10.0.0.220', state: 'ready' });
    expect(value[0]!.labels).toHaveLength(5);
    const host = value.find((e) => e.isHost)!;
    expect(host).toMatchObject({ id: 342, identity: 1 });
    expect(host.ipv4).toBeUndefined();
    expect(value[4]).toMatchObject({ id: 2838, identity: 4, labels: ['reserved:health'], ipv4: '10.0.0.203' });
  });

  it('bpf endpoint list (written from the format)', () => {
    const { value } = parseCiliumEndpoints(fx('bpf-endpoint-list.from-format.txt'), 'p');
    expect(value).toEqual([
      expect.objectContaining({ id: 33, identity: 24121, ifindex: 94, ipv4: '10.0.0.220' }),
      expect.objectContaining({ id: 2838, identity: 4, ifindex: 12, ipv4: '10.0.0.203' }),
    ]);
  });

  it('bad records are skipped with a warning; unreadable output is a ParseError', () => {
    const r = parseCiliumEndpoints(
      '[{"id": "x"}, {"id": 7, "status": {"networking": {"addressing": [{"ipv4": "2001:db8::1"}]}}}, {"id": 8, "__proto__": {"id": 9}}]',
      'p',
    );
    expect(r.value.map((e) => e.id)).toEqual([7, 8]);
    expect(r.value[0]!.ipv4).toBeUndefined();
    expect(r.warnings.map((w) => w.code)).toEqual(['record-skipped', 'value-skipped']);
    expect(() => parseCiliumEndpoints('{"id": 1}', 'p')).toThrow(ParseError);
    expect(() => parseCiliumEndpoints('[{"id": 1}', 'p')).toThrow(ParseError);
    expect(() => parseCiliumEndpoints('some text', 'p')).toThrow(ParseError);
  });
});
