import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { emptyNodeState } from '../../src/model/types.js';
import type {
  BpfHook,
  BpfLink,
  BpfNetAttachment,
  BpfProgram,
  Link,
  NodeState,
  TcFilter,
  WgDevice,
} from '../../src/model/types.js';
import { parseCiliumConfig, parseCiliumStatus } from '../../src/tools/cilium/index.js';

// Small in-memory NodeState builders for analysis tests. Evidence texts name what built them.

const src = (probe: string, text: string) => ({ probe, text });

/** A node state with the given parts; everything else empty. */
export function nodeState(parts: Partial<NodeState> = {}): NodeState {
  return { ...emptyNodeState(), ...parts };
}

export function fixtureText(path: string): string {
  return readFileSync(fileURLToPath(new URL(`../../fixtures/${path}`, import.meta.url)), 'utf8');
}

/** Sets cilium.status from a `fixtures/tools/cilium/status/` file or from inline status text. */
export function withStatus(s: NodeState, fileOrText: string): NodeState {
  const text = /\n/.test(fileOrText) ? fileOrText : fixtureText(`tools/cilium/status/${fileOrText}`);
  s.cilium.status = parseCiliumStatus(text, 'cilium-status').value;
  return s;
}

/** Sets cilium.config from `key: value` pairs (as the ConfigMap would hold them). */
export function withConfig(s: NodeState, kv: Record<string, string>): NodeState {
  const text = Object.entries(kv)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
  s.cilium.config = parseCiliumConfig(
    `apiVersion: v1\nkind: ConfigMap\ndata:\n${text.replace(/^/gm, '  ')}\n`,
    'cilium-config',
  ).value;
  return s;
}

export function link(name: string, ifindex: number, kind?: string): Link {
  return {
    name,
    ifindex,
    flags: ['UP'],
    ...(kind ? { kind } : {}),
    source: src('ip-link', `${ifindex}: ${name}${kind ? ` ${kind}` : ''}`),
  };
}

export function prog(id: number, name: string, type = 'sched_cls'): BpfProgram {
  return { id, type, name, source: src('bpftool-prog', `${id}: ${type}  name ${name}`) };
}

/** A bpftool link; without dev/ifindex it is what Debian's bpftool 7.1 shows for tcx. */
export function bpfLink(
  id: number,
  progId: number,
  type: string,
  attachType?: string,
  extra: Partial<BpfLink> = {},
): BpfLink {
  return {
    id,
    type,
    progId,
    ...(attachType ? { attachType } : {}),
    ...extra,
    source: src('bpftool-link', `${id}: ${type}  prog ${progId}${attachType ? ` attach_type ${attachType}` : ''}`),
  };
}

export function tcFilter(
  dev: string,
  direction: 'ingress' | 'egress',
  progId: number,
  progName: string,
  bpfName?: string,
): TcFilter {
  return {
    dev,
    direction,
    kind: 'bpf',
    progId,
    progName,
    ...(bpfName ? { bpfName } : {}),
    source: src(
      `tc-filter/${dev}.${direction}`,
      `filter protocol all pref 1 bpf chain 0 handle 0x1 ${bpfName ?? ''} direct-action not_in_hw id ${progId} name ${progName}`,
    ),
  };
}

export function bpfNet(dev: string, ifindex: number, hook: BpfHook, name: string, progId: number): BpfNetAttachment {
  return {
    dev,
    ifindex,
    hook,
    name,
    progId,
    source: src('bpftool-net', `${dev}(${ifindex}) ${hook} ${name} id ${progId}`),
  };
}

export function wgDevice(name: string): WgDevice {
  return { name, publicKey: '(redacted)', peers: [], source: src('wg', `${name}\t(redacted)`) };
}
