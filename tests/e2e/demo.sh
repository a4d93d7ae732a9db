#!/bin/bash
# tests/e2e/demo.sh - `make demo`: xwan in the namespace lab, with traffic.
#
# Builds the lab (tests/e2e/lab.sh) with build/xwan on the gw and a demo
# config (the lab's two WANs, 3:1, with a quick gateway monitor), starts the
# agent (`xwan run`, which adopts the running dataplane), starts a mix of
# traffic from the client (ping, throttled parallel downloads, long-lived and
# short TCP connections, UDP), shows `xwan status`, `xwan flows` and
# `xwan stats`; then blackholes isp1 (link up, packets dropped) and shows the
# failover (the agent's log, the gateways, flows moving to isp2, the TCP
# clients of isp1 reset); lifts the blackhole and shows the recovery; then
# tears everything down. Non-interactive; always cleans up. Needs root.
# Builds nothing (the Makefile does).
#
#   XWAN_DEMO_SECONDS=30     how long to run traffic
#   XWAN_E2E_MODE=kernel     demo the plain-Linux baseline instead (shows
#                            per-WAN counters, there is no flow table)

set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"

MODE=${XWAN_E2E_MODE:-xwan}
DURATION=${XWAN_DEMO_SECONDS:-30}

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

# The embedded default: the lab's WANs, 3:1, probed every 200 ms so the
# failover below happens within a second (the default profile probes every
# 500 ms and judges loss over a minute, as pfSense's dpinger does).
DEMO_CFG=$(mktemp /tmp/xwan-demo.XXXXXX.yaml)
cat >"$DEMO_CFG" <<'YAML'
lan:
  - interface: lan0
    networks: [10.1.0.0/24]
wan:
  - name: isp1
    interface: wan1
    gateway: 203.0.113.1
    weight: 3
    monitor: {interval_ms: 200, loss_interval_ms: 400, down_after: 3, up_after: 3}
  - name: isp2
    interface: wan2
    gateway: 198.51.100.1
    weight: 1
    monitor: {interval_ms: 200, loss_interval_ms: 400, down_after: 3, up_after: 3}
groups:
  - name: balance
    members: [{wan: isp1, tier: 1}, {wan: isp2, tier: 1}]
    method: hash
    hash_fields: [src, dst, proto, sport, dport]
default_group: balance
metrics: {listen: 127.0.0.1:9469}
YAML
[ "$MODE" = xwan ] && export XWAN_LAB_CONFIG=$DEMO_CFG
# A second signal (the terminal's Ctrl-C and timeout(1)'s forwarded copy)
# must not interrupt the cleanup: ignore them once cleanup starts.
on_signal() { trap '' INT TERM HUP; exit "$1"; }
trap 'trap "" INT TERM HUP; lab_destroy; rm -f "$DEMO_CFG"' EXIT
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
if [ "$MODE" = xwan ]; then
	sed 's/^/  /' "$LAB_LOG/xwan-up.log"
	say "starting the agent: xwan run -c demo.yaml"
	AGENT_LOG=$LAB_LOG/agent.log
	ip netns exec "$LAB_NS_GW" env XWAN_PIN_DIR="$LAB_PIN_DIR" \
		"$XWAN" --pin-dir "$LAB_PIN_DIR" run -c "$DEMO_CFG" </dev/null >"$AGENT_LOG" 2>&1 &
	# until both gateways are online
	online() { [ "$(lab_xwan status 2>/dev/null | grep -c ' online ')" -ge 2 ]; }
	lab_poll 15 online || echo "  (the gateways are not online yet)"
	sed 's/^/  /' "$AGENT_LOG"
fi

say "starting traffic for ${DURATION}s"
TRAFFIC_PIDS=()
bg() { # run in the client namespace, in the background, quietly
	ip netns exec "$LAB_NS_CLIENT" "$@" </dev/null >>"$LAB_LOG/demo-traffic.log" 2>&1 &
	TRAFFIC_PIDS+=($!)
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
	lab_xwan stats 2>&1 | grep -E '^xwan_(packets_total|events_total|gateway_(packets|bytes)_total|gateway_flows_active|gateway_(rtt_seconds|loss_ratio)|flows_active)' |
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

blackhole() { # on|off: isp1 drops every IPv4 packet from its customer, link up
	if [ "$1" = on ]; then
		lab_isp1 nft -f - <<'NFT'
table netdev xwan_demo {
	chain in { type filter hook ingress device "cust" priority 0; policy accept; meta protocol ip drop; }
}
NFT
	else
		lab_isp1 nft delete table netdev xwan_demo
	fi
}
show_agent() {
	say "the agent's log"
	sed 's/^/  /' "$AGENT_LOG" | tail -n "${1:-6}"
	say "xwan status"
	lab_xwan status 2>&1 | sed 's/^/  /'
}

t0=$SECONDS
at() { local w=$(($1 - (SECONDS - t0))); [ "$w" -le 0 ] || sleep "$w"; }
third=$((DURATION / 3))
if [ "$MODE" = xwan ]; then
	at 5
	show_agent 3
	show_xwan $((SECONDS - t0))
	at "$third"
	say "isp1 goes dark (t=$((SECONDS - t0))s): blackholed at isp1, its link still up"
	blackhole on
	at $((third + 3))
	show_agent 6
	show_xwan $((SECONDS - t0))
	at $((2 * third))
	say "isp1 comes back (t=$((SECONDS - t0))s)"
	blackhole off
	at $((2 * third + 3))
	show_agent 3
	at "$DURATION"
else
	for t in 5 $((DURATION / 2)) "$DURATION"; do
		at "$t"
		show_kernel $((SECONDS - t0))
	done
fi

echo
echo "(waiting for the traffic generators to finish)"
wait "${TRAFFIC_PIDS[@]}"
say "traffic summary"
echo "  server saw TCP connections from: $(awk '$1 == "tcp" { n[$2]++ } END { for (a in n) printf "%s=%d ", a, n[a] }' "$LAB_PEER_LOG")"
grep -h 'packet loss' "$LAB_LOG/demo-traffic.log" | sed 's/^/  ping: /'
dl=$(grep -c '"fail": 0' "$LAB_LOG/demo-traffic.log")
echo "  batches of requests without failure: $dl; with failures: $(grep -c '"fail": [1-9]' "$LAB_LOG/demo-traffic.log")"

if [ "$MODE" = xwan ]; then
	say "stopping the agent (the dataplane keeps forwarding), then xwan down"
	pkill -TERM -f -- "--pin-dir $LAB_PIN_DIR run" 2>/dev/null
	lab_poll 5 bash -c "! pgrep -f -- '--pin-dir $LAB_PIN_DIR run' >/dev/null"
	tail -n 1 "$AGENT_LOG" | sed 's/^/  /'
	say "xwan down"
	lab_xwan down 2>&1 | sed 's/^/  /'
fi
say "tearing the lab down"
