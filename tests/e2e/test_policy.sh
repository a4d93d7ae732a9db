#!/bin/bash
# tests/e2e/test_policy.sh - end-to-end test of xwan's policy features in the
# namespace lab (tests/e2e/lab.sh): policy rules (group, bypass, drop),
# sticky clients, port forwards with symmetric return, the gw's own services
# on a WAN address, live reload and `xwan explain`. Needs root.
#
#   tests/e2e/test_policy.sh
#   XWAN_LAB_KEEP_LOGS=DIR tests/e2e/test_policy.sh   keep the lab's logs,
#                                                     configs and captures
#
# xwan-only: with XWAN_E2E_MODE=kernel every check is reported as SKIP (the
# plain-Linux baseline has no rules, groups or reload).
#
# The configurations are written at run time into $LAB_STATE/cfg (kept with
# XWAN_LAB_KEEP_LOGS) and applied with `xwan down` + `xwan up -c FILE`
# between checks, except in check 7, which tests `xwan reload`.
#
# Every check prints "PASS: <what>" or "FAIL: <what> (<evidence>)". Exit
# status 1 if any check failed.

set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"

MODE=${XWAN_E2E_MODE:-xwan}

# --- names that may change with xwan (keep them here) -----------------------
M_BYPASS='xwan_packets_total{verdict="pass",reason="bypass"}'
M_UNTRANSLATED='xwan_packets_total{verdict="drop",reason="untranslated_lan_source"}'
M_POLICY_DROP='xwan_packets_total{verdict="drop",reason="policy_rule"}'

increased() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(b + 0 > a + 0) }'; }
jget() { "$LAB_PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
metric() { lab_xwan stats 2>/dev/null | "$LAB_PY" "$LAB_TOOLS/promval.py" "$1"; }
client_py() { timeout 120 ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/client.py" "$@"; }
ptool() { local ns=$1; shift; timeout 60 ip netns exec "$ns" "$LAB_PY" "$LAB_TOOLS/policytool.py" "$@"; }
# by_addr of a client.py result: "isp1-count isp2-count other-count"
split_of() {
	jget "$1" '"%d %d %d" % (d["by_addr"].get("'$LAB_WAN1_IP'", 0), d["by_addr"].get("'$LAB_WAN2_IP'", 0), sum(v for k, v in d["by_addr"].items() if k not in ("'$LAB_WAN1_IP'", "'$LAB_WAN2_IP'")))'
}
# flows_q PYEXPR: evaluate PYEXPR over F, the list of `xwan flows --json`
# entries (live ones), e.g. flows_q 'sum(f["kind"] == "drop" for f in F)'
flows_q() {
	lab_xwan flows --json 2>/dev/null | "$LAB_PY" -c '
import json, sys
F = [f for f in json.load(sys.stdin) if f.get("live", True)]
print(eval(sys.argv[1]))' "$1" 2>/dev/null
}
flows_brief() { lab_xwan flows 2>&1 | awk '{ print $1, $2, $3, $4, $5, $6, $7, $NF }' | head -n 8; }
# lines of `tcpdump -r FILE` matching the pcap filter FILTER
pcap_lines() { tcpdump -n -r "$1" "$2" 2>/dev/null | wc -l; }
# lines of `tcpdump -r FILE` matching the regex RE (NFLOG captures: tcpdump
# cannot filter that link type)
pcap_grep() { tcpdump -n -r "$1" 2>/dev/null | grep -cE -- "$2"; }
# is NAME in TEXT as a whole name (names are [A-Za-z0-9_.-]: "isp2" is not
# found in "isp2-only")
has_name() { grep -qE "(^|[^A-Za-z0-9_.-])${2//./\\.}([^A-Za-z0-9_.-]|\$)" <<<"$1"; }
# is NAME on a line of TEXT that contains KEY (case-insensitive)
line_has() { has_name "$(grep -i -- "$2" <<<"$1")" "$3"; }
spoof_sum() { echo $(($(lab_spoof_isp1 || echo 0) + $(lab_spoof_isp2 || echo 0))); }

if [ "$MODE" != xwan ]; then
	for c in "1 rule to a group" "2 bypass" "3 drop" "4 sticky" "5 port forward" \
		"6 gw service on a WAN address" "7 reload" "8 explain"; do
		echo "SKIP: $c (xwan-only, mode=$MODE)"
	done
	exit 0
fi

lab_init_names "${XWAN_LAB_PREFIX:-xwp$$}"
e2e_traps lab_destroy

echo "# test_policy: lab=$LAB_PREFIX"
if ! setup_err=$(lab_create xwan 2>&1); then
	fail "lab setup (xwan)" "$setup_err"
	exit 1
fi
[ -n "$setup_err" ] && echo "$setup_err" | sed 's/^/  /'
CFG=$LAB_STATE/cfg
PCAP=$LAB_LOG/pcap # under log/: kept with XWAN_LAB_KEEP_LOGS
mkdir -p "$CFG" "$PCAP"
ln -s "$CFG" "$LAB_LOG/cfg" 2>/dev/null

# --- configurations -------------------------------------------------------------
# gen_cfg FILE [key=value...]: w1, w2 (WAN weights, default 1 and 1),
# sticky (true|false, default true), bypass (1: the web-bypass rule first),
# bad (1: weights 9:1, no dns-isp2 rule, and a rule naming a missing group:
# the file fails validation; its line is stored in BAD_LINE).
gen_cfg() {
	local f=$1 w1=1 w2=1 sticky=true bypass=0 bad=0 kv
	shift
	for kv in "$@"; do
		case $kv in
		w1=*) w1=${kv#*=} ;; w2=*) w2=${kv#*=} ;;
		sticky=*) sticky=${kv#*=} ;; bypass=*) bypass=${kv#*=} ;; bad=*) bad=${kv#*=} ;;
		esac
	done
	[ "$bad" = 1 ] && w1=9 w2=1
	{
		cat <<-EOF
			# written by tests/e2e/test_policy.sh ($*)
			lan:
			  - interface: lan0
			    networks: [$LAB_LAN_NET]
			wan:
			  - {name: isp1, interface: wan1, gateway: $LAB_ISP1_GW, weight: $w1}
			  - {name: isp2, interface: wan2, gateway: $LAB_ISP2_GW, weight: $w2}
			groups:
			  - name: balance
			    members: [{wan: isp1, tier: 1}, {wan: isp2, tier: 1}]
			  - name: isp2-only
			    members: [{wan: isp2, tier: 1}]
			  - name: stickygrp
			    members: [{wan: isp1, tier: 1}, {wan: isp2, tier: 1}]
			    sticky: {enabled: $sticky, expire_s: 300, key: src}
			default_group: balance
			rules:
		EOF
		[ "$bypass" = 1 ] &&
			echo "  - {name: web-bypass, proto: tcp, dst: $LAB_SERVER/32, dport: 8080, action: bypass}"
		[ "$bad" = 1 ] ||
			echo "  - {name: dns-isp2, proto: udp, dport: 5300, group: isp2-only}"
		cat <<-EOF
			  - {name: block-smtp, proto: tcp, dport: 25, action: drop}
			  - {name: sticky-clients, src: 10.1.0.2/31, proto: tcp, dport: 8080, group: stickygrp}
		EOF
		[ "$bad" = 1 ] &&
			echo "  - {name: broken, proto: udp, dport: 5301, group: no-such-group}"
		cat <<-EOF
			port_forwards:
			  - {wan: isp2, proto: tcp, port: 2222, to: $LAB_CLIENT_IP:22}
			timeouts: {tcp_established: 7440, tcp_transitory: 120, udp: 60, icmp: 30}
			flow_table_size: 65536
		EOF
	} >"$f"
	BAD_LINE=$(grep -n 'no-such-group' "$f" | cut -d: -f1)
}
gen_cfg "$CFG/rules.yaml"                 # checks 1, 3, 4a, 5, 6
gen_cfg "$CFG/bypass.yaml" bypass=1       # check 2
gen_cfg "$CFG/nosticky.yaml" sticky=false # check 4b
gen_cfg "$CFG/weights19.yaml" w1=1 w2=9   # check 7 (reload), 8
gen_cfg "$CFG/bad.yaml" bad=1             # check 7 (rejected reload)

CUR_CFG=""
# apply_cfg FILE: replace the running dataplane by one with FILE (flows go).
apply_cfg() {
	local out
	[ "$CUR_CFG" = "$1" ] && return 0
	# (down may fail when nothing runs, e.g. after check 6's control; a
	# dataplane that down could not remove makes up fail)
	if ! out=$({ lab_xwan down; lab_xwan up -c "$1"; } 2>&1); then
		fail "apply ${1##*/} (xwan down; xwan up -c)" "$out"
		CUR_CFG=""
		return 1
	fi
	CUR_CFG=$1
	lab_wait_ping "$LAB_NS_CLIENT" "$LAB_SERVER" 10
}

# --- 1. a rule sends UDP :5300 to the isp2-only group ----------------------------
t_rule_group() {
	local res ok split before srv
	apply_cfg "$CFG/rules.yaml" || return
	before=$(wc -l <"$LAB_PEER_LOG")
	res=$(client_py udp-whoami --count 50 --bind 10.1.0.4)
	ok=$(jget "$res" 'd["ok"]')
	split=$(split_of "$res")
	srv=$(tail -n +"$((before + 1))" "$LAB_PEER_LOG" | awk '$1 == "udp" { print $2 }' | sort | uniq -c | ev)
	info "UDP :5300 seen from (isp1 isp2 other): $split; server logged: $srv"
	check "1a rule dns-isp2 (udp dport 5300 -> group isp2-only): 50 UDP whoami queries from new source ports all answered and all seen from $LAB_WAN2_IP" \
		"ok=${ok:-?}/50 split isp1/isp2/other=$split; server: $srv; $res" \
		[ "${ok:-0}" = 50 -a "$split" = "0 50 0" -a "$srv" = "50 $LAB_WAN2_IP" ]

	local n sports
	sports=$(jget "$res" 'd["sports"]')
	n=$(flows_q 'sum(1 for f in F if f["remote"] == "'$LAB_SERVER':5300" and f["client"].startswith("10.1.0.4:") and f["rule"] == "dns-isp2" and f["wan"] == "isp2" and f["kind"] == "nat")')
	# One flow per source port the client used (the kernel may reuse one).
	check "1b xwan flows: those UDP flows carry RULE dns-isp2 and WAN isp2" \
		"${n:-?} flows to :5300 with rule dns-isp2 on isp2, for ${sports:-?} source ports; $(flows_brief)" \
		[ "${sports:-0}" -ge 45 -a "${n:-0}" -ge "${sports:-99}" ]

	res=$(client_py tcp-whoami --count 50 --bind 10.1.0.4)
	ok=$(jget "$res" 'd["ok"]')
	split=$(split_of "$res")
	info "TCP :8080 from 10.1.0.4 (isp1 isp2 other): $split"
	local a b o
	read -r a b o <<<"$split"
	check "1c TCP :8080 (no rule, default group balance 1:1) still splits over both WANs" \
		"ok=${ok:-?}/50 isp1=$a isp2=$b other=$o; $res" \
		[ "${ok:-0}" = 50 -a "${a:-0}" -gt 0 -a "${b:-0}" -gt 0 -a "${o:-1}" = 0 ]
}

# --- 2. bypass: the kernel routes the flow, xwan does not NAT it --------------------
t_bypass() {
	local b0 b1 s0 s1 u0 u1 res ok n split
	apply_cfg "$CFG/bypass.yaml" || return
	b0=$(metric "$M_BYPASS")
	s0=$(lab_spoof_isp1)
	u0=$(metric "$M_UNTRANSLATED")
	# Without any NAT on the gw, a bypassed flow is routed by the kernel's
	# main default route (wan1) with its LAN source: xwan drops it as it
	# leaves wan1 (nothing leaves un-NATed), so isp1 never sees it.
	res=$(client_py --timeout 1.5 tcp-whoami --count 3 --bind 10.1.0.4)
	ok=$(jget "$res" 'd["ok"]')
	s1=$(lab_spoof_isp1)
	u1=$(metric "$M_UNTRANSLATED")
	info "without masquerade: ok=$ok/3, isp1 spoofed $s0 -> $s1, $M_UNTRANSLATED $u0 -> $u1"
	check "2a bypass (rule web-bypass), no NAT on the gw: connections fail, their un-NATed SYNs are dropped leaving wan1 (untranslated_lan_source >= 3 more), isp1 sees none" \
		"ok=$ok/3; isp1 spoofed $s0 -> $s1; $M_UNTRANSLATED $u0 -> $u1; $(lab_drop_evidence)" \
		[ "${ok:-1}" = 0 -a "$s0" = "$s1" -a "$(( ${u1:-0} - ${u0:-0} ))" -ge 3 ]

	n=$(flows_q 'sum(1 for f in F if f["kind"] == "bypass" and f["rule"] == "web-bypass" and f["client"].startswith("10.1.0.4:") and f["remote"] == "'$LAB_SERVER':8080")')
	local other
	other=$(flows_q 'sum(1 for f in F if f["kind"] != "bypass" and f["client"].startswith("10.1.0.4:") and f["remote"] == "'$LAB_SERVER':8080")')
	check "2b xwan flows: the bypassed connections are KIND bypass, RULE web-bypass" \
		"bypass flows: ${n:-?} (want >= 3), other kinds: ${other:-?}; $(flows_brief)" \
		[ "${n:-0}" -ge 3 -a "${other:-1}" = 0 ]

	# For the bypassed traffic to work the kernel must NAT it itself: xwan
	# does not NAT bypassed flows (that is the point of bypass), and without
	# a masquerade isp1's anti-spoof drops them (2a). This nft masquerade on
	# wan1 is added for this check only, and removed after it.
	lab_gw nft -f - <<-EOF
		table ip xwp_bypass_masq {
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "wan1" masquerade
			}
		}
	EOF
	s0=$(lab_spoof_isp1)
	res=$(client_py tcp-whoami --count 20 --bind 10.1.0.4)
	ok=$(jget "$res" 'd["ok"]')
	split=$(split_of "$res")
	s1=$(lab_spoof_isp1)
	b1=$(metric "$M_BYPASS")
	lab_gw nft delete table ip xwp_bypass_masq
	info "with a kernel masquerade on wan1: ok=$ok/20, (isp1 isp2 other) $split; $M_BYPASS $b0 -> $b1"
	check "2c with a kernel masquerade on wan1 (main default route): 20 bypassed connections work, all from $LAB_WAN1_IP, isp1 spoof counter unchanged" \
		"ok=${ok:-?}/20 split isp1/isp2/other=$split; isp1 spoofed $s0 -> $s1; $res" \
		[ "${ok:-0}" = 20 -a "$split" = "20 0 0" -a "$s0" = "$s1" ]
	check "2d xwan stats: the bypass counter grew" \
		"$M_BYPASS before=${b0:-missing} after=${b1:-missing}" increased "$b0" "$b1"
}

# --- 3. drop rule ----------------------------------------------------------------------
t_drop() {
	local d0 d1 r25 r26 c25 c26 n
	apply_cfg "$CFG/rules.yaml" || return
	# inet counts what arrives for ports 25 and 26 (26: the control, no rule)
	lab_inet nft -f - <<-EOF
		table inet xwp_smtp {
			counter p25 { }
			counter p26 { }
			chain prerouting {
				type filter hook prerouting priority raw; policy accept;
				tcp dport 25 counter name "p25"
				tcp dport 26 counter name "p26"
			}
		}
	EOF
	d0=$(metric "$M_POLICY_DROP")
	r25=$(ptool "$LAB_NS_CLIENT" probe --dst "$LAB_SERVER" --port 25 --bind 10.1.0.4 --timeout 2.5)
	r26=$(ptool "$LAB_NS_CLIENT" probe --dst "$LAB_SERVER" --port 26 --bind 10.1.0.4 --timeout 2.5)
	c25=$(lab_nft_counter "$LAB_NS_INET" inet xwp_smtp p25)
	c26=$(lab_nft_counter "$LAB_NS_INET" inet xwp_smtp p26)
	d1=$(metric "$M_POLICY_DROP")
	info "connect :25 -> $r25, :26 -> $r26; inet saw :25=$c25 :26=$c26 packets; $M_POLICY_DROP $d0 -> $d1"
	check "3a rule block-smtp (tcp dport 25 drop): a connection to $LAB_SERVER:25 fails (control :26 reaches the server: refused)" \
		":25 $r25; :26 $r26" \
		[ "$(jget "$r25" 'd["result"]')" = timeout -a "$(jget "$r26" 'd["result"]')" = refused ]
	check "3b nothing reaches inet on port 25 (nft counter; control :26 counted)" \
		"inet packets to :25=${c25:-?} :26=${c26:-?}" [ "${c25:-1}" = 0 -a "${c26:-0}" -ge 1 ]
	check "3c xwan stats: the policy_rule drop counter grew" \
		"$M_POLICY_DROP before=${d0:-missing} after=${d1:-missing}" increased "$d0" "$d1"
	n=$(flows_q 'sum(1 for f in F if f["kind"] == "drop" and f["rule"] == "block-smtp" and f["remote"] == "'$LAB_SERVER':25")')
	check "3d xwan flows: the attempt is listed as KIND drop, RULE block-smtp" \
		"${n:-?} such flows; $(lab_xwan flows 2>&1 | grep -E 'KIND|:25 ')" [ "${n:-0}" -ge 1 ]
	lab_inet nft delete table inet xwp_smtp
}

# --- 4. sticky clients ------------------------------------------------------------------
t_sticky() {
	local res ok split a b o
	apply_cfg "$CFG/rules.yaml" || return
	res=$(client_py tcp-whoami --count 50 --bind 10.1.0.2)
	ok=$(jget "$res" 'd["ok"]')
	split=$(split_of "$res")
	read -r a b o <<<"$split"
	STICKY_WAN=""
	[ "${a:-0}" = 50 ] && STICKY_WAN=isp1
	[ "${b:-0}" = 50 ] && STICKY_WAN=isp2
	info "sticky on, 10.1.0.2 (isp1 isp2 other): $split"
	check "4a sticky group (rule sticky-clients): 50 TCP connections from 10.1.0.2 all seen from one WAN address" \
		"ok=${ok:-?}/50 isp1=$a isp2=$b other=$o; $res" [ "${ok:-0}" = 50 -a -n "$STICKY_WAN" ]
	res=$(client_py tcp-whoami --count 20 --bind 10.1.0.3)
	info "sticky on, second client 10.1.0.3 (isp1 isp2 other): $(split_of "$res") (one WAN; it may be the other one)"
	read -r a b o <<<"$(split_of "$res")"
	check "4b sticky: a second client 10.1.0.3 also stays on one WAN (either)" \
		"isp1=$a isp2=$b other=$o; $res" [ "$(jget "$res" 'd["ok"]')" = 20 -a \( "$a" = 20 -o "$b" = 20 \) ]

	apply_cfg "$CFG/nosticky.yaml" || return
	res=$(client_py tcp-whoami --count 50 --bind 10.1.0.2)
	ok=$(jget "$res" 'd["ok"]')
	read -r a b o <<<"$(split_of "$res")"
	info "sticky off, 10.1.0.2 (isp1 isp2 other): $a $b $o"
	check "4c same group with sticky off: the same 50 connections spread over both WANs (the check above can fail)" \
		"ok=${ok:-?}/50 isp1=$a isp2=$b other=$o; $res" \
		[ "${ok:-0}" = 50 -a "${a:-0}" -gt 0 -a "${b:-0}" -gt 0 ]
}

# --- 5. port forward with symmetric return ------------------------------------------------
# session_via_wan2 NS-OF-SERVER PORT-ON-SERVER PUBLIC-PORT KIND ID WHAT:
# an echo server in NS on PORT, a session from inet to $LAB_WAN2_IP:PUBLIC-PORT
# while wan1 is captured; KIND is the flow kind `xwan flows` should show.
session_via_wan2() {
	local ns=$1 port=$2 pub=$3 kind=$4 id=$5 what=$6
	local srv cap1 cap2 s0 s1 res n1 n2 n
	ptool "$ns" echo-server --port "$port" </dev/null >/dev/null 2>"$LAB_LOG/echo-$port.log" &
	srv=$!
	if ! lab_wait_listen "$ns" tcp "$port" 10; then
		fail "$id echo server on $port" "$(cat "$LAB_LOG/echo-$port.log")"
		kill "$srv" 2>/dev/null
		return
	fi
	# The wan1/wan2 links are captured at their far ends (isp1/isp2 "cust"):
	# frames xwan sends with XDP_REDIRECT do not pass the packet taps of the
	# gw's egress device, so a tcpdump on the gw's wan1 would see nothing
	# whichever way the replies went.
	lab_capture_start "$LAB_NS_ISP1" cust "$PCAP/$id-wan1.pcap" ip || { fail "$id capture" "tcpdump isp1 cust"; return; }
	cap1=$LAB_CAP_PID
	lab_capture_start "$LAB_NS_ISP2" cust "$PCAP/$id-wan2.pcap" tcp port "$pub" || { fail "$id capture" "tcpdump isp2 cust"; return; }
	cap2=$LAB_CAP_PID
	s0=$(spoof_sum)
	ptool "$LAB_NS_INET" session --dst "$LAB_WAN2_IP" --port "$pub" --bind "$LAB_SERVER" \
		--rounds 8 --interval 0.25 --marker "XW-$id-$$" >"$PCAP/$id-session.json" 2>&1 &
	local sess=$!
	# the flow as `xwan flows` shows it while the session is open
	local q='json.dumps([f for f in F if f["remote"].startswith("'$LAB_SERVER':") and f["nat"] == "'$LAB_WAN2_IP:$pub'"])'
	local flow="" t
	for t in $(seq 1 40); do
		flow=$(flows_q "$q")
		[ -n "$flow" ] && [ "$flow" != "[]" ] && break
		sleep 0.05
	done
	wait "$sess"
	res=$(cat "$PCAP/$id-session.json")
	lab_capture_stop "$cap1"
	lab_capture_stop "$cap2"
	s1=$(spoof_sum)
	kill "$srv" 2>/dev/null
	wait "$srv" 2>/dev/null
	n1=$(pcap_lines "$PCAP/$id-wan1.pcap" "tcp port $pub or tcp port $port")
	n2=$(pcap_lines "$PCAP/$id-wan2.pcap" "src $LAB_WAN2_IP and tcp src port $pub")
	info "$what: $res; wan1 packets of the session: $n1, replies on wan2: $n2; isp spoof counters $s0 -> $s1"
	check "${id}a $what: the session works (8 echo rounds)" "$res" \
		[ "$(jget "$res" 'd["ok"]')" = True ]
	check "${id}b $what: replies leave by wan2 (capture on the wan1 link: none of its packets; $n2 replies on the wan2 link)" \
		"packets on wan1: $n1 ($(tcpdump -n -r "$PCAP/$id-wan1.pcap" -c 3 2>/dev/null | ev)); replies from $LAB_WAN2_IP:$pub on the wan2 link: $n2" \
		[ "${n1:-1}" = 0 -a "${n2:-0}" -ge 8 ]
	check "${id}c $what: ISP anti-spoof counters unchanged" "isp1+isp2 spoofed $s0 -> $s1; $(lab_drop_evidence | tail -n 3)" \
		[ "$s0" = "$s1" ]
	n=$(jget "$flow" 'sum(1 for f in d if f["kind"] == "'"$kind"'" and f["wan"] == "isp2")')
	check "${id}d $what: xwan flows shows it as KIND $kind on isp2" \
		"flows matching nat $LAB_WAN2_IP:$pub: ${flow:-none}; $(flows_brief)" [ "${n:-0}" -ge 1 ]
}
t_port_forward() {
	apply_cfg "$CFG/rules.yaml" || return
	session_via_wan2 "$LAB_NS_CLIENT" 22 2222 forward 5 \
		"port forward isp2 tcp 2222 -> $LAB_CLIENT_IP:22 (default route via isp1)"
}
t_host_service() {
	apply_cfg "$CFG/rules.yaml" || return
	session_via_wan2 "$LAB_NS_GW" 2022 2022 host 6 \
		"TCP server on the gw (0.0.0.0:2022) reached at $LAB_WAN2_IP:2022"

	# Control: without xwan, the gw's answers follow the main table's
	# default route out of wan1 (and isp1 drops them): what 6b looks for
	# is really what happens when the return path is wrong.
	local srv cap res n out
	out=$(lab_xwan down 2>&1)
	CUR_CFG=""
	ptool "$LAB_NS_GW" echo-server --port 2022 </dev/null >/dev/null 2>>"$LAB_LOG/echo-2022.log" &
	srv=$!
	lab_wait_listen "$LAB_NS_GW" tcp 2022 10
	lab_capture_start "$LAB_NS_ISP1" cust "$PCAP/6e-wan1.pcap" tcp port 2022 || { fail "6e capture" "tcpdump isp1 cust"; return; }
	cap=$LAB_CAP_PID
	res=$(ptool "$LAB_NS_INET" session --dst "$LAB_WAN2_IP" --port 2022 --bind "$LAB_SERVER" \
		--rounds 1 --timeout 2 --marker "XW-6e-$$")
	lab_poll 5 lab_count_ge 1 pcap_lines "$PCAP/6e-wan1.pcap" "src $LAB_WAN2_IP and tcp src port 2022"
	lab_capture_stop "$cap"
	kill "$srv" 2>/dev/null
	wait "$srv" 2>/dev/null
	n=$(pcap_lines "$PCAP/6e-wan1.pcap" "src $LAB_WAN2_IP and tcp src port 2022")
	info "control, xwan down: $res; answers from $LAB_WAN2_IP:2022 on the wan1 link: $n"
	check "6e control: after xwan down the same session fails, its answers from $LAB_WAN2_IP:2022 appear on the wan1 link (so 6b can fail)" \
		"xwan down: $out; session: $res; packets on the wan1 link: $n" \
		[ "$(jget "$res" 'd["ok"]')" = False -a "${n:-0}" -ge 1 ]
}

# --- 7. live reload -------------------------------------------------------------------------
fetch_established() { ip netns exec "$LAB_NS_CLIENT" ss -Htn state established "dst $LAB_SERVER:8000" | grep -c .; }
t_reload() {
	local dl res out rc wan0 wan1 ok a b o pct split
	apply_cfg "$CFG/rules.yaml" || return # weights 1:1
	# a download that lasts ~10 s (the reader throttles to 850 kB/s)
	client_py fetch --url "$LAB_BLOB_URL" --sha256 "$(cat "$LAB_WWW/blob.sha256")" \
		--rate 850000 >"$LAB_LOG/reload-fetch.json" 2>&1 &
	dl=$!
	lab_poll 10 lab_count_ge 1 fetch_established
	local q='",".join(sorted(f["wan"] for f in F if f["remote"] == "'$LAB_SERVER':8000" and f["state"] == "established"))'
	wan0=$(flows_q "$q")
	out=$(lab_xwan reload -c "$CFG/weights19.yaml" 2>&1)
	rc=$?
	[ "$rc" = 0 ] && CUR_CFG=$CFG/weights19.yaml
	info "download flow on ${wan0:-?}; xwan reload (isp1 1, isp2 9): rc=$rc $(ev <<<"$out")"
	check "7a xwan reload -c weights19.yaml (isp1 1, isp2 9) exits 0" "rc=$rc; $out" [ "$rc" = 0 ]
	wan1=$(flows_q "$q")
	wait "$dl"
	res=$(cat "$LAB_LOG/reload-fetch.json")
	info "download: $(jget "$res" 'd["results"]'); flow on '$wan0' before the reload, '$wan1' after"
	check "7b the 8 MiB download running across the reload completes with the right sha256 (flow stayed on ${wan0:-?})" \
		"$res; flow before reload: $wan0, after: $wan1" \
		[ "$(jget "$res" 'd["ok"]')" = 1 -a -n "$wan0" -a "$wan0" = "$wan1" ]

	res=$(client_py tcp-whoami --count 200 --bind 10.1.0.4)
	read -r a b o <<<"$(split_of "$res")"
	ok=$(jget "$res" 'd["ok"]')
	pct=$((${b:-0} * 100 / 200))
	info "after reload, 200 new connections (isp1 isp2 other): $a $b $o = $pct% isp2"
	check "7c after the reload 200 new connections split about 10/90 (80..98% isp2)" \
		"ok=${ok:-?}/200 isp1=$a isp2=$b other=$o; $res" \
		[ "${ok:-0}" = 200 -a "$pct" -ge 80 -a "$pct" -le 98 -a "${o:-1}" = 0 ]

	# a file failing validation (a rule names a missing group; it would
	# also flip the weights to 9:1 and drop the dns-isp2 rule)
	out=$(lab_xwan reload -c "$CFG/bad.yaml" 2>&1)
	rc=$?
	info "xwan reload -c bad.yaml: rc=$rc $(ev <<<"$out")"
	check "7d xwan reload of a file with an error exits 1 naming file:line:key (bad.yaml:$BAD_LINE: rules[...].group)" \
		"rc=$rc; want bad.yaml:$BAD_LINE: rules[N].group: ...; got: $out" \
		eval '[ "$rc" = 1 ] && grep -qE "(^|/)bad\.yaml:$BAD_LINE: rules\[[0-9]+\]\.group: " <<<"$out"'
	[ "$rc" = 1 ] || CUR_CFG=""
	res=$(client_py tcp-whoami --count 200 --bind 10.1.0.4)
	read -r a b o <<<"$(split_of "$res")"
	ok=$(jget "$res" 'd["ok"]')
	pct=$((${b:-0} * 100 / 200))
	local u
	u=$(client_py udp-whoami --count 10 --bind 10.1.0.4)
	split=$(split_of "$u")
	info "after the rejected reload, 200 new connections (isp1 isp2 other): $a $b $o = $pct% isp2; UDP :5300 $split"
	check "7e after the rejected reload nothing changed: still about 10/90 (80..98% isp2), UDP :5300 still all via isp2" \
		"ok=${ok:-?}/200 isp1=$a isp2=$b other=$o; udp split $split; $res" \
		[ "${ok:-0}" = 200 -a "$pct" -ge 80 -a "$pct" -le 98 -a "$split" = "0 10 0" ]
}

# --- 8. explain -------------------------------------------------------------------------------
t_explain() {
	local out rc hold sport wan res a b o
	# the rules of check 1 are loaded (weights19.yaml after check 7, or
	# rules.yaml if the reload did not work)
	[ -n "$CUR_CFG" ] || apply_cfg "$CFG/rules.yaml" || return
	info "explain with ${CUR_CFG##*/} loaded"
	out=$(lab_xwan explain --src 10.1.0.4 --dst "$LAB_SERVER" --proto udp --dport 5300 2>&1)
	rc=$?
	info "explain udp/5300: $(ev <<<"$out")"
	check "8a xwan explain udp 10.1.0.4 -> $LAB_SERVER:5300 names rule dns-isp2, group isp2-only, gateway isp2" \
		"rc=$rc; $out" eval '[ $rc = 0 ] && line_has "$out" rule: dns-isp2 && line_has "$out" group: isp2-only && line_has "$out" gateway: isp2'

	out=$(lab_xwan explain --src 10.1.0.4 --dst "$LAB_SERVER" --proto tcp --dport 8443 2>&1)
	rc=$?
	info "explain tcp/8443: $(ev <<<"$out")"
	check "8b xwan explain for an unmatched flow (tcp :8443) names no rule, the default group balance and a gateway" \
		"rc=$rc; $out" eval '[ $rc = 0 ] && line_has "$out" group: balance && { line_has "$out" gateway: isp1 || line_has "$out" gateway: isp2; } && ! { line_has "$out" rule: dns-isp2 || line_has "$out" rule: block-smtp || line_has "$out" rule: sticky-clients; }'

	# a live flow: one held TCP connection to :8081
	ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/client.py" hold --count 1 --seconds 30 \
		--bind 10.1.0.4 </dev/null >/dev/null 2>&1 &
	hold=$!
	lab_poll 10 sh -c "ip netns exec $LAB_NS_CLIENT ss -Htn state established 'dst $LAB_SERVER:8081' | grep -q ."
	sport=$(ip netns exec "$LAB_NS_CLIENT" ss -Htn state established "dst $LAB_SERVER:8081" | awk '{ n = split($3, a, ":"); print a[n]; exit }')
	wan=$(flows_q '" ".join(f["wan"] for f in F if f["client"] == "10.1.0.4:'"$sport"'" and f["remote"] == "'$LAB_SERVER':8081")')
	out=$(lab_xwan explain --src 10.1.0.4 --sport "$sport" --dst "$LAB_SERVER" --proto tcp --dport 8081 2>&1)
	rc=$?
	info "held flow 10.1.0.4:$sport -> :8081 on '${wan}'; explain: $(ev <<<"$out")"
	check "8c xwan explain for the 5-tuple of a live flow says an existing flow pins it, to its gateway (${wan:-?})" \
		"rc=$rc; flow 10.1.0.4:$sport on '$wan'; $out" \
		eval '[ $rc = 0 ] && [ -n "$wan" ] && has_name "$(grep -iE "pin|existing|already|live" <<<"$out")" "$wan"'
	kill "$hold" 2>/dev/null
	wait "$hold" 2>/dev/null

	# a sticky client: its first flow picks the WAN, explain must name that one
	res=$(client_py tcp-whoami --count 1 --bind 10.1.0.2)
	read -r a b o <<<"$(split_of "$res")"
	wan=""
	[ "${a:-0}" = 1 ] && wan=isp1
	[ "${b:-0}" = 1 ] && wan=isp2
	out=$(lab_xwan explain --src 10.1.0.2 --dst "$LAB_SERVER" --proto tcp --dport 8080 2>&1)
	rc=$?
	info "sticky client 10.1.0.2 on '$wan'; explain: $(ev <<<"$out")"
	check "8d xwan explain for a sticky client names rule sticky-clients, group stickygrp and the WAN it sticks to (${wan:-?})" \
		"rc=$rc; client's connection went via '$wan'; $out" \
		eval '[ $rc = 0 ] && [ -n "$wan" ] && line_has "$out" rule: sticky-clients && line_has "$out" group: stickygrp && line_has "$out" gateway: "$wan"'
}

START=$SECONDS
t_rule_group
t_bypass
t_drop
t_sticky
t_port_forward
t_host_service
t_reload
t_explain
echo "# test_policy: $NPASS pass, $NFAIL fail ($((SECONDS - START)) s after lab setup)"
[ "$NFAIL" = 0 ]
