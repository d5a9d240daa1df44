import { readFileSync } from 'node:fs';

/**
 * What each probe needs to see everything (docs/safety.md, "Privileges"), measured on Linux 6.18 by running
 * every probe as uid 65534 under `setpriv` with one capability at a time (test/kernel/privilege.test.ts runs
 * netpath itself that way). A probe that lacks them fails with EPERM/EACCES, except `bpftool cgroup tree`,
 * which with CAP_NET_ADMIN alone exits 0 and lists no programs at all.
 */
export interface Need {
  /** every one of these capabilities (an empty list: no privilege) */
  caps: string[];
  /** what else decides access (a socket's or a pin's file mode) */
  note?: string;
  /** the probe still exits 0 without them, with an answer that is incomplete */
  silentWithout?: string;
}

export function needOf(argv: readonly string[]): Need {
  const [cmd, ...rest] = argv;
  const a = rest.join(' ');
  switch (cmd) {
    case 'ip':
      // `ip -n NS` enters the namespace (setns): EPERM without both
      if (rest[0] === '-n') return { caps: ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'] };
      // xfrm's netlink family answers every request, dumps included, only to CAP_NET_ADMIN (measured: EPERM without)
      return rest[0] === 'xfrm' ? { caps: ['CAP_NET_ADMIN'] } : { caps: [] };
    case 'tc':
      return { caps: [] };
    case 'bpftool':
      if (/^-j (prog|link|map) show$/.test(a)) return { caps: ['CAP_SYS_ADMIN'] };
      if (/^-j net show$/.test(a)) return { caps: ['CAP_NET_ADMIN'] };
      if (/^-j cgroup tree /.test(a))
        return { caps: ['CAP_NET_ADMIN', 'CAP_SYS_ADMIN'], silentWithout: 'CAP_SYS_ADMIN' };
      if (/^-j map dump pinned /.test(a))
        return { caps: [], note: 'read access to the pinned map (root-only files: root or CAP_DAC_OVERRIDE)' };
      return { caps: [] };
    case 'ipvsadm':
      // its socket-option interface opens a raw socket: "Permission denied" with CAP_NET_ADMIN alone
      return rest[0] === '-v' || rest[0] === '--version' ? { caps: [] } : { caps: ['CAP_NET_ADMIN', 'CAP_NET_RAW'] };
    case 'nft':
    case 'ipset':
    case 'iptables-save':
    case 'ip6tables-save':
    case 'conntrack':
      return rest[0] === '-v' || rest[0] === '-V' || rest[0] === '--version' || rest[0] === 'version'
        ? { caps: [] }
        : { caps: ['CAP_NET_ADMIN'] };
    case 'wg':
      // the kernel module's netlink family is admin-only; wireguard-go answers on a root-only unix socket
      return {
        caps: [],
        note: "CAP_NET_ADMIN for kernel WireGuard, or root/CAP_DAC_OVERRIDE for wireguard-go's socket in /var/run/wireguard",
      };
    case 'cilium-dbg':
    case 'cilium':
      return { caps: [], note: "access to the agent's socket /var/run/cilium/cilium.sock (root, or its group)" };
    case 'kubectl':
      return { caps: [], note: 'kubeconfig credentials that may get pods in kube-system' };
    default:
      return { caps: [] };
  }
}

const CAP_NAMES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** The effective capabilities in a `/proc/<pid>/status` text (`CapEff:` hex mask), or null when it has none. */
export function parseCapEff(status: string): Set<string> | null {
  const m = /^CapEff:\s*([0-9a-fA-F]{1,16})\s*$/m.exec(status);
  if (!m) return null;
  const mask = BigInt(`0x${m[1]}`);
  const out = new Set<string>();
  CAP_NAMES.forEach((n, i) => {
    if ((mask >> BigInt(i)) & 1n) out.add(n);
  });
  return out;
}

/** netpath's own effective capabilities (reading a proc file, not a process), or null when unknown. */
export function ownCapabilities(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): Set<string> | null {
  try {
    return parseCapEff(read('/proc/self/status'));
  } catch {
    return null;
  }
}

export function missingCaps(need: Need, have: Set<string> | null): string[] {
  if (have === null) return [];
  return need.caps.filter((c) => !have.has(c));
}

/** `needs CAP_A and CAP_B` / `needs no capability, but …`, for a one-line message. */
export function describeNeed(need: Need): string {
  const caps = need.caps.length === 0 ? '' : `needs ${need.caps.join(' and ')}`;
  if (need.note) return caps ? `${caps}; ${need.note}` : `needs ${need.note}`;
  return caps || 'needs more privilege';
}

/** The capabilities that matter to probes, of a set (for `netpath commands` and messages). */
export function describeCaps(have: Set<string> | null): string {
  if (have === null) return 'unknown';
  const relevant = ['CAP_NET_ADMIN', 'CAP_SYS_ADMIN', 'CAP_DAC_OVERRIDE'].filter((c) => have.has(c));
  return relevant.length ? relevant.join(', ') : 'none of CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_DAC_OVERRIDE';
}
