#!/usr/bin/env bash
# Lab: one node with Cilium 1.13-style legacy host routing and per-endpoint routes (`podIP dev lxc…`, no
# cilium_host PodCIDR route), two pods behind lxc veths, an uplink eth0 of MTU 1400 to an outside namespace,
# pass-through tc programs named like Cilium's, and an nftables FORWARD counter for pod A → pod B.
# cil_from_container returning TC_ACT_OK is what Cilium's does here (no ENABLE_ROUTING: pass to the stack).
# Cilium does not run here: test/kernel/legacy-lab.test.ts writes cilium-status.txt and cilium-config.txt into the
# capture from the templates scripts/lab/cilium/legacy.status.tmpl and legacy.config.yaml (1.13, Host Routing: Legacy,
# enable-endpoint-routes "true"); everything else in the capture is real tool output.
#   legacy.sh up PREFIX | down PREFIX        (PREFIX names everything: PREFIX-n node, -a/-b/-c pods, -x outside)
source "$(dirname "$0")/lib.sh"
P=${2:?usage: $0 up|down PREFIX}
NODE=$P-n PA=$P-a PB=$P-b PC=$P-c EXT=$P-x
TABLE=${P//-/_}

up() {
  down
  build_bpf
  local ns
  for ns in $NODE $EXT; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
  nsx $NODE sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  # uplink: MTU 1400 on both ends, smaller than the 1500 the pods' routes allow
  ip -n $NODE link add eth0 mtu 1400 type veth peer name up0 mtu 1400 netns $EXT
  ip -n $NODE addr add 192.0.2.10/24 dev eth0
  ip -n $NODE link set eth0 up
  ip -n $EXT addr add 192.0.2.1/24 dev up0
  ip -n $EXT link set up0 up
  ip -n $EXT route add 10.244.0.0/16 via 192.0.2.10 dev up0
  ip -n $NODE route add default via 192.0.2.1 dev eth0
  # cilium_host holds the router address the pods use as gateway
  ip -n $NODE link add cilium_host type veth peer name cilium_net
  ip -n $NODE link set cilium_net up
  ip -n $NODE link set cilium_host up
  ip -n $NODE addr add 10.244.1.1/32 dev cilium_host
  # pods, and the per-endpoint routes Cilium installs with enable-endpoint-routes
  pod4 $NODE $PA lxc6d1e0f2a3b4c 10.244.1.12/32 10.244.1.1
  pod4 $NODE $PB lxc0a1b2c3d4e5f 10.244.1.57/32 10.244.1.1
  ip -n $NODE route add 10.244.1.12 dev lxc6d1e0f2a3b4c scope link
  ip -n $NODE route add 10.244.1.57 dev lxc0a1b2c3d4e5f scope link
  local dev
  for dev in lxc6d1e0f2a3b4c lxc0a1b2c3d4e5f; do
    tc_attach $NODE $dev ingress cil_from_container
    tc_attach $NODE $dev egress cil_to_container
  done
  # pod C on a plain veth with no program: only the kernel's route delivers to it
  pod4 $NODE $PC vethc0ffee 10.244.1.99/32 10.244.1.1
  ip -n $NODE route add 10.244.1.99 dev vethc0ffee scope link
  tc_attach $NODE eth0 ingress cil_from_netdev
  tc_attach $NODE eth0 egress cil_to_netdev
  # the kernel's FORWARD hook counts what it forwards from pod A to pod B
  nsx $NODE nft -f - <<NFT
table inet $TABLE {
  chain pod_forward {
    type filter hook forward priority 0; policy accept;
    ip saddr 10.244.1.12 ip daddr 10.244.1.57 counter
  }
}
NFT
}

down() {
  local ns
  for ns in $NODE $PA $PB $PC $EXT; do ip netns del "$ns" 2>/dev/null || true; done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down PREFIX" >&2; exit 2 ;;
esac
