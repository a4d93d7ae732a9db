#!/bin/bash
# tests/e2e/lab.sh - the xwan end-to-end lab in network namespaces.
#
# Topology (all addresses RFC 5737 / 10.1.0.0/24; nothing leaves the lab):
#
#   client            gw (the xwan host)              isp1                inet
#   eth0 10.1.0.2/24 -- lan0 10.1.0.1/24
#        10.1.0.3/24    wan1 203.0.113.2/24  -- cust 203.0.113.1/24
#        10.1.0.4/24                            up   192.0.2.1/30  -- i1 192.0.2.2/30
#                       wan2 198.51.100.2/24 -- cust 198.51.100.1/24   (isp2)
#                                               up   192.0.2.5/30  -- i2 192.0.2.6/30
#                                                                     lo 192.0.2.100/32
#
#   isp1/isp2: nft counter "spoofed" drops forwarded packets from cust whose
#              source is not the customer's /24 (wrong NAT shows up there).
#   inet:      nft counter "lan_leak" drops anything from 10.0.0.0/8.
#              The dropped packets are also kept (nflog group 5 -> tcpdump)
#              in $LAB_LOG/{isp1,isp2}-spoofed.pcap, inet-lan_leak.pcap.
#              Services on 192.0.2.100: TCP whoami :8080 (logs peers),
#              TCP hold/discard :8081, UDP whoami :5300, UDP echo :5301,
#              HTTP :8000 (an 8 MiB random blob.bin), iperf3 -s :5201.
#
# Modes of the gw:
#   kernel  the plain-Linux baseline: multipath default route (weights 3:1,
#           L4 hash) + nft masquerade on wan1/wan2 + a stateful forward
#           filter (established/related in from the WANs, LAN sources only
#           out of lan0) + source routing of the gw's own traffic (from a
#           WAN address out of that WAN). XWAN_LAB_BREAK= a comma list of
#           nomasq,nofw,noantispoof,nomultipath,nosrcroute removes pieces of
#           it, to prove that the checks can fail.
#   xwan    main-table default via 203.0.113.1 dev wan1, then
#           `build/xwan --pin-dir $LAB_PIN_DIR up -c tests/e2e/lab.yaml`.
#
# Variants (options; the default lab above is unchanged without them):
#   XWAN_LAB_LAN=bridge  the gw's LAN is a Linux bridge br-lan (10.1.0.1/24)
#           with two ports: lan0 (to client) and lan1 (to a second client
#           namespace PREFIX-client2, eth0 10.1.0.5/24), as on OpenWrt.
#   XWAN_LAB_LAN=routed2 a second LAN network on its own interface: gw lan1
#           10.2.0.1/24 -- a second client namespace PREFIX-client2, eth0
#           10.2.0.2/24 (default via 10.2.0.1). lan0 and the client are as in
#           the default lab; the xwan config must name lan1 (see
#           test_hairpin.sh), lab.yaml does not.
#   XWAN_LAB_WAN2=tun    wan2 is a point-to-point L3 device without Ethernet
#           header: two TUN ends (gw wan2 198.51.100.2 peer 198.51.100.1,
#           isp2 cust 198.51.100.1 peer .2) joined by socat over UDP on an
#           underlay veth (gw ul2 192.0.2.9/30 -- isp2 ul 192.0.2.10/30). A
#           stand-in for ppp0 or a raw-IP wwan0: the lab kernel has no PPP.
#   XWAN_LAB_V6=1        IPv6 beside IPv4 (RFC 3849 space, ULA LAN; DAD off
#           everywhere so addresses are usable at once):
#             client eth0 fd00:1::2,3,4/64 -- gw lan0 fd00:1::1/64
#             gw wan1 2001:db8:1::2/64 -- isp1 cust 2001:db8:1::1/64
#                isp1 routes 2001:db8:1::/48; 2001:db8:1:100::/64 (the NPT
#                outside prefix) via 2001:db8:1::2;
#                up 2001:db8:ffff:1::1/64 -- inet i1 2001:db8:ffff:1::2/64
#             gw wan2 2001:db8:2::2/64 -- isp2 cust 2001:db8:2::1/64, the
#                same with 2001:db8:2::/48, 2001:db8:2:100::/64, ffff:2::
#             inet lo 2001:db8:ffff::100/128 (every service listens there too)
#           isp1/isp2 drop forwarded packets from cust whose IPv6 source is
#           not in their /48 (counter "spoofed6"); inet drops fc00::/7
#           sources (counter "lan_leak6"). Kernel mode adds the IPv6
#           baseline: multipath default (3:1), nft prefix NAT (NPTv6-like,
#           stateful) of fd00:1::/64 to each WAN's ::100 /64 and source
#           routing; xwan mode only the host's own default via isp1 (xwan
#           forwards the LAN's IPv6 itself, issue 13). Not
#           combined with XWAN_LAB_LAN or XWAN_LAB_WAN2 yet.
#
# Use as a library:
#   source tests/e2e/lab.sh
#   lab_init_names "xw$$"; trap lab_destroy EXIT   (see test_forwarding.sh
#   for signal traps that keep a second Ctrl-C from cutting the cleanup short)
#   lab_create kernel|xwan || exit 1
#   lab_client ping -c1 "$LAB_SERVER"; lab_xwan flows
# or standalone, for interactive poking:
#   tests/e2e/lab.sh up [kernel|xwan]     (prints the namespace names)
#   tests/e2e/lab.sh down [PREFIX|--all]  (--all: every lab on this host;
#                                          XWAN_LAB_PREFIX=xw... for up)
#   tests/e2e/lab.sh list
#
# Everything a lab creates carries its prefix: namespaces PREFIX-client,
# PREFIX-gw, PREFIX-isp1, PREFIX-isp2, PREFIX-inet, and the state directory
# /run/xwan-lab/PREFIX (logs, pcaps, the HTTP blob) with a bpffs mounted at
# /run/xwan-lab/PREFIX/bpf (`ip netns exec` remounts /sys, so /sys/fs/bpf
# is not usable inside the namespaces). lab_destroy kills every process in
# the lab's namespaces, deletes them, unmounts the bpffs and removes the
# state directory; it is idempotent.

# shellcheck disable=SC2034  # LAB_* names are for the scripts that source this
LAB_SELF=$(readlink -f "${BASH_SOURCE[0]}")
LAB_E2E_DIR=$(dirname "$LAB_SELF")
LAB_ROOT=$(cd "$LAB_E2E_DIR/../.." && pwd)
LAB_TOOLS=$LAB_E2E_DIR/tools
LAB_PY=/usr/bin/python3
LAB_RUN_BASE=/run/xwan-lab
case ${BUILD:-build} in
/*) : "${XWAN:=${BUILD}/xwan}" ;;
*) : "${XWAN:=$LAB_ROOT/${BUILD:-build}/xwan}" ;;
esac
: "${XWAN_LAB_CONFIG:=$LAB_E2E_DIR/lab.yaml}"
: "${XWAN_LAB_BREAK:=}"

# Addresses (the tests use these names, never literals, where they can).
LAB_SERVER=192.0.2.100
LAB_CLIENT_IP=10.1.0.2
LAB_CLIENT_IPS="10.1.0.2 10.1.0.3 10.1.0.4"
LAB_LAN_NET=10.1.0.0/24
LAB_GW_LAN=10.1.0.1
LAB_WAN1_IP=203.0.113.2
LAB_WAN2_IP=198.51.100.2
LAB_ISP1_GW=203.0.113.1
LAB_ISP2_GW=198.51.100.1
LAB_INET_I1=192.0.2.2
LAB_INET_I2=192.0.2.6
LAB_BLOB_SIZE=$((8 * 1024 * 1024))
LAB_CLIENT2_IP=10.1.0.5
# XWAN_LAB_LAN=routed2 only
LAB_LAN2_NET=10.2.0.0/24
LAB_GW_LAN2=10.2.0.1
LAB_LAN2_CLIENT_IP=10.2.0.2
# XWAN_LAB_V6=1 only
LAB_SERVER6=2001:db8:ffff::100
LAB_CLIENT6_IP=fd00:1::2
LAB_CLIENT6_IPS="fd00:1::2 fd00:1::3 fd00:1::4"
LAB_LAN6_NET=fd00:1::/64
LAB_GW_LAN6=fd00:1::1
LAB_WAN1_IP6=2001:db8:1::2
LAB_WAN2_IP6=2001:db8:2::2
LAB_ISP1_GW6=2001:db8:1::1
LAB_ISP2_GW6=2001:db8:2::1
LAB_ISP1_NET6=2001:db8:1::/48
LAB_ISP2_NET6=2001:db8:2::/48
LAB_NPT1_OUT=2001:db8:1:100::/64
LAB_NPT2_OUT=2001:db8:2:100::/64
: "${XWAN_LAB_LAN:=}"
: "${XWAN_LAB_WAN2:=}"
: "${XWAN_LAB_V6:=}"

# lab_init_names PREFIX: set every LAB_* name derived from the prefix.
# The prefix is 1..12 characters [A-Za-z0-9_] (it becomes namespace names
# and a directory that lab_destroy removes); anything else leaves LAB_PREFIX
# empty, so lab_create fails and lab_destroy does nothing.
lab_init_names() {
	LAB_PREFIX=${1:-${LAB_PREFIX:-xw$$}}
	if ! [[ $LAB_PREFIX =~ ^[A-Za-z0-9_]{1,12}$ ]]; then
		lab_log "bad lab prefix '$LAB_PREFIX' (want 1..12 of [A-Za-z0-9_])"
		LAB_PREFIX=""
		return 1
	fi
	LAB_NS_CLIENT=$LAB_PREFIX-client
	LAB_NS_GW=$LAB_PREFIX-gw
	LAB_NS_ISP1=$LAB_PREFIX-isp1
	LAB_NS_ISP2=$LAB_PREFIX-isp2
	LAB_NS_INET=$LAB_PREFIX-inet
	LAB_ALL_NS="$LAB_NS_CLIENT $LAB_NS_GW $LAB_NS_ISP1 $LAB_NS_ISP2 $LAB_NS_INET"
	# only with XWAN_LAB_LAN=bridge or routed2; always removed
	LAB_NS_CLIENT2=$LAB_PREFIX-client2
	LAB_EXTRA_NS=$LAB_NS_CLIENT2
	LAB_STATE=$LAB_RUN_BASE/$LAB_PREFIX
	# a test's generated configs (made before lab_create), removed with the lab
	LAB_CFG_DIR=$LAB_RUN_BASE/.cfg-$LAB_PREFIX
	LAB_BPFFS=$LAB_STATE/bpf
	LAB_PIN_DIR=$LAB_BPFFS/xwan
	LAB_WWW=$LAB_STATE/www
	LAB_LOG=$LAB_STATE/log
	LAB_PEER_LOG=$LAB_LOG/peers.log
	LAB_BLOB_URL=http://$LAB_SERVER:8000/blob.bin
	LAB_BLOB_URL6=http://[$LAB_SERVER6]:8000/blob.bin
	export LAB_PREFIX
}

lab_log() { echo "# lab: $*" >&2; }

# lab_yaml_wans: the `wan:` section of lab.yaml, for tests that write their own config.
lab_yaml_wans() {
	printf '%s\n' "wan:" \
		"  - {name: isp1, interface: wan1, gateway: $LAB_ISP1_GW, weight: 3}" \
		"  - {name: isp2, interface: wan2, gateway: $LAB_ISP2_GW, weight: 1}"
}

# --- running things in the namespaces ---------------------------------------
lab_ns()     { local ns=$1; shift; ip netns exec "$ns" "$@"; }
lab_client() { ip netns exec "$LAB_NS_CLIENT" "$@"; }
lab_client2() { ip netns exec "$LAB_NS_CLIENT2" "$@"; }
lab_gw()     { ip netns exec "$LAB_NS_GW" "$@"; }
lab_isp1()   { ip netns exec "$LAB_NS_ISP1" "$@"; }
lab_isp2()   { ip netns exec "$LAB_NS_ISP2" "$@"; }
lab_inet()   { ip netns exec "$LAB_NS_INET" "$@"; }
# lab_xwan ARGS...: build/xwan in the gw namespace with the lab's pin dir.
lab_xwan() {
	ip netns exec "$LAB_NS_GW" env XWAN_PIN_DIR="$LAB_PIN_DIR" \
		"$XWAN" --pin-dir "$LAB_PIN_DIR" "$@"
}
# lab_py NS TOOL ARGS...: run tests/e2e/tools/TOOL.py in namespace NS.
lab_py() { local ns=$1 tool=$2; shift 2; ip netns exec "$ns" "$LAB_PY" "$LAB_TOOLS/$tool.py" "$@"; }

# --- readiness polls ---------------------------------------------------------
# lab_poll TIMEOUT_S CMD...: run CMD every 50 ms until it succeeds; 1 on timeout.
lab_poll() {
	local t=$1; shift
	local end=$((SECONDS + t))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		((SECONDS >= end)) && return 1
		sleep 0.05
	done
}
# lab_count_ge N CMD...: CMD prints a number >= N (for lab_poll: the command
# is re-run on every try, unlike a "$(...)" in lab_poll's arguments).
lab_count_ge() {
	local n=$1 v
	shift
	v=$("$@" 2>/dev/null) || return 1
	[ "${v:-0}" -ge "$n" ] 2>/dev/null
}
_lab_listening() { # NS tcp|udp PORT
	local flag=-Hltn
	[ "$2" = udp ] && flag=-Hlun
	ip netns exec "$1" ss $flag "sport = :$3" | grep -q .
}
# lab_wait_listen NS tcp|udp PORT [TIMEOUT]
lab_wait_listen() { lab_poll "${4:-15}" _lab_listening "$1" "$2" "$3"; }
# lab_wait_ping NS DST [TIMEOUT]: until one ping from NS to DST gets through.
lab_wait_ping() { lab_poll "${3:-15}" ip netns exec "$1" ping -n -c1 -W1 "$2"; }
_lab_file_has() { grep -q -- "$2" "$1"; }

# --- nftables counters -------------------------------------------------------
# lab_nft_counter NS FAMILY TABLE NAME: print the packet count of a named counter.
lab_nft_counter() {
	ip netns exec "$1" nft list counter "$2" "$3" "$4" 2>/dev/null |
		awk '$1 == "packets" { print $2; f = 1 } END { if (!f) exit 1 }'
}
# lab_drop_evidence: the first packets the ISP/inet filters dropped, one line each.
lab_drop_evidence() {
	local f
	for f in "$LAB_LOG"/isp1-spoofed.pcap "$LAB_LOG"/isp2-spoofed.pcap "$LAB_LOG"/inet-lan_leak.pcap; do
		[ -s "$f" ] || continue
		tcpdump -n -r "$f" -c 3 2>/dev/null | sed "s|^|${f##*/}: |"
	done
}
lab_spoof_isp1() { lab_nft_counter "$LAB_NS_ISP1" inet lab spoofed; }
lab_spoof_isp2() { lab_nft_counter "$LAB_NS_ISP2" inet lab spoofed; }
lab_leak_inet()  { lab_nft_counter "$LAB_NS_INET" inet lab lan_leak; }
lab_spoof6_isp1() { lab_nft_counter "$LAB_NS_ISP1" inet lab spoofed6; }
lab_spoof6_isp2() { lab_nft_counter "$LAB_NS_ISP2" inet lab spoofed6; }
lab_leak6_inet()  { lab_nft_counter "$LAB_NS_INET" inet lab lan_leak6; }

# --- packet captures ---------------------------------------------------------
# lab_capture_start NS IFACE FILE [FILTER...]: start tcpdump in the background,
# return once it is capturing. Sets LAB_CAP_PID (lab_destroy kills it with
# everything else in the namespace if the caller does not stop it).
lab_capture_start() {
	local ns=$1 ifc=$2 file=$3; shift 3
	ip netns exec "$ns" tcpdump -Z root -n -U --immediate-mode -i "$ifc" \
		-w "$file" "$@" </dev/null >/dev/null 2>"$file.err" &
	LAB_CAP_PID=$!
	if ! lab_poll 15 _lab_file_has "$file.err" "listening on"; then
		lab_log "tcpdump on $ns/$ifc did not start: $(tail -n 3 "$file.err")"
		kill "$LAB_CAP_PID" 2>/dev/null
		return 1
	fi
}
# lab_capture_stop PID: stop a capture started by lab_capture_start.
lab_capture_stop() {
	kill -INT "$1" 2>/dev/null
	lab_poll 5 _lab_gone "$1" || kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}
# lab_pcap_count [--marker M] FILE...: packets (containing M) in the captures.
lab_pcap_count() { "$LAB_PY" "$LAB_TOOLS/pcapcount.py" "$@"; }

# --- creation ----------------------------------------------------------------
_lab_need() {
	local missing="" c
	for c in ip nft ethtool tcpdump ss mount "$LAB_PY"; do
		command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
	done
	[ -z "$missing" ] || { lab_log "missing tools:$missing"; return 1; }
	[ "$(id -u)" = 0 ] || { lab_log "must run as root"; return 1; }
}

_lab_sysctl() { local ns=$1; shift; ip netns exec "$ns" sysctl -q -w "$@" >/dev/null; }

_lab_broken() { case ",$XWAN_LAB_BREAK," in *",$1,"*) return 0 ;; esac; return 1; }

# The body of lab_create runs in a child bash with errexit, so any failing
# step aborts creation (errexit is ignored in a function called from `||`).
_lab_create_body() {
	set -euo pipefail
	local mode=$1 ns
	mkdir -p "$LAB_STATE" "$LAB_WWW" "$LAB_LOG"
	{
		echo "mode=$mode"
		echo "owner=${LAB_OWNER_PID:-$PPID}"
		echo "created=$(date -Is)"
	} >"$LAB_STATE/state"

	for ns in $LAB_ALL_NS; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		# Deterministic, quiet namespaces: no IPv6 chatter in captures, no
		# ICMP rate limiting (traceroute), no reverse-path filtering
		# surprises (the kernel-mode gw filters spoofing with nft instead).
		if [ -n "$XWAN_LAB_V6" ]; then
			_lab_sysctl_v6 "$ns"
		else
			_lab_sysctl "$ns" net.ipv6.conf.all.disable_ipv6=1 \
				net.ipv6.conf.default.disable_ipv6=1 \
				net.ipv4.icmp_ratelimit=0 \
				net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
		fi
	done

	# veth pairs, created directly inside the namespaces (no names in the
	# host namespace, so parallel labs cannot collide).
	ip -n "$LAB_NS_CLIENT" link add name eth0 type veth peer name lan0 netns "$LAB_NS_GW"
	ip -n "$LAB_NS_GW" link add name wan1 type veth peer name cust netns "$LAB_NS_ISP1"
	ip -n "$LAB_NS_GW" link add name wan2 type veth peer name cust netns "$LAB_NS_ISP2"
	ip -n "$LAB_NS_ISP1" link add name up type veth peer name i1 netns "$LAB_NS_INET"
	ip -n "$LAB_NS_ISP2" link add name up type veth peer name i2 netns "$LAB_NS_INET"

	# client
	ip -n "$LAB_NS_CLIENT" addr add 10.1.0.2/24 dev eth0
	ip -n "$LAB_NS_CLIENT" addr add 10.1.0.3/24 dev eth0
	ip -n "$LAB_NS_CLIENT" addr add 10.1.0.4/24 dev eth0
	ip -n "$LAB_NS_CLIENT" link set eth0 up
	ip -n "$LAB_NS_CLIENT" route add default via "$LAB_GW_LAN"

	# gw
	ip -n "$LAB_NS_GW" addr add 10.1.0.1/24 dev lan0
	ip -n "$LAB_NS_GW" addr add 203.0.113.2/24 dev wan1
	ip -n "$LAB_NS_GW" addr add 198.51.100.2/24 dev wan2
	for ns in lan0 wan1 wan2; do ip -n "$LAB_NS_GW" link set "$ns" up; done
	_lab_sysctl "$LAB_NS_GW" net.ipv4.ip_forward=1

	# isp1 / isp2
	ip -n "$LAB_NS_ISP1" addr add 203.0.113.1/24 dev cust
	ip -n "$LAB_NS_ISP1" addr add 192.0.2.1/30 dev up
	ip -n "$LAB_NS_ISP2" addr add 198.51.100.1/24 dev cust
	ip -n "$LAB_NS_ISP2" addr add 192.0.2.5/30 dev up
	for ns in "$LAB_NS_ISP1" "$LAB_NS_ISP2"; do
		ip -n "$ns" link set dev cust up
		ip -n "$ns" link set dev up up
		_lab_sysctl "$ns" net.ipv4.ip_forward=1
	done
	ip -n "$LAB_NS_ISP1" route add default via 192.0.2.2
	ip -n "$LAB_NS_ISP2" route add default via 192.0.2.6

	# inet
	ip -n "$LAB_NS_INET" addr add 192.0.2.2/30 dev i1
	ip -n "$LAB_NS_INET" addr add 192.0.2.6/30 dev i2
	ip -n "$LAB_NS_INET" addr add "$LAB_SERVER/32" dev lo
	ip -n "$LAB_NS_INET" link set i1 up
	ip -n "$LAB_NS_INET" link set i2 up
	ip -n "$LAB_NS_INET" route add 203.0.113.0/24 via 192.0.2.1
	ip -n "$LAB_NS_INET" route add 198.51.100.0/24 via 192.0.2.5

	# veth quirks. XDP_REDIRECT into a veth is only delivered when the peer
	# end has an XDP program or GRO (NAPI) enabled: GRO on at the ends that
	# receive what the gw redirects. Locally generated packets carry a
	# partial checksum (CHECKSUM_PARTIAL) that XDP cannot see or fix: tx
	# checksum offload off where lab traffic originates.
	lab_client ethtool -K eth0 gro on tx off >/dev/null
	lab_isp1 ethtool -K cust gro on tx off >/dev/null
	lab_isp2 ethtool -K cust gro on tx off >/dev/null
	lab_inet ethtool -K i1 tx off >/dev/null
	lab_inet ethtool -K i2 tx off >/dev/null

	# ISP anti-spoofing: a wrongly NATed (or unNATed) packet is dropped
	# and counted.
	lab_isp1 nft -f - <<-EOF
		table inet lab {
			counter spoofed { }
			chain forward {
				type filter hook forward priority filter; policy accept;
				iifname "cust" ip saddr != 203.0.113.0/24 counter name "spoofed" log group 5 queue-threshold 1 drop
			}
		}
	EOF
	lab_isp2 nft -f - <<-EOF
		table inet lab {
			counter spoofed { }
			chain forward {
				type filter hook forward priority filter; policy accept;
				iifname "cust" ip saddr != 198.51.100.0/24 counter name "spoofed" log group 5 queue-threshold 1 drop
			}
		}
	EOF
	# The internet never sees a LAN address.
	lab_inet nft -f - <<-EOF
		table inet lab {
			counter lan_leak { }
			chain prerouting {
				type filter hook prerouting priority raw; policy accept;
				ip saddr 10.0.0.0/8 counter name "lan_leak" log group 5 queue-threshold 1 drop
			}
		}
	EOF

	# Keep every packet those rules drop (nflog group 5) as evidence.
	lab_capture_start "$LAB_NS_ISP1" nflog:5 "$LAB_LOG/isp1-spoofed.pcap"
	lab_capture_start "$LAB_NS_ISP2" nflog:5 "$LAB_LOG/isp2-spoofed.pcap"
	lab_capture_start "$LAB_NS_INET" nflog:5 "$LAB_LOG/inet-lan_leak.pcap"

	case $XWAN_LAB_LAN in
	"") ;;
	bridge) _lab_lan_bridge ;;
	routed2) _lab_lan_routed2 ;;
	*) lab_log "unknown XWAN_LAB_LAN '$XWAN_LAB_LAN' (bridge|routed2)"; return 1 ;;
	esac
	case $XWAN_LAB_WAN2 in
	"") ;;
	tun) _lab_wan2_tun ;;
	*) lab_log "unknown XWAN_LAB_WAN2 '$XWAN_LAB_WAN2' (tun)"; return 1 ;;
	esac
	[ -z "$XWAN_LAB_V6" ] || _lab_v6

	# bpffs for xwan's pins, outside /sys.
	mkdir -p "$LAB_BPFFS"
	mount -t bpf bpf "$LAB_BPFFS"

	_lab_start_services

	case $mode in
	kernel) _lab_gw_kernel ;;
	xwan) _lab_gw_xwan ;;
	*) lab_log "unknown mode '$mode' (kernel|xwan)"; return 1 ;;
	esac
	if [ -n "$XWAN_LAB_V6" ]; then
		case $mode in
		kernel) _lab_gw_kernel6 ;;
		xwan) lab_gw ip -6 route replace default via "$LAB_ISP1_GW6" dev wan1 ;;
		esac
	fi

	# Ready when the client reaches the server through the gw. A gw that
	# does not forward is not a lab failure: the checks say what is wrong.
	if lab_wait_ping "$LAB_NS_CLIENT" "$LAB_SERVER" 20; then
		echo "ready=1" >>"$LAB_STATE/state"
	else
		echo "ready=0" >>"$LAB_STATE/state"
		lab_log "WARNING: client cannot reach $LAB_SERVER after gw setup ($mode)"
	fi
	# IPv6 through the kernel baseline or xwan's IPv6 dataplane (issue 13).
	if [ -n "$XWAN_LAB_V6" ]; then
		if lab_wait_ping "$LAB_NS_CLIENT" "$LAB_SERVER6" 20; then
			echo "ready6=1" >>"$LAB_STATE/state"
		else
			echo "ready6=0" >>"$LAB_STATE/state"
			lab_log "WARNING: client cannot reach $LAB_SERVER6 after gw setup ($mode)"
		fi
	fi
}

# XWAN_LAB_V6=1: what the default lab's per-namespace sysctls do, with IPv6
# on and without duplicate address detection (no address is "tentative", the
# lab is ready at once), router solicitations off (quieter captures).
_lab_sysctl_v6() {
	_lab_sysctl "$1" net.ipv6.conf.all.disable_ipv6=0 \
		net.ipv6.conf.default.disable_ipv6=0 \
		net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.router_solicitations=0 \
		net.ipv6.conf.default.router_solicitations=0 \
		net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
		net.ipv6.icmp.ratelimit=0 \
		net.ipv4.icmp_ratelimit=0 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
}

_lab_addr6() { ip -n "$1" -6 addr add "$2" dev "$3" nodad; }

# XWAN_LAB_V6=1: addresses, routes and the ISPs' IPv6 filters.
_lab_v6() {
	if [ "$XWAN_LAB_V6" != 1 ]; then
		lab_log "unknown XWAN_LAB_V6 '$XWAN_LAB_V6' (1)"
		return 1
	fi
	if [ -n "$XWAN_LAB_LAN$XWAN_LAB_WAN2" ]; then
		lab_log "XWAN_LAB_V6 is not combined with XWAN_LAB_LAN/XWAN_LAB_WAN2 yet"
		return 1
	fi
	local a
	for a in $LAB_CLIENT6_IPS; do _lab_addr6 "$LAB_NS_CLIENT" "$a/64" eth0; done
	lab_client ip -6 route add default via "$LAB_GW_LAN6"
	_lab_addr6 "$LAB_NS_GW" "$LAB_GW_LAN6/64" lan0
	_lab_addr6 "$LAB_NS_GW" "$LAB_WAN1_IP6/64" wan1
	_lab_addr6 "$LAB_NS_GW" "$LAB_WAN2_IP6/64" wan2
	_lab_sysctl "$LAB_NS_GW" net.ipv6.conf.all.forwarding=1

	_lab_addr6 "$LAB_NS_ISP1" "$LAB_ISP1_GW6/64" cust
	_lab_addr6 "$LAB_NS_ISP1" 2001:db8:ffff:1::1/64 up
	_lab_addr6 "$LAB_NS_ISP2" "$LAB_ISP2_GW6/64" cust
	_lab_addr6 "$LAB_NS_ISP2" 2001:db8:ffff:2::1/64 up
	lab_isp1 ip -6 route add "$LAB_NPT1_OUT" via "$LAB_WAN1_IP6" dev cust
	lab_isp2 ip -6 route add "$LAB_NPT2_OUT" via "$LAB_WAN2_IP6" dev cust
	lab_isp1 ip -6 route add default via 2001:db8:ffff:1::2 dev up
	lab_isp2 ip -6 route add default via 2001:db8:ffff:2::2 dev up
	for a in "$LAB_NS_ISP1" "$LAB_NS_ISP2"; do
		_lab_sysctl "$a" net.ipv6.conf.all.forwarding=1
	done

	_lab_addr6 "$LAB_NS_INET" 2001:db8:ffff:1::2/64 i1
	_lab_addr6 "$LAB_NS_INET" 2001:db8:ffff:2::2/64 i2
	_lab_addr6 "$LAB_NS_INET" "$LAB_SERVER6/128" lo
	lab_inet ip -6 route add "$LAB_ISP1_NET6" via 2001:db8:ffff:1::1 dev i1
	lab_inet ip -6 route add "$LAB_ISP2_NET6" via 2001:db8:ffff:2::1 dev i2

	# The same filters as for IPv4, in the same tables (one nflog group,
	# one pcap of evidence per namespace).
	lab_isp1 nft -f - <<-EOF
		table inet lab {
			counter spoofed6 { }
			chain forward {
				iifname "cust" ip6 saddr != $LAB_ISP1_NET6 counter name "spoofed6" log group 5 queue-threshold 1 drop
			}
		}
	EOF
	lab_isp2 nft -f - <<-EOF
		table inet lab {
			counter spoofed6 { }
			chain forward {
				iifname "cust" ip6 saddr != $LAB_ISP2_NET6 counter name "spoofed6" log group 5 queue-threshold 1 drop
			}
		}
	EOF
	lab_inet nft -f - <<-EOF
		table inet lab {
			counter lan_leak6 { }
			chain prerouting {
				ip6 saddr fc00::/7 counter name "lan_leak6" log group 5 queue-threshold 1 drop
			}
		}
	EOF
}

# lab_gw_nat6: the kernel's IPv6 translation on the gw: LAN sources mapped
# into the WAN's routed /64 (nft prefix NAT: host bits kept, stateful, the
# L4 checksum adjusted; RFC 6296's stateless NPTv6 is what xwan will do).
# Kernel mode has it from the start; an xwan-mode test adds it to show
# that IPv6 passes xwan to the kernel untouched.
lab_gw_nat6() {
	lab_gw nft -f - <<-EOF
		table ip6 xwanlab_nat6 {
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				iifname "lan0" oifname "wan1" ip6 saddr $LAB_LAN6_NET snat ip6 prefix to $LAB_NPT1_OUT
				iifname "lan0" oifname "wan2" ip6 saddr $LAB_LAN6_NET snat ip6 prefix to $LAB_NPT2_OUT
			}
		}
	EOF
}

# Kernel-mode IPv6: the IPv4 baseline's pieces (XWAN_LAB_BREAK words apply:
# nomasq leaves out the NAT, nomultipath the second next hop, nosrcroute the
# source routing, noantispoof the LAN source check; nofw is the inet table
# _lab_gw_kernel already made for both families).
_lab_gw_kernel6() {
	_lab_sysctl "$LAB_NS_GW" net.ipv6.fib_multipath_hash_policy=1
	if _lab_broken nomultipath; then
		lab_gw ip -6 route replace default via "$LAB_ISP1_GW6" dev wan1
	else
		lab_gw ip -6 route replace default \
			nexthop via "$LAB_ISP1_GW6" dev wan1 weight 3 \
			nexthop via "$LAB_ISP2_GW6" dev wan2 weight 1
	fi
	if ! _lab_broken nosrcroute; then
		lab_gw ip -6 route add default via "$LAB_ISP1_GW6" dev wan1 table 101
		lab_gw ip -6 route add default via "$LAB_ISP2_GW6" dev wan2 table 102
		lab_gw ip -6 rule add from "$LAB_WAN1_IP6" table 101 pref 1001
		lab_gw ip -6 rule add from "$LAB_WAN2_IP6" table 102 pref 1002
	fi
	_lab_broken nomasq || lab_gw_nat6
	_lab_broken noantispoof || lab_gw nft -f - <<-EOF
		table inet xwanlab_filter6 {
			chain forward {
				type filter hook forward priority filter; policy accept;
				iifname "lan0" ip6 saddr != $LAB_LAN6_NET counter drop
			}
		}
	EOF
}

# _lab_client2 ADDR GW: the second client namespace, its eth0 (ADDR/24,
# default via GW) the peer of the gw's lan1. As for the client: GRO to
# receive XDP redirects, no partial checksums.
_lab_client2() {
	local ns=$LAB_NS_CLIENT2
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	_lab_sysctl "$ns" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
		net.ipv4.icmp_ratelimit=0 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	ip -n "$ns" link add name eth0 type veth peer name lan1 netns "$LAB_NS_GW"
	ip -n "$ns" addr add "$1/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via "$2"
	lab_client2 ethtool -K eth0 gro on tx off >/dev/null
}

# XWAN_LAB_LAN=bridge: lan0 and a second client's port lan1 in br-lan.
_lab_lan_bridge() {
	_lab_client2 "$LAB_CLIENT2_IP" "$LAB_GW_LAN"
	lab_gw ip link add br-lan type bridge stp_state 0 forward_delay 0
	lab_gw ip addr del 10.1.0.1/24 dev lan0
	lab_gw ip link set lan0 master br-lan
	lab_gw ip link set lan1 master br-lan
	lab_gw ip addr add 10.1.0.1/24 dev br-lan
	lab_gw ip link set lan1 up
	lab_gw ip link set br-lan up
	_lab_sysctl "$LAB_NS_GW" net.ipv6.conf.br-lan.disable_ipv6=1
}

# XWAN_LAB_LAN=routed2: a second client on a second LAN network, on lan1.
_lab_lan_routed2() {
	_lab_client2 "$LAB_LAN2_CLIENT_IP" "$LAB_GW_LAN2"
	lab_gw ip addr add "$LAB_GW_LAN2/24" dev lan1
	lab_gw ip link set lan1 up
	_lab_sysctl "$LAB_NS_GW" net.ipv6.conf.lan1.disable_ipv6=1
}

# XWAN_LAB_WAN2=tun: wan2 becomes a TUN device carried over UDP to isp2.
_lab_wan2_tun() {
	lab_gw ip link del wan2     # the veth pair, cust in isp2 with it
	ip -n "$LAB_NS_GW" link add name ul2 type veth peer name ul netns "$LAB_NS_ISP2"
	lab_gw ip addr add 192.0.2.9/30 dev ul2
	lab_isp2 ip addr add 192.0.2.10/30 dev ul
	lab_gw ip link set ul2 up
	lab_isp2 ip link set ul up
	lab_gw socat -lf "$LAB_LOG/socat-gw.log" \
		UDP-DATAGRAM:192.0.2.10:4789,bind=192.0.2.9:4789 \
		TUN,tun-name=wan2,tun-type=tun,iff-no-pi,iff-up </dev/null >/dev/null 2>&1 &
	lab_isp2 socat -lf "$LAB_LOG/socat-isp2.log" \
		UDP-DATAGRAM:192.0.2.9:4789,bind=192.0.2.10:4789 \
		TUN,tun-name=cust,tun-type=tun,iff-no-pi,iff-up </dev/null >/dev/null 2>&1 &
	lab_poll 10 ip -n "$LAB_NS_GW" link show wan2 || { lab_log "no tun wan2: $(cat "$LAB_LOG/socat-gw.log")"; return 1; }
	lab_poll 10 ip -n "$LAB_NS_ISP2" link show cust || { lab_log "no tun cust in isp2"; return 1; }
	lab_gw ip addr add "$LAB_WAN2_IP" peer "$LAB_ISP2_GW" dev wan2
	lab_isp2 ip addr add "$LAB_ISP2_GW" peer "$LAB_WAN2_IP" dev cust
	lab_gw ip link set wan2 up
	lab_isp2 ip link set cust up
}

_lab_start_services() {
	head -c "$LAB_BLOB_SIZE" /dev/urandom >"$LAB_WWW/blob.bin"
	sha256sum "$LAB_WWW/blob.bin" | cut -d' ' -f1 >"$LAB_WWW/blob.sha256"
	: >"$LAB_PEER_LOG"
	local v6addr=()
	[ -z "$XWAN_LAB_V6" ] || v6addr=(--addr "$LAB_SERVER6")
	ip netns exec "$LAB_NS_INET" "$LAB_PY" "$LAB_TOOLS/servers.py" --addr "$LAB_SERVER" "${v6addr[@]}" \
		--www "$LAB_WWW" --log "$LAB_PEER_LOG" \
		</dev/null >"$LAB_LOG/servers.log" 2>&1 &
	echo $! >"$LAB_STATE/servers.pid"
	if command -v iperf3 >/dev/null 2>&1; then
		ip netns exec "$LAB_NS_INET" iperf3 -s -B "$LAB_SERVER" -p 5201 \
			</dev/null >"$LAB_LOG/iperf3.log" 2>&1 &
		echo $! >"$LAB_STATE/iperf3.pid"
	fi
	local p
	for p in 8080 8081 8000; do
		lab_wait_listen "$LAB_NS_INET" tcp $p ||
			{ lab_log "inet tcp :$p not listening: $(tail -n5 "$LAB_LOG/servers.log")"; return 1; }
	done
	for p in 5300 5301; do
		lab_wait_listen "$LAB_NS_INET" udp $p ||
			{ lab_log "inet udp :$p not listening"; return 1; }
	done
	if [ -f "$LAB_STATE/iperf3.pid" ]; then
		lab_wait_listen "$LAB_NS_INET" tcp 5201 || { lab_log "iperf3 not listening"; return 1; }
	fi
}

_lab_gw_kernel() {
	_lab_sysctl "$LAB_NS_GW" net.ipv4.fib_multipath_hash_policy=1
	if _lab_broken nomultipath; then
		lab_gw ip route replace default via "$LAB_ISP1_GW" dev wan1
	else
		lab_gw ip route replace default \
			nexthop via "$LAB_ISP1_GW" dev wan1 weight 3 \
			nexthop via "$LAB_ISP2_GW" dev wan2 weight 1
	fi
	# The gw's own traffic (ICMP errors, RSTs, its pings) leaves by the WAN
	# its source address belongs to; without this an ICMP error from
	# 203.0.113.2 can hash onto wan2 and isp2 drops it as spoofed.
	if ! _lab_broken nosrcroute; then
		lab_gw ip route add default via "$LAB_ISP1_GW" dev wan1 table 101
		lab_gw ip route add default via "$LAB_ISP2_GW" dev wan2 table 102
		lab_gw ip rule add from "$LAB_WAN1_IP" table 101 pref 1001
		lab_gw ip rule add from "$LAB_WAN2_IP" table 102 pref 1002
	fi
	local masq='oifname { "wan1", "wan2" } masquerade'
	local spoof='iifname "lan0" ip saddr != 10.1.0.0/24 counter drop'
	local fw='ct state established,related accept
				iifname { "wan1", "wan2" } counter drop'
	_lab_broken nomasq && masq=''
	_lab_broken noantispoof && spoof=''
	_lab_broken nofw && fw=''
	lab_gw nft -f - <<-EOF
		table ip xwanlab_nat {
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				$masq
			}
		}
		table inet xwanlab_filter {
			chain forward {
				type filter hook forward priority filter; policy accept;
				$spoof
				$fw
			}
		}
	EOF
	[ -z "$XWAN_LAB_BREAK" ] || lab_log "kernel gw deliberately broken: $XWAN_LAB_BREAK"
}

_lab_gw_xwan() {
	lab_gw ip route replace default via "$LAB_ISP1_GW" dev wan1
	# what the host looked like before xwan (xwan down must restore it)
	lab_gw ip rule show >"$LAB_STATE/gw-rules.before"
	lab_gw ip -4 route show table all >"$LAB_STATE/gw-routes.before"
	if [ ! -x "$XWAN" ]; then
		lab_log "$XWAN not found or not executable (run make)"
		return 1
	fi
	if ! timeout 60 ip netns exec "$LAB_NS_GW" env XWAN_PIN_DIR="$LAB_PIN_DIR" \
		"$XWAN" --pin-dir "$LAB_PIN_DIR" up -c "$XWAN_LAB_CONFIG" \
		</dev/null >"$LAB_LOG/xwan-up.log" 2>&1; then
		lab_log "xwan up failed: $(tail -n 20 "$LAB_LOG/xwan-up.log")"
		return 1
	fi
}

# lab_create [kernel|xwan]: build the whole lab (namespaces, links, addresses,
# ISP filters, bpffs, services, gw in the given mode) and wait until the
# client reaches the server (up to 20 s; if it never does, it warns on
# stderr and records ready=0 in $LAB_STATE/state, but still returns 0 so the
# checks can show what is broken). When the lab itself cannot be built it
# returns 1 and leaves the pieces for lab_destroy (the caller's trap).
lab_create() {
	local mode=${1:-${XWAN_E2E_MODE:-xwan}}
	if [ -z "${LAB_PREFIX:-}" ] || [ -z "${LAB_NS_GW:-}" ]; then
		lab_init_names "${LAB_PREFIX:-}"
	fi
	LAB_MODE=$mode
	[ -n "${LAB_PREFIX:-}" ] || return 1
	_lab_need || return 1
	if [ -e "$LAB_STATE" ] || ip netns list | grep -q "^$LAB_PREFIX-"; then
		lab_log "a lab with prefix $LAB_PREFIX already exists"
		return 1
	fi
	LAB_OWNER_PID=${LAB_OWNER_PID:-$$} XWAN="$XWAN" XWAN_LAB_CONFIG="$XWAN_LAB_CONFIG" \
		XWAN_LAB_BREAK="$XWAN_LAB_BREAK" XWAN_LAB_LAN="$XWAN_LAB_LAN" \
		XWAN_LAB_WAN2="$XWAN_LAB_WAN2" XWAN_LAB_V6="$XWAN_LAB_V6" \
		"$BASH" "$LAB_SELF" __create "$mode"
}

# --- destruction -------------------------------------------------------------
_lab_ns_exists() { [ -e "/run/netns/$1" ]; }

_lab_gone() { local p; for p in "$@"; do [ -e "/proc/$p" ] && return 1; done; return 0; }
_lab_kill_ns_procs() { # NS...: TERM, then KILL, every process in the namespaces
	local ns pids sig
	for sig in TERM TERM KILL; do
		pids=""
		for ns in "$@"; do
			_lab_ns_exists "$ns" && pids="$pids $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
		done
		[ -z "${pids// /}" ] && return 0
		# shellcheck disable=SC2086  # a list of pids
		kill -s $sig $pids 2>/dev/null
		# shellcheck disable=SC2086
		lab_poll 2 _lab_gone $pids
	done
}

# lab_destroy [PREFIX]: remove everything of the lab. Idempotent; never fails.
lab_destroy() {
	local rc=$?
	if [ -n "${1:-}" ]; then
		lab_init_names "$1" || return $rc
	fi
	[ -n "${LAB_PREFIX:-}" ] || return $rc
	[ -n "${LAB_NS_GW:-}" ] || lab_init_names "$LAB_PREFIX" || return $rc
	local ns mode=""
	[ -f "$LAB_STATE/state" ] && mode=$(sed -n 's/^mode=//p' "$LAB_STATE/state")
	if [ "$mode" = xwan ] && _lab_ns_exists "$LAB_NS_GW" && [ -x "$XWAN" ] &&
		[ -d "$LAB_PIN_DIR" ]; then
		timeout 20 ip netns exec "$LAB_NS_GW" env XWAN_PIN_DIR="$LAB_PIN_DIR" \
			"$XWAN" --pin-dir "$LAB_PIN_DIR" down </dev/null \
			>>"$LAB_LOG/xwan-down.log" 2>&1 || true
	fi
	_lab_kill_ns_procs $LAB_ALL_NS $LAB_EXTRA_NS
	for ns in $LAB_ALL_NS $LAB_EXTRA_NS; do
		_lab_ns_exists "$ns" && ip netns del "$ns" 2>/dev/null
	done
	if mountpoint -q "$LAB_BPFFS" 2>/dev/null; then
		umount "$LAB_BPFFS" 2>/dev/null || umount -l "$LAB_BPFFS" 2>/dev/null
	fi
	if [ -d "$LAB_STATE" ] && ! mountpoint -q "$LAB_BPFFS" 2>/dev/null; then
		if [ -n "${XWAN_LAB_KEEP_LOGS:-}" ]; then
			mkdir -p "$XWAN_LAB_KEEP_LOGS/$LAB_PREFIX"
			cp -r "$LAB_LOG/." "$XWAN_LAB_KEEP_LOGS/$LAB_PREFIX/" 2>/dev/null
		fi
		rm -rf --one-file-system "$LAB_STATE"
	fi
	rm -rf --one-file-system "$LAB_CFG_DIR"
	rmdir "$LAB_RUN_BASE" 2>/dev/null
	return $rc
}

# --- standalone use ----------------------------------------------------------
_lab_main() {
	local cmd=${1:-help}
	shift || true
	case $cmd in
	__create)
		lab_init_names "$LAB_PREFIX"
		_lab_create_body "$@"
		;;
	up)
		lab_init_names "${XWAN_LAB_PREFIX:-xw$$}"
		LAB_OWNER_PID=interactive
		if ! lab_create "${1:-${XWAN_E2E_MODE:-xwan}}"; then
			lab_destroy
			return 1
		fi
		cat <<-EOF
			lab $LAB_PREFIX is up (mode ${1:-${XWAN_E2E_MODE:-xwan}}), namespaces:
			  client $LAB_NS_CLIENT   gw $LAB_NS_GW   isp1 $LAB_NS_ISP1   isp2 $LAB_NS_ISP2   inet $LAB_NS_INET
			try:
			  ip netns exec $LAB_NS_CLIENT curl -o /dev/null http://$LAB_SERVER:8000/blob.bin
			  ip netns exec $LAB_NS_GW env XWAN_PIN_DIR=$LAB_PIN_DIR $XWAN flows
			state, logs: $LAB_STATE
			remove with: $LAB_SELF down $LAB_PREFIX
		EOF
		;;
	down)
		local p
		if [ "${1:-}" = --all ]; then
			for p in $(_lab_list_prefixes); do lab_destroy "$p"; echo "removed lab $p"; done
		elif [ -n "${1:-}" ]; then
			lab_destroy "$1"
			echo "removed lab $1"
		else
			# shellcheck disable=SC2046  # prefixes have no spaces
			set -- $(_lab_list_prefixes)
			case $# in
			0) echo "no lab found" ;;
			1) lab_destroy "$1"; echo "removed lab $1" ;;
			*) echo "several labs: $*; say which (or --all)" >&2; return 1 ;;
			esac
		fi
		;;
	list)
		local p
		for p in $(_lab_list_prefixes); do
			echo "$p $(tr '\n' ' ' <"$LAB_RUN_BASE/$p/state" 2>/dev/null)"
		done
		;;
	*)
		echo "usage: $0 up [kernel|xwan] | down [PREFIX|--all] | list" >&2
		[ "$cmd" = help ]
		;;
	esac
}

# Prefixes of the labs on this host: state directories, and namespaces
# named like a lab's (xw<something>-client|gw|isp1|isp2|inet).
_lab_list_prefixes() {
	{
		ls "$LAB_RUN_BASE" 2>/dev/null
		ip netns list 2>/dev/null | awk '{print $1}' |
			sed -n 's/^\(xw[A-Za-z0-9_]*\)-\(client\|client2\|gw\|isp1\|isp2\|inet\)$/\1/p'
	} | sort -u
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	_lab_main "$@"
	exit $?
fi
