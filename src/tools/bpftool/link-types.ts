/**
 * `enum bpf_link_type` (include/uapi/linux/bpf.h). bpftool prints a link type it has no name
 * for as this number (Debian 12's bpftool 7.1: tcx is `type 11`). Checked against headers:
 * 1–9 are in Linux 6.1's, 10–12 in 6.6's, 13 comes with the netkit patch (6.7); the
 * per-entry versions are the release that added each value.
 */
export const BPF_LINK_TYPES: Readonly<Record<number, string>> = {
  1: 'raw_tracepoint', // 5.8
  2: 'tracing', // 5.8
  3: 'cgroup', // 5.8
  4: 'iter', // 5.8
  5: 'netns', // 5.8
  6: 'xdp', // 5.9
  7: 'perf_event', // 5.15
  8: 'kprobe_multi', // 5.18
  9: 'struct_ops', // 6.0
  10: 'netfilter', // 6.4
  11: 'tcx', // 6.6
  12: 'uprobe_multi', // 6.6
  13: 'netkit', // 6.7
  14: 'sockmap', // 6.10
};

/**
 * `enum bpf_attach_type` numbers bpftool may print instead of a name; only those netpath
 * needs, checked against Linux 6.6's header.
 */
export const BPF_ATTACH_TYPES: Readonly<Record<number, string>> = {
  46: 'tcx_ingress', // 6.6
  47: 'tcx_egress', // 6.6
};

export function linkTypeName(t: string | number): string {
  return typeof t === 'number' ? (BPF_LINK_TYPES[t] ?? `type ${t}`) : t;
}

export function attachTypeName(t: string | number): string {
  return typeof t === 'number' ? (BPF_ATTACH_TYPES[t] ?? `attach_type ${t}`) : t;
}

/**
 * Older bpftool printed its own short attach-type names; newer ones print libbpf's.
 * The model keeps libbpf's.
 */
export const OLD_CGROUP_ATTACH_TYPES: Readonly<Record<string, string>> = {
  ingress: 'cgroup_inet_ingress',
  egress: 'cgroup_inet_egress',
  sock_create: 'cgroup_inet_sock_create',
  sock_ops: 'cgroup_sock_ops',
  device: 'cgroup_device',
  bind4: 'cgroup_inet4_bind',
  bind6: 'cgroup_inet6_bind',
  post_bind4: 'cgroup_inet4_post_bind',
  post_bind6: 'cgroup_inet6_post_bind',
  connect4: 'cgroup_inet4_connect',
  connect6: 'cgroup_inet6_connect',
  sendmsg4: 'cgroup_udp4_sendmsg',
  sendmsg6: 'cgroup_udp6_sendmsg',
  recvmsg4: 'cgroup_udp4_recvmsg',
  recvmsg6: 'cgroup_udp6_recvmsg',
  sysctl: 'cgroup_sysctl',
  getsockopt: 'cgroup_getsockopt',
  setsockopt: 'cgroup_setsockopt',
  getpeername4: 'cgroup_inet4_getpeername',
  getpeername6: 'cgroup_inet6_getpeername',
  getsockname4: 'cgroup_inet4_getsockname',
  getsockname6: 'cgroup_inet6_getsockname',
  sock_release: 'cgroup_inet_sock_release',
};

export function cgroupAttachTypeName(t: string | number): string {
  const n = attachTypeName(t);
  return Object.hasOwn(OLD_CGROUP_ATTACH_TYPES, n) ? OLD_CGROUP_ATTACH_TYPES[n]! : n;
}
