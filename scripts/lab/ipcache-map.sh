#!/usr/bin/env bash
# Builds Cilium's pinned ipcache maps in a private mount namespace with a bpffs of its own, in the byte layout
# of src/tools/cilium/ipcache.ts (LPM trie, BPF_F_NO_PREALLOC, 24-byte key; 12-byte value for `cilium_ipcache`
# up to 1.17, 24-byte value for `cilium_ipcache_v2` from 1.18), fills them with documentation addresses and
# dumps them with bpftool into OUT/bpf-map/ (`-j`) and OUT/bpf-map-text/ (plain).
#   ipcache-map.sh OUT
set -euo pipefail
OUT=${1:?usage: ipcache-map.sh OUT}
mkdir -p "$OUT/bpf-map" "$OUT/bpf-map-text"
unshare -m --propagation private bash -s "$OUT" <<'INNER'
set -euo pipefail
OUT=$1
mount -t bpf bpf /sys/fs/bpf
G=/sys/fs/bpf/tc/globals
mkdir -p $G
mk() { bpftool map create "$G/$1" type lpm_trie key 24 value "$2" entries 64 name "${1:0:15}" flags 1; }
up() { local m=$1; shift; bpftool map update pinned "$G/$m" key hex $1 value hex $2; }
# key: prefixlen (32 + bits, little-endian), cluster_id 0, pad, family (1 v4, 2 v6), 16 address bytes
K4() { printf '%02x 00 00 00 00 00 00 01 %s 00 00 00 00 00 00 00 00 00 00 00 00' $((32 + $1)) "$2"; }
K6() { printf '%02x 00 00 00 00 00 00 02 %s' $((32 + $1)) "$2"; }
mk cilium_ipcache 12
# v1 (1.15–1.17): identity, IPv4 tunnel endpoint, pad u16, key, flags
up cilium_ipcache "$(K4 0 '00 00 00 00')"         "02 00 00 00 00 00 00 00 00 00 00 00"  # 0.0.0.0/0 world
up cilium_ipcache "$(K4 24 'c6 33 64 00')"        "02 00 00 00 c0 00 02 14 00 00 00 02"  # 198.51.100.0/24 → 192.0.2.20 hastunnel
up cilium_ipcache "$(K4 32 'c6 33 64 07')"        "c4 5e 00 00 c0 00 02 14 00 00 03 02"  # pod 198.51.100.7 id 24260 key 3
up cilium_ipcache "$(K4 32 'c0 00 02 14')"        "06 00 00 00 00 00 00 00 00 00 00 00"  # remote node 192.0.2.20
up cilium_ipcache "$(K4 32 'c0 00 02 0a')"        "01 00 00 00 00 00 00 00 00 00 00 00"  # host 192.0.2.10
mk cilium_ipcache_v2 24
# v2 (1.18+): identity, 16-byte tunnel endpoint, pad u16, key, flags
up cilium_ipcache_v2 "$(K4 24 'c6 33 64 00')" "02 00 00 00 c0 00 02 14 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 02"
up cilium_ipcache_v2 "$(K4 32 'c0 00 02 14')" "06 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
up cilium_ipcache_v2 "$(K6 64 '20 01 0d b8 00 01 00 00 00 00 00 00 00 00 00 00')" "02 00 00 00 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 14 00 00 00 06"
up cilium_ipcache_v2 "$(K6 128 '20 01 0d b8 00 01 00 00 00 00 00 00 00 00 00 07')" "c4 5e 00 00 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 14 00 00 00 06"
up cilium_ipcache_v2 "$(K4 32 'c6 33 64 07')" "c4 5e 00 00 c0 00 02 14 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 02"
for m in cilium_ipcache cilium_ipcache_v2; do
  bpftool -j map dump pinned "$G/$m" >"$OUT/bpf-map/$m.json"
  bpftool map dump pinned "$G/$m" >"$OUT/bpf-map-text/$m.txt"
done
INNER
echo "ipcache maps dumped to $OUT"
