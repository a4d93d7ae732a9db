#!/bin/bash
# tests/e2e/test_fragments.sh - out-of-order IPv4 fragments through a live
# NATed UDP flow in the namespace lab (tests/e2e/lab.sh; issue 9 finding 10,
# RFC 4787 REQ-14). Needs root and python3-scapy.
#
#   1. LAN -> internet: the client opens a UDP flow to the server (answered,
#      so it is live and NATed), then sends a 4000-byte datagram on it in
#      three fragments, last one first (scapy, raw frames to the gw). The
#      server gets it whole (sha256 of the payload) from a WAN address;
#   2. internet -> LAN: the server answers a client's datagram with a
#      4000-byte one, its fragments sent last one first from inet toward
#      the WAN address and port the client's flow was given: the client
#      gets it whole;
#   3. xwan's counters: fragment_held and held_fragment_released rose by
#      the fragments that came early (2 per datagram);
#   4. control: the same datagram without its first fragment never arrives
#      (the receiver can fail), and its fragments stay held;
#   5. no packet left a WAN un-NATed (ISP and inet counters 0).
#
#   tests/e2e/test_fragments.sh                 against build/xwan
#   XWAN_E2E_MODE=kernel tests/e2e/test_fragments.sh   the plain-Linux gw
#       (its conntrack reassembles): 1, 2, 4, 5 run, 3 is SKIP
#
# The helper (scapy sender, UDP receivers) is written at run time into the
# lab state directory; lab_destroy removes it. About 30 s.

set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"

MODE=${XWAN_E2E_MODE:-xwan}
SIZE=4000
M_HELD='xwan_events_total{event="fragment_held"}'
M_RELEASED='xwan_events_total{event="held_fragment_released"}'

metric() { lab_xwan stats 2>/dev/null | "$LAB_PY" "$LAB_TOOLS/promval.py" "$1"; }
delta() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { printf "%d", b - a }'; }
mac_of() { ip -n "$1" -br link show dev "$2" | awk '{print $3}'; }
jget() { "$LAB_PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(d[sys.argv[2]])' "$1" "$2" 2>/dev/null; }
counters() { echo "isp1.spoofed=$(lab_spoof_isp1) isp2.spoofed=$(lab_spoof_isp2) inet.lan_leak=$(lab_leak_inet)"; }
helper() { local ns=$1; shift; timeout 30 ip netns exec "$ns" "$LAB_PY" "$HELPER" "$@"; }

if ! /usr/bin/python3 -c 'import scapy.all' 2>/dev/null; then
	fail "python3-scapy" "not installed: apt-get install python3-scapy (dist/debian-packages.txt)"
	exit 1
fi
case $MODE in xwan | kernel) ;; *) fail "e2e mode" "XWAN_E2E_MODE=$MODE, want kernel or xwan"; exit 1 ;; esac

lab_init_names "${XWAN_LAB_PREFIX:-frg$$}"
e2e_traps lab_destroy
echo "# test_fragments: mode=$MODE lab=$LAB_PREFIX"
T0=$SECONDS
if ! setup_err=$(lab_create "$MODE" 2>&1); then
	fail "lab setup ($MODE)" "$setup_err"
	exit 1
fi

HELPER=$LAB_STATE/frag_helper.py
cat >"$HELPER" <<'PY'
"""Out-of-order fragments for test_fragments.sh.

  lan IFACE DSTMAC SRC DST SPORT DPORT SIZE SEED [skip]
      bind SRC:SPORT, open the flow (one small datagram, wait for the
      answer), then send SIZE random bytes (SEED) as UDP in fragments, last
      first (without the first with "skip"); print the payload's sha256.
  sink ADDR PORT SECS
      answer every datagram with "ok"; print one JSON line per datagram
      of more than 100 bytes (source, length, sha256), for SECS seconds.
  big ADDR PORT SIZE SEED IF1 MAC1 IF2 MAC2 [skip]
      wait for one datagram, then answer it with SIZE random bytes in
      fragments, last first, out of IF1 (to 203.0.113.0/24) or IF2.
  ask SRC SPORT DST DPORT SECS
      send one datagram from SRC:SPORT, print JSON of the big answer.
"""
import hashlib
import json
import random
import socket
import sys
import time

from scapy.all import IP, UDP, Ether, Raw, conf, fragment, get_if_hwaddr, sendp

conf.verb = 0


def blob(size, seed):
    return random.Random(seed).randbytes(size)


def send_reversed(iface, mac, src, dst, sport, dport, data, skip):
    dg = IP(bytes(IP(src=src, dst=dst, ttl=64, id=random.randint(1, 65535)) /
                  UDP(sport=sport, dport=dport) / Raw(data)))
    frags = fragment(dg, fragsize=1480)
    assert len(frags) >= 3, len(frags)
    if skip:
        frags = frags[1:]
    frames = [Ether(src=get_if_hwaddr(iface), dst=mac) / f for f in reversed(frags)]
    sendp(frames, iface=iface, verbose=0)


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "lan":
        iface, mac, src, dst = a[0], a[1], a[2], a[3]
        sport, dport, size, seed = int(a[4]), int(a[5]), int(a[6]), int(a[7])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, sport))
        s.settimeout(3)
        s.sendto(b"open", (dst, dport))
        s.recvfrom(100)
        data = blob(size, seed)
        send_reversed(iface, mac, src, dst, sport, dport, data, len(a) > 8)
        print(hashlib.sha256(data).hexdigest())
        time.sleep(0.5)
    elif cmd == "sink":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a[0], int(a[1])))
        end = time.time() + float(a[2])
        while time.time() < end:
            s.settimeout(max(0.1, end - time.time()))
            try:
                d, peer = s.recvfrom(65535)
            except socket.timeout:
                break
            s.sendto(b"ok", peer)
            if len(d) > 100:
                print(json.dumps({"src": peer[0], "len": len(d),
                                  "sha256": hashlib.sha256(d).hexdigest()}), flush=True)
    elif cmd == "big":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a[0], int(a[1])))
        s.settimeout(20)
        _, peer = s.recvfrom(100)
        data = blob(int(a[2]), int(a[3]))
        iface, mac = (a[4], a[5]) if peer[0].startswith("203.0.113.") else (a[6], a[7])
        send_reversed(iface, mac, a[0], peer[0], int(a[1]), peer[1], data, len(a) > 8)
        print(json.dumps({"peer": "%s:%d" % peer, "sha256": hashlib.sha256(data).hexdigest()}))
    elif cmd == "ask":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a[0], int(a[1])))
        s.settimeout(float(a[4]))
        s.sendto(b"send it", (a[2], int(a[3])))
        try:
            d, _ = s.recvfrom(65535)
            print(json.dumps({"len": len(d), "sha256": hashlib.sha256(d).hexdigest()}))
        except socket.timeout:
            print(json.dumps({"len": 0, "sha256": ""}))


main()
PY

GW_LAN_MAC=$(mac_of "$LAB_NS_GW" lan0)
ISP1_MAC=$(mac_of "$LAB_NS_ISP1" up)
ISP2_MAC=$(mac_of "$LAB_NS_ISP2" up)
held0=$(metric "$M_HELD") rel0=$(metric "$M_RELEASED")

# --- 1. LAN -> internet -------------------------------------------------------
SINK_OUT=$LAB_STATE/sink.json
ip netns exec "$LAB_NS_INET" "$LAB_PY" "$HELPER" sink "$LAB_SERVER" 5410 20 >"$SINK_OUT" 2>&1 &
lab_wait_listen "$LAB_NS_INET" udp 5410 || fail "1 sink listening" "no UDP :5410 in inet"
sent=$(helper "$LAB_NS_CLIENT" lan eth0 "$GW_LAN_MAC" "$LAB_CLIENT_IP" "$LAB_SERVER" 41000 5410 "$SIZE" 1 2>&1)
lab_poll 5 grep -q "${sent:-none}" "$SINK_OUT"
got=$(grep -m1 "${sent:-none}" "$SINK_OUT")
check "1 LAN->internet: a $SIZE-byte UDP datagram sent last fragment first arrives whole (sha256), from a WAN address" \
	"sent ${sent:0:200}; received: $(cat "$SINK_OUT")" \
	eval '[ -n "$got" ] && [ "$(jget "$got" len)" = "$SIZE" ] && case $(jget "$got" src) in 203.0.113.* | 198.51.100.*) true ;; *) false ;; esac'
[ -n "$got" ] && info "received $(jget "$got" len) bytes from $(jget "$got" src)"

# --- 2. internet -> LAN -------------------------------------------------------
BIG_OUT=$LAB_STATE/big.json
ip netns exec "$LAB_NS_INET" "$LAB_PY" "$HELPER" big "$LAB_SERVER" 5411 "$SIZE" 2 \
	i1 "$ISP1_MAC" i2 "$ISP2_MAC" >"$BIG_OUT" 2>&1 &
big_pid=$!
lab_wait_listen "$LAB_NS_INET" udp 5411 || fail "2 sender listening" "no UDP :5411 in inet"
ans=$(helper "$LAB_NS_CLIENT" ask "$LAB_CLIENT_IP" 41001 "$LAB_SERVER" 5411 5 2>&1)
wait "$big_pid"
want=$(jget "$(cat "$BIG_OUT")" sha256)
check "2 internet->LAN: a $SIZE-byte answer sent last fragment first reaches the client whole (sha256)" \
	"sent $(cat "$BIG_OUT"); received ${ans:0:300}" \
	eval '[ -n "$want" ] && [ "$(jget "$ans" sha256)" = "$want" ] && [ "$(jget "$ans" len)" = "$SIZE" ]'
info "sent to $(jget "$(cat "$BIG_OUT")" peer); the client got $(jget "$ans" len) bytes"

# --- 3. counters --------------------------------------------------------------
if [ "$MODE" = xwan ]; then
	held1=$(metric "$M_HELD") rel1=$(metric "$M_RELEASED")
	check "3 xwan: fragment_held and held_fragment_released rose by 4 (2 early fragments per datagram)" \
		"held +$(delta "$held0" "$held1"), released +$(delta "$rel0" "$rel1")" \
		[ "$(delta "$held0" "$held1")" -ge 4 ] && [ "$(delta "$rel0" "$rel1")" -ge 4 ]
else
	echo "SKIP: 3 xwan counters (mode=$MODE)"
fi

# --- 4. control: no first fragment, no datagram -------------------------------
held1=$(metric "$M_HELD")
sent=$(helper "$LAB_NS_CLIENT" lan eth0 "$GW_LAN_MAC" "$LAB_CLIENT_IP" "$LAB_SERVER" 41002 5410 "$SIZE" 3 skip 2>&1)
sleep 1
check "4 control: the datagram without its first fragment does not arrive" \
	"sent ${sent:0:200}; received: $(cat "$SINK_OUT")" \
	eval '[ -n "$sent" ] && ! grep -q "$sent" "$SINK_OUT"'
[ "$MODE" = xwan ] && info "held +$(delta "$held1" "$(metric "$M_HELD")") for it (kept until they expire, 30 s)"

# --- 5. nothing un-NATed ------------------------------------------------------
check "5 ISP anti-spoof and inet 10/8 counters stay 0" "$(counters)" \
	[ "$(counters)" = "isp1.spoofed=0 isp2.spoofed=0 inet.lan_leak=0" ]

echo "# test_fragments: $NPASS pass, $NFAIL fail, $((SECONDS - T0)) s"
[ "$NFAIL" = 0 ]
