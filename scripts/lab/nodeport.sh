#!/usr/bin/env bash
# Lab: NodePort from outside to a backend on another node, judged by the kernel (issue 14).
#   nodeport.sh OUTDIR
# Three network namespaces on the kind-v4 addresses: npnp-client (the bridge, 172.18.0.1), npnp-node (node k1,
# eth0 172.18.0.2) and npnp-backend (node k2, eth0 172.18.0.3, the backend pod address
# 10.244.2.7 on its lo). Cilium's service and backend maps (v1.17+ layout) hold the NodePort 172.18.0.2:31940/TCP
# and the ClusterIP 10.96.45.10:80/TCP (non-routable), both → 10.244.2.7:8080. On the node's eth0 ingress a tc
# program named cil_from_netdev (scripts/lab/bpf/nodeport_prog.c) reads those maps, DNATs, SNATs to the node
# address and sends the packet with bpf_fib_lookup + bpf_redirect_neigh. The kernel judges: a real connect() from
# the client through the NodePort gets the backend's answer, an nftables FORWARD counter on the node stays at 0,
# nftables input counters on the backend node count the source (node address vs client), and the ClusterIP from
# outside gets nothing. OUTDIR/judge.json holds those results and OUTDIR/k1 the node captured with netpath's own
# snapshot; its cilium-status.txt and cilium-config.txt are the 1.19 templates of scripts/lab/cilium/ (no agent
# runs here). Everything runs in a private mount namespace (own bpffs, own /var/run/netns): it cannot collide
# with another lab and goes away with it. NP_LAB_SKIP_BUILD=1 uses dist/ as built; NPNP_DEBUG=1 prints the tc filter,
# the lab NAT table, the node neighbours and its nftables ruleset before the counters are read.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

if [ "${1:-}" != inner ]; then
  out=${1:?usage: nodeport.sh OUTDIR}
  exec unshare -m --propagation private bash "$0" inner "$(realpath -m "$out")"
fi
OUT=$2
source "$HERE/lib.sh"
CL=npnp-client K1=npnp-node K2=npnp-backend
BPFDIR=$(mktemp -d /tmp/npnp-bpf.XXXXXX)
SERVER=

cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  wait 2>/dev/null || true
  for n in $CL $K1 $K2; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$BPFDIR"
}
trap cleanup EXIT

mount -t bpf bpf /sys/fs/bpf
mkdir -p /sys/fs/bpf/tc/globals /var/run/netns
mount -t tmpfs -o size=1m npnp-netns /var/run/netns
[ "${NP_LAB_SKIP_BUILD:-}" = 1 ] || (cd "$ROOT" && npm run build >/dev/null)
clang "${BPF_CFLAGS[@]}" -c "$HERE/bpf/nodeport_prog.c" -o "$BPFDIR/nodeport.o"

# --- topology: the client is the bridge, as in the kind-v4 lab
ip netns add $CL
ip -n $CL link set lo up
ip -n $CL link add br0 type bridge
ip -n $CL link set br0 up
ip -n $CL addr add 172.18.0.1/16 dev br0
# the client knows the Service CIDR through the node, as a router announcing ClusterIPs would make it
ip -n $CL route add 10.96.0.0/12 via 172.18.0.2
i=1
for n in $K1 $K2; do
  ip netns add "$n"
  ip -n "$n" link set lo up
  ip -n $CL link add "k$i-port" type veth peer name eth0 netns "$n"
  ip -n $CL link set "k$i-port" master br0 up
  ip -n "$n" addr add "172.18.0.$((i + 1))/16" dev eth0
  ip -n "$n" link set eth0 up
  i=$((i + 1))
done
# k1: a Cilium node (the agent turns forwarding on: bpf_fib_lookup answers FWD_DISABLED on a device without it)
nsx $K1 sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0
ip -n $K1 link add cilium_host type veth peer name cilium_net
ip -n $K1 link set cilium_net up
ip -n $K1 link set cilium_host up
ip -n $K1 addr add 10.244.1.1/32 dev cilium_host
ip -n $K1 route add 10.244.1.1 dev cilium_host proto kernel scope link
ip -n $K1 route add 10.244.1.0/24 via 10.244.1.1 dev cilium_host proto kernel src 10.244.1.1
ip -n $K1 route add 10.244.2.0/24 via 172.18.0.3 dev eth0 proto kernel
# k2: the backend pod's address on the node itself (the lab needs the address, not a pod namespace)
ip -n $K2 addr add 10.244.2.7/32 dev lo
ip -n $K2 route add 10.244.1.0/24 via 172.18.0.2 dev eth0

# --- Cilium's LB maps where the agent pins them (v1.17+ layout), and the program that reads them
G=/sys/fs/bpf/tc/globals
bpftool map create $G/cilium_lb4_services_v2 type hash key 12 value 12 entries 64 name cilium_lb4_serv
bpftool map create $G/cilium_lb4_backends_v3 type hash key 4 value 12 entries 64 name cilium_lb4_back
bpftool map create $G/cilium_lb4_reverse_nat type hash key 2 value 6 entries 64 name cilium_lb4_reve
up() { bpftool map update pinned "$G/$1" key hex $2 value hex $3; }
# 172.18.0.2:31940/TCP NodePort (0x02) routable (0x40), rev-NAT 8: slot 0 count 1, slot 1 → backend 9
up cilium_lb4_services_v2 "ac 12 00 02 7c c4 00 00 06 00 00 00" "00 00 00 00 01 00 00 08 42 00 00 00"
up cilium_lb4_services_v2 "ac 12 00 02 7c c4 01 00 06 00 00 00" "09 00 00 00 00 00 00 08 42 00 00 00"
# 10.96.45.10:80/TCP ClusterIP (no type bit, not routable), rev-NAT 5 → backend 9
up cilium_lb4_services_v2 "0a 60 2d 0a 00 50 00 00 06 00 00 00" "00 00 00 00 01 00 00 05 00 00 00 00"
up cilium_lb4_services_v2 "0a 60 2d 0a 00 50 01 00 06 00 00 00" "09 00 00 00 00 00 00 05 00 00 00 00"
# backend 9: 10.244.2.7:8080/TCP, active
up cilium_lb4_backends_v3 "09 00 00 00" "0a f4 02 07 1f 90 06 00 00 00 00 00"
up cilium_lb4_reverse_nat "00 08" "ac 12 00 02 7c c4"
up cilium_lb4_reverse_nat "00 05" "0a 60 2d 0a 00 50"
mkdir -p /sys/fs/bpf/npnp
bpftool prog load "$BPFDIR/nodeport.o" /sys/fs/bpf/npnp/cil_from_netdev type classifier \
  map name cilium_lb4_services_v2 pinned $G/cilium_lb4_services_v2 \
  map name cilium_lb4_backends_v3 pinned $G/cilium_lb4_backends_v3
# nsenter, not ip netns exec (which remounts /sys and would hide this mount namespace's bpffs)
K1X=(nsenter --net=/var/run/netns/$K1)
"${K1X[@]}" tc qdisc replace dev eth0 clsact
"${K1X[@]}" tc filter replace dev eth0 ingress prio 1 handle 1 bpf da object-pinned /sys/fs/bpf/npnp/cil_from_netdev

# --- the judges: FORWARD on the node must stay at 0; the backend node counts who the packets come from
nsx $K1 nft -f - <<'NFT'
table inet npnp_node {
  chain forward {
    type filter hook forward priority 0; policy accept;
    counter
  }
}
NFT
nsx $K2 nft -f - <<'NFT'
table inet npnp_backend {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 172.18.0.2 tcp dport 8080 counter
    ip saddr 172.18.0.1 tcp dport 8080 counter
  }
}
NFT

# --- traffic: a real connect() through the NodePort, and one to the ClusterIP from outside
nsx $K2 node -e '
  require("net").createServer((s) => s.end("hello from 10.244.2.7\n")).listen(8080, "10.244.2.7");
' </dev/null >/dev/null 2>&1 &
SERVER=$!
wait_until 20 "backend server" listening $K2 tcp:8080
np=$(nsx $CL timeout 10 bash -c 'exec 3<>/dev/tcp/172.18.0.2/31940 && head -1 <&3' 2>&1) || np="connect failed: $np"
cip=$(nsx $CL timeout 3 bash -c 'exec 3<>/dev/tcp/10.96.45.10/80 && head -1 <&3' 2>&1) || cip="connect failed"
# with forwarding off on the node, bpf_fib_lookup answers BPF_FIB_LKUP_RET_FWD_DISABLED and the program drops
nsx $K1 sysctl -qw net.ipv4.ip_forward=0
nofwd=$(nsx $CL timeout 3 bash -c 'exec 3<>/dev/tcp/172.18.0.2/31940 && head -1 <&3' 2>&1) || nofwd="connect failed"
nsx $K1 sysctl -qw net.ipv4.ip_forward=1

count() { nsx "$1" nft -j list table inet "$2" | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const r = JSON.parse(s).nftables.filter((x) => x.rule).map((x) => x.rule);
    console.log(JSON.stringify(r.map((x) => x.expr.find((e) => e.counter).counter.packets)));
  });'; }
if [ -n "${NPNP_DEBUG:-}" ]; then
  "${K1X[@]}" tc -s filter show dev eth0 ingress >&2
  bpftool map dump name npnp_nat >&2 || true
  bpftool prog show pinned /sys/fs/bpf/npnp/cil_from_netdev >&2
  ip -n $K1 neigh >&2
  nsx $K1 nft list ruleset >&2
fi
fwd=$(count $K1 npnp_node)
be=$(count $K2 npnp_backend)
mkdir -p "$OUT"
node -e '
  const [np, cip, nofwd, fwd, be] = process.argv.slice(1);
  const [fromNode, fromClient] = JSON.parse(be);
  console.log(JSON.stringify({ nodePort: np, clusterIp: cip, nodePortForwardingOff: nofwd, forwardPackets: JSON.parse(fwd)[0], backendFromNode: fromNode, backendFromClient: fromClient }, null, 1));
' "$np" "$cip" "$nofwd" "$fwd" "$be" >"$OUT/judge.json"

# --- the node as netpath captures it, with the 1.19 agent outputs templated (no agent runs here)
rm -rf "$OUT/k1"
node "$ROOT/bin/netpath.js" snapshot -o "$OUT/k1" --exec "nsenter --net=/var/run/netns/$K1" --node k1 >/dev/null
sed -e "s/@NODEIP@/172.18.0.2/g" -e "s#@PODCIDR@#10.244.1.0/24#" -e "s/@IDX@/1/" -e "s/@NPODS@/1/" \
  "$HERE/cilium/migrate-kpr.status.tmpl" >"$OUT/k1/cilium-status.txt"
cp "$HERE/cilium/migrate-kpr.config.yaml" "$OUT/k1/cilium-config.txt"
cat "$OUT/judge.json"
