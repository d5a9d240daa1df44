import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.js';

// docs/hops.md shows, for each hop kind, a real hop of a bundled snapshot under the command that printed it
// (evidence cut to its first line, paths to two). Each is rerun: the hop must be in the output, as shown.

const root = fileURLToPath(new URL('../..', import.meta.url));
const doc = readFileSync(`${root}/docs/hops.md`, 'utf8');
const examples = [...doc.matchAll(/```sh\nnetpath (.+)\n```\n\n```json\n([\s\S]*?)\n```/g)].map((m) => ({
  // a trailing `# exit N` comment is for the docs-examples test (the exit code it documents)
  argv: m[1]!.replace(/\s+#.*$/, '').split(' '),
  hop: JSON.parse(m[2]!) as Record<string, unknown> & { kind: string; evidence: unknown[]; paths?: unknown[] },
}));

describe('docs/hops.md', () => {
  it('shows an example of every hop kind', () => {
    expect(new Set(examples.map((e) => e.hop.kind))).toEqual(
      new Set([
        'socket-lb',
        'tc-lb',
        'kube-proxy',
        'bpf',
        'redirect_peer',
        'redirect_neigh',
        'redirect',
        'stack',
        'netfilter',
        'route',
        'gateway',
        'wireguard',
        'encap',
        'masquerade',
        'conntrack',
        'deliver',
        'drop',
      ]),
    );
  });

  for (const ex of examples) {
    it(`${ex.hop.kind}: netpath ${ex.argv.join(' ')}`, async () => {
      const r = await runCli(ex.argv.map((a) => (a.startsWith('fixtures/') ? `${root}/${a}` : a)));
      const hops = (JSON.parse(r.out) as { hops: Record<string, unknown>[] }).hops.map((h) => ({
        ...h,
        evidence: (h.evidence as unknown[]).slice(0, ex.hop.evidence.length),
        ...(h.paths ? { paths: (h.paths as unknown[]).slice(0, 2) } : {}),
      }));
      expect(hops).toContainEqual(ex.hop);
    });
  }
});
