import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseXfrmPolicy, parseXfrmState, redactXfrm } from '../../../src/tools/xfrm/index.js';
import { redactSecrets } from '../../../src/tools/secrets.js';
import { redactFiles } from '../../../src/redact/snapshot.js';
import { Redactor } from '../../../src/redact/redactor.js';
import { ParseError } from '../../../src/tools/parse-error.js';

const dir = new URL('../../../fixtures/tools/xfrm/', import.meta.url);
const fx = (n: string) => readFileSync(new URL(n, dir), 'utf8');

/** every key token of the fixtures: the word after the algorithm name on enc/auth/auth-trunc/aead lines */
function keysIn(text: string): string[] {
  return [...text.matchAll(/\b(?:enc|auth|auth-trunc|aead)[ \t]+\S+[ \t]+(\S+)/g)].map((m) => m[1]!);
}

describe('ip xfrm state', () => {
  it("reads Cilium's state (marks, output-mark, aead, selector) from the XFRM reference guide", () => {
    const { value, warnings } = parseXfrmState(fx('ip-xfrm-state.cilium-docs-xfrm-guide.txt'), 'ip-xfrm-state');
    expect(warnings).toEqual([]);
    expect(value).toHaveLength(1);
    const s = value[0]!;
    expect(s).toMatchObject({
      src: '10.56.0.17',
      dst: '10.56.1.238',
      proto: 'esp',
      spi: 3,
      reqid: 1,
      mode: 'tunnel',
      mark: { value: 0xcb93e00, mask: 0xffffff00 },
      outputMark: { value: 0xe00, mask: 0xffffff00 },
      algorithms: [{ kind: 'aead', name: 'rfc4106(gcm(aes))' }],
      sel: { src: '0.0.0.0/0', dst: '0.0.0.0/0' },
    });
    // the key is not in the model
    expect(JSON.stringify(value)).not.toContain('6254fced');
  });

  it('reads ESP-in-UDP encapsulation and two states; an ESN/offload state', () => {
    const two = parseXfrmState(fx('ip-xfrm-state.blog-espinudp.txt'), 'p').value;
    expect(two.map((s) => [s.src, s.dst, s.spi, s.encap])).toEqual([
      ['31.1.2.3', '192.168.1.4', 0xdeadbeef, { type: 'espinudp', sport: 10421, dport: 61525 }],
      ['192.168.1.4', '31.1.2.3', 0xdeadbeef, { type: 'espinudp', sport: 61525, dport: 10421 }],
    ]);
    const esn = parseXfrmState(fx('ip-xfrm-state.netdev-mlx5-esn-offload.txt'), 'p');
    expect(esn.value.map((s) => [s.spi, s.reqid, s.mode])).toEqual([[0xc88b7652, 1, 'tunnel']]);
  });

  it('reads the one-line form (`ip -o xfrm state`) as the block form', () => {
    const t = fx('ip-xfrm-state.cilium-docs-xfrm-guide.txt');
    const oneLine = t.trim().split('\n').join(' \\ ') + '\n';
    const a = parseXfrmState(t, 'p').value.map(({ source: _s, ...x }) => x);
    const b = parseXfrmState(oneLine, 'p').value.map(({ source: _s, ...x }) => x);
    expect(b).toEqual(a);
  });

  it('refuses output that has no state', () => {
    expect(() => parseXfrmState('Error: Requested type not found.\n', 'p')).toThrow(ParseError);
  });
});

describe('ip xfrm policy (captured here, iproute2 6.1)', () => {
  it('reads direction, priority, action, mark and templates (with `level use`)', () => {
    const { value, warnings } = parseXfrmPolicy(fx('ip-xfrm-policy.iproute2-6.1.txt'), 'ip-xfrm-policy');
    expect(warnings).toEqual([]);
    expect(value.map((p) => [p.src, p.dst, p.dir, p.priority, p.action, p.mark?.value, p.mark?.mask])).toEqual([
      ['192.0.2.0/24', '198.51.100.0/24', 'out', 5, undefined, undefined, undefined],
      ['192.0.2.0/24', '198.51.100.0/24', 'out', 10, 'block', undefined, undefined],
      ['::/0', '2001:db8:1::/64', 'out', 0, undefined, 0xe00, 0xff00],
      ['0.0.0.0/0', '0.0.0.0/0', 'fwd', 2975, undefined, undefined, undefined],
      ['0.0.0.0/0', '192.0.2.0/24', 'in', 0, undefined, 0xd00, 0xf00],
      ['0.0.0.0/0', '198.51.100.0/24', 'out', 0, undefined, 0xe00, 0xff00],
    ]);
    expect(value[4]!.templates).toEqual([
      { src: '198.51.100.10', dst: '192.0.2.10', proto: 'esp', reqid: 1, mode: 'tunnel', level: 'use' },
    ]);
    expect(value[5]!.templates[0]).toEqual({
      src: '192.0.2.10',
      dst: '198.51.100.10',
      proto: 'esp',
      spi: 3,
      reqid: 1,
      mode: 'tunnel',
    });
  });

  it('`ip -s xfrm policy` (spi `0x…(N)`, reqid `N(0x…)`, `level required share any`) reads as the plain form', () => {
    const strip = (v: ReturnType<typeof parseXfrmPolicy>['value']) =>
      v.map(({ source: _s, ...p }) => ({ ...p, templates: p.templates.map(({ level: _l, ...t }) => t) }));
    const plain = strip(parseXfrmPolicy(fx('ip-xfrm-policy.iproute2-6.1.txt'), 'p').value);
    const stats = strip(parseXfrmPolicy(fx('ip-s-xfrm-policy.iproute2-6.1.txt'), 'p').value);
    // `-s` prints the default action and a spi of 0 that the plain form leaves out
    expect(stats.map((p) => ({ ...p, action: p.action === 'allow' ? undefined : p.action }))).toEqual(
      plain
        .map((p) => ({ ...p, action: p.action, templates: p.templates.map((t) => ({ spi: 0, ...t })) }))
        .map((p) => ({
          ...p,
          action: p.action,
        })),
    );
  });

  it('`ip -j xfrm policy` prints the text form (iproute2 has no JSON for xfrm), and is read as such', () => {
    expect(fx('ip-j-xfrm-policy.iproute2-6.1.txt')).toBe(fx('ip-xfrm-policy.iproute2-6.1.txt'));
  });
});

describe('xfrm key redaction', () => {
  const states = readdirSync(dir).filter((n) => n.startsWith('ip-xfrm-state'));

  it('leaves no key byte of any fixture, and keeps everything else', () => {
    expect(states.length).toBeGreaterThanOrEqual(3);
    for (const n of states) {
      const t = fx(n);
      const keys = keysIn(t).filter((k) => k !== '(redacted)');
      expect(keys.length, n).toBeGreaterThan(0);
      const red = redactSecrets('ip-xfrm-state', t);
      for (const k of keys) {
        // the whole key, and every 8-hex-digit run of it that is not all zeros
        expect(red, n).not.toContain(k);
        for (const run of k.replace(/^0x/, '').match(/.{8}/g) ?? [])
          if (!/^0+$/.test(run)) expect(red.toLowerCase(), `${n}: ${run}`).not.toContain(run.toLowerCase());
      }
      expect(
        keysIn(red).every((k) => k === '(redacted)'),
        n,
      ).toBe(true);
      // the model of the redacted text is the model of the original
      expect(parseXfrmState(red, 'p').value).toEqual(parseXfrmState(t, 'p').value);
    }
  });

  it('redacts enc and auth-trunc keys, the one-line form, and a long hex run in an unknown line', () => {
    const enc = '0x00112233445566778899aabbccddeeff';
    const auth = '0xffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100';
    const t = `src 192.0.2.1 dst 198.51.100.1\n\tproto esp spi 0x00000100 reqid 1 mode tunnel\n\tauth-trunc hmac(sha256) ${auth} 128\n\tenc cbc(aes) ${enc}\n\tsomething ${enc.slice(2)}\n`;
    const red = redactXfrm(t);
    expect(red).not.toMatch(/00112233|ffeeddcc/);
    expect(red).toContain('\tauth-trunc hmac(sha256) (redacted) 128\n\tenc cbc(aes) (redacted)\n');
    const one = redactXfrm(t.trim().split('\n').join(' \\ '));
    expect(one).not.toMatch(/00112233|ffeeddcc/);
    // `enc-mask ffffffff` in a policy template is not a key
    expect(redactXfrm('\t\tenc-mask ffffffff auth-mask ffffffff comp-mask ffffffff\n')).toBe(
      '\t\tenc-mask ffffffff auth-mask ffffffff comp-mask ffffffff\n',
    );
  });

  it('`--redact` of a snapshot file removes the keys even when the capture did not (a pasted snapshot)', () => {
    const t = fx('ip-xfrm-state.cilium-docs-xfrm-guide.txt');
    const { files } = redactFiles(
      new Redactor({ key: Buffer.alloc(32, 7) }),
      new Map([['ip-xfrm-state.txt', t]]),
      'random',
    );
    const out = files.get('ip-xfrm-state.txt')!;
    expect(out).not.toContain('6254fced5f7a5ea9401b9015ecf10d65eac51a69');
    expect(out).toContain('(redacted)');
    // addresses are mapped too
    expect(out).not.toContain('10.56.0.17');
  });
});

describe('xfrm policy selectors beyond src/dst', () => {
  it("keeps the `proto tcp dport 22` of a captured policy (also past `ip -s`'s `uid 0`), and none for the others", () => {
    for (const f of ['ip-xfrm-policy.iproute2-6.1.txt', 'ip-s-xfrm-policy.iproute2-6.1.txt']) {
      const v = parseXfrmPolicy(fx(f), 'p').value;
      expect(v[0]!.match, f).toEqual({ proto: 'tcp', dport: '22' });
      expect(
        v.slice(1).every((p) => p.match === undefined),
        f,
      ).toBe(true);
    }
  });
});
