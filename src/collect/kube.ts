import { SourceError, UsageError } from '../errors.js';
import { K8S_NAME_PATTERNS as K8S } from '../exec/allowlist.js';
import type { Runner } from '../exec/runner.js';
import type { KubeEndpoint, KubePod, KubeService } from '../tools/kubectl/index.js';

// The parsers (and zod) load only when kubectl is asked: checkKubeTarget runs at every start-up.
const kubectlParsers = () => import('../tools/kubectl/index.js');

/** How to reach the cluster: `--context` and `--namespace`, passed through to kubectl. */
export interface KubeTarget {
  runner?: Runner;
  context?: string;
  namespace?: string;
}

// kubectl may wait on an unreachable API server far longer than a person waits for an answer
const KUBECTL_TIMEOUT_MS = 15_000;

export function checkKubeTarget(t: KubeTarget): void {
  if (t.context !== undefined && !K8S.context.test(t.context))
    throw new UsageError(
      `--context ${JSON.stringify(t.context)} is not a kubeconfig context name netpath accepts ([A-Za-z0-9_.:@/+-], not starting with -)`,
    );
  if (t.namespace !== undefined && !K8S.namespace.test(t.namespace))
    throw new UsageError(
      `--namespace ${JSON.stringify(t.namespace)} is not a Kubernetes namespace name (RFC 1123 label)`,
    );
}

function prefix(t: KubeTarget, namespace: string | undefined): string[] {
  const ns = namespace ?? t.namespace;
  return [
    'kubectl',
    ...(t.context !== undefined ? [`--context=${t.context}`] : []),
    ...(ns !== undefined ? ['-n', ns] : []),
  ];
}

/** kubectl prints klog lines (`E1123 10:34:42.28 …`) before its own one-line error; keep that line. */
function kubectlError(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^[EWI]\d{4} \d\d:\d\d:\d\d/.test(l));
  return (lines[lines.length - 1] ?? stderr.trim().split('\n').pop() ?? '').slice(0, 300) || 'failed without a message';
}

async function get(t: KubeTarget, argv: string[], what: string): Promise<string> {
  if (!t.runner) throw new SourceError('kubectl', `not available in this build (needed to resolve ${what})`);
  const r = await t.runner(argv, { timeoutMs: KUBECTL_TIMEOUT_MS, maxBytes: 64 * 1024 * 1024 });
  if (r.failed === 'ENOENT') throw new SourceError('kubectl', `not installed (needed to resolve ${what})`);
  if (r.failed) throw new SourceError('kubectl', `${r.message ?? r.failed} (resolving ${what})`);
  if (r.exitCode !== 0) throw new SourceError('kubectl', `${kubectlError(r.stderr)} (resolving ${what})`);
  return r.stdout;
}

const probeName = (argv: string[]): string => argv.join(' ');

export async function kubeGetPod(t: KubeTarget, namespace: string | undefined, name: string): Promise<KubePod> {
  const argv = [...prefix(t, namespace), 'get', 'pod', name, '-o', 'json'];
  const what = `pod ${namespace ? `${namespace}/` : ''}${name}`;
  return (await kubectlParsers()).parseKubePod(await get(t, argv, what), probeName(argv));
}

export async function kubeGetService(t: KubeTarget, namespace: string | undefined, name: string): Promise<KubeService> {
  const argv = [...prefix(t, namespace), 'get', 'service', name, '-o', 'json'];
  const what = `service ${namespace ? `${namespace}/` : ''}${name}`;
  return (await kubectlParsers()).parseKubeService(await get(t, argv, what), probeName(argv));
}

export async function kubeGetEndpoints(t: KubeTarget, namespace: string, service: string): Promise<KubeEndpoint[]> {
  const argv = [
    ...prefix(t, namespace),
    'get',
    'endpointslices',
    `--selector=kubernetes.io/service-name=${service}`,
    '-o',
    'json',
  ];
  return (await kubectlParsers()).parseKubeEndpointSlices(
    await get(t, argv, `the endpoints of ${namespace}/${service}`),
    probeName(argv),
  );
}
