#!/usr/bin/env bash
# Lab: three kind-style nodes on one L2 (172.18.0.0/16), Cilium 1.13-style native routing with
# BPF host routing: PodCIDR 10.244.N.0/24 per node, cilium_host/cilium_net, pods as /32 behind
# lxc veths, legacy tc programs named like Cilium's, socket-LB cgroup hooks.
#   kind-v4.sh up | capture [DIR] | down       the lab, with socket-LB hooks on the shared cgroup mount
#   kind-v4.sh nodes-up | nodes-down           the namespaces only, for a caller with hooks of its own
# LAB_PREFIX (default np-lab) names what the lab creates: $LAB_PREFIX-ksw, $LAB_PREFIX-k1…k3, and under another
# prefix the pods' namespaces cni-<prefix>-k1a…, so a second copy (sysdump-kind-v4.sh) runs beside this one.
source "$(dirname "$0")/lib.sh"
P=${LAB_PREFIX:-np-lab}
SW=$P-ksw
NODES=("$P-k1" "$P-k2" "$P-k3")
NAMES=(k1 k2 k3)

# pod namespaces: name host-veth address
declare -A PODS=(
  [$P-k1]="cni-5f0c1d2e-k1a:lxc6d1e0f2a3b4c:10.244.1.12 cni-7a9b3c4d-k1b:lxc0a1b2c3d4e5f:10.244.1.57"
  [$P-k2]="cni-1e2d3c4b-k2a:lxc9f8e7d6c5b4a:10.244.2.7 cni-2b3c4d5e-k2b:lxc1122334455aa:10.244.2.33"
  [$P-k3]="cni-3c4d5e6f-k3a:lxcaabbccddeeff:10.244.3.21"
)

# a pod's namespace name: the bundled snapshots' names under the default prefix, cni-<prefix>-k1a under another
podns() {
  if [ "$P" = np-lab ]; then echo "$1"; else echo "cni-${P#np-lab-}-${1##*-}"; fi
}

up() {
  down
  nodes_up
  sock_hooks_up 4
}

nodes_up() {
  nodes_down
  build_bpf
  ip netns add "$SW"
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
    # cilium_host / cilium_net: the router IP of the node's PodCIDR lives on cilium_host
    ip -n "$n" link add cilium_host type veth peer name cilium_net
    ip -n "$n" link set cilium_net up
    ip -n "$n" link set cilium_host up
    ip -n "$n" addr add "10.244.$idx.1/32" dev cilium_host
    # Cilium 1.13 installs these without a protocol (shown without `proto`)
    ip -n "$n" route add "10.244.$idx.1" dev cilium_host scope link
    ip -n "$n" route add "10.244.$idx.0/24" via "10.244.$idx.1" dev cilium_host src "10.244.$idx.1"
    local j
    for j in 1 2 3; do
      [ "$j" = "$idx" ] && continue
      ip -n "$n" route add "10.244.$j.0/24" via "172.18.0.$((j + 1))" dev eth0
    done
    tc_attach "$n" eth0 ingress cil_from_netdev
    tc_attach "$n" eth0 egress cil_to_netdev
    tc_attach "$n" cilium_host ingress cil_to_host
    tc_attach "$n" cilium_host egress cil_from_host
    tc_attach "$n" cilium_net ingress cil_to_host
    local p
    for p in ${PODS[$n]}; do
      IFS=: read -r pns hdev addr <<<"$p"
      pod4 "$n" "$(podns "$pns")" "$hdev" "$addr/32" "10.244.$idx.1"
      tc_attach "$n" "$hdev" ingress cil_from_container
    done
  done
  # let the kernel resolve the peer nodes and the gateway once (a TCP connect to a closed port is
  # enough for ARP), so the neighbour table holds what a running node holds
  for i in 0 1 2; do
    local j
    for j in 1 2 3 4; do nsx "${NODES[$i]}" timeout 2 bash -c "echo > /dev/tcp/172.18.0.$j/9" 2>/dev/null || true; done
  done
}

down() {
  nodes_down
  sock_hooks_down
}

nodes_down() {
  local n p
  for n in "${NODES[@]}"; do
    for p in ${PODS[$n]}; do ip netns del "$(podns "${p%%:*}")" 2>/dev/null || true; done
    ip netns del "$n" 2>/dev/null || true
  done
  ip netns del "$SW" 2>/dev/null || true
}

capture_all() {
  local dir=${1:-fixtures/snapshots/kind-v4}
  build_netpath
  local i
  for i in 0 1 2; do
    local n=${NODES[$i]} idx=$((i + 1)) out="$dir/${NAMES[$i]}"
    capture "$n" "$out" "${NAMES[$i]}"
    # cilium-dbg does not run in the lab: its output is written to the documented 1.13 format
    local npods
    npods=$(( $(wc -w <<<"${PODS[$n]}") + 1 ))
    sed -e "s/@NODEIP@/172.18.0.$((i + 2))/g" -e "s#@PODCIDR@#10.244.$idx.0/24#" -e "s/@IDX@/$idx/" -e "s/@NPODS@/$npods/" \
      "$HERE/cilium/kind-v4.status.tmpl" >"$out/cilium-status.txt"
    cp "$HERE/cilium/kind-v4.config.yaml" "$out/cilium-config.txt"
    node "$HERE/cilium/endpoints.mjs" "$out" $((idx * 1000 + 100))
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  nodes-up) nodes_up ;;
  nodes-down) nodes_down ;;
  capture) capture_all "${2:-}" ;;
  *) echo "usage: $0 up|capture [DIR]|down|nodes-up|nodes-down" >&2; exit 2 ;;
esac
