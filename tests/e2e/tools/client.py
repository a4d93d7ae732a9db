#!/usr/bin/python3
"""Client side of the xwan e2e lab (stdlib only). Runs in the client netns.

Subcommands (each prints one JSON object on stdout, exit 0 when every
request succeeded, 1 otherwise):

  tcp-whoami --count N [--bind IP ...]   N TCP connections to SERVER:8080,
        each from a new ephemeral port (round-robin over --bind addresses);
        result: {"ok", "fail", "by_addr": {public-ip: n}, "errors": [...]}
  udp-whoami --count N [--bind IP ...]   N UDP requests to SERVER:5300, each
        from a new socket; same result shape, plus "sports": how many distinct
        source ports they used (the kernel may hand one port out twice, and
        two queries from one port are one flow).
  udp-echo --size BYTES                  one datagram of BYTES random bytes to
        SERVER:5301; result {"sent", "received", "equal"}
  fetch --url URL --sha256 HEX [--parallel N] [--rate B/s]   download N
        times in parallel (optionally throttled by reading slowly),
        result {"ok", "fail", "results": [{"bytes", "sha256"}...]}
  hold --count N [--seconds S] [--bind IP]   open N TCP connections to
        SERVER:8081 (the discard server), send a little every second and
        keep them open S seconds (for flow-table checks and demos)
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import socket
import sys
import time
import urllib.request


def out(res, ok):
    print(json.dumps(res, sort_keys=True))
    sys.exit(0 if ok else 1)


def tcp_once(server, port, bind, timeout):
    with socket.create_connection((server, port), timeout=timeout,
                                  source_address=(bind, 0) if bind else None) as s:
        data = b""
        while True:
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
    line = data.decode().strip()
    ip, _, port_s = line.rpartition(":")
    if not ip or not port_s.isdigit():
        raise ValueError(f"bad answer {line!r}")
    return ip


def cmd_tcp_whoami(a):
    by, errors, ok = {}, [], 0
    binds = a.bind or [None]
    for i in range(a.count):
        try:
            ip = tcp_once(a.server, a.port, binds[i % len(binds)], a.timeout)
            by[ip] = by.get(ip, 0) + 1
            ok += 1
        except Exception as e:  # noqa: BLE001 - report every failure
            errors.append(f"#{i}: {e}")
    fail = a.count - ok
    out({"ok": ok, "fail": fail, "by_addr": by, "errors": errors[:10]},
        fail == 0)


def family(server):
    return socket.AF_INET6 if ":" in server else socket.AF_INET


def cmd_udp_whoami(a):
    by, errors, ok, sports = {}, [], 0, set()
    binds = a.bind or [None]
    for i in range(a.count):
        token = f"q{os.getpid()}-{i}"
        try:
            with socket.socket(family(a.server), socket.SOCK_DGRAM) as s:
                s.settimeout(a.timeout)
                b = binds[i % len(binds)]
                if b:
                    s.bind((b, 0))
                s.sendto(token.encode(), (a.server, a.port))
                sports.add(s.getsockname()[:2])
                data, src = s.recvfrom(2048)
            req, _, who = data.decode().strip().partition(" ")
            if req != token or src[:2] != (a.server, a.port):
                raise ValueError(f"bad answer {data!r} from {src}")
            ip = who.rpartition(":")[0]
            by[ip] = by.get(ip, 0) + 1
            ok += 1
        except Exception as e:  # noqa: BLE001
            errors.append(f"#{i}: {e}")
    fail = a.count - ok
    out({"ok": ok, "fail": fail, "by_addr": by, "errors": errors[:10],
         "sports": len(sports)}, fail == 0)


def cmd_udp_echo(a):
    payload = os.urandom(a.size)
    res = {"sent": a.size, "received": 0, "equal": False}
    try:
        with socket.socket(family(a.server), socket.SOCK_DGRAM) as s:
            s.settimeout(a.timeout)
            s.sendto(payload, (a.server, a.port))
            data, _ = s.recvfrom(65535)
        res["received"] = len(data)
        res["equal"] = data == payload
    except Exception as e:  # noqa: BLE001
        res["error"] = str(e)
    out(res, res["equal"])


def fetch_once(url, timeout, rate=0):
    h, n = hashlib.sha256(), 0
    t0 = time.monotonic()
    with urllib.request.urlopen(url, timeout=timeout) as r:
        while True:
            chunk = r.read(1 << 16)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
            if rate:  # throttle (demo): stay under rate bytes/s
                ahead = n / rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
    return {"bytes": n, "sha256": h.hexdigest()}


def cmd_fetch(a):
    results = []
    with concurrent.futures.ThreadPoolExecutor(a.parallel) as ex:
        futs = [ex.submit(fetch_once, a.url, a.timeout, a.rate)
                for _ in range(a.parallel)]
        for f in futs:
            try:
                results.append(f.result())
            except Exception as e:  # noqa: BLE001
                results.append({"error": str(e)})
    ok = sum(1 for r in results if r.get("sha256") == a.sha256)
    out({"ok": ok, "fail": a.parallel - ok, "results": results},
        ok == a.parallel)


def cmd_hold(a):
    socks = []
    for _ in range(a.count):
        socks.append(socket.create_connection(
            (a.server, a.port), timeout=a.timeout,
            source_address=(a.bind, 0) if a.bind else None))
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        for s in socks:
            s.sendall(b"x")
        time.sleep(min(1.0, max(0.0, end - time.monotonic())))
    for s in socks:
        s.close()
    out({"held": len(socks)}, True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", default="192.0.2.100")
    p.add_argument("--timeout", type=float, default=5.0)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("tcp-whoami")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--count", type=int, default=1)
    s.add_argument("--bind", action="append")
    s = sub.add_parser("udp-whoami")
    s.add_argument("--port", type=int, default=5300)
    s.add_argument("--count", type=int, default=1)
    s.add_argument("--bind", action="append")
    s = sub.add_parser("udp-echo")
    s.add_argument("--port", type=int, default=5301)
    s.add_argument("--size", type=int, default=4000)
    s = sub.add_parser("fetch")
    s.add_argument("--url", required=True)
    s.add_argument("--sha256", required=True)
    s.add_argument("--parallel", type=int, default=1)
    s.add_argument("--rate", type=int, default=0,
                   help="read at most this many bytes/s per download")
    s = sub.add_parser("hold")
    s.add_argument("--port", type=int, default=8081)
    s.add_argument("--count", type=int, default=1)
    s.add_argument("--seconds", type=float, default=10)
    s.add_argument("--bind")
    a = p.parse_args()
    {"tcp-whoami": cmd_tcp_whoami, "udp-whoami": cmd_udp_whoami,
     "udp-echo": cmd_udp_echo, "fetch": cmd_fetch, "hold": cmd_hold}[a.cmd](a)


if __name__ == "__main__":
    main()
