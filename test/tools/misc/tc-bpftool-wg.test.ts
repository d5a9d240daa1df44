import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseWgDump, redactWgDump } from '../../../src/tools/wg/index.js';
import { parseSysctl } from '../../../src/tools/sysctl/index.js';
import { parseUname } from '../../../src/tools/uname/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';

const fx = (tool: string, n: string) => readFileSync(new URL(`../../../fixtures/tools/${tool}/${n}`, import.meta.url), 'utf8');
const noSource = <T extends { source: unknown }>(xs: T[]) => xs.map(({ source: _s, ...rest }) => rest);

describe('wg', () => {
  const dump = fx('wg', 'wg-show-all-dump.node.redacted.txt');
  it('reads interfaces and peers, never keeping private keys', () => {
    const { value } = parseWgDump(dump, 'wg');
    const node = value.find((d) => d.name === 'wg-node')!;
    expect(node).toMatchObject({ publicKey: 'vPvWFOFT35kiz5fkZQQULZJ9Ml0gcmpf2UzsZ7Gwzn0=', listenPort: 51820, fwmark: 1 });
    expect(node.peers[0]).toMatchObject({ endpoint: '192.0.2.1:51821', allowedIps: ['10.99.0.2/32', '10.245.9.0/24', 'fd99::2/128'], persistentKeepalive: 25 });
    expect(node.peers[1]!.endpoint).toBeUndefined();
    expect(JSON.stringify(value)).not.toMatch(/REDACTED|private/);
  });

  it('redacts private and preshared keys, keeping public keys and (none)', () => {
    const fake = ['wg0\tAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\tBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=\t51820\toff',
      'wg0\tCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCA=\tDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDA=\t192.0.2.1:1\t10.0.0.0/8\t0\t0\t0\toff',
      'wg0\tEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEA=\t(none)\t(none)\t(none)\t0\t0\t0\toff',
      'garbage\tFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA='].join('\n');
    const r = redactWgDump(fake);
    expect(r).not.toMatch(/AAAA|DDDD|FFFF/);
    expect(r).toMatch(/BBBB/);
    expect(r).toMatch(/CCCC/);
    expect(r.split('\n')[2]).toContain('(none)');
  });
});

describe('sysctl and uname', () => {
  it('reads key = value lines, refusing prototype keys', () => {
    const r = parseSysctl('net.ipv4.ip_forward = 1\r\nnet.ipv4.conf.all.rp_filter = 2\n__proto__ = 1\nsysctl: cannot stat /proc/sys/net/bridge: No such file\n', 'sysctl');
    expect(r.value['net.ipv4.ip_forward']!.value).toBe('1');
    expect(r.value['net.ipv4.conf.all.rp_filter']!.value).toBe('2');
    expect(Object.keys(r.value)).toHaveLength(2);
    expect(r.warnings).toHaveLength(2);
  });
  it('validates a kernel release', () => {
    expect(parseUname('6.18.44-fc-v669\n', 'uname').value).toBe('6.18.44-fc-v669');
    expect(() => parseUname('<html>', 'uname')).toThrow(ParseError);
  });
});
