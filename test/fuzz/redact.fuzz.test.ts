import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isIPv4 } from 'node:net';
import { redactWgDump } from '../../src/tools/wg/index.js';
import { KEY_LIKE, lineShape, secretColumn, splitFields } from '../../src/tools/wg/fields.js';
import { Redactor } from '../../src/redact/redactor.js';
import { redactFiles } from '../../src/redact/snapshot.js';
import { bytesToIp, canonIp } from '../../src/model/addr.js';
import {
  assertNoPollution,
  cpuMs,
  enormous,
  HANG_WALL_MS,
  HOSTILE_DOCS,
  inputs,
  RUNS,
  SEED,
  seeds,
} from './harness.js';

const opts = { numRuns: RUNS * 3, ...(SEED !== undefined ? { seed: SEED } : {}) };

// wg show all dump: whatever the input, a line in a known shape keeps no secret, and any other line keeps no
// key-looking token at all.
describe('fuzz wg key redaction', () => {
  const check = (input: string) => {
    const out = redactWgDump(input);
    assertNoPollution();
    expect(out.split('\n')).toHaveLength(input.split('\n').length);
    for (const line of out.split('\n')) {
      const body = line.endsWith('\r') ? line.slice(0, -1) : line;
      const { fields } = splitFields(body);
      const col = secretColumn(lineShape(fields));
      if (col !== undefined) expect(['(redacted)', '(none)'], body).toContain(fields[col]);
      else expect(body.match(KEY_LIKE), body).toBeNull();
    }
  };
  it('keeps no secret in mutated real dumps, random and hostile input', () => {
    for (const h of HOSTILE_DOCS) check(h);
    fc.assert(fc.property(inputs(seeds('wg/show-dump')), check), opts);
  });
  it(
    '5 MB of dump lines in bounded time',
    () => {
      const c0 = process.cpuUsage();
      check(enormous(seeds('wg/show-dump')[0]!.text));
      expect(cpuMs(c0)).toBeLessThan(15_000);
    },
    HANG_WALL_MS,
  );
});

// The redactor reads anything a probe (or a person pasting one) can print: it must never throw, never pollute
// a prototype, and never leave an address it was given in any of the forms tools print.
describe('fuzz redaction', () => {
  const r = new Redactor({ key: Buffer.alloc(32, 9) });
  const v4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => bytesToIp(b));
  const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => bytesToIp(b));
  const mac = fc
    .uint8Array({ minLength: 6, maxLength: 6 })
    .map((b) => Array.from(b, (x, i) => (i === 0 ? x & 0xfe : x).toString(16).padStart(2, '0')).join(':'));
  const junk = fc.constantFrom(
    'dev',
    'via',
    'src=',
    'dst=',
    'lladdr',
    '"ip":',
    'inet',
    'proto',
    '{',
    '}',
    'cidr:',
    'k8s:io',
    'table',
    'main',
    'x',
    '0',
    '42',
    'é',
    '\u001b[1m',
  );
  // what stands around an address in real output; ':' only after IPv4 (a port), as tools bracket IPv6 first
  const around = fc.constantFrom(' ', '\t', '\n', ',', '"', '=', '(', ')', ';', '[', ']', '/24', '/64');
  type Piece = { kind: 'v4' | 'v6' | 'mac' | 'junk'; text: string };
  const piece: fc.Arbitrary<Piece> = fc.oneof(
    v4.map((text) => ({ kind: 'v4' as const, text })),
    v4.chain((a) => fc.integer({ min: 1, max: 65535 }).map((p) => ({ kind: 'v4' as const, text: `${a}:${p}` }))),
    v6.map((text) => ({ kind: 'v6' as const, text })),
    v6.chain((a) => fc.integer({ min: 1, max: 65535 }).map((p) => ({ kind: 'v6' as const, text: `[${a}]:${p}` }))),
    mac.map((text) => ({ kind: 'mac' as const, text })),
    junk.map((text) => ({ kind: 'junk' as const, text })),
  );

  it('no address, MAC or key it was given survives, in text and in JSON strings', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(piece, around), { minLength: 1, maxLength: 30 }), (parts) => {
        const text = parts.map(([p, a]) => p.text + a).join('');
        const out = r.text(text);
        const fromJson = JSON.stringify(r.json(JSON.parse(JSON.stringify({ text, list: parts.map(([p]) => p.text) }))));
        assertNoPollution();
        for (const [p] of parts) {
          if (p.kind === 'junk') continue;
          const addr = p.text.replace(/^\[|\]:\d+$|:\d+$/g, '');
          if (p.kind !== 'mac' && r.ip(addr) === canonIp(addr)) continue; // a special address, kept on purpose
          for (const where of [out, fromJson]) {
            const at = where.indexOf(addr);
            if (at < 0) continue;
            // only a leak if it stands there as itself (a mapped address may contain it as a substring)
            const before = where[at - 1] ?? ' ';
            const after = where[at + addr.length] ?? ' ';
            const glued =
              /[0-9A-Fa-f.:]/.test(before) ||
              /[0-9A-Fa-f]/.test(after) ||
              (after === '.' && /\d/.test(where[at + addr.length + 1] ?? ''));
            expect(
              glued,
              `${addr} left in ${JSON.stringify(where.slice(Math.max(0, at - 20), at + addr.length + 20))}`,
            ).toBe(true);
          }
        }
      }),
      opts,
    );
  });

  it(
    'never throws on mutated real probe output of every tool, hostile JSON, or 5 MB',
    () => {
      const all = [
        'ip/route',
        'ip/addr',
        'ip/link',
        'kube-proxy/nft',
        'kube-proxy/iptables-save',
        'cilium/status',
        'conntrack',
        'wg/show-dump',
      ].flatMap((s) => seeds(s).slice(0, 3));
      const one = (id: string, text: string) => {
        const red = redactFiles(r, new Map([[id, text]]), 'random');
        assertNoPollution();
        for (const v of red.files.values()) expect(typeof v).toBe('string');
      };
      for (const h of HOSTILE_DOCS) {
        one('ip-route4.json', h);
        one('cilium-status.txt', h);
        one('bpf-map/cilium_lb4_services_v2.json', h);
      }
      fc.assert(
        fc.property(
          inputs(all),
          fc.constantFrom(
            'ip-route4.json',
            'nft-ruleset.json',
            'cilium-status.txt',
            'wg.txt',
            'manifest.json',
            'conntrack4.txt',
          ),
          (t, id) => one(id, t),
        ),
        opts,
      );
      const c0 = process.cpuUsage();
      one('ip-route4.json', enormous(seeds('ip/route', /\.json$/)[0]!.text));
      one('iptables-save.txt', enormous(seeds('kube-proxy/iptables-save')[0]!.text));
      expect(cpuMs(c0)).toBeLessThan(30_000);
    },
    HANG_WALL_MS,
  );

  it('keeps a dotted quad that is not an address (1.2.3.4.5, 999.1.1.1) and every IPv4 it maps is an address', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 999 }), { minLength: 3, maxLength: 6 }), (ns) => {
        const t = ns.join('.');
        const out = r.text(t);
        if (ns.length !== 4 || !isIPv4(t)) expect(out).toBe(t);
        else expect(isIPv4(out)).toBe(true);
      }),
      opts,
    );
  });
});
