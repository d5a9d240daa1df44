#!/usr/bin/env bash
# Conntrack lab: a "node" namespace with kube-proxy-style iptables DNAT/SNAT rules between a client
# and two backends, real TCP/UDP/ICMP traffic through it (IPv4 and IPv6), and the node's conntrack
# table captured while the connections are open. Everything it creates is named np-ct-*.
#
#   bash scripts/lab/conntrack.sh capture OUT_DIR   # up, traffic, capture, down (always cleans up)
#   bash scripts/lab/conntrack.sh down
#
#  np-ct-cli                np-ct-node                                   np-ct-be
#  192.0.2.2/32   <-veth->  192.0.2.1/32 (ctc0)   198.51.100.1/24 (ctb0) <-veth-> 198.51.100.2, .3 /24
#  2001:db8:1::2/128        2001:db8:1::1/128     2001:db8:2::1/64                 2001:db8:2::2, ::3 /64
#
#  "Services" (kube-proxy iptables mode chain layout, cluster CIDR 192.0.2.0/24):
#    192.0.2.100:80/tcp  -> 198.51.100.2:8080, 198.51.100.3:8080 (statistic 0.5): DNAT only (source in the cluster CIDR)
#    192.0.2.100:53/udp  -> 198.51.100.2:5353: DNAT and masquerade (KUBE-MARK-MASQ for every source)
#    [2001:db8:100::10]:80/tcp -> [2001:db8:2::2]:8080: DNAT and masquerade
#  plus: ICMP from the client masqueraded (SNAT only), TCP to 198.51.100.2:9090 in conntrack zone 7
#  (raw CT --zone 7) and to :9091 with a directional zone (CT --zone-orig 8), no NAT.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NS=(np-ct-cli np-ct-node np-ct-be)
nsx() { ip netns exec "$@"; }

down() {
  # the servers and the client run inside the lab namespaces (a python shim may fork, so a saved pid
  # is not enough): end every process in them before the namespaces go
  for n in "${NS[@]}"; do
    ip netns pids "$n" 2>/dev/null | xargs -r kill 2>/dev/null || true
  done
  for p in /tmp/np-ct-*.pid; do
    [ -e "$p" ] || continue
    kill "$(cat "$p")" 2>/dev/null || true
    rm -f "$p"
  done
  for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null || true; done
}

up() {
  down
  for n in "${NS[@]}"; do ip netns add "$n"; nsx "$n" ip link set lo up; done
  ip link add ctc0 netns np-ct-node type veth peer name eth0 netns np-ct-cli
  ip link add ctb0 netns np-ct-node type veth peer name eth0 netns np-ct-be
  for n in "${NS[@]}"; do nsx "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0; done
  nsx np-ct-node sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  # the client: a /32 behind the node, so the Service addresses are routed to the node
  nsx np-ct-cli ip addr add 192.0.2.2/32 dev eth0
  nsx np-ct-cli ip -6 addr add 2001:db8:1::2/128 dev eth0 nodad
  nsx np-ct-cli ip link set eth0 up
  nsx np-ct-cli ip route add 192.0.2.1/32 dev eth0
  nsx np-ct-cli ip route add default via 192.0.2.1 dev eth0
  nsx np-ct-cli ip -6 route add 2001:db8:1::1/128 dev eth0
  nsx np-ct-cli ip -6 route add default via 2001:db8:1::1 dev eth0
  nsx np-ct-node ip addr add 192.0.2.1/32 dev ctc0
  nsx np-ct-node ip -6 addr add 2001:db8:1::1/128 dev ctc0 nodad
  nsx np-ct-node ip link set ctc0 up
  nsx np-ct-node ip route add 192.0.2.2/32 dev ctc0
  nsx np-ct-node ip -6 route add 2001:db8:1::2/128 dev ctc0
  nsx np-ct-node ip addr add 198.51.100.1/24 dev ctb0
  nsx np-ct-node ip -6 addr add 2001:db8:2::1/64 dev ctb0 nodad
  nsx np-ct-node ip link set ctb0 up
  for a in 198.51.100.2/24 198.51.100.3/24; do nsx np-ct-be ip addr add $a dev eth0; done
  for a in 2001:db8:2::2/64 2001:db8:2::3/64; do nsx np-ct-be ip -6 addr add $a dev eth0 nodad; done
  nsx np-ct-be ip link set eth0 up
  nsx np-ct-be ip route add default via 198.51.100.1
  nsx np-ct-be ip -6 route add default via 2001:db8:2::1
  nsx np-ct-node iptables-restore < "$HERE/conntrack/iptables.rules"
  nsx np-ct-node ip6tables-restore < "$HERE/conntrack/ip6tables.rules"
  # per-namespace accounting and timestamps, so the capture shows packets=/bytes= and delta-time=
  nsx np-ct-node sysctl -qw net.netfilter.nf_conntrack_acct=1 net.netfilter.nf_conntrack_timestamp=1
}

traffic() {
  nsx np-ct-be python3 "$HERE/conntrack/traffic.py" serve > /tmp/np-ct-serve.log 2>&1 &
  echo $! > /tmp/np-ct-serve.pid
  sleep 1
  nsx np-ct-cli python3 "$HERE/conntrack/traffic.py" client > /tmp/np-ct-client.log 2>&1 &
  echo $! > /tmp/np-ct-client.pid
  # the client prints "ready" once every connection is up and every datagram answered
  for _ in $(seq 50); do grep -q ready /tmp/np-ct-client.log && break; sleep 0.2; done
  grep -q ready /tmp/np-ct-client.log || { cat /tmp/np-ct-client.log /tmp/np-ct-serve.log; return 1; }
  nsx np-ct-cli ping -c 1 -W 2 198.51.100.2 > /dev/null
  nsx np-ct-cli ping -6 -c 1 -W 2 2001:db8:2::3 > /dev/null
}

capture() {
  local out=$1
  trap down EXIT
  up
  traffic
  mkdir -p "$out"
  nsx np-ct-node conntrack -L -f ipv4 -o extended > "$out/conntrack-L-f-ipv4-o-extended.txt" 2> "$out/conntrack-L-f-ipv4-o-extended.stderr.txt"
  nsx np-ct-node conntrack -L -f ipv6 -o extended > "$out/conntrack-L-f-ipv6-o-extended.txt" 2> "$out/conntrack-L-f-ipv6-o-extended.stderr.txt"
  nsx np-ct-node conntrack -L -o extended,id > "$out/conntrack-L-o-extended,id.txt" 2>&1
  nsx np-ct-node conntrack -L > "$out/conntrack-L.txt" 2>/dev/null
  nsx np-ct-node conntrack -L -o ktimestamp > "$out/conntrack-L-o-ktimestamp.txt" 2>/dev/null
  nsx np-ct-node conntrack --version > "$out/conntrack-version.txt" 2>&1
  # the whole node as a netpath snapshot (the conntrack probes included), when SNAP is set
  if [ -n "${SNAP:-}" ]; then node "$HERE/capture.mjs" np-ct-node "$SNAP" np-ct-node; fi
  cp /tmp/np-ct-client.log "$out/client.log"
}

case "${1:-}" in
  up) up ;;
  traffic) traffic ;;
  capture) capture "${2:?usage: conntrack.sh capture OUT_DIR}" ;;
  down) down ;;
  *) echo "usage: $0 up|traffic|capture OUT_DIR|down" >&2; exit 2 ;;
esac
