#!/bin/bash
# tests/e2e/test_ipv6_auto.sh - `gateway6: auto` (issue 13) in the IPv6 lab
# (XWAN_LAB_V6=1): isp2's IPv6 next hop is the default route the gw's kernel
# learns from isp2's router advertisements, followed by the agent (netlink)
# and probed:
#
#   0  xwan check warns while wan2 cannot learn one (accept_ra 0 on a
#      forwarding interface); control: with accept_ra=2 it does not;
#   1  before any RA: isp2 down for IPv6 ("no IPv6 gateway"), online for
#      IPv4; 40 IPv6 connections all leave by isp1;
#   2  isp2's router advertises (lifetime 600): the kernel's "proto ra"
#      default route via its link-local address appears, the agent takes it
#      as isp2's IPv6 gateway, probes it, and isp2 is online for IPv6; the
#      40 connections now use both WANs (control: 1); the status page's
#      history has isp2's IPv6 series beside its IPv4 one;
#   3  another router address on the link takes over (its RA, then the
#      first one's with lifetime 0): the agent follows the new next hop,
#      probes it, isp2 stays online and carries connections;
#   4  the last router withdraws (lifetime 0): no IPv6 gateway, isp2 down
#      for IPv6 again, all connections by isp1.
#
# Stand-in: the lab has no radvd; tests/e2e/tools/ra.py sends the RAs from
# the ISP's namespace (a raw ICMPv6 socket: the same packet radvd sends, so
# the gw's kernel installs the route itself). Times are printed, never
# asserted. Needs root. Prints PASS:/FAIL: lines; exit 1 if any failed.
set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"
# shellcheck source=tests/e2e/failover_lib.sh
. "$E2E_DIR/failover_lib.sh"

R1=fe80::2:1 R2=fe80::2:2       # isp2's router addresses on the customer link
export XWAN_LAB_V6=1 XWAN_LAB_CONFIG=$E2E_DIR/lab-v6.yaml
lab_init_names "${XWAN_LAB_PREFIX:-v6a$$}"
cleanup() { fo_agent_stop; lab_destroy; }
e2e_traps cleanup
echo "# test_ipv6_auto: lab=$LAB_PREFIX"
if ! setup_err=$(lab_create xwan 2>&1); then
	fail "lab setup (XWAN_LAB_V6=1)" "$setup_err"
	exit 1
fi
_fo_state_init
lab_xwan down >/dev/null 2>&1

ra() { lab_isp2 "$LAB_PY" "$LAB_TOOLS/ra.py" --iface cust "$@"; }
for a in $R1 $R2; do lab_isp2 ip -6 addr add "$a/64" dev cust nodad; done
# json6 GW KEY: the ipv6 object's KEY of GW in xwan status --json
json6() { lab_xwan status --json 2>/dev/null | "$LAB_PY" -c '
import json, sys
g = [x for x in json.load(sys.stdin)["gateways"] if x["name"] == sys.argv[1]][0]
print(g["ipv6"][sys.argv[2]] if g["ipv6"] else "none")' "$1" "$2"; }
json4() { lab_xwan status --json 2>/dev/null | "$LAB_PY" -c '
import json, sys
print([x for x in json.load(sys.stdin)["gateways"] if x["name"] == sys.argv[1]][0][sys.argv[2]])' "$1" "$2"; }
wait_json6() { # GW KEY VALUE TIMEOUT_S
	local end=$((SECONDS + $4))
	until [ "$(json6 "$1" "$2")" = "$3" ]; do
		((SECONDS >= end)) && return 1
		sleep 0.1
	done
}
# split: "isp1 isp2 ok" of 40 IPv6 TCP connections (NPT: the source tells the WAN)
split6() {
	lab_py "$LAB_NS_CLIENT" client --server "$LAB_SERVER6" tcp-whoami --count 40 \
		--bind fd00:1::2 --bind fd00:1::3 2>/dev/null | "$LAB_PY" -c '
import ipaddress, json, sys
d = json.load(sys.stdin); n = [0, 0]
for a, c in d["by_addr"].items():
    ip = ipaddress.ip_address(a)
    for i, net in enumerate(sys.argv[1:3]):
        n[i] += c if ip in ipaddress.ip_network(net) else 0
print(n[0], n[1], d["ok"])' "$LAB_NPT1_OUT" "$LAB_NPT2_OUT"
}
ra_route() { lab_gw ip -6 route show default dev wan2 proto ra 2>/dev/null; }

# lab-v6.yaml, isp2 with gateway6: auto (its IPv6 probes go to the learned next hop).
cfg=$FO_DIR/v6-auto.yaml
sed -e "s/^    gateway6: $LAB_ISP2_GW6$/    gateway6: auto/" -e "/monitor: {targets6:/d" \
    -e "s/^    weight: \([0-9]*\)$/    weight: \1\n    monitor: $FO_FAST_MONITOR/" \
    "$XWAN_LAB_CONFIG" >"$cfg"
echo "metrics: {listen: \"$FO_METRICS_LISTEN\"}" >>"$cfg"
grep -q "gateway6: auto" "$cfg" || { fail "config with gateway6: auto" "$(cat "$cfg")"; exit 1; }

# --- 0. accept_ra --------------------------------------------------------------------
lab_gw sysctl -qw net.ipv6.conf.wan2.accept_ra=0
c=$(lab_xwan check -c "$cfg" 2>&1)
check "0 xwan check warns: wan2 (forwarding) learns no RA default route with accept_ra 0" "$c" \
	grep -q "gateway6: auto: wan2 learns no default route from router advertisements" <<<"$c"
lab_gw sysctl -qw net.ipv6.conf.wan2.accept_ra=2
c=$(lab_xwan check -c "$cfg" 2>&1)
check "0 control: with accept_ra=2 no such warning" "$c" \
	bash -c '! grep -q "router advertisements" <<<"$1" && grep -q ": ok" <<<"$1"' _ "$c"

if ! fo_agent_start "$cfg"; then
	fail "xwan run -c $cfg" "$(tail -n 20 "$FO_AGENT_LOG")"
	exit 1
fi
fo_wait_status isp1 online 30
fo_wait_status isp2 online 30
wait_json6 isp1 status online 30

# --- 1. no RA yet ----------------------------------------------------------------------
s="$(json6 isp2 status) / $(json6 isp2 reason) / ipv4 $(json4 isp2 status)"
check "1a before any RA: isp2 down for IPv6 (no IPv6 gateway), online for IPv4" "$s" \
	[ "$s" = "down / no IPv6 gateway / ipv4 online" ]
read -r n1 n2 ok <<<"$(split6)"
check "1b 40 IPv6 connections all by isp1 (isp2 has no IPv6 next hop)" "isp1=$n1 isp2=$n2 ok=$ok" \
	[ "$ok" = 40 -a "$n1" = 40 ]

# --- 2. the router advertises ----------------------------------------------------------
mark=$(fo_log_lines)
t0=$(fo_now)
ra --src "$R1" --lifetime 600
r=$(ra_route)
check "2a the gw's kernel learned \"default via $R1 dev wan2 proto ra\" from the RA" "$r" \
	grep -q "via $R1 " <<<"$r"
wait_json6 isp2 gateway "$R1" 20
wait_json6 isp2 status online 30
info "isp2 online for IPv6 $(fo_elapsed "$t0") s after the RA"
s="$(json6 isp2 status) $(json6 isp2 gateway) auto=$(json6 isp2 gateway_auto) sent=$(json6 isp2 probes_sent)"
check "2b xwan status: isp2 online for IPv6 via the learned $R1 (gateway_auto), probed" "$s" \
	bash -c '[[ $1 == "online $2 auto=True sent="[1-9]* ]]' _ "$s" "$R1"
l=$(fo_log_grep "$mark" "gateway isp2: IPv6 next hop none -> $R1")
check "2c the agent logged the learned next hop" "$l" [ -n "$l" ]
read -r m1 m2 ok <<<"$(split6)"
check "2d 40 IPv6 connections now use both WANs (control: 1b, none by isp2 without the RA)" \
	"isp1=$m1 isp2=$m2 ok=$ok" [ "$ok" = 40 -a "${m1:-0}" -gt 0 -a "${m2:-0}" -gt 0 ]

# The status page's history: isp2's IPv6 side is a series of its own, not online
# (down 3 or pending 0) before the RA and online (1) now; its IPv4 one online.
hist=$(lab_gw "$LAB_PY" -c '
import json, sys, urllib.request
d = json.load(urllib.request.urlopen("http://%s/api/history?gateway=isp2" % sys.argv[1], timeout=5))
st = {g["family"]: [p[8] for p in g["points"]] for g in d["gateways"]}
v6, v4 = st.get("ipv6", []), st.get("ipv4", [])
print("v6:%s%s v4:%s" % ("not-online" if set(v6) & {0, 3} else "-",
                         "->online" if v6 and v6[-1] == 1 else "",
                         "online" if v4 and v4[-1] == 1 else "?"))' "$FO_METRICS_LISTEN" 2>&1)
check "2e /api/history: isp2's IPv6 series went from not online to online, its IPv4 one is online" \
	"$hist" [ "$hist" = "v6:not-online->online v4:online" ]

# --- 3. another router takes over --------------------------------------------------------
mark=$(fo_log_lines)
ra --src "$R2" --lifetime 600
ra --src "$R1" --lifetime 0
r=$(ra_route)
check "3a the kernel's RA default route is via $R2 only now" "$r" \
	bash -c 'grep -q "via $2 " <<<"$1" && ! grep -q "via $3 " <<<"$1"' _ "$r" "$R2" "$R1"
wait_json6 isp2 gateway "$R2" 20
lab_isp2 nft -f - <<-EOF
	table inet v6auto {
		counter to_r2 { }
		chain input { type filter hook input priority 0; ip6 daddr $R2 icmpv6 type echo-request counter name "to_r2"; }
	}
EOF
wait_json6 isp2 status online 30
c0=$(lab_nft_counter "$LAB_NS_ISP2" inet v6auto to_r2)
lab_poll 10 bash -c '[ "$(ip netns exec "$1" nft list counter inet v6auto to_r2 | awk "\$1 == \"packets\" { print \$2 }")" -gt "$2" ]' _ "$LAB_NS_ISP2" "${c0:-0}"
c1=$(lab_nft_counter "$LAB_NS_ISP2" inet v6auto to_r2)
s="$(json6 isp2 status) $(json6 isp2 gateway)"
check "3b xwan status: isp2 online for IPv6 via $R2, which gets the probes ($c0 -> $c1 echo requests)" \
	"$s" [ "$s" = "online $R2" -a "${c1:-0}" -gt "${c0:-0}" ]
l=$(fo_log_grep "$mark" "gateway isp2: IPv6 next hop $R1 -> $R2")
check "3c the agent logged the change of next hop" "$l" [ -n "$l" ]
read -r m1 m2 ok <<<"$(split6)"
check "3d 40 IPv6 connections still use both WANs" "isp1=$m1 isp2=$m2 ok=$ok" \
	[ "$ok" = 40 -a "${m1:-0}" -gt 0 -a "${m2:-0}" -gt 0 ]

# --- 4. the last router withdraws --------------------------------------------------------
t0=$(fo_now)
ra --src "$R2" --lifetime 0
wait_json6 isp2 status down 30
info "isp2 down for IPv6 $(fo_elapsed "$t0") s after the withdrawal"
s="$(json6 isp2 status) / $(json6 isp2 reason) / route: $(ra_route) / ipv4 $(json4 isp2 status)"
check "4a no RA default route left: isp2 down for IPv6 (no IPv6 gateway), still online for IPv4" "$s" \
	[ "$s" = "down / no IPv6 gateway / route:  / ipv4 online" ]
read -r m1 m2 ok <<<"$(split6)"
check "4b 40 IPv6 connections all by isp1 again" "isp1=$m1 isp2=$m2 ok=$ok" [ "$ok" = 40 -a "$m1" = 40 ]

echo "# test_ipv6_auto: $NPASS passed, $NFAIL failed"
[ "$NFAIL" = 0 ]
