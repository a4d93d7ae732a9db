#!/bin/bash
# tests/e2e/test_ipv6_forwarding.sh - xwan's IPv6 dataplane (issue 13) in the
# IPv6 lab (XWAN_LAB_V6=1, tests/e2e/lab.sh), per nat6 mode built:
#
#   1. nat6 npt (tests/e2e/lab-v6.yaml: the ULA fd00:1::/64 mapped by RFC 6296
#      onto each ISP's 2001:db8:N:100::/64, weights 3:1): ping6, 200 TCP
#      connections split per the weights, UDP (and a 4000-byte datagram:
#      IPv6 fragments both ways), the 8 MiB blob, traceroute6 hops, Packet Too
#      Big from an ISP hop with a smaller MTU reaching the LAN host and an
#      upload completing through it, unsolicited inbound IPv6 reaching nobody,
#      LAN anti-spoofing, the ISPs' spoofed6 counters staying 0.
#   2. nat6 none (the LAN holds both ISPs' /64s, RFC 8678): each source prefix
#      leaves through its own ISP (a wrong one would count spoofed6), ping6,
#      TCP, UDP, the blob, unsolicited inbound dropped.
#   3. nat6 masquerade (NAT66 to isp1's one address, isp2 without IPv6):
#      ping6, TCP and UDP seen by the server from the WAN address alone, a
#      client's port kept and a colliding one given another of its parity
#      (xwan flows), the blob, fragments, traceroute6 and Packet Too Big
#      (ICMPv6 errors translated back), unsolicited inbound reaching nobody,
#      the gw's own Time Exceeded about a reply quoting the WAN's side, isp1
#      seeing no other source from us.
#
# Stand-ins (the lab kernel has no netem or PPP): the smaller-MTU hop is a
# route MTU on each ISP's upstream route (ip route ... mtu 1400), so the ISP
# router itself sends Packet Too Big, as a real hop would.
# Every check has a control next to it that shows it can fail. Needs root.
set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"

jget() { "$LAB_PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
client_py() { timeout 180 ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/client.py" --server "$LAB_SERVER6" "$@"; }
counters6() { echo "isp1.spoofed6=$(lab_spoof6_isp1) isp2.spoofed6=$(lab_spoof6_isp2) inet.lan_leak6=$(lab_leak6_inet)"; }
loss6() { # NS DST [ping6 args...]: "N% packet loss" of 20 pings
	local ns=$1 dst=$2; shift 2
	ip netns exec "$ns" timeout 60 ping -6 -n -q -c 20 -i 0.05 -W 1 "$@" "$dst" 2>&1 |
		grep -o '[0-9.]*% packet loss'
}
in_net6() { "$LAB_PY" -c 'import ipaddress,sys; sys.exit(ipaddress.ip_address(sys.argv[1]) not in ipaddress.ip_network(sys.argv[2]))' "$1" "$2"; }
# v6verdict HOOK NAME: xwan's IPv6 verdict counter (verdicts6), summed over CPUs
v6verdict() {
	lab_gw bpftool -j map dump pinned "$LAB_PIN_DIR/verdicts6" 2>/dev/null | "$LAB_PY" -c '
import json, re, sys
src = open(sys.argv[3]).read().split("#define XWAN_VERDICTS(X)")[1].split("enum xwan_verdict")[0]
names = re.findall(r"X\((\w+),", src)
hooks = ["xdp_lan", "xdp_wan", "tc_lan_ingress", "tc_wan_ingress", "tc_wan_egress"]
key = hooks.index(sys.argv[1]) * len(names) + names.index(sys.argv[2])
for e in json.load(sys.stdin):
    f = e["formatted"]
    if f["key"] == key:
        print(sum(v["value"] for v in f["values"]))
' "$1" "$2" "$LAB_ROOT/bpf/xwan_types.h"
}
# the client counts every IPv6 packet from the internet's addresses it receives
client_rx6() { lab_nft_counter "$LAB_NS_CLIENT" inet v6t from_inet; }
upload() { # BIND BYTES: TCP to the server's discard port, 0 when all was taken
	timeout 120 ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" -c '
import os, socket, sys
s = socket.create_connection((sys.argv[1], 8081), timeout=30, source_address=(sys.argv[2], 0))
s.sendall(os.urandom(int(sys.argv[3])))
s.shutdown(socket.SHUT_WR)
s.settimeout(60)
sys.exit(0 if s.recv(1) == b"" else 1)    # the server closes once it read it all
' "$LAB_SERVER6" "$1" "$2"
}

# blob_checks LABEL FWD_IN_BEFORE: the 8 MiB blob twice with the right sha256, its replies
# on the XDP fast path (xdp_wan's wan_to_lan counter since FWD_IN_BEFORE), a wrong sha256 failing
blob_checks() {
	local d fa
	d=$(client_py fetch --url "$LAB_BLOB_URL6" --sha256 "$(cat "$LAB_WWW/blob.sha256")" --parallel 2)
	check "$1: the 8 MiB blob (2 downloads) with the right sha256" "$d" [ "$(jget "$d" 'd["ok"]')" = 2 ]
	fa=$(v6verdict xdp_wan FWD_IN)
	check "$1: the replies took the XDP fast path (xdp_wan forward wan_to_lan $2 -> $fa)" "$2 -> $fa" \
		[ "${fa:-0}" -gt $((${2:-0} + 1000)) ]
	d=$(client_py fetch --url "$LAB_BLOB_URL6" --sha256 0000000000000000000000000000000000000000000000000000000000000000)
	check "$1 control: a wrong sha256 fails" "$d" [ "$(jget "$d" 'd["ok"]')" != 1 ]
}

export XWAN_LAB_V6=1 XWAN_LAB_CONFIG=$E2E_DIR/lab-v6.yaml
lab_init_names "${XWAN_LAB_PREFIX:-v6f$$}"
e2e_traps lab_destroy
echo "# test_ipv6_forwarding: lab=$LAB_PREFIX"
if ! setup_err=$(lab_create xwan 2>&1); then
	fail "lab setup (XWAN_LAB_V6=1, xwan)" "$setup_err"
	exit 1
fi
lab_client nft -f - <<-EOF
	table inet v6t {
		counter from_inet { }
		chain input { type filter hook input priority 0; ip6 saddr 2001:db8:ffff::/48 counter name "from_inet"; }
	}
EOF
base1=$(lab_spoof6_isp1) base2=$(lab_spoof6_isp2)

# --- 1. nat6 npt ---------------------------------------------------------------------------
p=$(loss6 "$LAB_NS_CLIENT" "$LAB_SERVER6")
check "1a npt: 20 ping6 $LAB_CLIENT6_IP -> $LAB_SERVER6, 0% loss" "$p" [ "$p" = "0% packet loss" ]
p=$(loss6 "$LAB_NS_CLIENT" 2001:db8:ffff::dead)
check "1a control: ping6 to an address nobody has is lost" "$p" [ "$p" = "100% packet loss" ]

before=$(wc -l <"$LAB_PEER_LOG")
res=$(client_py tcp-whoami --count 200 --bind fd00:1::2 --bind fd00:1::3 --bind fd00:1::4)
ok=$(jget "$res" 'd["ok"]')
check "1b npt: 200 TCP connections from 3 ULA addresses all succeed" "ok=${ok:-?}; $res" [ "${ok:-0}" = 200 ]
srv=$(tail -n +"$((before + 1))" "$LAB_PEER_LOG" | awk '$1 == "tcp" { print $2 }')
n1=0 n2=0 bad=""
for a in $srv; do
	if in_net6 "$a" "$LAB_NPT1_OUT"; then n1=$((n1 + 1))
	elif in_net6 "$a" "$LAB_NPT2_OUT"; then n2=$((n2 + 1))
	else bad="$bad $a"; fi
done
# Stateless per address: each LAN address has one outside address per WAN.
distinct=$(printf '%s\n' $srv | sort -u | wc -l)
pct=$((n1 * 100 / 200))
info "isp1 $n1/200 = $pct%, isp2 $n2, distinct sources $distinct"
check "1c npt: the server saw all 200 from the outside prefixes, at most 6 addresses (3 hosts x 2 WANs, no port mapping)" \
	"isp1=$n1 isp2=$n2 distinct=$distinct bad=${bad:0:200}" [ $((n1 + n2)) = 200 -a -z "$bad" -a "$distinct" -le 6 ]
check "1d npt: split per the weights 3:1 (60..90% via isp1, some via isp2)" "isp1=$n1 isp2=$n2" \
	[ "$pct" -ge 60 -a "$pct" -le 90 -a "$n2" -gt 0 ]
check "1d control: the same check fails on a 1:1 count" "100/100" \
	bash -c '! [ 50 -ge 60 -a 50 -le 90 ]'

u=$(client_py udp-whoami --count 10 --bind "$LAB_CLIENT6_IP")
check "1e npt: 10 UDP requests answered" "$u" [ "$(jget "$u" 'd["ok"]')" = 10 ]
fb=$(v6verdict xdp_wan FWD_IN)
u=$(client_py udp-echo --size 4000)
check "1f npt: a 4000-byte UDP datagram (IPv6 fragments both ways) comes back whole" "$u" \
	[ "$(jget "$u" 'd["equal"]')" = True ]
u=$(client_py udp-echo --size 4000 --port 5399)
check "1f control: to a port with no echo server nothing comes back" "$u" [ "$(jget "$u" 'd["equal"]')" != True ]

blob_checks "1g npt" "$fb"

t=$(lab_client timeout 120 traceroute -6 -n -w 2 -m 6 "$LAB_SERVER6" 2>&1)
check "1h npt: traceroute6 shows $LAB_GW_LAN6, $LAB_ISP1_GW6|$LAB_ISP2_GW6, $LAB_SERVER6" "$t" \
	bash -c 'grep -q "^ 1  $2 " <<<"$1" && grep -Eq "^ 2  ($3|$4) " <<<"$1" && grep -q "^ 3  $5 " <<<"$1"' \
	_ "$t" "$LAB_GW_LAN6" "$LAB_ISP1_GW6" "$LAB_ISP2_GW6" "$LAB_SERVER6"
t=$(lab_client timeout 60 traceroute -6 -n -w 1 -m 1 "$LAB_SERVER6" 2>&1)
check "1h control: with -m 1 the ISP hop is not shown" "$t" bash -c '! grep -q "2001:db8:[12]::1" <<<"$1"' _ "$t"

# Packet Too Big: before the small hop a 1500-byte ping6 passes (control), then the
# ISP's upstream route gets MTU 1400: the upload (fresh path, no cached PMTU) must
# complete, and a DF ping reports the PTB xwan translated back to the client.
p=$(lab_client timeout 20 ping -6 -n -c 2 -i 0.2 -W 1 -M do -s 1452 -I fd00:1::3 "$LAB_SERVER6" 2>&1)
check "1i control: before the small-MTU hop a 1500-byte ping6 passes whole" "$p" \
	bash -c 'grep -q " 0% packet loss" <<<"$1" && ! grep -qi "too big" <<<"$1"' _ "$p"
lab_isp1 ip -6 route replace default via 2001:db8:ffff:1::2 dev up mtu 1400
lab_isp2 ip -6 route replace default via 2001:db8:ffff:2::2 dev up mtu 1400
lab_client ip -6 route flush cache 2>/dev/null
eb=$(v6verdict xdp_wan FWD_ICMP_ERROR)
upload fd00:1::2 $((8 * 1024 * 1024)); rc=$?
check "1i npt: an 8 MiB TCP upload completes through the 1400-byte hop" "rc=$rc" [ "$rc" = 0 ]
p=$(lab_client timeout 20 ping -6 -n -c 2 -i 0.2 -W 1 -M do -s 1452 -I fd00:1::4 "$LAB_SERVER6" 2>&1)
ea=$(v6verdict xdp_wan FWD_ICMP_ERROR)
check "1i npt: Packet Too Big (mtu 1400) from the ISP hop reaches the LAN host (icmp errors translated $eb -> $ea)" \
	"$p" bash -c 'grep -Eq "Packet too big: mtu=1400|message too long, mtu: ?1400" <<<"$1"' _ "$p"
lab_isp1 ip -6 route replace default via 2001:db8:ffff:1::2 dev up
lab_isp2 ip -6 route replace default via 2001:db8:ffff:2::2 dev up

# Unsolicited inbound: the internet host sends to the client's outside addresses.
out1=$(lab_xwan flows --json 2>/dev/null | "$LAB_PY" -c '
import json, sys
for f in json.load(sys.stdin):
    if f.get("family") == "ipv6" and f["wan"] == "isp1" and f["proto"] == "tcp":
        print(f["nat"].split("]")[0].lstrip("[")); break')
rx0=$(client_rx6) ub=$(v6verdict xdp_wan DROP_UNSOLICITED)
lab_inet timeout 10 ping -6 -n -q -c 5 -i 0.1 -W 1 "${out1:-2001:db8:1:100::2}" >/dev/null 2>&1
lab_inet timeout 5 "$LAB_PY" -c 'import socket,sys; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); [s.sendto(b"x", (sys.argv[1], 5555)) for _ in range(5)]' "${out1:-2001:db8:1:100::2}"
rx1=$(client_rx6) ua=$(v6verdict xdp_wan DROP_UNSOLICITED)
check "1j npt: unsolicited ping6 and UDP to ${out1:-?} reach nobody (client rx $rx0 -> $rx1), dropped as unsolicited ($ub -> $ua)" \
	"rx $rx0 -> $rx1, unsolicited $ub -> $ua" [ -n "$out1" -a "$rx1" = "$rx0" -a "${ua:-0}" -ge $((${ub:-0} + 10)) ]
lab_client timeout 10 ping -6 -n -q -c 3 -i 0.1 -W 1 "$LAB_SERVER6" >/dev/null 2>&1
rx2=$(client_rx6)
check "1j control: the client's counter does count what the internet sends it (solicited replies: $rx1 -> $rx2)" \
	"$rx1 -> $rx2" [ "${rx2:-0}" -ge $((${rx1:-0} + 3)) ]

# Anti-spoofing: a LAN source outside the LAN's IPv6 prefixes.
lab_client ip -6 addr add 2001:db8:1:100::99/128 dev eth0 nodad
sb=$(v6verdict xdp_lan DROP_SPOOFED)
p=$(lab_client timeout 10 ping -6 -n -q -c 3 -i 0.1 -W 1 -I 2001:db8:1:100::99 "$LAB_SERVER6" 2>&1 | grep -o '[0-9.]*% packet loss')
sa=$(v6verdict xdp_lan DROP_SPOOFED)
lab_client ip -6 addr del 2001:db8:1:100::99/128 dev eth0
check "1k npt: a LAN source outside fd00:1::/64 is dropped as spoofed by xwan ($sb -> $sa), never reaching an ISP" \
	"$p; $(counters6)" [ "$p" = "100% packet loss" -a "${sa:-0}" -ge $((${sb:-0} + 3)) ]
check "1l npt: the ISPs' spoofed6 counters stayed at their start ($base1, $base2), nothing from fc00::/7 reached inet" \
	"$(counters6)" [ "$(lab_spoof6_isp1)" = "$base1" -a "$(lab_spoof6_isp2)" = "$base2" -a "$(lab_leak6_inet)" = 0 ]
# Control: the host's own packet from isp2's address sent out wan1 (the main table's
# default) is the ISP's to judge: isp1 counts it.
lab_gw timeout 5 ping -6 -n -q -c 2 -i 0.1 -W 1 -I "$LAB_WAN2_IP6" "$LAB_SERVER6" >/dev/null 2>&1
check "1l control: isp1's spoofed6 counter does count a foreign source ($base1 -> $(lab_spoof6_isp1))" \
	"$(counters6)" [ "$(lab_spoof6_isp1)" -ge $((base1 + 2)) ]

# The metrics carry IPv6 beside IPv4, labelled by family: the verdicts the
# map holds, and isp1's IPv6 packets. Control: IPv4's spoofed counter on
# xdp_lan did not count the IPv6 ones (no IPv4 source was spoofed here).
st=$(lab_xwan stats 2>&1)
m6=$("$LAB_PY" "$LAB_TOOLS/promval.py" 'xwan_family_packets_total{family="ipv6",hook="xdp_lan",reason="spoofed_source"}' <<<"$st")
m4=$("$LAB_PY" "$LAB_TOOLS/promval.py" 'xwan_family_packets_total{family="ipv4",hook="xdp_lan",reason="spoofed_source"}' <<<"$st")
g6=$("$LAB_PY" "$LAB_TOOLS/promval.py" 'xwan_gateway_family_packets_total{gateway="isp1",family="ipv6",direction="out"}' <<<"$st")
prom=$(promtool check metrics <<<"$st" 2>&1 | grep -iv "counter metrics should have" | head -3)
check "1m xwan stats: xwan_family_packets_total{family=ipv6} spoofed on xdp_lan ${m6:-none} = the dataplane's $(v6verdict xdp_lan DROP_SPOOFED), IPv4's ${m4:-none}; isp1 IPv6 packets out ${g6:-none}; promtool: ${prom:-ok}" \
	"$prom" [ "${m6:-x}" = "$(v6verdict xdp_lan DROP_SPOOFED)" -a "${m4:-x}" = 0 -a "${g6:-0}" -gt 0 -a -z "$prom" ]

# --- 2. nat6 none: the LAN holds each ISP's /64 ------------------------------------------
lab_xwan down >/dev/null 2>&1
P1=2001:db8:1:100 P2=2001:db8:2:100
for a in "$P1::1/64" "$P2::1/64"; do lab_gw ip -6 addr add "$a" dev lan0 nodad; done
for a in "$P1::2/64" "$P2::2/64"; do lab_client ip -6 addr add "$a" dev eth0 nodad; done
none_cfg=$LAB_STATE/none.yaml
sed -e "s|networks: \[10.1.0.0/24, fd00:1::/64\]|networks: [10.1.0.0/24, $P1::/64, $P2::/64]|" \
	-e 's|^    nat6: npt|    nat6: none|' -e '/^    npt:/d' \
	-e 's|^    gateway6: 2001:db8:2::1|    gateway6: 2001:db8:2::1\n    nat6: none|' "$XWAN_LAB_CONFIG" >"$none_cfg"
up=$(lab_xwan up -c "$none_cfg" 2>&1)
check "2 none: xwan up with nat6 none on both WANs" "$up" grep -q "xwan: up" <<<"$up"
base1=$(lab_spoof6_isp1) base2=$(lab_spoof6_isp2)
p1=$(loss6 "$LAB_NS_CLIENT" "$LAB_SERVER6" -I "$P1::2")
p2=$(loss6 "$LAB_NS_CLIENT" "$LAB_SERVER6" -I "$P2::2")
check "2a none: 20 ping6 from each ISP's prefix, 0% loss" "$p1; $p2" \
	[ "$p1" = "0% packet loss" -a "$p2" = "0% packet loss" ]
res=$(client_py tcp-whoami --count 200 --bind "$P1::2" --bind "$P2::2")
check "2b none: 200 TCP connections from both prefixes succeed" "$res" [ "$(jget "$res" 'd["ok"]')" = 200 ]
fl=$(lab_xwan flows --json 2>/dev/null)
wrong=$(printf '%s' "$fl" | "$LAB_PY" -c '
import json, sys
bad = 0
for f in json.load(sys.stdin):
    if f.get("family") != "ipv6" or f["proto"] not in ("tcp", "udp"): continue
    want = "isp1" if f["client"].startswith("[2001:db8:1:100:") else "isp2"
    bad += f["wan"] != want or f["nat"] != f["client"]
print(bad)')
check "2c none: every flow left through its source prefix's WAN, untranslated (xwan flows), none counted spoofed6 by the ISPs" \
	"wrong=$wrong; $(counters6)" [ "$wrong" = 0 -a "$(lab_spoof6_isp1)" = "$base1" -a "$(lab_spoof6_isp2)" = "$base2" ]
u=$(client_py udp-whoami --count 10 --bind "$P2::2")
check "2d none: 10 UDP requests from isp2's prefix answered" "$u" [ "$(jget "$u" 'd["ok"]')" = 10 ]
d=$(client_py fetch --url "$LAB_BLOB_URL6" --sha256 "$(cat "$LAB_WWW/blob.sha256")")
check "2e none: the 8 MiB blob with the right sha256" "$d" [ "$(jget "$d" 'd["ok"]')" = 1 ]
rx0=$(client_rx6)
lab_inet timeout 10 ping -6 -n -q -c 5 -i 0.1 -W 1 "$P1::2" >/dev/null 2>&1
check "2f none: unsolicited ping6 to $P1::2 reaches nobody (client rx $rx0 -> $(client_rx6))" \
	"$(client_rx6)" [ "$(client_rx6)" = "$rx0" ]

# --- 3. nat6 masquerade: NAT66 to isp1's one address, isp2 without IPv6 -------------------
lab_xwan down >/dev/null 2>&1
for a in "$P1::2/64" "$P2::2/64"; do lab_client ip -6 addr del "$a" dev eth0; done
for a in "$P1::1/64" "$P2::1/64"; do lab_gw ip -6 addr del "$a" dev lan0; done
masq_cfg=$LAB_STATE/masq.yaml
sed -e 's|^    nat6: npt|    nat6: masquerade|' -e '/^    npt:/d' -e '/^    gateway6: 2001:db8:2::1/d' \
	"$XWAN_LAB_CONFIG" >"$masq_cfg"
up=$(lab_xwan up -c "$masq_cfg" 2>&1)
check "3 masquerade: xwan up with nat6 masquerade on isp1, no IPv6 on isp2" "$up" grep -q "xwan: up" <<<"$up"
# isp1 counts what arrives from the customer link with any source but the WAN's address
lab_isp1 nft -f - <<-EOF
	table inet v6m {
		counter foreign6 { }
		chain forward { type filter hook forward priority -10; iifname "cust" ip6 saddr != $LAB_WAN1_IP6 counter name "foreign6"; }
	}
EOF
foreign6() { lab_nft_counter "$LAB_NS_ISP1" inet v6m foreign6; }
base1=$(lab_spoof6_isp1)
p=$(loss6 "$LAB_NS_CLIENT" "$LAB_SERVER6")
check "3a masquerade: 20 ping6 $LAB_CLIENT6_IP -> $LAB_SERVER6, 0% loss" "$p" [ "$p" = "0% packet loss" ]
before=$(wc -l <"$LAB_PEER_LOG")
res=$(client_py tcp-whoami --count 200 --bind fd00:1::2 --bind fd00:1::3 --bind fd00:1::4)
check "3b masquerade: 200 TCP connections from 3 ULA addresses succeed" "$res" [ "$(jget "$res" 'd["ok"]')" = 200 ]
u=$(client_py udp-whoami --count 10 --bind fd00:1::3)
check "3c masquerade: 10 UDP requests answered" "$u" [ "$(jget "$u" 'd["ok"]')" = 10 ]
srcs=$(tail -n +"$((before + 1))" "$LAB_PEER_LOG" | awk '$1 == "tcp" || $1 == "udp" { print $2 }' | sort | uniq -c)
check "3d masquerade: the server saw all 210 from $LAB_WAN1_IP6 alone" "$srcs" \
	[ "$(awk '{ print $2 }' <<<"$srcs")" = "$LAB_WAN1_IP6" -a "$(awk '{ print $1 }' <<<"$srcs")" = 210 ]
# Port preservation: two clients hold a connection from the same port to the same
# server; the first keeps its port, the second gets another of the same parity.
lab_client timeout 30 "$LAB_PY" -c '
import socket, sys, time
a = socket.create_connection((sys.argv[1], 8081), timeout=10, source_address=("fd00:1::2", 40125))
time.sleep(0.3)
b = socket.create_connection((sys.argv[1], 8081), timeout=10, source_address=("fd00:1::3", 40125))
a.sendall(b"x"); b.sendall(b"x")
time.sleep(4)
' "$LAB_SERVER6" >/dev/null 2>&1 &
hold_pid=$!
flows_40125() {
	lab_xwan flows --json 2>/dev/null | "$LAB_PY" -c '
import json, sys
for f in json.load(sys.stdin):
    if f.get("family") == "ipv6" and f["remote"].endswith("]:8081") and f["client"].endswith("]:40125"):
        print(f["client"], f["nat"])' | sort
}
pp=""
for _ in $(seq 30); do
	pp=$(flows_40125)
	[ "$(wc -l <<<"$pp")" = 2 ] && break
	sleep 0.1
done
wait "$hold_pid"
n1=$(awk '$1 == "[fd00:1::2]:40125" { print $2 }' <<<"$pp") n2=$(awk '$1 == "[fd00:1::3]:40125" { print $2 }' <<<"$pp")
p2=${n2##*:}
check "3e masquerade: the first client keeps its port 40125 on $LAB_WAN1_IP6 (xwan flows: ${n1:-none})" "$pp" \
	[ "$n1" = "[$LAB_WAN1_IP6]:40125" ]
check "3e masquerade: the second one, same port to the same server, gets another odd port (${n2:-none})" "$pp" \
	[ -n "$p2" -a "${n2%:*}" = "[$LAB_WAN1_IP6]" -a "${p2:-0}" != 40125 -a $((${p2:-0} % 2)) = 1 ]
blob_checks "3f masquerade" "$(v6verdict xdp_wan FWD_IN)"
u=$(client_py udp-echo --size 4000)
check "3g masquerade: a 4000-byte UDP datagram (IPv6 fragments both ways) comes back whole" "$u" \
	[ "$(jget "$u" 'd["equal"]')" = True ]
t=$(lab_client timeout 120 traceroute -6 -n -w 2 -m 6 "$LAB_SERVER6" 2>&1)
check "3h masquerade: traceroute6 shows $LAB_GW_LAN6, $LAB_ISP1_GW6, $LAB_SERVER6 (Time Exceeded translated back)" "$t" \
	bash -c 'grep -q "^ 1  $2 " <<<"$1" && grep -q "^ 2  $3 " <<<"$1" && grep -q "^ 3  $4 " <<<"$1"' \
	_ "$t" "$LAB_GW_LAN6" "$LAB_ISP1_GW6" "$LAB_SERVER6"
lab_isp1 ip -6 route replace default via 2001:db8:ffff:1::2 dev up mtu 1400
lab_client ip -6 route flush cache 2>/dev/null
eb=$(v6verdict xdp_wan FWD_ICMP_ERROR)
upload fd00:1::2 $((8 * 1024 * 1024)); rc=$?
p=$(lab_client timeout 20 ping -6 -n -c 2 -i 0.2 -W 1 -M do -s 1452 -I fd00:1::4 "$LAB_SERVER6" 2>&1)
ea=$(v6verdict xdp_wan FWD_ICMP_ERROR)
lab_isp1 ip -6 route replace default via 2001:db8:ffff:1::2 dev up
check "3i masquerade: an 8 MiB upload completes through a 1400-byte hop, Packet Too Big reaches the LAN host ($eb -> $ea errors translated)" \
	"rc=$rc; $p" bash -c '[ "$2" = 0 ] && grep -Eq "Packet too big: mtu=1400|message too long, mtu: ?1400" <<<"$1"' _ "$p" "$rc"
rx0=$(client_rx6)
lab_inet timeout 10 ping -6 -n -q -c 5 -i 0.1 -W 1 "$LAB_WAN1_IP6" >/dev/null 2>&1
lab_inet timeout 5 "$LAB_PY" -c 'import socket,sys; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); [s.sendto(b"x", (sys.argv[1], p)) for p in (40125, 40123, 5555) for _ in range(3)]' "$LAB_WAN1_IP6"
rx1=$(client_rx6)
check "3j masquerade: unsolicited ping6 and UDP to $LAB_WAN1_IP6 reach no LAN host (client rx $rx0 -> $rx1)" \
	"$rx0 -> $rx1" [ -n "$rx0" -a "$rx1" = "$rx0" ]
lab_client timeout 10 ping -6 -n -q -c 3 -i 0.1 -W 1 "$LAB_SERVER6" >/dev/null 2>&1
rx2=$(client_rx6)
check "3j control: the client's counter counts what the internet sends it (replies: $rx1 -> $rx2)" \
	"$rx1 -> $rx2" [ "${rx2:-0}" -ge $((${rx1:-0} + 3)) ]
# The gw's own Time Exceeded about a reply it forwards (hop limit 1 when it reaches the
# gw) must quote the WAN's side, the only one the remote knows.
te_py='
import os, socket, sys, time
srv, ready = sys.argv[1], sys.argv[2]
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind((srv, 5399))
r = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6); r.settimeout(10)
open(ready, "w").close()
u.settimeout(20); _, peer = u.recvfrom(100)
u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 2)
u.sendto(b"y", peer[:2])
end = time.time() + 10
while time.time() < end:
    d, a = r.recvfrom(2000)
    if d[0] == 3 and len(d) >= 52:
        print(socket.inet_ntop(socket.AF_INET6, d[32:48]), int.from_bytes(d[50:52], "big"), peer[0], peer[1])
        break
'
rm -f "$LAB_STATE/te.ready"
lab_inet timeout 40 "$LAB_PY" -c "$te_py" "$LAB_SERVER6" "$LAB_STATE/te.ready" >"$LAB_STATE/te.out" 2>&1 &
te_pid=$!
lab_poll 10 test -e "$LAB_STATE/te.ready"
tb=$(v6verdict tc_wan_egress FWD_ICMP_ERROR)
lab_client timeout 5 "$LAB_PY" -c 'import socket,sys; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("fd00:1::2", 40201)); s.sendto(b"x", (sys.argv[1], 5399))' "$LAB_SERVER6"
wait "$te_pid"
te=$(cat "$LAB_STATE/te.out") ta=$(v6verdict tc_wan_egress FWD_ICMP_ERROR)
read -r q_dst q_port p_addr p_port <<<"$te"
check "3k masquerade: the gw's Time Exceeded about a reply quotes [$LAB_WAN1_IP6]:$p_port, the flow's public side (quoted [${q_dst:-?}]:${q_port:-?}; errors translated $tb -> $ta)" \
	"$te" [ "$p_addr" = "$LAB_WAN1_IP6" -a "$q_dst" = "$LAB_WAN1_IP6" -a "${q_port:-0}" = "$p_port" -a "${ta:-0}" -gt "${tb:-0}" ]
check "3l masquerade: isp1 saw no source but $LAB_WAN1_IP6 from us (foreign6 $(foreign6)), spoofed6 stayed $base1, nothing from fc00::/7 reached inet" \
	"$(counters6)" [ "$(foreign6)" = 0 -a "$(lab_spoof6_isp1)" = "$base1" -a "$(lab_leak6_inet)" = 0 ]
lab_gw timeout 5 ping -6 -n -q -c 2 -i 0.1 -W 1 -I "$LAB_WAN2_IP6" "$LAB_SERVER6" >/dev/null 2>&1
check "3l control: isp1's foreign6 counter does count another source (the host's from $LAB_WAN2_IP6: $(foreign6))" \
	"$(counters6)" [ "$(foreign6)" -ge 2 ]

echo "# test_ipv6_forwarding: $NPASS passed, $NFAIL failed"
[ "$NFAIL" = 0 ]
