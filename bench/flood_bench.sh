#!/bin/bash
# shellcheck source-path=SCRIPTDIR/..
# bench/flood_bench.sh - established-flow TCP throughput through xwan in the
# namespace lab (tests/e2e/lab.sh) with and without a spoofed SYN flood from
# the internet side (issue 9).
#
# One xwan lab; rounds alternate: a quiet one (one iperf3 stream client ->
# server for SECS s), then the same stream while the internet host floods
# the gw's WAN address with SYNs from random sources (hping3 --flood
# --rand-source -S to a port forward, isp1 :2222 -> 10.1.0.2:8022) for the
# whole stream. The flood fills the unanswered-flow table; the stream's flow
# is answered and lives in the table the flood cannot touch, so what it loses
# is CPU: the flood's sender and the gw's XDP share the machine's cores
# with the stream's endpoints. The sender is pinned to CPU 0, as in
# tests/e2e/test_flood.sh (veth delivers on the sending CPU, so the gw's XDP
# for the flood runs there too).
#
#   bench/flood_bench.sh OUT.tsv      (BENCH_QUICK=1: fewer, shorter rounds)
#
# OUT.tsv lines: "flood MODE ROUND bits_per_second retransmits syns_sent secs
# evictions" with MODE quiet or flood.

set -u
OUT=${1:?usage: $0 OUT.tsv}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
cd "$ROOT" || exit 2
# shellcheck source=tests/e2e/lab.sh
source "$ROOT/tests/e2e/lab.sh"

if [ -n "${BENCH_QUICK:-}" ]; then ROUNDS=2 SECS=3; else ROUNDS=4 SECS=5; fi
log() { echo "flood_bench: $*" >&2; }
command -v hping3 >/dev/null || { log "hping3 missing (make deps)"; exit 1; }
command -v iperf3 >/dev/null || { log "iperf3 missing (make deps)"; exit 1; }

lab_init_names "xwfb$$"
TMPD=$(mktemp -d "/tmp/xwan-floodbench.$$.XXXXXX")
trap 'lab_destroy; rm -rf "$TMPD"' EXIT
trap 'exit 130' INT TERM
sed 's/^flow_table_size:.*//' "$LAB_E2E_DIR/lab.yaml" >"$TMPD/cfg.yaml"
cat >>"$TMPD/cfg.yaml" <<CFG
port_forwards:
  - {wan: isp1, proto: tcp, port: 2222, to: $LAB_CLIENT_IP:8022}
flow_table_size: 65536
CFG
XWAN_LAB_CONFIG=$TMPD/cfg.yaml lab_create xwan >"$TMPD/setup.log" 2>&1 ||
	{ log "lab setup failed: $(tail -n 5 "$TMPD/setup.log")"; exit 1; }
evictions() {
	lab_xwan stats 2>/dev/null |
		"$LAB_PY" "$LAB_TOOLS/promval.py" 'xwan_events_total{event="flow_table_full_eviction"}'
}

: >"$OUT"
for r in $(seq 1 "$ROUNDS"); do
	for mode in quiet flood; do
		hp=""
		e0=$(evictions)
		if [ $mode = flood ]; then
			timeout -s INT $((SECS + 1)) ip netns exec "$LAB_NS_INET" taskset -c 0 hping3 --flood \
				--rand-source -S -p 2222 "$LAB_WAN1_IP" >"$TMPD/hping.log" 2>&1 &
			hp=$!
			sleep 0.5
		fi
		j=$(lab_client iperf3 -c "$LAB_SERVER" -p 5201 -t "$SECS" -J 2>&1)
		[ -n "$hp" ] && wait "$hp"
		e1=$(evictions)
		sent=0
		[ -n "$hp" ] && sent=$(grep -o '^[0-9]* packets transmitted' "$TMPD/hping.log" | awk '{ print $1 }')
		read -r bps rtx < <(echo "$j" | "$LAB_PY" -c 'import json, sys
d = json.load(sys.stdin)["end"]
print(d["sum_received"]["bits_per_second"], d["sum_sent"].get("retransmits", 0))' 2>/dev/null)
		[ -n "${bps:-}" ] || { log "$mode round $r: iperf3 failed: $(echo "$j" | tail -n 2)"; exit 1; }
		echo "flood $mode $r $bps $rtx ${sent:-0} $SECS $(( ${e1:-0} - ${e0:-0} ))" >>"$OUT"
		log "$mode round $r: $(awk -v b="$bps" 'BEGIN { printf "%.2f", b / 1e9 }') Gbit/s, $rtx retransmits, ${sent:-0} SYNs"
	done
done
