#!/usr/bin/python3
"""HA takeover instruments of the xwan e2e lab (stdlib only).

Both write one JSON object to --out when they end (SIGTERM ends them
cleanly too) and print it; times are wall clock (time.time()).

  download --url URL --sha256 HEX --out FILE [--rate BYTES_PER_S] [--ready FILE]
           [--timeout S]
      Fetches URL over one HTTP/1.0 connection, reading at most --rate
      bytes/s (a small receive buffer, so TCP flow control holds the
      server back and the transfer lasts), and reports:
        {"ok": sha256 matched and all bytes came, "err": "ECONNRESET"|...,
         "bytes": n, "sha256": hex, "stall_s": the longest time without a
         byte, "stall_at": when it began, "seconds": total}
      --ready FILE is written once the first 1 MiB arrived.

  udp --server S --port P --out FILE [--pps 200] [--ready FILE] [--stop FILE]
      Sends numbered datagrams to a UDP echo at --pps until SIGTERM or
      until --stop FILE exists (`ip netns exec` may not pass signals on), and
      counts the echoes: {"sent": n, "received": n, "lost": n,
      "lost_s": lost / pps, "gap_s": the longest time without an echo}.
"""
import argparse
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import time
import errno as errno_mod
from urllib.parse import urlparse

stop = False


def on_term(signum, frame):
    global stop
    stop = True


def emit(path, res):
    with open(path + ".tmp", "w") as f:
        json.dump(res, f)
    os.replace(path + ".tmp", path)
    print(json.dumps(res), flush=True)


def touch(path):
    if path:
        with open(path, "w") as f:
            f.write("1\n")


def cmd_download(a):
    u = urlparse(a.url)
    res = {"ok": False, "err": None, "bytes": 0, "stall_s": 0.0, "stall_at": None}
    t0 = time.time()
    s = socket.socket()
    # Small buffers: the rate limit below is then felt by the sender.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.settimeout(a.timeout)
    h = hashlib.sha256()
    length, got, hdr = None, 0, b""
    last = t0
    ready = False
    try:
        s.connect((u.hostname, u.port or 80))
        s.sendall(f"GET {u.path} HTTP/1.0\r\nHost: {u.hostname}\r\n\r\n".encode())
        while not stop:
            chunk = s.recv(16384)
            now = time.time()
            if not chunk:
                break
            if now - last > res["stall_s"]:
                res["stall_s"], res["stall_at"] = now - last, last
            last = now
            if length is None:
                hdr += chunk
                if b"\r\n\r\n" not in hdr:
                    continue
                head, chunk = hdr.split(b"\r\n\r\n", 1)
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length is None:
                    res["err"] = "no content-length"
                    break
            h.update(chunk)
            got += len(chunk)
            if not ready and got >= 1 << 20:
                touch(a.ready)
                ready = True
            if got >= length:
                break
            if a.rate:
                ahead = got / a.rate - (now - t0)
                if ahead > 0:
                    time.sleep(ahead)
    except OSError as e:
        res["err"] = errno_mod.errorcode.get(e.errno, str(e)) if e.errno else str(e)
    finally:
        s.close()
    res["bytes"] = got
    res["length"] = length
    res["sha256"] = h.hexdigest()
    res["seconds"] = time.time() - t0
    res["ok"] = res["err"] is None and length is not None and got == length and \
        res["sha256"] == a.sha256
    if stop and not res["ok"] and res["err"] is None:
        res["err"] = "stopped"
    emit(a.out, res)
    return 0 if res["ok"] else 1


def cmd_udp(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((a.server, a.port))
    s.setblocking(False)
    gap = 1.0 / a.pps
    seen = set()
    sent = 0
    t0 = time.time()
    last_rx = None
    longest = 0.0
    longest_at = None
    next_tx = t0
    while not stop and not (a.stop and os.path.exists(a.stop)):
        now = time.time()
        if now >= next_tx:
            try:
                s.send(struct.pack("!Id", sent, now) + b"x" * 64)
                sent += 1
            except OSError:
                pass
            next_tx += gap
            if next_tx < now - 1:       # we were descheduled: do not burst
                next_tx = now + gap
        while True:
            try:
                d = s.recv(2048)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            if len(d) >= 4:
                seq = struct.unpack("!I", d[:4])[0]
                seen.add(seq)
                now = time.time()
                if last_rx is not None and now - last_rx > longest:
                    longest, longest_at = now - last_rx, last_rx
                last_rx = now
                if len(seen) == 1:
                    touch(a.ready)
        time.sleep(max(0.0, min(next_tx - time.time(), 0.002)))
    # the last ones get a moment to come back
    end = time.time() + 0.5
    while time.time() < end:
        try:
            d = s.recv(2048)
            seen.add(struct.unpack("!I", d[:4])[0])
        except (BlockingIOError, InterruptedError):
            time.sleep(0.01)
        except OSError:
            break
    res = {"sent": sent, "received": len(seen), "lost": sent - len(seen),
           "lost_s": (sent - len(seen)) / a.pps, "gap_s": longest, "gap_at": longest_at,
           "seconds": time.time() - t0}
    emit(a.out, res)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("download")
    d.add_argument("--url", required=True)
    d.add_argument("--sha256", required=True)
    d.add_argument("--out", required=True)
    d.add_argument("--rate", type=int, default=0)
    d.add_argument("--ready")
    d.add_argument("--timeout", type=float, default=30,
                   help="give up after this long without a byte")
    u = sub.add_parser("udp")
    u.add_argument("--server", required=True)
    u.add_argument("--port", type=int, default=5301)
    u.add_argument("--out", required=True)
    u.add_argument("--pps", type=int, default=200)
    u.add_argument("--ready")
    u.add_argument("--stop")
    a = p.parse_args()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    return {"download": cmd_download, "udp": cmd_udp}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
