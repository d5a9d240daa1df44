#!/usr/bin/env bash
# A cilium sysdump of the kind-v4 lab's nodes k1 and k2, laid out as cilium-cli writes one (the layout and
# where each name comes from: src/collect/sysdump.ts), and a netpath snapshot of the same nodes at the
# same moment, so a test can hold the two readings side by side.
#
# It builds its own copy of the kind-v4 lab (kind-v4.sh nodes-up under the prefix np-lab-sd: every name
# np-lab-sd-* or cni-sd-*; its own cgroup, bpffs pins and BPF objects, and a private mount and UTS namespace), so
# it runs while the other labs are up and leaves nothing behind; k3 is up but not captured. Each command
# cilium-bugtool runs for what netpath reads is run for real inside the node and written as bugtool writes it (bugtool/cmd/root.go writeCmdToFile): stdout and stderr into
# cmd/<command, '/' and ' ' turned into '-'>.md, and `> Error while running …` appended when it fails.
# Cilium does not run in the lab: cilium-dbg's status and the ConfigMap are the kind-v4 lab's (the
# documented 1.13 formats, scripts/lab/cilium/), the endpoint list is endpoints.mjs's from the capture.
#   sysdump-kind-v4.sh OUT_DIR      → OUT_DIR/cilium-sysdump-<ts>/…  and  OUT_DIR/snapshot/{k1,k2}/…
set -euo pipefail
# LAB_PREFIX: another prefix for every name, for a run beside another run of this script
P=${LAB_PREFIX:-np-lab-sd}
export LAB_BPF=/tmp/$P-bpf
source "$(dirname "$0")/lib.sh"
OUT=${1:?usage: sysdump-kind-v4.sh OUT_DIR}
KIND=(env LAB_PREFIX=$P LAB_BPF="$LAB_BPF" bash "$HERE/kind-v4.sh")
TS=$(date -u +%Y%m%d-%H%M%S)
# the Cilium agent pod of each node (a pod name is the DaemonSet's name and five random characters)
declare -A POD=([1]=cilium-7x2kq [2]=cilium-q9wz4)

cleanup() {
  "${KIND[@]}" nodes-down
  local cg2
  cg2=$(awk '$3=="cgroup2"{print $2; exit}' /proc/mounts)
  rmdir "$cg2/$P" 2>/dev/null || true
  rm -rf /sys/fs/bpf/$P "$LAB_BPF"
}

# socket-LB hooks on a cgroup of our own, bind-mounted at Cilium's cgroup2 root in this mount namespace only
sock_hooks() {
  mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
  local cg2
  cg2=$(awk '$3=="cgroup2"{print $2; exit}' /proc/mounts)
  mkdir -p "$cg2/$P" /run/cilium/cgroupv2 /sys/fs/bpf/$P
  mount --bind "$cg2/$P" /run/cilium/cgroupv2
  bpftool prog loadall "$LAB_BPF/sock4.o" /sys/fs/bpf/$P/sock4
  local t
  for t in connect sendmsg recvmsg getpeername post_bind; do
    bpftool cgroup attach /run/cilium/cgroupv2 "${t}4" pinned "/sys/fs/bpf/$P/sock4/cil_sock4_$t" multi
  done
}

# bugtool NODE_NS DIR COMMAND — one command, written as cilium-bugtool writes it
bugtool() {
  local ns=$1 dir=$2 cmd=$3 f rc=0
  f="$dir/$(sed -e 's#/# #g' -e 's/ /-/g' <<<"$cmd").md"
  nsx "$ns" bash -c "$cmd" >"$f" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then printf "> Error while running '%s':  exit status %d\n\n" "$cmd" "$rc" >>"$f"; fi
}

capture() {
  local root="$OUT/cilium-sysdump-$TS" idx
  mkdir -p "$root"
  build_netpath
  for idx in 1 2; do
    local n=$P-k$idx dir="$root/cilium-bugtool-${POD[$idx]}-$TS/cmd" snap="$OUT/snapshot/k$idx"
    mkdir -p "$dir"
    hostname "k$idx"
    (cd "$HERE/../.." && node scripts/lab/capture.mjs "$n" "$snap" "k$idx")
    local c
    # the commands of bugtool/cmd/configuration.go that netpath reads (Cilium 1.15+ names)
    for c in 'hostname' 'uname -a' 'ip a' 'ip -4 r' 'ip -6 r' 'ip -d -s l' 'ip -4 n' 'ip -6 n' 'ip -d rule' \
      'sysctl -a' 'bpftool net show' 'bpftool prog show' 'bpftool cgroup tree /run/cilium/cgroupv2' \
      'iptables-save -c' 'ip6tables-save -c' 'ipset list' 'tc qdisc show'; do
      bugtool "$n" "$dir" "$c"
    done
    # one `ip -4|-6 route show table N` per numbered table `ip route show table all` names
    local t
    for t in $(nsx "$n" ip route show table all | grep -Eo 'table [0-9]+' | sort -u | awk '{print $2}'); do
      bugtool "$n" "$dir" "ip -4 route show table $t"
      bugtool "$n" "$dir" "ip -6 route show table $t"
    done
    # per interface, as net.Interfaces() lists them
    local dev
    for dev in $(nsx "$n" ls /sys/class/net); do
      bugtool "$n" "$dir" "tc filter show dev $dev ingress"
      bugtool "$n" "$dir" "tc filter show dev $dev egress"
    done
    sed -e "s/@NODEIP@/172.18.0.$((idx + 1))/g" -e "s#@PODCIDR@#10.244.$idx.0/24#" -e "s/@IDX@/$idx/" -e "s/@NPODS@/3/" \
      "$HERE/cilium/kind-v4.status.tmpl" >"$dir/cilium-dbg-status---verbose.md"
    node "$HERE/cilium/endpoints.mjs" "$snap" $((idx * 1000 + 100))
    cp "$snap/cilium-endpoints.json" "$dir/cilium-dbg-endpoint-list--o-json.md"
    # the snapshot gets the same agent outputs, under its own names
    cp "$dir/cilium-dbg-status---verbose.md" "$snap/cilium-status.txt"
    cp "$HERE/cilium/kind-v4.config.yaml" "$snap/cilium-config.txt"
  done
  cp "$HERE/cilium/kind-v4.config.yaml" "$root/cilium-configmap-$TS.yaml"
}

if [ "${1:-}" != inner ]; then
  trap cleanup EXIT
  cleanup
  "${KIND[@]}" nodes-up
  # a private mount namespace (the cgroup bind) and UTS namespace (hostname): nothing shared is touched
  unshare --mount --uts --propagation private bash "$0" inner "$OUT"
else
  OUT=$2
  sock_hooks
  capture
fi
