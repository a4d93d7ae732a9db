#!/bin/bash
# tests/e2e/failover_lib.sh - failover helpers on top of the namespace lab
# (tests/e2e/lab.sh), shared by tests/e2e/test_failover.sh and benchmarks.
#
#   . tests/e2e/lab.sh; . tests/e2e/failover_lib.sh
#   lab_init_names "xf$$"; trap lab_destroy EXIT; lab_create xwan
#   cfg=$(fo_config fast)                    # $LAB_LOG/fo/fast.yaml
#   fo_agent_start "$cfg" || exit 1          # xwan run in the gw namespace
#   fo_wait_status isp1 online 30 && fo_wait_status isp2 online 30
#   measure_failover 60                      # blackholes isp1 (left so)
#   echo "$FO_FAILOVER_S s, $FO_FAILED failed attempts"
#   fo_unblackhole isp1; fo_agent_stop
#
# Agent:
#   fo_config PROFILE [GROUP-KEYS] [NAME]  write $FO_DIR/NAME.yaml (the
#       lab's WANs and group, metrics on 127.0.0.1:9469) and print its path.
#       PROFILE: default (no monitor keys), fast (interval_ms 100,
#       loss_interval_ms 200, down_after 3), or a YAML flow mapping of
#       monitor keys for both WANs, e.g. "{interval_ms: 5000, up_after: 1}".
#       GROUP-KEYS: extra keys of the group, e.g. "on_gateway_down: keep".
#   fo_agent_start CONFIG [RUN-OPTIONS...]  `xwan run -c CONFIG` in the gw
#       namespace, output appended to $FO_AGENT_LOG; returns once it logged
#       "monitoring N gateways" (1 if it exits or takes 20 s). Sets
#       FO_AGENT_PID, FO_AGENT_STARTED_AT and FO_LOG_MARK (log lines before
#       this start). Call it in the main shell, not in $(...).
#   fo_agent_stop [SIGNAL]  SIGTERM (or SIGNAL) the agent, wait for it.
#   fo_agent_alive          the agent process is running.
#   fo_log_since MARK       agent log lines after line MARK.
#   fo_log_grep MARK ERE    the first such line matching ERE (1 if none).
#
# Gateways (status from `xwan status`):
#   fo_status GW        prints "STATUS USABLE RTT REASON..." of GW.
#   fo_wait_status GW STATUS [TIMEOUT_S [REASON-ERE]]  poll (every ~10 ms)
#       until GW has STATUS (and a reason matching REASON-ERE). Sets
#       FO_SEEN_AT (when the poll that saw it began) and FO_OTHER_AT (when
#       the last poll that saw something else began, "" if none): the
#       change happened between the two. Wall-clock seconds (date +%s.%N).
#   fo_metric SELECTOR  sum of an xwan metric (promval.py) from `xwan stats`.
#
# Faults (isp1|isp2):
#   fo_blackhole ISP    drop IPv4 both ways on the ISP's customer-facing
#       interface (nft netdev ingress+egress on "cust"); the link stays up
#       and ARP keeps working, so only probes and traffic are lost.
#   fo_unblackhole ISP  remove it.
#   fo_carrier ISP down|up  take the ISP's "cust" end down/up: the gw's WAN
#       loses carrier but stays administratively up.
#   fo_probe_count ISP  ICMP echo requests from the gw's WAN address to the
#       ISP gateway that reached the ISP's "cust" so far (the agent's probes
#       with the default method, counted before any blackhole drops them;
#       the counter is installed by the first call, which prints 0).
#
# Traffic (tests/e2e/tools/failover.py):
#   fo_prober_start FILE [PROBER-OPTIONS...]  a new TCP connection to the
#       whoami (:8080) every 50 ms from the client, one JSON line per
#       attempt in FILE (start time, ok, the address the server saw).
#       Sets FO_PROBER_PID.  fo_prober_stop ends it (attempts in flight
#       finish). fo_lines FILE counts lines.
#   fo_echo_server_start  the line echo on $LAB_SERVER:$FO_ECHO_PORT (inet).
#   fo_hold_start FILE [--want-addr IP]  one held connection to the echo
#       from the client (with --want-addr: reopened until the server sees
#       that WAN address). Returns when it is open (1 if not). Sets
#       FO_HOLD_PID, FO_HOLD_LOCAL (client ip:port), FO_HOLD_SEEN (ip:port
#       the server sees).  fo_hold_stop ends it.
#   fo_hold_replies FILE [SINCE]  replies logged at or after SINCE (seconds).
#   fo_hold_peers FILE [SINCE]    the distinct ip:port the server saw then.
#   fo_hold_error FILE            the error that ended it ("" if none).
#
# Measurement:
#   measure_failover [TIMEOUT_S]  with the agent running and both gateways
#       online: start the prober, after 1 s of baseline blackhole isp1
#       (FO_CUT_AT: when the drop rule was in place) and wait until the
#       last 40 attempts (2 s) all succeeded via isp2, or TIMEOUT_S (60).
#       Sets FO_FAILOVER_S (from the blackhole to the start of the first
#       attempt after which every attempt succeeded via $LAB_WAN2_IP),
#       FO_FAILED (failed attempts), FO_ATTEMPTS, FO_RESULT (the analysis
#       JSON), FO_ATTEMPTS_FILE, FO_AGENT_AGE_S (how long the agent had been
#       probing at the cut: the default profile averages loss over 60 s, so
#       its failover time depends on it: ~3 s after 3 s of probing, ~14 s
#       after a full 60 s window in this lab). Returns 1 when it never
#       settled. isp1 stays blackholed: call fo_unblackhole isp1.
#
# Files: configs, prober attempts, held-connection logs go to $FO_DIR
# ($LAB_LOG/fo, set by _fo_state_init), the agent's output to $FO_AGENT_LOG
# ($LAB_LOG/agent.log); XWAN_LAB_KEEP_LOGS keeps them with the lab's logs.

# shellcheck disable=SC2034  # FO_* names are for the scripts that source this
FO_LIB_SELF=$(readlink -f "${BASH_SOURCE[0]}")
FO_TOOL=$(dirname "$FO_LIB_SELF")/tools/failover.py
FO_ECHO_PORT=8090
FO_METRICS_LISTEN=127.0.0.1:9469
FO_FAST_MONITOR='{interval_ms: 100, loss_interval_ms: 200, down_after: 3}'

_fo_state_init() {
	FO_AGENT_LOG=$LAB_LOG/agent.log
	# under the lab's log directory, so XWAN_LAB_KEEP_LOGS keeps them too
	FO_DIR=$LAB_LOG/fo
	mkdir -p "$FO_DIR"
}

fo_now() { date +%s.%N; }
# fo_elapsed FROM [TO]: TO (default now) - FROM, in seconds with ms
fo_elapsed() { awk -v a="$1" -v b="${2:-$(fo_now)}" 'BEGIN { printf "%.3f", b - a }'; }
fo_lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }

# --- configs -------------------------------------------------------------------
fo_profile_monitor() {
	case $1 in
	default) echo "" ;;
	fast) echo "$FO_FAST_MONITOR" ;;
	\{*) echo "$1" ;;
	*) lab_log "unknown probe profile '$1' (default|fast|{...})"; return 1 ;;
	esac
}

fo_config() {
	local profile=${1:-default} group_keys=${2:-} name=${3:-} mon f
	_fo_state_init
	mon=$(fo_profile_monitor "$profile") || return 1
	[ -n "$name" ] || name=$(echo "$profile${group_keys:+-$group_keys}" | tr -c 'A-Za-z0-9_\n-' _)
	f=$FO_DIR/$name.yaml
	{
		echo "# written by tests/e2e/failover_lib.sh: profile $profile"
		echo "lan:"
		echo "  - interface: lan0"
		echo "    networks: [$LAB_LAN_NET]"
		echo "wan:"
		echo "  - {name: isp1, interface: wan1, gateway: $LAB_ISP1_GW, weight: 3${mon:+, monitor: $mon}}"
		echo "  - {name: isp2, interface: wan2, gateway: $LAB_ISP2_GW, weight: 1${mon:+, monitor: $mon}}"
		echo "groups:"
		echo "  - name: balance"
		echo "    members: [{wan: isp1, tier: 1}, {wan: isp2, tier: 1}]"
		echo "    method: hash"
		echo "    hash_fields: [src, dst, proto, sport, dport]"
		[ -n "$group_keys" ] && echo "    $group_keys"
		echo "default_group: balance"
		echo "timeouts: {tcp_established: 7440, tcp_transitory: 120, udp: 60, icmp: 30}"
		echo "flow_table_size: 65536"
		echo "metrics: {listen: \"$FO_METRICS_LISTEN\"}"
	} >"$f"
	echo "$f"
}

# --- the agent ---------------------------------------------------------------------
fo_log_lines() { fo_lines "$FO_AGENT_LOG"; }
fo_log_since() { tail -n +"$((${1:-0} + 1))" "$FO_AGENT_LOG" 2>/dev/null; }
fo_log_grep() { fo_log_since "$1" | grep -E -m1 -- "$2"; }
fo_agent_alive() { [ -n "${FO_AGENT_PID:-}" ] && kill -0 "$FO_AGENT_PID" 2>/dev/null; }

_fo_agent_ready() {
	fo_log_since "$FO_LOG_MARK" | grep -qE 'xwan: monitoring [0-9]+ gateways' && return 0
	fo_agent_alive || return 2
	return 1
}

fo_agent_start() {
	local cfg=$1 rc end
	shift
	_fo_state_init
	if fo_agent_alive; then
		lab_log "fo_agent_start: an agent is already running (pid $FO_AGENT_PID)"
		return 1
	fi
	touch "$FO_AGENT_LOG"
	FO_LOG_MARK=$(fo_log_lines)
	FO_AGENT_STARTED_AT=$(fo_now)
	echo "# --- $(date -u +%FT%TZ) xwan run -c $cfg $*" >>"$FO_AGENT_LOG"
	ip netns exec "$LAB_NS_GW" env XWAN_PIN_DIR="$LAB_PIN_DIR" \
		"$XWAN" --pin-dir "$LAB_PIN_DIR" run -c "$cfg" "$@" \
		</dev/null >>"$FO_AGENT_LOG" 2>&1 &
	FO_AGENT_PID=$!
	end=$((SECONDS + 20))
	while :; do
		_fo_agent_ready
		rc=$?
		[ "$rc" = 0 ] && return 0
		if [ "$rc" = 2 ]; then
			wait "$FO_AGENT_PID" 2>/dev/null
			lab_log "xwan run exited at start (rc $?): $(fo_log_since "$FO_LOG_MARK" | tail -n 5)"
			FO_AGENT_PID=""
			return 1
		fi
		((SECONDS >= end)) && { lab_log "xwan run not ready after 20 s"; return 1; }
		sleep 0.02
	done
}

fo_agent_stop() {
	local sig=${1:-TERM} pid=${FO_AGENT_PID:-}
	[ -n "$pid" ] || return 0
	kill -s "$sig" "$pid" 2>/dev/null
	lab_poll 15 _lab_gone "$pid" || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	FO_AGENT_PID=""
	return 0
}

# --- status ---------------------------------------------------------------------------
# One row of `xwan status`: GATEWAY STATUS RTT RTTSD LOSS TIER WEIGHT USABLE
# FLOWS SINCE REASON, where SINCE is "-" or "date time".
fo_status() {
	lab_xwan status 2>/dev/null | awk -v g="$1" '
		$1 == g && NF >= 10 {
			r = ($10 == "-") ? 11 : 12
			reason = ""
			for (i = r; i <= NF; i++) reason = reason (i > r ? " " : "") $i
			print $2, $8, $3, reason
			found = 1
			exit
		}
		END { exit !found }'
}

fo_wait_status() {
	local gw=$1 want=$2 timeout=${3:-30} rex=${4:-} t s end
	FO_SEEN_AT="" FO_OTHER_AT="" FO_LAST_STATUS=""
	end=$((SECONDS + timeout))
	while :; do
		t=$(fo_now)
		s=$(fo_status "$gw")
		FO_LAST_STATUS=$s
		if [ "${s%% *}" = "$want" ] && { [ -z "$rex" ] || [[ ${s#* * * } =~ $rex ]]; }; then
			FO_SEEN_AT=$t
			return 0
		fi
		FO_OTHER_AT=$t
		((SECONDS >= end)) && return 1
		sleep 0.01
	done
}

fo_metric() { lab_xwan stats 2>/dev/null | "$LAB_PY" "$LAB_TOOLS/promval.py" "$1"; }

# --- faults ----------------------------------------------------------------------------------
_fo_isp_ns() {
	case $1 in
	isp1) echo "$LAB_NS_ISP1" ;;
	isp2) echo "$LAB_NS_ISP2" ;;
	*) lab_log "unknown ISP '$1' (isp1|isp2)"; return 1 ;;
	esac
}

fo_blackhole() {
	local ns
	ns=$(_fo_isp_ns "$1") || return 1
	ip netns exec "$ns" nft -f - <<-EOF
		table netdev fo_blackhole {
			chain in {
				type filter hook ingress device "cust" priority -500; policy accept;
				meta protocol ip counter drop
			}
			chain out {
				type filter hook egress device "cust" priority -500; policy accept;
				meta protocol ip counter drop
			}
		}
	EOF
}

fo_unblackhole() {
	local ns
	ns=$(_fo_isp_ns "$1") || return 1
	ip netns exec "$ns" nft delete table netdev fo_blackhole 2>/dev/null
	return 0
}

_fo_wan_ip() { case $1 in isp1) echo "$LAB_WAN1_IP" ;; isp2) echo "$LAB_WAN2_IP" ;; esac; }
_fo_isp_gw() { case $1 in isp1) echo "$LAB_ISP1_GW" ;; isp2) echo "$LAB_ISP2_GW" ;; esac; }

fo_probe_count() {
	local ns
	ns=$(_fo_isp_ns "$1") || return 1
	if ! ip netns exec "$ns" nft list table netdev fo_count >/dev/null 2>&1; then
		ip netns exec "$ns" nft -f - <<-EOF || return 1
			table netdev fo_count {
				counter probes { }
				chain in {
					type filter hook ingress device "cust" priority -600; policy accept;
					ip saddr $(_fo_wan_ip "$1") ip daddr $(_fo_isp_gw "$1") icmp type echo-request counter name "probes"
				}
			}
		EOF
	fi
	lab_nft_counter "$ns" netdev fo_count probes
}

fo_carrier() {
	local ns
	ns=$(_fo_isp_ns "$1") || return 1
	ip -n "$ns" link set dev cust "$2"
}

# --- traffic ------------------------------------------------------------------------------------
fo_prober_start() {
	local f=$1
	shift
	: >>"$f"
	ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$FO_TOOL" prober --out "$f" \
		--server "$LAB_SERVER" "$@" </dev/null >>"$f.err" 2>&1 &
	FO_PROBER_PID=$!
}

fo_prober_stop() {
	local pid=${FO_PROBER_PID:-}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	lab_poll 10 _lab_gone "$pid" || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	FO_PROBER_PID=""
	return 0
}

# fo_analyze FILE AT [SETTLE]: failover.py analyze, isp2 good, isp1 bad
fo_analyze() {
	"$LAB_PY" "$FO_TOOL" analyze --attempts "$1" --at "$2" --settle "${3:-40}" \
		--good "$LAB_WAN2_IP" --bad "$LAB_WAN1_IP"
}

fo_echo_server_start() {
	_fo_state_init
	ip netns exec "$LAB_NS_INET" "$LAB_PY" "$FO_TOOL" echo-server --addr "$LAB_SERVER" \
		--port "$FO_ECHO_PORT" </dev/null >>"$FO_DIR/echo-server.log" 2>&1 &
	FO_ECHO_PID=$!
	lab_wait_listen "$LAB_NS_INET" tcp "$FO_ECHO_PORT" 10
}

fo_hold_start() {
	local f=$1 ready
	shift
	ready=$f.ready
	rm -f "$ready"
	ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$FO_TOOL" hold --out "$f" --server "$LAB_SERVER" \
		--port "$FO_ECHO_PORT" --ready "$ready" "$@" </dev/null >>"$f.err" 2>&1 &
	FO_HOLD_PID=$!
	FO_HOLD_LOCAL="" FO_HOLD_SEEN=""
	while [ ! -s "$ready" ]; do
		kill -0 "$FO_HOLD_PID" 2>/dev/null || { wait "$FO_HOLD_PID" 2>/dev/null; return 1; }
		sleep 0.02
	done
	read -r FO_HOLD_LOCAL FO_HOLD_SEEN <"$ready"
}

fo_hold_stop() {
	local pid=${1:-${FO_HOLD_PID:-}}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	lab_poll 5 _lab_gone "$pid" || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

fo_hold_replies() { awk -v s="${2:-0}" '$2 == "reply" && $1 >= s' "$1" 2>/dev/null | wc -l; }
fo_hold_peers() { awk -v s="${2:-0}" '$2 == "reply" && $1 >= s { print $4 }' "$1" 2>/dev/null | sort -u | tr '\n' ' ' | sed 's/ $//'; }
fo_hold_error() { awk '$2 == "error" { $1 = $2 = ""; sub(/^  /, ""); print; exit }' "$1" 2>/dev/null; }
# (for lab_poll) at least N replies at or after SINCE
fo_hold_replied() { [ "$(fo_hold_replies "$1" "$2")" -ge "${3:-1}" ]; }
fo_hold_has_error() { [ -n "$(fo_hold_error "$1")" ]; }

# --- measurement -------------------------------------------------------------------------------------
_fo_settled() { fo_analyze "$1" "$2" 40 >/dev/null 2>&1; }

measure_failover() {
	local timeout=${1:-60} f end
	_fo_state_init
	FO_RUN=$((${FO_RUN:-0} + 1))
	f=$FO_DIR/attempts-$FO_RUN.jsonl
	FO_ATTEMPTS_FILE=$f FO_FAILOVER_S="" FO_FAILED="" FO_ATTEMPTS="" FO_RESULT="" FO_CUT_AT=""
	: >"$f"
	fo_prober_start "$f"
	# one second of baseline
	if ! lab_poll 10 lab_count_ge 20 fo_lines "$f"; then
		fo_prober_stop
		lab_log "measure_failover: the prober did not start: $(tail -n 3 "$f.err")"
		return 1
	fi
	fo_blackhole isp1 || { fo_prober_stop; return 1; }
	FO_CUT_AT=$(fo_now)
	FO_AGENT_AGE_S=$(fo_elapsed "${FO_AGENT_STARTED_AT:-$FO_CUT_AT}" "$FO_CUT_AT")
	end=$((SECONDS + timeout))
	until _fo_settled "$f" "$FO_CUT_AT"; do
		((SECONDS >= end)) && break
		sleep 0.1
	done
	fo_prober_stop
	FO_RESULT=$(fo_analyze "$f" "$FO_CUT_AT" 40)
	local rc=$?
	FO_FAILOVER_S=$(jq_get "$FO_RESULT" failover_s)
	FO_FAILED=$(jq_get "$FO_RESULT" failed)
	FO_ATTEMPTS=$(jq_get "$FO_RESULT" attempts)
	return $rc
}

# jq_get JSON KEY: one top-level value of a JSON object ("" when null/missing)
jq_get() {
	"$LAB_PY" -c 'import json,sys
v = json.loads(sys.argv[1]).get(sys.argv[2])
print("" if v is None else json.dumps(v) if isinstance(v, (list, dict, bool)) else v)' "$1" "$2" 2>/dev/null
}
