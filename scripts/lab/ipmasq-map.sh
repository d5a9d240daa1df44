#!/usr/bin/env bash
# Builds ip-masq-agent's pinned maps as Cilium pins them (cilium_ipmasq_v4 / _v6: LPM trie, BPF_F_NO_PREALLOC,
# key = u32 prefix length + address, value = one flags byte) in a private mount namespace with a bpffs of its own,
# fills them with Cilium's default non-masquerade list for IPv4 (pkg/ipmasq: the RFC 1918 ranges, 100.64.0.0/10,
# 192.0.0.0/24, …; a part of it here) and one IPv6 prefix, and dumps them with bpftool -j into OUT/.
#   ipmasq-map.sh OUT
set -euo pipefail
OUT=${1:?usage: ipmasq-map.sh OUT}
mkdir -p "$OUT"
unshare -m --propagation private bash -s "$OUT" <<'INNER'
set -euo pipefail
OUT=$1
mount -t bpf bpf /sys/fs/bpf
G=/sys/fs/bpf/tc/globals
mkdir -p $G
bpftool map create $G/cilium_ipmasq_v4 type lpm_trie key 8 value 1 entries 16 name cilium_ipmasq_v flags 1
bpftool map create $G/cilium_ipmasq_v6 type lpm_trie key 20 value 1 entries 16 name cilium_ipmasq_v flags 1
up() { bpftool map update pinned "$G/$1" key hex $2 value hex 00; }
up cilium_ipmasq_v4 "08 00 00 00 0a 00 00 00"   # 10.0.0.0/8
up cilium_ipmasq_v4 "0c 00 00 00 ac 10 00 00"   # 172.16.0.0/12
up cilium_ipmasq_v4 "10 00 00 00 c0 a8 00 00"   # 192.168.0.0/16
up cilium_ipmasq_v4 "0a 00 00 00 64 40 00 00"   # 100.64.0.0/10
up cilium_ipmasq_v6 "07 00 00 00 fc 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"   # fc00::/7
for m in cilium_ipmasq_v4 cilium_ipmasq_v6; do bpftool -j map dump pinned "$G/$m" >"$OUT/$m.json"; done
INNER
echo "ipmasq maps dumped to $OUT"
