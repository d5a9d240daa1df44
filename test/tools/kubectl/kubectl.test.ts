import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { asKubectlJson, asKubectlList as asList } from '../../helpers/kubectl.js';
import { parseKubeEndpointSlices, parseKubePod, parseKubeService } from '../../../src/tools/kubectl/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';

const dir = fileURLToPath(new URL('../../../fixtures/kubectl/', import.meta.url));

describe('kubectl get pod -o json', () => {
  it('reads both addresses of a dual-stack pod, primary first, its node and phase', () => {
    const p = parseKubePod(asKubectlJson('pod.nginx-deployment-67d4bdd6f5-w6kd7.yaml'), 'kubectl get pod');
    expect(p).toMatchObject({
      name: 'nginx-deployment-67d4bdd6f5-w6kd7',
      namespace: 'default',
      ips: ['10.88.0.3', '2001:db8::1'],
      nodeName: 'kube-worker-1',
      hostNetwork: false,
      phase: 'Running',
    });
    expect(p.evidence.text).toBe(
      'pod default/nginx-deployment-67d4bdd6f5-w6kd7 podIPs 10.88.0.3,2001:db8::1 node kube-worker-1 Running',
    );
  });

  it('refuses what is not a Pod, with the probe named', () => {
    expect(() => parseKubePod(asKubectlJson('service.my-service.ipv4.yaml'), 'kubectl get pod x')).toThrow(ParseError);
    expect(() => parseKubePod('The connection to the server localhost:8080 was refused', 'kubectl get pod x')).toThrow(
      /kubectl get pod x: not valid JSON/,
    );
  });
});

describe('kubectl get service -o json', () => {
  it('reads ClusterIPs and ports of single-stack IPv4 and IPv6 Services', () => {
    expect(parseKubeService(asKubectlJson('service.my-service.ipv4.yaml'), 's')).toMatchObject({
      name: 'my-service',
      namespace: 'default',
      type: 'ClusterIP',
      clusterIPs: ['10.0.217.164'],
      headless: false,
      ports: [{ port: 80, protocol: 'TCP' }],
    });
    // this one was shown without its namespace in the documentation
    expect(parseKubeService(asKubectlJson('service.my-service.ipv6.yaml'), 's')).toMatchObject({
      namespace: null,
      clusterIPs: ['2001:db8:fd00::5118'],
      ports: [{ port: 80, protocol: 'TCP' }],
    });
  });

  it('marks a headless Service (clusterIP None) and keeps no address for it', () => {
    const doc = parseYaml(readFileSync(dir + 'service.my-service.ipv4.yaml', 'utf8')) as {
      spec: Record<string, unknown>;
    };
    doc.spec.clusterIP = 'None';
    doc.spec.clusterIPs = ['None'];
    expect(parseKubeService(JSON.stringify(doc), 's')).toMatchObject({ headless: true, clusterIPs: [] });
  });
});

describe('kubectl get endpointslices -o json', () => {
  it('lists each address with each port and its conditions', () => {
    expect(parseKubeEndpointSlices(asList('endpointslice.example-abc.yaml'), 'e')).toEqual([
      {
        address: '10.1.2.3',
        port: 80,
        protocol: 'TCP',
        portName: 'http',
        ready: true,
        serving: true,
        terminating: false,
        nodeName: 'node-1',
        slice: 'example-abc',
      },
    ]);
  });

  it('treats an unset ready as ready and an unset serving as ready (API documentation)', () => {
    const doc = JSON.parse(asList('endpointslice.example-abc.yaml')) as {
      items: { endpoints: { conditions?: unknown }[] }[];
    };
    delete doc.items[0]!.endpoints[0]!.conditions;
    expect(parseKubeEndpointSlices(JSON.stringify(doc), 'e')[0]).toMatchObject({
      ready: true,
      serving: true,
      terminating: false,
    });
    expect(() => parseKubeEndpointSlices(asKubectlJson('endpointslice.example-abc.yaml'), 'e')).toThrow(
      /not a list of EndpointSlices/,
    );
  });
});
