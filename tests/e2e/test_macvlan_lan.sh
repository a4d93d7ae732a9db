#!/bin/bash
# tests/e2e/test_macvlan_lan.sh - the LAN on a macvlan in bridge mode (mv-lan on
# top of lan0), as on a host whose LAN port also carries containers or VMs
# with their own MACs. A macvlan has no native XDP and no XDP transmit:
# xdp_lan runs generic on mv-lan, and replies from the WANs must take the
# kernel path into it, never an XDP redirect the kernel would drop.
# Needs root. Prints PASS:/FAIL: lines; exit 1 if any check failed.
set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"

jget() { "$LAB_PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
metric() { lab_xwan stats 2>/dev/null | "$LAB_PY" "$LAB_TOOLS/promval.py" "$1"; }
counters() { echo "isp1.spoofed=$(lab_spoof_isp1) isp2.spoofed=$(lab_spoof_isp2) inet.lan_leak=$(lab_leak_inet)"; }
counters_zero() { [ "$(counters)" = "isp1.spoofed=0 isp2.spoofed=0 inet.lan_leak=0" ]; }
ping_loss() { # COUNT: the packet loss line of COUNT pings from the client to the server
	lab_client timeout 60 ping -n -q -c "$1" -i 0.05 -W 1 "$LAB_SERVER" 2>&1 | grep -o '[0-9.]*% packet loss'
}
ifindex() { lab_gw cat "/sys/class/net/$1/ifindex"; }
le32() { printf '%02x %02x %02x %02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }

lab_init_names "${XWAN_LAB_PREFIX:-xm$$}" || exit 1
e2e_traps lab_destroy
echo "# test_macvlan_lan: lab=$LAB_PREFIX (LAN on mv-lan, a bridge-mode macvlan on lan0)"
if ! setup_err=$(lab_create xwan 2>&1); then
	fail "lab setup" "$setup_err"
	exit 1
fi
lab_xwan down >/dev/null 2>&1
# The gw's LAN address moves from lan0 to a macvlan on it (its own MAC).
lab_gw ip link add mv-lan link lan0 type macvlan mode bridge
lab_gw ip addr del "$LAB_GW_LAN/24" dev lan0
lab_gw ip addr add "$LAB_GW_LAN/24" dev mv-lan
lab_gw ip link set mv-lan up
lab_gw sysctl -qw net.ipv6.conf.mv-lan.disable_ipv6=1
# Linux answers ARP for any local address on any interface: without this
# lan0 answers for mv-lan's address too, the client sends to lan0's MAC and
# the kernel routes it past xwan (un-NATed: isp1's anti-spoof rule drops it).
CFG=$LAB_STATE/macvlan.yaml
sed 's/interface: lan0$/interface: mv-lan/' "$XWAN_LAB_CONFIG" >"$CFG"
# xwan up says so while the parent still answers ARP for mv-lan.
lab_gw sysctl -qw net.ipv4.conf.lan0.arp_ignore=0 net.ipv4.conf.all.arp_ignore=0
warn_log=$(lab_xwan up -c "$CFG" 2>&1)
lab_xwan down >/dev/null 2>&1
lab_gw sysctl -qw net.ipv4.conf.lan0.arp_ignore=1
lab_client ip neigh flush dev eth0
up_log=$(lab_xwan up -c "$CFG" 2>&1)
rc=$?
if [ "$rc" != 0 ]; then
	fail "xwan up with the LAN on mv-lan" "$up_log"
	exit 1
fi
check "0 xwan up warns that lan0 (arp_ignore 0) answers ARP for mv-lan, naming the sysctl; not once it is 1 (control)" \
	"$(grep arp_ignore <<<"$warn_log"); after: $(grep -c arp_ignore <<<"$up_log")" \
	bash -c 'grep -q "warning: mv-lan is a macvlan on lan0.*net.ipv4.conf.lan0.arp_ignore=1" <<<"$1" &&
		! grep -q arp_ignore <<<"$2"' _ "$warn_log" "$up_log"
lab_wait_ping "$LAB_NS_CLIENT" "$LAB_SERVER" 10 >/dev/null

# --- 1. the path each interface uses -----------------------------------------------
status=$(lab_xwan status 2>&1)
echo "$status" | sed -n '/^ROLE/,$p' | sed 's/^/  # /'
check "1 xwan up and status: mv-lan is a macvlan, generic XDP in, the kernel path out; wan1/wan2 native" \
	"$up_log; $status" \
	bash -c 'grep -qE "lan +mv-lan +macvlan +in: xdp generic" <<<"$1" && grep -qE "^lan +mv-lan +macvlan +xdp generic +kernel" <<<"$2" &&
		[ "$(grep -cE "^wan +wan[12] +veth +xdp native" <<<"$2")" = 2 ]' _ "$up_log" "$status"

# --- 2. ping, TCP connections, a download ------------------------------------------------
l=$(ping_loss 50)
check "2 ping $LAB_SERVER through mv-lan: 50, 0% loss" "$l" [ "$l" = "0% packet loss" ]
res=$(timeout 180 ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/client.py" tcp-whoami --count 100 \
	--bind 10.1.0.2 --bind 10.1.0.3 --bind 10.1.0.4)
num() { jget "$res" "$1" | grep -E '^[0-9]+$' || echo 0; }
ok=$(num 'd["ok"]')
n1=$(num 'd["by_addr"].get("'$LAB_WAN1_IP'", 0)')
n2=$(num 'd["by_addr"].get("'$LAB_WAN2_IP'", 0)')
check "3 100 TCP connections all succeed, NATed to both WANs (isp1 $n1, isp2 $n2)" "$res" \
	[ "$ok" = 100 -a $((n1 + n2)) = 100 -a "$n1" -gt 0 -a "$n2" -gt 0 ]
sum=$(cat "$LAB_WWW/blob.sha256")
d=$(timeout 120 ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/client.py" fetch --url "$LAB_BLOB_URL" --sha256 "$sum" --parallel 1)
check "4 the 8 MiB blob reaches the client behind mv-lan with the right sha256" "$d" [ "$(jget "$d" 'd["ok"]')" = 1 ]

# --- 5. counters ------------------------------------------------------------------------
errs=$(metric 'xwan_xdp_redirect_errors_total')
kern=$(metric 'xwan_packets_total{hook="xdp_wan",reason="no_xdp_transmit"}')
check "5a no XDP redirect failed; replies into mv-lan took the kernel path ($kern packets)" \
	"redirect errors=$errs, xdp_wan no_xdp_transmit=$kern" [ "${errs:-x}" = 0 -a "${kern:-0}" -gt 0 ]
check "5b ISP anti-spoof counters and inet 10/8 counter are 0" "$(counters)" counters_zero

# --- 6. control: XDP redirects forced into mv-lan are lost, and counted as such ----------
mv=$(ifindex mv-lan)
for w in wan1 wan2; do
	lab_gw bpftool map update pinned "$LAB_PIN_DIR/tx_paths" key $(le32 "$(ifindex $w)") $(le32 "$mv") value 1 0 0 0
done
err0=$(metric 'xwan_xdp_redirect_errors_total{interface="mv-lan"}')
lc=$(ping_loss 20)
err1=$(metric 'xwan_xdp_redirect_errors_total{interface="mv-lan"}')
check "6a control: XDP redirects forced into mv-lan lose the replies, each counted as a redirect error on mv-lan" \
	"$lc; mv-lan errors $err0 -> $err1" [ "$lc" = "100% packet loss" -a "$((${err1:-0} - ${err0:-0}))" = 20 ]
r=$(lab_xwan reload -c "$CFG" 2>&1)
l=$(ping_loss 20)
check "6b xwan reload decides the paths again: 0% loss" "$r; $l" [ "$l" = "0% packet loss" ]

# --- 7. control: the anti-spoof counter can fail -------------------------------------------
# (written past wan1's egress programs: xwan itself drops un-NATed LAN sources there)
lab_gw "$LAB_PY" "$LAB_TOOLS/rawproto.py" leak --iface wan1 --bypass --proto 47 \
	--dst-mac "$(ip -n "$LAB_NS_ISP1" -br link show dev cust | awk '{print $3}')" \
	--src "$LAB_GW_LAN" --dst "$LAB_SERVER" --marker "XW-CTRL-$$" --count 1
lab_poll 5 lab_count_ge 1 lab_spoof_isp1
check "7 control: a LAN-sourced packet sent unNATed out of wan1 is counted by isp1's anti-spoof rule" \
	"$(counters)" [ "$(lab_spoof_isp1)" -ge 1 ]

echo "# test_macvlan_lan: $NPASS passed, $NFAIL failed"
[ "$NFAIL" = 0 ]
