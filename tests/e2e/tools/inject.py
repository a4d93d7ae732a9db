#!/usr/bin/python3
"""Send hand-made packets (scapy) out of one interface, for the negative
checks of the xwan e2e lab: unsolicited inbound traffic and spoofed sources.

Every packet carries --marker in its payload so captures elsewhere can find
it (tools/pcapcount.py) even after NAT rewrote addresses and ports.

  inject.py --iface i1 --dst-mac MAC --src 192.0.2.2 --dst 10.1.0.2 \\
            --proto tcp --proto udp --proto icmp --dport 40001 --marker XW-UNSOL

--dst-mac defaults to the MAC of the next hop that the kernel resolved for
--dst (ip neigh), so normally it is given explicitly by the lab.
"""
import argparse
import random

from scapy.all import ICMP, IP, TCP, UDP, Ether, Raw, conf, get_if_hwaddr, sendp  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iface", required=True)
    p.add_argument("--dst-mac", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--dst", required=True, action="append",
                   help="may be repeated")
    p.add_argument("--proto", action="append", choices=["tcp", "udp", "icmp"],
                   help="may be repeated (default: all three)")
    p.add_argument("--dport", type=int, action="append",
                   help="destination port(s) for tcp/udp; default 3 random "
                   "high ports")
    p.add_argument("--sport", type=int, default=None)
    p.add_argument("--marker", required=True)
    p.add_argument("--count", type=int, default=1, help="copies of each")
    a = p.parse_args()

    conf.verb = 0
    protos = a.proto or ["tcp", "udp", "icmp"]
    dports = a.dport or [random.randint(20000, 65000) for _ in range(3)]
    payload = Raw(load=a.marker.encode() + b"-" + b"x" * 32)
    src_mac = get_if_hwaddr(a.iface)
    pkts = []
    for dst in a.dst:
        ip = IP(src=a.src, dst=dst, ttl=64)
        for proto in protos:
            if proto == "icmp":
                pkts.append(ip / ICMP(type=8, id=0x5857, seq=1) / payload)
                continue
            for dport in dports:
                sport = a.sport or random.randint(20000, 65000)
                l4 = (TCP(sport=sport, dport=dport, flags="S",
                          seq=random.randint(0, 2**32 - 1))
                      if proto == "tcp" else UDP(sport=sport, dport=dport))
                pkts.append(ip / l4 / payload)
    frames = [Ether(src=src_mac, dst=a.dst_mac) / pk for pk in pkts]
    sendp(frames * a.count, iface=a.iface, verbose=0)


if __name__ == "__main__":
    main()
