import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { kernelVersion, parseUname } from '../../../src/tools/uname/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';

const fx = (n: string) => readFileSync(new URL(`../../../fixtures/tools/uname/${n}`, import.meta.url), 'utf8');

describe('parseUname', () => {
  it('reads the release of this machine', () => {
    expect(parseUname(fx('uname-r.host.txt'), 'uname')).toEqual({ value: '6.18.44-fc-v669', warnings: [] });
    expect(kernelVersion('6.18.44-fc-v669')).toEqual([6, 18]);
  });

  it('accepts distribution release shapes', () => {
    for (const r of ['5.15.0-1051-aws', '6.1.0-18-cloud-amd64', '4.18.0-513.el8.x86_64', '6.8.0-rc3+', '6.6'])
      expect(parseUname(`${r}\n`, 'u').value).toBe(r);
    expect(kernelVersion('4.18.0-513.el8.x86_64')).toEqual([4, 18]);
    expect(kernelVersion('garbage')).toBeNull();
  });

  it('bad input: ANSI/CRLF, extra lines, garbage, empty, huge', () => {
    expect(parseUname('\u001b[32m6.18.44-fc-v669\u001b[0m\r\n', 'u').value).toBe('6.18.44-fc-v669');
    expect(parseUname('6.18.44\nLinux\n', 'u').warnings.map((w) => w.code)).toEqual(['line-skipped']);
    expect(() => parseUname('Linux', 'u')).toThrow(ParseError);
    expect(() => parseUname('<html>', 'u')).toThrow(/not a kernel release/);
    expect(() => parseUname('6.1 with spaces', 'u')).toThrow(ParseError);
    expect(() => parseUname('', 'u')).toThrow(/empty/);
    expect(() => parseUname('6.1.' + 'x'.repeat(10_000), 'u')).toThrow(ParseError);
    expect(() => parseUname('__proto__', 'u')).toThrow(ParseError);
    expect(() => parseUname('\u0000\u00ff', 'u')).toThrow(ParseError);
  });
});
