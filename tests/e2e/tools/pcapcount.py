#!/usr/bin/python3
"""Count packets in pcap files (tcpdump -w) whose bytes contain a marker.

  pcapcount.py [--marker STR] [--src IP] [--dst IP] [--frag] [--show N] FILE...

Prints the number of matching packets on stdout, and up to --show
one-line summaries ("file: src > dst proto len") on stderr as evidence.
Without filters every packet matches; --src/--dst compare the IPv4 header
addresses, --frag keeps only IPv4 fragments. Stdlib only; handles classic pcap in
either byte order and a truncated last record (file still being written).
"""
import argparse
import ipaddress
import struct
import sys

PROTO = {1: "icmp", 6: "tcp", 17: "udp"}


def packets(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise SystemExit(f"{path}: not a classic pcap file")
    linktype = struct.unpack(end + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        if off + caplen > len(data):
            break
        yield linktype, data[off:off + caplen]
        off += caplen


def ipv4(linktype, pkt):
    ip = pkt[14:] if linktype == 1 else pkt[16:] if linktype == 113 else pkt
    if len(ip) < 20 or ip[0] >> 4 != 4:
        return None
    return ip


def summary(linktype, pkt):
    ip = ipv4(linktype, pkt)
    if ip is None:
        return f"non-IPv4 len {len(pkt)}"
    src = ipaddress.IPv4Address(ip[12:16])
    dst = ipaddress.IPv4Address(ip[16:20])
    frag = struct.unpack("!H", ip[6:8])[0]
    ftxt = " frag" if frag & 0x3FFF else ""
    return f"{src} > {dst} {PROTO.get(ip[9], ip[9])} len {len(ip)}{ftxt}"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--marker")
    p.add_argument("--src")
    p.add_argument("--dst")
    p.add_argument("--frag", action="store_true")
    p.add_argument("--show", type=int, default=5)
    p.add_argument("files", nargs="+")
    a = p.parse_args()
    marker = a.marker.encode() if a.marker else None
    n = 0
    for path in a.files:
        for lt, pkt in packets(path):
            if marker is not None and marker not in pkt:
                continue
            if a.src or a.dst or a.frag:
                ip = ipv4(lt, pkt)
                if ip is None:
                    continue
                if a.src and str(ipaddress.IPv4Address(ip[12:16])) != a.src:
                    continue
                if a.dst and str(ipaddress.IPv4Address(ip[16:20])) != a.dst:
                    continue
                if a.frag and not struct.unpack("!H", ip[6:8])[0] & 0x3FFF:
                    continue
            n += 1
            if n <= a.show:
                print(f"{path.rsplit('/', 1)[-1]}: {summary(lt, pkt)}",
                      file=sys.stderr)
    print(n)


if __name__ == "__main__":
    main()
