#!/bin/bash
# tests/e2e/demo.sh - `make demo`: xwan in the namespace lab, with traffic.
#
# Builds the lab (tests/e2e/lab.sh) with build/xwan on the gw and the lab
# config (tests/e2e/lab.yaml, or XWAN_LAB_CONFIG), starts a mix of traffic
# from the client (ping, throttled parallel downloads, long-lived and short
# TCP connections, UDP), shows `xwan flows` and `xwan stats` a few times over
# ~20 s, then tears everything down. Non-interactive; always cleans up.
# Needs root. Builds nothing (the Makefile does).
#
#   XWAN_DEMO_SECONDS=20     how long to show traffic
#   XWAN_E2E_MODE=kernel     demo the plain-Linux baseline instead (shows
#                            per-WAN counters, there is no flow table)

set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"

MODE=${XWAN_E2E_MODE:-xwan}
DURATION=${XWAN_DEMO_SECONDS:-20}
REFRESH=5

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
[ -t 1 ] || say() { printf '\n== %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root (network namespaces)" >&2
	exit 1
fi
if [ "$MODE" = xwan ] && [ ! -x "$XWAN" ]; then
	echo "demo: $XWAN not built (run make demo)" >&2
	exit 1
fi

lab_init_names "${XWAN_LAB_PREFIX:-xw$$}"
# A second signal (the terminal's Ctrl-C and timeout(1)'s forwarded copy)
# must not interrupt the cleanup: ignore them once cleanup starts.
on_signal() { trap '' INT TERM HUP; exit "$1"; }
trap 'trap "" INT TERM HUP; lab_destroy' EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP

say "creating the lab ($LAB_PREFIX, gw mode: $MODE)"
cat <<EOF
  client 10.1.0.2-4 --- lan0 [gw: $MODE] wan1 203.0.113.2 --- isp1 --\\
                                         wan2 198.51.100.2 -- isp2 ---+-- inet 192.0.2.100
EOF
if ! lab_create "$MODE"; then
	echo "demo: lab setup failed" >&2
	exit 1
fi
[ "$MODE" = xwan ] && sed 's/^/  /' "$LAB_LOG/xwan-up.log"

say "starting traffic for ${DURATION}s"
bg() { # run in the client namespace, in the background, quietly
	ip netns exec "$LAB_NS_CLIENT" "$@" </dev/null >>"$LAB_LOG/demo-traffic.log" 2>&1 &
}
client_py() { ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/client.py" "$@"; }
SHA=$(cat "$LAB_WWW/blob.sha256")
echo "  ping 10.1.0.2 -> $LAB_SERVER (5/s)"
bg ping -n -q -i 0.2 -w "$((DURATION + 1))" "$LAB_SERVER"
echo "  6 long-lived TCP connections to :8081 from 10.1.0.2, 10.1.0.3, 10.1.0.4"
for a in 10.1.0.2 10.1.0.3 10.1.0.4; do
	bg "$LAB_PY" "$LAB_TOOLS/client.py" hold --count 2 --seconds "$((DURATION + 1))" --bind "$a"
done
echo "  3 parallel downloads of 8 MiB at 2 MiB/s each, repeated"
bg bash -c "while [ \$SECONDS -lt $((DURATION)) ]; do
	$LAB_PY $LAB_TOOLS/client.py fetch --url $LAB_BLOB_URL --sha256 $SHA --parallel 3 --rate 2097152; done"
echo "  bursts of 20 short TCP connections (:8080) and 5 UDP requests (:5300) every second"
bg bash -c "while [ \$SECONDS -lt $((DURATION)) ]; do
	$LAB_PY $LAB_TOOLS/client.py tcp-whoami --count 20 --bind 10.1.0.2 --bind 10.1.0.3 --bind 10.1.0.4
	$LAB_PY $LAB_TOOLS/client.py udp-whoami --count 5 --bind 10.1.0.4
	sleep 1; done"

show_xwan() {
	say "xwan flows   (t=${1}s)"
	# the header, then up to 15 rows, open flows before closed ones, and
	# the last line (xwan's summary)
	lab_xwan flows 2>&1 | awk '
		NR == 1 { print; for (i = 1; i <= NF; i++) if ($i == "STATE") sc = i; h = NF; next }
		NF == h && sc && $sc != "closed" { open[no++] = $0; next }
		NF == h { closed[nc++] = $0; next }
		{ tail = $0 }
		END {
			for (i = 0; i < no && n < 15; i++) { print open[i]; n++ }
			for (i = 0; i < nc && n < 15; i++) { print closed[i]; n++ }
			if (no + nc > n) print "  ..."
			if (tail != "") print tail
		}'
	say "xwan stats   (t=${1}s, non-zero samples)"
	lab_xwan stats 2>&1 | grep -E '^xwan_(packets_total|events_total|gateway_(packets|bytes)_total|gateway_flows_active|gateway_usable|flows_active)' |
		awk '$NF != 0' | head -n 30
}
show_kernel() {
	say "per-WAN counters (kernel baseline, t=${1}s)"
	local d
	for d in wan1 wan2; do
		printf '  %s tx %s packets %s bytes, rx %s packets %s bytes\n' "$d" \
			"$(lab_gw cat /sys/class/net/$d/statistics/tx_packets)" \
			"$(lab_gw cat /sys/class/net/$d/statistics/tx_bytes)" \
			"$(lab_gw cat /sys/class/net/$d/statistics/rx_packets)" \
			"$(lab_gw cat /sys/class/net/$d/statistics/rx_bytes)"
	done
	echo "  server saw TCP connections from: $(awk '$1 == "tcp" { n[$2]++ } END { for (a in n) printf "%s=%d ", a, n[a] }' "$LAB_PEER_LOG")"
}

t0=$SECONDS
while :; do
	# let the traffic build up, then show; refresh every REFRESH seconds
	sleep "$REFRESH"
	if [ "$MODE" = xwan ]; then show_xwan $((SECONDS - t0)); else show_kernel $((SECONDS - t0)); fi
	[ $((SECONDS - t0 + REFRESH)) -le "$DURATION" ] || break
done

echo
echo "(waiting for the traffic generators to finish)"
wait
say "traffic summary"
echo "  server saw TCP connections from: $(awk '$1 == "tcp" { n[$2]++ } END { for (a in n) printf "%s=%d ", a, n[a] }' "$LAB_PEER_LOG")"
grep -h 'packet loss' "$LAB_LOG/demo-traffic.log" | sed 's/^/  ping: /'
dl=$(grep -c '"fail": 0' "$LAB_LOG/demo-traffic.log")
echo "  batches of requests without failure: $dl; with failures: $(grep -c '"fail": [1-9]' "$LAB_LOG/demo-traffic.log")"

if [ "$MODE" = xwan ]; then
	say "xwan down"
	lab_xwan down 2>&1 | sed 's/^/  /'
fi
say "tearing the lab down"
