#!/bin/bash
# shellcheck source-path=SCRIPTDIR/..
# shellcheck disable=SC2119  # fo_agent_stop takes an optional signal
# bench/failover_bench.sh - failover time of the gateway monitor, per probe
# profile, through tests/e2e/failover_lib.sh's measure_failover: a new TCP
# connection from the client every 50 ms; isp1 is blackholed (nft drop on
# its customer side, link up); the time is from the blackhole to the first
# attempt after which every attempt succeeds through isp2.
#
# Profiles alternate (default, fast, default, ...); every run starts a fresh
# agent (`xwan run`), waits until both gateways are online, measures, then
# lifts the blackhole and stops the agent. The default profile averages loss
# over a window, so its time depends on how long the agent has probed
# (FO_AGENT_AGE_S, recorded).
#
#   bench/failover_bench.sh OUT.tsv   (BENCH_QUICK=1: fewer runs)
#
# OUT.tsv lines: "failover PROFILE RUN seconds|never failed attempts agent_age_s"

set -u
OUT=${1:?usage: $0 OUT.tsv}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
cd "$ROOT" || exit 2
# shellcheck source=tests/e2e/lab.sh
source "$ROOT/tests/e2e/lab.sh"
FO_LIB=$ROOT/tests/e2e/failover_lib.sh

log() { echo "failover_bench: $*" >&2; }

: >"$OUT"
if [ ! -f "$FO_LIB" ]; then
	# HOOK: tests/e2e/failover_lib.sh (measure_failover) is not there.
	log "SKIPPED: $FO_LIB not found"
	echo "failover skipped no_failover_lib" >>"$OUT"
	exit 0
fi
# shellcheck source=tests/e2e/failover_lib.sh
source "$FO_LIB"
if ! declare -F measure_failover >/dev/null; then
	log "SKIPPED: $FO_LIB has no measure_failover"
	echo "failover skipped no_measure_failover" >>"$OUT"
	exit 0
fi

if [ -n "${BENCH_QUICK:-}" ]; then
	RUNS=${BENCH_FAILOVER_RUNS:-2}
else
	RUNS=${BENCH_FAILOVER_RUNS:-5}
fi
PROFILES="default fast"

lab_init_names "xbf$$"
cleanup() {
	trap '' INT TERM HUP
	fo_prober_stop >/dev/null 2>&1
	fo_agent_stop >/dev/null 2>&1
	lab_destroy
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

lab_create xwan >/dev/null || { log "cannot create the lab"; exit 1; }
grep -q '^ready=1' "$LAB_STATE/state" || { log "lab: client cannot reach the server"; exit 1; }
_fo_state_init
declare -A CFG
for p in $PROFILES; do
	CFG[$p]=$(fo_config "$p") || exit 1
done

for run in $(seq 1 "$RUNS"); do
	for p in $PROFILES; do
		fo_agent_stop >/dev/null 2>&1
		if ! fo_agent_start "${CFG[$p]}"; then
			log "$p run $run: the agent did not start: $(fo_log_since "$FO_LOG_MARK" | tail -n 5)"
			exit 1
		fi
		if ! fo_wait_status isp1 online 60 || ! fo_wait_status isp2 online 60; then
			log "$p run $run: gateways not online: isp1 $(fo_status isp1); isp2 $(fo_status isp2)"
			exit 1
		fi
		measure_failover 90
		echo "failover $p $run ${FO_FAILOVER_S:-never} ${FO_FAILED:-?} ${FO_ATTEMPTS:-?} ${FO_AGENT_AGE_S:-?}" >>"$OUT"
		log "$p run $run: failover ${FO_FAILOVER_S:-never} s, $FO_FAILED of $FO_ATTEMPTS attempts failed (agent probing for ${FO_AGENT_AGE_S} s)"
		fo_unblackhole isp1
		fo_agent_stop >/dev/null 2>&1
	done
done
log "done"
