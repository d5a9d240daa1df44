import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareWithApi } from '../../src/analysis/services.js';
import { runSvcLookup } from '../../src/commands/svc-lookup.js';
import { dirSource } from '../../src/collect/source.js';
import { parseKubeEndpointSlices } from '../../src/tools/kubectl/index.js';
import { asKubectlList } from '../helpers/kubectl.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('node backends against the API endpoints of a Service', () => {
  it('says which ready endpoints the node lacks and which backends the API does not list', async () => {
    const { result } = await runSvcLookup(dirSource(join(root, 'fixtures/snapshots/kind-v4-svc/k1')), '10.96.0.10');
    const f = result.frontends[0]!;
    expect(f.backends.map((b) => `${b.address}:${b.port}`)).toEqual(['10.244.1.57:53', '10.244.2.7:53']);
    const api = parseKubeEndpointSlices(asKubectlList('endpointslice.example-abc.yaml'), 'kubectl get endpointslices');
    const w = compareWithApi(f, { name: 'http', protocol: 'TCP' }, api, 'kubectl');
    expect(w.map((x) => x.message)).toEqual([
      '10.96.0.10:53/ANY: the API lists ready endpoint(s) 10.1.2.3:80 that this node does not program',
      '10.96.0.10:53/ANY: this node programs active backend(s) 10.244.1.57:53, 10.244.2.7:53 that the API does not list as ready',
    ]);
    // the same set, one of them not ready in the API: only that one is reported
    const same = f.backends.map((b, i) => ({
      address: b.address,
      port: b.port,
      protocol: 'UDP',
      portName: 'dns',
      ready: i === 0,
    }));
    expect(compareWithApi(f, { name: 'dns', protocol: 'UDP' }, same, 'kubectl').map((x) => x.code)).toEqual([
      'backend-not-in-api',
    ]);
    expect(
      compareWithApi(
        f,
        { name: 'dns', protocol: 'UDP' },
        same.map((e) => ({ ...e, ready: true })),
        'kubectl',
      ),
    ).toEqual([]);
    // endpoints of another Service port are not compared with this one
    expect(compareWithApi(f, { name: 'dns-tcp', protocol: 'TCP' }, same, 'kubectl').map((x) => x.code)).toEqual([
      'backend-not-in-api',
    ]);
  });
});
