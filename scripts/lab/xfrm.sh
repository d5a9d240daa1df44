#!/usr/bin/env bash
# Captures `ip xfrm policy` (text, and `-j`, which iproute2 ignores for xfrm) in a throwaway network
# namespace holding Cilium-shaped IPsec policies (marks 0xe00/0xd00/0xf00, `level use` templates) and a port
# selector, on documentation addresses. No state: this kernel has no CONFIG_INET_ESP (see
# fixtures/tools/xfrm/README.md). The namespace is always deleted.
#   xfrm.sh OUT
set -euo pipefail
OUT=${1:?usage: xfrm.sh OUT}
NS=np-g-xfrm-$$
mkdir -p "$OUT"
ip netns add "$NS"
trap 'ip netns del "$NS"' EXIT
x() { ip -n "$NS" xfrm "$@"; }
x policy add src 0.0.0.0/0 dst 198.51.100.0/24 dir out priority 0 mark 0xe00 mask 0xff00 \
  tmpl src 192.0.2.10 dst 198.51.100.10 proto esp spi 0x3 reqid 1 mode tunnel
x policy add src 0.0.0.0/0 dst 192.0.2.0/24 dir in priority 0 mark 0xd00 mask 0xf00 \
  tmpl src 198.51.100.10 dst 192.0.2.10 proto esp reqid 1 mode tunnel level use
x policy add src 0.0.0.0/0 dst 0.0.0.0/0 dir fwd priority 2975 \
  tmpl src 0.0.0.0 dst 192.0.2.10 proto esp reqid 1 mode tunnel level use
x policy add src ::/0 dst 2001:db8:1::/64 dir out priority 0 mark 0xe00 mask 0xff00 \
  tmpl src 2001:db8::10 dst 2001:db8::20 proto esp spi 0x3 reqid 1 mode tunnel
x policy add src 192.0.2.0/24 dst 198.51.100.0/24 dir out action block priority 10
x policy add src 192.0.2.0/24 dst 198.51.100.0/24 proto tcp dport 22 dir out priority 5
x policy >"$OUT/ip-xfrm-policy.iproute2-6.1.txt"
ip -n "$NS" -j xfrm policy >"$OUT/ip-j-xfrm-policy.iproute2-6.1.txt"
ip -n "$NS" -s xfrm policy >"$OUT/ip-s-xfrm-policy.iproute2-6.1.txt"
echo "xfrm captured to $OUT"
