#!/usr/bin/env bash
# Lab: IPv6-only, Cilium 1.19-style, tcx attach mode, native routing with ipv6NativeRoutingCIDR
# 2001:db8:42::/96 and no IPv6 masquerade. Nodes A and B share one L2 (2001:db8:1::/64) with direct
# routes to each other's /112 PodCIDR; node C sits on another network (2001:db8:2::/64) behind the
# gateway G, and A reaches C's PodCIDR through a WireGuard tunnel (wireguard-go) to G.
#   v6-wg.sh up [DIR] | verify [DIR] | capture [DIR] [OUT] | down [DIR]
# A run lives in a private mount namespace held by the process in DIR/holder.pid (DIR: the run's own directory,
# default /tmp/np-lab-v6wg): its network namespaces (named on a tmpfs over /var/run/netns), its bpffs with the
# pinned links and its /run/cilium/cgroupv2 exist only there, so runs with different DIRs never meet. Enter a node
# with `nsenter -t $(cat DIR/holder.pid) -m ip netns exec np-lab-vb`, a tunnel end with
# `nsenter -t $(cat DIR/wg/np-lab-va.pid) -m -n` (wireguard-go's socket lives in a mount namespace of its own).
# Outside it there are only DIR and a cgroup directory named after DIR: `down` removes everything, and the holder
# does so itself when the process NP_LAB_OWNER names (a test runner) is gone first.
source "$(dirname "$0")/lib.sh"
SELF=$(realpath "$0")
CMD=${1:-}
DIR=$(realpath -m "${2:-/tmp/np-lab-v6wg}")
export LAB_BPF=$DIR/bpf
LAB_CG=np-lab-$(printf %s "$DIR" | md5sum | cut -c1-10)
export LAB_CG
WGDIR=$DIR/wg
SW=np-lab-vsw
A=np-lab-va B=np-lab-vb C=np-lab-vc G=np-lab-vgw

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
  mkdir -p /var/run/wireguard
  unshare -m --propagation private bash -c "mount -t tmpfs np-lab-wg /var/run/wireguard && exec ip netns exec $ns wireguard-go -f $ifn" >"$WGDIR/$ns.log" 2>&1 &
  local pid=$! start=$SECONDS
  echo "$pid" >"$WGDIR/$ns.pid"
  # its device, and its control socket (what `wg set` talks to); a busy machine can take many seconds for both
  until link_exists "$ns" "$ifn" && nsenter -t "$pid" -m -n wg show "$ifn" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "wireguard-go for $ifn in $ns exited: $(tail -3 "$WGDIR/$ns.log" | tr '\n' ' ')" >&2
      return 1
    fi
    if ((SECONDS - start >= 60)); then
      echo "wireguard-go did not create $ifn in $ns within 60s: $(tail -3 "$WGDIR/$ns.log" | tr '\n' ' ')" >&2
      return 1
    fi
    sleep 0.2
  done
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
    wait_until 45 "ping $1 -> $2" nsx "$1" ping -6 -n -q -c 1 -W 2 "$2" || true
    if nsx "$1" ping -6 -n -q -c 3 -i 0.2 -W 3 "$2" >/dev/null; then echo "ok   $1 -> $2"; else echo "FAIL $1 -> $2"; rc=1; fi
  done
  scaffold del
  return $rc
}

# resolve NS DEV ADDR — the neighbour entry a node that talks to ADDR has (a TCP connect to a closed port
# resolves it); retried until the kernel holds a link-layer address for it
resolve() {
  nsx "$1" timeout 2 bash -c "echo > /dev/tcp/$3/9" 2>/dev/null || true
  ip -n "$1" -6 neigh show "$3" dev "$2" | grep -q lladdr
}

# inside the private mount namespace: the whole topology, then the pings that prove it
inner_up() {
  mkdir -p /var/run/netns /sys/fs/bpf
  mount -t tmpfs -o size=1m np-lab-netns /var/run/netns
  # a bpffs of this run's own (a new mount is a new instance): pins go away with the namespace
  mount -t bpf bpf /sys/fs/bpf
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
  # every address usable (the pods' link-local addresses run DAD) before the first packet
  local n p
  for n in $A $B $C $G $SW np-lab-vsw2; do wait_dad "$n"; done
  for n in $A $B $C; do for p in ${PODS[$n]}; do wait_dad "${p%%:*}"; done; done
  # neighbours as a running node has them
  wait_until 30 "neighbour 2001:db8:1::20 of $A" resolve $A eth0 2001:db8:1::20
  wait_until 30 "neighbour 2001:db8:1::1 of $A" resolve $A eth0 2001:db8:1::1
  wait_until 30 "neighbour 2001:db8:1::10 of $B" resolve $B eth0 2001:db8:1::10
  wait_until 30 "neighbour 2001:db8:2::1 of $C" resolve $C eth0 2001:db8:2::1
  # the tunnel: a handshake from A to G through wireguard-go
  wait_until 45 "WireGuard handshake $A -> $G" handshake_done
  verify
}

handshake_done() {
  nsx $A timeout 2 bash -c 'echo > /dev/tcp/[2001:db8:99::1]/9' 2>/dev/null || true
  wgx $A wg show wg-gw latest-handshakes | awk '$2 > 0 { ok = 1 } END { exit !ok }'
}

holder_pid() { cat "$DIR/holder.pid" 2>/dev/null; }
in_holder() { nsenter -t "$(holder_pid)" -m "$@"; }
own_mntns() { [ "$(readlink "/proc/$1/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]; }

up() {
  down
  mkdir -p "$DIR" "$WGDIR"
  chmod 700 "$DIR" "$WGDIR"
  # the holder: lives as long as the lab; with NP_LAB_OWNER set it takes the lab down once that process is gone
  setsid unshare -m --propagation private bash -c '
    if [ -n "$1" ]; then
      while kill -0 "$1" 2>/dev/null; do sleep 1; done
      bash "$2" down "$3"
    else
      while :; do sleep 3600; done
    fi' np-lab-holder "${NP_LAB_OWNER:-}" "$SELF" "$DIR" </dev/null >/dev/null 2>&1 &
  echo $! >"$DIR/holder.pid"
  local rc=0
  wait_until 10 "the lab's private mount namespace" own_mntns "$(holder_pid)" || rc=$?
  [ $rc = 0 ] && { in_holder bash "$SELF" _up "$DIR" || rc=$?; }
  if [ $rc != 0 ]; then
    echo "v6-wg lab did not come up (exit $rc); everything it made is being removed" >&2
    down
    return $rc
  fi
}

down() {
  local p n cg2
  # the tunnel ends first: their processes hold namespaces (and their mount namespaces) alive
  for p in "$WGDIR"/*.pid; do [ -e "$p" ] && kill "$(cat "$p")" 2>/dev/null; done
  for p in "$WGDIR"/*.pid; do [ -e "$p" ] && { wait_until 15 "wireguard-go $(cat "$p") to exit" gone "$(cat "$p")" || kill -9 "$(cat "$p")" 2>/dev/null; }; done
  # the holder: with it goes the private mount namespace, every network namespace named there and the bpffs
  # with the pinned links and programs
  if [ -f "$DIR/holder.pid" ]; then
    n=$(holder_pid)
    # only a holder of this lab (a stale pid file may name an unrelated process by now)
    if grep -qF np-lab-holder "/proc/$n/cmdline" 2>/dev/null && [ "$n" != "$PPID" ]; then
      # its process group (setsid made it the leader): the holder and the sleep it waits in
      kill -9 -- "-$n" 2>/dev/null || true
      wait_until 15 "the lab holder $n to exit" gone "$n" || true
    fi
  fi
  # the socket-LB programs stay attached to the cgroup until detached
  cg2=$(awk '$3=="cgroup2"{print $2; exit}' /proc/mounts)
  if [ -d "$cg2/$LAB_CG" ]; then
    cgroup_detach_all "$cg2/$LAB_CG"
    rmdir "$cg2/$LAB_CG" 2>/dev/null || echo "could not remove the cgroup $cg2/$LAB_CG" >&2
  fi
  rm -rf "$DIR"
}
gone() { ! kill -0 "$1" 2>/dev/null; }

capture_all() {
  local dir=$1
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

case "$CMD" in
  up) up ;;
  down) down ;;
  verify) in_holder bash "$SELF" _verify "$DIR" ;;
  # the default OUT is the bundled snapshot; resolved here (inside, the working directory is /)
  capture) in_holder bash "$SELF" _capture "$DIR" "$(realpath -m "${3:-$HERE/../../fixtures/snapshots/v6-wg}")" ;;
  _up) inner_up ;;
  _verify) verify ;;
  _capture) capture_all "$3" ;;
  *) echo "usage: $0 up|verify|capture|down [DIR] [OUT]" >&2; exit 2 ;;
esac
