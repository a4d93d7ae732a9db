#!/bin/bash
# tests/e2e/test_operator.sh - what an operator sees of the agent in the lab
# (tests/e2e/lab.sh): the CLI catching mistakes on a live gateway, the
# agent's own metrics (gateway info, per-target RTT and loss, reloads), no
# empty or duplicate gateway series after a reload removed a WAN, a rejected
# reload counted and survived, and systemd's notify protocol (RELOADING=1 /
# READY=1 around a reload, WATCHDOG=1 from the loop), read from a
# NOTIFY_SOCKET of our own; maintenance mode (`xwan gateway down|up`): new
# flows leave through the other WAN, held ones are reset, the mark survives
# an agent restart and shows in status and metrics; hooks.on_gateway_change
# runs on every transition with what happened in its environment, never
# holds up a failover, and is killed at its timeout. Needs root, promtool.
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
CHECKS="1a 1b 1c 2a 2b 2c 3a 3b 3c 3d 4a 4b 4c 5a 5b 6a 6b 6c 6d 6e 6f 6g 6h 7a 7b 7c 7d 7e"
if [ "$MODE" != xwan ]; then
	for c in $CHECKS; do echo "SKIP: $c operator checks (xwan-only, mode=$MODE)"; done
	exit 0
fi

lab_init_names "${XWAN_LAB_PREFIX:-xo$$}"
SD_PID=""
FO_ECHO_PID=""
cleanup() {
	trap "" INT TERM HUP
	fo_hold_stop >/dev/null 2>&1
	fo_agent_stop >/dev/null 2>&1
	for p in $(cat "$LAB_STATE"/hooks/run.* 2>/dev/null | sed -n 's/^pid=//p'); do kill -KILL -- "-$p" 2>/dev/null; done
	[ -n "$FO_ECHO_PID" ] && kill "$FO_ECHO_PID" 2>/dev/null && wait "$FO_ECHO_PID" 2>/dev/null
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

# --- 6. maintenance: xwan gateway down|up ----------------------------------------
client_py() { timeout 120 ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/client.py" "$@"; }
# seen_from JSON ADDR: how many of tcp-whoami's connections the server saw from ADDR
seen_from() { "$LAB_PY" -c 'import json,sys; print(json.loads(sys.argv[1]).get("by_addr", {}).get(sys.argv[2], 0))' "$1" "$2" 2>/dev/null || echo 0; }
mcfg=$(fo_config fast "" maint) || exit 1
fo_echo_server_start || fail "6 echo server" "$(tail -n 3 "$FO_DIR/echo-server.log" 2>/dev/null)"
fo_agent_start "$mcfg" || { fail "6a agent" "did not start: $(fo_log_since 0 | tail -n 3)"; exit 1; }
fo_wait_status isp1 online 30 >/dev/null; fo_wait_status isp2 online 30 >/dev/null
res0=$(client_py tcp-whoami --count 24)
n1=$(seen_from "$res0" "$LAB_WAN1_IP")
hold=$FO_DIR/hold-maint.log
held=no
if fo_hold_start "$hold" --want-addr "$LAB_WAN1_IP" && lab_poll 5 fo_hold_replied "$hold" 0 2; then held=yes; fi
mark=$(fo_log_lines)
out=$(lab_xwan gateway down isp1 --reason "fibre work" 2>&1); rc=$?
lab_poll 10 fo_hold_has_error "$hold"
err=$(fo_hold_error "$hold")
check "6a control: isp1 took $n1 of 24 new connections; xwan gateway down isp1 --reason exits 0 (rc $rc) and a connection held through isp1 ($held) is reset (${err:-no error})" \
	"$out // $(fo_log_since "$mark" | tail -n 4 | ev)" \
	sh -c '[ "$1" -gt 0 ] && [ "$2" = 0 ] && [ "$3" = yes ] && [ "$4" = ECONNRESET ]' _ "$n1" "$rc" "$held" "$err"
fo_hold_stop
res=$(client_py tcp-whoami --count 24)
check "6b with isp1 in maintenance, 24 of 24 new connections leave through isp2 (seen from $LAB_WAN2_IP)" \
	"$res" sh -c '[ "$1" = 24 ]' _ "$(seen_from "$res" "$LAB_WAN2_IP")"
st=$(fo_status isp1)
body=$(metrics)
m1=$("$LAB_PY" "$LAB_TOOLS/promval.py" 'xwan_gateway_maintenance{gateway="isp1"}' <<<"$body")
m2=$("$LAB_PY" "$LAB_TOOLS/promval.py" 'xwan_gateway_maintenance{gateway="isp2"}' <<<"$body")
loss=$("$LAB_PY" "$LAB_TOOLS/promval.py" "xwan_target_loss_ratio{gateway=\"isp1\",target=\"$LAB_ISP1_GW\"}" <<<"$body")
check "6c xwan status: isp1 down, not usable, reason 'maintenance: fibre work' ($st); xwan_gateway_maintenance isp1 = 1, isp2 = 0 (control); isp1's probes still answered (loss $loss)" \
	"$(grep maintenance <<<"$body")" \
	sh -c 'echo "$1" | grep -q "^down no .* maintenance: fibre work$" && [ "$2" = 1 ] && [ "$3" = 0 ] && awk -v l="$4" "BEGIN { exit !(l != \"\" && l + 0 == 0) }"' _ "$st" "$m1" "$m2" "$loss"
fo_agent_stop >/dev/null 2>&1
fo_agent_start "$mcfg" || fail "6d agent restart" "$(fo_log_since 0 | tail -n 3)"
fo_wait_status isp2 online 30 >/dev/null
sleep 2         # isp1's probes are answered: without the mark it would be online by now
st=$(fo_status isp1)
res=$(client_py tcp-whoami --count 24)
check "6d after an agent restart isp1 is still down for maintenance ($st) and 24 of 24 new connections use isp2" \
	"$res // $(fo_log_since "$FO_LOG_MARK" | grep -m2 isp1 | ev)" \
	sh -c 'echo "$1" | grep -q "^down no .*maintenance: fibre work$" && [ "$2" = 24 ]' _ "$st" "$(seen_from "$res" "$LAB_WAN2_IP")"
out=$(lab_xwan gateway up isp1 2>&1); rc=$?
st=$(fo_status isp1)
res=$(client_py tcp-whoami --count 24)
n1=$(seen_from "$res" "$LAB_WAN1_IP")
check "6e xwan gateway up isp1 exits 0 (rc $rc), isp1 is online again ($st) and takes new connections ($n1 of 24)" \
	"$out // $res" sh -c '[ "$1" = 0 ] && [ "${2%% *}" = online ] && [ "$3" -gt 0 ]' _ "$rc" "$st" "$n1"
out=$(lab_xwan gateway down isp9 2>&1); rc=$?
check "6f xwan gateway down isp9 (no such gateway) exits 2 and lists the gateways (rc $rc)" "$out" \
	sh -c '[ "$1" = 2 ] && echo "$2" | grep -q "no gateway named \"isp9\"; the gateways are: isp1, isp2"' _ "$rc" "$out"
out=$(lab_xwan gateway up isp1 --reason x 2>&1); rc=$?
out2=$(lab_xwan gateway sideways isp1 2>&1); rc2=$?
check "6g usage errors exit 2: --reason with up (rc $rc), an unknown action (rc $rc2)" "$out // $out2" \
	sh -c '[ "$1" = 2 ] && [ "$2" = 2 ] && echo "$3" | grep -q "one of down|up"' _ "$rc" "$rc2" "$out2"
st=$(fo_status isp1)
check "6h the usage errors changed nothing: isp1 still online ($st)" "" [ "${st%% *}" = online ]
fo_agent_stop >/dev/null 2>&1

# --- 7. hooks.on_gateway_change ----------------------------------------------------
HD=$LAB_STATE/hooks
mkdir -p "$HD"
# Records its environment (one file per run), then hangs while $HD/hang exists.
cat >"$HD/hook.sh" <<EOF
#!/bin/bash
{ echo "pid=\$\$"; env | grep '^XWAN_' | sort; } >"$HD/run.\$\$.tmp" && mv "$HD/run.\$\$.tmp" "$HD/run.\$\$"
[ -e "$HD/hang" ] && sleep 60
exit 0
EOF
chmod +x "$HD/hook.sh"
hcfg=$(fo_config fast "" hooks) || exit 1
echo "hooks: {on_gateway_change: $HD/hook.sh, timeout_ms: 8000}" >>"$hcfg"
# runs_with K=V...: the hook records that have every K=V
runs_with() {
	local f kv ok
	for f in "$HD"/run.*; do
		[ -f "$f" ] || continue
		case $f in *.tmp) continue ;; esac
		ok=yes
		for kv in "$@"; do grep -qx -- "$kv" "$f" || ok=""; done
		[ -n "$ok" ] && echo "$f"
	done
	return 0
}
has_run() { [ -n "$(runs_with "$@")" ]; }
lab_xwan down >/dev/null 2>&1      # a fresh dataplane: the gateways start pending
fo_agent_start "$hcfg" || { fail "7a agent with a hook" "did not start: $(fo_log_since 0 | tail -n 3 | ev)"; exit 1; }
fo_wait_status isp1 online 30 >/dev/null
lab_poll 5 has_run XWAN_GATEWAY=isp1 XWAN_NEW_STATUS=online
check "7a the hook ran when isp1 came up: XWAN_EVENT=gateway_change, XWAN_GATEWAY=isp1, XWAN_INTERFACE=wan1, XWAN_OLD_STATUS=pending, XWAN_NEW_STATUS=online" \
	"$(cat "$HD"/run.* 2>/dev/null | ev)" has_run XWAN_EVENT=gateway_change XWAN_GATEWAY=isp1 XWAN_INTERFACE=wan1 XWAN_OLD_STATUS=pending XWAN_NEW_STATUS=online
fo_blackhole isp1
fo_wait_status isp1 down 30 >/dev/null
lab_poll 5 has_run XWAN_GATEWAY=isp1 XWAN_NEW_STATUS=down
f=$(runs_with XWAN_GATEWAY=isp1 XWAN_NEW_STATUS=down | head -n 1)
check "7b during a failover (isp1 blackholed) the hook got XWAN_GATEWAY=isp1, XWAN_INTERFACE=wan1, $(sed -n 's/^XWAN_OLD_STATUS=//p' "$f" 2>/dev/null) -> down and a reason; control: no record says isp2 went down" \
	"$(cat "$HD"/run.* 2>/dev/null | ev)" sh -c '[ -n "$1" ] && grep -qx XWAN_INTERFACE=wan1 "$1" && grep -qE "^XWAN_OLD_STATUS=(online|warning)$" "$1" && grep -q "^XWAN_REASON=..*" "$1" && [ -z "$2" ]' _ "$f" "$(runs_with XWAN_GATEWAY=isp2 XWAN_NEW_STATUS=down)"
fo_unblackhole isp1
fo_wait_status isp1 online 30 >/dev/null
# The hook of that return must be over before the next one is told to hang.
lab_poll 5 has_run XWAN_GATEWAY=isp1 XWAN_OLD_STATUS=down XWAN_NEW_STATUS=online
upid=$(runs_with XWAN_GATEWAY=isp1 XWAN_OLD_STATUS=down XWAN_NEW_STATUS=online | head -n 1 | xargs -r sed -n 's/^pid=//p')
lab_poll 5 sh -c '! kill -0 "$1" 2>/dev/null' _ "${upid:-1}"
touch "$HD/hang"
mark=$(fo_log_lines)
before=$(runs_with XWAN_GATEWAY=isp1 XWAN_NEW_STATUS=down | wc -l)
fo_blackhole isp1
fo_wait_status isp1 down 30 >/dev/null
more_downs() { [ "$(runs_with XWAN_GATEWAY=isp1 XWAN_NEW_STATUS=down | wc -l)" -gt "$before" ]; }
lab_poll 5 more_downs
hpid=$(ls -t $(runs_with XWAN_GATEWAY=isp1 XWAN_NEW_STATUS=down) 2>/dev/null | head -n 1 | xargs -r sed -n 's/^pid=//p')
res=$(client_py tcp-whoami --count 10)
alive=no; [ -n "$hpid" ] && kill -0 "$hpid" 2>/dev/null && alive=yes
check "7c with a hook that hangs (pid ${hpid:-none} still running: $alive), isp1 is down ($(fo_status isp1 | cut -d' ' -f1)) and 10 of 10 new connections already leave through isp2" \
	"$res" sh -c '[ "$1" = yes ] && [ "$2" = 10 ]' _ "$alive" "$(seen_from "$res" "$LAB_WAN2_IP")"
lab_poll 20 sh -c '! kill -0 "$1" 2>/dev/null' _ "${hpid:-1}"
alive=no; [ -n "$hpid" ] && kill -0 "$hpid" 2>/dev/null && alive=yes
lab_poll 5 fo_log_grep "$mark" "overran its timeout"
check "7d the hanging hook (it would sleep 60 s) is killed at its 8 s timeout (still alive: $alive) and the agent logs it" \
	"$(fo_log_since "$mark" | grep hook | ev)" sh -c '[ "$1" = no ] && [ -n "$2" ]' _ "$alive" "$(fo_log_grep "$mark" "overran its timeout of 8000 ms: killed")"
sleep 1.2
body=$(metrics)
hok=$("$LAB_PY" "$LAB_TOOLS/promval.py" 'xwan_hook_runs_total{hook="on_gateway_change",result="ok"}' <<<"$body")
hto=$("$LAB_PY" "$LAB_TOOLS/promval.py" 'xwan_hook_runs_total{hook="on_gateway_change",result="timeout"}' <<<"$body")
hfail=$("$LAB_PY" "$LAB_TOOLS/promval.py" 'xwan_hook_runs_total{hook="on_gateway_change",result="failed"}' <<<"$body")
check "7e xwan_hook_runs_total: ok $hok (at least 4: two starts, a down, an up, before the hang), timeout $hto (at least 1), failed $hfail (0)" \
	"$(grep hook_runs <<<"$body" | ev)" awk -v o="$hok" -v t="$hto" -v f="$hfail" 'BEGIN { exit !(o >= 4 && t >= 1 && f == 0) }'
rm -f "$HD/hang"
fo_unblackhole isp1
fo_agent_stop >/dev/null 2>&1

echo "test_operator: $NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
