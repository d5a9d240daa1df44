// A socket-LB connect4/sendmsg4 hook named like Cilium's (bpf_sock.c: cil_sock4_connect, cil_sock4_sendmsg) that
// does what netpath's trace says Cilium's does, so the kernel can judge it (scripts/lab/socket-lb.sh):
//  - an exact frontend lookup in cilium_lb4_services_v2 (the 1.16 layout: protocol byte 0);
//  - on a miss, for a port in the NodePort range and an address that is a node's (the lab's stand-in for the
//    ipcache's host / remote-node identities: npsl_node_addrs) or loopback, the wildcard 0.0.0.0:port entry,
//    kept only when it is a NodePort;
//  - a frontend without backends rejects the call with EHOSTUNREACH (bpf_set_retval): no packet is sent;
//  - otherwise one backend slot, and the socket's destination becomes the backend.
// Written for the lab from the behaviour, not from Cilium's code; the LB map layouts are netpath's own
// (docs/cilium-datapath.md §1.2).
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define EHOSTUNREACH 113
#define NODEPORT_MIN 30000
#define NODEPORT_MAX 32767
#define SVC_FLAG_NODEPORT 0x02

struct lb4_key {
	__u32 address;
	__u16 dport;
	__u16 backend_slot;
	__u8 proto;
	__u8 scope;
	__u8 pad[2];
};

struct lb4_service {
	__u32 backend_id; /* slot 0: unused */
	__u16 count;
	__u16 rev_nat_index;
	__u8 flags;
	__u8 flags2;
	__u16 pad;
};

struct lb4_backend {
	__u32 address;
	__u16 port;
	__u8 proto;
	__u8 flags;
	__u16 cluster_id;
	__u8 zone;
	__u8 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct lb4_key);
	__type(value, struct lb4_service);
} cilium_lb4_services_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct lb4_backend);
} cilium_lb4_backends_v3 SEC(".maps");

/* node addresses: value 1 = this node (host identity), 2 = a remote node */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} npsl_node_addrs SEC(".maps");

static __always_inline int xlate(struct bpf_sock_addr *ctx)
{
	struct lb4_key key = {};
	struct lb4_service *svc, *slot;
	struct lb4_backend *be;
	__u32 addr = ctx->user_ip4;
	__u16 port = (__u16)ctx->user_port;

	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return 1;
	key.address = addr;
	key.dport = port;
	svc = bpf_map_lookup_elem(&cilium_lb4_services_v2, &key);
	if (!svc) {
		__u16 p = bpf_ntohs(port);
		int loopback = (bpf_ntohl(addr) >> 24) == 127;

		if (p < NODEPORT_MIN || p > NODEPORT_MAX)
			return 1;
		if (!loopback && !bpf_map_lookup_elem(&npsl_node_addrs, &addr))
			return 1;
		key.address = 0;
		svc = bpf_map_lookup_elem(&cilium_lb4_services_v2, &key);
		if (!svc || !(svc->flags & SVC_FLAG_NODEPORT))
			return 1;
	}
	if (svc->count == 0) {
		bpf_set_retval(-EHOSTUNREACH);
		return 0;
	}
	key.backend_slot = (bpf_get_prandom_u32() % svc->count) + 1;
	slot = bpf_map_lookup_elem(&cilium_lb4_services_v2, &key);
	if (!slot)
		return 1;
	be = bpf_map_lookup_elem(&cilium_lb4_backends_v3, &slot->backend_id);
	if (!be)
		return 1;
	ctx->user_ip4 = be->address;
	ctx->user_port = be->port;
	return 1;
}

SEC("cgroup/connect4")
int cil_sock4_connect(struct bpf_sock_addr *ctx)
{
	return xlate(ctx);
}

SEC("cgroup/sendmsg4")
int cil_sock4_sendmsg(struct bpf_sock_addr *ctx)
{
	return xlate(ctx);
}

char _license[] SEC("license") = "GPL";
