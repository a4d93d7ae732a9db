#!/bin/bash
# tests/e2e/test_dynwan.sh - dynamic WANs and the agent's start and restart,
# in the namespace lab (tests/e2e/lab.sh). Needs root, dnsmasq and dhclient.
#
#   tests/e2e/test_dynwan.sh
#
# The lab's isp2 becomes a DHCP ISP: dnsmasq on its customer port hands out
# one address of 198.51.100.0/24 with router 198.51.100.1, and the gw runs
# the host's own dhclient on wan2 (Debian's dhclient-script, through a
# wrapper that keeps it off the host's resolv.conf and gives the default
# route metric 100, so it sits next to the main table's default via wan1).
# xwan runs no DHCP client: wan2 is `gateway: auto`.
#
#   1  the agent starts while wan2 has no address: isp2 is down ("no
#      address"), isp1 carries traffic from the start
#   2  dhclient gets a lease: isp2 joins by itself (no signal), `xwan status`
#      shows the learned address and gateway, new connections carry it
#   3  the lease changes (release, dnsmasq now offers another address, new
#      lease): a held connection NATed to the old address is reset, new
#      connections carry the new address, `xwan status` shows it
#   4  a second `xwan run` on the same pin dir is refused
#   5  the agent stops; a rule changes in its config; the restarted agent
#      adopts the dataplane and applies it (before the restart: not applied)
#   6  a netlink receive overflow (a tiny receive buffer, a burst of
#      neighbour entries) triggers a resync, counted in xwan_events_total
#   7  isp1's and isp2's anti-spoof drop counters are 0, and a control packet
#      with a wrong source shows they count
#   8  the lease renewed in place (new address added and old one deleted, in
#      both orders, as a DHCP client renewing with a new address does): isp2
#      stays online throughout (`xwan status` sampled every 50 ms, no
#      transition logged), a held connection NATed to the old address is
#      reset, connections a second later carry the new address; control:
#      the address removed with none in its place is seen as down
#   9  a restarted agent adopting the dataplane shows why a WAN is down as
#      the host is now: "link down", "no interface" (control: the pinned
#      reason before the restart was "no address")
#
# Every check prints "PASS: <what>" or "FAIL: <what> (<evidence>)". In kernel
# mode (XWAN_E2E_MODE=kernel) every check is a SKIP. Exit 1 if one failed.

set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"
# shellcheck source=tests/e2e/failover_lib.sh
. "$E2E_DIR/failover_lib.sh"

MODE=${XWAN_E2E_MODE:-xwan}
CHECKS="1a 1b 2a 2b 2c 3a 3b 3c 3d 4a 4b 5a 5b 5c 6a 6b 7a 7b 8a-1 8a-2 8a-3 8a-4 8a-5 8b-1 8b-2 8b-3 8b-4 8b-5 8c 9a 9b 9c 9d"
if [ "$MODE" != xwan ]; then
	for c in $CHECKS; do echo "SKIP: $c dynamic WANs (xwan-only, mode=$MODE)"; done
	exit 0
fi
for tool in dnsmasq dhclient; do
	if ! command -v $tool >/dev/null; then
		for c in $CHECKS; do echo "SKIP: $c dynamic WANs ($tool is not installed)"; done
		exit 0
	fi
done

LEASE1=198.51.100.50
LEASE2=198.51.100.60
C_DEFAULT=10.1.0.2       # uses the default group (isp1 + isp2)
C_CABLE=10.1.0.3         # a rule sends it to group "cable" (isp2 only)

lab_init_names "${XWAN_LAB_PREFIX:-xd$$}" || exit 1
DW=$LAB_STATE/dyn        # removed with the lab

cleanup() {
	local f
	[ -n "${WATCH_PID:-}" ] && kill "$WATCH_PID" 2>/dev/null
	fo_hold_stop 2>/dev/null
	fo_agent_stop 2>/dev/null
	[ -n "${SECOND_PID:-}" ] && kill "$SECOND_PID" 2>/dev/null
	for f in "$DW/dhclient.pid" "$DW/dnsmasq.pid"; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	[ -n "${DNSMASQ_PID:-}" ] && kill "$DNSMASQ_PID" 2>/dev/null
	lab_destroy
}
e2e_traps cleanup

lab_create xwan || { echo "FAIL: lab setup"; exit 1; }
# This test starts the dataplane through the agent, degraded.
lab_xwan down >/dev/null
mkdir -p "$DW"
FO_DIR=$DW
FO_AGENT_LOG=$DW/agent.log

# --- the ISP's DHCP server and the host's DHCP client ------------------------
dnsmasq_start() { # ADDRESS: the one address it offers
	: >"$DW/dnsmasq.leases"
	ip netns exec "$LAB_NS_ISP2" dnsmasq --keep-in-foreground --conf-file=/dev/null \
		--user=root --group=root --port=0 --interface=cust --bind-interfaces \
		--dhcp-range="$1,$1,255.255.255.0,600s" --dhcp-option=option:router,"$LAB_ISP2_GW" \
		--dhcp-authoritative --dhcp-leasefile="$DW/dnsmasq.leases" \
		--pid-file="$DW/dnsmasq.pid" --log-dhcp --log-facility="$DW/dnsmasq.log" \
		</dev/null >>"$DW/dnsmasq.out" 2>&1 &
	DNSMASQ_PID=$!
	lab_wait_listen "$LAB_NS_ISP2" udp 67 10
}
dnsmasq_stop() {
	kill "$DNSMASQ_PID" 2>/dev/null
	wait "$DNSMASQ_PID" 2>/dev/null
	DNSMASQ_PID=""
}
cat >"$DW/dhclient.conf" <<-EOF
	request subnet-mask, broadcast-address, routers;
EOF
# Debian's script does the work; the host's resolv.conf and NTP stay out of it.
cat >"$DW/dhclient-script" <<-'EOF'
	#!/bin/sh
	unset new_domain_name_servers new_domain_search new_domain_name new_ntp_servers
	unset new_rfc3442_classless_static_routes
	IF_METRIC=100
	export IF_METRIC
	exec /sbin/dhclient-script "$@"
EOF
chmod +x "$DW/dhclient-script"
dhclient_do() { # [-r]: get a lease (and keep renewing it in the background), or release it
	timeout 30 ip netns exec "$LAB_NS_GW" dhclient -4 -v "$@" -sf "$DW/dhclient-script" \
		-cf "$DW/dhclient.conf" -lf "$DW/dhclient.leases" -pf "$DW/dhclient.pid" wan2 \
		</dev/null >>"$DW/dhclient.log" 2>&1
}

# --- helpers ------------------------------------------------------------------
whoami_from() { # SRC N: N new TCP connections from SRC; prints what the server saw, one a line ("error" per failure)
	timeout 60 ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/client.py" --timeout 2 \
		tcp-whoami --count "$2" --bind "$1" 2>/dev/null |
		"$LAB_PY" -c 'import json,sys
d = json.loads(sys.stdin.read() or "{}")
for ip, n in d.get("by_addr", {}).items():
    print("\n".join([ip] * n))
for _ in range(d.get("fail", 1 if not d else 0)):
    print("error")'
}
only() { # WANT LIST...: every item is WANT (and there is at least one)
	local want=$1 x
	shift
	[ $# -gt 0 ] || return 1
	for x in "$@"; do [ "$x" = "$want" ] || return 1; done
}
status_row() { lab_xwan status 2>/dev/null | awk -v g="$1" '$1 == g && NF <= 6 { $1 = ""; sub(/^ /, ""); print }'; }
wait_status() { lab_poll "$3" _status_is "$1" "$2"; }
_status_is() { fo_status "$1" | grep -Eq "^$2( |$)"; }
# NATed flows (not the host's own sessions, which expire) with ADDRESS in `xwan flows`
nat_flows_of() { lab_xwan flows --wan isp2 --all 2>/dev/null | awk -v a="$1" '$2 == "nat" && index($4, a ":") == 1' | wc -l; }
metric() { fo_metric "$1" 2>/dev/null || echo 0; }

cat >"$DW/agent.yaml" <<-EOF
	lan:
	  - {interface: lan0, networks: [$LAB_LAN_NET]}
	wan:
	  - {name: isp1, interface: wan1, gateway: $LAB_ISP1_GW,
	     monitor: {interval_ms: 100, loss_interval_ms: 300, down_after: 3, up_after: 2}}
	  - {name: isp2, interface: wan2, gateway: auto,
	     monitor: {interval_ms: 100, loss_interval_ms: 300, down_after: 3, up_after: 2}}
	groups:
	  - {name: balance, members: [{wan: isp1}, {wan: isp2}]}
	  - {name: cable, members: [{wan: isp2}], when_all_down: drop}
	rules:
	  - {name: cable-client, src: $C_CABLE/32, group: cable}
	default_group: balance
	metrics: {listen: ""}
EOF

# --- 1. start without wan2's address -------------------------------------------
lab_gw ip -4 addr flush dev wan2
lab_gw ip -4 route show >"$DW/routes-before"
if ! fo_agent_start "$DW/agent.yaml"; then
	echo "FAIL: 1a the agent starts while wan2 has no address ($(tail -n 5 "$FO_AGENT_LOG" | ev))"
	exit 1
fi
AGENT1=$FO_AGENT_PID
t1=$(fo_now)
seen=$(whoami_from "$C_DEFAULT" 20 | tr '\n' ' ')
t1=$(awk -v a="$t1" -v b="$(fo_now)" 'BEGIN { printf "%.1f", b - a }')
# (the agent's first verdict on isp2 may still be in flight under load)
isp2_no_address() { [[ $(fo_status isp2) =~ ^down\ no\ .*no\ address ]]; }
lab_poll 15 isp2_no_address
row=$(fo_status isp2)
check "1a the agent started with wan2 lacking an address: isp2 is down, reason \"no address\"" \
	"isp2: $row; $(fo_log_since 0 | grep isp2 | tail -n 3)" \
	eval '[[ $row =~ ^down\ no\ .*no\ address ]]'
# shellcheck disable=SC2086
check "1b isp1 carries traffic from the start: 20 connections right after start, all seen from $LAB_WAN1_IP (${t1}s)" \
	"seen: $seen" only "$LAB_WAN1_IP" $seen

# --- 2. the lease arrives: isp2 joins by itself ----------------------------------
dnsmasq_start "$LEASE1" || info "dnsmasq not listening: $(tail -n 3 "$DW/dnsmasq.out" | ev)"
mark=$(fo_log_lines)
dhclient_do -1 || info "dhclient: $(tail -n 5 "$DW/dhclient.log" | ev)"
info "wan2 after dhclient: $(lab_gw ip -4 -o addr show dev wan2 | awk '{print $4}'); $(lab_gw ip -4 route show default | ev)"
wait_status isp2 online 20
row=$(status_row isp2)
info "xwan status: isp2 $row"
check "2a isp2 joined by itself (no signal): online in xwan status" \
	"isp2: $(fo_status isp2); log: $(fo_log_since "$mark" | tail -n 4)" _status_is isp2 online
check "2b xwan status shows the learned address and gateway of wan2 ($LEASE1/24, $LAB_ISP2_GW auto)" \
	"row: $row" eval '[[ $row =~ ^wan2\ +$LEASE1/24\ +$LAB_ISP2_GW\ \(auto\) ]]'
seen=$(whoami_from "$C_CABLE" 10 | tr '\n' ' ')
# shellcheck disable=SC2086
check "2c new connections of the cable client carry the leased address $LEASE1" \
	"seen: $seen" only "$LEASE1" $seen

# --- 3. the lease changes ------------------------------------------------------------
fo_echo_server_start
if fo_hold_start "$DW/hold" --bind "$C_CABLE"; then
	info "held connection $FO_HOLD_LOCAL seen as $FO_HOLD_SEEN"
else
	info "no held connection: $(cat "$DW/hold.err" 2>/dev/null | ev)"
fi
nat_before=$(nat_flows_of "$LEASE1")
mark=$(fo_log_lines)
flushed0=$(metric 'xwan_events_total{event="wan_address_or_gateway_changed"}')
dnsmasq_stop
dhclient_do -r
dnsmasq_start "$LEASE2"
dhclient_do -1 || info "dhclient: $(tail -n 5 "$DW/dhclient.log" | ev)"
t_lease=$(fo_now)
info "wan2 now: $(lab_gw ip -4 -o addr show dev wan2 | awk '{print $4}')"
lab_poll 15 eval '[[ $(status_row isp2) =~ $LEASE2/24 ]]'
wait_status isp2 online 20
t_online=$(fo_now)
row=$(status_row isp2)
info "xwan status: isp2 $row; online $(awk -v a="$t_lease" -v b="$t_online" 'BEGIN { printf "%.2f", b - a }')s after the new lease"
check "3a xwan status shows the new address $LEASE2" "row: $row" \
	eval '[[ $row =~ ^wan2\ +$LEASE2/24\ +$LAB_ISP2_GW\ \(auto\) ]]'
seen=$(whoami_from "$C_CABLE" 10 | tr '\n' ' ')
# shellcheck disable=SC2086
check "3b new connections carry the new address $LEASE2" "seen: $seen" only "$LEASE2" $seen
lab_poll 5 fo_hold_has_error "$DW/hold"
herr=$(fo_hold_error "$DW/hold")
check "3c the connection NATed to the old address was reset (the client saw ECONNRESET)" \
	"hold ended with '${herr}'; log: $(fo_log_since "$mark" | grep -i flush | tail -n 3)" \
	[ "$herr" = ECONNRESET ]
fo_hold_stop
old_flows=$(nat_flows_of "$LEASE1")
check "3d no flow NATed to the old address $LEASE1 is left (there were $nat_before before the change)" \
	"$(lab_xwan flows --wan isp2 --all 2>&1 | grep "$LEASE1" | head -n 3)" \
	[ "$old_flows" = 0 -a "$nat_before" -gt 0 ]
info "address/gateway changes counted: $flushed0 -> $(metric 'xwan_events_total{event="wan_address_or_gateway_changed"}')"

# --- 4. one agent per pin dir -----------------------------------------------------------
out=$(timeout 20 ip netns exec "$LAB_NS_GW" "$XWAN" --pin-dir "$LAB_PIN_DIR" run -c "$DW/agent.yaml" 2>&1 </dev/null)
rc=$?
check "4a a second xwan run on the same pin dir is refused (exit 1) and names the running agent (pid $AGENT1)" \
	"rc=$rc: $out" eval '[ $rc = 1 ] && [[ $out =~ "another xwan run (pid $AGENT1)" ]]'
check "4b the first agent kept running" "" fo_agent_alive

# --- 5. restart: adopt and apply the config ------------------------------------------------
fo_agent_stop
# The cable client now goes to the default group's isp1 only: a new rule first.
sed -i "s|^rules:|rules:\n  - {name: cable-to-isp1, src: $C_CABLE/32, group: isp1only}|; s|^groups:|groups:\n  - {name: isp1only, members: [{wan: isp1}], when_all_down: drop}|" "$DW/agent.yaml"
lab_xwan check -c "$DW/agent.yaml" >/dev/null 2>&1 || info "config: $(lab_xwan check -c "$DW/agent.yaml" 2>&1)"
seen=$(whoami_from "$C_CABLE" 5 | tr '\n' ' ')
# shellcheck disable=SC2086
check "5a control: with no agent the running dataplane still has the old rule (cable client via $LEASE2)" \
	"seen: $seen" only "$LEASE2" $seen
mark=$(fo_log_lines)
# The restarted agent's netlink socket gets the smallest receive buffer (for 6).
fo_agent_start "$DW/agent.yaml" || info "restart failed: $(fo_log_since "$mark" | tail -n 5 | ev)"
env_ok=$?
seen=$(whoami_from "$C_CABLE" 5 | tr '\n' ' ')
check "5b the restarted agent adopted the running dataplane and applied its config" \
	"$(fo_log_since "$mark" | head -n 3)" eval 'fo_log_grep "$mark" "adopted the running dataplane .* and applied" >/dev/null'
# shellcheck disable=SC2086
check "5c the rule added while no agent ran takes effect: cable client now via $LAB_WAN1_IP" \
	"seen: $seen" only "$LAB_WAN1_IP" $seen
: "$env_ok"

# --- 6. netlink overflow -------------------------------------------------------------------
fo_agent_stop
mark=$(fo_log_lines)
XWAN_NETLINK_RCVBUF=1 fo_agent_start "$DW/agent.yaml" ||
	info "restart with a tiny buffer failed: $(fo_log_since "$mark" | tail -n 5 | ev)"
r0=$(metric 'xwan_events_total{event="netlink_overflow_resync"}')
for i in $(seq 1 400); do
	printf 'neigh add 10.1.%d.%d lladdr 02:00:00:00:%02x:%02x dev lan0 nud permanent\n' \
		$((i / 200 + 50)) $((i % 200 + 1)) $((i / 256)) $((i % 256))
done >"$DW/neigh.batch"
# Added, then deleted (a replace of an identical entry notifies nothing).
# The agent is stopped meanwhile: its loop runs at real-time priority and
# would otherwise read the socket as fast as the kernel fills it.
kill -STOP "$FO_AGENT_PID" 2>/dev/null
lab_gw ip -force -batch "$DW/neigh.batch" 2>/dev/null
sed 's/^neigh add \([0-9.]*\) .*/neigh del \1 dev lan0/' "$DW/neigh.batch" | lab_gw ip -force -batch - 2>/dev/null
kill -CONT "$FO_AGENT_PID" 2>/dev/null
lab_poll 15 eval '[ "$(metric "xwan_events_total{event=\"netlink_overflow_resync\"}")" -gt "$r0" ]'
r1=$(metric 'xwan_events_total{event="netlink_overflow_resync"}')
check "6a an ENOBUFS on the netlink socket triggers a resync, counted (netlink_overflow_resync $r0 -> $r1)" \
	"$(fo_log_since "$mark" | grep -i overflow | head -n 2)" [ "$r1" -gt "$r0" ]
lab_gw ip neigh flush dev lan0 nud permanent 2>/dev/null
seen=$(whoami_from "$C_DEFAULT" 10 | sort -u | tr '\n' ' ')
check "6b after the resync the agent still forwards (10 connections, seen from a WAN address)" \
	"seen: $seen; isp1: $(fo_status isp1); isp2: $(fo_status isp2)" \
	eval '[ -n "$seen" ] && ! [[ $seen =~ error ]]'

# --- 7. anti-spoof counters ------------------------------------------------------------------
s1=$(lab_spoof_isp1)
s2=$(lab_spoof_isp2)
check "7a isp1 and isp2 dropped nothing as spoofed (isp1 $s1, isp2 $s2)" \
	"$(lab_drop_evidence 2>/dev/null | ev)" [ "$s1" = 0 -a "$s2" = 0 ]
# Control: a packet from a LAN address sent raw out of wan2, as a NAT bug would.
isp2_mac=$(lab_isp2 cat /sys/class/net/cust/address)
lab_gw "$LAB_PY" - "$LAB_SERVER" "$isp2_mac" <<-'EOF'
	import socket, struct, sys
	def csum(b):
	    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
	    s = (s >> 16) + (s & 0xffff)
	    return ~(s + (s >> 16)) & 0xffff
	src, dst = socket.inet_aton("10.1.0.99"), socket.inet_aton(sys.argv[1])
	udp = struct.pack("!HHHH", 40000, 5300, 8 + 4, 0) + b"spof"
	ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, src, dst)
	ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
	s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
	# past the egress programs (PACKET_QDISC_BYPASS): xwan drops un-NATed LAN sources
	s.setsockopt(263, 20, 1)
	s.sendto(ip + udp, ("wan2", 0x0800, 0, 0, bytes.fromhex(sys.argv[2].replace(":", ""))))
EOF
lab_poll 3 eval '[ "$(lab_spoof_isp2)" -gt "$s2" ]'
check "7b control: a wrongly sourced packet out of wan2 is counted by isp2 ($s2 -> $(lab_spoof_isp2))" \
	"" [ "$(lab_spoof_isp2)" -gt "$s2" ]

# --- 8. the lease renewed in place: the WAN stays online -------------------------------
# A DHCP client that renews with a new address adds the new one and deletes
# the old one, in either order (dhclient-script deletes first and re-adds
# the default route). The cable client goes to isp2 again for this.
fo_agent_stop
sed -i '/cable-to-isp1/d' "$DW/agent.yaml"
fo_agent_start "$DW/agent.yaml" || info "restart failed: $(tail -n 5 "$FO_AGENT_LOG" | ev)"
wait_status isp2 online 20
# systemd's default (sysctl.d/50-default.conf): without it deleting the
# primary address deletes the new secondary one of the same subnet too
lab_gw sysctl -qw net.ipv4.conf.wan2.promote_secondaries=1
watch_start() { # FILE: `xwan status` of isp2 every 50 ms, "TIME STATUS" a line
	while :; do
		echo "$(fo_now) $(fo_status isp2 | cut -d' ' -f1)"
		sleep 0.05
	done >"$1" 2>/dev/null &
	WATCH_PID=$!
}
watch_stop() { [ -n "${WATCH_PID:-}" ] && kill "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null; WATCH_PID=""; }
watch_states() { awk '{ print $2 }' "$1" | sort | uniq -c | awk '{ printf "%s%s=%s", (NR > 1 ? " " : ""), $2, $1 }'; }
watch_all_online() { [ -s "$1" ] && [ "$(awk '$2 != "online"' "$1" | wc -l)" = 0 ]; }
renew_in_place() { # TAG OLD NEW BATCH: the change, the checks
	local tag=$1 old=$2 new=$3 batch=$4 mark seen herr
	fo_hold_start "$DW/hold-$tag" --bind "$C_CABLE" ||
		info "no held connection: $(cat "$DW/hold-$tag.err" 2>/dev/null | ev)"
	info "held connection $FO_HOLD_LOCAL seen as $FO_HOLD_SEEN"
	mark=$(fo_log_lines)
	watch_start "$DW/watch-$tag"
	sleep 0.5
	printf '%s\n' "$batch" | lab_gw ip -batch - || info "ip -batch failed: $batch"
	# a second after the netlink events, new connections must carry the new address
	sleep 1
	seen=$(whoami_from "$C_CABLE" 10 | tr '\n' ' ')
	sleep 0.5
	watch_stop
	info "$tag: wan2 $(lab_gw ip -4 -o addr show dev wan2 | awk '{print $4}' | tr '\n' ' '); status samples: $(watch_states "$DW/watch-$tag")"
	check "$tag-1 isp2 stayed online across the change $old -> $new (xwan status every 50 ms, no other state seen)" \
		"samples: $(watch_states "$DW/watch-$tag"); log: $(fo_log_since "$mark" | grep isp2 | tail -n 4 | ev)" \
		watch_all_online "$DW/watch-$tag"
	check "$tag-2 the agent logged no transition of isp2" "$(fo_log_since "$mark" | grep 'isp2: .* -> ' | ev)" \
		eval '! fo_log_grep "$mark" "gateway isp2: [a-z]+ -> " >/dev/null'
	# shellcheck disable=SC2086
	check "$tag-3 new connections a second after the change carry the new address $new" \
		"seen: $seen" only "$new" $seen
	lab_poll 5 fo_hold_has_error "$DW/hold-$tag"
	herr=$(fo_hold_error "$DW/hold-$tag")
	check "$tag-4 the connection NATed to the old address $old was reset (ECONNRESET)" \
		"hold ended with '${herr}'; log: $(fo_log_since "$mark" | grep -i flush | tail -n 2 | ev)" \
		[ "$herr" = ECONNRESET ]
	fo_hold_stop
	check "$tag-5 no flow NATed to the old address $old is left" \
		"$(lab_xwan flows --wan isp2 --all 2>&1 | grep "$old" | head -n 3 | ev)" [ "$(nat_flows_of "$old")" = 0 ]
}
LEASE3=198.51.100.70
LEASE4=198.51.100.80
renew_in_place 8a "$LEASE2" "$LEASE3" "addr add $LEASE3/24 dev wan2
addr del $LEASE2/24 dev wan2"
renew_in_place 8b "$LEASE3" "$LEASE4" "addr del $LEASE3/24 dev wan2
addr add $LEASE4/24 dev wan2
route replace default via $LAB_ISP2_GW dev wan2 metric 100"
# Control: the address goes with nothing in its place; the watch sees it.
watch_start "$DW/watch-8c"
sleep 0.5
lab_gw ip addr del "$LEASE4/24" dev wan2
lab_poll 5 _status_is isp2 down
sleep 0.3
watch_stop
check "8c control: the address removed with none in its place: the watch sees isp2 down (\"no address\")" \
	"samples: $(watch_states "$DW/watch-8c"); isp2: $(fo_status isp2)" \
	eval '! watch_all_online "$DW/watch-8c" && grep -q " down$" "$DW/watch-8c" && [[ $(fo_status isp2) =~ no\ address ]]'

# --- 9. a restarted agent says why a WAN is down ------------------------------------------
# isp2 is down with "no address" (8c) and the agent stops; while none runs,
# wan2 goes down, then away: the next agent adopts the dataplane and gives
# the reason of now, not the one it found pinned.
fo_agent_stop
pinned=$(fo_status isp2)
lab_gw ip link set wan2 down
check "9a control: with no agent, xwan status shows the last agent's reason for isp2 (\"no address\")" \
	"isp2: $pinned" eval '[[ $pinned =~ no\ address ]]'
fo_agent_start "$DW/agent.yaml" || info "restart failed: $(tail -n 5 "$FO_AGENT_LOG" | ev)"
lab_poll 5 eval '[[ $(fo_status isp2) =~ link\ down ]]'
check "9b wan2 set down while no agent ran: the adopting agent shows isp2 down, \"link down\"" \
	"isp2: $(fo_status isp2)" eval '[[ $(fo_status isp2) =~ ^down\ no\ .*link\ down ]]'
fo_agent_stop
lab_gw ip link del wan2
fo_agent_start "$DW/agent.yaml" || info "restart failed: $(tail -n 5 "$FO_AGENT_LOG" | ev)"
lab_poll 5 eval '[[ $(fo_status isp2) =~ no\ interface ]]'
check "9c wan2 deleted while no agent ran: the adopting agent shows isp2 down, \"no interface\"" \
	"isp2: $(fo_status isp2)" eval '[[ $(fo_status isp2) =~ ^down\ no\ .*no\ interface ]]'
seen=$(whoami_from "$C_DEFAULT" 10 | sort -u | tr '\n' ' ')
check "9d isp1 carries every new connection meanwhile (seen from $LAB_WAN1_IP only)" \
	"seen: $seen" eval '[ "$seen" = "$LAB_WAN1_IP " ]'

echo "# $NPASS passed, $NFAIL failed"
[ "$NFAIL" = 0 ]
