#!/bin/bash
# tests/e2e/test_l3_wan.sh - a point-to-point L3 WAN without Ethernet header
# (XWAN_LAB_WAN2=tun, tests/e2e/lab.sh): wan2 is a TUN device (198.51.100.2
# peer 198.51.100.1) whose packets socat carries over UDP to a TUN device in
# isp2. It stands in for ppp0 or a raw-IP wwan0: the lab kernel has no PPP.
# The config (lab-tun.yaml) sends new flows to isp2 first, isp1 is the
# fallback. xwan attaches tc only there (no XDP on L3 devices), parses it with
# no link header, NATs on its egress and never rewrites a MAC toward it.
# Needs root. Prints PASS:/FAIL: lines; exit 1 if any check failed.
set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"

jget() { "$LAB_PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
metric() { lab_xwan stats 2>/dev/null | "$LAB_PY" "$LAB_TOOLS/promval.py" "$1"; }
client_py() { timeout 180 ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/client.py" "$@"; }
counters() { echo "isp1.spoofed=$(lab_spoof_isp1) isp2.spoofed=$(lab_spoof_isp2) inet.lan_leak=$(lab_leak_inet)"; }
counters_zero() { [ "$(counters)" = "isp1.spoofed=0 isp2.spoofed=0 inet.lan_leak=0" ]; }

export XWAN_LAB_WAN2=tun XWAN_LAB_CONFIG=$E2E_DIR/lab-tun.yaml
lab_init_names "${XWAN_LAB_PREFIX:-xt$$}"
e2e_traps lab_destroy
echo "# test_l3_wan: lab=$LAB_PREFIX (wan2: TUN over UDP, a stand-in for ppp0/wwan0)"
if ! setup_err=$(lab_create xwan 2>&1); then
	fail "lab setup (TUN wan2)" "$setup_err"
	exit 1
fi

# --- 1. the device and its path -------------------------------------------------------
link=$(lab_gw ip -d link show wan2)
status=$(lab_xwan status 2>&1)
echo "$status" | sed -n '/^ROLE/,$p' | sed 's/^/  # /'
check "1a wan2 is a point-to-point TUN device without link header" "$link" \
	grep -q 'POINTOPOINT' <<<"$link"
check "1b xwan status: wan2 is tun, handled by tc in, the kernel path out (L3 device), no XDP on it" \
	"$status; $link" bash -c 'grep -qE "^wan +wan2 +tun +tc +kernel +L3 device" <<<"$1" && ! grep -q "prog/xdp" <<<"$2"' _ "$status" "$link"

# --- 2. TCP, UDP, ICMP over it: NATed to its address, replies come back ------------------
before=$(wc -l <"$LAB_PEER_LOG")
t=$(client_py tcp-whoami --count 30 --bind 10.1.0.2 --bind 10.1.0.3)
srv=$(tail -n +"$((before + 1))" "$LAB_PEER_LOG" | awk -v a="$LAB_WAN2_IP" '$1 == "tcp" && $2 == a' | wc -l)
check "2a 30 TCP connections succeed, and the server saw every one from $LAB_WAN2_IP (wan2's address)" \
	"server saw $srv from $LAB_WAN2_IP; $t" \
	[ "$(jget "$t" 'd["ok"]')" = 30 -a "$(jget "$t" 'd["by_addr"].get("'$LAB_WAN2_IP'", 0)')" = 30 -a "$srv" = 30 ]
u=$(client_py udp-whoami --count 10 --bind 10.1.0.2)
check "2b 10 UDP requests answered, the server saw $LAB_WAN2_IP" "$u" \
	[ "$(jget "$u" 'd["by_addr"].get("'$LAB_WAN2_IP'", 0)')" = 10 ]
p=$(lab_client timeout 60 ping -n -q -c 20 -i 0.05 -W 1 "$LAB_SERVER" 2>&1 | grep -o '[0-9.]*% packet loss')
check "2c 20 pings over wan2: 0% loss" "$p" [ "$p" = "0% packet loss" ]
d=$(client_py fetch --url "$LAB_BLOB_URL" --sha256 "$(cat "$LAB_WWW/blob.sha256")" --parallel 1)
check "2d the 8 MiB blob comes back over wan2 with the right sha256" "$d" [ "$(jget "$d" 'd["ok"]')" = 1 ]
peers=$(lab_xwan flows --wan isp2 2>&1 | grep -c "$LAB_WAN2_IP")
info "flows on isp2 naming $LAB_WAN2_IP: $peers"

# --- 3. where it was translated --------------------------------------------------------
eg=$(metric 'xwan_packets_total{hook="tc_wan_egress",verdict="forward",reason="lan_to_wan"}')
in=$(metric 'xwan_packets_total{hook="tc_wan_ingress",verdict="forward",reason="via_kernel"}')
nf=$(metric 'xwan_packets_total{hook="tc_wan_egress",reason="marked_without_flow"}')
check "3 tc_wan_egress NATed the LAN packets leaving wan2 ($eg), tc_wan_ingress the replies ($in), none left unNATed" \
	"lan_to_wan=$eg via_kernel=$in marked_without_flow=$nf" \
	[ "${eg:-0}" -gt 1000 -a "${in:-0}" -gt 1000 -a "${nf:-x}" = 0 ]
check "4 ISP anti-spoof counters and inet 10/8 counter are 0" "$(counters)" counters_zero

# --- 5. control: unNATed over the same TUN link, isp2's anti-spoof rule counts it -----------
lab_xwan down >/dev/null 2>&1
lab_gw ip route replace default dev wan2
lab_client ping -n -q -c 3 -i 0.1 -W 1 "$LAB_SERVER" >/dev/null 2>&1
check "5 control: without xwan the LAN's packets leave wan2 unNATed and isp2 drops them as spoofed" \
	"$(counters)" [ "$(lab_spoof_isp2)" -ge 3 ]

echo "# test_l3_wan: $NPASS pass, $NFAIL fail"
[ "$NFAIL" = 0 ]
