import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { configValue, parseCiliumConfig } from '../../../src/tools/cilium/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';

const fx = (f: string) =>
  readFileSync(fileURLToPath(new URL(`../../../fixtures/tools/cilium/config/${f}`, import.meta.url)), 'utf8');

describe('parseCiliumConfig', () => {
  it('ConfigMap YAML (1.13.4): the data map, YAML comments dropped, quotes removed', () => {
    const { value, warnings } = parseCiliumConfig(fx('v1.13.4-configmap-edited.yaml'), 'cilium-config');
    expect(warnings).toEqual([]);
    expect(Object.keys(value)).toHaveLength(88);
    expect(value['tunnel']!.value).toBe('disabled');
    expect(value['kube-proxy-replacement']!.value).toBe('strict');
    expect(value['enable-bpf-masquerade']).toMatchObject({
      value: 'true',
      source: { probe: 'cilium-config', text: 'enable-bpf-masquerade: true' },
    });
    expect(value['ipv4-native-routing-cidr']!.value).toBe('192.168.0.0/16');
    expect(value['hubble-listen-address']!.value).toBe(':4244');
    expect(value['debug-verbose']!.value).toBe('');
    expect(value['name']).toBeUndefined();
  });

  it('the same ConfigMap as JSON', () => {
    const json = JSON.stringify(parseYaml(fx('v1.13.4-configmap-edited.yaml')));
    const { value } = parseCiliumConfig(json, 'cilium-config');
    expect(value['enable-endpoint-routes']!.value).toBe('false');
    expect(Object.keys(value)).toHaveLength(88);
  });

  it('debuginfo environment keys (1.18.0): key:value with colons inside values', () => {
    const { value } = parseCiliumConfig(fx('v1.18.0-debuginfo-env-keys.txt'), 'cilium-config');
    expect(Object.keys(value)).toHaveLength(481);
    expect(value['routing-mode']!.value).toBe('tunnel');
    expect(value['enable-tcx']!.value).toBe('true');
    expect(value['bpf-lb-sock']!.value).toBe('false');
    expect(value['hubble-listen-address']!.value).toBe(':4244');
    expect(value['operator-api-serve-addr']!.value).toBe('127.0.0.1:9234');
    expect(value['devices']!.value).toBe('');
    expect(value['config-sources']!.value).toBe(
      '[{"kind":"config-map","namespace":"kube-system","name":"cilium-config"}]',
    );
  });

  it('config -a CamelCase names map to ConfigMap keys only where checked; others stay as printed', () => {
    const { value } = parseCiliumConfig(
      'EnableBPFMasquerade               : true\nEnableSocketLB                    : true\nBPFSocketLBHostnsOnly             : false\nEnableAutoDirectRouting           : true\nRoutingMode                       : native\n',
      'p',
    );
    expect(value['enable-bpf-masquerade']!.value).toBe('true');
    expect(value['bpf-lb-sock']!.value).toBe('true');
    expect(value['bpf-lb-sock-hostns-only']!.value).toBe('false');
    expect(value['auto-direct-node-routes']!.value).toBe('true');
    expect(value['RoutingMode']!.value).toBe('native');
    expect(value['EnableBPFMasquerade']).toBeUndefined();
    // the lookup ignores case and dashes
    expect(configValue(value, 'routing-mode')!.value).toBe('native');
  });

  it('key=value and Key   Value forms', () => {
    const { value } = parseCiliumConfig('routing-mode=native\nenable-tcx   true\n', 'p');
    expect(value['routing-mode']!.value).toBe('native');
    expect(value['enable-tcx']!.value).toBe('true');
  });

  it('hostile input', () => {
    expect(() => parseCiliumConfig('', 'p')).toThrow(ParseError);
    expect(() => parseCiliumConfig('just words here', 'p')).toThrow(/not cilium config output/);
    expect(() => parseCiliumConfig('{"kind":"ConfigMap"}', 'p')).toThrow(ParseError);
    expect(() => parseCiliumConfig('{"data": ', 'p')).toThrow(ParseError);
    const r = parseCiliumConfig('{"data": {"__proto__": "x", "constructor": "y", "a": {"deep": 1}, "b": "1"}}', 'p');
    expect(Object.keys(r.value)).toEqual(['b']);
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
    expect(r.warnings.map((w) => w.code)).toEqual(['value-skipped']);
    expect(() => parseCiliumConfig('data:\n  a: &x [1]\n  b: *x\n  c: [', 'p')).toThrow(ParseError);
  });
});
