# Shared helpers for the netpath labs. Everything the labs create is named np-lab-*.
set -eEuo pipefail
# a lab that stops says where: the command that failed, with its status (its own message is on stderr above)
trap 'echo "${BASH_SOURCE[0]##*/}:$LINENO: \`$BASH_COMMAND\` failed (exit $?)" >&2' ERR
LAB_BPF=${LAB_BPF:-/tmp/np-lab-bpf}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# clang -target bpf does not search the multiarch include dir where Debian keeps <asm/types.h>
BPF_CFLAGS=(-O2 -g -target bpf -I"/usr/include/$(gcc -dumpmachine)")

build_bpf() {
  # compiled once per source version into a cache every lab run shares (a loaded machine spends many seconds
  # in clang); a run copies the objects into its own LAB_BPF, which it may delete
  local key cache tmp p
  key=$(cat "$HERE"/bpf/*.c <(clang --version) | md5sum | cut -c1-12)
  cache=/tmp/np-lab-bpf-cache/$key
  if [ ! -f "$cache/done" ]; then
    mkdir -p /tmp/np-lab-bpf-cache
    tmp=$(mktemp -d /tmp/np-lab-bpf-cache/build.XXXXXX)
    for p in cil_from_container cil_to_container cil_from_netdev cil_to_netdev cil_from_host cil_to_host; do
      clang "${BPF_CFLAGS[@]}" -DPROG=$p -c "$HERE/bpf/tc_prog.c" -o "$tmp/$p.o"
    done
    clang "${BPF_CFLAGS[@]}" -c "$HERE/bpf/sock_prog.c" -o "$tmp/sock4.o"
    clang "${BPF_CFLAGS[@]}" -DV6 -c "$HERE/bpf/sock_prog.c" -o "$tmp/sock6.o"
    gcc -O2 -o "$tmp/tcx_attach" "$HERE/bpf/tcx_attach.c" -lbpf
    touch "$tmp/done"
    # a concurrent run may have finished the same build first: either copy is as good
    mv -T "$tmp" "$cache" 2>/dev/null || rm -rf "$tmp"
  fi
  mkdir -p "$LAB_BPF"
  cp "$cache"/*.o "$cache/tcx_attach" "$LAB_BPF/"
}

nsx() { ip netns exec "$@"; }

# wait_until SECONDS WHAT CMD... — runs CMD (quietly) until it succeeds, every 0.1 s rising to 0.5 s, at most
# SECONDS; then says WHAT was not ready. A loaded machine is slow to create a device, finish IPv6 DAD or start a
# daemon: a fixed sleep or a single check is what made these labs flaky.
wait_until() {
  local limit=$1 what=$2 start=$SECONDS delay=0.1
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS - start >= limit)); then
      echo "$what: not ready after ${limit}s" >&2
      return 1
    fi
    sleep "$delay"
    case $delay in 0.1) delay=0.2 ;; 0.2) delay=0.5 ;; esac
  done
}

# link_exists NS DEV
link_exists() { ip -n "$1" link show dev "$2" >/dev/null 2>&1; }

# dad_done NS — no IPv6 address of the namespace is still tentative (a tentative address cannot be a source);
# an address whose DAD failed never becomes usable: that is an error, not a wait
dad_done() {
  if [ -n "$(ip -n "$1" -6 addr show dadfailed 2>/dev/null)" ]; then
    echo "DAD failed in $1: $(ip -n "$1" -6 -o addr show dadfailed)" >&2
    return 2
  fi
  [ -z "$(ip -n "$1" -6 addr show tentative 2>/dev/null)" ]
}
wait_dad() {
  local ns
  for ns in "$@"; do wait_until 30 "IPv6 addresses of $ns (DAD)" dad_done "$ns"; done
}

# listening NS tcp:PORT|udp:PORT... — every socket is bound (a server that is still starting refuses connections)
listening() {
  local ns=$1 s
  shift
  for s in "$@"; do
    [ -n "$(ip netns exec "$ns" ss -Hln${s:0:1} "sport = :${s#*:}" 2>/dev/null)" ] || return 1
  done
}

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
  # (its link-local address runs DAD: wait_dad before the first packet)
  ip -n "$pns" -6 route add "$router" dev eth0
  ip -n "$pns" -6 route add default via "$router" dev eth0 mtu 1500
}

# socket-LB hooks: a cgroup of our own (LAB_CG, unique per run where runs can overlap), bind-mounted where
# Cilium keeps its cgroup2 root
LAB_CG=${LAB_CG:-np-lab}
sock_hooks_up() {
  local fam=$1
  mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
  local cg2
  cg2=$(awk '$3=="cgroup2"{print $2; exit}' /proc/mounts)
  mkdir -p "$cg2/$LAB_CG" /run/cilium/cgroupv2 "/sys/fs/bpf/$LAB_CG"
  mountpoint -q /run/cilium/cgroupv2 || mount --bind "$cg2/$LAB_CG" /run/cilium/cgroupv2
  rm -rf "/sys/fs/bpf/$LAB_CG/sock$fam"
  bpftool prog loadall "$LAB_BPF/sock$fam.o" "/sys/fs/bpf/$LAB_CG/sock$fam"
  local t
  for t in connect sendmsg recvmsg getpeername post_bind; do
    bpftool cgroup attach /run/cilium/cgroupv2 "$t$fam" pinned "/sys/fs/bpf/$LAB_CG/sock$fam/cil_sock${fam}_$t" multi
  done
}

# cgroup_detach_all DIR — every program attached to the cgroup DIR (the kernel keeps them until detached)
cgroup_detach_all() {
  bpftool -j cgroup show "$1" 2>/dev/null | node -e '
    let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{for(const p of JSON.parse(s))console.log(p.id, p.attach_type)}catch{}})' |
    while read -r id type; do bpftool cgroup detach "$1" "$type" id "$id" || true; done
}

sock_hooks_down() {
  local cg2
  cg2=$(awk '$3=="cgroup2"{print $2; exit}' /proc/mounts)
  if mountpoint -q /run/cilium/cgroupv2; then
    cgroup_detach_all /run/cilium/cgroupv2
    umount /run/cilium/cgroupv2 || true
  fi
  [ -d "$cg2/$LAB_CG" ] && cgroup_detach_all "$cg2/$LAB_CG"
  rmdir "$cg2/$LAB_CG" 2>/dev/null || true
  rm -rf "/sys/fs/bpf/$LAB_CG" "$LAB_BPF"
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
