#!/usr/bin/python3
"""Send IPv6 router advertisements (RFC 4861 section 4.2) out of one interface.

A stand-in for an ISP router's radvd, which the lab does not have: the
advertisement leaves from a link-local address of --iface to all nodes
(ff02::1) with hop limit 255, as a router's does, so the receiving kernel
learns (or, with --lifetime 0, forgets) its default route "via SRC dev ...
proto ra" exactly as from a real router. The kernel fills in the ICMPv6
checksum of a raw ICMPv6 socket (RFC 3542).

  ra.py --iface cust --src fe80::1 [--lifetime 1800] [--count 1]
"""
import argparse
import socket
import struct
import time

ND_ROUTER_ADVERT = 134
OPT_SOURCE_LLADDR = 1


def advert(lifetime, mac):
    # cur hop limit 64, no M/O flags, router lifetime, reachable and retrans timers unset
    ra = struct.pack("!BBHBBHII", ND_ROUTER_ADVERT, 0, 0, 64, 0, lifetime, 0, 0)
    return ra + struct.pack("!BB", OPT_SOURCE_LLADDR, 1) + mac


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iface", required=True)
    p.add_argument("--src", required=True, help="a link-local address of --iface")
    p.add_argument("--lifetime", type=int, default=1800,
                   help="router lifetime in seconds; 0: no longer a default router")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--interval", type=float, default=0.2)
    a = p.parse_args()
    idx = socket.if_nametoindex(a.iface)
    with open(f"/sys/class/net/{a.iface}/address") as f:
        mac = bytes.fromhex(f.read().strip().replace(":", ""))
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
    s.bind((a.src, 0, 0, idx))
    for i in range(a.count):
        if i:
            time.sleep(a.interval)
        s.sendto(advert(a.lifetime, mac), ("ff02::1", 0, 0, idx))


if __name__ == "__main__":
    main()
