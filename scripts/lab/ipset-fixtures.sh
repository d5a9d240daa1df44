#!/usr/bin/env bash
# Captures fixtures/tools/ipset/: the ipsets kube-proxy's IPVS mode creates (names, types and comments
# as in kubernetes pkg/proxy/ipvs/ipset.go), built with the real `ipset` tool in a private network
# namespace, then listed with `ipset save` and `ipset list`. Root; removes its namespace on exit.
set -euo pipefail
NS=np-diff-ipset
OUT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/fixtures/tools/ipset}
cleanup() { ip netns del "$NS" 2>/dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add "$NS"
x() { ip netns exec "$NS" "$@"; }
mk() { x ipset create "$1" "$2" "${@:3}"; }

# IPv4 sets, kube-proxy's comments
mk KUBE-LOOP-BACK hash:ip,port,ip family inet hashsize 1024 maxelem 65536 comment
mk KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 comment
mk KUBE-EXTERNAL-IP hash:ip,port family inet hashsize 1024 maxelem 65536 comment
mk KUBE-EXTERNAL-IP-LOCAL hash:ip,port family inet hashsize 1024 maxelem 65536 comment
mk KUBE-LOAD-BALANCER hash:ip,port family inet hashsize 1024 maxelem 65536 comment
mk KUBE-LOAD-BALANCER-FW hash:ip,port family inet hashsize 1024 maxelem 65536 comment
mk KUBE-LOAD-BALANCER-LOCAL hash:ip,port family inet hashsize 1024 maxelem 65536 comment
mk KUBE-LOAD-BALANCER-SOURCE-IP hash:ip,port,ip family inet hashsize 1024 maxelem 65536 comment
mk KUBE-LOAD-BALANCER-SOURCE-CIDR hash:ip,port,net family inet hashsize 1024 maxelem 65536 comment
mk KUBE-NODE-PORT-TCP bitmap:port range 0-65535 comment
mk KUBE-NODE-PORT-LOCAL-TCP bitmap:port range 0-65535 comment
mk KUBE-NODE-PORT-UDP bitmap:port range 0-65535 comment
mk KUBE-NODE-PORT-LOCAL-UDP bitmap:port range 0-65535 comment
mk KUBE-HEALTH-CHECK-NODE-PORT bitmap:port range 0-65535 comment
# the IPv6 twin of the cluster-IP set
mk KUBE-6-CLUSTER-IP hash:ip,port family inet6 hashsize 1024 maxelem 65536 comment

add() { x ipset add "$@"; }
add KUBE-CLUSTER-IP 10.96.0.1,tcp:443 comment "default/kubernetes:https"
add KUBE-CLUSTER-IP 10.96.0.10,udp:53
add KUBE-CLUSTER-IP 10.96.0.10,tcp:53
add KUBE-CLUSTER-IP 10.96.0.10,tcp:9153
add KUBE-CLUSTER-IP 10.96.120.7,tcp:80
add KUBE-LOOP-BACK 10.244.1.57,udp:53,10.244.1.57
add KUBE-LOOP-BACK 10.244.1.57,tcp:53,10.244.1.57
add KUBE-EXTERNAL-IP 192.0.2.50,tcp:80
add KUBE-LOAD-BALANCER 198.51.100.7,tcp:443
add KUBE-LOAD-BALANCER-FW 198.51.100.7,tcp:443
add KUBE-LOAD-BALANCER-SOURCE-CIDR 198.51.100.7,tcp:443,203.0.113.0/24
add KUBE-NODE-PORT-TCP 31940
add KUBE-NODE-PORT-TCP 30080
add KUBE-NODE-PORT-UDP 30053
add KUBE-6-CLUSTER-IP fd00:10:96::a,udp:53
add KUBE-6-CLUSTER-IP fd00:10:96::1,tcp:443

# an iptables rule using two of the sets, so `References` is non-zero for them as on a real node
x iptables -t nat -N KUBE-SERVICES
x iptables -t nat -A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT
x iptables -t nat -A KUBE-SERVICES -m set --match-set KUBE-NODE-PORT-TCP dst -j RETURN

mkdir -p "$OUT"
x ipset save > "$OUT/ipset-save.kube-proxy-ipvs.txt"
x ipset list > "$OUT/ipset-list.kube-proxy-ipvs.txt"
x ipset list -t > "$OUT/ipset-list-t.kube-proxy-ipvs.txt"
x iptables -t nat -F KUBE-SERVICES
x iptables -t nat -X KUBE-SERVICES
x ipset destroy
x ipset save > "$OUT/ipset-save.empty.txt"
echo "wrote $OUT"
