#!/bin/bash
# tests/e2e/test_forwarding.sh - end-to-end dataplane test of xwan in the
# namespace lab (tests/e2e/lab.sh). Needs root.
#
#   tests/e2e/test_forwarding.sh                  # against build/xwan
#   XWAN_E2E_MODE=kernel tests/e2e/test_forwarding.sh
#       against the plain-Linux baseline (multipath route + nft masquerade);
#       the xwan-only checks are reported as SKIP, nothing else is skipped.
#   XWAN_LAB_BREAK=nomasq XWAN_E2E_MODE=kernel tests/e2e/test_forwarding.sh
#       a deliberately broken baseline (see lab.sh): checks must FAIL.
#   XWAN_LAB_KEEP_LOGS=DIR   copy the lab's logs (xwan up/down, servers) there
#
# Every check prints "PASS: <what>", "FAIL: <what> (<evidence>)" or, in
# kernel mode only, "SKIP: <what> (...)". Exit status 1 if any check failed.

set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"

MODE=${XWAN_E2E_MODE:-xwan}

# --- names that may change with xwan (keep them here) -----------------------
M_GW_OUT_ISP1='xwan_gateway_packets_total{gateway="isp1",direction="out"}'
# (no hook label: promval.py sums the samples of every hook, xdp_lan,
# xdp_wan, tc_..., whatever the hooks are called)
M_UNSOLICITED='xwan_packets_total{verdict="drop",reason="unsolicited"}'
M_SPOOFED='xwan_packets_total{verdict="drop",reason="spoofed_source"}'
FLOWS_MAP=flows             # pinned as $LAB_PIN_DIR/$FLOWS_MAP
FLOWS_BTF_FIELDS="saddr"    # field names that must appear in its BTF dump

# evidence: one line, bounded
skip() { echo "SKIP: $1 (xwan-only, mode=$MODE)"; NSKIP=$((NSKIP + 1)); }
xwan_mode() { [ "$MODE" = xwan ]; }
# increased A B: both numbers present and B > A (integers or floats)
increased() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(b + 0 > a + 0) }'; }
# jq-like access to one JSON document with a Python expression over d
jget() { "$LAB_PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
# sum of an xwan metric (promval.py semantics); empty when missing
metric() { lab_xwan stats 2>/dev/null | "$LAB_PY" "$LAB_TOOLS/promval.py" "$1"; }
mac_of() { ip -n "$1" -br link show dev "$2" | awk '{print $3}'; }
client_py() { timeout 180 ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/client.py" "$@"; }
counters() { echo "isp1.spoofed=$(lab_spoof_isp1) isp2.spoofed=$(lab_spoof_isp2) inet.lan_leak=$(lab_leak_inet)"; }
counters_ev() { # counters, and (once nflog delivered them) the dropped packets
	local c n
	c=$(counters)
	n=$(echo "$c" | grep -o '=[0-9]*' | tr -d = | awk '{ s += $1 } END { print (s > 3 ? 3 : s) }')
	[ "$n" -gt 0 ] && lab_poll 5 lab_count_ge "$n" drop_lines
	echo "$c; dropped: $(lab_drop_evidence)"
}
drop_lines() { lab_drop_evidence | wc -l; }
counters_zero() { [ "$(counters)" = "isp1.spoofed=0 isp2.spoofed=0 inet.lan_leak=0" ]; }

case $MODE in
kernel | xwan) ;;
*) fail "e2e mode" "XWAN_E2E_MODE=$MODE, want kernel or xwan"; exit 1 ;;
esac

lab_init_names "${XWAN_LAB_PREFIX:-xw$$}"
# A second signal (the terminal's Ctrl-C and timeout(1)'s forwarded copy)
# must not interrupt the cleanup: ignore them once cleanup starts.
e2e_traps lab_destroy

echo "# test_forwarding: mode=$MODE lab=$LAB_PREFIX${XWAN_LAB_BREAK:+ broken=$XWAN_LAB_BREAK}"
if ! setup_err=$(lab_create "$MODE" 2>&1); then
	fail "lab setup ($MODE)" "$setup_err"
	exit 1
fi
[ -n "$setup_err" ] && echo "$setup_err" | sed 's/^/  /'
PCAP=$LAB_STATE/pcap
mkdir -p "$PCAP"
WAN_ADDRS="$LAB_WAN1_IP $LAB_WAN2_IP"
is_wan_addr() { case " $WAN_ADDRS " in *" $1 "*) return 0 ;; esac; return 1; }

# --- 1. ping ------------------------------------------------------------------
t_ping() {
	local out loss
	out=$(lab_client timeout 60 ping -n -q -c 50 -i 0.05 -W 2 "$LAB_SERVER" 2>&1)
	loss=$(grep -o '[0-9.]*% packet loss' <<<"$out")
	check "1 ping client -> $LAB_SERVER: 50 pings, 0% loss" "$loss; $out" \
		[ "$loss" = "0% packet loss" ]
}

# --- 2. 200 TCP connections, 75/25 split, no leaks ----------------------------
t_tcp_split() {
	local before res ok n1 n2 other pct srv1 srv2 srvn
	before=$(wc -l <"$LAB_PEER_LOG")
	res=$(client_py tcp-whoami --count 200 --bind 10.1.0.2 --bind 10.1.0.3 --bind 10.1.0.4)
	ok=$(jget "$res" 'd["ok"]')
	check "2a 200 TCP connections to $LAB_SERVER:8080 from 3 client addresses all succeed" \
		"ok=${ok:-?}; $res" [ "${ok:-0}" = 200 ]

	n1=$(jget "$res" 'd["by_addr"].get("'$LAB_WAN1_IP'", 0)')
	n2=$(jget "$res" 'd["by_addr"].get("'$LAB_WAN2_IP'", 0)')
	other=$(jget "$res" 'sum(v for k, v in d["by_addr"].items() if k not in ("'$LAB_WAN1_IP'", "'$LAB_WAN2_IP'"))')
	# what the server itself logged for these connections
	srv1=$(tail -n +"$((before + 1))" "$LAB_PEER_LOG" | awk -v a="$LAB_WAN1_IP" '$1 == "tcp" && $2 == a' | wc -l)
	srv2=$(tail -n +"$((before + 1))" "$LAB_PEER_LOG" | awk -v a="$LAB_WAN2_IP" '$1 == "tcp" && $2 == a' | wc -l)
	srvn=$(tail -n +"$((before + 1))" "$LAB_PEER_LOG" | awk '$1 == "tcp"' | wc -l)
	pct=$(((${n1:-0} * 100) / (${ok:-0} > 0 ? ${ok:-1} : 1)))
	if [ "${ok:-0}" -gt 0 ] && [ "${other:-1}" = 0 ] && [ "$pct" -ge 60 ] && [ "$pct" -le 90 ] &&
		[ "${n2:-0}" -gt 0 ] && [ "$srv1" = "$n1" ] && [ "$srv2" = "$n2" ] && [ "$srvn" = "$ok" ]; then
		info "isp1 $n1/$ok = $pct%, isp2 $n2 (client and server agree)"
		pass "2b server saw the connections from $LAB_WAN1_IP/$LAB_WAN2_IP about 75/25 (60..90% isp1)"
	else
		fail "2b server saw the connections from $LAB_WAN1_IP/$LAB_WAN2_IP about 75/25 (60..90% isp1)" \
			"client saw isp1=$n1 isp2=$n2 other=$other ($pct% isp1); server logged isp1=$srv1 isp2=$srv2 total=$srvn; $res"
	fi
	check "2c ISP anti-spoof counters and inet 10/8 counter are 0" "$(counters_ev)" counters_zero
}

# --- 3. download ----------------------------------------------------------------
t_download() {
	local res ok
	res=$(client_py fetch --url "$LAB_BLOB_URL" --sha256 "$(cat "$LAB_WWW/blob.sha256")" --parallel 4)
	ok=$(jget "$res" 'd["ok"]')
	check "3 4 parallel downloads of the 8 MiB blob arrive with the right sha256" \
		"ok=${ok:-?}/4; $res" [ "${ok:-0}" = 4 ]
}

# --- 4. UDP request/response ----------------------------------------------------
t_udp() {
	local res ok addrs a bad=""
	res=$(client_py udp-whoami --count 20 --bind 10.1.0.2 --bind 10.1.0.3)
	ok=$(jget "$res" 'd["ok"]')
	addrs=$(jget "$res" '" ".join(sorted(d["by_addr"]))')
	for a in $addrs; do is_wan_addr "$a" || bad="$bad $a"; done
	info "UDP sources seen by the server: $addrs"
	check "4 UDP whoami to :5300: 20/20 answers, the source seen is a WAN address" \
		"ok=${ok:-?}/20 non-WAN:${bad:- none}; $res" \
		[ "${ok:-0}" = 20 -a -z "$bad" -a -n "$addrs" ]
}

# --- 5. traceroute ----------------------------------------------------------------
t_traceroute() {
	local flag name out res id
	for flag in "" -I; do
		name="UDP" id=5a
		[ "$flag" = -I ] && name="ICMP (-I)" id=5b
		out=$(lab_client timeout 120 traceroute -n $flag -w 2 -m 6 "$LAB_SERVER" 2>&1)
		res=$("$LAB_PY" "$LAB_TOOLS/tracecheck.py" --hop 1="$LAB_GW_LAN" \
			--hop 2="$LAB_ISP1_GW,$LAB_ISP2_GW" --last "$LAB_SERVER" --hops 3 <<<"$out")
		check "$id traceroute $name: $LAB_GW_LAN, $LAB_ISP1_GW|$LAB_ISP2_GW, $LAB_SERVER" \
			"$res; $out" grep -q '^ok' <<<"$res"
	done
}

# --- 6. fragmented UDP both ways ------------------------------------------------------
t_fragments() {
	local pcap=$PCAP/frag.pcap res out_f in_f
	lab_capture_start "$LAB_NS_CLIENT" eth0 "$pcap" ip || { fail "6 capture" "tcpdump"; return; }
	local cap=$LAB_CAP_PID
	res=$(client_py udp-echo --size 4000)
	# the reply's fragments went through eth0 before the socket got them
	lab_poll 10 lab_count_ge 2 lab_pcap_count --frag --dst "$LAB_CLIENT_IP" "$pcap"
	lab_capture_stop "$cap"
	out_f=$(lab_pcap_count --frag --src "$LAB_CLIENT_IP" "$pcap" 2>/dev/null)
	in_f=$(lab_pcap_count --frag --dst "$LAB_CLIENT_IP" "$pcap" 2>/dev/null)
	info "fragments on client eth0: out=$out_f in=$in_f"
	check "6 4000-byte UDP datagram to the echo on :5301 comes back whole, fragmented both ways" \
		"$res; fragments out=$out_f in=$in_f" \
		[ "$(jget "$res" 'd["equal"]')" = True -a "${out_f:-0}" -ge 2 -a "${in_f:-0}" -ge 2 ]
}

# --- 7. unsolicited inbound -----------------------------------------------------------
t_unsolicited() {
	local pcap=$PCAP/unsol.pcap marker="XW-UNSOL-$$" ctrl="58574354524c" u0="" u1 n ctl cap
	xwan_mode && u0=$(metric "$M_UNSOLICITED")
	lab_isp1 ip route add "$LAB_LAN_NET" via "$LAB_WAN1_IP"
	lab_isp2 ip route add "$LAB_LAN_NET" via "$LAB_WAN2_IP"
	lab_inet ip route add "$LAB_LAN_NET" via 192.0.2.1
	lab_capture_start "$LAB_NS_CLIENT" eth0 "$pcap" ip || { fail "7 capture" "tcpdump"; return; }
	cap=$LAB_CAP_PID
	# via isp1: to the LAN address and to high ports of the WAN address
	lab_py "$LAB_NS_INET" inject --iface i1 --dst-mac "$(mac_of "$LAB_NS_ISP1" up)" \
		--src "$LAB_INET_I1" --dst "$LAB_CLIENT_IP" --dst "$LAB_WAN1_IP" --marker "$marker" --count 2
	lab_py "$LAB_NS_INET" inject --iface i1 --dst-mac "$(mac_of "$LAB_NS_ISP1" up)" \
		--src "$LAB_SERVER" --dst "$LAB_CLIENT_IP" --dst "$LAB_WAN1_IP" --dport 8080 --dport 33000 --marker "$marker"
	# (to the LAN address only via isp2: the gw's own answers to probes of
	# $LAB_WAN2_IP would leave by the main-table default route via wan1)
	lab_py "$LAB_NS_INET" inject --iface i2 --dst-mac "$(mac_of "$LAB_NS_ISP2" up)" \
		--src "$LAB_INET_I2" --dst "$LAB_CLIENT_IP" --marker "$marker" --count 2
	# control: solicited replies do reach the capture (proves it is live)
	lab_client timeout 30 ping -n -q -c 3 -W 2 -p "$ctrl" "$LAB_SERVER" >/dev/null
	lab_poll 10 lab_count_ge 3 lab_pcap_count --marker XWCTRL --src "$LAB_SERVER" "$pcap"
	lab_capture_stop "$cap"
	lab_isp1 ip route del "$LAB_LAN_NET" via "$LAB_WAN1_IP"
	lab_isp2 ip route del "$LAB_LAN_NET" via "$LAB_WAN2_IP"
	lab_inet ip route del "$LAB_LAN_NET" via 192.0.2.1
	ctl=$(lab_pcap_count --marker XWCTRL --src "$LAB_SERVER" "$pcap" 2>/dev/null)
	n=$(lab_pcap_count --marker "$marker" "$pcap" 2>"$pcap.seen")
	if [ "${ctl:-0}" -lt 3 ]; then
		fail "7a unsolicited TCP SYN/UDP/ICMP from inet never reach the client" \
			"capture not working: control replies seen=$ctl"
	else
		check "7a unsolicited TCP SYN/UDP/ICMP from inet (to $LAB_CLIENT_IP via isp1 and isp2, to $LAB_WAN1_IP high ports) never reach the client" \
			"$n seen on client eth0: $(ev <"$pcap.seen")" [ "$n" = 0 ]
	fi
	if xwan_mode; then
		u1=$(metric "$M_UNSOLICITED")
		info "$M_UNSOLICITED: $u0 -> $u1"
		check "7b xwan stats: unsolicited drop counter increased" \
			"$M_UNSOLICITED before=${u0:-missing} after=${u1:-missing}" increased "$u0" "$u1"
	else
		skip "7b xwan stats: unsolicited drop counter increased"
	fi
}

# --- 8. anti-spoof ------------------------------------------------------------------------
t_antispoof() {
	local marker="XW-SPOOF-$$" legit="XW-LEGIT-$$" s0="" s1 caps="" pc f n ctl lanmac
	xwan_mode && s0=$(metric "$M_SPOOFED")
	local spec
	for spec in "$LAB_NS_ISP1:cust:isp1" "$LAB_NS_ISP2:cust:isp2" "$LAB_NS_INET:i1:inet-i1" "$LAB_NS_INET:i2:inet-i2"; do
		IFS=: read -r pc f n <<<"$spec"
		lab_capture_start "$pc" "$f" "$PCAP/spoof-$n.pcap" ip || { fail "8 capture" "tcpdump $n"; return; }
		caps="$caps $LAB_CAP_PID"
	done
	lanmac=$(mac_of "$LAB_NS_GW" lan0)
	lab_py "$LAB_NS_CLIENT" inject --iface eth0 --dst-mac "$lanmac" --src 10.9.9.9 \
		--dst "$LAB_SERVER" --dport 5300 --dport 8080 --marker "$marker" --count 2
	lab_py "$LAB_NS_CLIENT" inject --iface eth0 --dst-mac "$lanmac" --src 192.0.2.77 \
		--dst "$LAB_SERVER" --dport 5300 --marker "$marker"
	# control: the same kind of packet from the client's real address gets
	# out. To a closed port: an answer would reach a client without a socket,
	# and the client's ICMP port unreachable (forwarded, RELATED) is hashed
	# by its inner header, so kernel multipath may send it out of the other
	# WAN with the first WAN's address, and that ISP drops it as spoofed.
	lab_py "$LAB_NS_CLIENT" inject --iface eth0 --dst-mac "$lanmac" --src "$LAB_CLIENT_IP" \
		--dst "$LAB_SERVER" --proto udp --dport 9 --marker "$legit"
	lab_poll 10 lab_count_ge 1 lab_pcap_count --marker "$legit" "$PCAP"/spoof-inet-*.pcap
	for pc in $caps; do lab_capture_stop "$pc"; done
	ctl=$(lab_pcap_count --marker "$legit" "$PCAP"/spoof-inet-*.pcap 2>/dev/null)
	n=$(lab_pcap_count --marker "$marker" "$PCAP"/spoof-*.pcap 2>"$PCAP/spoof.seen")
	if [ "${ctl:-0}" -lt 1 ]; then
		fail "8a packets with spoofed sources (10.9.9.9, 192.0.2.77) from the client are not seen at isp1/isp2/inet" \
			"control packet from $LAB_CLIENT_IP not seen at inet either: capture or forwarding broken"
	else
		check "8a packets with spoofed sources (10.9.9.9, 192.0.2.77) from the client are not seen at isp1/isp2/inet" \
			"$n seen: $(ev <"$PCAP/spoof.seen"); $(counters)" [ "$n" = 0 ]
	fi
	if xwan_mode; then
		s1=$(metric "$M_SPOOFED")
		info "$M_SPOOFED: $s0 -> $s1"
		check "8b xwan stats: spoofed_source drop counter increased" \
			"$M_SPOOFED before=${s0:-missing} after=${s1:-missing}" increased "$s0" "$s1"
	else
		skip "8b xwan stats: spoofed_source drop counter increased"
	fi
}

# --- 9. flow table and metrics (xwan) ---------------------------------------------------
nestab() { ip netns exec "$LAB_NS_CLIENT" ss -Htn state established "dst $LAB_SERVER:8081" | wc -l; }
t_observability() {
	if ! xwan_mode; then
		skip "9a bpftool map dump pinned \$XWAN_PIN_DIR/$FLOWS_MAP has entries with BTF field names"
		skip "9b xwan flows --client $LAB_CLIENT_IP lists only that client's flows"
		skip "9c xwan stats passes promtool check metrics, $M_GW_OUT_ISP1 > 0"
		return
	fi
	local hold res flows stats prom v
	# a few long-lived TCP flows and fresh UDP ones, so the table is not empty
	ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/client.py" hold --count 3 --seconds 60 \
		</dev/null >/dev/null 2>&1 &
	hold=$!
	lab_poll 15 lab_count_ge 3 nestab
	client_py udp-whoami --count 3 --bind "$LAB_CLIENT_IP" >/dev/null

	lab_gw timeout 30 bpftool -j map dump pinned "$LAB_PIN_DIR/$FLOWS_MAP" >"$LAB_STATE/flows.json" 2>&1
	res=$("$LAB_PY" "$LAB_TOOLS/flowdump.py" "$LAB_STATE/flows.json" $FLOWS_BTF_FIELDS 2>&1)
	local drc=$?
	check "9a bpftool map dump pinned \$XWAN_PIN_DIR/$FLOWS_MAP has entries with BTF field names" \
		"$res; $(head -c 300 "$LAB_STATE/flows.json")" [ "$drc" = 0 ]
	info "bpftool dump: $(cut -c1-200 <<<"$res")"

	flows=$(lab_xwan flows --client "$LAB_CLIENT_IP" 2>&1)
	# rows: lines with as many columns as the header (not a footer/summary)
	res=$(awk -v c="$LAB_CLIENT_IP" '
		!h && /CLIENT/ { for (i = 1; i <= NF; i++) if ($i == "CLIENT") col = i; h = NF; next }
		h && NF == h { n++; split($col, a, ":"); if (a[1] != c) bad++ }
		END { printf "%d rows, %d from other clients%s", n, bad, h ? "" : ", no header with CLIENT"; exit !(h && n > 0 && !bad) }' <<<"$flows")
	info "xwan flows --client: $res"
	check "9b xwan flows --client $LAB_CLIENT_IP lists only that client's flows" "$res; $flows" \
		grep -q '^[1-9][0-9]* rows, 0 from other' <<<"$res"

	stats=$(lab_xwan stats 2>&1)
	prom=$(promtool check metrics <<<"$stats" 2>&1)
	local prc=$?
	v=$("$LAB_PY" "$LAB_TOOLS/promval.py" "$M_GW_OUT_ISP1" <<<"$stats")
	local okc=1
	[ "$prc" = 0 ] && increased 0 "$v" && okc=0
	info "$M_GW_OUT_ISP1 = ${v:-missing}"
	check "9c xwan stats passes promtool check metrics, $M_GW_OUT_ISP1 > 0" \
		"promtool rc=$prc: $prom; $(head -c 300 <<<"$stats")" \
		[ "$okc" = 0 ]
	kill "$hold" 2>/dev/null
	wait "$hold" 2>/dev/null
}

# --- 10. xwan down ---------------------------------------------------------------------------
t_down() {
	if ! xwan_mode; then
		skip "10a xwan down exits 0"
		skip "10b after down: no XDP on lan0/wan1/wan2, no tc filters, no xwan programs left"
		skip "10c after down: no pins left under the bpffs"
		skip "10d after down: ip rules and routes as before xwan up"
		skip "10e after down: the gw itself still reaches $LAB_SERVER (plain routing)"
		return
	fi
	local mapid progs out rc dev left t pins
	mapid=$(lab_gw bpftool -j map show pinned "$LAB_PIN_DIR/$FLOWS_MAP" 2>/dev/null | "$LAB_PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])' 2>/dev/null)
	# programs of this lab = the ones using its flows map (ids are global)
	progs=$(bpftool -j prog show 2>/dev/null | "$LAB_PY" -c '
import json, sys
m = int(sys.argv[1] or -1)
print(" ".join(str(p["id"]) for p in json.load(sys.stdin) if m in p.get("map_ids", [])))' "${mapid:-}")
	info "flows map id ${mapid:-?}, programs using it: ${progs:-none}"

	# More routes in wan1's table (route_table_base 30839) than one netlink
	# flush batch holds: down must remove them all (10d compares the tables).
	for t in $(seq 1 150); do
		lab_gw ip route add "10.200.$t.0/24" dev wan1 table 30839 2>/dev/null
	done
	info "wan1's table holds $(lab_gw ip -4 route show table 30839 | wc -l) routes before down"
	out=$(timeout 60 ip netns exec "$LAB_NS_GW" env XWAN_PIN_DIR="$LAB_PIN_DIR" \
		"$XWAN" --pin-dir "$LAB_PIN_DIR" down 2>&1)
	rc=$?
	check "10a xwan down exits 0" "rc=$rc; $out" [ "$rc" = 0 ]

	left=""
	for dev in lan0 wan1 wan2; do
		lab_gw ip -d link show dev "$dev" | grep -qiE 'xdp|prog/' && left="$left $dev:xdp"
		for t in ingress egress; do
			[ -n "$(lab_gw tc filter show dev "$dev" $t 2>/dev/null)" ] && left="$left $dev:tc-$t"
		done
	done
	out=$(lab_gw bpftool -j net show 2>/dev/null)
	[ -n "$("$LAB_PY" -c 'import json,sys; d=json.load(sys.stdin); print("".join(k for e in d for k in ("xdp","tc") if e.get(k)))' <<<"$out" 2>/dev/null)" ] &&
		left="$left bpftool-net:$out"
	[ -z "$progs" ] && left="$left (no program used the flows map before down)"
	for t in $progs; do # freeing is asynchronous: poll
		lab_poll 10 sh -c "! bpftool prog show id $t" || left="$left prog$t-still-loaded"
	done
	check "10b after down: no XDP on lan0/wan1/wan2, no tc filters, no xwan programs left" \
		"left:$left" [ -z "$left" ]

	# (maps.debug and progs.debug in the root of every bpffs are the kernel's)
	pins=$(find "$LAB_BPFFS" -mindepth 1 ! -type d ! -path "$LAB_BPFFS/maps.debug" \
		! -path "$LAB_BPFFS/progs.debug" 2>/dev/null)
	check "10c after down: no pins left under the bpffs" "left: $pins" [ -z "$pins" ]

	lab_gw ip rule show >"$LAB_STATE/gw-rules.after"
	lab_gw ip -4 route show table all >"$LAB_STATE/gw-routes.after"
	out=$(diff "$LAB_STATE/gw-rules.before" "$LAB_STATE/gw-rules.after"; diff "$LAB_STATE/gw-routes.before" "$LAB_STATE/gw-routes.after")
	check "10d after down: ip rules and routes as before xwan up" "diff: $out" [ -z "$out" ]

	out=$(lab_gw timeout 30 ping -n -q -c 5 -i 0.1 -W 2 "$LAB_SERVER" 2>&1)
	check "10e after down: the gw itself still reaches $LAB_SERVER (plain routing)" "$out" \
		grep -q ' 0% packet loss' <<<"$out"
}

t_ping
t_tcp_split
t_download
t_udp
t_traceroute
t_fragments
t_unsolicited
t_antispoof
t_observability
t_down
check "11 after all checks: ISP anti-spoof and inet 10/8 counters still 0" "$(counters_ev)" counters_zero

echo "# test_forwarding ($MODE): $NPASS pass, $NFAIL fail, $NSKIP skip"
[ "$NFAIL" = 0 ]
