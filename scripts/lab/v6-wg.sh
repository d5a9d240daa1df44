#!/usr/bin/env bash
# Lab: IPv6-only, Cilium 1.19-style, tcx attach mode, native routing with ipv6NativeRoutingCIDR
# 2001:db8:42::/96 and no IPv6 masquerade. Nodes A and B share one L2 (2001:db8:1::/64) with direct
# routes to each other's /112 PodCIDR; node C sits on another network (2001:db8:2::/64) behind the
# gateway G, and A reaches C's PodCIDR through a WireGuard tunnel (wireguard-go) to G.
#   v6-wg.sh up | verify | capture [DIR] | down
source "$(dirname "$0")/lib.sh"
SW=np-lab-vsw
A=np-lab-va B=np-lab-vb C=np-lab-vc G=np-lab-vgw
WGDIR=/tmp/np-lab-wg

declare -A PODS=(
  [$A]="cni-a1b2c3d4-va1:lxc3f6a0b1c2d3e:2001:db8:42::a:5 cni-a5b6c7d8-va2:lxc4e5d6c7b8a90:2001:db8:42::a:6"
  [$B]="cni-b1c2d3e4-vb1:lxc5a6b7c8d9e0f:2001:db8:42::b:7"
  [$C]="cni-c1d2e3f4-vc1:lxc6b7c8d9e0f1a:2001:db8:42::c:9"
)
declare -A NODEIP=([$A]=2001:db8:1::10 [$B]=2001:db8:1::20 [$C]=2001:db8:2::30)
declare -A EPID=([a]=1100 [b]=2100 [c]=3100)
declare -A TAG=([$A]=a [$B]=b [$C]=c)

node_base() {
  local n=$1 sw=$2 ip=$3
  ip netns add "$n"
  ip -n "$n" link set lo up
  nsx "$n" sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
  ip -n "$sw" link add "${n#np-lab-}-port" type veth peer name eth0 netns "$n"
  ip -n "$sw" link set "${n#np-lab-}-port" master br0 up
  ip -n "$n" addr add "$ip/64" dev eth0 nodad
  ip -n "$n" link set eth0 up
}

cilium_node() {
  local n=$1 t=${TAG[$1]}
  ip -n "$n" link add cilium_host type veth peer name cilium_net
  ip -n "$n" link set cilium_net up
  ip -n "$n" link set cilium_host up
  ip -n "$n" addr add "2001:db8:42::$t:1/128" dev cilium_host nodad
  ip -n "$n" -6 route add "2001:db8:42::$t:0/112" dev cilium_host proto kernel src "${NODEIP[$n]}" metric 1024
  tcx_attach "$n" eth0 ingress cil_from_netdev
  tcx_attach "$n" eth0 egress cil_to_netdev
  tcx_attach "$n" cilium_host ingress cil_to_host
  tcx_attach "$n" cilium_host egress cil_from_host
  tcx_attach "$n" cilium_net ingress cil_to_host
  local p
  for p in ${PODS[$n]}; do
    local pns=${p%%:*} rest=${p#*:}
    local hdev=${rest%%:*} addr=${rest#*:}
    pod6 "$n" "$pns" "$hdev" "$addr/128" "2001:db8:42::$t:1"
    tcx_attach "$n" "$hdev" ingress cil_from_container
  done
}

# wireguard-go keeps its control socket in /var/run/wireguard, which every network namespace
# shares; each tunnel end therefore runs in a private mount namespace with its own tmpfs there, so
# `wg show all dump` on one node lists only that node's device. The pid file names that namespace.
wg_daemon() {
  local ns=$1 ifn=$2
  unshare -m --propagation private bash -c "mount -t tmpfs np-lab-wg /var/run/wireguard && exec ip netns exec $ns wireguard-go -f $ifn" >/dev/null 2>&1 &
  echo $! >"$WGDIR/$ns.pid"
  local i
  for i in $(seq 150); do ip -n "$ns" link show "$ifn" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "wireguard-go did not create $ifn in $ns" >&2
  return 1
}
wgx() { local ns=$1; shift; nsenter -t "$(cat "$WGDIR/$ns.pid")" -m -n "$@"; }

wg_pair() {
  mkdir -p $WGDIR && chmod 700 $WGDIR
  local x
  for x in a g; do (umask 077; wg genkey >"$WGDIR/$x.key"); wg pubkey <"$WGDIR/$x.key" >"$WGDIR/$x.pub"; done
  (umask 077; wg genpsk >"$WGDIR/psk")
  wg_daemon $A wg-gw
  wg_daemon $G wg-a
  wgx $A wg set wg-gw private-key "$WGDIR/a.key" listen-port 51820 \
    peer "$(cat $WGDIR/g.pub)" preshared-key "$WGDIR/psk" endpoint "[2001:db8:1::1]:51820" \
    allowed-ips 2001:db8:42::c:0/112,2001:db8:2::30/128,2001:db8:99::1/128 persistent-keepalive 25
  wgx $G wg set wg-a private-key "$WGDIR/g.key" listen-port 51820 \
    peer "$(cat $WGDIR/a.pub)" preshared-key "$WGDIR/psk" endpoint "[2001:db8:1::10]:51820" \
    allowed-ips 2001:db8:42::a:0/112,2001:db8:99::a/128
  ip -n $A addr add 2001:db8:99::a/64 dev wg-gw nodad
  ip -n $G addr add 2001:db8:99::1/64 dev wg-a nodad
  ip -n $A link set wg-gw up
  ip -n $G link set wg-a up
}

# The pass-through programs do not redirect, so the kernel alone cannot hand a packet from the node
# to a pod (the PodCIDR route ends in cilium_host). To prove the wiring, pings run with temporary
# scaffolding a real Cilium node does not have: per-pod /128 routes in table 90 (rule pref 90) and
# proxy NDP for the router IP on the lxc devices (Cilium's BPF answers that NS). All of it is
# removed again, with the neighbour entries it left on the lxc devices, before anything is captured.
scaffold() {
  local op=$1 n p
  for n in $A $B $C; do
    local t=${TAG[$n]}
    [ "$op" = add ] && ip -n "$n" -6 rule add pref 90 lookup 90
    [ "$op" = del ] && { ip -n "$n" -6 rule del pref 90 lookup 90 2>/dev/null || true; ip -n "$n" -6 route flush table 90 2>/dev/null || true; }
    for p in ${PODS[$n]}; do
      local rest=${p#*:}
      local hdev=${rest%%:*} addr=${rest#*:}
      if [ "$op" = add ]; then
        ip -n "$n" -6 route add "$addr" dev "$hdev" table 90
        nsx "$n" sysctl -qw "net.ipv6.conf.$hdev.proxy_ndp=1"
        ip -n "$n" -6 neigh add proxy "2001:db8:42::$t:1" dev "$hdev"
      else
        ip -n "$n" -6 neigh del proxy "2001:db8:42::$t:1" dev "$hdev" 2>/dev/null || true
        nsx "$n" sysctl -qw "net.ipv6.conf.$hdev.proxy_ndp=0"
        ip -n "$n" -6 neigh flush dev "$hdev"
      fi
    done
  done
}

# pings between pod namespaces: same node, A<->B over the L2, A<->C through WireGuard and the gateway
verify() {
  command -v ping >/dev/null || { echo "ping (iputils-ping) is needed to verify the lab" >&2; return 1; }
  local a1=cni-a1b2c3d4-va1 b1=cni-b1c2d3e4-vb1 c1=cni-c1d2e3f4-vc1 rc=0 pair
  scaffold add
  for pair in "$a1 2001:db8:42::a:6" "$a1 2001:db8:42::b:7" "$a1 2001:db8:42::c:9" "$b1 2001:db8:42::a:5" "$c1 2001:db8:42::a:5"; do
    set -- $pair
    # the first packet may wait for a WireGuard handshake and several neighbour resolutions
    local i
    for i in 1 2 3 4; do nsx "$1" ping -6 -n -q -c 1 -W 3 "$2" >/dev/null && break; done
    if nsx "$1" ping -6 -n -q -c 3 -i 0.2 -W 3 "$2" >/dev/null; then echo "ok   $1 -> $2"; else echo "FAIL $1 -> $2"; rc=1; fi
  done
  scaffold del
  return $rc
}

up() {
  down
  build_bpf
  ip netns add $SW
  ip -n $SW link add br0 type bridge
  ip -n $SW link set br0 up
  ip netns add np-lab-vsw2
  ip -n np-lab-vsw2 link add br0 type bridge
  ip -n np-lab-vsw2 link set br0 up
  node_base $A $SW 2001:db8:1::10
  node_base $B $SW 2001:db8:1::20
  node_base $G $SW 2001:db8:1::1
  node_base $C np-lab-vsw2 2001:db8:2::30
  # G's second leg, towards C's network
  ip -n np-lab-vsw2 link add gw-port type veth peer name eth1 netns $G
  ip -n np-lab-vsw2 link set gw-port master br0 up
  ip -n $G addr add 2001:db8:2::1/64 dev eth1 nodad
  ip -n $G link set eth1 up
  cilium_node $A
  cilium_node $B
  cilium_node $C
  # A <-> B: direct routes to each other's PodCIDR (autoDirectNodeRoutes)
  ip -n $A -6 route add 2001:db8:42::b:0/112 via 2001:db8:1::20 dev eth0 proto kernel
  ip -n $B -6 route add 2001:db8:42::a:0/112 via 2001:db8:1::10 dev eth0 proto kernel
  # A <-> C through G over WireGuard
  sock_hooks_up 6
  wg_pair
  ip -n $A -6 route add 2001:db8:42::c:0/112 dev wg-gw metric 1024
  ip -n $A -6 route add 2001:db8:2::/64 dev wg-gw metric 1024
  ip -n $G -6 route add 2001:db8:42::a:0/112 dev wg-a metric 1024
  ip -n $G -6 route add 2001:db8:42::c:0/112 via 2001:db8:2::30 dev eth1
  ip -n $C -6 route add default via 2001:db8:2::1 dev eth0 metric 1024
  ip -n $B -6 route add default via 2001:db8:1::1 dev eth0 metric 1024
  ip -n $G -6 route add 2001:db8:42::b:0/112 via 2001:db8:1::20 dev eth0
  # neighbours as a running node has them (a TCP connect to a closed port resolves the address)
  nsx $A timeout 2 bash -c 'echo > /dev/tcp/2001:db8:1::20/9' 2>/dev/null || true
  nsx $A timeout 2 bash -c 'echo > /dev/tcp/2001:db8:1::1/9' 2>/dev/null || true
  nsx $B timeout 2 bash -c 'echo > /dev/tcp/2001:db8:1::10/9' 2>/dev/null || true
  nsx $C timeout 2 bash -c 'echo > /dev/tcp/2001:db8:2::1/9' 2>/dev/null || true
  # the tunnel: a handshake from A to G through wireguard-go
  nsx $A timeout 3 bash -c 'echo > /dev/tcp/[2001:db8:99::1]/9' 2>/dev/null || true
  verify
}

down() {
  local n p
  for n in $A $B $C; do
    for p in ${PODS[$n]}; do ip netns del "${p%%:*}" 2>/dev/null || true; done
  done
  for n in $A $G; do
    [ -f "$WGDIR/$n.pid" ] && kill "$(cat "$WGDIR/$n.pid")" 2>/dev/null || true
    [ -e /var/run/netns/$n ] && ip netns pids $n 2>/dev/null | xargs -r kill 2>/dev/null || true
  done
  for n in $A $B $C $G $SW np-lab-vsw2; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf $WGDIR
  sock_hooks_down
}

capture_all() {
  local dir=${1:-fixtures/snapshots/v6-wg}
  local n name
  build_netpath
  # fresh neighbour and WireGuard handshake state, as on a node carrying traffic
  verify
  for n in $A $B $C $G; do
    name=node-${n#np-lab-v}
    [ "$n" = "$G" ] && name=gateway
    if [ -f "$WGDIR/$n.pid" ]; then
      # the tunnel ends: probe inside the mount namespace that holds their wireguard-go socket
      (cd "$HERE/../.." && NETPATH_PREFIX="nsenter -t $(cat "$WGDIR/$n.pid") -m -n" node scripts/lab/capture.mjs "$n" "$dir/$name" "$name")
    else
      capture "$n" "$dir/$name" "$name"
    fi
    if [ "$n" != "$G" ]; then
      local t=${TAG[$n]}
      local npods=$(( $(wc -w <<<"${PODS[$n]}") + 1 ))  # the pods and the router IP
      sed -e "s/@NODEIP@/${NODEIP[$n]}/g" -e "s/@TAG@/$t/g" -e "s/@NPODS@/$npods/" "$HERE/cilium/v6-wg.status.tmpl" >"$dir/$name/cilium-status.txt"
      cp "$HERE/cilium/v6-wg.config.yaml" "$dir/$name/cilium-config.txt"
      node "$HERE/cilium/endpoints.mjs" "$dir/$name" "${EPID[$t]}"
    fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  capture) capture_all "${2:-}" ;;
  verify) verify ;;
  *) echo "usage: $0 up|verify|capture [DIR]|down" >&2; exit 2 ;;
esac
