#!/bin/bash
# tests/e2e/test_ha.sh - an xwan HA pair (tests/e2e/ha_lab.sh: two routers on
# three switches and a sync cable) keeps NATed sessions through the loss of
# the active router:
#   1. the passive holds the flows the active forwards (download, UDP stream,
#      interactive TCP session) and the sticky client's binding; /metrics
#      shows the roles and the sync;
#   1d. switches that flood (bridge ageing 0) hand r1's frames to r2 too:
#      only r1 forwards them, every datagram reaches the internet once;
#   1e. the passive holds the client socket's endpoint-independent NAT
#      mapping (made by a flow to one "STUN server", 192.0.2.101), and after
#      the takeover (2g) the socket's first flow to a second one (192.0.2.102)
#      leaves with the same public address:port; control (6c): with the sync
#      blocked the mapping does not survive a takeover;
#   2. the active dies (all links down at once, every process killed): the
#      passive takes the addresses; the download completes with the right
#      sha256 and no reset, the UDP stream and the held session go on, the
#      ISPs see no foreign source, new connections keep the sticky client's
#      address. The longest stall and the UDP loss are
#      measured and reported (targets: docs/benchmarks.md, not asserted);
#   3. the old active comes back with preempt off: nothing moves, it gets
#      the whole table;
#   4. split brain: the sync link fails while both stay up: one router holds
#      the addresses; flows opened meanwhile reach the peer when the link
#      returns (resent or resynced, counted);
#   4e. the active's own deletions (a flush: `xwan gateway down`) reach the
#      passive; control: with the sync blocked the passive keeps the flows;
#   4g. `xwan gc` on the active is run by its agent (whose deletions reach
#      the peer), not in the CLI's process;
#   5. a config that differs is counted (reload of the passive), and a
#      reload back clears it; a reload of the active's VRRP priority reaches
#      keepalived without a restart or a role change;
#   6. control: with the sync blocked, a takeover loses the download.
# Needs root and keepalived. Prints PASS:/FAIL: lines; exit 1 if any failed.
set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/ha_lab.sh
. "$E2E_DIR/ha_lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"

METER="$LAB_PY $LAB_TOOLS/hameter.py"
RATE=$((4 * 1024 * 1024))       # the download lasts about 8 s
now() { date +%s.%N; }
after() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
counters() { echo "isp1.spoofed=$(lab_spoof_isp1) isp2.spoofed=$(lab_spoof_isp2) inet.lan_leak=$(lab_leak_inet)"; }
counters_zero() { [ "$(counters)" = "isp1.spoofed=0 isp2.spoofed=0 inet.lan_leak=0" ]; }
jget() { "$LAB_PY" -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$@" 2>/dev/null; }
# the passive holds every forwarded flow the active holds
in_sync() { # ACTIVE PASSIVE
	local a
	a=$(ha_flowset "$1")
	[ -n "$a" ] && [ -z "$(comm -23 <(echo "$a") <(ha_flowset "$2"))" ]
}
has_flows() { # ROUTER FILE: every line of FILE (client ports) is a flow the router holds
	local set
	set=$(ha_flowset "$1")
	while read -r p; do grep -q " $LAB_CLIENT_IP:$p " <<<"$set" || return 1; done <"$2"
}
lacks_flows() { # ROUTER FILE: none of them
	local set
	set=$(ha_flowset "$1")
	while read -r p; do grep -q " $LAB_CLIENT_IP:$p " <<<"$set" && return 1; done <"$2"
	return 0
}
# N new UDP flows from the client (each its own source port, each answered);
# their ports go to FILE
udp_flows() { # N FILE
	lab_client "$LAB_PY" -c '
import socket, sys
ports = []
for i in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect((sys.argv[1], 5300))
    for t in range(3):
        s.send(b"hi")
        try:
            s.recv(100); break
        except socket.timeout:
            pass
    ports.append(s.getsockname()[1])
print("\n".join(map(str, ports)))' "$LAB_SERVER" "$1" >"$2"
}
# the held session answered after T (and never ended)
hold_ok_after() { # FILE T
	awk -v t="$2" '$2 == "reply" && $1 > t { ok = 1 } $2 == "error" { bad = 1 } END { exit !(ok && !bad) }' "$1"
}
hold_one_port() { hold_ok_after "$1" "$2" && [ "$(awk '$2 == "reply" { print $4 }' "$1" | sort -u | wc -l)" = 1 ]; }
hold_ports() { awk '$2 == "reply" { print $4 }' "$1" | sort -u | tr '\n' ' '; }
metric() { ha_metric "$@" 2>/dev/null || echo "none"; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
_role_and_vips() { [ "$(ha_role "$1")" = "$2" ] && [ "$(ha_vips "$1")" = "$3" ]; }

ha_lab_init "${XWAN_LAB_PREFIX:-ha$$}" || exit 1
S=$LAB_STATE
e2e_traps 'touch "$S/udp.stop" 2>/dev/null; ha_lab_destroy'
echo "# test_ha: lab=$LAB_PREFIX"
if ! setup_err=$(ha_lab_create 2>&1); then
	fail "HA lab setup (r1 active, r2 passive)" "$setup_err"
	exit 1
fi
SHA=$(cat "$LAB_WWW/blob.sha256")

# --- 1. traffic through the active; the passive follows -------------------------------------
lab_client $METER download --url "$LAB_BLOB_URL" --sha256 "$SHA" --rate "$RATE" \
	--out "$S/dl.json" --ready "$S/dl.ready" --timeout 20 >/dev/null 2>&1 &
DL=$!
lab_client $METER udp --server "$LAB_SERVER" --port 5301 --pps 200 --out "$S/udp.json" \
	--ready "$S/udp.ready" --stop "$S/udp.stop" >/dev/null 2>&1 &
UDP=$!
lab_client "$LAB_PY" "$LAB_TOOLS/failover.py" hold --out "$S/hold.log" --server "$LAB_SERVER" \
	--port "$HA_ECHO_PORT" --every 0.1 --ready "$S/hold.ready" >/dev/null 2>&1 &
lab_poll 20 test -f "$S/dl.ready"
lab_poll 10 test -f "$S/udp.ready"
lab_poll 10 test -f "$S/hold.ready"
lab_poll 10 in_sync r1 r2
check "1a the passive r2 holds every flow the active r1 forwards (download, UDP, held session)" \
	"r1: $(ha_flowset r1 | tr '\n' ';') r2: $(ha_flowset r2 | tr '\n' ';')" in_sync r1 r2
check "1b /metrics: r1 xwan_ha_role{role=\"active\"} 1, r2 passive 1; r1 sent and r2 received sync messages; hashes match" \
	"r1 active=$(metric r1 'xwan_ha_role{role="active"}') r2 passive=$(metric r2 'xwan_ha_role{role="passive"}') sent=$(metric r1 'xwan_ha_sync_messages_total{kind="sent"}') received=$(metric r2 'xwan_ha_sync_messages_total{kind="received"}') match=$(metric r2 xwan_ha_config_hash_match)" \
	bash -c '[ "$1" = 1 ] && [ "$2" = 1 ] && [ "$3" -ge 1 ] && [ "$4" -ge 1 ] && [ "$5" = 1 ]' _ \
	"$(metric r1 'xwan_ha_role{role="active"}')" "$(metric r2 'xwan_ha_role{role="passive"}')" \
	"$(metric r1 'xwan_ha_sync_messages_total{kind="sent"}')" \
	"$(metric r2 'xwan_ha_sync_messages_total{kind="received"}')" "$(metric r2 xwan_ha_config_hash_match)"
info "r1 sync lag $(metric r1 xwan_ha_sync_lag_seconds) s, flows in sync $(metric r1 xwan_ha_flows_in_sync)"

# sticky clients: the group is sticky, so the client's flows share one NAT address
pre_nat=$(ha_flowset r1 | awk -v c="$LAB_CLIENT_IP:" 'index($2, c) == 1 { split($3, a, ":"); print a[1] }' | sort -u | tr '\n' ' ')
sticky_n() { ip netns exec "$(ha_ns "$1")" bpftool -j map dump pinned "$(ha_pin "$1")/sticky" 2>/dev/null | "$LAB_PY" -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
check "1c the passive holds the client's sticky binding (r1 $(sticky_n r1), r2 $(sticky_n r2) bindings; its flows all NATed to ${pre_nat% })" \
	"r1: $(sticky_n r1) r2: $(sticky_n r2) nat: $pre_nat" \
	bash -c '[ "$1" -ge 1 ] && [ "$2" = "$1" ] && [ "$(echo $3 | wc -w)" = 1 ]' _ "$(sticky_n r1)" "$(sticky_n r2)" "$pre_nat"

# --- 1d. frames a switch floods to both routers: only their addressee forwards them ----------
# The three switches forget every MAC at once (ageing 0: a hub), so each frame
# for r1 also reaches r2, which holds the same flows. r2 must leave them to its
# kernel (verdict not_our_mac), else the internet gets every datagram twice.
stat_sum() { # ROUTER AWK-REGEX: the sum of the xwan_packets_total lines that match
	ha_xwan "$1" stats 2>/dev/null | awk -v re="$2" '$1 ~ /^xwan_packets_total/ && $1 ~ re { n += $2 } END { print n + 0 }'
}
lab_inet nft -f - <<-EOF
	table ip haflood {
		counter burst { }
		chain pre {
			type filter hook prerouting priority raw; policy accept;
			udp dport 5302 counter name "burst" drop
		}
	}
EOF
for sw in "$HA_NS_LAN" "$HA_NS_SW1" "$HA_NS_SW2"; do ip -n "$sw" link set br0 type bridge ageing_time 0; done
fwd0=$(stat_sum r2 'verdict="forward"') other0=$(stat_sum r2 'hook="xdp_(lan|wan)".*reason="not_our_mac"')
lab_client "$LAB_PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(300):
    s.sendto(b"flood %d" % i, (sys.argv[1], 5302)); time.sleep(0.002)' "$LAB_SERVER"
sleep 0.5
fwd1=$(stat_sum r2 'verdict="forward"') other1=$(stat_sum r2 'hook="xdp_(lan|wan)".*reason="not_our_mac"')
burst=$(lab_inet nft list counter ip haflood burst | awk '/packets/ { print $2 }')
for sw in "$HA_NS_LAN" "$HA_NS_SW1" "$HA_NS_SW2"; do ip -n "$sw" link set br0 type bridge ageing_time 30000; done
lab_inet nft delete table ip haflood
check "1d switches flooding (bridge ageing 0): 300 datagrams reach the internet once each (through r1); r2 forwarded nothing, though the flooded frames did reach it (control: its not_our_mac counter grew by the 300 and the streams' frames)" \
	"inet got $burst of 300; r2 forward verdicts $fwd0 -> $fwd1, r2 XDP not_our_mac $other0 -> $other1" \
	bash -c '[ "$1" -gt 0 ] && [ "$1" -le 300 ] && [ "$2" = "$3" ] && [ $(($5 - $4)) -ge 300 ]' _ \
	"${burst:-0}" "$fwd0" "$fwd1" "$other0" "$other1"

# --- 1e. the client socket's NAT mapping ---------------------------------------------------------
# Port 999 is below nat_ports (1024-65535): no port preservation, so a router
# without the mapping would pick another random port (a control that can fail).
MAP_S1=192.0.2.101 MAP_S2=192.0.2.102 MAP_PORT=7000
for a in $MAP_S1 $MAP_S2; do lab_inet ip addr add "$a/32" dev lo; done
lab_inet "$LAB_PY" "$LAB_TOOLS/natprobe.py" serve "$MAP_S1:$MAP_PORT" "$MAP_S2:$MAP_PORT" \
	>"$LAB_LOG/natprobe.log" 2>&1 &
lab_wait_listen "$LAB_NS_INET" tcp "$MAP_PORT" || fail "natprobe servers" "$(cat "$LAB_LOG/natprobe.log")"
# seen_from SPORT SERVER: the public address:port SERVER saw the client's UDP socket SPORT as
seen_from() {
	timeout 30 ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/natprobe.py" udp \
		--bind "$LAB_CLIENT_IP:$1" --to "$2:$MAP_PORT" | awk '$1 == "seen" { print $4; exit }'
}
has_mapping() { # ROUTER SPORT PUBLIC: `xwan flows` lists the socket's mapping to PUBLIC
	ha_xwan "$1" flows --client "$LAB_CLIENT_IP" 2>/dev/null | grep -Eq "^udp +$LAB_CLIENT_IP:$2 +$3 "
}
_mapped_not_preserved() { [ -n "$1" ] && [ "${1##*:}" != 999 ] && has_mapping r2 999 "$1"; }
map_ep=$(seen_from 999 "$MAP_S1")
lab_poll 10 has_mapping r2 999 "$map_ep"
check "1e the passive r2 holds the NAT mapping of the client's UDP socket :999 ($map_ep, made on r1 by a flow to $MAP_S1)" \
	"r1: $(ha_xwan r1 flows --client "$LAB_CLIENT_IP" 2>&1 | grep -E "^udp +$LAB_CLIENT_IP:999 " | tr '\n' ';') r2: $(ha_xwan r2 flows --client "$LAB_CLIENT_IP" 2>&1 | grep -E "^udp +$LAB_CLIENT_IP:999 " | tr '\n' ';')" \
	_mapped_not_preserved "$map_ep"

# --- 2. the active dies ---------------------------------------------------------------------------
t_kill=$(now)
ha_kill r1
ha_wait_role r2 active 15
t_active=$(now)
check "2a r2 takes over: active, holding the 3 virtual addresses" \
	"r2 role $(ha_role r2), vips $(ha_vips r2)" _role_and_vips r2 active 3
wait "$DL"
dl_err=$(jget "$S/dl.json" err)
check "2b the download (${HA_LAB_BLOB_MB} MiB, 4 MiB/s) completes across the takeover: right sha256, no reset" \
	"$(cat "$S/dl.json" 2>/dev/null)" [ "$(jget "$S/dl.json" ok)" = True ]
lab_poll 5 hold_ok_after "$S/hold.log" "$(after -1 "$t_active")"
check "2c the interactive session (one held TCP connection) answers after the takeover, same NAT port, never reset" \
	"$(tail -n 3 "$S/hold.log" | tr '\n' ';') ports seen: $(hold_ports "$S/hold.log")" \
	hold_one_port "$S/hold.log" "$(after -1 "$t_active")"
touch "$S/udp.stop"
wait "$UDP"
rm -f "$S/udp.stop"
check "2d the UDP stream (200 datagrams/s, echoed) goes on through r2" \
	"$(cat "$S/udp.json" 2>/dev/null)" \
	bash -c '[ -n "$1" ] && [ "$1" -gt 0 ] && [ "$2" -lt "$3" ]' _ \
	"$(jget "$S/udp.json" received)" "$(jget "$S/udp.json" lost)" "$(jget "$S/udp.json" sent)"
info "takeover: r2 active $(after "$t_kill" "$t_active") s after the kill (as the test polls); download longest stall $(jget "$S/dl.json" stall_s) s; UDP lost $(jget "$S/udp.json" lost) of $(jget "$S/udp.json" sent) datagrams = $(jget "$S/udp.json" lost_s) s, longest gap $(jget "$S/udp.json" gap_s) s"
echo "HA_FIGURES stall_s=$(jget "$S/dl.json" stall_s) udp_lost_s=$(jget "$S/udp.json" lost_s) udp_gap_s=$(jget "$S/udp.json" gap_s) takeover_s=$(after "$t_kill" "$t_active")"
check "2e the ISPs saw no foreign source (spoofed counters 0)" "$(counters); $(lab_drop_evidence)" counters_zero
who=$(lab_client "$LAB_PY" "$LAB_TOOLS/client.py" tcp-whoami --count 8 2>&1)
# without the binding r2 would hash 8 new connections over two WANs (all on one: 1 in 128)
who_all() { [ "$(echo "$who" | "$LAB_PY" -c 'import json,sys; print(json.load(sys.stdin)["by_addr"].get(sys.argv[1], 0))' "$1" 2>/dev/null)" = 8 ]; }
check "2f new connections after the takeover keep the sticky client's address (${pre_nat% })" "$who" \
	who_all "${pre_nat% }"
map_ep2=$(seen_from 999 "$MAP_S2")
check "2g after the takeover the socket :999's first flow to $MAP_S2 leaves with the mapping's public address:port ($map_ep)" \
	"$MAP_S1 saw $map_ep before the takeover (through r1), $MAP_S2 sees ${map_ep2:-nothing} (through r2)" \
	bash -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ "$map_ep" "$map_ep2"

# --- 3. the old active returns; preempt is off ------------------------------------------------
t_hold=$(now)
ha_start r1 && ha_links r1 up
ha_wait_role r1 passive 30
lab_poll 15 in_sync r2 r1
check "3a failback with preempt off: r1 returns passive with no address, r2 stays active with all 3" \
	"r1 $(ha_role r1)/$(ha_vips r1) vips, r2 $(ha_role r2)/$(ha_vips r2) vips" \
	bash -c '[ "$1" = passive ] && [ "$2" = 0 ] && [ "$3" = active ] && [ "$4" = 3 ]' _ \
	"$(ha_role r1)" "$(ha_vips r1)" "$(ha_role r2)" "$(ha_vips r2)"
check "3b r1 got r2's whole table (bulk resync) and the held session still answers" \
	"r2: $(ha_flowset r2 | tr '\n' ';') r1: $(ha_flowset r1 | tr '\n' ';') resyncs $(metric r2 xwan_ha_bulk_resyncs_total)" \
	in_sync r2 r1
lab_poll 5 hold_ok_after "$S/hold.log" "$(now)"
check "3c the held session answers after r1's return" "$(tail -n 2 "$S/hold.log" | tr '\n' ';')" \
	hold_ok_after "$S/hold.log" "$t_hold"

# --- 4. split brain: the sync link fails, both stay up ------------------------------------------
resent0=$(metric r2 'xwan_ha_sync_messages_total{kind="resent"}')
resync0=$(metric r2 xwan_ha_bulk_resyncs_total)
ip -n "$HA_NS_R2" link set sync0 down
_peer_down() { ha_xwan "$1" ha | grep -q '^peer: *down'; }
lab_poll 10 _peer_down r2
lab_poll 10 _peer_down r1
udp_flows 20 "$S/split.ports"
check "4a sync link down: only r2 holds the virtual addresses (VRRP on the LAN decides), r1 none" \
	"r1 $(ha_role r1)/$(ha_vips r1), r2 $(ha_role r2)/$(ha_vips r2)" \
	bash -c '[ "$1" = 0 ] && [ "$2" = 3 ]' _ "$(ha_vips r1)" "$(ha_vips r2)"
check "4b control: the 20 UDP flows opened meanwhile are on r2, not on r1" \
	"ports $(tr '\n' ' ' <"$S/split.ports")" has_flows r2 "$S/split.ports"
lacks_flows r1 "$S/split.ports" || fail "4b' r1 has flows it could not have been sent" "$(ha_flowset r1 | head -n 5)"
ip -n "$HA_NS_R2" link set sync0 up
t_sync=$(now)
lab_poll 20 has_flows r1 "$S/split.ports"
t_conv=$(now)
# (r2's counters may reach /metrics a moment after the flows reach r1)
converged_counted() {
	resent1=$(metric r2 'xwan_ha_sync_messages_total{kind="resent"}')
	resync1=$(metric r2 xwan_ha_bulk_resyncs_total)
	has_flows r1 "$S/split.ports" && { [ "$resent1" -gt "$resent0" ] || [ "$resync1" -gt "$resync0" ]; }
}
lab_poll 10 converged_counted
converged_counted
check "4c the link returns: r1 holds the 20 flows, counted as resent messages or a bulk resync" \
	"resent $resent0 -> $resent1, bulk resyncs $resync0 -> $resync1, after $(after "$t_sync" "$t_conv") s" \
	converged_counted
check "4d still one active: r2 with the addresses, r1 passive" "r1 $(ha_role r1)/$(ha_vips r1), r2 $(ha_role r2)/$(ha_vips r2)" \
	bash -c '[ "$1" = passive ] && [ "$2" = 0 ] && [ "$3" = 3 ]' _ "$(ha_role r1)" "$(ha_vips r1)" "$(ha_vips r2)"
info "split brain: converged $(after "$t_sync" "$t_conv") s after the link returned; resent $resent0 -> $resent1, resyncs $resync0 -> $resync1"

# --- 4e. the active's own deletions reach the passive -------------------------------------------
# r2 (active) flushes every flow of the WAN the 20 UDP flows use (maintenance:
# `xwan gateway down`, the same flush as a gateway going down or a WAN
# address changing). The dataplane reports only its own deletions; the agent's
# must reach r1 too, or r1 would bring dead flows back on a takeover.
split_wan=$(ha_flowset r2 | awk -v c="$LAB_CLIENT_IP:$(head -n 1 "$S/split.ports")" '$2 == c { print $5; exit }')
ha_sync_block r1 on
ha_xwan r2 gateway down "$split_wan" --reason "test_ha 4e" >"$S/maint.log" 2>&1
lab_poll 10 lacks_flows r2 "$S/split.ports"
sleep 0.5   # what r2 sends now is dropped at r1
_flushed_here_not_there() { lacks_flows r2 "$S/split.ports" && has_flows r1 "$S/split.ports"; }
check "4e control: r2 flushed the 20 flows of $split_wan; with the sync blocked r1 still holds them" \
	"r2: $(ha_flowset r2 | wc -l) flows, r1: $(ha_flowset r1 | tr '\n' ';'); $(cat "$S/maint.log")" \
	_flushed_here_not_there
ha_sync_block r1 off
lab_poll 15 lacks_flows r1 "$S/split.ports"
check "4f the sync returns: r2's deletions reach r1, which holds none of the 20 flows either" \
	"r1: $(ha_flowset r1 | tr '\n' ';')" lacks_flows r1 "$S/split.ports"
ha_xwan r2 gateway up "$split_wan" >>"$S/maint.log" 2>&1
# `xwan gc` deletes in its own process, which the agent's deletion hook does
# not see: on an HA router the agent must run the sweep.
gc_out=$(ha_xwan r2 gc 2>&1)
check "4g xwan gc on the active r2 is run by its agent (whose deletions reach r1), not by the CLI" \
	"$gc_out; agent log: $(grep 'xwan gc:' "$LAB_LOG/r2-agent.log" | tail -n 1)" \
	bash -c 'grep -q "swept by the agent" <<<"$1" && grep -q "xwan gc: removed" "$2"' _ "$gc_out" "$LAB_LOG/r2-agent.log"

# --- 5. a config that differs is counted -------------------------------------------------------
mm0=$(metric r2 xwan_ha_config_hash_mismatches_total)
cp "$S/r1.yaml" "$S/r1.orig.yaml"
sed -i 's/udp: 60/udp: 61/' "$S/r1.yaml"
ha_xwan r1 reload -c "$S/r1.yaml" >"$S/reload.log" 2>&1
_mismatch() { [ "$(metric r2 xwan_ha_config_hash_match)" = 0 ] && [ "$(metric r2 xwan_ha_config_hash_mismatches_total)" -gt "$1" ]; }
lab_poll 10 _mismatch "$mm0"
check "5a r1 reloaded with another UDP timeout: r2 shows the hash mismatch and counts it" \
	"match $(metric r2 xwan_ha_config_hash_match), mismatches $mm0 -> $(metric r2 xwan_ha_config_hash_mismatches_total); $(tail -n 2 "$S/reload.log")" \
	_mismatch "$mm0"
cp "$S/r1.orig.yaml" "$S/r1.yaml"
ha_xwan r1 reload -c "$S/r1.yaml" >>"$S/reload.log" 2>&1
_match() { [ "$(metric r2 xwan_ha_config_hash_match)" = 1 ]; }
lab_poll 10 _match
check "5b reloaded back: the hashes match again" "match $(metric r2 xwan_ha_config_hash_match)" _match

# the active's VRRP priority reloaded: keepalived is told (SIGHUP), not restarted, the role stays
ka_pid=$(cat "$S/r2-ha/keepalived.pid" 2>/dev/null)
sed -i 's/priority: 100/priority: 120/' "$S/r2.yaml"
ha_xwan r2 reload -c "$S/r2.yaml" >>"$S/reload.log" 2>&1
_conf_prio() { grep -q 'priority 120' "$S/r2-ha/keepalived.conf"; }
lab_poll 10 _conf_prio
sleep 1     # keepalived re-reads its config; a role change would show by now
check "5c reload of the active's ha.priority: keepalived.conf rewritten, same keepalived (pid $ka_pid), r2 still active with the addresses, hashes still match" \
	"conf: $(grep priority "$S/r2-ha/keepalived.conf" | tr -d '\t'); pid now $(cat "$S/r2-ha/keepalived.pid" 2>/dev/null); r2 $(ha_role r2)/$(ha_vips r2); match $(metric r1 xwan_ha_config_hash_match)" \
	bash -c '[ -n "$1" ] && [ "$1" = "$2" ] && [ "$3" = active ] && [ "$4" = 3 ] && [ "$5" = 1 ] && grep -q "priority 120" "$6"' _ \
	"$ka_pid" "$(cat "$S/r2-ha/keepalived.pid" 2>/dev/null)" "$(ha_role r2)" "$(ha_vips r2)" "$(metric r1 xwan_ha_config_hash_match)" "$S/r2-ha/keepalived.conf"

# --- 6. control: no sync, no session -------------------------------------------------------------
# r1 stops accepting sync messages: what r2 forwards from now on is r2's alone.
ha_sync_block r1 on
lab_client $METER download --url "$LAB_BLOB_URL" --sha256 "$SHA" --rate "$RATE" \
	--out "$S/dl2.json" --ready "$S/dl2.ready" --timeout 5 >/dev/null 2>&1 &
DL=$!
lab_poll 20 test -f "$S/dl2.ready"
ctl_ep=$(seen_from 998 "$MAP_S1")
lab_poll 10 has_mapping r2 998 "$ctl_ep"
ha_kill r2
ha_wait_role r1 active 15
ctl_ep2=$(seen_from 998 "$MAP_S2")
wait "$DL"
check "6a control: sync blocked, the active dies mid-download: r1 takes over without the flow and the download fails" \
	"r1 $(ha_role r1); $(cat "$S/dl2.json" 2>/dev/null)" \
	bash -c '[ "$1" != True ] && [ -n "$2" ]' _ "$(jget "$S/dl2.json" ok)" "$(jget "$S/dl2.json" err)"
info "control download: $(jget "$S/dl2.json" err) after $(jget "$S/dl2.json" bytes) bytes"
check "6c control: sync blocked, the socket :998's mapping on r2 ($ctl_ep) does not survive: its first flow to $MAP_S2 through r1 leaves from another public port" \
	"$MAP_S1 saw $ctl_ep through r2, $MAP_S2 sees ${ctl_ep2:-nothing} through r1" \
	bash -c '[ -n "$1" ] && [ -n "$2" ] && [ "$1" != "$2" ]' _ "$ctl_ep" "$ctl_ep2"
check "6b the ISPs still saw no foreign source" "$(counters); $(lab_drop_evidence)" counters_zero

echo "# test_ha: $NPASS pass, $NFAIL fail"
[ "$NFAIL" = 0 ]
