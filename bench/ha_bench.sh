#!/bin/bash
# bench/ha_bench.sh - an xwan HA pair (tests/e2e/ha_lab.sh) under load:
#
#   1. sync keeps up: three bench/xdpgen generators in the client namespace
#      open 10.2k new UDP flows/s for 10 s (3 sources x 34000 source ports)
#      through the active r1; every 100 ms the flow counts of both routers
#      are sampled (the dataplane's flow gauge), and at the end the passive's
#      flow set is compared with the active's. Reports the largest gap in
#      flows and in seconds at the offered rate, how long after the last
#      new flow the passive held them all, and the sync counters;
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
RATE_EACH=3400
SECS=10
NFLOWS=34000
SOURCES="10.1.0.2 10.1.0.3 10.1.0.4"
SINK_PORT=9

[ "$(id -u)" = 0 ] || { echo "ha_bench: must run as root" >&2; exit 2; }
make --no-print-directory -f bench/bench.mk BUILD="$BUILD" >/dev/null || exit 2
# the passive must take 100k unanswered flows: a bigger table than the test's
export HA_LAB_FLOWS=524288
# ... and the generators' three sources are not to be limited as a flooding host would be
export HA_LAB_EXTRA="limits: {unreplied_per_lan_host: 0}"
# shellcheck source=tests/e2e/ha_lab.sh
. "$ROOT/tests/e2e/ha_lab.sh"
log() { echo "# ha_bench: $*" >&2; }

gauge() { # r1|r2: the dataplane's live flow count
	ip netns exec "$(ha_ns "$1")" bpftool -j map lookup pinned "$(ha_pin "$1")/flow_gauge" \
		key 0 0 0 0 2>/dev/null | "$LAB_PY" -c 'import json,sys; d = json.load(sys.stdin); print(d.get("formatted", d)["value"]["active"])'
}

sync_part() {
	local i src macs=() pids=() t_start t_end t_all out f a p
	ha_lab_init "hb$$" || return 1
	trap ha_lab_destroy EXIT
	ha_lab_create || { log "lab setup failed"; return 1; }
	for src in $SOURCES; do lab_client ip addr add "$src/24" dev eth0 2>/dev/null; done
	# the generators' frames are XDP frames: the switch port needs GRO to take them
	ip netns exec "$HA_NS_LAN" ethtool -K c0 gro on >/dev/null
	lab_inet nft -f - <<-EOF
		table ip habench {
			counter sink { }
			chain pre {
				type filter hook prerouting priority raw; policy accept;
				udp dport $SINK_PORT counter name "sink" drop
			}
		}
	EOF
	mac=$(ip -n "$HA_NS_R1" -br link show lan0 | awk '{ print $3 }')
	i=0
	for src in $SOURCES; do
		ip -n "$LAB_NS_CLIENT" link add "xg$i" type veth peer name "xh$i"
		ip -n "$LAB_NS_CLIENT" link set "xg$i" up
		ip -n "$LAB_NS_CLIENT" link set "xh$i" up
		i=$((i + 1))
	done
	a0=$(gauge r1) p0=$(gauge r2)
	log "before: r1 $a0 flows, r2 $p0"
	t_start=$(date +%s.%N)
	i=0
	for src in $SOURCES; do
		ip netns exec "$LAB_NS_CLIENT" "$B/xdpgen" "$B/xdpgen.bpf.o" eth0 "$mac" "$src" \
			"$LAB_SERVER" $SINK_PORT $RATE_EACH $SECS $NFLOWS "xg$i" >"$R/ha-gen$i.out" 2>&1 &
		pids+=($!)
		i=$((i + 1))
	done
	: >"$R/ha-samples.txt"
	while :; do
		local running=0 pid
		for pid in "${pids[@]}"; do [ -e "/proc/$pid" ] && running=1; done
		echo "$(date +%s.%N) $(gauge r1) $(gauge r2)" >>"$R/ha-samples.txt"
		[ $running = 1 ] || break
		sleep 0.1
	done
	t_end=$(date +%s.%N)
	# after the last new flow: until the passive holds as many as the active
	t_all=""
	for _ in $(seq 1 100); do
		a=$(gauge r1) p=$(gauge r2)
		echo "$(date +%s.%N) $a $p" >>"$R/ha-samples.txt"
		if [ "$((a - a0))" -le "$((p - p0))" ]; then t_all=$(date +%s.%N); break; fi
		sleep 0.05
	done
	ha_flowset r1 >"$R/ha-r1.flows"
	ha_flowset r2 >"$R/ha-r2.flows"
	missing=$(comm -23 "$R/ha-r1.flows" "$R/ha-r2.flows" | wc -l)
	sent=0
	for f in "$R"/ha-gen*.out; do sent=$((sent + $(awk '/^sent/ { print $2 }' "$f"))); done
	# the largest gap while the flows came (samples: t active passive)
	read -r gap gap_t < <(awk -v a0="$a0" -v p0="$p0" '{ d = ($2 - a0) - ($3 - p0); if (d > m) { m = d; t = $1 } } END { print m + 0, t }' "$R/ha-samples.txt")
	secs=$(awk -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.2f", b - a }')
	rate=$(awk -v n="$(($(gauge r1) - a0))" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
	caught=$( [ -n "$t_all" ] && awk -v a="$t_end" -v b="$t_all" 'BEGIN { printf "%.3f", b - a }' || echo "never (10 s)")
	SYNC_LINE="flows sent by the generators $sent in $secs s ($rate new flows/s held by the active); largest active-passive gap $gap flows ($(awk -v g="$gap" -v r="$rate" 'BEGIN { printf "%.3f", r ? g / r : 0 }') s at that rate); the passive held them all $caught s after the generators stopped; active flows missing on the passive at the end: $missing of $(wc -l <"$R/ha-r1.flows"); r1 messages sent $(ha_metric r1 'xwan_ha_sync_messages_total{kind="sent"}'), resent $(ha_metric r1 'xwan_ha_sync_messages_total{kind="resent"}'), lost $(ha_metric r1 'xwan_ha_sync_messages_total{kind="lost"}'); events lost $(ha_metric r1 xwan_ha_events_lost_total)"
	echo "sync: $SYNC_LINE"
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

SYNC_LINE="not measured" TAKEOVER_LINE="not measured"
sync_part || log "the sync part failed"
[ "$HA_BENCH_TAKEOVERS" -gt 0 ] && takeover_part
BLOCK=$(cat <<EOF
<!-- ha_bench: written by bench/ha_bench.sh; keep the markers -->
## HA pair (bench/ha_bench.sh, $(date -u +%Y-%m-%d))

Two routers in tests/e2e/ha_lab.sh (three bridges and a sync cable, namespaces on one
2-core VM shared with other work). Targets: the passive holds the active's flows within one
batch interval at 10k new flows/s; after the active dies, the longest stall of a download
is under 1 s and a UDP stream loses under 1 s of packets.

- Sync at 10k new flows/s for 10 s: $SYNC_LINE.
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
