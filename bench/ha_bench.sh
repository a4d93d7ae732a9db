#!/bin/bash
# bench/ha_bench.sh - an xwan HA pair (tests/e2e/ha_lab.sh) under load:
#
#   1. sync keeps up: three bench/xdpgen generators in the client namespace
#      open 10.2k new UDP flows/s for 10 s (3 sources x 34000 source ports)
#      through the active r1, then (a fresh lab) twice that rate (each
#      generator's ports run out after 5 s); every 100 ms the flow counts of
#      both routers (the dataplane's flow gauges, read back to back) and the
#      active's sync lag are sampled, and at the end the passive's flow set is
#      compared with the active's. Reports the largest gap in flows, the
#      largest lag, how long after the last new flow the passive held them
#      all, records per message, the agents' CPU and the sync counters
#      (HA_BENCH_RATES: the per-generator rates, default "3400 6800");
#   2. takeover: tests/e2e/test_ha.sh HA_BENCH_TAKEOVERS times (default 3),
#      its measured download stall, UDP loss and time to the new active.
#
# Prints the figures and a markdown block for docs/benchmarks.md (section
# "HA"); raw samples in build/bench/results/ha-*. Root only.
#   HA_BENCH_TAKEOVERS=0 bench/ha_bench.sh    the sync part alone
set -u
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
cd "$ROOT" || exit 2
BUILD=${BUILD:-build}
B=$ROOT/$BUILD/bench
R=$B/results
mkdir -p "$R"
: "${HA_BENCH_TAKEOVERS:=3}"
: "${HA_BENCH_RATES:=3400 6800}"      # new flows/s per generator (three of them), one run each
SECS=10
NFLOWS=34000

[ "$(id -u)" = 0 ] || { echo "ha_bench: must run as root" >&2; exit 2; }
make --no-print-directory -f bench/bench.mk BUILD="$BUILD" >/dev/null || exit 2
# the passive must take 100k unanswered flows: a bigger table than the test's
export HA_LAB_FLOWS=524288
# ... and the generators' three sources are not to be limited as a flooding host would be
export HA_LAB_EXTRA="limits: {unreplied_per_lan_host: 0}"
# shellcheck source=tests/e2e/ha_lab.sh
. "$ROOT/tests/e2e/ha_lab.sh"
log() { echo "# ha_bench: $*" >&2; }


agent_cpu() { # r1|r2: the agent's CPU seconds so far (user + system)
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' \
		"/proc/$(cat "$LAB_STATE/$1-agent.pid")/stat"
}
softnet_drops() { local n=0 d; while read -r _ d _; do n=$((n + 0x$d)); done </proc/net/softnet_stat; echo $n; }

sync_part() { # RATE_EACH
	local t_start t_end t_all f a p RATE_EACH=$1
	ha_lab_init "hb$$r$1" || return 1
	trap ha_lab_destroy EXIT
	ha_lab_create || { log "lab setup failed"; return 1; }
	ha_gen_setup
	read -r a0 p0 < <(ha_gauges r1 r2)
	drops0=$(softnet_drops)
	c1=$(agent_cpu r1) c2=$(agent_cpu r2)
	log "before: r1 $a0 flows, r2 $p0"
	t_start=$(date +%s.%N)
	ha_gen_start $RATE_EACH $SECS $NFLOWS "$R/ha-gen"
	: >"$R/ha-samples.txt"
	while :; do
		local running=0
		ha_gen_running && running=1
		read -r a p < <(ha_gauges r1 r2)
		echo "$(date +%s.%N) $a $p $(ha_metric r1 xwan_ha_sync_lag_seconds)" >>"$R/ha-samples.txt"
		[ $running = 1 ] || break
		sleep 0.1
	done
	t_end=$(date +%s.%N)
	# after the last new flow: until the passive holds as many as the active
	t_all=""
	for _ in $(seq 1 100); do
		read -r a p < <(ha_gauges r1 r2)
		echo "$(date +%s.%N) $a $p $(ha_metric r1 xwan_ha_sync_lag_seconds)" >>"$R/ha-samples.txt"
		if [ "$((a - a0))" -le "$((p - p0))" ]; then t_all=$(date +%s.%N); break; fi
		sleep 0.05
	done
	c1=$(awk -v a="$c1" -v b="$(agent_cpu r1)" 'BEGIN { printf "%.2f", b - a }')
	c2=$(awk -v a="$c2" -v b="$(agent_cpu r2)" 'BEGIN { printf "%.2f", b - a }')
	lag=$(awk '$4 > m { m = $4 } END { printf "%.3f", m }' "$R/ha-samples.txt")
	recs=$(ha_metric r1 'xwan_ha_sync_flows_total{direction="sent"}')
	msgs=$(ha_metric r1 'xwan_ha_sync_messages_total{kind="sent"}')
	ha_flowset r1 >"$R/ha-r1.flows"
	ha_flowset r2 >"$R/ha-r2.flows"
	missing=$(comm -23 "$R/ha-r1.flows" "$R/ha-r2.flows" | wc -l)
	sent=$(ha_gen_sent "$R/ha-gen")
	# the largest gap while the flows came (samples: t active passive)
	read -r gap gap_t < <(awk -v a0="$a0" -v p0="$p0" '{ d = ($2 - a0) - ($3 - p0); if (d > m) { m = d; t = $1 } } END { print m + 0, t }' "$R/ha-samples.txt")
	secs=$(awk -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.2f", b - a }')
	# the new-flow rate while the active's table grew (a generator's second pass over its
	# ports opens nothing new)
	read -r rate grow_s < <(awk -v a0="$a0" -v t0="$t_start" '$2 > m { m = $2; t = $1 } END { s = t - t0; printf "%.0f %.2f\n", (s > 0 ? (m - a0) / s : 0), s }' "$R/ha-samples.txt")
	caught=$( [ -n "$t_all" ] && awk -v a="$t_end" -v b="$t_all" 'BEGIN { printf "%.3f", b - a }' || echo "never (10 s)")
	SYNC_LINE="datagrams sent by the generators $sent in $secs s; the active's table grew by $(($(ha_gauge r1) - a0)) flows in $grow_s s ($rate new flows/s); largest active-passive gap $gap flows ($(awk -v g="$gap" -v r="$rate" 'BEGIN { printf "%.3f", r ? g / r : 0 }') s at that rate); the passive held them all $caught s after the generators stopped; active flows missing on the passive at the end: $missing of $(wc -l <"$R/ha-r1.flows"); r1 messages sent $(ha_metric r1 'xwan_ha_sync_messages_total{kind="sent"}'), resent $(ha_metric r1 'xwan_ha_sync_messages_total{kind="resent"}'), lost $(ha_metric r1 'xwan_ha_sync_messages_total{kind="lost"}'); events lost $(ha_metric r1 xwan_ha_events_lost_total)"
	# what it cost, what limits it, and where messages were dropped on the way
	SYNC_LINE="$SYNC_LINE; largest sync lag sampled (age of the oldest unacknowledged message) $lag s; $recs records in $msgs messages ($(awk -v r="$recs" -v m="$msgs" 'BEGIN { printf "%.2f", m ? r / m : 0 }') per message); agent CPU during the run: active $c1 s, passive $c2 s; r2 held $(ha_metric r2 xwan_ha_sync_early_total) messages that came early; UDP buffer errors r1 send $(ha_udp_err r1 UdpSndbufErrors), r2 receive $(ha_udp_err r2 UdpRcvbufErrors); softirq backlog drops (the whole machine) $(($(softnet_drops) - drops0))"
	SYNC_LINE="$SYNC_LINE; agent CPU per new flow: active $(awk -v c="$c1" -v n="$(($(ha_gauge r1) - a0))" 'BEGIN { printf "%.0f", n ? c / n * 1e6 : 0 }') us, passive $(awk -v c="$c2" -v n="$(($(ha_gauge r1) - a0))" 'BEGIN { printf "%.0f", n ? c / n * 1e6 : 0 }') us"
	echo "sync at $((3 * RATE_EACH))/s offered: $SYNC_LINE"
	SYNC_LINES="$SYNC_LINES
- Sync, $((3 * RATE_EACH)) new flows/s offered for $SECS s (3 generators x $NFLOWS source ports): $SYNC_LINE."
	ha_lab_destroy
	trap - EXIT
}

takeover_part() {
	local n out
	: >"$R/ha-takeover.txt"
	for n in $(seq 1 "$HA_BENCH_TAKEOVERS"); do
		out=$(XWAN_LAB_PREFIX="hb$$t$n" bash "$ROOT/tests/e2e/test_ha.sh" 2>&1)
		echo "$out" >"$R/ha-test$n.log"
		echo "$out" | grep '^HA_FIGURES' >>"$R/ha-takeover.txt"
		log "takeover $n: $(echo "$out" | grep -E '^HA_FIGURES|^# test_ha:' | tr '\n' ' ')"
	done
	TAKEOVER_LINE=$(awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = v[kv[1]] " " sprintf("%.3f", kv[2]) } }
		END { printf "download longest stall (s):%s; UDP lost (s of packets):%s; longest UDP gap (s):%s; new active seen by the test after (s):%s", v["stall_s"], v["udp_lost_s"], v["udp_gap_s"], v["takeover_s"] }' "$R/ha-takeover.txt")
	echo "takeover: $TAKEOVER_LINE"
}

SYNC_LINES="" TAKEOVER_LINE="not measured"
for rate in $HA_BENCH_RATES; do
	SYNC_LINE="not measured"
	sync_part "$rate" || { log "the sync part at $rate/s per generator failed"; ha_lab_destroy; trap - EXIT; }
done
[ "$HA_BENCH_TAKEOVERS" -gt 0 ] && takeover_part
BLOCK=$(cat <<EOF
<!-- ha_bench: written by bench/ha_bench.sh; keep the markers -->
## HA pair (bench/ha_bench.sh, $(date -u +%Y-%m-%d))

Two routers in tests/e2e/ha_lab.sh (three bridges and a sync cable, namespaces on one
2-core VM shared with other work). Targets: the passive holds the active's flows within one
batch interval at 10k new flows/s; after the active dies, the longest stall of a download
is under 1 s and a UDP stream loses under 1 s of packets.
$SYNC_LINES

What limits the sync: a record is 232 bytes (both flow entries; a NAT mapping or a sticky
binding rides in one of the same size), so a 1400-byte message carries 5, and a new NAT flow
takes two records (the flow, its mapping); a partly filled message waits at most 5 ms
(HA_FLUSH_NS); the receiver acknowledges every 16 messages or 20 ms. Messages that are full
(5 records each), a lag of a few batch intervals and no resends mean these were not the limit.
What grows with the rate is the agents' CPU: each new flow costs the active a ring buffer event
and about five map lookups, the passive about ten map syscalls (both keys in both tables, the
two writes, the flow gauge, the mapping's two sides); the CPU per flow above says how many new
flows/s an agent with a core of its own would take. Where the active's table grew slower than
offered, the generators and the active's dataplane (on the same two cores) were the limit: the
sync's lag stayed as low.

- Takeover (tests/e2e/test_ha.sh, $HA_BENCH_TAKEOVERS runs; the active's links all go down
  and its processes are killed): $TAKEOVER_LINE.
<!-- /ha_bench -->
EOF
)
echo "$BLOCK"
# only our section of docs/benchmarks.md: replaced between the markers, or appended
if [ -z "${HA_BENCH_NO_DOC:-}" ]; then
	BLOCK="$BLOCK" "$LAB_PY" - "$ROOT/docs/benchmarks.md" <<'PY'
import os, re, sys
p = sys.argv[1]
s = open(p).read() if os.path.exists(p) else ""
b = os.environ["BLOCK"].strip() + "\n"
pat = re.compile(r"<!-- ha_bench:.*?<!-- /ha_bench -->\n?", re.S)
s = pat.sub(lambda m: b, s) if pat.search(s) else s.rstrip("\n") + "\n\n" + b
open(p, "w").write(s)
PY
fi
