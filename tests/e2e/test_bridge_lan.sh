#!/bin/bash
# tests/e2e/test_bridge_lan.sh - the LAN behind a Linux bridge (XWAN_LAB_LAN=bridge,
# tests/e2e/lab.sh): br-lan holds lan0 and lan1 with a client behind each, as
# on OpenWrt or Proxmox. A bridge has no native XDP and no XDP transmit: xdp_lan
# runs generic on br-lan (its redirects into the WAN veths are skb transmits),
# and replies from the WANs must take the kernel path into br-lan, never an XDP
# redirect that the kernel would drop while counting it forwarded.
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
ping_loss() { # NS-RUNNER COUNT: the packet loss line of COUNT pings to the server
	"$1" timeout 60 ping -n -q -c "$2" -i 0.05 -W 1 "$LAB_SERVER" 2>&1 | grep -o '[0-9.]*% packet loss'
}
ifindex() { lab_gw cat "/sys/class/net/$1/ifindex"; }
le32() { printf '%02x %02x %02x %02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }

export XWAN_LAB_LAN=bridge XWAN_LAB_CONFIG=$E2E_DIR/lab-bridge.yaml
lab_init_names "${XWAN_LAB_PREFIX:-xb$$}"
e2e_traps lab_destroy
echo "# test_bridge_lan: lab=$LAB_PREFIX (LAN on br-lan: lan0 -> client, lan1 -> client2)"
if ! setup_err=$(lab_create xwan 2>&1); then
	fail "lab setup (bridge LAN)" "$setup_err"
	exit 1
fi

# --- 1. the path each interface uses -----------------------------------------------
up_log=$(cat "$LAB_LOG/xwan-up.log")
status=$(lab_xwan status 2>&1)
echo "$status" | sed -n '/^ROLE/,$p' | sed 's/^/  # /'
check "1a xwan up says br-lan is a bridge with generic XDP in and the kernel path out" "$up_log" \
	grep -qE 'lan +br-lan +bridge +in: xdp generic, tc; out: kernel \(bridge: no ndo_xdp_xmit\)' <<<"$up_log"
check "1b xwan status: br-lan out by kernel, wan1/wan2 out by xdp redirect" "$status" \
	bash -c 'grep -qE "^lan +br-lan +bridge +xdp generic +kernel" <<<"$1" &&
		[ "$(grep -cE "^wan +wan[12] +veth +xdp native +xdp redirect" <<<"$1")" = 2 ]' _ "$status"

# --- 2. ping from both ports ---------------------------------------------------------
l1=$(ping_loss lab_client 50)
l2=$(ping_loss lab_client2 50)
check "2 ping $LAB_SERVER from both bridge ports: 50 each, 0% loss" "client: $l1; client2: $l2" \
	[ "$l1" = "0% packet loss" -a "$l2" = "0% packet loss" ]

# --- 3. 200 TCP connections split per weights (3:1) ------------------------------------
res=$(timeout 180 ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/client.py" tcp-whoami --count 150 \
	--bind 10.1.0.2 --bind 10.1.0.3 --bind 10.1.0.4)
res2=$(timeout 180 ip netns exec "$LAB_NS_CLIENT2" "$LAB_PY" "$LAB_TOOLS/client.py" tcp-whoami --count 50 \
	--bind "$LAB_CLIENT2_IP")
num() { jget "$1" "$2" | grep -E '^[0-9]+$' || echo 0; }
ok=$(($(num "$res" 'd["ok"]') + $(num "$res2" 'd["ok"]')))
n1=$(($(num "$res" 'd["by_addr"].get("'$LAB_WAN1_IP'", 0)') + $(num "$res2" 'd["by_addr"].get("'$LAB_WAN1_IP'", 0)')))
n2=$(($(num "$res" 'd["by_addr"].get("'$LAB_WAN2_IP'", 0)') + $(num "$res2" 'd["by_addr"].get("'$LAB_WAN2_IP'", 0)')))
pct=$((n1 * 100 / (ok > 0 ? ok : 1)))
info "isp1 $n1/$ok = $pct%, isp2 $n2"
check "3 200 TCP connections from both ports all succeed, split ~75/25 (60..90% isp1, rest isp2)" \
	"ok=$ok isp1=$n1 isp2=$n2; $res; $res2" \
	[ "$ok" = 200 -a $((n1 + n2)) = 200 -a "$pct" -ge 60 -a "$pct" -le 90 ]

# --- 4. a download through the bridge ------------------------------------------------------
sum=$(cat "$LAB_WWW/blob.sha256")
d=$(timeout 120 ip netns exec "$LAB_NS_CLIENT2" "$LAB_PY" "$LAB_TOOLS/client.py" fetch --url "$LAB_BLOB_URL" --sha256 "$sum" --parallel 1)
check "4 the 8 MiB blob reaches client2 (port lan1) with the right sha256" "$d" [ "$(jget "$d" 'd["ok"]')" = 1 ]

# --- 5. counters: nothing forwarded by a failed redirect, nothing leaked --------------------
errs=$(metric 'xwan_xdp_redirect_errors_total')
kern=$(metric 'xwan_packets_total{hook="xdp_wan",reason="no_xdp_transmit"}')
check "5a no XDP redirect failed; replies into br-lan took the kernel path ($kern packets)" \
	"redirect errors=$errs, xdp_wan no_xdp_transmit=$kern" [ "${errs:-x}" = 0 -a "${kern:-0}" -gt 0 ]
check "5b ISP anti-spoof counters and inet 10/8 counter are 0" "$(counters)" counters_zero

# --- 6. control: the redirect the issue describes, and that its failure is counted honestly ---
# Force XDP redirects from the WANs into br-lan (what xwan did before it asked
# the kernel): the replies are lost, and every lost one is a redirect_failed
# drop on br-lan, none a forward.
br=$(ifindex br-lan)
for w in wan1 wan2; do
	lab_gw bpftool map update pinned "$LAB_PIN_DIR/tx_paths" key $(le32 "$(ifindex $w)") $(le32 "$br") value 1 0 0 0
done
fwd0=$(metric 'xwan_packets_total{hook="xdp_wan",verdict="forward"}')
err0=$(metric 'xwan_xdp_redirect_errors_total{interface="br-lan"}')
lc=$(ping_loss lab_client 20)
fwd1=$(metric 'xwan_packets_total{hook="xdp_wan",verdict="forward"}')
err1=$(metric 'xwan_xdp_redirect_errors_total{interface="br-lan"}')
drop=$(metric 'xwan_packets_total{hook="xdp_wan",reason="redirect_failed"}')
check "6a control: XDP redirects forced into br-lan lose the replies (100% loss)" "$lc" [ "$lc" = "100% packet loss" ]
check "6b ... and all 20 are counted as redirect errors on br-lan and redirect_failed drops, none as forwarded" \
	"br-lan errors $err0 -> $err1, xdp_wan forward $fwd0 -> $fwd1, redirect_failed drops $drop" \
	[ "$((err1 - err0))" = 20 -a "$fwd1" = "$fwd0" -a "${drop:-0}" -ge 20 ]
r=$(lab_xwan reload -c "$XWAN_LAB_CONFIG" 2>&1)
l3=$(ping_loss lab_client 20)
check "6c xwan reload decides the paths again: 0% loss" "$r; $l3" [ "$l3" = "0% packet loss" ]

# --- 7. control: the anti-spoof counter can fail -------------------------------------------
# xwan drops an un-NATed LAN source leaving a WAN (untranslated_lan_source),
# so the gw's own ping from its LAN address never reaches isp1; the same kind
# of packet written past wan1's egress programs (PACKET_QDISC_BYPASS) does.
u0=$(metric 'xwan_packets_total{reason="untranslated_lan_source"}')
lab_gw ping -n -q -c 1 -W 1 -I "$LAB_GW_LAN" "$LAB_SERVER" >/dev/null 2>&1
u1=$(metric 'xwan_packets_total{reason="untranslated_lan_source"}')
check "7a the gw's ping from its LAN address is dropped leaving wan1 (untranslated_lan_source), isp1 sees nothing" \
	"untranslated_lan_source $u0 -> $u1; $(counters)" [ "$(( ${u1:-0} - ${u0:-0} ))" -ge 1 -a "$(lab_spoof_isp1)" = 0 ]
lab_gw "$LAB_PY" "$LAB_TOOLS/rawproto.py" leak --iface wan1 --bypass --proto 47 \
	--dst-mac "$(ip -n "$LAB_NS_ISP1" -br link show dev cust | awk '{print $3}')" \
	--src "$LAB_GW_LAN" --dst "$LAB_SERVER" --marker "XW-CTRL-$$" --count 1
lab_poll 5 lab_count_ge 1 lab_spoof_isp1
check "7b control: a LAN-sourced packet sent unNATed out of wan1 is counted by isp1's anti-spoof rule" \
	"$(counters)" [ "$(lab_spoof_isp1)" -ge 1 ]

echo "# test_bridge_lan: $NPASS pass, $NFAIL fail"
[ "$NFAIL" = 0 ]
