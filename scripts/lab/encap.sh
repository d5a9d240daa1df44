#!/usr/bin/env bash
# Encap lab (issue 15): what the kernel does with a pod's packet when a map in the layout of Cilium's ipcache
# decides it, captured with netpath's own live snapshot so a trace can be set against the kernel's counters.
#
#   switch npwg-sw: br0 192.168.77.1/24 (the router; also holds 203.0.113.9, an address outside the cluster)
#   ├─ npwg-a  "tunnel-node" eth0 192.168.77.2  pod 10.77.1.10 (cni-npwg-a1, lxc0a0000000001)
#   │          cilium_vxlan (vxlan external = collect_md, dstport 8472); cil_from_container on the lxc:
#   │          hastunnel entry → bpf_skb_set_tunnel_key + bpf_redirect to cilium_vxlan
#   ├─ npwg-b  peer node     eth0 192.168.77.3  cilium_vxlan (collect_md), WireGuard wg-b (wireguard-go)
#   └─ npwg-c  "wg-node"     eth0 192.168.77.4  pod 10.77.3.10 (cni-npwg-c1, lxc0c0000000001)
#              cilium_wg0 (wireguard-go, port 51871, peer b); cil_to_netdev on eth0: keyed entry → cilium_wg0,
#              world entry → SNAT of the pod's ICMP to 192.168.77.4, remote node → untouched
#
# Each node has a pinned cilium_ipcache_v2 (its own bpffs in the run's private mount namespace), filled below.
# nft counters on b and on the switch count what arrived: the verdicts go to OUT/kernel.json, the snapshots of
# a and c to OUT/tunnel-node and OUT/wg-node (Cilium CLI outputs templated: scripts/lab/cilium/encap-*.tmpl).
#   encap.sh run OUT        (root; everything lives and dies inside one private mount namespace)
set -eEuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

if [ "${1:-}" = run ]; then
  OUT=$(realpath -m "${2:?usage: encap.sh run OUT}")
  mkdir -p "$OUT"
  exec unshare -m --propagation private bash "$0" _inside "$OUT"
fi
[ "${1:-}" = _inside ] || { echo "usage: $0 run OUT" >&2; exit 2; }
OUT=$2
source "$HERE/lib.sh"

# private names: the run's own netns directory, bpffs and WireGuard socket directory
mount -t tmpfs -o size=1m npwg-netns /var/run/netns
mount -t bpf bpf /sys/fs/bpf
mkdir -p /var/run/wireguard && mount -t tmpfs -o size=1m npwg-wg /var/run/wireguard
WORK=$(mktemp -d /tmp/npwg.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for n in cni-npwg-a1 cni-npwg-c1 npwg-a npwg-b npwg-c npwg-sw; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

I=/usr/include/$(gcc -dumpmachine)
x() { ip netns exec "$@"; }
# the node's own view of the bpffs: nsenter keeps this mount namespace (ip netns exec would remount /sys)
nx() { local ns=$1; shift; nsenter --net="/var/run/netns/$ns" "$@"; }

ip netns add npwg-sw
ip -n npwg-sw link add br0 type bridge
ip -n npwg-sw link set br0 up
ip -n npwg-sw addr add 192.168.77.1/24 dev br0
ip -n npwg-sw addr add 203.0.113.9/32 dev br0
node_up() { # NS IP
  ip netns add "$1"
  ip -n "$1" link add eth0 type veth peer name "p-$1" netns npwg-sw
  ip -n npwg-sw link set "p-$1" master br0 up
  ip -n "$1" link set lo up
  ip -n "$1" link set eth0 up
  ip -n "$1" addr add "$2/24" dev eth0
  ip -n "$1" route add default via 192.168.77.1 dev eth0
  x "$1" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0
}
node_up npwg-a 192.168.77.2
node_up npwg-b 192.168.77.3
node_up npwg-c 192.168.77.4

# cilium_host and a pod per traced node, as Cilium wires them (legacy host routing: the stack routes)
pod_up() { # NODE IDX LXC
  local n=$1 i=$2 lxc=$3
  ip -n "$n" link add cilium_host type veth peer name cilium_net
  ip -n "$n" link set cilium_host up
  ip -n "$n" link set cilium_net up
  ip -n "$n" addr add "10.77.$i.1/32" dev cilium_host
  ip -n "$n" route add "10.77.$i.1" dev cilium_host scope link
  ip -n "$n" route add "10.77.$i.0/24" via "10.77.$i.1" dev cilium_host src "10.77.$i.1"
  pod4 "$n" "cni-npwg-${n#npwg-}1" "$lxc" "10.77.$i.10/32" "10.77.$i.1"
  # the host side answers for the router address (Cilium: cil_from_container does), and routes the pod back
  x "$n" sysctl -qw "net.ipv4.conf.$lxc.proxy_arp=1"
  ip -n "$n" route add "10.77.$i.10/32" dev "$lxc"
}
pod_up npwg-a 1 lxc0a0000000001
pod_up npwg-c 3 lxc0c0000000001

# tunnel devices (collect_md) on a and b
for n in npwg-a npwg-b; do
  ip -n "$n" link add cilium_vxlan type vxlan external dstport 8472
  ip -n "$n" link set cilium_vxlan up
done

# WireGuard with wireguard-go: cilium_wg0 on c, wg-b on b (one socket directory serves both: names differ)
# in the foreground (-f), in the background of this script: cleanup ends it by its pid (a daemonised
# wireguard-go would outlive the run and keep its network namespace)
wg_up() { # NS DEV
  ip netns exec "$1" wireguard-go -f "$2" >"$WORK/$2.log" 2>&1 &
  PIDS+=($!)
  wait_until 60 "wireguard-go $2" link_exists "$1" "$2"
}
wg_up npwg-c cilium_wg0
wg_up npwg-b wg-b
for k in c b; do (umask 077; wg genkey >"$WORK/$k.key"); wg pubkey <"$WORK/$k.key" >"$WORK/$k.pub"; done
x npwg-c wg set cilium_wg0 private-key "$WORK/c.key" listen-port 51871 \
  peer "$(cat "$WORK/b.pub")" endpoint 192.168.77.3:51871 allowed-ips 10.77.2.0/24
x npwg-b wg set wg-b private-key "$WORK/b.key" listen-port 51871 \
  peer "$(cat "$WORK/c.pub")" endpoint 192.168.77.4:51871 allowed-ips 10.77.3.0/24
ip -n npwg-c link set cilium_wg0 up
ip -n npwg-b link set wg-b up
ip -n npwg-b addr add 10.77.2.1/32 dev wg-b

# programs, compiled with this run's ifindexes (Cilium compiles its own with the node's constants, too)
ifindex() { ip -n "$1" -j link show dev "$2" | node -e 'process.stdout.write(String(JSON.parse(require("fs").readFileSync(0))[0].ifindex))'; }
clang -O2 -g -target bpf -I"$I" -DFROM_CONTAINER -DTUNNEL_IFINDEX="$(ifindex npwg-a cilium_vxlan)" \
  -c "$HERE/bpf/encap_prog.c" -o "$WORK/cil_from_container.o"
clang -O2 -g -target bpf -I"$I" -DTO_NETDEV -DWG_IFINDEX="$(ifindex npwg-c cilium_wg0)" -DNODE_IP=0xc0a84d04 \
  -DPOD_NET=0x0a4d0300 -DPOD_MASK=0xffffff00 -c "$HERE/bpf/encap_prog.c" -o "$WORK/cil_to_netdev.o"
# the map pins by name under tc/globals, as Cilium's do. a and c share the run's mount namespace and so one
# bpffs: both nodes' programs use the one pinned map (a cluster-wide view; neither node's own address is in it)
attach() { # NS DEV DIR OBJECT
  nx "$1" tc qdisc replace dev "$2" clsact
  nx "$1" tc filter replace dev "$2" "$3" prio 1 handle 1 bpf da obj "$4" sec tc
}
attach npwg-a lxc0a0000000001 ingress "$WORK/cil_from_container.o"
attach npwg-c eth0 egress "$WORK/cil_to_netdev.o"
# pass-through programs where Cilium has one and the lab needs none to decide (lib.sh: tc_prog.c)
LAB_BPF=$WORK/bpf build_bpf
attach npwg-a eth0 egress "$WORK/bpf/cil_to_netdev.o"
attach npwg-c lxc0c0000000001 ingress "$WORK/bpf/cil_from_container.o"
M=/sys/fs/bpf/tc/globals/cilium_ipcache_v2
[ -e "$M" ] || { echo "tc did not pin $M" >&2; exit 1; }
# key: prefixlen (32 + bits), cluster 0, pad, family 1, address; value: identity, tunnel endpoint, pad, key, flags
K4() { printf '%02x 00 00 00 00 00 00 01 %s 00 00 00 00 00 00 00 00 00 00 00 00' $((32 + $1)) "$2"; }
V() { printf '%s %s 00 00 00 00 00 00 00 00 00 00 00 00 %s %s' "$1" "$2" "$3" "$4"; }
up() { bpftool map update pinned "$M" key hex $1 value hex $2; }
up "$(K4 0 '00 00 00 00')" "$(V '02 00 00 00' '00 00 00 00' '00 00' '00 00')"   # 0.0.0.0/0 world
up "$(K4 32 'c0 a8 4d 01')" "$(V '02 00 00 00' '00 00 00 00' '00 00' '00 00')"  # 192.168.77.1 the router: world
up "$(K4 32 'c0 a8 4d 03')" "$(V '06 00 00 00' '00 00 00 00' '00 00' '00 00')"  # 192.168.77.3 node b: remote node
# pods of b: 10.77.2.0/24, identity 3388, tunnel endpoint b (hastunnel), WireGuard key 1
up "$(K4 24 '0a 4d 02 00')" "$(V '3c 0d 00 00' 'c0 a8 4d 03' '00 00' '01 02')"
up "$(K4 32 '0a 4d 01 0a')" "$(V '3c 0d 00 00' '00 00 00 00' '00 00' '00 00')"  # a's pod (local to a)
up "$(K4 32 '0a 4d 03 0a')" "$(V '3c 0d 00 00' '00 00 00 00' '00 00' '00 00')"  # c's pod (local to c)

# what arrives: counters on b's eth0 and on the switch's br0 (netdev ingress sees frames before any decap)
nx npwg-b nft -f - <<'EOF'
table netdev npwg { chain in { type filter hook ingress device eth0 priority 0;
  udp dport 8472 counter name vxlan
  udp dport 51871 counter name wg
  ip daddr 10.77.2.20 counter name plain_to_pod
  ip saddr 10.77.3.10 ip daddr 192.168.77.3 counter name pod_to_node_unsnat
}
counter vxlan {}
counter wg {}
counter plain_to_pod {}
counter pod_to_node_unsnat {}
}
EOF
nx npwg-sw nft -f - <<'EOF'
table inet npwg { chain in { type filter hook prerouting priority 0;
  ip daddr 203.0.113.9 ip saddr 192.168.77.4 counter name world_snat
  ip daddr 203.0.113.9 ip saddr 10.77.3.10 counter name world_unsnat
}
counter world_snat {}
counter world_unsnat {}
}
EOF

# the traffic: each ping's answer does not matter (no reverse NAT, no decapsulating endpoint), only what left
ping_from() { x "$1" ping -c 3 -i 0.2 -W 1 "$2" >/dev/null 2>&1 || true; }
ping_from cni-npwg-a1 10.77.2.20   # a: tunnelled to b
ping_from cni-npwg-c1 10.77.2.20   # c: keyed → cilium_wg0 → UDP 51871 to b
ping_from cni-npwg-c1 203.0.113.9  # c: world → SNAT to 192.168.77.4
ping_from cni-npwg-c1 192.168.77.3 # c: remote node → not SNATed
count() { nx "$1" nft -j list counter "$2" npwg "$3" | node -e 'const j=JSON.parse(require("fs").readFileSync(0));process.stdout.write(String(j.nftables.find(x=>x.counter).counter.packets))'; }
cat >"$OUT/kernel.json" <<EOF
{
  "vxlanAtB": $(count npwg-b netdev vxlan),
  "wgAtB": $(count npwg-b netdev wg),
  "plainToPodAtB": $(count npwg-b netdev plain_to_pod),
  "podToNodeUnsnatAtB": $(count npwg-b netdev pod_to_node_unsnat),
  "worldSnatAtSwitch": $(count npwg-sw inet world_snat),
  "worldUnsnatAtSwitch": $(count npwg-sw inet world_unsnat)
}
EOF

# the snapshots, with netpath's own capture (needs dist/: npm run build)
snap() { # NS NAME TEMPLATE FIRST_EP NODEIP
  (cd "$ROOT" && NETPATH_PREFIX="nsenter --net=/var/run/netns/$1" node scripts/lab/capture.mjs "$1" "$OUT/$2" "$2")
  sed -e "s/@NODEIP@/$5/g" -e "s#@PUBKEY@#$(cat "$WORK/c.pub")#" "$HERE/cilium/$3.status.tmpl" >"$OUT/$2/cilium-status.txt"
  cp "$HERE/cilium/$3.config.yaml" "$OUT/$2/cilium-config.txt"
  node "$HERE/cilium/endpoints.mjs" "$OUT/$2" "$4"
}
snap npwg-a tunnel-node encap-tunnel 1100 192.168.77.2
snap npwg-c wg-node encap-wg 3100 192.168.77.4
echo "encap lab: $(tr -d ' \n' <"$OUT/kernel.json") -> $OUT"
