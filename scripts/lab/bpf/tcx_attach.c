// Lab helper: attach one program of a BPF object to a device's tcx ingress or egress hook and pin
// the link, as Cilium ≥1.16 does on kernels with tcx. Debian 12's iproute2 6.1 and bpftool 7.1
// cannot attach tcx, and libbpf 1.1 has no tcx helper, so the link is created with
// bpf_link_create() and the uapi attach types (BPF_TCX_INGRESS = 46, BPF_TCX_EGRESS = 47, Linux 6.6).
//   tcx_attach OBJ PROG IFNAME ingress|egress PIN_PATH   (run inside the device's network namespace)
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#define LAB_TCX_INGRESS 46
#define LAB_TCX_EGRESS 47

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: %s OBJ PROG IFNAME ingress|egress PIN\n", argv[0]);
		return 2;
	}
	unsigned int ifindex = if_nametoindex(argv[3]);
	if (!ifindex) {
		perror(argv[3]);
		return 1;
	}
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || libbpf_get_error(obj)) {
		fprintf(stderr, "cannot open %s\n", argv[1]);
		return 1;
	}
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, argv[2]);
	if (!prog) {
		fprintf(stderr, "no program %s in %s\n", argv[2], argv[1]);
		return 1;
	}
	bpf_program__set_type(prog, BPF_PROG_TYPE_SCHED_CLS);
	if (bpf_object__load(obj)) {
		fprintf(stderr, "load failed\n");
		return 1;
	}
	int type = strcmp(argv[4], "egress") == 0 ? LAB_TCX_EGRESS : LAB_TCX_INGRESS;
	int link = bpf_link_create(bpf_program__fd(prog), ifindex, type, NULL);
	if (link < 0) {
		fprintf(stderr, "bpf_link_create: %s\n", strerror(-link));
		return 1;
	}
	if (bpf_obj_pin(link, argv[5])) {
		perror("pin");
		return 1;
	}
	return 0;
}
