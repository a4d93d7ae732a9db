#!/bin/bash
# shellcheck source-path=SCRIPTDIR/..
# bench/agent_bench.sh - does a big flow table stall the agent's probes?
# A lab agent (`xwan run`, probes every 100 ms) with N live flows in its
# table (bench/flowfill, default 1M); ICMP probes to isp1's gateway are
# captured on isp1's side (tcpdump timestamps) while
#   phase "sweep":  nothing else happens (the agent sweeps the table every
#                   10 s on its worker thread; the phase holds two sweeps),
#   phase "scrape": /metrics is scraped back to back.
# preceded by phase "idle" (the same agent, an empty table: the control,
# what the machine's load alone gives). The send jitter is |interval between consecutive probes - 100 ms|.
# Also the time of one /metrics scrape (counts from the sweep) and of
# `xwan stats` (the CLI: a full scan of the table).
#
#   bench/agent_bench.sh OUT.tsv   (BENCH_FLOWS=N; BENCH_QUICK=1: 200k flows)
#
# OUT.tsv lines: "agent KEY VALUE"

set -u
OUT=${1:?usage: $0 OUT.tsv}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
cd "$ROOT" || exit 2
BUILD=${BUILD:-build}
# shellcheck source=tests/e2e/lab.sh
source "$ROOT/tests/e2e/lab.sh"
# shellcheck source=tests/e2e/failover_lib.sh
source "$ROOT/tests/e2e/failover_lib.sh"
FLOWS=${BENCH_FLOWS:-$([ -n "${BENCH_QUICK:-}" ] && echo 200000 || echo 1000000)}
PHASE_S=${BENCH_AGENT_PHASE_S:-22}

log() { echo "agent_bench: $*" >&2; }
: >"$OUT"
lab_init_names "${BENCH_LAB_PREFIX:-xab$$}"
TCPD_PID=""
cleanup() {
	trap '' INT TERM HUP
	[ -n "$TCPD_PID" ] && kill "$TCPD_PID" 2>/dev/null && wait "$TCPD_PID" 2>/dev/null
	fo_agent_stop >/dev/null 2>&1
	lab_destroy
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

lab_create xwan >/dev/null || { log "cannot create the lab"; exit 1; }
_fo_state_init
cfg=$(fo_config fast) || exit 1
# Room for N flows without LRU pressure.
cap=$(( (FLOWS * 5 / 4 + 1023) / 1024 * 1024 ))
sed -i "s/^flow_table_size: .*/flow_table_size: $cap/" "$cfg"
lab_xwan down >/dev/null 2>&1    # the lab's own dataplane has a small table: start afresh
fo_agent_start "$cfg" || { log "the agent did not start"; exit 1; }
fo_wait_status isp1 online 60 || { log "isp1 not online"; exit 1; }
cap_file=$LAB_LOG/agent-bench-probes.txt
lab_isp1 tcpdump -i cust -n -tt -l -U 'icmp[icmptype] = icmp-echo' >"$cap_file" 2>/dev/null &
TCPD_PID=$!
sleep 1
t_idle=$(date +%s.%N)      # the control: the same agent with an empty table
sleep "$PHASE_S"
t_fill=$(date +%s.%N)
t=$t_fill
lab_gw "$BUILD/bench/flowfill" "$LAB_PIN_DIR" "$FLOWS" 2 >&2 || exit 1
log "filled $FLOWS flows in $(fo_elapsed "$t") s"
echo "agent flows $FLOWS" >>"$OUT"

t_sweep=$(date +%s.%N)
sleep "$PHASE_S"
t_scrape=$(date +%s.%N)
scrapes=$LAB_LOG/agent-bench-scrapes.txt
: >"$scrapes"
end=$((SECONDS + PHASE_S))
while [ $SECONDS -lt $end ]; do
	lab_gw curl -s -o /dev/null -w '%{time_total}\n' "http://$FO_METRICS_LISTEN/metrics" >>"$scrapes"
done
t_end=$(date +%s.%N)
sleep 0.5
kill "$TCPD_PID" 2>/dev/null
wait "$TCPD_PID" 2>/dev/null
TCPD_PID=""

t=$(date +%s.%N)
lab_xwan stats >/dev/null 2>&1
stats_s=$(fo_elapsed "$t")
sweep_s=$(lab_gw curl -s "http://$FO_METRICS_LISTEN/metrics" | "$LAB_PY" "$LAB_TOOLS/promval.py" xwan_flows_count_duration_seconds)
active=$(lab_gw curl -s "http://$FO_METRICS_LISTEN/metrics" | "$LAB_PY" "$LAB_TOOLS/promval.py" xwan_flows_active)

"$LAB_PY" - "$cap_file" "$scrapes" "$t_sweep" "$t_scrape" "$t_end" "$stats_s" "$sweep_s" "$active" "$t_idle" "$t_fill" >>"$OUT" <<'PY'
import re, sys
cap, scrapes, t_sweep, t_scrape, t_end = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:6])
stats_s, sweep_s, active = sys.argv[6], sys.argv[7], sys.argv[8]
t_idle, t_fill = float(sys.argv[9]), float(sys.argv[10])
last = {}
jit = {"idle": [], "sweep": [], "scrape": []}
gaps = {"idle": 0, "sweep": 0, "scrape": 0}
for line in open(cap):
    m = re.match(r"(\d+\.\d+) .* ICMP echo request, id (\d+), seq (\d+)", line)
    if not m:
        continue
    t, ident, seq = float(m.group(1)), m.group(2), int(m.group(3))
    phase = ("idle" if t_idle <= t < t_fill else "sweep" if t_sweep <= t < t_scrape
             else "scrape" if t_scrape <= t < t_end else None)
    if ident in last and phase:
        pt, pseq = last[ident]
        if seq == pseq + 1:
            jit[phase].append(abs(t - pt - 0.1) * 1000)
        else:
            gaps[phase] += 1
    last[ident] = (t, seq)
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] if v else float("nan")
for ph in ("idle", "sweep", "scrape"):
    print(f"agent {ph}_probes {len(jit[ph])}")
    print(f"agent {ph}_jitter_p50_ms {pct(jit[ph], 0.5):.2f}")
    print(f"agent {ph}_jitter_p99_ms {pct(jit[ph], 0.99):.2f}")
    print(f"agent {ph}_jitter_max_ms {max(jit[ph]) if jit[ph] else float('nan'):.2f}")
    print(f"agent {ph}_seq_gaps {gaps[ph]}")
s = [float(x) for x in open(scrapes) if x.strip()]
print(f"agent scrapes {len(s)}")
print(f"agent scrape_p50_s {pct(s, 0.5):.4f}")
print(f"agent scrape_max_s {max(s) if s else float('nan'):.4f}")
print(f"agent cli_stats_s {stats_s}")
print(f"agent sweep_s {sweep_s}")
print(f"agent flows_active {active}")
PY
cat "$OUT" >&2
grep -q 'sweep_probes [1-9]' "$OUT"
