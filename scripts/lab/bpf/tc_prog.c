// A pass-through tc program. The lab compiles it once per Cilium program name
// (-DPROG=cil_from_container, ...) so the kernel, tc and bpftool report those names.
// It is not Cilium's datapath: it only makes the attachments real.
#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))

SEC("tc")
int PROG(struct __sk_buff *skb)
{
	return 0; /* TC_ACT_OK */
}

char _license[] SEC("license") = "GPL";
