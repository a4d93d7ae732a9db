#!/bin/bash
# tests/e2e/test_ipv6_policy.sh - policy rules and sticky clients for IPv6
# flows (issue 13) in the IPv6 lab (XWAN_LAB_V6=1, tests/e2e/lab.sh; both
# WANs nat6 npt, weights 3:1, so the source a server sees tells the WAN):
#
#   1. a rule with an IPv6 destination sends every connection to that host
#      through isp2 (the server sees only isp2's outside prefix), and `xwan
#      flows` names the rule; control: the same client to another server
#      address is balanced over both WANs;
#   2. a rule that drops ICMPv6 to that host: ping6 is lost and never crosses
#      an ISP (their nft counters), `xwan flows` shows the drop marker;
#      control: ping6 to the other address, and TCP to the same host, pass;
#   3. a sticky IPv6 client (a rule's group with sticky on) keeps one WAN
#      for all its connections, and keeps it in a second batch later;
#      control: a non-sticky client's connections use both WANs;
#   4. an IPv4 rule with the same host's IPv4 address leaves IPv6 alone and
#      IPv6 rules leave IPv4 alone (each family's connections split 3:1).
#
# The second server address (2001:db8:ffff::200) is a second servers.py in
# the inet namespace, beside the lab's own. Every check has a control. Needs root.
set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"

SERVER6B=2001:db8:ffff::200
jget() { "$LAB_PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
# whoami SERVER N BIND: N TCP connections; prints "isp1-count isp2-count other ok"
whoami() {
	local r
	r=$(timeout 180 ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/client.py" \
		--server "$1" tcp-whoami --count "$2" --bind "$3")
	"$LAB_PY" -c '
import ipaddress, json, sys
d = json.loads(sys.argv[1]); n = [0, 0, 0]
for a, c in d["by_addr"].items():
    ip = ipaddress.ip_address(a)
    n[0 if ip in ipaddress.ip_network(sys.argv[2]) else 1 if ip in ipaddress.ip_network(sys.argv[3]) else 2] += c
print(n[0], n[1], n[2], d["ok"])' "$r" "$LAB_NPT1_OUT" "$LAB_NPT2_OUT" 2>/dev/null || echo "? ? ? 0 ($r)"
}
flows6_q() {
	lab_xwan flows --json 2>/dev/null | "$LAB_PY" -c '
import json, sys
F = [f for f in json.load(sys.stdin) if f.get("family") == "ipv6" and f.get("live", True)]
print(eval(sys.argv[1]))' "$1" 2>/dev/null
}
echo6_crossed() { echo $(($(lab_nft_counter "$LAB_NS_ISP1" inet pol6 echo_b) + $(lab_nft_counter "$LAB_NS_ISP2" inet pol6 echo_b))); }
loss6() { lab_client timeout 30 ping -6 -n -q -c 10 -i 0.05 -W 1 "$@" 2>&1 | grep -o '[0-9.]*% packet loss'; }

export XWAN_LAB_V6=1 XWAN_LAB_CONFIG=$E2E_DIR/lab-v6.yaml
lab_init_names "${XWAN_LAB_PREFIX:-v6p$$}"
e2e_traps lab_destroy
echo "# test_ipv6_policy: lab=$LAB_PREFIX"
if ! setup_err=$(lab_create xwan 2>&1); then
	fail "lab setup (XWAN_LAB_V6=1, xwan)" "$setup_err"
	exit 1
fi

# The second server address and its services.
lab_inet ip -6 addr add "$SERVER6B/128" dev lo
ip netns exec "$LAB_NS_INET" "$LAB_PY" "$LAB_TOOLS/servers.py" --addr "$SERVER6B" \
	--www "$LAB_WWW" --log "$LAB_STATE/peers-b.log" </dev/null >"$LAB_LOG/servers-b.log" 2>&1 &
lab_wait_listen "$LAB_NS_INET" tcp 8080 || { fail "second server listening" "$(cat "$LAB_LOG/servers-b.log")"; exit 1; }
for ns in "$LAB_NS_ISP1" "$LAB_NS_ISP2"; do
	ip netns exec "$ns" nft -f - <<-EOF
		table inet pol6 {
			counter echo_b { }
			chain forward { type filter hook forward priority 0; ip6 daddr $SERVER6B icmpv6 type echo-request counter name "echo_b"; }
		}
	EOF
done

cfg=$LAB_STATE/policy6.yaml
sed -n '/^lan:/,/^groups:/p' "$XWAN_LAB_CONFIG" | sed '$d' >"$cfg"
cat >>"$cfg" <<EOF
groups:
  - name: balance
    members: [{wan: isp1, tier: 1}, {wan: isp2, tier: 1}]
    hash_fields: [src, dst, proto, sport, dport]
  - name: isp2-only
    members: [{wan: isp2}]
  - name: stickygrp
    members: [{wan: isp1}, {wan: isp2}]
    hash_fields: [src, dst, proto, sport, dport]
    sticky: {enabled: true, expire_s: 300, key: src}
default_group: balance
rules:
  - {name: no-ping-b, dst: "$SERVER6B/128", proto: icmp, action: drop}
  - {name: to-b-via-isp2, dst: "$SERVER6B/128", group: isp2-only}
  - {name: v4-server-isp2, dst: $LAB_SERVER/32, group: isp2-only}
  - {name: sticky6, src: "fd00:1::3/128", group: stickygrp}
timeouts: {tcp_established: 7440, tcp_transitory: 120, udp: 60, icmp: 30}
flow_table_size: 65536
EOF
lab_xwan down >/dev/null 2>&1
up=$(lab_xwan up -c "$cfg" 2>&1)
check "0 xwan up with IPv6 rules and a sticky group" "$up" grep -q "xwan: up" <<<"$up"
ok6() { [ "$(loss6 "$LAB_SERVER6")" = "0% packet loss" ]; }
lab_poll 30 ok6 || info "IPv6 not answering yet: $(loss6 "$LAB_SERVER6")"

# --- 1. a destination rule ---------------------------------------------------------------
read -r a1 a2 ao aok <<<"$(whoami "$SERVER6B" 40 fd00:1::2)"
check "1a to-b-via-isp2: 40 TCP connections to $SERVER6B all came from isp2's $LAB_NPT2_OUT" \
	"isp1=$a1 isp2=$a2 other=$ao ok=$aok" [ "$aok" = 40 -a "$a2" = 40 ]
read -r b1 b2 bo bok <<<"$(whoami "$LAB_SERVER6" 40 fd00:1::2)"
check "1a control: the same client to $LAB_SERVER6 (no rule) used both WANs" \
	"isp1=$b1 isp2=$b2 other=$bo ok=$bok" [ "$bok" = 40 -a "${b1:-0}" -gt 0 -a "${b2:-0}" -gt 0 ]
# (a source port the kernel hands out twice is one flow: count them, not 40)
tb=$(flows6_q "sum(f[\"remote\"].startswith(\"[$SERVER6B]\") for f in F)")
n=$(flows6_q "sum(f[\"remote\"].startswith(\"[$SERVER6B]\") and f[\"rule\"] == \"to-b-via-isp2\" and f[\"wan\"] == \"isp2\" for f in F)")
ta=$(flows6_q "sum(f[\"remote\"].startswith(\"[$LAB_SERVER6]\") for f in F)")
m=$(flows6_q "sum(f[\"remote\"].startswith(\"[$LAB_SERVER6]\") and f[\"rule\"] == \"-\" for f in F)")
check "1b xwan flows: all $tb flows to $SERVER6B name rule to-b-via-isp2 on isp2, all $ta to $LAB_SERVER6 no rule" \
	"$n of $tb, $m of $ta" [ "${tb:-0}" -ge 30 -a "$n" = "$tb" -a "${ta:-0}" -ge 30 -a "$m" = "$ta" ]

x=$(lab_xwan explain --src fd00:1::2 --dst "$SERVER6B" --dport 8080 2>&1)
check "1c xwan explain (IPv6): rule to-b-via-isp2 -> group isp2-only, gateway isp2 with its npt source" "$x" \
	bash -c 'grep -q "^rule: .*to-b-via-isp2 -> group isp2-only" <<<"$1" &&
		grep -q "^gateway:  isp2 .*the source leaves as 2001:db8:2:100:[0-9a-f:]* (npt)" <<<"$1"' _ "$x"
# explain's prediction for 8 sockets, then each socket's datagram: the server sees
# the source explain said (its prefix is the WAN's; a guess of the WAN by the 3:1
# weights would be right for all 8 about once in 40 runs).
good=0 both="" ev=""
for sp in 41230 41231 41232 41233 41234 41235 41236 41237; do
	x=$(lab_xwan explain --src fd00:1::2 --dst "$LAB_SERVER6" --proto udp --sport $sp --dport 5300 2>&1)
	want=$(sed -n 's/^gateway:  [a-z0-9]*.* the source leaves as \([0-9a-f:]*\) (npt)$/\1/p' <<<"$x")
	seen=$(lab_client timeout 10 "$LAB_PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("fd00:1::2", int(sys.argv[2]))); s.settimeout(3)
s.sendto(b"whoami", (sys.argv[1], 5300))
print(s.recv(200).decode().split()[-1].rsplit(":", 1)[0])' "$LAB_SERVER6" $sp 2>&1)
	grep -q "^rule:     none matched" <<<"$x" && [ -n "$want" ] && [ "$want" = "$seen" ] && good=$((good + 1))
	both="$both ${want%%::*}"
	ev="$ev; $sp: explain $want, server saw $seen"
done
info "explain predicted:$both"
check "1d xwan explain (no rule) predicted the source the server then saw, for 8 of 8 UDP sockets" \
	"$ev" [ "$good" = 8 ]

# --- 2. a drop rule (ICMPv6 only) ----------------------------------------------------------
e0=$(echo6_crossed)
p=$(loss6 "$SERVER6B")
e1=$(echo6_crossed)
check "2a no-ping-b: ping6 to $SERVER6B is lost and no echo request crossed an ISP ($e0 -> $e1)" \
	"$p; crossed $e0 -> $e1" [ "$p" = "100% packet loss" -a "$e1" = "$e0" ]
d=$(flows6_q 'sum(f["kind"] == "drop" and f["rule"] == "no-ping-b" for f in F)')
check "2b xwan flows: the ping is a drop marker of rule no-ping-b" "drop markers=$d" [ "${d:-0}" -ge 1 ]
x=$(lab_xwan explain --src fd00:1::2 --dst "$SERVER6B" --proto icmp 2>&1)
check "2c xwan explain: an ICMPv6 echo to $SERVER6B meets rule no-ping-b: drop" "$x" \
	grep -q "^rule:     #1 no-ping-b: drop" <<<"$x"
p=$(loss6 "$LAB_SERVER6")
check "2 control: ping6 to $LAB_SERVER6 passes (and TCP to $SERVER6B did in 1a)" "$p" [ "$p" = "0% packet loss" ]
lab_xwan down >/dev/null 2>&1
sed -i '/no-ping-b/d' "$cfg"
lab_xwan up -c "$cfg" >/dev/null 2>&1
lab_poll 30 ok6
e0=$(echo6_crossed)
p=$(loss6 "$SERVER6B")
e1=$(echo6_crossed)
check "2 control: without the rule ping6 to $SERVER6B passes, through an ISP ($e0 -> $e1)" "$p" \
	[ "$p" = "0% packet loss" -a "$e1" -ge $((e0 + 10)) ]

# --- 3. a sticky IPv6 client -------------------------------------------------------------
read -r s1 s2 so sok <<<"$(whoami "$LAB_SERVER6" 40 fd00:1::3)"
one_wan() { [ "$1" = "$3" -a "$2" = 0 ] || [ "$2" = "$3" -a "$1" = 0 ]; }
check "3a sticky6: 40 TCP connections of fd00:1::3 all left by one WAN" \
	"isp1=$s1 isp2=$s2 other=$so ok=$sok" one_wan "$s1" "$s2" 40
read -r t1 t2 to tok <<<"$(whoami "$LAB_SERVER6" 20 fd00:1::3)"
same_wan() { { [ "$1" = 40 ] && [ "$3" = 20 ]; } || { [ "$2" = 40 ] && [ "$4" = 20 ]; }; }
check "3b sticky6: 20 more later kept the same WAN" "first isp1=$s1 isp2=$s2; then isp1=$t1 isp2=$t2 ok=$tok" \
	same_wan "$s1" "$s2" "$t1" "$t2"
x=$(lab_xwan explain --src fd00:1::3 --dst "$LAB_SERVER6" --dport 8080 2>&1)
bound=isp1; [ "$s2" = 40 ] && bound=isp2
check "3c xwan explain: fd00:1::3 meets rule sticky6 and is bound to $bound" "$x" \
	bash -c 'grep -q "^rule: .*sticky6 -> group stickygrp" <<<"$1" && grep -q "^gateway:  $2 (sticky" <<<"$1"' _ "$x" "$bound"
read -r c1 c2 co cok <<<"$(whoami "$LAB_SERVER6" 40 fd00:1::2)"
check "3 control: the non-sticky fd00:1::2 in the same minute used both WANs" \
	"isp1=$c1 isp2=$c2 ok=$cok" [ "$cok" = 40 -a "${c1:-0}" -gt 0 -a "${c2:-0}" -gt 0 ]
sticky_hits=$(lab_xwan stats 2>/dev/null | grep -E '^xwan_events_total\{event="sticky_binding_used"\}' | awk '{ print $2 }')
info "sticky_binding_used: ${sticky_hits:-?}"

# --- 4. families ---------------------------------------------------------------------------
r4=$(timeout 120 ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/client.py" --server "$LAB_SERVER" \
	tcp-whoami --count 20)
v4isp2=$(jget "$r4" 'd["by_addr"].get("'"$LAB_WAN2_IP"'", 0)')
check "4a v4-server-isp2 (IPv4 $LAB_SERVER/32): 20 IPv4 connections to it all via isp2" "$r4" [ "$v4isp2" = 20 ]
check "4a control: the IPv6 connections to $LAB_SERVER6 (the same host) were balanced (1a, 3)" \
	"isp1=$c1 isp2=$c2" [ "${c1:-0}" -gt 0 -a "${c2:-0}" -gt 0 ]
echo "# test_ipv6_policy: $NPASS passed, $NFAIL failed"
[ "$NFAIL" = 0 ]
