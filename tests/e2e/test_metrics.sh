#!/bin/bash
# tests/e2e/test_metrics.sh - the agent's metrics in the namespace lab
# (tests/e2e/lab.sh): `xwan run`'s /metrics endpoint, a real Prometheus
# server scraping it, the --textfile output, and `xwan status`. Needs root,
# promtool and prometheus (Debian: prometheus).
#
#   tests/e2e/test_metrics.sh
#   XWAN_LAB_KEEP_LOGS=DIR   copy the lab's logs (agent, prometheus) there
#
# Every check prints "PASS: <what>" or "FAIL: <what> (<evidence>)". In kernel
# mode (XWAN_E2E_MODE=kernel) there is no agent: every check is a SKIP.
# Exit status 1 if any check failed.

set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"
# shellcheck source=tests/e2e/failover_lib.sh
. "$E2E_DIR/failover_lib.sh"

MODE=${XWAN_E2E_MODE:-xwan}
: "${PROMETHEUS:=/usr/bin/prometheus}"
: "${PROMTOOL:=promtool}"

# --- names that may change with xwan (keep them here) -----------------------
# families the agent must export (the gateway monitor's and the dataplane's)
FAMILIES="xwan_build_info xwan_packets_total xwan_gateway_status xwan_gateway_rtt_seconds
xwan_gateway_loss_ratio xwan_gateway_probes_sent_total xwan_gateway_probes_lost_total
xwan_gateway_status_transitions_total xwan_gateway_flows_active xwan_gateway_info
xwan_target_rtt_seconds xwan_target_loss_ratio xwan_gateway_probe_errors_total xwan_reloads_total
xwan_netlink_overflows_total xwan_flows_counted_timestamp_seconds"
Q_STATUS='xwan_gateway_status{status="online"}'
TEXTFILE_REWRITES=2        # replacements of the textfile to watch (one per 15 s)

gw_get() { lab_gw curl -sf --max-time 5 "$1"; }
# the metric families (# TYPE lines) of an exposition on stdin, one line
families() { awk '$1 == "#" && $2 == "TYPE" { print $3 }' | sort -u | tr '\n' ' ' | sed 's/ $//'; }
missing_families() { # TEXT: the names of $FAMILIES not in it
	local f have
	have=" $(families <<<"$1") "
	for f in $FAMILIES; do
		[[ $have == *" $f "* ]] || printf '%s ' "$f"
	done
}
pyjson() { # CODE [ARGS...]: run CODE with d = the JSON document on stdin
	local code=$1
	shift
	"$LAB_PY" -c "import json,sys; d=json.load(sys.stdin); $code" "$@" 2>/dev/null
}

CHECKS="1 2 3a 3b 3c 4a 4b"
if [ "$MODE" != xwan ]; then
	for c in $CHECKS; do echo "SKIP: $c agent metrics (xwan-only, mode=$MODE)"; done
	exit 0
fi

lab_init_names "${XWAN_LAB_PREFIX:-xm$$}"
PROM_PID="" READER_PID=""
cleanup() {
	trap "" INT TERM HUP
	[ -n "$READER_PID" ] && kill "$READER_PID" 2>/dev/null
	if [ -n "$PROM_PID" ]; then
		kill -TERM "$PROM_PID" 2>/dev/null
		lab_poll 10 _lab_gone "$PROM_PID" || kill -KILL "$PROM_PID" 2>/dev/null
	fi
	fo_agent_stop
	lab_destroy
}
e2e_traps cleanup

echo "# test_metrics: lab=$LAB_PREFIX"
if ! setup_err=$(lab_create xwan 2>&1); then
	fail "lab setup (xwan)" "$setup_err"
	exit 1
fi
[ -n "$setup_err" ] && echo "$setup_err" | sed 's/^/  /'
_fo_state_init
TF_DIR=$LAB_STATE/textfile
TF=$TF_DIR/xwan.prom
mkdir -p "$TF_DIR"
CFG=$(fo_config default)
if ! fo_agent_start "$CFG" --textfile "$TF"; then
	fail "agent start (xwan run -c $CFG --textfile $TF)" "$(fo_log_since "$FO_LOG_MARK" | tail -n 8)"
	exit 1
fi
METRICS_URL=http://$FO_METRICS_LISTEN/metrics

# --- textfile reader: runs in the background while the other checks do ---------
# Reads the file as fast as it can until it was replaced $TEXTFILE_REWRITES
# times (or 45 s), keeps every distinct version, flags reads that are empty
# or do not end with a complete line.
tf_reader() {
	"$LAB_PY" - "$TF" "$TF_DIR/snap" "$TEXTFILE_REWRITES" 45 <<-'EOF'
		import json, os, sys, time
		path, snap, want, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
		os.makedirs(snap, exist_ok=True)
		end = time.time() + limit
		reads, bad, seen, inodes, last = 0, [], {}, [], None
		while time.time() < end and len(inodes) <= want:
		    try:
		        with open(path, "rb") as f:
		            ino = os.fstat(f.fileno()).st_ino
		            data = f.read()
		    except FileNotFoundError:
		        if inodes:
		            bad.append("file missing between versions")
		        time.sleep(0.001)
		        continue
		    reads += 1
		    if ino != last:
		        inodes.append(ino)
		        last = ino
		    if not data or not data.endswith(b"\n"):
		        bad.append(f"read {reads}: {len(data)} bytes, ends {data[-40:]!r}")
		    if data not in seen:
		        name = os.path.join(snap, f"v{len(seen)}.prom")
		        with open(name, "wb") as g:
		            g.write(data)
		        seen[data] = name
		print(json.dumps({"reads": reads, "versions": len(inodes), "replaced": max(0, len(inodes) - 1),
		                  "distinct": len(seen), "bad": bad[:5], "nbad": len(bad),
		                  "snapshots": sorted(seen.values())}))
	EOF
}

# --- 1. xwan status --------------------------------------------------------------------------
status_has_data() { # both online, with an rtt
	local s
	for g in isp1 isp2; do
		s=$(fo_status "$g") || return 1
		[[ $s =~ ^online\ yes\ [0-9.]+ms ]] || return 1
	done
}
t_status() {
	local out
	lab_poll 30 status_has_data
	out=$(lab_xwan status 2>&1)
	echo "$out" | sed 's/^/  # /'
	check "1 xwan status shows isp1 and isp2 online and usable, with rtt values" "$out" status_has_data
}

# --- 2. /metrics --------------------------------------------------------------------------------
t_endpoint() {
	local body prom rc miss
	body=$(gw_get "$METRICS_URL")
	rc=$?
	prom=$("$PROMTOOL" check metrics <<<"$body" 2>&1)
	local prc=$?
	miss=$(missing_families "$body")
	info "/metrics: $(wc -l <<<"$body") lines, families: $(families <<<"$body" | wc -w)"
	check "2 GET $METRICS_URL (gw namespace) passes promtool check metrics and has the gateway monitor's metrics" \
		"curl rc=$rc; promtool rc=$prc: $prom; missing: ${miss:-none}; $(head -c 300 <<<"$body")" \
		[ "$rc" = 0 -a "$prc" = 0 -a -z "$miss" -a -n "$body" ]
	BODY_FAMILIES=$(families <<<"$body")
}

# --- 3. a Prometheus server scrapes it ------------------------------------------------------------------
prom_api() { gw_get "http://127.0.0.1:$PROM_PORT/api/v1/$1"; }
prom_query() { # PROMQL: the /api/v1/query answer
	lab_gw curl -sfG --max-time 5 --data-urlencode "query=$1" "http://127.0.0.1:$PROM_PORT/api/v1/query"
}
prom_target_up() {
	prom_api targets | pyjson 'sys.exit(not any(t["health"] == "up" and t["scrapeUrl"] == sys.argv[1] for t in d["data"]["activeTargets"]))' "$METRICS_URL"
}
prom_status() { # "isp1=V isp2=V" of $Q_STATUS as Prometheus has it
	prom_query "$Q_STATUS" |
		pyjson 'print(" ".join(sorted(r["metric"]["gateway"] + "=" + r["value"][1] for r in d["data"]["result"])))'
}
prom_status_ingested() { [ "$(prom_status)" = "isp1=1 isp2=1" ]; }
t_prometheus() {
	local dir=$LAB_STATE/prometheus res up st
	if [ ! -x "$PROMETHEUS" ]; then
		for c in 3a 3b 3c; do fail "$c Prometheus" "$PROMETHEUS not installed"; done
		return
	fi
	mkdir -p "$dir/data"
	cat >"$dir/prometheus.yml" <<-EOF
		global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
		scrape_configs:
		  - job_name: xwan
		    static_configs: [{targets: ["$FO_METRICS_LISTEN"]}]
	EOF
	PROM_PORT=$(lab_gw "$LAB_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	ip netns exec "$LAB_NS_GW" "$PROMETHEUS" --config.file="$dir/prometheus.yml" \
		--storage.tsdb.path="$dir/data" --web.listen-address="127.0.0.1:$PROM_PORT" \
		</dev/null >"$LAB_LOG/prometheus.log" 2>&1 &
	PROM_PID=$!
	if ! lab_poll 60 gw_get "http://127.0.0.1:$PROM_PORT/-/ready"; then
		for c in 3a 3b 3c; do fail "$c Prometheus" "not ready on 127.0.0.1:$PROM_PORT: $(tail -n 5 "$LAB_LOG/prometheus.log")"; done
		return
	fi
	lab_poll 30 prom_target_up
	res=$(prom_api targets)
	info "prometheus on 127.0.0.1:$PROM_PORT, target: $(pyjson 'print([(t["scrapeUrl"], t["health"], t["lastError"]) for t in d["data"]["activeTargets"]])' <<<"$res")"
	check "3a Prometheus (/usr/bin/prometheus, 1 s scrapes) reports the target $METRICS_URL up" \
		"$res" prom_target_up

	up=$(prom_query 'up{job="xwan"}' | pyjson 'print(" ".join(r["value"][1] for r in d["data"]["result"]))')
	check "3b Prometheus query up{job=\"xwan\"} = 1" "got '${up}'" [ "$up" = 1 ]

	lab_poll 15 prom_status_ingested
	st=$(prom_status)
	info "prometheus $Q_STATUS: $st"
	check "3c Prometheus has ingested xwan_gateway_status: isp1 and isp2 online" \
		"query $Q_STATUS: '$st'; $(tail -n 3 "$LAB_LOG/prometheus.log")" [ "$st" = "isp1=1 isp2=1" ]
}

# --- 4. --textfile -------------------------------------------------------------------------------------------
t_textfile() {
	local res snaps s prom bad="" fams n
	wait "$READER_PID" 2>/dev/null
	READER_PID=""
	res=$(cat "$TF_DIR/reader.json" 2>/dev/null)
	info "textfile reader: $(jget_short "$res")"
	snaps=$(jq_get "$res" snapshots | tr -d '[],"')
	n=0
	for s in $snaps; do
		n=$((n + 1))
		prom=$("$PROMTOOL" check metrics <"$s" 2>&1) || bad="$bad ${s##*/}: promtool: $prom;"
		fams=$(families <"$s")
		[ "$fams" = "$BODY_FAMILIES" ] ||
			bad="$bad ${s##*/}: families differ from /metrics ($(wc -w <<<"$fams") vs $(wc -w <<<"$BODY_FAMILIES"));"
	done
	check "4a every version of --textfile $TF passes promtool check metrics and has the families of /metrics" \
		"${n} versions:$bad; $res" [ "$n" -gt 0 -a -z "$bad" ]
	check "4b --textfile is replaced atomically: read repeatedly over $TEXTFILE_REWRITES rewrites, never empty or cut short" \
		"$res" [ "$(jq_get "$res" replaced)" -ge "$TEXTFILE_REWRITES" -a "$(jq_get "$res" nbad)" = 0 ]
}
jget_short() {
	printf 'reads %s, replaced %s times, %s distinct contents, %s bad' "$(jq_get "$1" reads)" \
		"$(jq_get "$1" replaced)" "$(jq_get "$1" distinct)" "$(jq_get "$1" nbad)"
}

# The textfile is written at start, then every 15 s.
lab_poll 10 test -s "$TF"
tf_reader >"$TF_DIR/reader.json" 2>"$TF_DIR/reader.err" &
READER_PID=$!
t_status
t_endpoint
t_prometheus
t_textfile

echo "# test_metrics: $NPASS pass, $NFAIL fail"
[ "$NFAIL" = 0 ]
