// Pass-through cgroup sock_addr programs named like Cilium's socket-LB hooks (bpf_sock.c).
#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))

#ifdef V6
SEC("cgroup/connect6") int cil_sock6_connect(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/sendmsg6") int cil_sock6_sendmsg(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/recvmsg6") int cil_sock6_recvmsg(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/getpeername6") int cil_sock6_getpeername(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/post_bind6") int cil_sock6_post_bind(struct bpf_sock *ctx) { return 1; }
#else
SEC("cgroup/connect4") int cil_sock4_connect(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/sendmsg4") int cil_sock4_sendmsg(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/recvmsg4") int cil_sock4_recvmsg(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/getpeername4") int cil_sock4_getpeername(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/post_bind4") int cil_sock4_post_bind(struct bpf_sock *ctx) { return 1; }
#endif

char _license[] SEC("license") = "GPL";
