import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseSysctl } from '../../../src/tools/sysctl/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import { ansiCrlf } from '../tc/helpers.js';

const fx = (n: string) => readFileSync(new URL(`../../../fixtures/tools/sysctl/${n}`, import.meta.url), 'utf8');
const values = (r: ReturnType<typeof parseSysctl>) =>
  Object.fromEntries(Object.entries(r.value).map(([k, v]) => [k, v.value]));

describe('parseSysctl', () => {
  it("reads netpath's keys from `sysctl -e` in a fresh namespace (bpf_jit_enable is host-only: silently absent)", () => {
    const r = parseSysctl(fx('sysctl-e-netpath-keys.h2ns.txt'), 'sysctl');
    expect(values(r)).toEqual({
      'net.ipv4.ip_forward': '0',
      'net.ipv6.conf.all.forwarding': '0',
      'net.ipv4.conf.all.rp_filter': '0',
      'net.ipv4.conf.default.rp_filter': '0',
      'net.ipv4.conf.all.accept_local': '0',
      'net.ipv4.conf.all.route_localnet': '0',
      'net.ipv4.conf.all.forwarding': '0',
      'net.ipv4.fib_multipath_hash_policy': '0',
      'net.ipv6.fib_multipath_hash_policy': '0',
      'net.ipv4.ip_local_port_range': '32768 60999',
      'net.bridge.bridge-nf-call-iptables': '1',
    });
    expect(r.warnings).toEqual([]);
    expect(r.value['net.ipv4.ip_local_port_range']!.source).toEqual({
      probe: 'sysctl',
      text: 'net.ipv4.ip_local_port_range = 32768\t60999',
    });
    expect(values(parseSysctl(fx('sysctl-e-netpath-keys.host.txt'), 'sysctl'))['net.core.bpf_jit_enable']).toBe('1');
  });

  it('without -e, `cannot stat` lines (stderr mixed in) are warnings naming the key; a dotted device name stays `eth0/100`', () => {
    const r = parseSysctl(fx('sysctl-netpath-keys-and-missing.h2ns.stdout-stderr.txt'), 'sysctl');
    expect(r.value['net.core.bpf_jit_enable']).toBeUndefined();
    expect(r.value['net.ipv4.conf.eth0/100.rp_filter']!.value).toBe('0');
    expect(r.warnings).toEqual([
      { code: 'sysctl-missing', message: 'net.core.bpf_jit_enable: No such file or directory', source: 'sysctl' },
      { code: 'sysctl-missing', message: 'net.ipv4.no_such_key: No such file or directory', source: 'sysctl' },
    ]);
    // keys asked for in slash form are printed in dotted form
    expect(Object.keys(parseSysctl(fx('sysctl-slash-keys.h2ns.txt'), 'p').value)).toEqual([
      'net.ipv4.conf.eth0/100.rp_filter',
      'net.ipv4.ip_forward',
    ]);
  });

  it('tolerates `key: message` and other `sysctl:` error lines as warnings', () => {
    const r = parseSysctl(
      "net.ipv4.ip_forward = 1\nnet.ipv4.route.flush: Permission denied\nsysctl: permission denied on key 'net.core.bpf_jit_enable'\n",
      'sysctl',
    );
    expect(values(r)).toEqual({ 'net.ipv4.ip_forward': '1' });
    expect(r.warnings.map((w) => [w.code, w.message])).toEqual([
      ['sysctl-error', 'net.ipv4.route.flush: Permission denied'],
      ['sysctl-error', "sysctl: permission denied on key 'net.core.bpf_jit_enable'"],
    ]);
  });

  it('bad input: ANSI/CRLF, truncation, __proto__, garbage, empty values', () => {
    const t = fx('sysctl-e-netpath-keys.h2ns.txt');
    expect(values(parseSysctl(ansiCrlf(t), 'p'))).toEqual(values(parseSysctl(t, 'p')));
    // cut mid-value: what was printed is kept, and the missing newline is said
    const cut = parseSysctl(t.slice(0, t.indexOf('= 32768') + 4), 'p');
    expect(cut.value['net.ipv4.ip_local_port_range']!.value).toBe('32');
    expect(cut.warnings.map((w) => [w.code, w.message])).toEqual([
      [
        'unterminated-line',
        'output does not end with a newline; its last line may be cut: net.ipv4.ip_local_port_range = 32',
      ],
    ]);
    const cutKey = parseSysctl(t.slice(0, t.indexOf('net.ipv4.ip_local_port_range') + 10), 'p');
    expect(cutKey.value['net.ipv4.ip_local_port_range']).toBeUndefined();
    expect(cutKey.warnings.map((w) => w.code)).toEqual(['line-skipped', 'unterminated-line']);
    const hostile = parseSysctl('__proto__ = 1\nconstructor = 2\nnet.__proto__ = 3\nnet.ipv4.ip_forward =\n', 'p');
    expect(Object.keys(hostile.value)).toEqual(['net.__proto__', 'net.ipv4.ip_forward']);
    expect(hostile.value['net.ipv4.ip_forward']!.value).toBe('');
    expect(Object.getPrototypeOf(hostile.value)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(hostile.warnings).toHaveLength(2);
    expect(() => parseSysctl('<html><body>502 Bad Gateway</body></html>', 'p')).toThrow(ParseError);
    expect(() => parseSysctl('\u0000\u0001\u00ff', 'p')).toThrow(ParseError);
    expect(parseSysctl('', 'p')).toEqual({ value: {}, warnings: [] });
  });
});
