import { describe, expect, it } from 'vitest';
import { parseNameRef, pickEnds, type Resolved } from '../../src/commands/resolve.js';
import { UsageError } from '../../src/errors.js';
import { parseKubePod, parseKubeService } from '../../src/tools/kubectl/index.js';
import { asKubectlJson } from '../helpers/kubectl.js';

const pod = parseKubePod(asKubectlJson('pod.nginx-deployment-67d4bdd6f5-w6kd7.yaml'), 'kubectl get pod');
const svc = parseKubeService(asKubectlJson('service.my-service.ipv4.yaml'), 'kubectl get service');
const asPod = (): Resolved => ({
  ref: { kind: 'pod', namespace: 'default', name: pod.name },
  display: `default/${pod.name}`,
  ips: pod.ips,
  ports: [],
  via: 'kubectl',
  evidence: pod.evidence,
});
const asSvc = (ports = svc.ports): Resolved => ({
  ref: { kind: 'service', namespace: 'default', name: svc.name },
  display: 'default/my-service',
  ips: svc.clusterIPs,
  ports,
  via: 'kubectl',
  evidence: svc.evidence,
});

describe('names as kubectl spells them', () => {
  it('parses NS/POD, pod/…, svc/…, and leaves addresses alone', () => {
    expect(parseNameRef('10.0.0.1')).toBeNull();
    expect(parseNameRef('2001:db8::1')).toBeNull();
    expect(parseNameRef('default/web-0')).toEqual({ kind: 'pod', namespace: 'default', name: 'web-0' });
    expect(parseNameRef('pod/web-0')).toEqual({ kind: 'pod', name: 'web-0' });
    expect(parseNameRef('po/kube-system/coredns-5d78c9869d-8z2xq')).toEqual({
      kind: 'pod',
      namespace: 'kube-system',
      name: 'coredns-5d78c9869d-8z2xq',
    });
    expect(parseNameRef('svc/kube-dns')).toEqual({ kind: 'service', name: 'kube-dns' });
    expect(parseNameRef('service/kube-system/kube-dns')).toEqual({
      kind: 'service',
      namespace: 'kube-system',
      name: 'kube-dns',
    });
  });

  it('refuses what the Kubernetes name grammar refuses (so no name can become a kubectl flag)', () => {
    for (const bad of [
      'default/-rf',
      '-n/x',
      'Default/web',
      'default/Web',
      'svc/default/1abc',
      'svc/default/a.b',
      'a/b/c',
      'deploy/default/x',
      `default/${'a'.repeat(254)}`,
      'default/',
    ]) {
      expect(() => parseNameRef(bad), bad).toThrow(UsageError);
    }
    // not an address and no slash: left to the address parser, which names it
    expect(parseNameRef('web')).toBeNull();
  });
});

describe('choosing addresses and ports for a flow', () => {
  it('takes the address of the family the other end has (dual-stack pod)', () => {
    expect(pickEnds({ src: '10.244.1.12', dst: 'x' }, undefined, asPod())).toMatchObject({
      src: '10.244.1.12',
      dst: '10.88.0.3',
    });
    expect(pickEnds({ src: '2001:db8:42::a:5', dst: 'x' }, undefined, asPod())).toMatchObject({ dst: '2001:db8::1' });
    // pod to IPv4-only Service: the pod's IPv4 address
    expect(pickEnds({ src: 'x', dst: 'y' }, asPod(), asSvc())).toMatchObject({ src: '10.88.0.3', dst: '10.0.217.164' });
  });

  it("takes a Service's only port and its protocol, and says when --port is not one of them", () => {
    const e = pickEnds({ src: '10.244.1.12', dst: 'y' }, undefined, asSvc());
    expect(e).toMatchObject({ port: 80, proto: 'tcp' });
    expect(e.warnings.map((w) => w.message)).toEqual([
      'destination service default/my-service is 10.0.217.164, from kubectl',
    ]);
    const dns = asSvc([
      { port: 53, protocol: 'UDP' },
      { port: 53, protocol: 'TCP' },
      { port: 9153, protocol: 'TCP' },
    ]);
    expect(() => pickEnds({ src: '10.244.1.12', dst: 'y' }, undefined, dns)).toThrow(
      /has ports 53\/UDP, 53\/TCP, 9153\/TCP: choose one with --port/,
    );
    expect(
      pickEnds({ src: '10.244.1.12', dst: 'y', proto: 'tcp', protoExplicit: true, port: '9153' }, undefined, dns).proto,
    ).toBeUndefined();
    expect(pickEnds({ src: '10.244.1.12', dst: 'y', proto: 'udp', protoExplicit: true }, undefined, dns)).toMatchObject(
      { port: 53 },
    );
    expect(
      pickEnds({ src: '10.244.1.12', dst: 'y', port: '8080' }, undefined, asSvc()).warnings.map((w) => w.code),
    ).toContain('port-not-in-service');
  });
});
