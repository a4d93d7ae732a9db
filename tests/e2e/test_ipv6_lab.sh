#!/bin/bash
# tests/e2e/test_ipv6_lab.sh - the IPv6 lab (XWAN_LAB_V6=1, tests/e2e/lab.sh)
# is sound (issue 13): each ISP routes its own
# /48 and drops foreign sources, the internet host answers IPv6 through both,
# and a gw that translates the ULA LAN into the ISPs' prefixes gets ping6, TCP
# split over both WANs, UDP and the 8 MiB blob through.
#
#   XWAN_E2E_MODE=kernel  the plain-Linux IPv6 baseline (multipath default
#                         3:1, nft prefix NAT per WAN) that lab.sh sets up
#   (default, xwan)       xwan up with tests/e2e/lab-v6.yaml: xwan forwards
#                         IPv6 itself (nat6 npt, issue 13), with no NAT of
#                         the kernel's on the host
#                         (tests/e2e/test_ipv6_forwarding.sh goes further)
#   XWAN_LAB_BREAK=nomasq XWAN_E2E_MODE=kernel: no NAT66, checks must FAIL.
# Needs root. Prints PASS:/FAIL: lines; exit 1 if any check failed.
set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"

MODE=${XWAN_E2E_MODE:-xwan}
jget() { "$LAB_PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
client_py() { timeout 180 ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/client.py" --server "$LAB_SERVER6" "$@"; }
counters6() { echo "isp1.spoofed6=$(lab_spoof6_isp1) isp2.spoofed6=$(lab_spoof6_isp2) inet.lan_leak6=$(lab_leak6_inet)"; }
loss6() { # NS [ping6 args...]: "N% packet loss" of 20 pings to the server
	local ns=$1; shift
	ip netns exec "$ns" timeout 60 ping -6 -n -q -c 20 -i 0.05 -W 1 "$@" "$LAB_SERVER6" 2>&1 |
		grep -o '[0-9.]*% packet loss'
}
# in_net6 ADDR NET: ADDR is inside the IPv6 prefix NET
in_net6() { "$LAB_PY" -c 'import ipaddress,sys; sys.exit(ipaddress.ip_address(sys.argv[1]) not in ipaddress.ip_network(sys.argv[2]))' "$1" "$2"; }

export XWAN_LAB_V6=1 XWAN_LAB_CONFIG=$E2E_DIR/lab-v6.yaml
lab_init_names "${XWAN_LAB_PREFIX:-v6l$$}"
e2e_traps lab_destroy
echo "# test_ipv6_lab: lab=$LAB_PREFIX mode=$MODE"
if ! setup_err=$(lab_create "$MODE" 2>&1); then
	fail "lab setup (XWAN_LAB_V6=1, $MODE)" "$setup_err"
	exit 1
fi

# --- 1. the ISPs and the internet host -------------------------------------------------
for n in 1 2; do
	ns=$LAB_NS_ISP1 gw6=$LAB_ISP1_GW6
	[ $n = 2 ] && ns=$LAB_NS_ISP2 gw6=$LAB_ISP2_GW6
	p=$(loss6 "$ns" -I "$gw6")
	check "1a.$n isp$n reaches $LAB_SERVER6 from its customer link ($gw6): 0% loss" "$p" [ "$p" = "0% packet loss" ]
done
# Control: a LAN source the gw does not translate. The gw's own ULA address
# leaves untranslated (the NAT matches what comes in on lan0): the ISP on the
# default route must drop and count it, and the internet never sees it. With
# xwan up it does not even leave: tc_wan_egress drops an untranslated LAN
# source on an NPT WAN (counted untranslated_lan_source).
spoof6_sum() { echo $(($(lab_spoof6_isp1) + $(lab_spoof6_isp2))); }
before=$(spoof6_sum)
p=$(lab_gw timeout 10 ping -6 -n -q -c 3 -i 0.1 -W 1 -I "$LAB_GW_LAN6" "$LAB_SERVER6" 2>&1 | grep -o '[0-9.]*% packet loss')
after=$(spoof6_sum)
if [ "$MODE" = xwan ]; then
	check "1b control: untranslated fd00:1::1 -> $LAB_SERVER6 is lost, dropped by xwan before the ISPs (spoofed6 was $before, now $after)" \
		"$p; $(counters6)" [ "$p" = "100% packet loss" -a "${after:-0}" = "${before:-0}" -a "$(lab_leak6_inet)" = 0 ]
else
	check "1b control: untranslated fd00:1::1 -> $LAB_SERVER6 is lost and the ISPs count it as spoofed6 (was $before, now $after)" \
		"$p; $(counters6)" [ "$p" = "100% packet loss" -a "${after:-0}" -ge $((${before:-0} + 3)) -a "$(lab_leak6_inet)" = 0 ]
fi

if [ "$MODE" = xwan ]; then
	# --- xwan forwards IPv6 itself (issue 13): nat6 npt, no kernel NAT on the host ----
	w=$(lab_xwan check -c "$XWAN_LAB_CONFIG" 2>&1)
	check "1c xwan check accepts lab-v6.yaml without a warning (nat6 npt is forwarded)" \
		"$w" bash -c 'grep -q ": ok (" <<<"$1" && ! grep -q warning <<<"$1"' _ "$w"
	v=$(lab_xwan check -c <(sed 's/nat6: npt/nat6: masquerade/; /inside: fd00/d' "$XWAN_LAB_CONFIG") 2>&1)
	check "1c xwan check accepts nat6 masquerade without a warning (NAT66 is forwarded)" \
		"$v" bash -c 'grep -q ": ok (" <<<"$1" && ! grep -q warning <<<"$1"' _ "$v"
	v=$(lab_xwan check -c <(sed 's/interface: wan2/interface: wg9/' "$XWAN_LAB_CONFIG") 2>&1)
	check "1c control: the same check does see a warning (a missing wg9 WAN)" "$v" \
		grep -q warning <<<"$v"
fi
ok_nets="$LAB_NPT1_OUT $LAB_NPT2_OUT"
base1=$(lab_spoof6_isp1) base2=$(lab_spoof6_isp2)

# --- 2. the LAN through the gw: translated into the ISPs' prefixes -----------------------
p=$(loss6 "$LAB_NS_CLIENT")
check "2a client $LAB_CLIENT6_IP -> $LAB_SERVER6: 20 pings, 0% loss" "$p" [ "$p" = "0% packet loss" ]

before=$(wc -l <"$LAB_PEER_LOG")
res=$(client_py tcp-whoami --count 200 --bind fd00:1::2 --bind fd00:1::3 --bind fd00:1::4)
ok=$(jget "$res" 'd["ok"]')
check "2b 200 TCP connections over IPv6 from 3 ULA addresses all succeed" "ok=${ok:-?}; $res" [ "${ok:-0}" = 200 ]
# What the server logged: every source inside a WAN's routed /64, its host
# part kept from the LAN address (prefix translation, not masquerade).
srv=$(tail -n +"$((before + 1))" "$LAB_PEER_LOG" | awk '$1 == "tcp" { print $2 }')
bad="" n1=0 n2=0
for a in $srv; do
	case $a in *::2 | *::3 | *::4) ;; *) bad="$bad $a" ;; esac
	if in_net6 "$a" "$LAB_NPT1_OUT"; then n1=$((n1 + 1))
	elif in_net6 "$a" "$LAB_NPT2_OUT"; then n2=$((n2 + 1))
	else bad="$bad $a"; fi
done
check "2c the server saw all 200 from $ok_nets with the LAN host part (::2/::3/::4)" \
	"isp1=$n1 isp2=$n2 bad=${bad:0:200}" [ $((n1 + n2)) = 200 -a -z "$bad" ]
pct=$((n1 * 100 / 200))
info "isp1 $n1/200 = $pct%, isp2 $n2"
check "2d $MODE split them about 75/25 (60..90% via isp1, some via isp2)" \
	"isp1=$n1 isp2=$n2" [ "$pct" -ge 60 -a "$pct" -le 90 -a "$n2" -gt 0 ]
u=$(client_py udp-whoami --count 10 --bind "$LAB_CLIENT6_IP")
check "2e 10 UDP requests over IPv6 answered" "$u" [ "$(jget "$u" 'd["ok"]')" = 10 ]
d=$(client_py fetch --url "$LAB_BLOB_URL6" --sha256 "$(cat "$LAB_WWW/blob.sha256")" --parallel 2)
check "2f the 8 MiB blob over IPv6 (2 downloads) with the right sha256" "$d" [ "$(jget "$d" 'd["ok"]')" = 2 ]
check "2g no translated packet was dropped as spoofed6, none from fc00::/7 reached inet" "$(counters6)" \
	[ "$(lab_spoof6_isp1)" = "$base1" -a "$(lab_spoof6_isp2)" = "$base2" -a "$(lab_leak6_inet)" = 0 ]
if [ "$MODE" = xwan ]; then
	p=$(lab_client timeout 30 ping -n -q -c 5 -i 0.1 -W 1 "$LAB_SERVER" 2>&1 | grep -o '[0-9.]*% packet loss')
	fl=$(lab_xwan flows 2>&1)
	check "2h IPv4 meanwhile goes through xwan (0% loss, a flow from $LAB_CLIENT_IP in xwan flows)" "$p; $fl" \
		bash -c '[ "$1" = "0% packet loss" ] && grep -q "$2" <<<"$3"' _ "$p" "$LAB_CLIENT_IP" "$fl"
fi

echo "# test_ipv6_lab: $NPASS passed, $NFAIL failed"
[ "$NFAIL" = 0 ]
