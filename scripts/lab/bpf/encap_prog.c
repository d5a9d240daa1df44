// Programs of the encap lab (scripts/lab/encap.sh). They are not Cilium's datapath: each does the one thing
// of Cilium's that the lab lets the kernel judge, deciding by a pinned map in the layout of Cilium's
// cilium_ipcache_v2 (LPM trie, 24-byte key and value; src/tools/cilium/ipcache.ts decodes it).
//   -DFROM_CONTAINER -DTUNNEL_IFINDEX=N : tunnel mode. A destination whose entry has the hastunnel flag gets
//       bpf_skb_set_tunnel_key(tunnel endpoint) and is redirected to the collect_md vxlan device.
//   -DTO_NETDEV -DWG_IFINDEX=N -DNODE_IP=0x... -DPOD_NET=0x... -DPOD_MASK=0x... : on the native device's
//       egress. A destination whose entry carries a key is redirected to the WireGuard device; a pod's ICMP
//       packet to an entry of world identity is source-NATed to the node address; a remote node (or no entry)
//       is left alone.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <stddef.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct ipcache_key {
	__u32 prefixlen;
	__u16 cluster_id;
	__u8 pad;
	__u8 family;
	__u8 addr[16];
};

struct ipcache_val {
	__u32 identity;
	__u8 tunnel[16];
	__u16 pad;
	__u8 key;
	__u8 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct ipcache_key);
	__type(value, struct ipcache_val);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilium_ipcache_v2 SEC(".maps");

#define FLAG_HASTUNNEL 2

static __always_inline struct ipcache_val *lookup4(__u32 daddr)
{
	struct ipcache_key k = {};

	k.prefixlen = 32 + 32;
	k.family = 1;
	__builtin_memcpy(k.addr, &daddr, 4);
	return bpf_map_lookup_elem(&cilium_ipcache_v2, &k);
}

#ifdef FROM_CONTAINER
SEC("tc")
int cil_from_container(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct bpf_tunnel_key tk = {};
	struct ipcache_val *v;
	__u32 tep;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	v = lookup4(ip->daddr);
	if (!v || !(v->flags & FLAG_HASTUNNEL))
		return TC_ACT_OK;
	__builtin_memcpy(&tep, v->tunnel, 4);
	tk.remote_ipv4 = bpf_ntohl(tep);
	tk.tunnel_id = v->identity;
	tk.tunnel_ttl = 64;
	if (bpf_skb_set_tunnel_key(skb, &tk, sizeof(tk), BPF_F_ZERO_CSUM_TX) < 0)
		return TC_ACT_SHOT;
	return bpf_redirect(TUNNEL_IFINDEX, 0);
}
#endif

#ifdef TO_NETDEV
SEC("tc")
int cil_to_netdev(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct ipcache_val *v;
	__u32 old, new = bpf_htonl(NODE_IP);

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	v = lookup4(ip->daddr);
	if (!v)
		return TC_ACT_OK;
	if (v->key)
		return bpf_redirect(WG_IFINDEX, 0);
	/* world (2): SNAT a pod's ICMP (its checksum does not cover the addresses); anything else passes */
	if (v->identity != 2 || ip->protocol != IPPROTO_ICMP || (bpf_ntohl(ip->saddr) & POD_MASK) != POD_NET)
		return TC_ACT_OK;
	old = ip->saddr;
	bpf_skb_store_bytes(skb, ETH_HLEN + offsetof(struct iphdr, saddr), &new, 4, 0);
	bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check), old, new, 4);
	return TC_ACT_OK;
}
#endif

char _license[] SEC("license") = "GPL";
