#!/bin/bash
# tests/e2e/test_ipv6_masq_renumber.sh - nat6: masquerade under the agent
# (issue 13) when the ISP renumbers the WAN: flows NATed to the old IPv6
# address are flushed, so a LAN socket's next datagram leaves from the new
# one (a flow left alone keeps the old address, answered only while the
# ISP's neighbour entry for it lasts: without the flush check 2 fails, the
# server seeing 2001:db8:1::2 again).
#
#   1  isp1 on nat6 masquerade (isp2 without IPv6): a UDP socket's request
#      is answered, the server saw the WAN's address 2001:db8:1::2
#   2  the gw's wan1 address becomes 2001:db8:1::3 (added, the old one
#      removed, as a new lease would): the agent logs the change and flushes
#      isp1's IPv6 flows; xwan status shows the new address; the same socket's
#      next request is answered, the server saw 2001:db8:1::3
# Needs root. Prints PASS:/FAIL: lines; exit 1 if any check failed.
set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"
# shellcheck source=tests/e2e/failover_lib.sh
. "$E2E_DIR/failover_lib.sh"

export XWAN_LAB_V6=1 XWAN_LAB_CONFIG=$E2E_DIR/lab-v6.yaml
lab_init_names "${XWAN_LAB_PREFIX:-v6r$$}"
cleanup() { fo_agent_stop; lab_destroy; }
e2e_traps cleanup
echo "# test_ipv6_masq_renumber: lab=$LAB_PREFIX"
if ! setup_err=$(lab_create xwan 2>&1); then
	fail "lab setup (XWAN_LAB_V6=1)" "$setup_err"
	exit 1
fi
_fo_state_init
cfg=$FO_DIR/masq.yaml
sed -e 's|^    nat6: npt|    nat6: masquerade|' -e '/^    npt:/d' -e '/^    gateway6: 2001:db8:2::1/d' \
	"$XWAN_LAB_CONFIG" >"$cfg"
if ! fo_agent_start "$cfg"; then
	fail "xwan run -c $cfg" "$(tail -n 20 "$FO_AGENT_LOG")"
	exit 1
fi
NEW6=2001:db8:1::3
# wan6_addr GW: the IPv6 address xwan status shows for GW (the dataplane's)
wan6_addr() { lab_xwan status 2>/dev/null | awk -v g="$1" '/^WAN6 / { t = 1; next } /^$/ { t = 0 } t && $1 == g { split($3, a, "/"); print a[1] }'; }
wan6_is() { [ "$(wan6_addr "$1")" = "$2" ]; }

# One UDP socket: a request, then (once go exists) a request every 0.2 s until
# one is answered; prints what the server saw each time.
ask_py='
import os, socket, sys, time
srv, go = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("fd00:1::2", 40301)); s.settimeout(0.2)
def ask(deadline):
    while time.time() < deadline:
        s.sendto(b"q", (srv, 5300))
        try:
            return s.recv(200).decode().split()[1].rpartition(":")[0]
        except socket.timeout:
            pass
    return "none"
print(ask(time.time() + 20), flush=True)
end = time.time() + 60
while not os.path.exists(go) and time.time() < end:
    time.sleep(0.05)
print(ask(time.time() + 15), flush=True)
'
out=$LAB_STATE/ask.out go=$LAB_STATE/ask.go
rm -f "$go"
lab_client timeout 90 "$LAB_PY" -c "$ask_py" "$LAB_SERVER6" "$go" >"$out" 2>&1 &
ask_pid=$!
lab_poll 25 test -s "$out"
first=$(head -1 "$out")
check "1 masquerade: a UDP request is answered, the server saw $LAB_WAN1_IP6 ($first)" "$first" \
	[ "$first" = "$LAB_WAN1_IP6" ]

mark=$(fo_log_lines)
lab_gw ip -6 addr add "$NEW6/64" dev wan1 nodad
lab_gw ip -6 addr del "$LAB_WAN1_IP6/64" dev wan1
lab_poll 20 fo_log_grep "$mark" "gateway isp1: IPv6 address $LAB_WAN1_IP6 -> $NEW6"
lab_poll 20 fo_log_grep "$mark" 'gateway isp1 \(ipv6\): flushed [0-9]+ flows: its IPv6 address changed'
lab_poll 20 wan6_is isp1 "$NEW6"
changed=$(fo_log_grep "$mark" "IPv6 address $LAB_WAN1_IP6 -> $NEW6")
flushed=$(fo_log_grep "$mark" 'gateway isp1 \(ipv6\): flushed [0-9]+ flows')
check "2 the agent saw the renumbering and flushed isp1's IPv6 flows ($changed; $flushed)" \
	"$(fo_log_since "$mark" | tail -n 8)" [ -n "$changed" -a -n "$flushed" ]
check "2 xwan status shows isp1's new IPv6 address ($(wan6_addr isp1))" "$(lab_xwan status 2>&1 | tail -n 4)" \
	[ "$(wan6_addr isp1)" = "$NEW6" ]
touch "$go"
wait "$ask_pid"
second=$(sed -n 2p "$out")
check "2 masquerade: the same socket's next request is answered from the new address ($second)" \
	"$(cat "$out")" [ "$second" = "$NEW6" ]
check "2 control: the two answers name different addresses ($first, $second)" "$first $second" \
	[ "$first" != "$second" ]

echo "# test_ipv6_masq_renumber: $NPASS passed, $NFAIL failed"
[ "$NFAIL" = 0 ]
