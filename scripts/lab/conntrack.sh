#!/usr/bin/env bash
# Conntrack lab: a "node" namespace with kube-proxy-style iptables DNAT/SNAT rules between a client
# and two backends, real TCP/UDP/ICMP traffic through it (IPv4 and IPv6), and the node's conntrack
# table captured while the connections are open. Everything it creates is named np-ct-*.
#
#   bash scripts/lab/conntrack.sh capture OUT_DIR   # up, traffic, capture, down (always cleans up)
#   bash scripts/lab/conntrack.sh up | traffic | down
# NP_LAB_ID=x names a run's namespaces np-ct-*-x and keeps its pids and logs in /tmp/np-ct-x/, so runs with
# different ids never meet (the tests set one; without it the names are the plain np-ct-*).
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
source "$(dirname "$0")/lib.sh"
SFX=${NP_LAB_ID:+-$NP_LAB_ID}
CLI=np-ct-cli$SFX NODE=np-ct-node$SFX BE=np-ct-be$SFX
NS=("$CLI" "$NODE" "$BE")
RUN=/tmp/np-ct$SFX

down() {
  # the servers and the client run inside the lab namespaces (a python shim may fork, so a saved pid
  # is not enough): end every process in them before the namespaces go
  for n in "${NS[@]}"; do
    ip netns pids "$n" 2>/dev/null | xargs -r kill 2>/dev/null || true
  done
  local p n
  for p in "$RUN"/*.pid; do
    [ -e "$p" ] || continue
    kill "$(cat "$p")" 2>/dev/null || true
  done
  for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$RUN"
}

up() {
  down
  mkdir -p "$RUN"
  local n a
  for n in "${NS[@]}"; do ip netns add "$n"; nsx "$n" ip link set lo up; done
  ip link add ctc0 netns "$NODE" type veth peer name eth0 netns "$CLI"
  ip link add ctb0 netns "$NODE" type veth peer name eth0 netns "$BE"
  for n in "${NS[@]}"; do nsx "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0; done
  nsx "$NODE" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  # the client: a /32 behind the node, so the Service addresses are routed to the node
  nsx "$CLI" ip addr add 192.0.2.2/32 dev eth0
  nsx "$CLI" ip -6 addr add 2001:db8:1::2/128 dev eth0 nodad
  nsx "$CLI" ip link set eth0 up
  nsx "$CLI" ip route add 192.0.2.1/32 dev eth0
  nsx "$CLI" ip route add default via 192.0.2.1 dev eth0
  nsx "$CLI" ip -6 route add 2001:db8:1::1/128 dev eth0
  nsx "$CLI" ip -6 route add default via 2001:db8:1::1 dev eth0
  nsx "$NODE" ip addr add 192.0.2.1/32 dev ctc0
  nsx "$NODE" ip -6 addr add 2001:db8:1::1/128 dev ctc0 nodad
  nsx "$NODE" ip link set ctc0 up
  nsx "$NODE" ip route add 192.0.2.2/32 dev ctc0
  nsx "$NODE" ip -6 route add 2001:db8:1::2/128 dev ctc0
  nsx "$NODE" ip addr add 198.51.100.1/24 dev ctb0
  nsx "$NODE" ip -6 addr add 2001:db8:2::1/64 dev ctb0 nodad
  nsx "$NODE" ip link set ctb0 up
  for a in 198.51.100.2/24 198.51.100.3/24; do nsx "$BE" ip addr add $a dev eth0; done
  for a in 2001:db8:2::2/64 2001:db8:2::3/64; do nsx "$BE" ip -6 addr add $a dev eth0 nodad; done
  nsx "$BE" ip link set eth0 up
  nsx "$BE" ip route add default via 198.51.100.1
  nsx "$BE" ip -6 route add default via 2001:db8:2::1
  nsx "$NODE" iptables-restore < "$HERE/conntrack/iptables.rules"
  nsx "$NODE" ip6tables-restore < "$HERE/conntrack/ip6tables.rules"
  # per-namespace accounting and timestamps, so the capture shows packets=/bytes= and delta-time=
  nsx "$NODE" sysctl -qw net.netfilter.nf_conntrack_acct=1 net.netfilter.nf_conntrack_timestamp=1
  # the link-local addresses were made before accept_dad was off: wait until no address is tentative
  wait_dad "${NS[@]}"
}

traffic() {
  mkdir -p "$RUN"
  nsx "$BE" python3 "$HERE/conntrack/traffic.py" serve >"$RUN/serve.log" 2>&1 &
  echo $! >"$RUN/serve.pid"
  # every server socket bound before the first connection (a refused one would make the client fail)
  wait_until 30 "the servers in $BE" listening "$BE" tcp:8080 tcp:9090 tcp:9091 udp:5353 || { cat "$RUN/serve.log" >&2; return 1; }
  nsx "$CLI" python3 "$HERE/conntrack/traffic.py" client >"$RUN/client.log" 2>&1 &
  local pid=$!
  echo $pid >"$RUN/client.pid"
  # the client prints "ready" once every connection is up and every datagram answered
  wait_until 60 "the client in $CLI" client_ready "$pid" || { cat "$RUN/client.log" "$RUN/serve.log" >&2; return 1; }
  wait_until 20 "ping $CLI -> 198.51.100.2" nsx "$CLI" ping -c 1 -W 2 198.51.100.2
  wait_until 20 "ping $CLI -> 2001:db8:2::3" nsx "$CLI" ping -6 -c 1 -W 2 2001:db8:2::3
}
# ready, or fails for good (exit 2 is not retried by wait_until's caller: the client is gone)
client_ready() {
  grep -q ready "$RUN/client.log" && return 0
  kill -0 "$1" 2>/dev/null || { echo "the client exited" >&2; return 1; }
  return 1
}

capture() {
  local out=$1
  trap down EXIT
  up
  traffic
  mkdir -p "$out"
  nsx "$NODE" conntrack -L -f ipv4 -o extended > "$out/conntrack-L-f-ipv4-o-extended.txt" 2> "$out/conntrack-L-f-ipv4-o-extended.stderr.txt"
  nsx "$NODE" conntrack -L -f ipv6 -o extended > "$out/conntrack-L-f-ipv6-o-extended.txt" 2> "$out/conntrack-L-f-ipv6-o-extended.stderr.txt"
  nsx "$NODE" conntrack -L -o extended,id > "$out/conntrack-L-o-extended,id.txt" 2>&1
  nsx "$NODE" conntrack -L > "$out/conntrack-L.txt" 2>/dev/null
  nsx "$NODE" conntrack -L -o ktimestamp > "$out/conntrack-L-o-ktimestamp.txt" 2>/dev/null
  nsx "$NODE" conntrack --version > "$out/conntrack-version.txt" 2>&1
  # the whole node as a netpath snapshot (the conntrack probes included), when SNAP is set
  if [ -n "${SNAP:-}" ]; then node "$HERE/capture.mjs" "$NODE" "$SNAP" np-ct-node; fi
  cp "$RUN/client.log" "$out/client.log"
}

case "${1:-}" in
  up) up ;;
  traffic) traffic ;;
  capture) capture "${2:?usage: conntrack.sh capture OUT_DIR}" ;;
  down) down ;;
  *) echo "usage: $0 up|traffic|capture OUT_DIR|down" >&2; exit 2 ;;
esac
