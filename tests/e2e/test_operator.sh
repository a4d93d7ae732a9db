#!/bin/bash
# tests/e2e/test_operator.sh - what an operator sees of the agent in the lab
# (tests/e2e/lab.sh): the CLI catching mistakes on a live gateway, the
# agent's own metrics (gateway info, per-target RTT and loss, reloads), no
# empty or duplicate gateway series after a reload removed a WAN, a rejected
# reload counted and survived, and systemd's notify protocol (RELOADING=1 /
# READY=1 around a reload, WATCHDOG=1 from the loop), read from a
# NOTIFY_SOCKET of our own. Needs root, promtool.
#
# Every check prints "PASS: <what>" or "FAIL: <what> (<evidence>)".

set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"
# shellcheck source=tests/e2e/failover_lib.sh
. "$E2E_DIR/failover_lib.sh"

MODE=${XWAN_E2E_MODE:-xwan}
: "${PROMTOOL:=promtool}"
CHECKS="1a 1b 1c 2a 2b 2c 3a 3b 3c 3d 4a 4b 4c 5a 5b"
if [ "$MODE" != xwan ]; then
	for c in $CHECKS; do echo "SKIP: $c operator checks (xwan-only, mode=$MODE)"; done
	exit 0
fi

lab_init_names "${XWAN_LAB_PREFIX:-xo$$}"
SD_PID=""
cleanup() {
	trap "" INT TERM HUP
	fo_agent_stop >/dev/null 2>&1
	[ -n "$SD_PID" ] && kill "$SD_PID" 2>/dev/null && wait "$SD_PID" 2>/dev/null
	lab_destroy
}
e2e_traps cleanup

if ! setup_err=$(lab_create xwan 2>&1); then
	for c in $CHECKS; do fail "$c operator checks" "lab setup failed: $(tail -n 5 <<<"$setup_err")"; done
	exit 1
fi
_fo_state_init
metrics() { lab_gw curl -sf --max-time 5 "http://$FO_METRICS_LISTEN/metrics"; }
mval() { metrics | "$LAB_PY" "$LAB_TOOLS/promval.py" "$1"; }

# --- 1. the CLI on a live gateway ---------------------------------------------
out=$(lab_xwan down --help 2>&1); rc=$?
st=$(lab_xwan status 2>&1)
check "1a xwan down --help prints down's help (rc $rc) and tears nothing down (xwan status still answers)" \
	"$out // $st" sh -c '[ "$1" = 0 ] && echo "$2" | grep -q "^usage: xwan down" && echo "$3" | grep -q "^isp1 "' _ "$rc" "$out" "$st"
pingq() { lab_client ping -c 2 -W 2 -q "$LAB_SERVER" >/dev/null 2>&1; }
check "1b the client still reaches the server through the gateway after it" "" pingq
out=$(lab_xwan run -c /nonexistent.yaml --detach-on-exti 2>&1); rc=$?
check "1c xwan run --detach-on-exti exits 2 and names --detach-on-exit (rc $rc)" "$out" \
	sh -c '[ "$1" = 2 ] && echo "$2" | grep -q "did you mean --detach-on-exit"' _ "$rc" "$out"

# --- 2. the agent's metrics, under systemd's notify protocol ------------------
SD_SOCK=$LAB_STATE/notify.sock
SD_LOG=$LAB_LOG/notify.log
"$LAB_PY" - "$SD_SOCK" "$SD_LOG" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        msg = s.recv(4096).decode(errors="replace")
        for line in msg.split("\n"):
            if line:
                f.write(f"{time.time():.3f} {line}\n")
PY
SD_PID=$!
lab_poll 5 test -S "$SD_SOCK"
cfg=$(fo_config fast) || exit 1
NOTIFY_SOCKET=$SD_SOCK WATCHDOG_USEC=2000000 fo_agent_start "$cfg" || { fail "2a agent" "did not start"; exit 1; }
fo_wait_status isp1 online 30 >/dev/null; fo_wait_status isp2 online 30 >/dev/null
sleep 1.5
body=$(metrics)
info=$("$LAB_PY" "$LAB_TOOLS/promval.py" "xwan_gateway_info{gateway=\"isp1\",interface=\"wan1\",nexthop=\"$LAB_ISP1_GW\"}" <<<"$body")
rtt=$("$LAB_PY" "$LAB_TOOLS/promval.py" "xwan_target_rtt_seconds{gateway=\"isp1\",target=\"$LAB_ISP1_GW\"}" <<<"$body")
check "2a /metrics: xwan_gateway_info{isp1, wan1, $LAB_ISP1_GW} = 1 and isp1's target RTT > 0 ($rtt s)" \
	"$(grep -E 'gateway_info|target_rtt' <<<"$body")" \
	awk -v i="$info" -v r="$rtt" 'BEGIN { exit !(i == 1 && r > 0) }'
lint=$("$PROMTOOL" check metrics <<<"$body" 2>&1)
check "2b promtool check metrics is clean on the agent's /metrics" "$lint" [ -z "$lint" ]
wd=$(grep -c 'WATCHDOG=1' "$SD_LOG")
check "2c with WATCHDOG_USEC=2 s the agent sent READY=1 and WATCHDOG=1 ($wd times) to NOTIFY_SOCKET" \
	"$(tail -n 5 "$SD_LOG")" sh -c 'grep -q READY=1 "$1" && [ "$2" -ge 2 ]' _ "$SD_LOG" "$wd"

# --- 3. a reload that removes a WAN -------------------------------------------
one=$FO_DIR/one-wan.yaml
sed -e '/name: isp2/d' -e 's/members: \[{wan: isp1, tier: 1}, {wan: isp2, tier: 1}\]/members: [{wan: isp1, tier: 1}]/' "$cfg" >"$one"
before=$(metrics | grep -c 'gateway="isp2"')
mark=$(wc -l <"$SD_LOG")
cat "$one" >"$cfg"       # the agent's own file: it reloads the path it runs from
out=$(lab_xwan reload -c "$cfg" 2>&1); rc=$?
check "3a xwan reload -c (isp2 removed) goes through the agent and exits 0" "$out" \
	sh -c '[ "$1" = 0 ] && echo "$2" | grep -q "the agent (pid"' _ "$rc" "$out"
sleep 1.2
body=$(metrics)
empty=$(grep -c 'gateway=""' <<<"$body")
isp2=$(grep -c 'gateway="isp2"' <<<"$body")
dups=$(grep -v '^#' <<<"$body" | awk '{ print $1 }' | sort | uniq -d | head -n 3)
check "3b after it: no gateway=\"\" series ($empty), no isp2 series ($isp2; $before before), no duplicate series" \
	"dups: $dups" sh -c '[ "$1" = 0 ] && [ "$2" = 0 ] && [ "$3" -gt 0 ] && [ -z "$4" ]' _ "$empty" "$isp2" "$before" "$dups"
ok=$("$LAB_PY" "$LAB_TOOLS/promval.py" 'xwan_reloads_total{result="applied"}' <<<"$body")
succ=$("$LAB_PY" "$LAB_TOOLS/promval.py" 'xwan_reload_success' <<<"$body")
check "3c xwan_reloads_total{result=\"applied\"} = 1, xwan_reload_success = 1" "$ok $succ" \
	[ "$ok" = 1 ] && [ "$succ" = 1 ] 2>/dev/null
check "3d the agent told systemd RELOADING=1 (with MONOTONIC_USEC) then READY=1 around it" \
	"$(tail -n +"$((mark + 1))" "$SD_LOG" | grep -v WATCHDOG | ev)" \
	sh -c 'tail -n +"$2" "$1" | grep -v WATCHDOG | awk "/RELOADING=1/ { r = 1 } r && /MONOTONIC_USEC=[0-9]+/ { m = 1 } m && /READY=1/ { ok = 1 } END { exit !ok }"' \
	_ "$SD_LOG" "$((mark + 1))"

# --- 4. a reload the agent rejects --------------------------------------------
sent0=$(mval 'xwan_gateway_probes_sent_total{gateway="isp1"}')
echo "wan: [this is not a list of WANs" >>"$cfg"
out=$(lab_xwan reload -c "$cfg" 2>&1); rc=$?
check "4a xwan reload -c of a broken file exits 1 and changes nothing (what systemctl reload reports)" "$out" \
	[ "$rc" = 1 ]
mark=$(fo_log_lines)
kill -HUP "$FO_AGENT_PID"
lab_poll 10 sh -c "tail -n +$((mark + 1)) '$FO_AGENT_LOG' | grep -q 'reload rejected'"
sleep 1.2
body=$(metrics)
rej=$("$LAB_PY" "$LAB_TOOLS/promval.py" 'xwan_reloads_total{result="rejected"}' <<<"$body")
succ=$("$LAB_PY" "$LAB_TOOLS/promval.py" 'xwan_reload_success' <<<"$body")
check "4b a SIGHUP with the broken file: the agent logs 'reload rejected', xwan_reloads_total{rejected} = 1, xwan_reload_success = 0" \
	"$rej $succ $(tail -n 3 "$FO_AGENT_LOG" | ev)" sh -c '[ "$1" = 1 ] && [ "$2" = 0 ]' _ "$rej" "$succ"
sent1=$("$LAB_PY" "$LAB_TOOLS/promval.py" 'xwan_gateway_probes_sent_total{gateway="isp1"}' <<<"$body")
check "4c the agent keeps probing on the running config (isp1 probes sent $sent0 -> $sent1)" "" \
	awk -v a="$sent0" -v b="$sent1" 'BEGIN { exit !(b > a) }'

# --- 5. the agent is gone: the CLI is still strict ----------------------------
fo_agent_stop >/dev/null 2>&1
out=$(lab_xwan flows --client 10.1.0.300 2>&1); rc=$?
check "5a xwan flows --client 10.1.0.300 exits 2 naming the bad address" "$out" \
	sh -c '[ "$1" = 2 ] && echo "$2" | grep -q "needs an IPv4 address"' _ "$rc" "$out"
out=$(lab_xwan flows --client="$LAB_CLIENT_IP" --wan=isp1 2>&1); rc=$?
check "5b the --opt=value forms work: xwan flows --client=$LAB_CLIENT_IP --wan=isp1 exits 0 with the flows table" \
	"$out" sh -c '[ "$1" = 0 ] && echo "$2" | grep -q KIND' _ "$rc" "$out"

echo "test_operator: $NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
