import { describe, expect, it } from 'vitest';
import { parseWgDump, redactWgDump } from '../../../src/tools/wg/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import { ansiCrlf, fixture, withoutSource } from '../tc/helpers.js';

const fx = (n: string) => fixture('wg', 'show-dump', n);
const KEY = /[A-Za-z0-9+/]{43}=/g;

describe('parseWgDump', () => {
  it('reads interfaces and peers of our wireguard-go capture (redacted)', () => {
    const { value, warnings } = parseWgDump(fx('wg-show-all-dump.h2.redacted.txt'), 'wg');
    expect(warnings).toEqual([]);
    expect(value.map((d) => [d.name, d.publicKey, d.listenPort, d.fwmark ?? null, d.peers.length])).toEqual([
      ['h2wg0', 'qTYHbY61Mi5xkScGQlwqSNv4akunxbhXBmk2I6CKL3s=', 51820, 1, 2],
      ['h2wg1', 'VjYG3Hx6SWIoKeFKGDYj6GrhD9o9AUQijglrB+Vvt0g=', 51821, null, 1],
    ]);
    expect(withoutSource(value[0]!.peers)).toEqual([
      {
        publicKey: 'QIVgXqiortxFLMKAbgJvjo75KYxPTOS2wbhKKSJj9F0=',
        allowedIps: ['10.99.0.3/32'],
        latestHandshake: 0,
        rxBytes: 0,
        txBytes: 0,
      },
      {
        publicKey: 'VjYG3Hx6SWIoKeFKGDYj6GrhD9o9AUQijglrB+Vvt0g=',
        endpoint: '198.51.100.2:51821',
        allowedIps: ['10.99.0.2/32', '2001:db8:99::2/128'],
        latestHandshake: 1795423864,
        rxBytes: 604,
        txBytes: 840,
        persistentKeepalive: 25,
      },
    ]);
    expect(value[0]!.peers[1]!.source.text).toBe(
      'h2wg0 peer VjYG3Hx6SWIoKeFKGDYj6GrhD9o9AUQijglrB+Vvt0g= preshared-key (redacted) endpoint 198.51.100.2:51821 allowed-ips 10.99.0.2/32,2001:db8:99::2/128',
    );
  });

  it('reads the shared capture (placeholders in the secret columns)', () => {
    const { value } = parseWgDump(fx('wg-show-all-dump.node.redacted.txt'), 'wg');
    const node = value.find((d) => d.name === 'wg-node')!;
    expect(node).toMatchObject({
      publicKey: 'vPvWFOFT35kiz5fkZQQULZJ9Ml0gcmpf2UzsZ7Gwzn0=',
      listenPort: 51820,
      fwmark: 1,
    });
    expect(node.peers.map((p) => [p.endpoint ?? null, p.allowedIps])).toEqual([
      ['192.0.2.1:51821', ['10.99.0.2/32', '10.245.9.0/24', 'fd99::2/128']],
      [null, ['10.99.0.3/32']],
    ]);
    expect(value.find((d) => d.name === 'wg-peer')!.peers[0]!.endpoint).toBe('192.0.2.10:51820');
  });

  it('never carries a secret column into the model', () => {
    const { value } = parseWgDump(fx('wg-show-all-dump.node.redacted.txt'), 'wg');
    expect(JSON.stringify(value)).not.toMatch(/REDACTED|private|preshared-key base64/);
    const seen = JSON.stringify(value).match(KEY) ?? [];
    const publics = fx('wg-show-all-dump.node.redacted.txt')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t'))
      .map((f) => (f.length === 5 ? f[2] : f[1]));
    expect(seen.every((k) => publics.includes(k))).toBe(true);
  });

  it('a per-interface dump (`wg show IFACE dump`, no name column) is named as such', () => {
    expect(() => parseWgDump(fx('wg-show-h2wg0-dump.h2.redacted.txt'), 'wg')).toThrow(/wg show IFACE dump/);
    expect(() => parseWgDump(fx('wg-show-wg-node-dump.node.redacted.txt'), 'wg')).toThrow(ParseError);
  });

  it('IPv6 endpoints are bracketed and canonical; `(none)` allowed-ips is an empty list', () => {
    const d = fx('wg-show-all-dump.h2.redacted.txt').split('\n')[0]!;
    const r = parseWgDump(
      `${d}\nh2wg0\tQIVgXqiortxFLMKAbgJvjo75KYxPTOS2wbhKKSJj9F0=\t(none)\t[2001:DB8:0::1]:51820\t(none)\t0\t0\t0\toff\n`,
      'wg',
    );
    expect(withoutSource(r.value[0]!.peers)).toEqual([
      {
        publicKey: 'QIVgXqiortxFLMKAbgJvjo75KYxPTOS2wbhKKSJj9F0=',
        endpoint: '[2001:db8::1]:51820',
        allowedIps: [],
        latestHandshake: 0,
        rxBytes: 0,
        txBytes: 0,
      },
    ]);
  });

  it('bad input: ANSI/CRLF, spaces for tabs, truncation, wrong types, __proto__, garbage', () => {
    const t = fx('wg-show-all-dump.h2.redacted.txt');
    const plain = withoutSource(parseWgDump(t, 'wg').value.flatMap((d) => d.peers));
    expect(withoutSource(parseWgDump(ansiCrlf(t), 'wg').value.flatMap((d) => d.peers))).toEqual(plain);
    expect(withoutSource(parseWgDump(t.replace(/\t/g, '   '), 'wg').value.flatMap((d) => d.peers))).toEqual(plain);
    // cut inside the last peer line: that peer is dropped with a warning, not half-read
    const cut = parseWgDump(t.slice(0, t.lastIndexOf('\t')), 'wg');
    expect(cut.value.find((d) => d.name === 'h2wg1')!.peers).toEqual([]);
    expect(cut.warnings.map((w) => w.code)).toEqual(['line-skipped', 'unterminated-line']);
    const lines = t.split('\n');
    const typed = parseWgDump(
      [
        lines[0],
        lines[1]!.replace('10.99.0.3/32', '10.99.0.300/32'),
        lines[2]!.replace('198.51.100.2:51821', 'evil.example:51821'),
        'h2wg0\t__proto__\t(none)\t(none)\t(none)\t0\t0\t0\toff',
        lines[2]!.replace('\t604\t', '\t-5\t'),
        '',
      ].join('\n'),
      'wg',
    );
    expect(typed.value[0]!.peers).toEqual([]);
    expect(typed.warnings.map((w) => w.code)).toEqual([
      'record-skipped',
      'record-skipped',
      'line-skipped',
      'line-skipped',
    ]);
    // a line that is not understood is never echoed: it may hold a key
    expect(JSON.stringify(typed.warnings.filter((w) => w.code === 'line-skipped'))).not.toMatch(KEY);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(() => parseWgDump('Unable to access interface: Operation not permitted\n', 'wg')).toThrow(ParseError);
    expect(() => parseWgDump('\u0000\u00ff\u0001', 'wg')).toThrow(ParseError);
    expect(parseWgDump('', 'wg')).toEqual({ value: [], warnings: [] });
    const orphan = parseWgDump(lines[1]!, 'wg');
    expect(orphan.value).toEqual([]);
    expect(orphan.warnings.map((w) => w.code)).toEqual(['record-skipped', 'unterminated-line']);
  });
});

describe('redactWgDump', () => {
  const a = 'oAbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/abcE=';
  const pub = 'qTYHbY61Mi5xkScGQlwqSNv4akunxbhXBmk2I6CKL3s=';
  const psk = 'pSkPsKpSkPsKpSkPsKpSkPsKpSkPsKpSkPsKpSkPsK0=';

  it('is idempotent on stored fixtures and keeps every byte but the secrets', () => {
    const t = fx('wg-show-all-dump.h2.redacted.txt');
    expect(redactWgDump(t)).toBe(t);
    expect(redactWgDump(fx('wg-show-h2wg0-dump.h2.redacted.txt'))).toBe(fx('wg-show-h2wg0-dump.h2.redacted.txt'));
  });

  it('redacts the secret columns of both dump forms, keeps (none), public keys, CRs', () => {
    const dump = [
      `wg0\t${a}\t${pub}\t51820\toff`,
      `wg0\t${pub}\t${psk}\t192.0.2.1:1\t10.0.0.0/8\t0\t0\t0\toff`,
      `wg0\t${pub}\t(none)\t(none)\t(none)\t0\t0\t0\toff`,
    ].join('\r\n');
    expect(redactWgDump(dump)).toBe(
      [
        `wg0\t(redacted)\t${pub}\t51820\toff`,
        `wg0\t${pub}\t(redacted)\t192.0.2.1:1\t10.0.0.0/8\t0\t0\t0\toff`,
        `wg0\t${pub}\t(none)\t(none)\t(none)\t0\t0\t0\toff`,
      ].join('\r\n'),
    );
    expect(redactWgDump(`${a}\t${pub}\t51820\toff\n${pub}\t${psk}\t(none)\t(none)\t0\t0\t0\toff`)).toBe(
      `(redacted)\t${pub}\t51820\toff\n${pub}\t(redacted)\t(none)\t(none)\t0\t0\t0\toff`,
    );
  });

  it('redacts whatever sits in a secret column, key-shaped or not', () => {
    expect(redactWgDump(`wg0\tnot-a-key\t${pub}\t51820\toff`)).toBe(`wg0\t(redacted)\t${pub}\t51820\toff`);
  });

  it('lines it cannot understand keep no key-looking token at all', () => {
    const bad = [
      `wg0\t${a}\t${pub}\t51820`, // truncated interface line
      `wg0\t${pub}\t${psk}\t192.0.2.1:1\t10.0.0.0/8\t0\t0`, // truncated peer line
      `\u001b[1mwg0\t${a}\t${pub}\t51820\toff\u001b[0m`, // coloured
      `private key: ${a}`,
      `wg0 ${a.slice(0, -1)} ${'f'.repeat(64)}`, // unpadded base64 and a hex key
    ];
    const out = redactWgDump(bad.join('\n'));
    expect(out).not.toContain(a);
    expect(out).not.toContain(a.slice(0, -1));
    expect(out).not.toContain(psk);
    expect(out).not.toContain(pub);
    expect(out).not.toContain('f'.repeat(64));
    expect(out.split('\n')).toHaveLength(5);
  });
});
