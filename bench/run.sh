#!/bin/bash
# bench/run.sh - `make bench`: build the benchmark programs, run every part,
# write docs/benchmarks.md and print the figures.
#
#   bench/run.sh                 full run (~6-8 minutes)
#   BENCH_QUICK=1 bench/run.sh   fewer, shorter rounds (~2 minutes)
#
# Parts: build/bench/bench_dp (BPF_PROG_TEST_RUN: per-packet cost, table
# scale, new-flow rate), perf profiles of three cases, bench/lab_bench.sh
# (namespace lab: gw CPU per packet, TCP throughput), bench/flood_bench.sh
# (TCP throughput during a spoofed SYN flood), bench/failover_bench.sh
# (failover time), bench/agent_bench.sh (probe jitter and scrape time at
# 1M flows). Raw results stay in build/bench/results/. A part that
# fails is reported as not measured, and the script exits non-zero.
# Root only (network namespaces, BPF).

set -u
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
cd "$ROOT" || exit 2
BUILD=${BUILD:-build}
B=$BUILD/bench
R=$B/results
PY=/usr/bin/python3
QUICK=${BENCH_QUICK:-}
export BUILD BENCH_QUICK

if [ "$(id -u)" != 0 ]; then
	echo "bench: must run as root (network namespaces, BPF)" >&2
	exit 2
fi
make --no-print-directory -f bench/bench.mk BUILD="$BUILD" || exit 2
rm -rf "$R"
mkdir -p "$R"
t0=$SECONDS
load_start=$(cut -d' ' -f1 /proc/loadavg)
rc=0
step() { echo; echo "=== bench: $* ==="; }

step "1-2. XDP programs through BPF_PROG_TEST_RUN"
"$B/bench_dp" ${QUICK:+--quick} --json "$R/bench_dp.json" \
	--harness "$B/harness.bpf.o" --bare "$B/bare_fwd.bpf.o" || rc=1

if [ -z "$QUICK" ] && perf stat -e cpu-clock true >/dev/null 2>&1; then
	step "profiles (perf record -e cpu-clock)"
	for c in lan_est new bare; do
		perf record -q -e cpu-clock -F 5000 -o "$R/perf-$c.data" -- "$B/bench_dp" \
			--profile "$c" --harness "$B/harness.bpf.o" --bare "$B/bare_fwd.bpf.o" \
			>/dev/null 2>&1 &&
			perf report -q -i "$R/perf-$c.data" --stdio --sort sym 2>/dev/null |
			grep -v '^#' | grep . | head -n 25 >"$R/perf-$c.txt"
		rm -f "$R/perf-$c.data"
		echo "$c: $(head -n 3 "$R/perf-$c.txt" | awk '{ printf "%s %s; ", $1, $3 }')"
	done
fi

step "3. namespace lab: gw CPU per packet, TCP throughput"
bench/lab_bench.sh "$R/lab.tsv" || rc=1

step "3b. established TCP during a SYN flood"
bench/flood_bench.sh "$R/flood.tsv" || rc=1

step "4. failover time"
bench/failover_bench.sh "$R/failover.tsv" || rc=1

step "5. the agent under a big flow table: probe jitter, scrape time"
bench/agent_bench.sh "$R/agent.tsv" || rc=1

{
	echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "cores=$(nproc)"
	echo "mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
	grep -qw hypervisor /proc/cpuinfo && echo "virt=, under a hypervisor (cpuinfo flag)"
	echo "kernel=$(uname -r)"
	echo "load_start=$load_start"
	echo "load_end=$(cut -d' ' -f1 /proc/loadavg)"
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "commit=$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- bpf loader 2>/dev/null || echo ' (with uncommitted changes in bpf/ or loader/)')"
	echo "command=${QUICK:+BENCH_QUICK=1 }make bench"
	echo "quick=$QUICK"
	echo "minutes=$(((SECONDS - t0 + 59) / 60))"
	echo "lab_rate=${BENCH_LAB_RATE:-100000}"
	if [ -n "$QUICK" ]; then echo "tcp_secs=2"; else echo "tcp_secs=4"; fi
} >"$R/meta.env"

step "report"
"$PY" bench/report.py --dp "$R/bench_dp.json" --lab "$R/lab.tsv" \
	--failover "$R/failover.tsv" --agent "$R/agent.tsv" --flood "$R/flood.tsv" \
	--profiles "$R" --meta "$R/meta.env" \
	--out docs/benchmarks.md || rc=1
echo "bench: $((SECONDS - t0)) s"
exit $rc
