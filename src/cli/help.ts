// Every help text longer than a line: the examples and notes `--help` prints after a command's options, and the
// man page and completion scripts are generated from (describe.ts). One-line descriptions of commands, arguments
// and options stay next to their declaration in the command's own file.

/** The program's one-line description (the first line of `netpath --help` and of the man page). */
export const PROGRAM_DESCRIPTION =
  'Explain how a packet travels through a Cilium native-routing node, from read-only probes or a snapshot.';

/**
 * Examples shown by --help and in the man page. Each one runs as written from the repository root (a test runs
 * them all on the bundled snapshots: exit 0 or 1, never 2 or 3); live examples would need a node.
 */
export const EXAMPLES: Record<string, [command: string, comment?: string][]> = {
  trace: [
    [
      'netpath trace 10.244.1.12 10.244.2.7 --port 8080 -s fixtures/snapshots/kind-v4/k1',
      'pod to a pod on another node',
    ],
    [
      'netpath trace default/web-k1a default/web-k1b -s fixtures/snapshots/kind-v4/k1 -o table',
      "pod names, from the node's Cilium endpoints",
    ],
    [
      'netpath trace 10.244.1.12 10.96.0.10 --proto udp --port 53 -s fixtures/snapshots/kind-v4-svc/k1 -o wide',
      'to a Service',
    ],
    ['netpath trace 2001:db8:42::a:5 2001:db8:42::c:9 --cluster fixtures/snapshots/v6-wg -o json', 'node by node'],
    [
      'netpath trace 10.244.1.12 10.244.1.57 -s fixtures/snapshots/kind-v4/k1 --explain',
      'why each hop, and live commands to confirm it',
    ],
    [
      'netpath trace 2001:db8:1::10 2001:db8:77::1 -s fixtures/snapshots/v6-wg/gateway -q',
      'no route: exit 1, one line',
    ],
  ],
  'svc lookup': [
    ['netpath svc lookup 10.96.0.10:53/udp -s fixtures/snapshots/kind-v4-svc/k1'],
    [
      'netpath svc lookup default/web -s fixtures/snapshots/migrate-iptables/before -o wide',
      'by name (kube-proxy rules carry names)',
    ],
    ['netpath svc lookup 10.96.0.99 -s fixtures/snapshots/kind-v4-svc/k1 -q', 'nothing matches: exit 1'],
  ],
  diff: [
    [
      'netpath diff fixtures/snapshots/migrate-iptables/before fixtures/snapshots/migrate-iptables/after',
      'kube-proxy iptables mode → Cilium: clean',
    ],
    [
      'netpath diff fixtures/snapshots/migrate-ipvs/before fixtures/snapshots/migrate-ipvs/after-broken -q',
      'kube-ipvs0 and IPVS left behind: exit 1',
    ],
    [
      'netpath diff fixtures/snapshots/migrate-nft/before fixtures/snapshots/migrate-nft/after-broken -o json',
      'the JSON contract',
    ],
    ['netpath diff fixtures/snapshots/migrate-iptables/before live', 'after the migration, against this node'],
  ],
  check: [
    ['netpath check -s fixtures/snapshots/kind-v4/k1', 'every path of the node, and what breaks them'],
    ['netpath check -s fixtures/snapshots/migrate-iptables/after-broken -o json', 'the JSON contract (docs/check.md)'],
    ['netpath check --cluster fixtures/snapshots/v6-wg', 'each node of a cluster snapshot'],
  ],
  node: [
    ['netpath node -s fixtures/snapshots/kind-v4/k1', 'each conclusion with the probe line it rests on'],
    ['netpath node -s fixtures/snapshots/v6-wg/gateway -o json', 'the JSON contract (docs/node.md)'],
  ],
  snapshot: [
    ['netpath snapshot -o /tmp/node1', 'this node, as root'],
    ['netpath snapshot -o node1.tar.gz --exec "ssh node1"', 'a node reached over ssh; nothing is installed there'],
    ['netpath snapshot --cluster -o lab --node-exec "node1=ssh node1" --node-exec "node2=ssh node2"'],
    ['netpath snapshot --redact -o share.tar.gz', 'to share outside the company'],
    [
      'netpath snapshot --redact --from fixtures/snapshots/kind-v4/k1 -o /tmp/k1-redacted',
      'redact a snapshot taken earlier',
    ],
  ],
  commands: [['netpath commands']],
  completion: [
    ['netpath completion bash', 'use: source <(netpath completion bash)'],
    ['netpath completion zsh', 'use: source <(netpath completion zsh)'],
    ['netpath completion fish', 'use: netpath completion fish > ~/.config/fish/completions/netpath.fish'],
  ],
  man: [['netpath man', 'read it: netpath man | man -l -']],
};

export const NOTES: Record<string, string> = {
  check:
    'Findings are ranked: errors first, then by how many of the checked flows they affect; each names example flows, the probe lines behind it, and read-only commands that confirm it live. Exit codes: 0 no error-level finding, 1 at least one, 2 usage, 3 the node state could not be read.',
  node: 'Check this before trusting a trace: a fact is known with its evidence (marked inferred when no line states it), or unknown with why. Missing probes are listed with the reason the source gives. Exit codes: 0 reported, 2 usage, 3 nothing could be read.',
  trace:
    'Without --snapshot, --exec or --cluster, netpath probes the node it runs on (as root, for bpftool). Exit codes: 0 delivered/forwarded, 1 dropped/no route, 2 usage, 3 a required source is missing or unreadable.',
  'svc lookup':
    "Sources: Cilium's pinned LB maps (decoded from raw bytes, works with the agent down), cilium-dbg service list / bpf lb list, kube-proxy iptables-save, the kube-proxy nftables table, ipvsadm. A conflict is reported when two layers program the same frontend differently. A namespace/name no node source carries is asked of kubectl, and the API's ready endpoints are compared with the node's backends. Exit 0 found, 1 no frontend matches, 2 usage, 3 no Service source.",
  diff: 'Each side is a snapshot directory, a .tar.gz, or live (this node, or the one --exec reaches). Exit codes: 0 clean migration, 1 regressions (a frontend lost or served differently, a kube-proxy leftover that still acts on packets, a flow that regressed), 2 usage, 3 a side (or a source of one) cannot be read: no verdict.',
  snapshot:
    'WireGuard private and preshared keys are replaced by (redacted) before anything is written. --redact also replaces every address (prefix-preserving), MAC address, WireGuard public key and node name, the same way in every file and on every node (docs/safety.md, "Redaction").',
};

/** What `--help` of the command at `path` prints after its options: the examples (under `name`), then the notes. */
export function examplesHelp(path: string, name: string): string {
  const ex = EXAMPLES[path] ?? [];
  const notes = NOTES[path];
  const width = Math.max(...ex.map(([c]) => c.length));
  const lines = ex.map(
    ([c, comment]) =>
      `  ${c.replace(/^netpath/, name)}${comment ? `${' '.repeat(width - c.length + 2)}# ${comment}` : ''}`,
  );
  return `${lines.length ? `\nExamples (the snapshots are in the netpath repository):\n${lines.join('\n')}\n` : ''}${notes ? `\n${notes}` : ''}`;
}
