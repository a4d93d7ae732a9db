#!/bin/bash
# tests/e2e/test_relink.sh - interfaces that come and go, with the agent
# (`xwan run`) running and no signal sent to it:
#   - wan1 deleted and re-created under the same name (a new ifindex), as a
#     PPPoE reconnect or a replugged LTE modem does: re-attached (XDP, tc),
#     its table's routes back, isp1 online again and carrying new
#     connections by themselves once the interface is back;
#   - wan2 set down and up: its routes (which the kernel removed) back and
#     traffic through it by themselves;
#   - lan0 set down and up: traffic resumes by itself;
#   - the agent started (fresh, no dataplane yet) while wan2 does not exist:
#     isp2 down with "no interface", isp1 carries every connection from the
#     start; wan2 created and addressed joins by itself (attached, routed,
#     online) and carries new connections.
# Needs root. Prints PASS:/FAIL: lines; exit 1 if any check failed.
set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"
# shellcheck source=tests/e2e/failover_lib.sh
. "$E2E_DIR/failover_lib.sh"

TABLE_BASE=30839            # route_table_base default (0x7877): isp1's table, +1 isp2's
counters() { echo "isp1.spoofed=$(lab_spoof_isp1) isp2.spoofed=$(lab_spoof_isp2) inet.lan_leak=$(lab_leak_inet)"; }
counters_zero() { [ "$(counters)" = "isp1.spoofed=0 isp2.spoofed=0 inet.lan_leak=0" ]; }
xdp_on() { lab_gw ip -d link show dev "$1" 2>/dev/null | grep -q 'prog/xdp'; }
tc_on() { lab_gw tc filter show dev "$1" ingress 2>/dev/null | grep -q 'tc_wan_ingress\|tc_lan_ingress'; }
table_default() { lab_gw ip route show table "$1" 2>/dev/null | grep -q "^default via $2 dev $3"; }
# attempts of the prober (one TCP connection every 50 ms) begun after T that
# the server saw from ADDR: prints the start of the first one
first_via() { # FILE T ADDR
	"$LAB_PY" -c '
import json, sys
t, a = float(sys.argv[2]), sys.argv[3]
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["t"] >= t and r["ok"] and r["addr"] == a:
        print("%.3f" % r["t"]); sys.exit(0)
sys.exit(1)' "$@"
}
seen_via() { first_via "$@" >/dev/null; }
after() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
# Recovery is asserted to happen by itself (seen before the polls give up);
# how long it took is printed, never asserted (timing is make bench's job).
seen_in_time() { le "$1" 20; }
# the predicates of the checks
none_via_while_gone() { ! first_via "$PROBES" "$t_gone" "$LAB_WAN1_IP" >/dev/null || le "$t_back" "$(first_via "$PROBES" "$t_gone" "$LAB_WAN1_IP")"; }
wan1_reattached() { xdp_on wan1 && tc_on wan1 && table_default "$TABLE_BASE" "$LAB_ISP1_GW" wan1 && seen_in_time "$(after "$t_back" "$t_attached")"; }
agent_logged_reattach() { fo_log_since "$FO_LOG_MARK" | grep -q "re-attached"; }
wan2_unrouted() { ! table_default $((TABLE_BASE + 1)) "$LAB_ISP2_GW" wan2; }
wan2_back() { table_default $((TABLE_BASE + 1)) "$LAB_ISP2_GW" wan2 && seen_in_time "$(after "$t_up" "$t_first")"; }
lan_xdp() { lab_gw ip -d link show dev lan0 | grep -o 'prog/xdp id [0-9]*'; }
none_ok_between() { # FILE FROM TO: no connection completed between FROM and TO
	"$LAB_PY" -c '
import json, sys
a, b = float(sys.argv[2]), float(sys.argv[3])
sys.exit(any(r["ok"] and a <= r["end"] <= b for r in map(json.loads, open(sys.argv[1]))))' "$@"
}
lan_back() { [ "$lan_id" = "$(lan_xdp)" ] && seen_in_time "$(after "$t_up" "$t_first")"; }

lab_init_names "${XWAN_LAB_PREFIX:-xr$$}"
e2e_traps 'fo_prober_stop 2>/dev/null; fo_agent_stop; lab_destroy'
echo "# test_relink: lab=$LAB_PREFIX"
if ! setup_err=$(lab_create xwan 2>&1); then
	fail "lab setup" "$setup_err"
	exit 1
fi
cfg=$(fo_config fast "" relink)
if ! fo_agent_start "$cfg"; then
	fail "xwan run starts" "$(tail -n 5 "$FO_AGENT_LOG")"
	exit 1
fi
fo_wait_status isp1 online 30 && fo_wait_status isp2 online 30
PROBES=$FO_DIR/relink-attempts.jsonl
fo_prober_start "$PROBES"

# --- 1. wan1 deleted and re-created under its name ------------------------------------------
old_idx=$(lab_gw cat /sys/class/net/wan1/ifindex)
lab_gw ip link del wan1
fo_wait_status isp1 down 10 >/dev/null
t_gone=$(fo_now)
sleep 1
ip -n "$LAB_NS_GW" link add name wan1 type veth peer name cust netns "$LAB_NS_ISP1"
lab_isp1 ip addr add "$LAB_ISP1_GW/24" dev cust
lab_isp1 ethtool -K cust gro on tx off >/dev/null
lab_isp1 ip link set cust up
lab_gw ip addr add "$LAB_WAN1_IP/24" dev wan1
lab_gw ip link set wan1 up
t_back=$(fo_now)
# the host's own main-table default went with the link (pppd or ifupdown
# would put it back); xwan's per-WAN table is its own business
lab_gw ip route replace default via "$LAB_ISP1_GW" dev wan1
new_idx=$(lab_gw cat /sys/class/net/wan1/ifindex)
lab_poll 15 xdp_on wan1
lab_poll 15 table_default "$TABLE_BASE" "$LAB_ISP1_GW" wan1
t_attached=$(fo_now)
fo_wait_status isp1 online 15 >/dev/null
t_online=$FO_SEEN_AT
lab_poll 15 seen_via "$PROBES" "$t_back" "$LAB_WAN1_IP"
t_first=$(first_via "$PROBES" "$t_back" "$LAB_WAN1_IP" || echo 9e9)
info "wan1 ifindex $old_idx -> $new_idx; attached+routed $(after "$t_back" "$t_attached") s, online $(after "$t_back" "$t_online") s, first connection via isp1 $(after "$t_back" "$t_first") s after it was back"
check "1a control: while wan1 was gone no connection went through isp1" "$(first_via "$PROBES" "$t_gone" "$LAB_WAN1_IP")" \
	none_via_while_gone
check "1b re-created wan1 (ifindex $new_idx) has XDP and tc again, and its table's default route, by itself" \
	"xdp=$(xdp_on wan1 && echo yes) tc=$(tc_on wan1 && echo yes) table: $(lab_gw ip route show table $TABLE_BASE | tr '\n' ';') after $(after "$t_back" "$t_attached") s" \
	wan1_reattached
check "1c isp1 is online again by itself and carries new connections" \
	"online after $(after "$t_back" "$t_online") s, first connection via $LAB_WAN1_IP after $(after "$t_back" "$t_first") s; $(fo_status isp1)" \
	seen_in_time "$(after "$t_back" "$t_first")"
check "1d the agent logged the re-attach (no signal was sent)" "$(fo_log_since "$FO_LOG_MARK" | tail -n 5)" \
	agent_logged_reattach

# --- 2. wan2 down and up -------------------------------------------------------------------------
lab_gw ip link set wan2 down
fo_wait_status isp2 down 10 >/dev/null
check "2a control: wan2 down removed the default route of its table" \
	"$(lab_gw ip route show table $((TABLE_BASE + 1)) | tr '\n' ';')" \
	wan2_unrouted
lab_gw ip link set wan2 up
t_up=$(fo_now)
lab_poll 15 table_default $((TABLE_BASE + 1)) "$LAB_ISP2_GW" wan2
t_routed=$(fo_now)
lab_poll 15 seen_via "$PROBES" "$t_up" "$LAB_WAN2_IP"
t_first=$(first_via "$PROBES" "$t_up" "$LAB_WAN2_IP" || echo 9e9)
info "wan2 up: routed after $(after "$t_up" "$t_routed") s, first connection via isp2 $(after "$t_up" "$t_first") s"
check "2b wan2 back up: its route back and new connections through it" \
	"routed after $(after "$t_up" "$t_routed") s, via isp2 after $(after "$t_up" "$t_first") s; $(fo_status isp2)" \
	wan2_back

# --- 3. lan0 down and up -------------------------------------------------------------------------
lan_id=$(lan_xdp)
lab_gw ip link set lan0 down
t_down_start=$(fo_now)
sleep 0.5
t_down_end=$(fo_now)
lab_gw ip link set lan0 up
t_up=$(fo_now)
lab_poll 15 seen_via "$PROBES" "$t_up" "$LAB_WAN1_IP"
t_first=$(first_via "$PROBES" "$t_up" "$LAB_WAN1_IP" || echo 9e9)
check "3a control: no connection completed while lan0 was down" "" \
	none_ok_between "$PROBES" "$(after -0.1 "$t_down_start")" "$t_down_end"
check "3b lan0 down and up: same XDP program, connections resume" \
	"xdp before: $lan_id, after: $(lan_xdp); first after $(after "$t_up" "$t_first") s" \
	lan_back

# --- 3c. lan0 deleted and re-created ---------------------------------------------------------------
lab_gw ip link del lan0
sleep 0.3
ip -n "$LAB_NS_CLIENT" link add name eth0 type veth peer name lan0 netns "$LAB_NS_GW"
for a in $LAB_CLIENT_IPS; do lab_client ip addr add "$a/24" dev eth0; done
lab_client ethtool -K eth0 gro on tx off >/dev/null
lab_client ip link set eth0 up
lab_client ip route add default via "$LAB_GW_LAN"
lab_gw ip addr add "$LAB_GW_LAN/24" dev lan0
lab_gw ip link set lan0 up
t_up=$(fo_now)
lab_poll 15 seen_via "$PROBES" "$t_up" "$LAB_WAN1_IP"
t_first=$(first_via "$PROBES" "$t_up" "$LAB_WAN1_IP" || echo 9e9)
check "3c lan0 deleted and re-created: XDP on the new lan0, connections resume" \
	"xdp: $(lan_xdp); first after $(after "$t_up" "$t_first") s" \
	bash -c '[ -n "$1" ] && awk -v d="$2" "BEGIN { exit !(d <= 20) }"' _ "$(lan_xdp)" "$(after "$t_up" "$t_first")"

# --- 3d. a target loses its XDP transmit: the agent moves it to the kernel path ---------------
# A veth transmits XDP frames only while its peer runs XDP or GRO: turn GRO
# off at the client's end and lan0 loses it (the kernel says so).
lan_out() { lab_xwan status 2>/dev/null | grep -E '^lan +lan0 ' | grep -oE 'xdp redirect|kernel' | head -n 1; }
lan_out_is() { [ "$(lan_out)" = "$1" ]; }
lab_client ethtool -K eth0 gro off >/dev/null
t0=$(fo_now)
lab_poll 15 lan_out_is kernel
t1=$(fo_now)
p=$(lab_client timeout 30 ping -n -q -c 20 -i 0.05 -W 1 "$LAB_SERVER" 2>&1 | grep -o '[0-9.]*% packet loss')
check "3d lan0's peer without GRO: the agent moves XDP's replies into lan0 to the kernel path by itself, 0% loss then" \
	"out: $(lan_out) after $(after "$t0" "$t1") s; $p; $(fo_log_since "$FO_LOG_MARK" | grep 'paths changed' | tail -n 1)" \
	bash -c '[ "$1" = kernel ] && awk -v d="$2" "BEGIN { exit !(d <= 20) }" && [ "$3" = "0% packet loss" ]' _ "$(lan_out)" "$(after "$t0" "$t1")" "$p"
lab_client ethtool -K eth0 gro on >/dev/null
lab_poll 15 lan_out_is "xdp redirect"
check "3e GRO back on: XDP redirects into lan0 again" "out: $(lan_out)" lan_out_is "xdp redirect"

fo_prober_stop
check "4 ISP anti-spoof counters and inet 10/8 counter are 0" "$(counters)" counters_zero
# (written past wan1's egress programs: xwan itself drops un-NATed LAN sources there)
lab_gw "$LAB_PY" "$LAB_TOOLS/rawproto.py" leak --iface wan1 --bypass --proto 47 \
	--dst-mac "$(ip -n "$LAB_NS_ISP1" -br link show dev cust | awk '{print $3}')" \
	--src "$LAB_GW_LAN" --dst "$LAB_SERVER" --marker "XW-CTRL-$$" --count 1
lab_poll 5 lab_count_ge 1 lab_spoof_isp1
check "5 control: a LAN-sourced packet sent unNATed out of wan1 is counted by isp1's anti-spoof rule" \
	"$(counters)" [ "$(lab_spoof_isp1)" -ge 1 ]

# --- 6. the agent started while wan2 does not exist at all ----------------------------------------
# A fresh start (no dataplane yet), as at boot before a USB modem is there.
s_before=$(counters)
fo_agent_stop
lab_xwan down >/dev/null 2>&1
lab_gw ip link del wan2     # cust in isp2 goes with it
FO_LOG_MARK6=$(fo_log_lines)
if ! fo_agent_start "$cfg"; then
	fail "6a xwan run starts while wan2 does not exist" "$(fo_log_since "$FO_LOG_MARK6" | tail -n 5)"
else
	t_start=$(fo_now)
	PROBES6=$FO_DIR/relink-missing.jsonl
	fo_prober_start "$PROBES6"
	sleep 1.5
	t_create=$(fo_now)
	only_via_from() { # FILE FROM TO ADDR: every attempt begun between FROM and TO ok via ADDR, and some
		"$LAB_PY" -c '
import json, sys
a, b, addr = float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
rs = [r for r in map(json.loads, open(sys.argv[1])) if a <= r["t"] <= b]
sys.exit(not rs or any(not r["ok"] or r["addr"] != addr for r in rs))' "$@"
	}
	attempts() { "$LAB_PY" -c '
import collections, json, sys
a, b = float(sys.argv[2]), float(sys.argv[3])
c = collections.Counter(r["addr"] if r["ok"] else "failed" for r in map(json.loads, open(sys.argv[1])) if a <= r["t"] <= b)
print(" ".join("%s=%d" % kv for kv in sorted(c.items())))' "$@"; }
	check "6a the agent started with wan2 missing: isp2 is down, reason \"no interface\"" \
		"isp2: $(fo_status isp2); $(fo_log_since "$FO_LOG_MARK6" | grep isp2 | tail -n 2)" \
		eval '[[ $(fo_status isp2) =~ ^down\ no\ .*no\ interface ]]'
	check "6b isp1 carried every connection from the start (attempts in the first 1.5 s: $(attempts "$PROBES6" "$t_start" "$t_create"))" \
		"$(attempts "$PROBES6" "$t_start" "$t_create")" only_via_from "$PROBES6" "$t_start" "$t_create" "$LAB_WAN1_IP"
	# wan2 arrives (created, addressed, up), and no signal is sent
	ip -n "$LAB_NS_GW" link add name wan2 type veth peer name cust netns "$LAB_NS_ISP2"
	lab_isp2 ip addr add "$LAB_ISP2_GW/24" dev cust
	lab_isp2 ethtool -K cust gro on tx off >/dev/null
	lab_isp2 ip link set cust up
	lab_gw ip addr add "$LAB_WAN2_IP/24" dev wan2
	lab_gw ip link set wan2 up
	t_back=$(fo_now)
	fo_wait_status isp2 online 10 >/dev/null
	t_online=${FO_SEEN_AT:-9e9}
	lab_poll 10 seen_via "$PROBES6" "$t_back" "$LAB_WAN2_IP"
	t_first=$(first_via "$PROBES6" "$t_back" "$LAB_WAN2_IP" || echo 9e9)
	fo_prober_stop
	info "wan2 created: online $(after "$t_back" "$t_online") s, first connection via isp2 $(after "$t_back" "$t_first") s after; attempts since: $(attempts "$PROBES6" "$t_back" 9e9)"
	check "6c wan2 created and addressed: isp2 online by itself (no signal), XDP and tc on wan2, its table's default route" \
		"isp2: $(fo_status isp2); xdp=$(xdp_on wan2 && echo yes) tc=$(tc_on wan2 && echo yes); table: $(lab_gw ip route show table $((TABLE_BASE + 1)) | tr '\n' ';')" \
		eval '[[ $(fo_status isp2) =~ ^online ]] && xdp_on wan2 && tc_on wan2 && table_default $((TABLE_BASE + 1)) "$LAB_ISP2_GW" wan2'
	check "6d new connections go through the new wan2 ($LAB_WAN2_IP)" \
		"attempts since: $(attempts "$PROBES6" "$t_back" 9e9)" seen_via "$PROBES6" "$t_back" "$LAB_WAN2_IP"
	check "6e the ISPs' anti-spoof counters did not move in 6 (before: $s_before)" "now: $(counters)" \
		[ "$(counters)" = "$s_before" ]
fi

echo "# test_relink: $NPASS pass, $NFAIL fail"
[ "$NFAIL" = 0 ]
