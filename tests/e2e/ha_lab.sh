#!/bin/bash
# tests/e2e/ha_lab.sh - the two-router HA lab (an xwan active/passive pair).
#
# Three switches, each a Linux bridge in a namespace of its own, and two
# routers on all three plus a dedicated sync cable between them:
#
#   client 10.1.0.2 ─┐            ┌─ r1 lan0 10.1.0.11  wan1 .11  wan2 .11  sync0 10.99.0.1
#                    PREFIX-lan ──┤                                          │ (veth)
#                    (br0)        └─ r2 lan0 10.1.0.12  wan1 .12  wan2 .12  sync0 10.99.0.2
#   isp1 cust 203.0.113.1  ── PREFIX-sw1 (br0) ── r1 wan1, r2 wan1   (203.0.113.0/24)
#   isp2 cust 198.51.100.1 ── PREFIX-sw2 (br0) ── r1 wan2, r2 wan2   (198.51.100.0/24)
#   isp1/isp2 ── inet (192.0.2.100: lab.sh's services, a bigger blob, an echo :8090)
#
# The virtual addresses move with the active role: 10.1.0.1 (the LAN's
# gateway), 203.0.113.2 and 198.51.100.2 (the NAT addresses). r1 has VRRP
# priority 150, r2 100, preempt off. The ISPs count packets from their
# customer port whose source is not the customer subnet (`spoofed`), as in
# lab.sh.
#
# Library (source it; lab.sh's helpers come with it):
#   ha_lab_init PREFIX; trap ha_lab_destroy EXIT
#   ha_lab_create || exit 1     (both agents running, r1 active, r2 passive)
#   ha_xwan r1 ha; ha_role r2; ha_kill r1; ha_start r1 ...
# Standalone: tests/e2e/ha_lab.sh up | down PREFIX
#
# HA_LAB_BLOB_MB (default 32) sizes the download blob, HA_LAB_FLOWS (default
# 65536) the routers' flow_table_size, HA_LAB_EXTRA is one more top-level
# line of their config.
#
# Many new flows through the active (bench/xdpgen, built by bench/bench.mk):
#   ha_gen_setup; ha_gen_start RATE_EACH SECS NFLOWS OUT; while ha_gen_running ...
#   ha_gen_sent OUT     (flows sent, the generators' own count)

HA_LAB_SELF=$(readlink -f "${BASH_SOURCE[0]}")
# shellcheck source=tests/e2e/lab.sh
source "$(dirname "$HA_LAB_SELF")/lab.sh"

HA_VIP_LAN=10.1.0.1
HA_VIP_WAN1=203.0.113.2
HA_VIP_WAN2=198.51.100.2
HA_ECHO_PORT=8090
: "${HA_LAB_BLOB_MB:=32}"
: "${HA_LAB_FLOWS:=65536}"
: "${HA_LAB_EXTRA:=}"

ha_lab_init() {
	lab_init_names "$1" || return 1
	HA_NS_R1=$LAB_PREFIX-r1
	HA_NS_R2=$LAB_PREFIX-r2
	HA_NS_LAN=$LAB_PREFIX-lan
	HA_NS_SW1=$LAB_PREFIX-sw1
	HA_NS_SW2=$LAB_PREFIX-sw2
	# lab_destroy kills, deletes and unmounts whatever these name
	LAB_ALL_NS="$LAB_NS_CLIENT $HA_NS_R1 $HA_NS_R2 $HA_NS_LAN $HA_NS_SW1 $HA_NS_SW2 $LAB_NS_ISP1 $LAB_NS_ISP2 $LAB_NS_INET"
	LAB_EXTRA_NS=""
	LAB_BLOB_SIZE=$((HA_LAB_BLOB_MB * 1024 * 1024))
}

ha_ns() { case $1 in r1) echo "$HA_NS_R1" ;; r2) echo "$HA_NS_R2" ;; *) return 1 ;; esac; }
ha_other() { [ "$1" = r1 ] && echo r2 || echo r1; }
ha_pin() { echo "$LAB_BPFFS/$1"; }
# ha_xwan r1|r2 ARGS...: the xwan CLI on one router.
ha_xwan() {
	local r=$1; shift
	ip netns exec "$(ha_ns "$r")" "$XWAN" --pin-dir "$(ha_pin "$r")" "$@"
}
# ha_role r1|r2: the role `xwan ha` shows (active, passive, fault, init, off).
ha_role() { ha_xwan "$1" ha 2>/dev/null | awk '$1 == "role:" { print $2; exit }'; }
_ha_role_is() { [ "$(ha_role "$1")" = "$2" ]; }
ha_wait_role() { lab_poll "${3:-30}" _ha_role_is "$1" "$2"; }
# ha_vips r1|r2: how many virtual addresses the router holds.
ha_vips() {
	ip -n "$(ha_ns "$1")" -4 -o addr show |
		grep -c -w -e "$HA_VIP_LAN/24" -e "$HA_VIP_WAN1/24" -e "$HA_VIP_WAN2/24"
}
# ha_status_field r1|r2 FIELD: one number of `xwan ha`'s "messages:" / "flows:" lines.
ha_status_field() {
	ha_xwan "$1" ha 2>/dev/null | awk -v k="$2" '
		{ for (i = 2; i < NF; i++) { w = $i; gsub(",", "", $(i + 1)); if (w == k) { print $(i + 1) + 0; exit } } }'
}
# ha_metric r1|r2 NAME[{labels}]: a value from the agent's /metrics.
ha_metric() {
	ip netns exec "$(ha_ns "$1")" curl -s --max-time 5 http://127.0.0.1:9469/metrics |
		awk -v m="$2" '$1 == m { print $2; f = 1; exit } END { if (!f) exit 1 }'
}
# ha_flowset r1|r2: the forwarded flows a router holds, one sorted line each.
ha_flowset() {
	ha_xwan "$1" flows --json 2>/dev/null | "$LAB_PY" -c '
import json, sys
for f in json.load(sys.stdin):
    if f["kind"] in ("nat", "forward"):
        print(f["proto"], f["client"], f["nat"], f["remote"], f["wan"])' | sort
}

_ha_config() { # r1|r2 PRIORITY PEER
	cat <<-EOF
		# HA lab router $1 (tests/e2e/ha_lab.sh)
		lan:
		  - interface: lan0
		    networks: [10.1.0.0/24]
		wan:
		  - {name: isp1, interface: wan1, gateway: 203.0.113.1, weight: 1}
		  - {name: isp2, interface: wan2, gateway: 198.51.100.1, weight: 1}
		groups:
		  - name: balance
		    members: [{wan: isp1, tier: 1}, {wan: isp2, tier: 1}]
		    method: hash
		    hash_fields: [src, dst, proto, sport, dport]
		    sticky: true
		default_group: balance
		timeouts: {tcp_established: 7440, tcp_transitory: 120, udp: 60, icmp: 30}
		flow_table_size: $HA_LAB_FLOWS
		$HA_LAB_EXTRA
		ha:
		  peer: $3
		  sync_interface: sync0
		  priority: $2
		  advert_ms: 100
		  state_dir: $LAB_STATE/$1-ha
		  virtual:
		    - {interface: lan0, address: $HA_VIP_LAN/24}
		    - {interface: wan1, address: $HA_VIP_WAN1/24}
		    - {interface: wan2, address: $HA_VIP_WAN2/24}
	EOF
}

# ha_start r1|r2: start the agent (it starts keepalived); returns once its
# HA state is published (role init/passive/active).
ha_start() {
	local r=$1 ns
	ns=$(ha_ns "$r")
	ip netns exec "$ns" "$XWAN" --pin-dir "$(ha_pin "$r")" run -c "$LAB_STATE/$r.yaml" \
		</dev/null >>"$LAB_LOG/$r-agent.log" 2>&1 &
	echo $! >"$LAB_STATE/$r-agent.pid"
	lab_poll 30 _ha_role_known "$r" ||
		{ lab_log "$r: the agent did not start: $(tail -n 20 "$LAB_LOG/$r-agent.log")"; return 1; }
}
_ha_role_known() { case $(ha_role "$1") in init | passive | active | fault) return 0 ;; esac; return 1; }

# ha_links r1|r2 up|down: every link of the router at once (a cable cut, a power loss).
ha_links() {
	local ns
	ns=$(ha_ns "$1")
	printf 'link set %s %s\n' lan0 "$2" wan1 "$2" wan2 "$2" sync0 "$2" | ip -n "$ns" -b -
}
# ha_kill r1|r2: the router dies: all its links down at once, then every
# process in its namespace (agent, keepalived) killed without a chance to
# clean up. Its dataplane and addresses stay, as on a hung box.
ha_kill() {
	local ns pids
	ns=$(ha_ns "$1")
	ha_links "$1" down
	pids=$(ip netns pids "$ns" | tr '\n' ' ')
	# shellcheck disable=SC2086
	[ -n "${pids// /}" ] && kill -KILL $pids 2>/dev/null
	# shellcheck disable=SC2086
	lab_poll 10 _lab_gone $pids
}

_ha_create_body() {
	set -euo pipefail
	local ns r i sw
	mkdir -p "$LAB_STATE" "$LAB_WWW" "$LAB_LOG"
	{
		echo "mode=ha"
		echo "owner=${LAB_OWNER_PID:-$PPID}"
		echo "created=$(date -Is)"
	} >"$LAB_STATE/state"
	for ns in $LAB_ALL_NS; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		_lab_sysctl "$ns" net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 net.ipv4.icmp_ratelimit=0 \
			net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	done
	# the switches
	for sw in "$HA_NS_LAN" "$HA_NS_SW1" "$HA_NS_SW2"; do
		ip -n "$sw" link add br0 type bridge stp_state 0 forward_delay 0
		ip -n "$sw" link set br0 up
	done
	_ha_port() { # SWITCH PORT NS IFNAME [gro]
		ip -n "$1" link add name "$2" type veth peer name "$4" netns "$3"
		ip -n "$1" link set "$2" master br0
		# A router's port receives its XDP redirects: GRO on (lab.sh
		# explains). Never on a host's port: the super-packets it builds
		# would reach a router's XDP, which drops what exceeds the MTU.
		if [ "${5:-}" = gro ]; then ip netns exec "$1" ethtool -K "$2" gro on >/dev/null; fi
		ip -n "$1" link set "$2" up
	}
	_ha_port "$HA_NS_LAN" c0 "$LAB_NS_CLIENT" eth0
	_ha_port "$HA_NS_SW1" isp "$LAB_NS_ISP1" cust
	_ha_port "$HA_NS_SW2" isp "$LAB_NS_ISP2" cust
	for r in r1 r2; do
		ns=$(ha_ns "$r")
		_ha_port "$HA_NS_LAN" "$r" "$ns" lan0 gro
		_ha_port "$HA_NS_SW1" "$r" "$ns" wan1 gro
		_ha_port "$HA_NS_SW2" "$r" "$ns" wan2 gro
	done
	ip -n "$HA_NS_R1" link add name sync0 type veth peer name sync0 netns "$HA_NS_R2"
	ip -n "$LAB_NS_ISP1" link add name up type veth peer name i1 netns "$LAB_NS_INET"
	ip -n "$LAB_NS_ISP2" link add name up type veth peer name i2 netns "$LAB_NS_INET"

	# client
	ip -n "$LAB_NS_CLIENT" addr add "$LAB_CLIENT_IP/24" dev eth0
	ip -n "$LAB_NS_CLIENT" link set eth0 up
	ip -n "$LAB_NS_CLIENT" route add default via "$HA_VIP_LAN"
	lab_client ethtool -K eth0 gro on tx off >/dev/null
	# routers: their own addresses; the virtual ones come with the role
	for i in 1 2; do
		ns=$(ha_ns "r$i")
		ip -n "$ns" addr add "10.1.0.1$i/24" dev lan0
		ip -n "$ns" addr add "203.0.113.1$i/24" dev wan1
		ip -n "$ns" addr add "198.51.100.1$i/24" dev wan2
		ip -n "$ns" addr add "10.99.0.$i/30" dev sync0
		for r in lan0 wan1 wan2 sync0; do ip -n "$ns" link set "$r" up; done
		ip netns exec "$ns" ethtool -K sync0 gro on >/dev/null
		_lab_sysctl "$ns" net.ipv4.ip_forward=1
		ip -n "$ns" route replace default via "$LAB_ISP1_GW" dev wan1
	done
	# isps, inet (as lab.sh)
	ip -n "$LAB_NS_ISP1" addr add 203.0.113.1/24 dev cust
	ip -n "$LAB_NS_ISP1" addr add 192.0.2.1/30 dev up
	ip -n "$LAB_NS_ISP2" addr add 198.51.100.1/24 dev cust
	ip -n "$LAB_NS_ISP2" addr add 192.0.2.5/30 dev up
	for ns in "$LAB_NS_ISP1" "$LAB_NS_ISP2"; do
		ip -n "$ns" link set cust up
		ip -n "$ns" link set dev up up
		ip netns exec "$ns" ethtool -K cust gro on tx off >/dev/null
		_lab_sysctl "$ns" net.ipv4.ip_forward=1
	done
	ip -n "$LAB_NS_ISP1" route add default via 192.0.2.2
	ip -n "$LAB_NS_ISP2" route add default via 192.0.2.6
	ip -n "$LAB_NS_INET" addr add 192.0.2.2/30 dev i1
	ip -n "$LAB_NS_INET" addr add 192.0.2.6/30 dev i2
	ip -n "$LAB_NS_INET" addr add "$LAB_SERVER/32" dev lo
	ip -n "$LAB_NS_INET" link set i1 up
	ip -n "$LAB_NS_INET" link set i2 up
	ip -n "$LAB_NS_INET" route add 203.0.113.0/24 via 192.0.2.1
	ip -n "$LAB_NS_INET" route add 198.51.100.0/24 via 192.0.2.5
	lab_inet ethtool -K i1 tx off >/dev/null
	lab_inet ethtool -K i2 tx off >/dev/null
	for i in 1 2; do
		local net
		[ $i = 1 ] && net=203.0.113.0/24 || net=198.51.100.0/24
		ip netns exec "$LAB_PREFIX-isp$i" nft -f - <<-EOF
			table inet lab {
				counter spoofed { }
				chain forward {
					type filter hook forward priority filter; policy accept;
					iifname "cust" ip saddr != $net counter name "spoofed" log group 5 queue-threshold 1 drop
				}
			}
		EOF
	done
	lab_inet nft -f - <<-EOF
		table inet lab {
			counter lan_leak { }
			chain prerouting {
				type filter hook prerouting priority raw; policy accept;
				ip saddr 10.0.0.0/8 counter name "lan_leak" log group 5 queue-threshold 1 drop
			}
		}
	EOF
	lab_capture_start "$LAB_NS_ISP1" nflog:5 "$LAB_LOG/isp1-spoofed.pcap"
	lab_capture_start "$LAB_NS_ISP2" nflog:5 "$LAB_LOG/isp2-spoofed.pcap"
	lab_capture_start "$LAB_NS_INET" nflog:5 "$LAB_LOG/inet-lan_leak.pcap"

	mkdir -p "$LAB_BPFFS"
	mount -t bpf bpf "$LAB_BPFFS"
	_lab_start_services
	lab_inet "$LAB_PY" "$LAB_TOOLS/failover.py" echo-server --addr "$LAB_SERVER" \
		--port "$HA_ECHO_PORT" </dev/null >"$LAB_LOG/echo.log" 2>&1 &
	lab_wait_listen "$LAB_NS_INET" tcp "$HA_ECHO_PORT"

	_ha_config r1 150 10.99.0.2 >"$LAB_STATE/r1.yaml"
	_ha_config r2 100 10.99.0.1 >"$LAB_STATE/r2.yaml"
}

# ha_lab_create: the lab, r1 active, r2 passive and in sync with it.
ha_lab_create() {
	[ -n "${HA_NS_R1:-}" ] || { lab_log "ha_lab_init first"; return 1; }
	_lab_need || return 1
	command -v keepalived >/dev/null || { lab_log "keepalived is missing (dist/deps.sh)"; return 1; }
	if [ -e "$LAB_STATE" ] || ip netns list | grep -q "^$LAB_PREFIX-"; then
		lab_log "a lab with prefix $LAB_PREFIX already exists"
		return 1
	fi
	[ -x "$XWAN" ] || { lab_log "$XWAN not found (run make)"; return 1; }
	LAB_OWNER_PID=${LAB_OWNER_PID:-$$} XWAN="$XWAN" HA_LAB_BLOB_MB="$HA_LAB_BLOB_MB" HA_LAB_FLOWS="$HA_LAB_FLOWS" \
		HA_LAB_EXTRA="$HA_LAB_EXTRA" \
		"$BASH" "$HA_LAB_SELF" __create || return 1
	# r1 first, so it is the active one whatever the machine's load
	ha_start r1 || return 1
	ha_wait_role r1 active 30 || { lab_log "r1 never became active"; return 1; }
	ha_start r2 || return 1
	ha_wait_role r2 passive 30 || { lab_log "r2 never became passive"; return 1; }
	lab_wait_ping "$LAB_NS_CLIENT" "$LAB_SERVER" 20 ||
		{ lab_log "the client cannot reach $LAB_SERVER through r1"; return 1; }
}

# --- the new-flow generator ---
# One xdpgen per source address (HA_GEN_SOURCES), each from NFLOWS source
# ports to $LAB_SERVER:$HA_GEN_PORT, where inet counts and drops them
# (nft counter ip habench sink): UDP flows nobody answers. Each generator
# sends out of the client's eth0 and needs a spare veth (xgN) of its own.
HA_GEN_SOURCES="10.1.0.2 10.1.0.3 10.1.0.4"
HA_GEN_PORT=9
HA_GEN_PIDS=()
ha_gen_setup() {
	local src i=0
	for src in $HA_GEN_SOURCES; do lab_client ip addr add "$src/24" dev eth0 2>/dev/null; done
	# the generators' frames are XDP frames: the switch port needs GRO to take them
	ip netns exec "$HA_NS_LAN" ethtool -K c0 gro on >/dev/null
	lab_inet nft -f - <<-EOF
		table ip habench {
			counter sink { }
			chain pre {
				type filter hook prerouting priority raw; policy accept;
				udp dport $HA_GEN_PORT counter name "sink" drop
			}
		}
	EOF
	for src in $HA_GEN_SOURCES; do
		ip -n "$LAB_NS_CLIENT" link add "xg$i" type veth peer name "xh$i"
		ip -n "$LAB_NS_CLIENT" link set "xg$i" up
		ip -n "$LAB_NS_CLIENT" link set "xh$i" up
		i=$((i + 1))
	done
}
ha_gen_start() { # RATE_EACH SECS NFLOWS OUT: OUT.N holds generator N's output
	local src i=0 mac gen=$LAB_ROOT/${BUILD:-build}/bench
	mac=$(ip -n "$HA_NS_R1" -br link show lan0 | awk '{ print $3 }')
	HA_GEN_PIDS=()
	for src in $HA_GEN_SOURCES; do
		ip netns exec "$LAB_NS_CLIENT" "$gen/xdpgen" "$gen/xdpgen.bpf.o" eth0 "$mac" "$src" \
			"$LAB_SERVER" "$HA_GEN_PORT" "$1" "$2" "$3" "xg$i" >"$4.$i" 2>&1 &
		HA_GEN_PIDS+=($!)
		i=$((i + 1))
	done
}
ha_gen_running() {
	local pid
	for pid in "${HA_GEN_PIDS[@]}"; do [ -e "/proc/$pid" ] && return 0; done
	return 1
}
# ha_gauges r1|r2...: each router's live flow count (its dataplane's flow_gauge),
# read back to back by one bpftool (the pins are on a bpffs of this mount namespace)
ha_gauges() {
	local r
	for r in "$@"; do printf 'map lookup pinned %s/flow_gauge key 0 0 0 0\n' "$(ha_pin "$r")"; done |
		bpftool -j batch file - 2>/dev/null | "$LAB_PY" -c '
import json, sys
print(" ".join(str(c["output"].get("formatted", c["output"])["value"]["active"]) for c in json.load(sys.stdin)))'
}
ha_gauge() { ha_gauges "$1"; }
# ha_sync_block r1|r2 on|off: the router drops (or takes again) every sync
# message it receives: what the peer sends meanwhile is lost on the way
ha_sync_block() {
	if [ "$2" = on ]; then
		ip netns exec "$(ha_ns "$1")" nft -f - <<-EOF
			table inet hablock {
				chain input {
					type filter hook input priority filter; policy accept;
					iifname "sync0" udp dport 7874 drop
				}
			}
		EOF
	else
		ip netns exec "$(ha_ns "$1")" nft delete table inet hablock
	fi
}
# ha_udp_err r1|r2 COUNTER: a UDP counter of the router's namespace (UdpRcvbufErrors ...)
ha_udp_err() { ip netns exec "$(ha_ns "$1")" nstat -az "$2" 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }'; }
ha_gen_sent() { cat "$1".* 2>/dev/null | awk '/^sent/ { n += $2 } END { print n + 0 }'; }

ha_lab_destroy() {
	local rc=$?
	[ -n "${LAB_PREFIX:-}" ] || return $rc
	# lab_destroy only runs `xwan down` for mode=xwan: the namespaces take
	# the dataplanes with their interfaces.
	lab_destroy
	return $rc
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case ${1:-help} in
	__create)
		ha_lab_init "$LAB_PREFIX"
		_ha_create_body
		;;
	up)
		ha_lab_init "${XWAN_LAB_PREFIX:-ha$$}" || exit 1
		LAB_OWNER_PID=interactive
		ha_lab_create || { [ -n "${HA_LAB_KEEP:-}" ] || ha_lab_destroy; exit 1; }
		echo "HA lab $LAB_PREFIX is up: client $LAB_NS_CLIENT, routers $HA_NS_R1 $HA_NS_R2"
		echo "  ip netns exec $HA_NS_R1 $XWAN --pin-dir $(ha_pin r1) ha"
		echo "remove with: $HA_LAB_SELF down $LAB_PREFIX"
		;;
	down)
		ha_lab_init "${2:?down PREFIX}" || exit 1
		ha_lab_destroy
		;;
	*)
		echo "usage: $0 up | down PREFIX" >&2
		exit 2
		;;
	esac
fi
