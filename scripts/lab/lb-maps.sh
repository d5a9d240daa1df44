#!/usr/bin/env bash
# Builds Cilium's LB maps (v1.13 layout, as the kind-v4 nodes run 1.13: key protocol byte 0, backends without
# a protocol; docs/cilium-datapath.md §1.2) in a private mount namespace with a bpffs
# of its own, pinned where the agent pins them, and dumps them with bpftool into OUT/bpf-map/. The Services
# point at the kind-v4 lab's pods: 10.96.0.10:53/UDP (ClusterIP, rev-NAT 5) → 10.244.1.57:53, 10.244.2.7:53;
# 172.18.0.2:31940/TCP (NodePort, routable, rev-NAT 8) → 10.244.2.7:8080.
#   lb-maps.sh OUT
set -euo pipefail
OUT=${1:?usage: lb-maps.sh OUT}
mkdir -p "$OUT/bpf-map"
unshare -m --propagation private bash -s "$OUT" <<'INNER'
set -euo pipefail
OUT=$1
mount -t bpf bpf /sys/fs/bpf
G=/sys/fs/bpf/tc/globals
mkdir -p $G
mk() { bpftool map create "$G/$1" type hash key "$2" value "$3" entries 64 name "${1:0:15}"; }
up() { local m=$1; shift; bpftool map update pinned "$G/$m" key hex $1 value hex $2; }
mk cilium_lb4_services_v2 12 12
mk cilium_lb4_backends_v3 4 12
mk cilium_lb4_reverse_nat 2 6
# 10.96.0.10:53 (UDP; 1.13 keys carry no protocol) slot 0: count 2, rev-NAT 5 (network order), ClusterIP non-routable; slots 1, 2 → backends 7, 8
up cilium_lb4_services_v2 "0a 60 00 0a 00 35 00 00 00 00 00 00" "00 00 00 00 02 00 00 05 00 00 00 00"
up cilium_lb4_services_v2 "0a 60 00 0a 00 35 01 00 00 00 00 00" "07 00 00 00 00 00 00 05 00 00 00 00"
up cilium_lb4_services_v2 "0a 60 00 0a 00 35 02 00 00 00 00 00" "08 00 00 00 00 00 00 05 00 00 00 00"
# 172.18.0.2:31940 (TCP) slot 0: count 1, rev-NAT 8, NodePort|routable (0x42); slot 1 → backend 9
up cilium_lb4_services_v2 "ac 12 00 02 7c c4 00 00 00 00 00 00" "00 00 00 00 01 00 00 08 42 00 00 00"
up cilium_lb4_services_v2 "ac 12 00 02 7c c4 01 00 00 00 00 00" "09 00 00 00 00 00 00 08 42 00 00 00"
up cilium_lb4_backends_v3 "07 00 00 00" "0a f4 01 39 00 35 00 00 00 00 00 00"
up cilium_lb4_backends_v3 "08 00 00 00" "0a f4 02 07 00 35 00 00 00 00 00 00"
up cilium_lb4_backends_v3 "09 00 00 00" "0a f4 02 07 1f 90 00 00 00 00 00 00"
up cilium_lb4_reverse_nat "00 05" "0a 60 00 0a 00 35"
up cilium_lb4_reverse_nat "00 08" "ac 12 00 02 7c c4"
for m in cilium_lb4_services_v2 cilium_lb4_backends_v3 cilium_lb4_reverse_nat; do
  bpftool -j map dump pinned "$G/$m" >"$OUT/bpf-map/$m.json"
done
INNER
echo "LB maps dumped to $OUT/bpf-map"
