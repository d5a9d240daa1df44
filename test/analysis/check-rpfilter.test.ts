import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseSysctl } from '../../src/tools/sysctl/index.js';
import { rpFilter } from '../../src/analysis/check/findings.js';
import { emptyNodeState, type NodeState } from '../../src/model/types.js';

const fx = (n: string) => readFileSync(new URL(`../../fixtures/tools/sysctl/${n}`, import.meta.url), 'utf8');

/** A node state holding what the sysctl probes read: the fixed keys, and the per-device subtree when given. */
function state(fixed: string, conf4?: string): NodeState {
  const s = emptyNodeState();
  Object.assign(s.sysctl, parseSysctl(fixed, 'sysctl').value);
  if (conf4 !== undefined) {
    for (const [k, v] of Object.entries(parseSysctl(conf4, 'sysctl-conf4').value)) s.sysctl[k] ??= v;
    s.sources.push({ probe: 'sysctl-conf4', status: 'ok' });
  } else s.sources.push({ probe: 'sysctl-conf4', status: 'missing' });
  return s;
}

// Real `sysctl -e net.ipv4.conf` of a namespace with all=0, default=1, eth0=2, eth1=1, eth0.100=0, lxcabc=1
// (fixtures/tools/sysctl/README.md).
const CONF4 = fx('sysctl-e-net-ipv4-conf.cfns.txt');
const ALL = (v: number) => `net.ipv4.conf.all.rp_filter = ${v}\nnet.ipv4.conf.default.rp_filter = 0\n`;

describe('rp_filter per device: the larger of all and the device (IN_DEV_MAXCONF)', () => {
  it('parses every device of the subtree, a dotted device name in slash form', () => {
    const r = parseSysctl(CONF4, 'sysctl-conf4');
    expect(r.warnings).toEqual([]);
    const rp = Object.fromEntries(
      Object.entries(r.value)
        .filter(([k]) => k.endsWith('.rp_filter'))
        .map(([k, v]) => [k, v.value]),
    );
    expect(rp).toEqual({
      'net.ipv4.conf.all.rp_filter': '0',
      'net.ipv4.conf.default.rp_filter': '1',
      'net.ipv4.conf.eth0.rp_filter': '2',
      'net.ipv4.conf.eth0/100.rp_filter': '0',
      'net.ipv4.conf.eth1.rp_filter': '1',
      'net.ipv4.conf.lo.rp_filter': '0',
      'net.ipv4.conf.lxcabc.rp_filter': '1',
    });
  });

  it('all=0: each device decides by its own value, with both lines as evidence', () => {
    const s = state(CONF4, CONF4);
    expect(rpFilter(s, 'eth1')).toMatchObject({ mode: 1 });
    expect(rpFilter(s, 'eth1').ev.map((e) => e.text)).toEqual([
      'net.ipv4.conf.all.rp_filter = 0',
      'net.ipv4.conf.eth1.rp_filter = 1',
    ]);
    expect(rpFilter(s, 'eth0').mode).toBe(2);
    expect(rpFilter(s, 'eth0.100').mode).toBe(0);
    expect(rpFilter(s, 'lxcabc').mode).toBe(1);
  });

  it('all=1 raises a device set to 0 to strict; all=2 makes every device loose', () => {
    expect(rpFilter(state(ALL(1), CONF4), 'eth0.100').mode).toBe(1);
    expect(rpFilter(state(ALL(1), CONF4), 'eth0').mode).toBe(2);
    expect(rpFilter(state(ALL(2), CONF4), 'eth1').mode).toBe(2);
  });

  it('a device the subtree does not hold, or a snapshot without the subtree, stays unknown and says why', () => {
    const a = rpFilter(state(ALL(1), CONF4), 'eth9');
    expect(a.mode).toBe('unknown');
    expect(a.mode === 'unknown' && a.because).toContain('the sysctl-conf4 capture has no eth9');
    const b = rpFilter(state(ALL(0)), 'eth1');
    expect(b.mode).toBe('unknown');
    expect(b.mode === 'unknown' && b.because).toContain('no sysctl-conf4 probe');
    // all=0 is no default: without the device's own value strict mode is not ruled out
    expect(rpFilter(state(ALL(0)), 'eth0').mode).toBe('unknown');
    expect(rpFilter(state(''), 'eth0')).toMatchObject({
      mode: 'unknown',
      because: expect.stringContaining('all.rp_filter was not captured'),
    });
  });
});
