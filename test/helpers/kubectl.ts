import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { isAllowed } from '../../src/exec/allowlist.js';
import type { RawOutput, Runner } from '../../src/exec/runner.js';

// The objects of fixtures/kubectl come from the Kubernetes documentation as `kubectl get -o yaml` printed
// them (see its README); `-o json` prints the same object, which is what these helpers serve.
const dir = fileURLToPath(new URL('../../fixtures/kubectl/', import.meta.url));
const load = (file: string): unknown => parseYaml(readFileSync(dir + file, 'utf8'));

/** The object as `kubectl get KIND NAME -o json` prints it (4-space indent). */
export const asKubectlJson = (file: string): string => JSON.stringify(load(file), null, 4) + '\n';

/** Several objects as `kubectl get KIND -l … -o json` prints a list. */
export const asKubectlList = (...files: string[]): string =>
  JSON.stringify(
    { apiVersion: 'v1', items: files.map(load), kind: 'List', metadata: { resourceVersion: '' } },
    null,
    4,
  ) + '\n';

/**
 * A runner standing in for kubectl: answers `get <kind> <name>` from `objects` (by "kind/name"),
 * records every argv, and refuses (like the live runner) anything off the allow-list.
 */
export function fakeKubectl(objects: Record<string, string>): Runner & { calls: string[][] } {
  const calls: string[][] = [];
  const run = async (argv: readonly string[]): Promise<RawOutput> => {
    calls.push([...argv]);
    const base = { argv, stderr: '', durationMs: 1 };
    if (!isAllowed(argv))
      return {
        ...base,
        exitCode: -1,
        stdout: '',
        failed: 'not-allowed',
        message: 'kubectl: not on the read-only allow-list',
      };
    const i = argv.indexOf('get');
    const key =
      argv[i + 1] === 'endpointslices'
        ? `endpointslices/${argv[i + 2]!.split('=').pop()}`
        : `${argv[i + 1]}/${argv[i + 2]}`;
    const out = objects[key];
    if (out === undefined) throw new Error(`test did not expect ${argv.join(' ')}`);
    return { ...base, exitCode: 0, stdout: out };
  };
  return Object.assign(run, { calls });
}
