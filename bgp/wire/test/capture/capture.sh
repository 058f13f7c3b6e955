#!/usr/bin/env bash
# Capture OPENs and UPDATEs from BIRD 2, GoBGP and FRR bgpd into
# bgp/wire/test/fixtures/captured/<daemon>.json. Needs root; builds and removes
# the network namespace tWcap (all traffic stays on its loopback).
# Usage: bgp/wire/test/capture/capture.sh   (after npx tsc -p .)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../../.." && pwd)"
OUT="$ROOT/bgp/wire/test/fixtures/captured"
NS=tWcap
WORK="$(mktemp -d /tmp/tWcap.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 2001:db8::2/128 dev lo
mkdir -p "$OUT"
REC="node $ROOT/dist/bgp/wire/test/capture/record.js"

run() { # name, then the daemon command line; records for 6 s (MODE=as2: we play a 2-octet AS speaker)
  local name=$1; shift
  ip netns exec "$NS" $REC 127.0.0.1 6 "$WORK/$name.json" "${MODE:-as4}" &
  local rec=$!
  sleep 0.5
  ip netns exec "$NS" "$@" &
  PIDS+=($!)
  wait "$rec"
  kill "${PIDS[-1]}" 2>/dev/null || true
  sleep 0.3
  cp "$WORK/$name.json" "$OUT/$name.json"
  echo "captured $name: $(grep -c '"hex"' "$OUT/$name.json") messages, $(grep -o '"peerNotifications": [0-9]*' "$OUT/$name.json")"
}

# --- BIRD 2: 4-octet AS, IPv4 + IPv6 channels, communities and large communities.
cat > "$WORK/bird.conf" <<CONF
router id 192.0.2.2;
protocol device {}
protocol static s4 { ipv4; route 10.20.0.0/24 blackhole; route 10.20.1.0/24 blackhole; }
protocol static s6 { ipv6; route 2001:db8:20::/48 blackhole; }
filter ourtag { bgp_community.add((65002,7)); bgp_large_community.add((4200000002,1,2)); bgp_med = 50; accept; }
protocol bgp tor {
  local 127.0.0.2 port 1790 as 4200000002;
  neighbor 127.0.0.1 port 179 as 65001;
  hold time 30;
  multihop;
  connect delay time 1;
  connect retry time 1;
  ipv4 { import all; export filter ourtag; };
  ipv6 { import all; export filter ourtag; next hop address 2001:db8::2; };
}
CONF
( sleep 5; ip netns exec "$NS" birdc -s "$WORK/bird.ctl" show route all protocol tor > "$OUT/bird-routes.txt" 2>&1 || true ) &
run bird bird -f -c "$WORK/bird.conf" -s "$WORK/bird.ctl" -P "$WORK/bird.pid"
# The same BIRD against a 2-octet AS speaker: AS_TRANS in AS_PATH plus AS4_PATH (RFC 6793).
( sleep 5; ip netns exec "$NS" birdc -s "$WORK/bird.ctl" show route all protocol tor > "$OUT/bird-as2-routes.txt" 2>&1 || true ) &
MODE=as2 run bird-as2 bird -f -c "$WORK/bird.conf" -s "$WORK/bird.ctl" -P "$WORK/bird.pid"

# --- GoBGP: routes added through its API once it is up.
cat > "$WORK/gobgp.toml" <<CONF
[global.config]
  as = 65003
  router-id = "192.0.2.3"
  port = -1
  local-address-list = ["127.0.0.3"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.1"
    peer-as = 65001
  [neighbors.transport.config]
    local-address = "127.0.0.3"
  [neighbors.timers.config]
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
CONF
ip netns exec "$NS" $REC 127.0.0.1 14 "$WORK/gobgp.json" &
rec=$!
sleep 0.5
ip netns exec "$NS" gobgpd -f "$WORK/gobgp.toml" --api-hosts 127.0.0.1:50099 -l warn &
PIDS+=($!)
sleep 1.5
G="ip netns exec $NS gobgp -p 50099"
$G global rib add 10.30.0.0/24 community 65003:9 large-community 65003:1:1 med 10 -a ipv4 || true
$G global rib add 10.30.1.0/24 origin incomplete -a ipv4 || true
$G global rib add 2001:db8:30::/48 nexthop 2001:db8::3 -a ipv6 || true
sleep 9
{ $G neighbor 127.0.0.1 adj-in -a ipv4; $G neighbor 127.0.0.1 adj-in -a ipv6; } > "$OUT/gobgp-routes.txt" 2>&1 || true
wait "$rec"
kill "${PIDS[-1]}" 2>/dev/null || true
sleep 0.3
cp "$WORK/gobgp.json" "$OUT/gobgp.json"
echo "captured gobgp: $(grep -c '"hex"' "$OUT/gobgp.json") messages"

# --- FRR bgpd without zebra.
cat > "$WORK/frr.conf" <<CONF
router bgp 65004
 bgp router-id 192.0.2.4
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 127.0.0.1 remote-as 65001
 neighbor 127.0.0.1 update-source 127.0.0.4
 neighbor 127.0.0.1 timers 10 30
 address-family ipv4 unicast
  network 10.40.0.0/24
  network 10.40.1.0/24
  neighbor 127.0.0.1 route-map tag out
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:40::/48
  neighbor 127.0.0.1 activate
 exit-address-family
route-map tag permit 10
 set community 65004:5 65004:6
 set extcommunity rt 65004:7
 set large-community 65004:2:3
CONF
mkdir -p "$WORK/frr"
( sleep 5; ip netns exec "$NS" vtysh --vty_socket "$WORK/frr" -c "show bgp ipv4 unicast" -c "show bgp ipv6 unicast" > "$OUT/frr-routes.txt" 2>&1 || true ) &
run frr /usr/lib/frr/bgpd -Z -S -p 0 -l 127.0.0.4 -f "$WORK/frr.conf" -i "$WORK/frr/bgpd.pid" --vty_socket "$WORK/frr" -P 0
(cd "$ROOT" && npx prettier --write "$OUT"/*.json >/dev/null)
