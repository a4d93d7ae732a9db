#!/bin/bash
# tests/e2e/test_failover.sh - the gateway monitor (`xwan run`) in the
# namespace lab (tests/e2e/lab.sh): failover, recovery, carrier loss, agent
# crash and restart, connection reset or keep on gateway down. Needs root.
#
#   tests/e2e/test_failover.sh
#   XWAN_LAB_KEEP_LOGS=DIR   copy the lab's logs (agent log, prober attempts) there
#
# Every check prints "PASS: <what>" or "FAIL: <what> (<evidence>)"; figures
# (failover times, failed attempts) are "#" lines: the checks assert
# behaviour, never a speed (speed targets belong to the benchmarks). In
# kernel mode (XWAN_E2E_MODE=kernel) there is no agent: every check is a
# SKIP. Exit status 1 if any check failed.
#
# Agent configs (tests/e2e/failover_lib.sh fo_config): the lab's WANs and
# group with probe profile
#   default  no monitor keys (interval 500 ms, loss interval 2 s, window
#            60 s, down at 20% loss, up after 3 good probes)
#   fast     interval_ms 100, loss_interval_ms 200, down_after 3
#   slow     interval_ms 5000, loss_interval_ms 10000, up_after 1 (carrier)
# The lab starts the dataplane with `xwan up`; the agent adopts it.

set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"
# shellcheck source=tests/e2e/failover_lib.sh
. "$E2E_DIR/failover_lib.sh"

MODE=${XWAN_E2E_MODE:-xwan}

# --- names that may change with xwan (keep them here) -----------------------
M_SENT1='xwan_gateway_probes_sent_total{gateway="isp1"}'
M_LOST1='xwan_gateway_probes_lost_total{gateway="isp1"}'
RE_DOWN_LOSS='gateway isp1: [a-z]+ -> down \((loss [0-9]+% >= [0-9]+%|[0-9]+ consecutive probes lost)\)'
RE_UP_GOOD='gateway isp1: down -> online \(3 consecutive good probes\)'
RE_DOWN_LINK='gateway isp1: [a-z]+ -> down \(link down\)'
RE_UP_ANY='gateway isp1: down -> online'
RE_RESET='gateway isp1: flushed [0-9]+ flows \(([1-9][0-9]*) TCP clients reset\)'
RE_FLUSH='gateway isp1: flushed'
RE_ADOPTED='adopted the running dataplane'
UP_AFTER=3                 # the default up_after
SLOW_MONITOR='{interval_ms: 5000, loss_interval_ms: 10000, up_after: 1}'
SLOW_LOSS_INTERVAL_S=10
ATTEMPT_SLACK=0.05         # s between a prober attempt's stamp and its SYN

client_py() { timeout 120 ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/client.py" "$@"; }
# awk comparisons of decimal numbers
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }
ge() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
log_tail() { fo_log_since "${1:-0}" | tail -n "${2:-8}"; }

CHECKS="1a 1b 1c 1d 2a 2b 2c 3a 3b 4a 4b 4c 4d 5a 5b 6a 6b"
if [ "$MODE" != xwan ]; then
	for c in $CHECKS; do echo "SKIP: $c gateway monitor (xwan-only, mode=$MODE)"; done
	exit 0
fi

lab_init_names "${XWAN_LAB_PREFIX:-xf$$}"
cleanup() {
	trap "" INT TERM HUP
	fo_prober_stop
	fo_hold_stop
	fo_agent_stop
	lab_destroy
}
e2e_traps cleanup

echo "# test_failover: lab=$LAB_PREFIX"
if ! setup_err=$(lab_create xwan 2>&1); then
	fail "lab setup (xwan)" "$setup_err"
	exit 1
fi
[ -n "$setup_err" ] && echo "$setup_err" | sed 's/^/  /'
_fo_state_init
if ! fo_echo_server_start; then
	fail "lab setup: echo server on :$FO_ECHO_PORT" "$(cat "$FO_DIR/echo-server.log")"
	exit 1
fi
CFG_DEFAULT=$(fo_config default)
CFG_FAST=$(fo_config fast)
CFG_SLOW=$(fo_config "$SLOW_MONITOR" "" slow)
CFG_KEEP=$(fo_config fast "on_gateway_down: keep" fast-keep)
fo_probe_count isp1 >/dev/null || { fail "lab setup: probe counter in isp1" "nft"; exit 1; }

# start_agent CONFIG WHAT [N]: (re)start the agent, wait until it has its
# own verdicts: both online and >= N (5) probes of isp1 sent by this agent.
start_agent() {
	fo_agent_stop
	if ! fo_agent_start "$1"; then
		fail "$2: agent start" "$(log_tail "$FO_LOG_MARK")"
		return 1
	fi
	if ! fo_wait_status isp1 online 30 || ! fo_wait_status isp2 online 30 ||
		! lab_poll 30 lab_count_ge "${3:-5}" fo_metric "$M_SENT1"; then
		fail "$2: both gateways online after the agent start" \
			"isp1: $(fo_status isp1); isp2: $(fo_status isp2); log: $(log_tail "$FO_LOG_MARK")"
		return 1
	fi
}

# --- 1. blackhole isp1 under a new connection every 50 ms -----------------------
# t_blackhole ID1 ID2 PROFILE
t_blackhole() {
	local id1=$1 id2=$2 profile=$3 mark res line st
	mark=$(fo_log_lines)
	measure_failover 60
	res=$FO_RESULT
	info "$profile profile: failover ${FO_FAILOVER_S:-never} s after the blackhole, $FO_FAILED of $FO_ATTEMPTS attempts failed (agent probing for ${FO_AGENT_AGE_S}s)"
	info "$profile profile: $res"
	check "$id1 $profile probes: after isp1 is blackholed, every new connection succeeds again and is seen from $LAB_WAN2_IP (none through isp1)" \
		"$res; isp1: $(fo_status isp1); log: $(log_tail "$mark")" \
		[ "$(jq_get "$res" settled)" = true -a "$(jq_get "$res" bad_ok_after)" = 0 ]
	line=$(fo_log_grep "$mark" "$RE_DOWN_LOSS")
	st=$(fo_status isp1)
	[ -n "$line" ] && info "$line"
	check "$id2 $profile probes: the agent logged isp1 -> down with a loss reason, status down, not usable" \
		"log: $(log_tail "$mark"); status: $st" \
		[ -n "$line" -a "${st%% *}" = down -a "$(echo "$st" | cut -d' ' -f2)" = no ]
}

# --- 2. recovery: isp1 takes new connections only after up_after good probes ---------
t_recover() {
	local f=$FO_DIR/recover.jsonl mark c0 c1 tun res first line logsec ok n1 n2 pct
	mark=$(fo_log_lines)
	: >"$f"
	fo_prober_start "$f"
	lab_poll 10 lab_count_ge 10 fo_lines "$f"
	c0=$(fo_probe_count isp1)
	fo_unblackhole isp1
	tun=$(fo_now)
	fo_wait_status isp1 online 30
	c1=$(fo_probe_count isp1)
	# two more seconds of attempts after isp1 is back
	lab_poll 10 lab_count_ge "$(($(fo_lines "$f") + 40))" fo_lines "$f"
	fo_prober_stop
	# the first attempt that went through isp1, and how many did after
	res=$("$LAB_PY" - "$f" "$LAB_WAN1_IP" "$tun" <<-'EOF'
		import json, sys
		rows = sorted((json.loads(l) for l in open(sys.argv[1]) if l.strip()), key=lambda r: r["t"])
		t0 = float(sys.argv[3])
		via1 = [r for r in rows if r["ok"] and r["addr"] == sys.argv[2] and r["t"] >= t0]
		print(json.dumps({"attempts": len(rows), "after_unblackhole": sum(r["t"] >= t0 for r in rows),
			"failed_after": sum(not r["ok"] for r in rows if r["t"] >= t0 + 1),
			"first_isp1_t": via1[0]["t"] if via1 else None, "via_isp1": len(via1)}))
	EOF
	)
	first=$(jq_get "$res" first_isp1_t)
	info "unblackholed at $tun; isp1 last seen down at ${FO_OTHER_AT:-?}, online at ${FO_SEEN_AT:-?} ($(fo_elapsed "$tun" "${FO_SEEN_AT:-$tun}") s later); isp1 probes reaching isp1 meanwhile: $((${c1:-0} - ${c0:-0}))"
	info "prober: $res"
	# An attempt's start stamp is taken just before its connect(): allow
	# $ATTEMPT_SLACK s for its SYN to reach the gw.
	ok=1
	[ -n "$FO_SEEN_AT" ] && [ -n "$FO_OTHER_AT" ] && [ -n "$first" ] &&
		lt "$(awk -v a="$FO_OTHER_AT" -v s="$ATTEMPT_SLACK" 'BEGIN { printf "%.6f", a - s }')" "$first" &&
		[ -n "$c0" ] && [ -n "$c1" ] && [ "$((c1 - c0))" -ge "$UP_AFTER" ] && ok=0
	check "2a after the blackhole ends, isp1 is back only after >= $UP_AFTER probes got through, and no new connection goes through isp1 ($LAB_WAN1_IP) before the agent has it online again; then they do" \
		"first connection via isp1 started at ${first:-never}, isp1 still down at $FO_OTHER_AT, online seen at ${FO_SEEN_AT:-never}; probes that reached isp1 after the blackhole: $((${c1:-0} - ${c0:-0})) ($c0 -> $c1); $res; log: $(log_tail "$mark")" \
		[ "$ok" = 0 ]
	line=$(fo_log_grep "$mark" "$RE_UP_GOOD")
	[ -n "$line" ] && info "$line"
	logsec=$(date -u -d "$(echo "$line" | cut -d' ' -f1)" +%s 2>/dev/null)
	ok=1
	[ -n "$line" ] && [ -n "$first" ] && [ -n "$logsec" ] && ge "$first" "$logsec" && ok=0
	check "2b the agent logged isp1 down -> online ($UP_AFTER consecutive good probes), not after the first connection through isp1" \
		"log line: ${line:-none} (${logsec:-?}); first via isp1 at ${first:-never}; log: $(log_tail "$mark")" \
		[ "$ok" = 0 ]

	res=$(client_py tcp-whoami --count 200 --bind 10.1.0.2 --bind 10.1.0.3 --bind 10.1.0.4)
	n1=$(jq_get "$res" by_addr | "$LAB_PY" -c 'import json,sys; print(json.load(sys.stdin).get("'"$LAB_WAN1_IP"'", 0))' 2>/dev/null)
	n2=$(jq_get "$res" by_addr | "$LAB_PY" -c 'import json,sys; print(json.load(sys.stdin).get("'"$LAB_WAN2_IP"'", 0))' 2>/dev/null)
	pct=$(((${n1:-0} * 100) / 200))
	info "after recovery: isp1 $n1/200 = $pct%, isp2 $n2"
	check "2c after recovery 200 new connections all succeed, isp1 takes about 75% again (60..90%)" \
		"$res" [ "$(jq_get "$res" ok)" = 200 -a "$pct" -ge 60 -a "$pct" -le 90 ]
}

# --- 3. carrier loss is acted on at once ---------------------------------------------------
wan1_nocarrier() { lab_gw ip link show dev wan1 | grep -q 'NO-CARRIER.*,UP'; }
t_carrier() {
	local mark l0 l1 tdown el line link ok
	mark=$(fo_log_lines)
	l0=$(fo_metric "$M_LOST1")
	fo_carrier isp1 down
	tdown=$(fo_now)
	fo_wait_status isp1 down 15 'link down'
	l1=$(fo_metric "$M_LOST1")
	link=$(lab_gw ip -br link show dev wan1)
	el=$(fo_elapsed "$tdown" "${FO_SEEN_AT:-$(fo_now)}")
	line=$(fo_log_grep "$mark" "$RE_DOWN_LINK")
	info "carrier off at $tdown, isp1 down (link down) seen ${el}s later; wan1: $link; isp1 probes lost $l0 -> $l1"
	ok=1
	[ -n "$FO_SEEN_AT" ] && [ -n "$line" ] && [ -n "$l0" ] && [ "$l0" = "$l1" ] &&
		lt "$el" "$SLOW_LOSS_INTERVAL_S" && wan1_nocarrier && ok=0
	check "3a carrier loss on wan1 (admin up, no carrier) with 5 s probes: isp1 down (link down) at once, before any probe could be counted lost" \
		"status: $FO_LAST_STATUS after ${el}s; wan1: $link; probes lost $l0 -> $l1; log: $(log_tail "$mark")" \
		[ "$ok" = 0 ]
	mark=$(fo_log_lines)
	fo_carrier isp1 up
	ok=1
	fo_wait_status isp1 online 30 && fo_log_grep "$mark" "$RE_UP_ANY" >/dev/null && ok=0
	check "3b carrier back: isp1 online again (logged)" \
		"status: $FO_LAST_STATUS; log: $(log_tail "$mark")" [ "$ok" = 0 ]
}

# --- 4. kill -9 of the agent ------------------------------------------------------------------
ping_gaps() { # FILE: "missing received max_seq" of a ping -D output
	awk '/icmp_seq=/ { for (i = 1; i <= NF; i++) if ($i ~ /^icmp_seq=/) { s = substr($i, 10) + 0; got[s] = 1; if (s > max) max = s; n++ } }
		END { m = 0; for (i = 1; i <= max; i++) if (!(i in got)) m++; print m, n + 0, max + 0 }' "$1"
}
ping_after() { # FILE T: replies stamped at or after T
	awk -v t="$1" -F'[][]' '/icmp_seq=/ && $2 + 0 >= t + 0 { n++ } END { print n + 0 }' "$2"
}
t_kill9() {
	local h=$FO_DIR/hold-kill.log pf=$FO_DIR/ping-kill.txt ping tkill trest flows peers mark gaps line ok
	if ! fo_hold_start "$h"; then
		fail "4a held connection through the dataplane survives kill -9 of the agent" "cannot open: $(cat "$h" "$h.err" 2>/dev/null)"
		return
	fi
	local hold=$FO_HOLD_PID
	lab_poll 5 fo_hold_replied "$h" 0 3
	# (ip netns exec execs ping: $! is ping's pid, which SIGINT stops)
	ip netns exec "$LAB_NS_CLIENT" ping -n -D -i 0.1 -W 2 "$LAB_SERVER" </dev/null >"$pf" 2>&1 &
	ping=$!
	lab_poll 5 _lab_file_has "$pf" icmp_seq=3
	kill -KILL "$FO_AGENT_PID"
	wait "$FO_AGENT_PID" 2>/dev/null
	FO_AGENT_PID=""
	tkill=$(fo_now)
	ok=1
	lab_poll 10 fo_hold_replied "$h" "$tkill" 10 && ok=0
	flows=$(lab_xwan flows --client "${FO_HOLD_LOCAL%:*}" 2>&1)
	peers=$(fo_hold_peers "$h" "$tkill")
	info "held connection $FO_HOLD_LOCAL seen as $FO_HOLD_SEEN; after kill -9: $(fo_hold_replies "$h" "$tkill") replies, peers $peers"
	grep -q "$FO_HOLD_LOCAL .*$LAB_SERVER:$FO_ECHO_PORT" <<<"$flows" || ok=1
	[ "$peers" = "$FO_HOLD_SEEN" ] || ok=1
	check "4a after kill -9 of the agent the held connection still sends and receives (server sees $FO_HOLD_SEEN), xwan flows still lists it" \
		"replies after the kill: $(fo_hold_replies "$h" "$tkill"), peers '$peers'; error: $(fo_hold_error "$h"); flows: $(grep -E "$FO_ECHO_PORT|flows shown" <<<"$flows")" \
		[ "$ok" = 0 ]

	mark=$(fo_log_lines)
	fo_agent_start "$CFG_FAST"
	trest=$(fo_now)
	line=$(fo_log_grep "$mark" "$RE_ADOPTED")
	[ -n "$line" ] && info "$line"
	check "4c the restarted agent logged that it adopted the running dataplane" \
		"log: $(log_tail "$mark")" [ -n "$line" ]
	# one second of the new agent at work, then the connection again
	lab_poll 10 lab_count_ge 10 fo_metric "$M_SENT1"
	ok=1
	lab_poll 10 fo_hold_replied "$h" "$(fo_now)" 10 && ok=0
	peers=$(fo_hold_peers "$h" "$trest")
	[ "$peers" = "$FO_HOLD_SEEN" ] || ok=1
	check "4d after the restart the held connection still works with the same NAT source (server sees $FO_HOLD_SEEN)" \
		"replies after restart: $(fo_hold_replies "$h" "$trest"), peers '$peers'; error: $(fo_hold_error "$h"); log: $(log_tail "$mark")" \
		[ "$ok" = 0 ]
	fo_hold_stop "$hold"

	kill -INT "$ping" 2>/dev/null
	lab_poll 5 _lab_gone "$ping" || kill -KILL "$ping" 2>/dev/null
	wait "$ping" 2>/dev/null
	gaps=$(ping_gaps "$pf")
	info "ping through kill -9 and restart: missing/received/last seq: $gaps, replies after the kill: $(ping_after "$tkill" "$pf")"
	local missing received last
	read -r missing received last <<<"$gaps"
	check "4b pings from the client keep flowing through kill -9 and the restart (no reply missing)" \
		"missing $missing of $last, replies after kill $(ping_after "$tkill" "$pf"); $(tail -n 3 "$pf")" \
		[ "$missing" = 0 -a "$received" -gt 0 -a "$(ping_after "$tkill" "$pf")" -gt 0 ]
}

# --- 5. a connection through isp1 is reset when isp1 goes down --------------------------------------------
# hold_on_isp1 FILE: a held connection that the server sees from isp1, and
# that xwan flows shows on isp1
hold_on_isp1() {
	local f=$1 flows
	if ! fo_hold_start "$f" --want-addr "$LAB_WAN1_IP"; then
		HOLD_ERR="cannot open a connection through isp1: $(tail -n 2 "$f" "$f.err" 2>/dev/null)"
		return 1
	fi
	flows=$(lab_xwan flows --client "${FO_HOLD_LOCAL%:*}" 2>&1)
	if ! grep -qE "^tcp .*$FO_HOLD_LOCAL .*$LAB_SERVER:$FO_ECHO_PORT +isp1 " <<<"$flows"; then
		HOLD_ERR="xwan flows does not show $FO_HOLD_LOCAL on isp1: $(grep -E "$FO_ECHO_PORT|flows shown" <<<"$flows")"
		return 1
	fi
	lab_poll 5 fo_hold_replied "$f" 0 3
}
t_reset() {
	local h=$FO_DIR/hold-reset.log mark err res line
	mark=$(fo_log_lines)
	if ! hold_on_isp1 "$h"; then
		fail "5a a connection held through isp1 is reset (ECONNRESET at the client) when isp1 goes down" "$HOLD_ERR"
		fo_hold_stop
		return
	fi
	info "held connection $FO_HOLD_LOCAL through isp1 (server sees $FO_HOLD_SEEN)"
	fo_blackhole isp1
	lab_poll 30 fo_hold_has_error "$h"
	err=$(fo_hold_error "$h")
	# the agent logs the flush once its resets are out: the client may be first
	lab_poll 5 fo_log_grep "$mark" "$RE_RESET"
	line=$(fo_log_grep "$mark" "$RE_RESET")
	[ -n "$line" ] && info "$line"
	check "5a a connection held through isp1 is reset (ECONNRESET at the client) when isp1 goes down" \
		"client error: '${err:-none}'; isp1: $(fo_status isp1); log: $(log_tail "$mark")" \
		[ "$err" = ECONNRESET -a -n "$line" ]
	fo_hold_stop
	res=$(client_py tcp-whoami --count 10)
	check "5b a new connection then succeeds through isp2 (10 of 10 seen from $LAB_WAN2_IP)" \
		"$res" grep -q "\"by_addr\": {\"$LAB_WAN2_IP\": 10}, .*\"ok\": 10" <<<"$res"
	fo_unblackhole isp1
	fo_wait_status isp1 online 30
}

# --- 6. on_gateway_down: keep ---------------------------------------------------------------------
t_keep() {
	local h=$FO_DIR/hold-keep.log mark tun ok peers
	mark=$(fo_log_lines)
	if ! hold_on_isp1 "$h"; then
		fail "6a on_gateway_down: keep: a connection held through isp1 is not reset when isp1 goes down" "$HOLD_ERR"
		fail "6b on_gateway_down: keep: the held connection works again once isp1 is back" "not opened"
		fo_hold_stop
		return
	fi
	info "held connection $FO_HOLD_LOCAL through isp1 (server sees $FO_HOLD_SEEN)"
	fo_blackhole isp1
	fo_wait_status isp1 down 30
	# a reset would have come with the down transition: give it time to show
	lab_poll 2 fo_hold_has_error "$h"
	check "6a on_gateway_down: keep: a connection held through isp1 is not reset when isp1 goes down" \
		"isp1: $FO_LAST_STATUS; client error: '$(fo_hold_error "$h")'; log: $(log_tail "$mark")" \
		[ "${FO_LAST_STATUS%% *}" = down -a -z "$(fo_hold_error "$h")" -a -z "$(fo_log_grep "$mark" "$RE_FLUSH")" ]
	fo_unblackhole isp1
	tun=$(fo_now)
	fo_wait_status isp1 online 30
	ok=1
	lab_poll 30 fo_hold_replied "$h" "$tun" 5 && ok=0
	peers=$(fo_hold_peers "$h" "$tun")
	info "after isp1 is back: $(fo_hold_replies "$h" "$tun") replies, peers $peers"
	check "6b on_gateway_down: keep: the held connection works again once isp1 is back (same NAT source $FO_HOLD_SEEN)" \
		"replies since the blackhole ended: $(fo_hold_replies "$h" "$tun"), peers '$peers'; error: '$(fo_hold_error "$h")'; isp1: $(fo_status isp1)" \
		[ "$ok" = 0 -a "$peers" = "$FO_HOLD_SEEN" ]
	fo_hold_stop
}

# --- run -----------------------------------------------------------------------------------------------
if start_agent "$CFG_DEFAULT" "1 default probes"; then
	t_blackhole 1a 1b default
	t_recover
else
	for c in 1a 1b 2a 2b 2c; do fail "$c" "the agent did not start with the default profile"; done
fi
if start_agent "$CFG_FAST" "1 fast probes"; then
	t_blackhole 1c 1d fast
	fo_unblackhole isp1
	fo_wait_status isp1 online 30
else
	for c in 1c 1d; do fail "$c" "the agent did not start with the fast profile"; done
fi
if start_agent "$CFG_SLOW" "3 slow probes" 1; then
	t_carrier
else
	for c in 3a 3b; do fail "$c" "the agent did not start with the slow profile"; done
fi
if start_agent "$CFG_FAST" "4 fast probes"; then
	t_kill9
else
	for c in 4a 4b 4c 4d; do fail "$c" "the agent did not start with the fast profile"; done
fi
if fo_agent_alive && fo_wait_status isp1 online 30 && fo_wait_status isp2 online 30; then
	t_reset
else
	for c in 5a 5b; do fail "$c" "no agent with both gateways online (isp1: $(fo_status isp1))"; done
fi
if start_agent "$CFG_KEEP" "6 keep"; then
	t_keep
else
	for c in 6a 6b; do fail "$c" "the agent did not start with on_gateway_down: keep"; done
fi
fo_agent_stop
line=$(fo_log_since 0 | grep -cE 'xwan: exiting; the dataplane keeps forwarding')
info "agent log: $(fo_log_lines) lines, $line clean exits"

echo "# test_failover: $NPASS pass, $NFAIL fail"
[ "$NFAIL" = 0 ]
