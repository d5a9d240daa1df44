# Shared helpers for the netpath labs. Everything the labs create is named np-lab-*.
set -euo pipefail
LAB_BPF=${LAB_BPF:-/tmp/np-lab-bpf}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# clang -target bpf does not search the multiarch include dir where Debian keeps <asm/types.h>
BPF_CFLAGS=(-O2 -g -target bpf -I"/usr/include/$(gcc -dumpmachine)")

build_bpf() {
  mkdir -p "$LAB_BPF"
  for p in cil_from_container cil_to_container cil_from_netdev cil_to_netdev cil_from_host cil_to_host; do
    clang "${BPF_CFLAGS[@]}" -DPROG=$p -c "$HERE/bpf/tc_prog.c" -o "$LAB_BPF/$p.o"
  done
  clang "${BPF_CFLAGS[@]}" -c "$HERE/bpf/sock_prog.c" -o "$LAB_BPF/sock4.o"
  gcc -O2 -o "$LAB_BPF/tcx_attach" "$HERE/bpf/tcx_attach.c" -lbpf
  clang "${BPF_CFLAGS[@]}" -DV6 -c "$HERE/bpf/sock_prog.c" -o "$LAB_BPF/sock6.o"
}

nsx() { ip netns exec "$@"; }

# tc_attach NS DEV ingress|egress PROG — legacy cls_bpf, as Cilium ≤1.15 (and 1.16+ without tcx) attaches
tc_attach() {
  local ns=$1 dev=$2 dir=$3 prog=$4
  nsx "$ns" tc qdisc replace dev "$dev" clsact
  nsx "$ns" tc filter replace dev "$dev" "$dir" prio 1 handle 1 bpf da obj "$LAB_BPF/$prog.o" sec tc
}

# tcx_attach NS DEV ingress|egress PROG — a pinned tcx link, as Cilium ≥1.16 attaches on kernels with tcx
tcx_attach() {
  local ns=$1 dev=$2 dir=$3 prog=$4
  mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
  mkdir -p "/sys/fs/bpf/np-lab/$ns"
  # nsenter (not ip netns exec, which remounts /sys) so the pin lands in the real bpffs
  nsenter --net="/var/run/netns/$ns" "$LAB_BPF/tcx_attach" "$LAB_BPF/$prog.o" "$prog" "$dev" "$dir" "/sys/fs/bpf/np-lab/$ns/$dev-$prog"
}

# pod NODE_NS POD_NS HOSTDEV ADDR/LEN ROUTER_IP — a pod namespace behind a host-side veth, Cilium style
pod4() {
  local node=$1 pns=$2 hdev=$3 addr=$4 router=$5
  ip netns add "$pns"
  ip -n "$node" link add "$hdev" type veth peer name eth0 netns "$pns"
  ip -n "$node" link set "$hdev" up
  ip -n "$pns" link set lo up
  ip -n "$pns" link set eth0 up
  ip -n "$pns" addr add "$addr" dev eth0
  ip -n "$pns" route add "$router" dev eth0 scope link
  ip -n "$pns" route add default via "$router" dev eth0 mtu 1500
}

pod6() {
  local node=$1 pns=$2 hdev=$3 addr=$4 router=$5
  ip netns add "$pns"
  ip -n "$node" link add "$hdev" type veth peer name eth0 netns "$pns"
  ip -n "$node" link set "$hdev" up
  ip -n "$pns" link set lo up
  ip -n "$pns" addr add "$addr" dev eth0 nodad
  ip -n "$pns" link set eth0 up
  ip -n "$pns" -6 route add "$router" dev eth0
  ip -n "$pns" -6 route add default via "$router" dev eth0 mtu 1500
}

# socket-LB hooks: a cgroup of our own, bind-mounted where Cilium keeps its cgroup2 root
sock_hooks_up() {
  local fam=$1
  mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
  local cg2
  cg2=$(awk '$3=="cgroup2"{print $2; exit}' /proc/mounts)
  mkdir -p "$cg2/np-lab" /run/cilium/cgroupv2 /sys/fs/bpf/np-lab
  mountpoint -q /run/cilium/cgroupv2 || mount --bind "$cg2/np-lab" /run/cilium/cgroupv2
  rm -rf "/sys/fs/bpf/np-lab/sock$fam"
  bpftool prog loadall "$LAB_BPF/sock$fam.o" "/sys/fs/bpf/np-lab/sock$fam"
  local t
  for t in connect sendmsg recvmsg getpeername post_bind; do
    bpftool cgroup attach /run/cilium/cgroupv2 "$t$fam" pinned "/sys/fs/bpf/np-lab/sock$fam/cil_sock${fam}_$t" multi
  done
}

sock_hooks_down() {
  local cg2
  cg2=$(awk '$3=="cgroup2"{print $2; exit}' /proc/mounts)
  if mountpoint -q /run/cilium/cgroupv2; then
    bpftool -j cgroup show /run/cilium/cgroupv2 2>/dev/null | node -e '
      let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{for(const p of JSON.parse(s))console.log(p.id, p.attach_type)}catch{}})' |
      while read -r id type; do bpftool cgroup detach /run/cilium/cgroupv2 "$type" id "$id" || true; done
    umount /run/cilium/cgroupv2 || true
  fi
  rmdir "$cg2/np-lab" 2>/dev/null || true
  rm -rf /sys/fs/bpf/np-lab "$LAB_BPF"
}

# the capture runs netpath's own code from dist/ (other engineers' files may still fail to type-check;
# tsc writes dist/ all the same)
build_netpath() {
  (cd "$HERE/../.." && npm run -s build >/dev/null) || echo "build reported errors; using the dist/ it wrote" >&2
}

capture() {
  local node=$1 out=$2
  (cd "$HERE/../.." && node scripts/lab/capture.mjs "$node" "$out" "${3:-$node}")
}
