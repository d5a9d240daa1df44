import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToIp, ipToBytes, prefixContains } from '../../src/model/addr.js';
import { Redactor } from '../../src/redact/redactor.js';
import { SourceError } from '../../src/errors.js';

const r = new Redactor({ key: Buffer.alloc(32, 1) });
const other = new Redactor({ key: Buffer.alloc(32, 2) });

function cpl(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length * 8; i++) if (((a[i >> 3]! ^ b[i >> 3]!) >> (7 - (i & 7))) & 1) return i;
  return a.length * 8;
}

const SPECIAL = [
  '0.0.0.0/8',
  '127.0.0.0/8',
  '224.0.0.0/4',
  '255.255.255.255/32',
  '169.254.0.0/16',
  '::/128',
  '::1/128',
  '::ffff:0:0/96',
  'fe80::/10',
  'ff00::/8',
];
const inSpecial = (a: string) => SPECIAL.some((p) => prefixContains(p, a));

const v4 = fc.uint8Array({ minLength: 4, maxLength: 4 });
const v6 = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  // addresses that share long prefixes, as a node's do
  fc
    .tuple(
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.nat({ max: 15 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
    )
    .map(([a, k, b]) => Uint8Array.from([...a.subarray(0, k), ...b.subarray(k)])),
);
const pair = (g: fc.Arbitrary<Uint8Array>) =>
  fc.tuple(g, g, fc.nat({ max: 127 })).map(([a, b, k]) => {
    // b shares the first k bits of a
    const c = Uint8Array.from(b);
    for (let i = 0; i < Math.min(k, a.length * 8); i++) {
      const m = 0x80 >> (i & 7);
      c[i >> 3] = (c[i >> 3]! & ~m) | (a[i >> 3]! & m);
    }
    return [a, c] as const;
  });

describe('prefix-preserving address map', () => {
  it('two addresses sharing a k-bit prefix share exactly a k-bit prefix after mapping (IPv4, IPv6)', () => {
    fc.assert(
      fc.property(fc.oneof(pair(v4), pair(v6)), ([a, b]) => {
        expect(cpl(r.ipBytes(a), r.ipBytes(b))).toBe(cpl(a, b));
      }),
      { numRuns: 3000, seed: 7 },
    );
  });

  it('is one-to-one: 20,000 addresses of one /16 and one /48 give 20,000 placeholders', () => {
    for (const base of [
      [10, 244],
      [0x20, 0x01, 0x0d, 0xb8, 0, 0x42],
    ]) {
      const seen = new Set<string>();
      for (let i = 0; i < 10_000; i++) {
        const b = new Uint8Array(base.length === 2 ? 4 : 16);
        b.set(base);
        b[b.length - 2] = i >> 8;
        b[b.length - 1] = i & 0xff;
        seen.add(bytesToIp(r.ipBytes(b)));
      }
      expect(seen.size).toBe(10_000);
    }
  });

  it('keeps loopback, unspecified, multicast, broadcast and default routes; link-local keeps its prefix', () => {
    for (const a of [
      '0.0.0.0',
      '127.0.0.1',
      '127.0.0.53',
      '224.0.0.251',
      '239.1.2.3',
      '255.255.255.255',
      '::',
      '::1',
      'ff02::1',
      'ff02::2',
      'ff05::1:3',
    ])
      expect(r.ip(a)).toBe(a);
    expect(r.text('0.0.0.0/0 ::/0 default')).toBe('0.0.0.0/0 ::/0 default');
    expect(r.ip('169.254.7.9')).toMatch(/^169\.254\./);
    expect(r.ip('169.254.7.9')).not.toBe('169.254.7.9');
    expect(r.ip('fe80::e8f0:24ff:fe80:60c1')).toMatch(/^fe80::/);
    expect(r.ip('fe80::e8f0:24ff:fe80:60c1')).not.toBe('fe80::e8f0:24ff:fe80:60c1');
    // the solicited-node group of an address keeps its /104 and moves with the address it is derived from
    expect(r.ip('ff02::1:ff80:60c1')).toMatch(/^ff02::1:ff/);
    expect(r.ip('ff02::1:ff80:60c1')).not.toBe('ff02::1:ff80:60c1');
  });

  it("keeps Cilium's default service loopback 169.254.42.1, and no other link-local address lands on it", () => {
    for (const red of [r, other]) {
      expect(red.ip('169.254.42.1')).toBe('169.254.42.1');
      const seen = new Set<string>();
      for (let x = 0; x < 65536; x++) {
        const a = `169.254.${x >> 8}.${x & 255}`;
        const m = red.ip(a)!;
        expect(m.startsWith('169.254.')).toBe(true);
        if (a !== '169.254.42.1' && m === '169.254.42.1') throw new Error(`${a} maps onto the kept loopback`);
        seen.add(m);
      }
      expect(seen.size).toBe(65536);
    }
  });

  it('never maps an ordinary address into a special range', () => {
    fc.assert(
      fc.property(fc.oneof(v4, v6), (b) => {
        const a = bytesToIp(b);
        if (inSpecial(a) || prefixContains('ff02::1:ff00:0/104', a)) return;
        expect(inSpecial(r.ip(a)!), `${a} → ${r.ip(a)}`).toBe(false);
      }),
      { numRuns: 5000, seed: 11 },
    );
  });

  it('maps an IPv4-mapped IPv6 address through the IPv4 map', () => {
    expect(r.ip('::ffff:10.244.1.12')).toBe(`::ffff:${r.ip('10.244.1.12')}`);
  });

  it('is keyed: another key gives other placeholders, the same key the same ones', () => {
    expect(other.ip('10.244.1.12')).not.toBe(r.ip('10.244.1.12'));
    expect(new Redactor({ key: Buffer.alloc(32, 1) }).ip('2001:db8:42::a:5')).toBe(r.ip('2001:db8:42::a:5'));
    expect(new Redactor().ip('10.244.1.12')).not.toBe(new Redactor().ip('10.244.1.12'));
  });

  it('keeps a network prefix a network prefix, with the bits of the addresses inside it', () => {
    const net = r.text('10.244.2.0/24');
    expect(net).toMatch(/^\d+\.\d+\.\d+\.0\/24$/);
    expect(prefixContains(net, r.ip('10.244.2.7')!)).toBe(true);
    expect(prefixContains(net, r.ip('10.244.3.7')!)).toBe(false);
    // an interface address with its prefix length is an address, not a network
    expect(r.text('inet 10.244.1.12/24 brd 10.244.1.255')).toBe(
      `inet ${r.ip('10.244.1.12')}/24 brd ${r.ip('10.244.1.255')}`,
    );
    expect(r.json({ src: '10.0.0.0', srclen: 8 })).toEqual({ src: r.text('10.0.0.0/8').split('/')[0], srclen: 8 });
    expect(r.json({ prefix: { addr: '2001:db8::', len: 32 } })).toEqual({
      prefix: { addr: r.text('2001:db8::/32').split('/')[0], len: 32 },
    });
    // iproute2's short forms, in ip's own output only
    expect(r.text('10/8 via 10.244/16', { shortPrefixes: true })).toBe(
      `${r.text('10.0.0.0/8')} via ${r.text('10.244.0.0/16')}`,
    );
    expect(r.text('Cluster health: 3/3 reachable')).toBe('Cluster health: 3/3 reachable');
  });
});

describe('redacting text', () => {
  it('finds addresses in every form probes print them', () => {
    const a = r.ip('10.244.1.12')!;
    const b = r.ip('2001:db8:1::1')!;
    const cases: [string, string][] = [
      ['10.244.1.12:8080/TCP', `${a}:8080/TCP`],
      ['[2001:db8:1::1]:51820', `[${b}]:51820`],
      ['src=10.244.1.12 dst=2001:db8:1::1', `src=${a} dst=${b}`],
      ['cidr:10.244.1.12/32', `cidr:${a}/32`],
      ['"10.244.1.12"', `"${a}"`],
      ['at 10.244.1.12.', `at ${a}.`],
      ['\u001b[32m10.244.1.12\u001b[0m', a],
      ['fe80::1%eth0', `${r.ip('fe80::1')}%eth0`],
      ['10.244.1.12-2001:db8:1::1', `${a}-${b}`],
      ['ip-10-244-1-12.ec2.internal', `ip-${a.replace(/\./g, '-')}.ec2.internal`],
      [
        '2026-11-23T08:42:57.964Z v1.13.9 (v1.13.9-cde7f964) 3/254 1.2.3.4.5',
        '2026-11-23T08:42:57.964Z v1.13.9 (v1.13.9-cde7f964) 3/254 1.2.3.4.5',
      ],
    ];
    for (const [input, want] of cases) expect(r.text(input), input).toBe(want);
  });

  it('maps MAC addresses consistently, keeping the local and multicast bits and the special ones', () => {
    const m = r.mac('ea:f0:24:80:60:c1');
    expect(m).not.toBe('ea:f0:24:80:60:c1');
    expect(parseInt(m.slice(0, 2), 16) & 3).toBe(0xea & 3);
    expect(r.text('lladdr ea:f0:24:80:60:c1 REACHABLE')).toBe(`lladdr ${m} REACHABLE`);
    expect(r.text('bridge_id 8000.ea:f0:24:80:60:c1')).toBe(`bridge_id 8000.${m}`);
    expect(r.mac('EA:F0:24:80:60:C1')).toBe(m.toUpperCase());
    for (const x of ['00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:fb', '33:33:00:00:00:01'])
      expect(r.mac(x)).toBe(x);
    const group = ipToBytes(r.ip('ff02::1:ff80:60c1')!)!;
    expect(r.mac('33:33:ff:80:60:c1')).toBe(
      ['33', '33', 'ff', ...Array.from(group.subarray(13), (x) => x.toString(16).padStart(2, '0'))].join(':'),
    );
  });

  it("maps WireGuard public keys to valid keys, and netpath's abbreviation of a key with them", () => {
    const k = 'JrpKhZJ//XKclrd+6p8SGfp0GadsW7Ikxu7YWQK0hTk=';
    const out = r.text(`Pubkey: ${k}, Port`);
    const m = /Pubkey: (\S+),/.exec(out)![1]!;
    expect(m).not.toBe(k);
    expect(Buffer.from(m, 'base64')).toHaveLength(32);
    expect(r.text(`peer ${k.slice(0, 8)}…`)).toBe(`peer ${m.slice(0, 8)}…`);
  });

  it('replaces node names as whole words only, and never a keyword or a device name', () => {
    const x = new Redactor({ key: Buffer.alloc(32, 3) });
    x.addNames(['k1', 'worker-7.corp.example.com', 'gateway', 'eth0']);
    x.reserveNames(['eth0']);
    const k1 = x.nodeName('k1');
    expect(k1).toMatch(/^node-[a-z2-7]{8}$/);
    expect(x.text('on node k1. k1-port np-lab-k1 cni-5f0c1d2e-k1a')).toBe(
      `on node ${k1}. k1-port np-lab-k1 cni-5f0c1d2e-k1a`,
    );
    // an FQDN and its first label are the same node
    expect(x.text('worker-7.corp.example.com worker-7')).toBe(`${x.nodeName('worker-7')} ${x.nodeName('worker-7')}`);
    expect(x.text('via gateway dev eth0')).toBe('via gateway dev eth0');
    expect(x.nodeName('gateway')).toMatch(/^node-/);
    // a node named by its address is an address
    expect(x.nodeName('10.244.1.12')).toBe(x.ip('10.244.1.12'));
  });

  it('never lets a JSON key become a prototype', () => {
    const v = r.json(JSON.parse('{"__proto__":{"polluted":"10.0.0.1"},"a":1}')) as Record<string, unknown>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(v)).toContain('__proto__');
  });
});

describe('--redact-key-file', () => {
  it('derives the same mapping from the same file, and refuses a missing or short one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'np-key-'));
    try {
      writeFileSync(join(dir, 'k'), 'a secret of more than sixteen bytes');
      expect(Redactor.fromKeyFile(join(dir, 'k')).ip('10.1.2.3')).toBe(
        Redactor.fromKeyFile(join(dir, 'k')).ip('10.1.2.3'),
      );
      writeFileSync(join(dir, 'short'), 'short');
      expect(() => Redactor.fromKeyFile(join(dir, 'short'))).toThrow(SourceError);
      expect(() => Redactor.fromKeyFile(join(dir, 'none'))).toThrow(/no such key file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

it('ipToBytes/bytesToIp agree with the mapped text (sanity)', () => {
  expect(bytesToIp(r.ipBytes(ipToBytes('10.244.1.12')!))).toBe(r.ip('10.244.1.12'));
});
