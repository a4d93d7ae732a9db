#!/bin/bash
# tests/e2e/test_status_page.sh - the agent's status page in a real browser:
# headless Chromium (tests/e2e/tools/browser.py, DevTools protocol) keeps the
# page open in the lab's gw namespace while isp1 fails; the page must show it
# without a reload. Also the token, the JSON API against `xwan status
# --json`, and the Grafana dashboard's queries (promtool). Needs root,
# chromium, python3-websockets, promtool.
#
#   tests/e2e/test_status_page.sh
#   XWAN_LAB_KEEP_LOGS=DIR   copy the lab's logs (agent, chromium) there
#
# Then the agent again on 0.0.0.0: the warning, and the token from the LAN.
# Screenshots: build/status-page-online.png, build/status-page-down.png,
# build/status-page-day.png. Every check prints "PASS: <what>" or
# "FAIL: <what> (<evidence>)"; figures (page load time) are "#" lines.
# In kernel mode (XWAN_E2E_MODE=kernel) there is no agent: every check is a SKIP.

set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"
# shellcheck source=tests/e2e/failover_lib.sh
. "$E2E_DIR/failover_lib.sh"

MODE=${XWAN_E2E_MODE:-xwan}
case ${BUILD:-build} in /*) SHOTS=$BUILD ;; *) SHOTS=$LAB_ROOT/${BUILD:-build} ;; esac
TOKEN=st-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
BASE=http://$FO_METRICS_LISTEN
MIN_POINTS=10              # points an hour chart must have drawn

CHECKS="1a 1b 1c 1d 1e 2a 2b 2c 2d 3a 3b 3c 3d 4 4b 5a 5b 6"
if [ "$MODE" != xwan ]; then
	for c in $CHECKS; do echo "SKIP: $c status page (xwan-only, mode=$MODE)"; done
	exit 0
fi

lab_init_names "${XWAN_LAB_PREFIX:-st$$}"
BR_PID=""
cleanup() {
	trap "" INT TERM HUP
	# bash unsets BR once the coproc has exited
	if [ -n "$BR_PID" ]; then
		[ -n "${BR[1]:-}" ] && echo quit >&"${BR[1]}" 2>/dev/null
		lab_poll 10 _lab_gone "$BR_PID" || kill -KILL "$BR_PID" 2>/dev/null
	fi
	fo_unblackhole isp1 2>/dev/null
	fo_agent_stop
	lab_destroy
}
e2e_traps cleanup

# --- 5. the Grafana dashboard: every query is valid PromQL (no lab needed) ----------
t_grafana() {
	local out names bad
	out=$("$LAB_ROOT/dist/grafana/check.sh" 2>&1)
	names=$(echo "$out" | tail -n 1)
	check "5a every query of dist/grafana/xwan.json passes promtool check rules" "$out" \
		grep -q 'SUCCESS' <<<"$out"
	# control: a query with a syntax error is caught
	bad=$(mktemp)
	/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["panels"][1]["targets"][0]["expr"] += ")"; json.dump(d, open(sys.argv[2], "w"))' \
		"$LAB_ROOT/dist/grafana/xwan.json" "$bad"
	out=$("$LAB_ROOT/dist/grafana/check.sh" "$bad" 2>&1)
	rm -f "$bad"
	check "5b control: the same check rejects a dashboard whose RTT query has an unbalanced ')'" \
		"$out" grep -q 'FAILED\|error' <<<"$out"
	GRAFANA_METRICS=$names
}
t_grafana

echo "# test_status_page: lab=$LAB_PREFIX"
if ! setup_err=$(lab_create xwan 2>&1); then
	fail "lab setup (xwan)" "$setup_err"
	exit 1
fi
[ -n "$setup_err" ] && echo "$setup_err" | sed 's/^/  /'
_fo_state_init
CFG=$(fo_config fast "" status-page)
sed -i "s|^metrics: .*|metrics: {listen: \"$FO_METRICS_LISTEN\", token: $TOKEN}|" "$CFG"
if ! fo_agent_start "$CFG"; then
	fail "agent start (xwan run -c $CFG)" "$(fo_log_since "$FO_LOG_MARK" | tail -n 8)"
	exit 1
fi
fo_wait_status isp1 online 30
fo_wait_status isp2 online 30

# http_code URL [CURL-ARGS...]: the HTTP status of a GET in the gw namespace
http_code() { local u=$1; shift; lab_gw curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" "$u"; }
api() { lab_gw curl -sf --max-time 20 -H "Authorization: Bearer $TOKEN" "$BASE$1"; }
pyjson() { local code=$1; shift; /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); $code" "$@" 2>&1; }

ROWS_PY='print(" ".join(":".join(str(g[k]) for k in ("name", "status", "usable", "tier", "weight", "address", "gateway")) for g in d["gateways"]))'
same_and_online() {
	[ -n "$1" ] && [ "$1" = "$2" ] && [[ $1 == *isp1:online:True:1:3:* && $1 == *isp2:online:True:1:1:* ]]
}

# --- 1. the token, and the API's JSON ---------------------------------------------------
t_api() {
	local page none wrong basic_bad good basic_good q metrics_ok st cli ours theirs fl nf missing
	none=$(http_code "$BASE/api/history")
	page=$(http_code "$BASE/")
	wrong=$(http_code "$BASE/api/status" -H "Authorization: Bearer wrong-$TOKEN")
	basic_bad=$(http_code "$BASE/metrics" -u "admin:not-the-token")
	q=$(http_code "$BASE/api/status?token=x$TOKEN")
	good=$(http_code "$BASE/api/status" -H "Authorization: Bearer $TOKEN")
	basic_good=$(http_code "$BASE/metrics" -u "admin:$TOKEN")
	metrics_ok=$(http_code "$BASE/api/events?token=$TOKEN")
	check "1a with metrics.token set, the data URLs with no token, a wrong bearer token, a wrong basic-auth password or a wrong ?token= get 401; the right one gets 200 (bearer, basic auth, ?token=); the page's own files need none" \
		"none=$none wrong=$wrong basic_bad=$basic_bad query_bad=$q good=$good basic_good=$basic_good query_good=$metrics_ok page=$page" \
		[ "$none$wrong$basic_bad$q" = 401401401401 -a "$good$basic_good$metrics_ok$page" = 200200200200 ]

	st=$(api /api/status)
	cli=$(lab_xwan status --json 2>&1)
	ours=$(pyjson "$ROWS_PY" <<<"$st")
	theirs=$(pyjson "$ROWS_PY" <<<"$cli")
	info "/api/status: $ours"
	check "1b /api/status and \`xwan status --json\` agree (name:status:usable:tier:weight:address:gateway), both gateways online" \
		"api: $ours; cli: $theirs" same_and_online "$ours" "$theirs"

	# 30 flows from one client, then pages of them
	timeout 60 ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/client.py" tcp-whoami --count 30 >/dev/null 2>&1
	fl=$(api "/api/flows?limit=5&client=$LAB_CLIENT_IP")
	nf=$(pyjson 'print(len(d["flows"]), d["matched"], d["limit"], len({f["client"].split(":")[0] for f in d["flows"]}))' <<<"$fl")
	check "1c /api/flows?limit=5&client=$LAB_CLIENT_IP: 5 flows of that client, of >= 30 that match" \
		"$nf; $(echo "$fl" | head -c 300)" [ "$(echo "$nf" | cut -d' ' -f1,3,4)" = "5 5 1" -a "$(echo "$nf" | cut -d' ' -f2)" -ge 30 ]
	fl=$(api "/api/flows?client=10.1.0.250")
	nf=$(pyjson 'print(len(d["flows"]), d["matched"])' <<<"$fl")
	q=$(http_code "$BASE/api/flows?limit=100000" -H "Authorization: Bearer $TOKEN")
	check "1e control: a client with no flows gets none; limit over 1000 is refused (400)" \
		"$nf; limit=100000: $q" [ "$nf" = "0 0" -a "$q" = 400 ]

	missing=""
	local m have
	have=$(api /metrics | awk '$1 == "#" && $2 == "TYPE" { print $3 }')
	for m in $GRAFANA_METRICS; do
		grep -qx "$m" <<<"$have" || missing="$missing $m"
	done
	check "1d every metric the Grafana dashboard queries is in the agent's /metrics" \
		"missing:${missing:- none}; queried: $GRAFANA_METRICS" [ -z "$missing" -a -n "$GRAFANA_METRICS" ]
}
t_api

# --- the browser -----------------------------------------------------------------------
PROFILE=$LAB_STATE/chromium
mkdir -p "$PROFILE"
coproc BR { ip netns exec "$LAB_NS_GW" /usr/bin/python3 "$LAB_TOOLS/browser.py" \
	--profile "$PROFILE" 2>>"$LAB_LOG/browser.log"; }
BR_PID=$BR_PID
# br CMD...: one command to the browser, its JSON reply (empty if none in 60 s)
br() {
	local line=""
	[ -n "${BR[1]:-}" ] || return 1
	echo "$*" >&"${BR[1]}" || return 1
	read -r -t 60 line <&"${BR[0]}"
	echo "$line"
}
brv() { pyjson "print(d.get('value'))" <<<"$1"; }
brok() { [ "$(pyjson "print(d.get('ok'))" <<<"$1")" = True ]; }
ready=""
[ -n "${BR[0]:-}" ] && read -r -t 150 ready <&"${BR[0]}"
if ! brok "$ready"; then
	fail "headless chromium started (tools/browser.py)" "$ready $(tail -n 5 "$LAB_LOG/browser.log" "$PROFILE/chromium.log" 2>/dev/null)"
	exit 1
fi

JS_STATUS='(g) => { const s = document.querySelector(`#gateways tr[data-gateway="${g}"] .status`); return s ? s.dataset.status : null; }'
st_of() { brv "$(br eval "($JS_STATUS)('$1')")"; }
JS_POINTS='(g, c) => { const p = document.querySelector(`.gw-charts[data-gateway="${g}"] svg.${c} path.line`); return p ? +p.dataset.points : 0; }'

# --- 2. the page with both gateways up ---------------------------------------------------
t_online() {
	local r load rows seen s i pts1 pts2
	r=$(br open "$BASE/?token=$TOKEN")
	load=$(pyjson "print(d.get('load_s'))" <<<"$r")
	r=$(br wait 20 "document.querySelectorAll('#gateways tbody tr').length >= 2")
	rows=$(brv "$(br eval "Array.from(document.querySelectorAll('#gateways tbody tr')).map(t => t.dataset.gateway + ':' + t.dataset.status).join(' ')")")
	info "page load: ${load}s to the load event, gateway rows $(pyjson "print(d.get('after_s'))" <<<"$r")s after it"
	check "2a the page shows a row per gateway: isp1 and isp2, both online" \
		"rows: $rows; $r" [ "$rows" = "isp1:online isp2:online" ]
	# control: while isp1 is up, the page never shows it down (10 looks over 2 s)
	seen=""
	for i in $(seq 10); do
		s=$(st_of isp1)
		seen="$seen $s"
		sleep 0.2
	done
	check "2b control: with isp1 up, the page never shows it down (10 looks over 2 s)" \
		"seen:$seen" never_down "$seen"
	br wait 30 "($JS_POINTS)('isp1', 'rtt') >= $MIN_POINTS && ($JS_POINTS)('isp2', 'rtt') >= $MIN_POINTS" >/dev/null
	pts1=$(brv "$(br eval "[($JS_POINTS)('isp1', 'rtt'), ($JS_POINTS)('isp1', 'loss'), ($JS_POINTS)('isp1', 'throughput')].join(' ')")")
	pts2=$(brv "$(br eval "($JS_POINTS)('isp2', 'rtt')")")
	info "isp1 charts: rtt loss throughput points $pts1; isp2 rtt points $pts2"
	check "2c the RTT, loss and throughput charts of isp1 drew >= $MIN_POINTS points each (SVG paths), isp2's RTT chart too" \
		"isp1: $pts1; isp2: $pts2" test_points "$pts1" "$pts2"
	r=$(br eval "document.querySelectorAll('.gw-charts[data-gateway=isp1] svg.loss rect.down').length")
	check "2d control: isp1's loss chart shades no down period while it is up" "$r" [ "$(brv "$r")" = 0 ]
	r=$(br shot "$SHOTS/status-page-online.png")
	info "screenshot $SHOTS/status-page-online.png: $r"
}
never_down() { [[ $1 != *down* && $1 == *online* ]]; }
test_points() {
	local n
	for n in $1 $2; do [ "$n" -ge "$MIN_POINTS" ] 2>/dev/null || return 1; done
	[ "$(echo "$1" | wc -w)" = 3 ]
}
t_online

down_in_place() { brok "$1" && [ "$2" = online ] && [ "$3" = 1 ]; }

# --- 3. a live failover, seen by the open page ---------------------------------------------
t_failover() {
	local r mark st2 ev shaded
	br eval "window.__not_reloaded = 1" >/dev/null
	mark=$(fo_log_lines)
	fo_blackhole isp1
	r=$(br wait 30 "($JS_STATUS)('isp1') === 'down'")
	st2=$(st_of isp2)
	info "isp1 down in the page $(pyjson "print(d.get('after_s'))" <<<"$r")s after the blackhole; log: $(fo_log_grep "$mark" 'isp1: .* -> down')"
	check "3a isp1 blackholed: the open page (not reloaded) shows isp1 down, isp2 still online" \
		"$r; isp2: $st2; reloaded: $(brv "$(br eval 'window.__not_reloaded')"); log: $(fo_log_since "$mark" | tail -n 3)" \
		down_in_place "$r" "$st2" "$(brv "$(br eval 'window.__not_reloaded')")"
	r=$(br wait 15 "Array.from(document.querySelectorAll('#events tr[data-kind=transition]')).some(t => /gateway isp1: .* -> down/.test(t.textContent))")
	ev=$(brv "$(br eval "Array.from(document.querySelectorAll('#events tbody tr')).slice(0, 4).map(t => t.textContent).join(' | ')")")
	check "3b the page's event log shows isp1's transition to down" "$r; events: $ev" brok "$r"
	r=$(br wait 15 "document.querySelectorAll('.gw-charts[data-gateway=isp1] svg.loss rect.down').length > 0 && document.querySelectorAll('.gw-charts[data-gateway=isp2] svg.loss rect.down').length === 0")
	shaded=$(brv "$(br eval "document.querySelector('#gateways tr[data-gateway=isp1] td:nth-child(5)').textContent")")
	check "3c isp1's loss chart shades its down period (isp2's none); the table shows its loss ($shaded)" \
		"$r" brok "$r"
	r=$(br shot "$SHOTS/status-page-down.png")
	info "screenshot $SHOTS/status-page-down.png: $r"
	# the flow table's client filter
	r=$(br eval "(() => { const i = document.querySelector('#flows-filter input[name=client]'); i.value = '$LAB_CLIENT_IP'; i.form.dispatchEvent(new Event('change')); return 1; })()")
	r=$(br wait 15 "(() => { const rows = Array.from(document.querySelectorAll('#flows tbody tr')); return rows.length > 0 && rows.every(t => t.children[2].textContent.startsWith('$LAB_CLIENT_IP:')); })()")
	ev=$(brv "$(br eval "document.querySelector('#flows-count').textContent")")
	check "3d the flow table filtered by client $LAB_CLIENT_IP lists only that client's flows ($ev)" "$r" brok "$r"
	fo_unblackhole isp1
}
t_failover

# --- 4. the day view ---------------------------------------------------------------------------
t_day() {
	local r
	br eval "document.querySelector('#range button[data-range=day]').click()" >/dev/null
	r=$(br wait 15 "($JS_POINTS)('isp1', 'rtt') >= 1 && document.querySelector('#range button.on').dataset.range === 'day'")
	check "4 the last-day view draws isp1's per-minute points" "$r" brok "$r"
	r=$(br shot "$SHOTS/status-page-day.png")
	info "screenshot $SHOTS/status-page-day.png: $r"
}
t_day

# --- 4b. a reload, seen in the event log ------------------------------------------------------
t_reload() {
	local r ev
	kill -HUP "$FO_AGENT_PID"
	r=$(br wait 20 "Array.from(document.querySelectorAll('#events tr[data-kind=reload]')).some(t => /reloaded /.test(t.textContent))")
	ev=$(brv "$(br eval "Array.from(document.querySelectorAll('#events tbody tr')).slice(0, 2).map(t => t.textContent).join(' | ')")")
	check "4b a reload (SIGHUP) shows in the open page's event log as a reload" "$r; events: $ev" brok "$r"
}
t_reload

# --- 6. listening on every address: a warning, and the LAN needs the token -------------
t_any() {
	local cfg mark warn none good
	cfg=$(fo_config fast "" status-any)
	sed -i "s|^metrics: .*|metrics: {listen: \"0.0.0.0:9469\", token: $TOKEN}|" "$cfg"
	fo_agent_stop
	if ! fo_agent_start "$cfg"; then
		fail "6 agent start with metrics.listen 0.0.0.0:9469" "$(fo_log_since "$FO_LOG_MARK" | tail -n 5)"
		return
	fi
	mark=$FO_LOG_MARK
	warn=$(fo_log_grep "$mark" 'warning: metrics.listen 0.0.0.0:9469')
	none=$(lab_client curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://$LAB_GW_LAN:9469/api/status")
	good=$(lab_client curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
		-H "Authorization: Bearer $TOKEN" "http://$LAB_GW_LAN:9469/api/status")
	info "$warn"
	check "6 metrics.listen 0.0.0.0:9469: the agent logs a warning; from the LAN client, /api/status on $LAB_GW_LAN:9469 is 401 without the token and 200 with it" \
		"warning: ${warn:-none}; without: $none; with: $good" [ -n "$warn" -a "$none$good" = 401200 ]
}
t_any

echo "# test_status_page: $NPASS passed, $NFAIL failed"
[ "$NFAIL" = 0 ]
