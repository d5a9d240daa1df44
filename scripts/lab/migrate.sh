#!/usr/bin/env bash
# Lab: a kube-proxy → Cilium kube-proxy-replacement migration on node k1 of the kind-v4 topology, captured
# before, after, and after a botched cleanup (fixtures/snapshots/migrate-*/).
#   migrate.sh iptables|nft|ipvs [OUTDIR]   (default fixtures/snapshots/migrate-<mode>)
#   migrate.sh down                  remove what a killed run may have left (cgroup, build dir, netns files)
# NP_LAB_ID=x makes the two things outside the mount namespace (the build directory /tmp/np-mig-bpf-x and the
# cgroup np-mig-x) a run's own, so concurrent runs cannot remove each other's; NP_LAB_SKIP_BUILD=1 uses dist/ as built.
# The whole lab runs inside a private mount namespace with its own bpffs on /sys/fs/bpf, its own tmpfs on
# /var/run/netns and its own /run/cilium/cgroupv2 bind mount: nothing it creates is visible to other labs,
# and its network namespaces, pinned maps and programs go away with it. Node names are np-mig-*.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SFX=${NP_LAB_ID:+-$NP_LAB_ID}
export LAB_BPF=/tmp/np-mig-bpf$SFX
CG2=$(awk '$3=="cgroup2"{print $2; exit}' /proc/mounts)
CGDIR="$CG2/np-mig$SFX"

outer_cleanup() {
  # programs attached to our cgroup, if the inner run died before detaching them
  if [ -d "$CGDIR" ]; then
    cgroup_detach_all "$CGDIR"
    rmdir "$CGDIR" 2>/dev/null || true
  fi
  rm -rf "$LAB_BPF"
}

source "$HERE/lib.sh"
case "${1:-}" in
  iptables | nft | ipvs) ;;
  inner) ;;
  down) outer_cleanup; exit 0 ;;
  *) echo "usage: $0 iptables|nft|ipvs [OUTDIR] | down" >&2; exit 2 ;;
esac

if [ "$1" != inner ]; then
  mode=$1
  out=${2:-$ROOT/fixtures/snapshots/migrate-$mode}
  trap outer_cleanup EXIT
  unshare -m --propagation private bash "$0" inner "$mode" "$(realpath -m "$out")"
  exit $?
fi

# ------------------------------------------------------------------ inside the private mount namespace
MODE=$2
OUT=$3
GEN="node $HERE/migrate/gen.mjs"
TRAFFIC="$HERE/migrate/traffic.mjs"
SW=np-mig-ksw
NODES=(np-mig-k1 np-mig-k2 np-mig-k3)
K1=np-mig-k1
# the kind-v4 pods (names are private to this mount namespace)
declare -A PODS=(
  [np-mig-k1]="cni-5f0c1d2e-k1a:lxc6d1e0f2a3b4c:10.244.1.12 cni-7a9b3c4d-k1b:lxc0a1b2c3d4e5f:10.244.1.57"
  [np-mig-k2]="cni-1e2d3c4b-k2a:lxc9f8e7d6c5b4a:10.244.2.7 cni-2b3c4d5e-k2b:lxc1122334455aa:10.244.2.33"
  [np-mig-k3]="cni-3c4d5e6f-k3a:lxcaabbccddeeff:10.244.3.21"
)
# what each pod (and k1's host, the API server) serves for the Services of migrate/services.json
declare -A SERVES=(
  [cni-7a9b3c4d-k1b]="udp:53 tcp:53 tcp:8443" [cni-1e2d3c4b-k2a]="udp:53 tcp:53 tcp:8080"
  [cni-5f0c1d2e-k1a]="tcp:8080" [cni-3c4d5e6f-k3a]="tcp:8080" [cni-2b3c4d5e-k2b]="tcp:8443" [np-mig-k1]="tcp:6443"
)
PIDS=()

inner_cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  sock_detach
  for n in $(ip netns list 2>/dev/null | awk '{print $1}'); do ip netns del "$n" 2>/dev/null || true; done
}
trap inner_cleanup EXIT

mounts() {
  mount -t bpf bpf /sys/fs/bpf
  mkdir -p /sys/fs/bpf/tc/globals /sys/fs/bpf/np-mig /var/run/netns /run/cilium/cgroupv2
  mount -t tmpfs -o size=1m np-mig-netns /var/run/netns
  mkdir -p "$CGDIR"
  mount --bind "$CGDIR" /run/cilium/cgroupv2
}

# the kind-v4 topology (scripts/lab/kind-v4.sh), without BPF programs: which ones are attached depends on the stage
topology() {
  ip netns add $SW
  ip -n $SW link add br0 type bridge
  ip -n $SW link set br0 up
  ip -n $SW addr add 172.18.0.1/16 dev br0
  local i
  for i in 0 1 2; do
    local n=${NODES[$i]} idx=$((i + 1)) ip=172.18.0.$((i + 2))
    ip netns add "$n"
    ip -n "$n" link set lo up
    ip -n $SW link add "k${idx}-port" type veth peer name eth0 netns "$n"
    ip -n $SW link set "k${idx}-port" master br0 up
    ip -n "$n" addr add "$ip/16" dev eth0
    ip -n "$n" link set eth0 up
    ip -n "$n" route add default via 172.18.0.1 dev eth0
    nsx "$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0
    ip -n "$n" link add cilium_host type veth peer name cilium_net
    ip -n "$n" link set cilium_net up
    ip -n "$n" link set cilium_host up
    ip -n "$n" addr add "10.244.$idx.1/32" dev cilium_host
    # Cilium 1.14+ installs its routes with proto kernel
    ip -n "$n" route add "10.244.$idx.1" dev cilium_host proto kernel scope link
    ip -n "$n" route add "10.244.$idx.0/24" via "10.244.$idx.1" dev cilium_host proto kernel src "10.244.$idx.1"
    local j
    for j in 1 2 3; do
      [ "$j" = "$idx" ] && continue
      ip -n "$n" route add "10.244.$j.0/24" via "172.18.0.$((j + 1))" dev eth0 proto kernel
    done
    local p
    for p in ${PODS[$n]}; do
      IFS=: read -r pns hdev addr <<<"$p"
      pod4 "$n" "$pns" "$hdev" "$addr/32" "10.244.$idx.1"
    done
  done
  # k1's programs that do not depend on kube-proxy replacement (legacy tc, enable-tcx=false)
  tc_attach $K1 eth0 ingress cil_from_netdev
  tc_attach $K1 cilium_host ingress cil_to_host
  tc_attach $K1 cilium_host egress cil_from_host
  tc_attach $K1 cilium_net ingress cil_to_host
  for p in ${PODS[$K1]}; do
    IFS=: read -r pns hdev addr <<<"$p"
    tc_attach $K1 "$hdev" ingress cil_from_container
  done
}

# Cilium's BPF redirects between cilium_host and the lxc devices; the pass-through programs do not, so while
# traffic is set up each node gets per-pod routes in table 90 (rule pref 90). Removed, with the neighbour
# entries they caused on the lxc devices, before a capture.
scaffold_up() {
  local n p
  for n in "${NODES[@]}"; do
    ip -n "$n" rule add pref 90 lookup 90
    for p in ${PODS[$n]}; do
      IFS=: read -r pns hdev addr <<<"$p"
      ip -n "$n" route add "$addr/32" dev "$hdev" table 90
    done
  done
}
scaffold_down() {
  local n p
  for n in "${NODES[@]}"; do
    ip -n "$n" rule del pref 90 lookup 90 2>/dev/null || true
    ip -n "$n" route flush table 90 2>/dev/null || true
    for p in ${PODS[$n]}; do
      IFS=: read -r pns hdev addr <<<"$p"
      ip -n "$n" neigh flush dev "$hdev" 2>/dev/null || true
    done
  done
}

serve_all() {
  local ns
  for ns in "${!SERVES[@]}"; do
    # shellcheck disable=SC2086
    ip netns exec "$ns" node "$TRAFFIC" serve ${SERVES[$ns]} &
    PIDS+=($!)
  done
  # every server bound before the first flow (a refused connection fails the flow)
  for ns in "${!SERVES[@]}"; do
    # shellcheck disable=SC2086
    wait_until 30 "the servers in $ns" listening "$ns" ${SERVES[$ns]}
  done
}

# hold NS FLOW... — start flows from a namespace and wait until each got an answer
hold() {
  local ns=$1 log
  shift
  log=$(mktemp /tmp/np-mig-flow.XXXXXX)
  ip netns exec "$ns" node "$TRAFFIC" hold "$@" >"$log" 2>&1 &
  PIDS+=($!)
  local t
  # traffic.mjs gives up by itself after 20 s; 60 s more is for starting node on a loaded machine
  for t in $(seq 1 600); do
    grep -q '^ready$' "$log" && break
    grep -q '^fail' "$log" && { cat "$log" >&2; rm -f "$log"; return 1; }
    kill -0 "${PIDS[-1]}" 2>/dev/null || { echo "flows from $ns: the client exited" >&2; cat "$log" >&2; rm -f "$log"; return 1; }
    sleep 0.1
  done
  grep -q '^ready$' "$log" || { echo "flows from $ns: no answer within 60 s" >&2; cat "$log" >&2; rm -f "$log"; return 1; }
  sed "s/^/  $ns: /" "$log" | grep -v ready || true
  rm -f "$log"
}

stop_flows() {
  # the client processes only (servers keep running): their sockets close, conntrack sees FIN/RST
  local p
  for p in "${FLOW_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  # reaped: their sockets are closed once wait returns
  for p in "${FLOW_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  FLOW_PIDS=()
}

lbmaps() {
  rm -f /sys/fs/bpf/tc/globals/cilium_lb4_*
  $GEN lbmaps "$@" >/tmp/np-mig-lbmaps.batch
  bpftool batch file /tmp/np-mig-lbmaps.batch >/dev/null
  rm -f /tmp/np-mig-lbmaps.batch
}

sock_attach() {
  rm -rf /sys/fs/bpf/np-mig/sock4
  bpftool prog loadall "$LAB_BPF/sock4.o" /sys/fs/bpf/np-mig/sock4
  local t
  for t in connect sendmsg recvmsg getpeername post_bind; do
    bpftool cgroup attach /run/cilium/cgroupv2 "${t}4" pinned "/sys/fs/bpf/np-mig/sock4/cil_sock4_$t" multi
  done
}
sock_detach() {
  mountpoint -q /run/cilium/cgroupv2 2>/dev/null || return 0
  bpftool -j cgroup show /run/cilium/cgroupv2 2>/dev/null | node -e '
    let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{for(const p of JSON.parse(s))console.log(p.id, p.attach_type)}catch{}})' |
    while read -r id type; do bpftool cgroup detach /run/cilium/cgroupv2 "$type" id "$id" || true; done
}

# snap DIR STAGE — netpath's own snapshot command through nsenter (ip netns exec would remount /sys and hide
# this mount namespace's bpffs), plus what it does not collect: conntrack, and cilium-dbg output, which is
# written to the documented 1.19 format since no agent runs here
snap() {
  local dir=$1 kpr=$2
  rm -rf "$dir"
  node "$ROOT/bin/netpath.js" snapshot -o "$dir" --exec "nsenter --net=/var/run/netns/$K1" --node k1 | sed 's/^/  /'
  nsenter --net=/var/run/netns/$K1 conntrack -L -f ipv4 -o extended >"$dir/conntrack4.txt" 2>/dev/null
  local tmpl=nokpr
  [ "$kpr" = kpr ] && tmpl=kpr
  sed -e "s/@NODEIP@/172.18.0.2/g" -e "s#@PODCIDR@#10.244.1.0/24#" -e "s/@IDX@/1/" -e "s/@NPODS@/3/" \
    "$HERE/cilium/migrate-$tmpl.status.tmpl" >"$dir/cilium-status.txt"
  cp "$HERE/cilium/migrate-$tmpl.config.yaml" "$dir/cilium-config.txt"
  node "$HERE/cilium/endpoints.mjs" "$dir" 1100 >/dev/null
}

# kube-proxy's state per mode; kubelet's own iptables chains exist in every mode
KUBELET_CHAINS='*mangle
:KUBE-IPTABLES-HINT - [0:0]
:KUBE-KUBELET-CANARY - [0:0]
COMMIT
*filter
:KUBE-KUBELET-CANARY - [0:0]
COMMIT
*nat
:KUBE-KUBELET-CANARY - [0:0]
COMMIT'
kube_proxy_up() {
  case "$MODE" in
    iptables) nsx $K1 iptables-restore < <($GEN iptables) ;;
    nft)
      nsx $K1 iptables-restore <<<"$KUBELET_CHAINS"
      nsx $K1 nft -f <($GEN nft)
      ;;
    ipvs)
      # no dummy driver in this kernel: a bridge, down, without ARP and multicast, stands in for the dummy
      # kube-ipvs0; the VIPs are really assigned, so ip-addr and the local-table routes are real
      ip -n $K1 link add kube-ipvs0 type bridge
      ip -n $K1 link set kube-ipvs0 arp off multicast off
      local vip
      for vip in $($GEN ipvs-vips); do ip -n $K1 addr add "$vip/32" dev kube-ipvs0; done
      nsx $K1 ipset restore < <($GEN ipvs-ipset)
      nsx $K1 iptables-restore < <($GEN ipvs-iptables)
      ;;
  esac
}

# the botched migration of each mode
break_it() {
  case "$MODE" in
    iptables)
      # kube-proxy deleted without --cleanup, then only the dispatch chains flushed by hand
      nsx $K1 iptables -t nat -F KUBE-SERVICES
      nsx $K1 iptables -t nat -F KUBE-NODEPORTS
      lbmaps kpr --omit default/sticky
      ;;
    nft)
      # kube-proxy deleted without --cleanup; the iptables cleanup of Cilium's docs does nothing for its nft tables
      nsx $K1 sh -c 'iptables-save | grep -v KUBE | iptables-restore'
      nsx $K1 iptables-restore --noflush <<<"$KUBELET_CHAINS"
      lbmaps kpr
      ;;
    ipvs)
      # kube-proxy deleted without --cleanup, then the iptables cleanup of Cilium's docs: the IPVS virtual
      # servers, kube-ipvs0 with every VIP (and its local routes) and the now unreferenced ipsets stay
      nsx $K1 sh -c 'iptables-save | grep -v KUBE | iptables-restore'
      nsx $K1 iptables-restore --noflush <<<"$KUBELET_CHAINS"
      lbmaps kpr
      ;;
  esac
}

clean_it() {
  case "$MODE" in
    iptables)
      # the cleanup Cilium documents; kubelet re-creates its own chains within a minute
      nsx $K1 sh -c 'iptables-save | grep -v KUBE | iptables-restore'
      nsx $K1 iptables-restore --noflush <<<"$KUBELET_CHAINS"
      ;;
    nft)
      # what `kube-proxy --cleanup` removes in nftables mode
      nsx $K1 nft delete table ip kube-proxy
      nsx $K1 nft delete table ip6 kube-proxy
      ;;
    ipvs)
      # what `kube-proxy --cleanup` removes in IPVS mode (its `ipvsadm -C` has nothing to clear in this kernel)
      nsx $K1 sh -c 'iptables-save | grep -v KUBE | iptables-restore'
      nsx $K1 iptables-restore --noflush <<<"$KUBELET_CHAINS"
      ip -n $K1 link del kube-ipvs0
      local set
      for set in $(nsx $K1 ipset list -n | grep '^KUBE-'); do nsx $K1 ipset destroy "$set"; done
      ;;
  esac
}

# IPVS is not in this kernel: `ipvsadm -Sn` fails in the capture (manifest.json records it), and the text
# kube-proxy's virtual servers give is written from ipvsadm's format (gen.mjs ipvsadm); after the cleanup,
# `ipvsadm -Sn` prints nothing
ipvsadm_file() {
  [ "$MODE" = ipvs ] || return 0
  if [ "${2:-}" = gone ]; then : >"$1/ipvsadm.txt"; else $GEN ipvsadm >"$1/ipvsadm.txt"; fi
}

run() {
  local dir=$OUT
  echo "== before: kube-proxy $MODE mode, Cilium without kube-proxy replacement"
  kube_proxy_up
  lbmaps nokpr
  serve_all
  scaffold_up
  FLOW_PIDS=()
  # conntrack entries NATed by kube-proxy: host-netns clients (kubelet-style, no socket-LB without KPR), an
  # outside client to the NodePort, and a pod to its own node's eTP=Local NodePort. Pod → ClusterIP is not
  # here on purpose: without KPR, Cilium still load-balances ClusterIP per packet in cil_from_container, so
  # such a flow would reach netfilter already addressed to the backend.
  # (IPVS mode: no flows, the kernel has no IPVS to NAT them)
  if [ "$MODE" != ipvs ]; then
    hold $K1 tcp:10.96.0.1:443 udp:10.96.0.10:53 tcp:10.96.0.10:53 tcp:10.96.88.30:8443
    FLOW_PIDS+=("${PIDS[-1]}")
    hold $SW tcp:172.18.0.2:31940
    FLOW_PIDS+=("${PIDS[-1]}")
    hold cni-5f0c1d2e-k1a tcp:172.18.0.2:30417
    FLOW_PIDS+=("${PIDS[-1]}")
  fi
  scaffold_down
  snap "$dir/before" nokpr
  ipvsadm_file "$dir/before"

  echo "== after-broken: Cilium KPR, kube-proxy's state partly or wholly left behind, the old flows still open"
  tc_attach $K1 eth0 egress cil_to_netdev
  sock_attach
  break_it
  scaffold_up
  # new host-netns connections after the switch: socket-LB hands connect() the backend address, so netfilter
  # sees them already translated (the lab's cil_sock4_connect is a pass-through: the client dials the backend)
  hold $K1 tcp:172.18.0.2:6443 tcp:10.244.1.57:53
  FLOW_PIDS+=("${PIDS[-1]}")
  scaffold_down
  snap "$dir/after-broken" kpr
  ipvsadm_file "$dir/after-broken"

  echo "== after: kube-proxy's state removed, conntrack flushed, all Services in the maps"
  stop_flows
  clean_it
  nsx $K1 conntrack -F 2>/dev/null
  lbmaps kpr
  scaffold_up
  hold $K1 tcp:172.18.0.2:6443 tcp:10.244.1.57:53 udp:10.244.2.7:53 tcp:10.244.2.33:8443
  FLOW_PIDS+=("${PIDS[-1]}")
  scaffold_down
  snap "$dir/after" kpr
  ipvsadm_file "$dir/after" gone
}

mounts
build_bpf
[ -n "${NP_LAB_SKIP_BUILD:-}" ] || (cd "$ROOT" && npm run -s build >/dev/null) || echo "build reported errors; using the dist/ it wrote" >&2
topology
run
echo "captured into $OUT"
