#!/usr/bin/python3
"""Packets of protocols without ports (GRE, ESP...) for the xwan e2e lab.

  rawproto.py serve --proto 47 --addr 192.0.2.100
      answer every request of that protocol to ADDR: the reply goes back to
      the request's source and says which source the server saw
  rawproto.py ping --proto 47 --dst 192.0.2.100 --count 5 --marker M
      send requests, wait for the replies; prints JSON
      {"sent", "replies", "seen_by_server": [sources the server saw]}
  rawproto.py leak --iface wan1 --dst-mac MAC --src 10.1.0.2 --dst D \\
          --proto 47 --marker M [--bypass]
      one IPv4 packet of that protocol with any source, as a frame on IFACE;
      --bypass: PACKET_QDISC_BYPASS, so no tc egress program sees it (the
      lab's control: a packet that no gateway program could have stopped)
  rawproto.py send --src 10.1.0.2 --dst D --proto 47 --marker M
      the same through the host's IP stack (IP_HDRINCL): routed, and past
      every egress program of the interface it leaves

Requests carry b"XWRAW-REQ " + marker, replies b"XWRAW-REP " + the source
the server saw + b" " + marker, behind a 4-byte GRE header (flags 0,
protocol 0x88b5, "local experimental") or an 8-byte ESP-like SPI and
sequence number, so captures and the ISPs' filters see ordinary packets.
"""
import argparse
import json
import select
import socket
import struct
import sys
import time

SOL_PACKET = 263
PACKET_QDISC_BYPASS = 20


def head(proto):
    if proto == 47:
        return struct.pack("!HH", 0, 0x88B5)
    return struct.pack("!II", 0x5857, 1)    # SPI, sequence number


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip_packet(src, dst, proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0x5857, 0, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def body(data, proto):
    """The payload after the IP header and the protocol's own header."""
    ihl = (data[0] & 0xF) * 4
    return socket.inet_ntoa(data[12:16]), data[ihl + len(head(proto)):]


def serve(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, a.proto)
    s.bind((a.addr, 0))
    while True:
        data, _ = s.recvfrom(65535)
        src, msg = body(data, a.proto)
        if not msg.startswith(b"XWRAW-REQ "):
            continue
        rep = head(a.proto) + b"XWRAW-REP " + src.encode() + b" " + msg[10:]
        s.sendto(rep, (src, 0))
        print("%s %s" % (src, msg[10:].decode(errors="replace")), flush=True)


def ping(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, a.proto)
    seen, got = [], set()
    for i in range(a.count):
        s.sendto(head(a.proto) + b"XWRAW-REQ %s-%d" % (a.marker.encode(), i), (a.dst, 0))
    end = time.time() + a.timeout
    while len(got) < a.count and time.time() < end:
        r, _, _ = select.select([s], [], [], max(0.0, end - time.time()))
        if not r:
            break
        data, _ = s.recvfrom(65535)
        src, msg = body(data, a.proto)
        parts = msg.split(b" ")
        if len(parts) != 3 or parts[0] != b"XWRAW-REP" or src != a.dst:
            continue
        tag = parts[2].decode(errors="replace")
        if not tag.startswith(a.marker + "-") or tag in got:
            continue
        got.add(tag)
        seen.append(parts[1].decode())
    print(json.dumps({"sent": a.count, "replies": len(got), "seen_by_server": sorted(set(seen))}))
    return 0


def leak(a):
    pkt = ip_packet(a.src, a.dst, a.proto, head(a.proto) + b"XWRAW-REQ " + a.marker.encode())
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    if a.bypass:
        s.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
    s.bind((a.iface, 0))
    src_mac = s.getsockname()[4]
    dst_mac = bytes.fromhex(a.dst_mac.replace(":", ""))
    for _ in range(a.count):
        s.send(dst_mac + src_mac + b"\x08\x00" + pkt)
    return 0


def send(a):
    pkt = ip_packet(a.src, a.dst, a.proto, head(a.proto) + b"XWRAW-REQ " + a.marker.encode())
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    sent = 0
    for _ in range(a.count):
        try:
            s.sendto(pkt, (a.dst, 0))
            sent += 1
        except OSError as e:    # a drop on the way out may be reported
            print("send: %s" % e, file=sys.stderr)
    print(json.dumps({"sent": sent}))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sv = sub.add_parser("serve")
    sv.add_argument("--proto", type=int, required=True)
    sv.add_argument("--addr", required=True)
    pg = sub.add_parser("ping")
    pg.add_argument("--proto", type=int, required=True)
    pg.add_argument("--dst", required=True)
    pg.add_argument("--count", type=int, default=5)
    pg.add_argument("--marker", required=True)
    pg.add_argument("--timeout", type=float, default=5.0)
    for name in ("leak", "send"):
        lk = sub.add_parser(name)
        lk.add_argument("--proto", type=int, required=True)
        lk.add_argument("--src", required=True)
        lk.add_argument("--dst", required=True)
        lk.add_argument("--marker", required=True)
        lk.add_argument("--count", type=int, default=3)
        if name == "leak":
            lk.add_argument("--iface", required=True)
            lk.add_argument("--dst-mac", required=True)
            lk.add_argument("--bypass", action="store_true")
    a = p.parse_args()
    return {"serve": serve, "ping": ping, "leak": leak, "send": send}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
