#!/usr/bin/env python3
"""NAT behaviour probes for tests/e2e/test_nat_behaviour.sh.

  natprobe.py serve ADDR:PORT...           UDP and TCP "whoami" on each: the
                                           reply is the sender's "ip:port"
  natprobe.py udp --bind IP:PORT --to ADDR:PORT... [--wait-third SECS]
                                           one UDP socket asks every server
                                           who it is, prints "seen ADDR:PORT
                                           -> ip:port" per server, then
                                           "ready", then waits for datagrams
                                           from anyone else and prints
                                           "third FROM-ip:port" for each
  natprobe.py tcp --bind IP:PORT --to ADDR:PORT...
                                           one TCP connection per server, all
                                           from the same bound port
                                           (SO_REUSEADDR, SO_REUSEPORT), open
                                           at once; prints "seen" lines
  natprobe.py send --from IP --to ADDR:PORT [--tcp]
                                           a datagram "third" (or a TCP
                                           connection that writes it) from a
                                           host the client never sent to;
                                           prints "answered" when the client
                                           answered
"""
import argparse
import select
import socket
import sys
import threading


def ep(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def serve(addrs):
    socks = []
    for a in addrs:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        u.bind(ep(a))
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind(ep(a))
        t.listen(64)
        socks += [u, t]
    print("serving", flush=True)

    def answer(c, peer):
        try:
            c.settimeout(5)
            c.sendall(("%s:%d\n" % peer).encode())
            c.recv(64)
        except OSError:
            pass
        c.close()

    while True:
        r, _, _ = select.select(socks, [], [])
        for s in r:
            if s.type == socket.SOCK_DGRAM:
                data, peer = s.recvfrom(2048)
                s.sendto(("%s:%d" % peer).encode(), peer)
            else:
                c, peer = s.accept()
                threading.Thread(target=answer, args=(c, peer), daemon=True).start()


def udp(bind, tos, wait_third):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(ep(bind))
    s.settimeout(1)
    for to in tos:
        dst = ep(to)
        seen = None
        for _ in range(5):
            s.sendto(b"who", dst)
            try:
                while True:
                    data, peer = s.recvfrom(2048)
                    if peer == dst:
                        seen = data.decode()
                        break
            except socket.timeout:
                continue
            break
        print("seen %s -> %s" % (to, seen or "nothing"), flush=True)
    print("ready", flush=True)
    if wait_third <= 0:
        return 0
    s.settimeout(wait_third)
    try:
        while True:
            data, peer = s.recvfrom(2048)
            if data == b"third":
                print("third %s:%d" % peer, flush=True)
                s.sendto(b"answer", peer)
    except socket.timeout:
        pass
    return 0


def tcp(bind, tos):
    conns = []
    for to in tos:
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        c.bind(ep(bind))
        c.settimeout(5)
        try:
            c.connect(ep(to))
            seen = c.recv(64).decode().strip()
        except OSError as e:
            seen = "nothing (%s)" % e
        print("seen %s -> %s" % (to, seen), flush=True)
        conns.append(c)
    for c in conns:
        c.close()
    return 0


def send(src, to, use_tcp):
    if use_tcp:
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.bind((src, 0))
        c.settimeout(3)
        try:
            c.connect(ep(to))
            print("connected", flush=True)
        except OSError as e:
            print("refused %s" % e, flush=True)
        return 0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(1)
    for _ in range(3):
        s.sendto(b"third", ep(to))
        try:
            data, _ = s.recvfrom(2048)
            if data == b"answer":
                print("answered", flush=True)
                return 0
        except socket.timeout:
            pass
    print("unanswered", flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve")
    p.add_argument("addrs", nargs="+")
    p = sub.add_parser("udp")
    p.add_argument("--bind", required=True)
    p.add_argument("--to", action="append", required=True)
    p.add_argument("--wait-third", type=float, default=0)
    p = sub.add_parser("tcp")
    p.add_argument("--bind", required=True)
    p.add_argument("--to", action="append", required=True)
    p = sub.add_parser("send")
    p.add_argument("--from", dest="src", required=True)
    p.add_argument("--to", required=True)
    p.add_argument("--tcp", action="store_true")
    a = ap.parse_args()
    if a.cmd == "serve":
        return serve(a.addrs)
    if a.cmd == "udp":
        return udp(a.bind, a.to, a.wait_third)
    if a.cmd == "tcp":
        return tcp(a.bind, a.to)
    return send(a.src, a.to, a.tcp)


if __name__ == "__main__":
    sys.exit(main())
