// NodePort from outside, the way Cilium 1.14+ handles it in cil_from_netdev (bpf/lib/nodeport.h nodeport_lb4 →
// tail_nodeport_nat_egress_ipv4 → fib_redirect_v4), cut down to what the lab judges: look the frontend up in
// Cilium's own service map (v1.17+ layout: key proto byte = 6), DNAT to the first backend slot, SNAT to the
// frontend address (the lab's frontend is the node address on its direct-routing device, which is what Cilium
// SNATs to), then bpf_fib_lookup and bpf_redirect_neigh out of the device the FIB names: the packet never enters
// the routing stack or netfilter. Replies from the backend are reverse-NATed the same way. Not Cilium's code:
// no CT map, no port allocation (the client port is kept and keys the lab's NAT table), TCP over IPv4 only.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define IP_CSUM (ETH_HLEN + 10)
#define IP_SRC (ETH_HLEN + 12)
#define IP_DST (ETH_HLEN + 16)
#define TCP_SPORT (ETH_HLEN + 20)
#define TCP_DPORT (ETH_HLEN + 22)
#define TCP_CSUM (ETH_HLEN + 20 + 16)
#define SVC_FLAG_ROUTABLE 0x40

struct lb4_key {
	__be32 address;
	__be16 dport;
	__u16 backend_slot;
	__u8 proto;
	__u8 scope;
	__u8 pad[2];
};

struct lb4_service {
	__u32 backend_id;
	__u16 count;
	__u16 rev_nat_index;
	__u8 flags;
	__u8 flags2;
	__u16 qcount;
};

struct lb4_backend {
	__be32 address;
	__be16 port;
	__u8 proto;
	__u8 flags;
	__u16 cluster_id;
	__u8 zone;
	__u8 pad;
};

// the lab's NAT table: client port → the client and the frontend it asked for
struct nat_entry {
	__be32 client;
	__be32 frontend;
	__be16 fport;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb4_key);
	__type(value, struct lb4_service);
	__uint(max_entries, 64);
} cilium_lb4_services_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct lb4_backend);
	__uint(max_entries, 64);
} cilium_lb4_backends_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __be16);
	__type(value, struct nat_entry);
	__uint(max_entries, 1024);
} npnp_nat SEC(".maps");

static __always_inline void set_addr(struct __sk_buff *skb, int off, __be32 from, __be32 to)
{
	bpf_l4_csum_replace(skb, TCP_CSUM, from, to, BPF_F_PSEUDO_HDR | sizeof(to));
	bpf_l3_csum_replace(skb, IP_CSUM, from, to, sizeof(to));
	bpf_skb_store_bytes(skb, off, &to, sizeof(to), 0);
}

static __always_inline void set_port(struct __sk_buff *skb, int off, __be16 from, __be16 to)
{
	bpf_l4_csum_replace(skb, TCP_CSUM, from, to, sizeof(to));
	bpf_skb_store_bytes(skb, off, &to, sizeof(to), 0);
}

SEC("tc")
int cil_from_netdev(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + ETH_HLEN;
	struct tcphdr *tcp = data + ETH_HLEN + sizeof(*ip);

	if ((void *)(tcp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (ip->ihl != 5 || ip->protocol != IPPROTO_TCP)
		return TC_ACT_OK;
	__be32 saddr = ip->saddr, daddr = ip->daddr, nsrc, ndst;
	__be16 sport = tcp->source, dport = tcp->dest, nsport, ndport;
	__u16 tot_len = bpf_ntohs(ip->tot_len);

	struct lb4_key key = { .address = daddr, .dport = dport, .proto = IPPROTO_TCP };
	struct lb4_service *svc = bpf_map_lookup_elem(&cilium_lb4_services_v2, &key);
	if (svc) {
		// from outside, a frontend without the routable flag is DROP_IS_CLUSTER_IP
		if (!(svc->flags & SVC_FLAG_ROUTABLE) || svc->count == 0)
			return TC_ACT_SHOT;
		key.backend_slot = 1;
		struct lb4_service *slot = bpf_map_lookup_elem(&cilium_lb4_services_v2, &key);
		if (!slot)
			return TC_ACT_SHOT;
		struct lb4_backend *be = bpf_map_lookup_elem(&cilium_lb4_backends_v3, &slot->backend_id);
		if (!be)
			return TC_ACT_SHOT;
		struct nat_entry ne = { .client = saddr, .frontend = daddr, .fport = dport };
		bpf_map_update_elem(&npnp_nat, &sport, &ne, BPF_ANY);
		nsrc = daddr;
		ndst = be->address;
		nsport = sport;
		ndport = be->port;
	} else {
		// a reply from the backend to the SNAT address: back to the client, from the frontend
		struct nat_entry *ne = bpf_map_lookup_elem(&npnp_nat, &dport);
		if (!ne || ne->frontend != daddr)
			return TC_ACT_OK;
		nsrc = ne->frontend;
		ndst = ne->client;
		nsport = ne->fport;
		ndport = dport;
	}
	set_addr(skb, IP_SRC, saddr, nsrc);
	set_addr(skb, IP_DST, daddr, ndst);
	set_port(skb, TCP_SPORT, sport, nsport);
	set_port(skb, TCP_DPORT, dport, ndport);

	struct bpf_fib_lookup fib = {
		.family = AF_INET,
		.ipv4_src = nsrc,
		.ipv4_dst = ndst,
		.tot_len = tot_len,
		.ifindex = skb->ingress_ifindex,
	};
	long rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return TC_ACT_SHOT; /* DROP_NO_FIB */
	// the FIB left the next hop (the gateway, or the destination on-link) in ipv4_dst
	struct bpf_redir_neigh nh = { .nh_family = AF_INET, .ipv4_nh = fib.ipv4_dst };
	return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
}

char _license[] SEC("license") = "GPL";
