#!/usr/bin/env bash
# Lab: socket-LB judged by the kernel. A node (npsl-k1, eth0 172.18.0.2) and a remote node (npsl-k2, 172.18.0.3,
# with the pod 10.244.2.7 serving TCP 8080); on the node, Cilium's LB maps (1.16 layout, pinned where the agent
# pins them) with a NodePort frontend 172.18.0.2:31940, its wildcard surrogate 0.0.0.0:31940 and a ClusterIP
# 10.96.0.20:80 without backends, and a cgroup connect4/sendmsg4 program named cil_sock4_connect /
# cil_sock4_sendmsg (scripts/lab/bpf/socklb_prog.c) attached to a cgroup of the lab's own, bind-mounted at
# /run/cilium/cgroupv2. Real connect() calls from a client process in that cgroup, inside the node:
#   127.0.0.1:31940, 172.18.0.3:31940 (remote node), 172.18.0.2:31940 → the backend (what it saw is recorded);
#   10.96.0.20:80 → fails with the errno the hook sets; 198.51.100.1:31940 (no node's address) → not translated
#   (k2 refuses it).
# nftables counters in the node's output hook count every packet that carries a frontend address (they must
# stay at zero) and every packet to the backend. Then the node is captured with netpath's own live snapshot
# (cilium-dbg does not run here: cilium-status.txt and cilium-config.txt are written from
# scripts/lab/cilium/socket-lb.*, 1.16 formats).
#   socket-lb.sh OUTDIR     writes OUTDIR/k1 (the snapshot) and OUTDIR/results.json (the kernel's answers)
#   socket-lb.sh down       remove what a killed run may have left outside its mount namespace
# NP_LAB_ID=x makes the cgroup (npsl-x) and the build directory a run's own. Everything else (bpffs, netns
# files, the cgroup bind mount) lives in a private mount namespace and goes away with the run. Needs root.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SFX=${NP_LAB_ID:+-$NP_LAB_ID}
export LAB_BPF=/tmp/npsl-bpf$SFX
CG2=$(awk '$3=="cgroup2"{print $2; exit}' /proc/mounts)
CGDIR="$CG2/npsl$SFX"
source "$HERE/lib.sh"

outer_cleanup() {
  if [ -d "$CGDIR" ]; then
    # a client still in the cgroup (a killed run) keeps it busy: move it back to the root
    [ -f "$CGDIR/cgroup.procs" ] && while read -r p; do echo "$p" >"$CG2/cgroup.procs" 2>/dev/null || true; done <"$CGDIR/cgroup.procs"
    cgroup_detach_all "$CGDIR"
    rmdir "$CGDIR" 2>/dev/null || true
  fi
  rm -rf "$LAB_BPF"
}

case "${1:-}" in
  down) outer_cleanup; exit 0 ;;
  inner) ;;
  "") echo "usage: $0 OUTDIR | down" >&2; exit 2 ;;
  *)
    out=$(realpath -m "$1")
    [ -n "$CG2" ] || { echo "no cgroup2 mount" >&2; exit 1; }
    trap outer_cleanup EXIT
    mkdir -p "$LAB_BPF"
    clang "${BPF_CFLAGS[@]}" -c "$HERE/bpf/socklb_prog.c" -o "$LAB_BPF/socklb.o"
    [ -n "${NP_LAB_SKIP_BUILD:-}" ] || build_netpath
    unshare -m --propagation private bash "$0" inner "$out"
    exit $?
    ;;
esac

# ------------------------------------------------------------------ inside the private mount namespace
OUT=$2
K1=npsl-k1
K2=npsl-k2
G=/sys/fs/bpf/tc/globals
PIDS=()
inner_cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  cgroup_detach_all /run/cilium/cgroupv2 2>/dev/null || true
  for n in $(ip netns list 2>/dev/null | awk '{print $1}'); do ip netns del "$n" 2>/dev/null || true; done
}
trap inner_cleanup EXIT

mount -t bpf bpf /sys/fs/bpf
mkdir -p $G /sys/fs/bpf/npsl /var/run/netns /run/cilium/cgroupv2
mount -t tmpfs -o size=1m npsl-netns /var/run/netns
mkdir -p "$CGDIR"
mount --bind "$CGDIR" /run/cilium/cgroupv2

# --- topology: k1 and k2 on one link; k2 holds the pod address 10.244.2.7 and serves TCP 8080 there
ip netns add $K1
ip netns add $K2
ip -n $K1 link set lo up
ip -n $K2 link set lo up
ip -n $K1 link add eth0 type veth peer name eth0 netns $K2
ip -n $K1 addr add 172.18.0.2/16 dev eth0
ip -n $K2 addr add 172.18.0.3/16 dev eth0
ip -n $K1 link set eth0 up
ip -n $K2 link set eth0 up
ip -n $K2 addr add 10.244.2.7/32 dev lo
# an address that is no node's, routed to k2 and served by nothing there: a connect() to it is refused by k2,
# so its packet shows the untranslated destination leaving k1
ip -n $K2 addr add 198.51.100.1/32 dev lo
ip -n $K1 route add 198.51.100.1/32 via 172.18.0.3 dev eth0
# k1 reaches k2's pod CIDR through k2 (auto-direct-node-routes), as Cilium installs it
ip -n $K1 route add 10.244.2.0/24 via 172.18.0.3 dev eth0 proto kernel
ip -n $K2 route add 10.244.1.0/24 via 172.18.0.2 dev eth0 proto kernel
# k1's own pod CIDR behind cilium_host, as on a Cilium node
ip -n $K1 link add cilium_host type veth peer name cilium_net
ip -n $K1 link set cilium_net up
ip -n $K1 link set cilium_host up
ip -n $K1 addr add 10.244.1.1/32 dev cilium_host
ip -n $K1 route add 10.244.1.1 dev cilium_host proto kernel scope link
ip -n $K1 route add 10.244.1.0/24 via 10.244.1.1 dev cilium_host proto kernel src 10.244.1.1

# the backend reports the address it saw the connection come from
cat >"$LAB_BPF/server.py" <<'PY'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.244.2.7", 8080)); s.listen(16)
while True:
    c, a = s.accept(); c.sendall(("seen " + a[0] + "\n").encode()); c.close()
PY
# (ip netns exec execs python, so $! is the server itself and the cleanup can stop it)
ip netns exec $K2 python3 "$LAB_BPF/server.py" &
PIDS+=($!)
wait_until 20 "backend 10.244.2.7:8080" listening $K2 tcp:8080

# --- nftables counters on k1: packets that carry a frontend address (must stay 0) and packets to the backend
nsx $K1 nft -f - <<'NFT'
table inet npsl_judge {
  chain out {
    type filter hook output priority 0; policy accept;
    ip daddr 127.0.0.0/8 tcp dport 31940 counter comment "frontend-loopback"
    ip daddr 172.18.0.2 tcp dport 31940 counter comment "frontend-node"
    ip daddr 172.18.0.3 tcp dport 31940 counter comment "frontend-remote-node"
    ip daddr 10.96.0.20 tcp dport 80 counter comment "frontend-no-backend"
    ip daddr 198.51.100.1 tcp dport 31940 counter comment "not-a-node"
    ip daddr 10.244.2.7 tcp dport 8080 counter comment "backend"
  }
}
NFT

# --- Cilium's LB maps (no BTF, as the agent creates them), then the hooks, which reuse them
mkmap() { bpftool map create "$G/$1" type hash key "$2" value "$3" entries "$4" name "${1:0:15}"; }
up() { local m=$1; shift; bpftool map update pinned "$G/$m" key hex $1 value hex $2; }
mkmap cilium_lb4_services_v2 12 12 64
mkmap cilium_lb4_backends_v3 4 12 64
mkmap cilium_lb4_reverse_nat 2 6 64
bpftool map create /sys/fs/bpf/npsl/npsl_node_addrs type hash key 4 value 4 entries 16 name npsl_node_addrs
# 172.18.0.2:31940 NodePort|routable (0x42), rev-NAT 8, count 1 → backend 9 (10.244.2.7:8080)
up cilium_lb4_services_v2 "ac 12 00 02 7c c4 00 00 00 00 00 00" "00 00 00 00 01 00 00 08 42 00 00 00"
up cilium_lb4_services_v2 "ac 12 00 02 7c c4 01 00 00 00 00 00" "09 00 00 00 00 00 00 08 42 00 00 00"
# 0.0.0.0:31940, the NodePort surrogate (0x02), rev-NAT 7, count 1 → backend 9
up cilium_lb4_services_v2 "00 00 00 00 7c c4 00 00 00 00 00 00" "00 00 00 00 01 00 00 07 02 00 00 00"
up cilium_lb4_services_v2 "00 00 00 00 7c c4 01 00 00 00 00 00" "09 00 00 00 00 00 00 07 02 00 00 00"
# 10.96.0.20:80 ClusterIP, rev-NAT 10, count 0: no backend
up cilium_lb4_services_v2 "0a 60 00 14 00 50 00 00 00 00 00 00" "00 00 00 00 00 00 00 0a 00 00 00 00"
up cilium_lb4_backends_v3 "09 00 00 00" "0a f4 02 07 1f 90 00 00 00 00 00 00"
up cilium_lb4_reverse_nat "00 08" "ac 12 00 02 7c c4"
up cilium_lb4_reverse_nat "00 07" "00 00 00 00 7c c4"
up cilium_lb4_reverse_nat "00 0a" "0a 60 00 14 00 50"
# the ipcache identities the wildcard lookup asks for: 172.18.0.2 is this node (1), 172.18.0.3 a remote node (2)
bpftool map update pinned /sys/fs/bpf/npsl/npsl_node_addrs key hex ac 12 00 02 value hex 01 00 00 00
bpftool map update pinned /sys/fs/bpf/npsl/npsl_node_addrs key hex ac 12 00 03 value hex 02 00 00 00

bpftool prog loadall "$LAB_BPF/socklb.o" /sys/fs/bpf/npsl/prog \
  map name cilium_lb4_services_v2 pinned $G/cilium_lb4_services_v2 \
  map name cilium_lb4_backends_v3 pinned $G/cilium_lb4_backends_v3 \
  map name npsl_node_addrs pinned /sys/fs/bpf/npsl/npsl_node_addrs
bpftool cgroup attach /run/cilium/cgroupv2 connect4 pinned /sys/fs/bpf/npsl/prog/cil_sock4_connect multi
bpftool cgroup attach /run/cilium/cgroupv2 sendmsg4 pinned /sys/fs/bpf/npsl/prog/cil_sock4_sendmsg multi

# --- the client: in the lab's cgroup (never the root cgroup), inside k1
cat >"$LAB_BPF/client.py" <<'PY'
import errno, json, socket, sys
out = {}
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    s = socket.socket(); s.settimeout(3)
    try:
        s.connect((host, int(port)))
        out[target] = {"ok": True, "peer": "%s:%d" % s.getpeername(), "reply": s.recv(100).decode().strip()}
    except OSError as e:
        out[target] = {"ok": False, "errno": errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__}
    finally:
        s.close()
print(json.dumps(out))
PY
TARGETS=(127.0.0.1:31940 172.18.0.3:31940 172.18.0.2:31940 10.96.0.20:80 198.51.100.1:31940)
connects=$(bash -c 'echo $$ >/run/cilium/cgroupv2/cgroup.procs && exec ip netns exec "$0" python3 "$1" "${@:2}"' \
  $K1 "$LAB_BPF/client.py" "${TARGETS[@]}" 2>&1 || true)
echo "connect results: $connects"
counters=$(nsx $K1 nft -j list table inet npsl_judge)

# k2 is another node, not a namespace of k1: its name goes before the capture (the backend server, running in
# it, keeps the namespace alive until the cleanup stops it)
ip netns del $K2

# --- capture k1 with netpath's own snapshot command, through nsenter (ip netns exec would remount /sys and
# hide this mount namespace's bpffs, where the maps are pinned)
mkdir -p "$OUT"
rm -rf "$OUT/k1"
node "$ROOT/bin/netpath.js" snapshot -o "$OUT/k1" --exec "nsenter --net=/var/run/netns/$K1" --node k1
sed -e "s/@NODEIP@/172.18.0.2/g" -e "s#@PODCIDR@#10.244.1.0/24#" -e "s/@IDX@/1/" -e "s/@NPODS@/1/" \
  "$HERE/cilium/socket-lb.status.tmpl" >"$OUT/k1/cilium-status.txt"
cp "$HERE/cilium/socket-lb.config.yaml" "$OUT/k1/cilium-config.txt"
node -e '
  const [connects, counters, out] = process.argv.slice(1);
  const rules = JSON.parse(counters).nftables.filter((x) => x.rule).map((x) => x.rule);
  const packets = Object.fromEntries(rules.map((r) => [r.comment, r.expr.find((e) => e.counter).counter.packets]));
  require("node:fs").writeFileSync(out, JSON.stringify({ connects: JSON.parse(connects), packets }, null, 2) + "\n");
' "$connects" "$counters" "$OUT/results.json"
cat "$OUT/results.json"
