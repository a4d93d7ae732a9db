#!/bin/bash
# tests/e2e/test_nat_all.sh - nothing leaves un-NATed (issue 9, findings 5
# and 8), in the namespace lab (tests/e2e/lab.sh). Needs root.
#
#   1. GRE and ESP from a LAN host reach the internet host from a WAN
#      address, and its replies come back (NAT by address only);
#   2. the ISPs' `spoofed` and inet's `lan_leak` counters stay 0 throughout;
#   3. a packet from the gw with a 10.x source is dropped as it leaves a WAN
#      (untranslated_lan_source); control: the same packet sent past every
#      egress program (PACKET_QDISC_BYPASS) is caught by isp1's counter, so
#      the counters that stay 0 above could have counted;
#   4. traceroute from the LAN with the gw's main-table default route removed
#      shows the gw at hop 1 and reaches the server; control: the same with
#      xwan's LAN tc program (which marks TTL-1 packets for their flow's WAN)
#      detached gets no Time Exceeded at hop 1 (the kernel finds no route).
#
# Every check prints "PASS: <what>" or "FAIL: <what> (<evidence>)".

set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"

MODE=${XWAN_E2E_MODE:-xwan}
M_UNTRANSLATED='xwan_packets_total{verdict="drop",reason="untranslated_lan_source"}'
WAN_ADDRS="$LAB_WAN1_IP $LAB_WAN2_IP"
PROTO_GRE=47
PROTO_ESP=50

metric() { lab_xwan stats 2>/dev/null | "$LAB_PY" "$LAB_TOOLS/promval.py" "$1"; }
jget() { "$LAB_PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
counters() { echo "isp1.spoofed=$(lab_spoof_isp1) isp2.spoofed=$(lab_spoof_isp2) inet.lan_leak=$(lab_leak_inet)"; }
counters_zero() { [ "$(counters)" = "isp1.spoofed=0 isp2.spoofed=0 inet.lan_leak=0" ]; }
mac_of() { ip -n "$1" -br link show dev "$2" | awk '{print $3}'; }
all_wan_addrs() { # every word of $1 is a WAN address, and there is one
	local a n=0
	for a in $1; do
		case " $WAN_ADDRS " in *" $a "*) n=$((n + 1)) ;; *) return 1 ;; esac
	done
	[ "$n" -gt 0 ]
}

if [ "$MODE" != xwan ]; then
	echo "SKIP: test_nat_all (xwan-only, mode=$MODE: the kernel baseline has no such drops)"
	exit 0
fi
lab_init_names "${XWAN_LAB_PREFIX:-na$$}"
e2e_traps lab_destroy

echo "# test_nat_all: lab=$LAB_PREFIX"
if ! setup_err=$(lab_create xwan 2>&1); then
	fail "lab setup" "$setup_err"
	exit 1
fi
[ -n "$setup_err" ] && echo "$setup_err" | sed 's/^/  /'

# --- 1. GRE and ESP from the LAN, NATed by address ------------------------------
for proto in $PROTO_GRE $PROTO_ESP; do
	lab_inet "$LAB_PY" "$LAB_TOOLS/rawproto.py" serve --proto $proto --addr "$LAB_SERVER" \
		</dev/null >"$LAB_LOG/rawserve-$proto.log" 2>&1 &
done
t_addr_only() {
	local proto=$1 name=$2 id=$3 res n seen
	res=$(lab_client timeout 30 "$LAB_PY" "$LAB_TOOLS/rawproto.py" ping --proto "$proto" \
		--dst "$LAB_SERVER" --count 5 --marker "XW-$name-$$" 2>&1)
	n=$(jget "$res" 'd["replies"]')
	seen=$(jget "$res" '" ".join(d["seen_by_server"])')
	info "$name: $res"
	check "$id $name from $LAB_CLIENT_IP reaches $LAB_SERVER from a WAN address, 5/5 replies come back" \
		"replies=${n:-?}/5, server saw: ${seen:-nothing}; $res; server log: $(tail -n 3 "$LAB_LOG/rawserve-$proto.log")" \
		[ "${n:-0}" = 5 ] && all_wan_addrs "$seen"
	check "${id}b after $name: ISP anti-spoof counters and inet 10/8 counter are 0" \
		"$(counters); $(lab_drop_evidence)" counters_zero
	res=$(lab_xwan flows --json --client "$LAB_CLIENT_IP" 2>&1)
	n=$("$LAB_PY" -c '
import json, sys
d, wans, p = json.loads(sys.argv[1]), sys.argv[2].split(), sys.argv[3]
print(sum(1 for f in d if f["proto"] == p and f["client"] == sys.argv[4] and f["nat"] in wans
          and f["remote"] == sys.argv[5] and f["answered"]))' "$res" "$WAN_ADDRS" \
		"$(tr '[:upper:]' '[:lower:]' <<<"$name")" "$LAB_CLIENT_IP" "$LAB_SERVER" 2>&1)
	check "${id}c xwan flows shows one answered $name flow $LAB_CLIENT_IP -> $LAB_SERVER NATed to a WAN address, without ports" \
		"matching flows: $n; $(head -c 400 <<<"$res")" [ "$n" = 1 ]
}
lab_poll 10 lab_count_ge 2 sh -c "ip netns pids $LAB_NS_INET | wc -l"
sleep 0.5
t_addr_only $PROTO_GRE GRE 1a
t_addr_only $PROTO_ESP ESP 1d

# --- 2. a 10.x source from the gw is dropped leaving the WAN -----------------------
t_untranslated() {
	local u0 u1 s0 s1 res
	u0=$(metric "$M_UNTRANSLATED")
	s0=$(lab_spoof_isp1)
	res=$(lab_gw timeout 20 "$LAB_PY" "$LAB_TOOLS/rawproto.py" send --proto $PROTO_GRE \
		--src "$LAB_CLIENT_IP" --dst "$LAB_SERVER" --marker "XW-LEAK-$$" --count 3 2>&1)
	sleep 0.5
	u1=$(metric "$M_UNTRANSLATED")
	s1=$(lab_spoof_isp1)
	info "gw sends GRE from $LAB_CLIENT_IP: $res; $M_UNTRANSLATED ${u0:-?} -> ${u1:-?}; isp1 spoofed $s0 -> $s1"
	check "2a GRE from $LAB_CLIENT_IP sent by the gw's own stack is dropped leaving the WAN (untranslated_lan_source +3), isp1 sees none" \
		"$M_UNTRANSLATED ${u0:-missing} -> ${u1:-missing}; isp1 spoofed $s0 -> $s1; $res" \
		[ "$(( ${u1:-0} - ${u0:-0} ))" -ge 3 -a "$s0" = "$s1" ]
	check "2b ISP anti-spoof counters and inet 10/8 counter are still 0" \
		"$(counters); $(lab_drop_evidence)" counters_zero
}
t_untranslated

# --- 3. traceroute without a main-table default route ------------------------------
trace() { # flags...: traceroute from the client, checked like test_forwarding's
	local out
	out=$(lab_client timeout 120 traceroute -n "$@" -w 2 -m 6 "$LAB_SERVER" 2>&1)
	echo "$("$LAB_PY" "$LAB_TOOLS/tracecheck.py" --hop 1="$LAB_GW_LAN" \
		--hop 2="$LAB_ISP1_GW,$LAB_ISP2_GW" --last "$LAB_SERVER" --hops 3 <<<"$out" 2>&1); $out"
}
t_traceroute() {
	local res flag name id
	lab_gw ip route del default
	info "gw main table now: $(lab_gw ip route show | tr '\n' ';')"
	for flag in "" -I; do
		name=UDP id=3a
		[ "$flag" = -I ] && name="ICMP (-I)" id=3b
		# shellcheck disable=SC2086  # no flag or one
		res=$(trace $flag)
		check "$id traceroute $name with no default route in the gw's main table: $LAB_GW_LAN at hop 1, then an ISP, then $LAB_SERVER" \
			"$res" grep -q '^ok' <<<"$res"
	done
	check "3c after the traceroutes: ISP anti-spoof counters and inet 10/8 counter are 0" \
		"$(counters); $(lab_drop_evidence)" counters_zero
	# Control: without the LAN tc program the TTL-1 probe reaches the
	# kernel unmarked, which finds no route: no Time Exceeded at hop 1.
	lab_gw tc filter del dev lan0 ingress
	res=$(trace)
	check "3d control: with xwan's tc program detached from lan0 ingress the same traceroute fails at hop 1" \
		"$res" hop1_failed "$res"
}
hop1_failed() { ! grep -q '^ok' <<<"$1" && grep -q '^hop 1:' <<<"$1"; }
t_traceroute

# --- 4. control: the counters do count a leak ----------------------------------------
t_control() {
	local s0 s1
	s0=$(lab_spoof_isp1)
	lab_gw timeout 20 "$LAB_PY" "$LAB_TOOLS/rawproto.py" leak --iface wan1 \
		--dst-mac "$(mac_of "$LAB_NS_ISP1" cust)" --src "$LAB_CLIENT_IP" --dst "$LAB_SERVER" \
		--proto $PROTO_GRE --marker "XW-CTRL-$$" --count 3 --bypass
	lab_poll 5 lab_count_ge $((s0 + 3)) lab_spoof_isp1
	s1=$(lab_spoof_isp1)
	check "4 control: the same GRE from $LAB_CLIENT_IP written past wan1's egress programs is counted by isp1 as spoofed (+3)" \
		"isp1 spoofed $s0 -> $s1; $(lab_drop_evidence)" [ "$((s1 - s0))" -ge 3 ]
}
t_control

echo "# test_nat_all: $NPASS pass, $NFAIL fail"
[ "$NFAIL" = 0 ]
