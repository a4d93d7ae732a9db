#!/bin/bash
# shellcheck source-path=SCRIPTDIR/..
# bench/lab_bench.sh - the gateway's CPU cost per forwarded packet and TCP
# throughput in the namespace lab (tests/e2e/lab.sh), for three gateways:
#
#   xwan    the lab's xwan mode (XDP dataplane, `xwan up`)
#   kernel  the lab's kernel mode: Linux forwarding, multipath default route,
#           nftables masquerade + stateful forward filter
#   bare    bench/bare_fwd.bpf.c on the gw's lan0/wan1/wan2: bpf_fib_lookup
#           routing, no NAT, no state. A lab variant, for this measurement
#           only: the gw's nftables tables are deleted (plain routing, no
#           NAT), the ISPs and inet drop their anti-spoofing rules and route
#           10.1.0.0/24 back (isp1 -> 203.0.113.2, isp2 -> 198.51.100.2,
#           inet -> isp1), and the gw's two source-routing rules (for its
#           own NATed traffic) are removed, sparing every FIB lookup them.
#
# One lab per gateway, all three up at once, measured in interleaved rounds
# (xwan, kernel, bare, xwan, ...). Medians are taken by bench/report.py.
#
# The gateway's own CPU: on plain veth every hop runs on the sending core,
# so each receiving veth end that matters gets a NAPI instance (GRO on) and
# threaded NAPI: the gw's lan0/wan1/wan2 threads are pinned to CPU 1; the
# client's eth0 and the ISPs' cust threads (which receive what the gw sends,
# so the gw only wakes them) and everything else to CPU 0. The gw's cost is
# the on-CPU time of its NAPI threads (/proc/TID/schedstat) over the packets
# the server side received.
#
# Offered load: bench/xdpgen (client namespace) sends 64-byte UDP frames
# (16 flows, 10.1.0.2 -> 192.0.2.100:9) at a fixed rate, well below what any
# of the three gateways saturates at, as xdp_frames redirected into the
# client's veth: they reach the gw's lan0 ring as a NIC would deliver them.
# inet counts and drops them in prerouting (nft counter "sink").
#
#   bench/lab_bench.sh OUT.tsv      (BENCH_QUICK=1: fewer, shorter rounds)
#
# OUT.tsv lines: "udp MODE ROUND sent delivered gw_ns core1_busy_ns seconds
# kernel_forwarded"
# "tcp MODE ROUND bits_per_second gw_ns seconds retransmits", and
# "prog MODE 1 run_time_ns run_cnt" (the XDP program's own time on lan0,
# from kernel.bpf_stats_enabled, in a separate diagnostic run).

set -u
OUT=${1:?usage: $0 OUT.tsv}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
cd "$ROOT" || exit 2
# shellcheck source=tests/e2e/lab.sh
source "$ROOT/tests/e2e/lab.sh"
B=$ROOT/${BUILD:-build}/bench

QUICK=${BENCH_QUICK:-}
RATE=${BENCH_LAB_RATE:-100000}
if [ -n "$QUICK" ]; then
	ROUNDS=2 UDP_SECS=2 TCP_SECS=2
else
	ROUNDS=5 UDP_SECS=4 TCP_SECS=4
fi
MODES="xwan kernel bare"
GW_CPU=1
OTHER_CPU=0
SINK_PORT=9

declare -A PFX GW_TIDS LAN_MAC

log() { echo "lab_bench: $*" >&2; }

cleanup() {
	local m
	[ -n "${BENCH_LAB_KEEP:-}" ] && { log "labs kept: ${PFX[*]}"; return; }
	for m in $MODES; do
		[ -n "${PFX[$m]:-}" ] && lab_destroy "${PFX[$m]}" >/dev/null 2>&1
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

napi_tids() { ps -eLo tid=,comm= | awk '$2 ~ /^napi\// { print $1 }' | sort -n; }

# threaded NAPI (GRO on, for a NAPI instance) on NS's devices; prints the new threads
threaded() {
	local ns=$1 dev before after
	shift
	before=$(napi_tids)
	for dev in "$@"; do
		ip netns exec "$ns" ethtool -K "$dev" gro on >/dev/null || return 1
		ip netns exec "$ns" sh -c "echo 1 > /sys/class/net/$dev/threaded" || return 1
	done
	after=$(napi_tids)
	comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' '
}

pin() {
	local cpu=$1 t
	shift
	for t in "$@"; do taskset -p -c "$cpu" "$t" >/dev/null 2>&1; done
}

# The bare forwarder's lab variant (the lab was created in kernel mode).
bare_setup() {
	local ifc idx le
	lab_gw nft delete table ip xwanlab_nat || return 1
	lab_gw nft delete table inet xwanlab_filter || return 1
	lab_isp1 nft flush chain inet lab forward || return 1
	lab_isp2 nft flush chain inet lab forward || return 1
	lab_inet nft flush chain inet lab prerouting || return 1
	lab_isp1 ip route add "$LAB_LAN_NET" via "$LAB_WAN1_IP" dev cust || return 1
	lab_isp2 ip route add "$LAB_LAN_NET" via "$LAB_WAN2_IP" dev cust || return 1
	lab_inet ip route add "$LAB_LAN_NET" via 192.0.2.1 || return 1
	# the source routing of the gw's own NATed traffic: not needed without
	# NAT, and every FIB lookup would walk these rules
	lab_gw ip rule del pref 1001
	lab_gw ip rule del pref 1002
	lab_gw bpftool prog load "$B/bare_fwd.bpf.o" "$LAB_BPFFS/bare_fwd" type xdp \
		pinmaps "$LAB_BPFFS/bare_maps" || return 1
	for ifc in lan0 wan1 wan2; do
		idx=$(lab_gw cat "/sys/class/net/$ifc/ifindex")
		le=$(printf '%d %d %d %d' $((idx & 255)) $((idx >> 8 & 255)) $((idx >> 16 & 255)) $((idx >> 24)))
		# shellcheck disable=SC2086  # four bytes
		lab_gw bpftool map update pinned "$LAB_BPFFS/bare_maps/bare_tx" key $le value $le || return 1
		lab_gw bpftool net attach xdpdrv pinned "$LAB_BPFFS/bare_fwd" dev "$ifc" || return 1
	done
}

setup() {
	local mode=$1 others p
	PFX[$mode]=xb$$${mode:0:1}
	lab_init_names "${PFX[$mode]}" || return 1
	if [ "$mode" = bare ]; then
		lab_create kernel >/dev/null || return 1
		bare_setup || { log "bare forwarder setup failed"; return 1; }
	else
		lab_create "$mode" >/dev/null || return 1
	fi
	grep -q '^ready=1' "$LAB_STATE/state" || { log "$mode lab: client cannot reach the server"; return 1; }
	GW_TIDS[$mode]=$(threaded "$LAB_NS_GW" lan0 wan1 wan2) || return 1
	others="$(threaded "$LAB_NS_CLIENT" eth0) $(threaded "$LAB_NS_ISP1" cust) $(threaded "$LAB_NS_ISP2" cust)"
	[ -n "${GW_TIDS[$mode]// /}" ] || { log "$mode: no NAPI threads on the gw"; return 1; }
	# shellcheck disable=SC2086
	pin $GW_CPU ${GW_TIDS[$mode]}
	# shellcheck disable=SC2086
	pin $OTHER_CPU $others
	for p in $(ip netns pids "$LAB_NS_INET") $(ip netns pids "$LAB_NS_CLIENT"); do
		taskset -a -p -c $OTHER_CPU "$p" >/dev/null 2>&1
	done
	lab_inet nft -f - <<-EOF || return 1
		table ip xbench {
			counter sink { }
			chain pre {
				type filter hook prerouting priority -300; policy accept;
				udp dport $SINK_PORT counter name "sink" drop
			}
		}
	EOF
	# a spare veth that holds the generator's program in the XDP dispatcher
	ip -n "$LAB_NS_CLIENT" link add xg0 type veth peer name xg1 || return 1
	ip -n "$LAB_NS_CLIENT" link set xg0 up && ip -n "$LAB_NS_CLIENT" link set xg1 up
	LAN_MAC[$mode]=$(ip -n "$LAB_NS_GW" -br link show lan0 | awk '{ print $3 }')
	log "$mode lab ${PFX[$mode]} up; gw NAPI threads: ${GW_TIDS[$mode]}"
}

tids_ns() { # on-CPU ns of the threads, summed
	local t s=0 v
	for t in "$@"; do
		read -r v _ <"/proc/$t/schedstat" || return 1
		s=$((s + v))
	done
	echo "$s"
}

cpu_busy_ns() { # non-idle time of CPU n from /proc/stat, in ns
	awk -v c="cpu$1" -v hz="$(getconf CLK_TCK)" '$1 == c {
		printf "%.0f\n", ($2 + $3 + $4 + $7 + $8) * 1e9 / hz }' /proc/stat
}

sink_count() { lab_nft_counter "$LAB_NS_INET" ip xbench sink; }

# IPv4 datagrams the gw's kernel forwarded (not XDP): Ip ForwDatagrams
# shellcheck disable=SC2016  # an awk program
kernel_fwd() {
	lab_gw awk '$1 == "Ip:" && $2 !~ /^[0-9]/ { for (i = 2; i <= NF; i++) if ($i == "ForwDatagrams") c = i }
		$1 == "Ip:" && $2 ~ /^[0-9]/ { print $c }' /proc/net/snmp
}

gen() { # RATE SECONDS
	ip netns exec "$LAB_NS_CLIENT" taskset -c $OTHER_CPU "$B/xdpgen" "$B/xdpgen.bpf.o" eth0 \
		"${LAN_MAC[$MODE]}" "$LAB_CLIENT_IP" "$LAB_SERVER" $SINK_PORT "$1" "$2" 16 xg0
}

udp_round() {
	local r=$1 a b c0 c1 k0 k1 f0 f1 out sent t0 t1
	gen "$RATE" 0.3 >/dev/null || return 1  # flows, neighbours, conntrack: warm
	sleep 0.3
	# shellcheck disable=SC2086
	a=$(tids_ns ${GW_TIDS[$MODE]}) c0=$(sink_count) k0=$(cpu_busy_ns $GW_CPU) t0=$(date +%s.%N)
	f0=$(kernel_fwd)
	out=$(gen "$RATE" "$UDP_SECS") || { log "$MODE: generator failed: $out"; return 1; }
	sleep 0.2
	# shellcheck disable=SC2086
	b=$(tids_ns ${GW_TIDS[$MODE]}) c1=$(sink_count) k1=$(cpu_busy_ns $GW_CPU) t1=$(date +%s.%N)
	f1=$(kernel_fwd)
	sent=$(echo "$out" | awk '{ print $2 }')
	echo "udp $MODE $r $sent $((c1 - c0)) $((b - a)) $((k1 - k0)) $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') $((f1 - f0))" >>"$OUT"
	log "$MODE round $r: UDP $((c1 - c0))/$sent delivered, gw $(((b - a) / (c1 - c0 > 0 ? c1 - c0 : 1))) ns/packet, $((f1 - f0)) forwarded by the gw's kernel"
}

tcp_round() {
	local r=$1 a b j bps rtx try err
	for try in 1 2 3; do
		# shellcheck disable=SC2086
		a=$(tids_ns ${GW_TIDS[$MODE]})
		j=$(lab_client taskset -c $OTHER_CPU iperf3 -c "$LAB_SERVER" -p 5201 -t "$TCP_SECS" -J 2>&1)
		# shellcheck disable=SC2086
		b=$(tids_ns ${GW_TIDS[$MODE]})
		read -r bps rtx < <(echo "$j" | "$LAB_PY" -c 'import json, sys
d = json.load(sys.stdin)["end"]
print(d["sum_received"]["bits_per_second"], d["sum_sent"].get("retransmits", 0))' 2>/dev/null)
		[ -n "${bps:-}" ] && break
		err=$(echo "$j" | "$LAB_PY" -c 'import json, sys; print(json.load(sys.stdin).get("error", "?"))' 2>/dev/null)
		log "$MODE round $r: iperf3 failed (try $try): ${err:-$(echo "$j" | tail -n 2)}"
		sleep 1
	done
	[ -n "${bps:-}" ] || return 1
	echo "tcp $MODE $r $bps $((b - a)) $TCP_SECS $rtx" >>"$OUT"
	log "$MODE round $r: TCP $(awk -v b="$bps" 'BEGIN { printf "%.2f", b / 1e9 }') Gbit/s, gw busy $(awk -v n=$((b - a)) -v s="$TCP_SECS" 'BEGIN { printf "%.0f", n / s / 1e7 }')%"
}

TCP_FAILED=
: >"$OUT"
for MODE in $MODES; do
	setup "$MODE" || { log "cannot set up the $MODE lab"; exit 1; }
done
for r in $(seq 1 "$ROUNDS"); do
	for MODE in $MODES; do
		lab_init_names "${PFX[$MODE]}"
		udp_round "$r" || exit 1
	done
done
for r in $(seq 1 "$ROUNDS"); do
	for MODE in $MODES; do
		lab_init_names "${PFX[$MODE]}"
		tcp_round "$r" || TCP_FAILED=1
	done
done
# Diagnosis, not part of the figures above (the stats cost time per run):
# the XDP program's own share of the gw's cost, from kernel.bpf_stats.
prog_stats() { # prints "run_time_ns run_cnt" of the XDP program on the gw's lan0
	local id
	id=$(lab_gw bpftool -j net show dev lan0 | "$LAB_PY" -c 'import json, sys
print(json.load(sys.stdin)[0]["xdp"][0]["id"])' 2>/dev/null) || return 1
	bpftool -j prog show id "$id" | "$LAB_PY" -c 'import json, sys
d = json.load(sys.stdin)
print(d.get("run_time_ns", 0), d.get("run_cnt", 0))'
}
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q -w kernel.bpf_stats_enabled=1
for MODE in xwan bare; do
	lab_init_names "${PFX[$MODE]}"
	read -r t0 n0 < <(prog_stats)
	gen "$RATE" "$UDP_SECS" >/dev/null
	read -r t1 n1 < <(prog_stats)
	echo "prog $MODE 1 $((t1 - t0)) $((n1 - n0))" >>"$OUT"
	log "$MODE: the XDP program on lan0 ran $((n1 - n0)) times, $(((t1 - t0) / (n1 - n0 > 0 ? n1 - n0 : 1))) ns per run (bpf_stats)"
done
sysctl -q -w kernel.bpf_stats_enabled="$stats_was"
[ -z "$TCP_FAILED" ] || { log "done, but some TCP runs failed"; exit 1; }
log "done"
