#!/usr/bin/python3
"""Failover instruments of the xwan e2e lab (stdlib only).

Times are wall-clock seconds (time.time(), CLOCK_REALTIME), so they compare
with `date +%s.%N` in the shell and with the agent's log stamps.

  prober --out FILE [--server S] [--port 8080] [--every 0.05] [--timeout 0.8]
         [--bind IP] [--duration S]
      Runs in the client namespace. Opens a NEW TCP connection to the
      whoami (SERVER:PORT answers "<peer-ip>:<peer-port>") every --every
      seconds, on a fixed schedule (a slow attempt never delays the next
      one: each runs in its own thread), until SIGTERM/SIGINT or
      --duration. One JSON line per finished attempt, appended to FILE and
      flushed at once:
        {"i": n, "t": start, "end": end, "ok": bool, "addr": seen-ip,
         "port": seen-port, "err": "ECONNRESET"|"timeout"|...}
      An attempt fails when connect + answer take longer than --timeout
      (default 0.8 s: below the kernel's 1 s initial SYN retransmission,
      so a SYN lost in a blackhole is a failure, not a slow success).
      On exit the attempts still running get their timeout to finish.

  analyze --attempts FILE --at T --good ADDR [--bad ADDR] [--settle N]
      Failover figures of a prober run where the failure began at T:
      the first attempt started at or after T after which every attempt
      succeeded and was seen from ADDR ("failover_s": its start - T), the
      failed attempts, and whether the run ended settled (at least N
      such attempts after it, default 20). Prints one JSON object; exit 0
      when settled.

  echo-server --addr A --port P
      Runs in the inet namespace: a line echo that prefixes each answer
      with the peer it sees: for "LINE\\n" it answers
      "LINE <peer-ip>:<peer-port>\\n". Shows that a held connection still
      works and keeps its NAT source port.

  hold --out FILE [--server S] [--port P] [--every 0.1] [--bind IP]
       [--want-addr IP --tries N] [--ready FILE]
      Runs in the client namespace: opens one TCP connection to the echo
      server (with --want-addr: reopens, up to --tries times, until the
      server sees that address, i.e. until the connection hashed onto that
      WAN) and keeps it: every --every seconds it sends "<seq>\\n" and
      logs, one line each, "<t> sent <seq>", "<t> reply <seq> <ip>:<port>",
      and on the end of the connection "<t> error <ERRNO-NAME|EOF>" (then
      it exits 3). Unanswered lines are not an error: TCP retransmits them
      and the replies come later. The first line is
      "<t> open <local-ip>:<local-port> <seen-ip>:<seen-port> <attempts>";
      --ready FILE is written once the connection is chosen. SIGTERM ends
      it quietly (exit 0).
"""
import argparse
import errno
import json
import os
import select
import signal
import socket
import sys
import threading
import time


class Stop(Exception):
    pass


def on_term(*_):
    raise Stop()


def errname(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    if isinstance(e, OSError) and e.errno:
        return errno.errorcode.get(e.errno, str(e.errno))
    return type(e).__name__ + (f": {e}" if str(e) else "")


# --- prober ---------------------------------------------------------------


def attempt(a, i, t0, out, lock):
    res = {"i": i, "t": t0, "ok": False, "addr": None, "port": None,
           "err": None}
    s = None
    try:
        deadline = t0 + a.timeout
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if a.bind:
            s.bind((a.bind, 0))
        s.settimeout(max(0.001, deadline - time.time()))
        s.connect((a.server, a.port))
        data = b""
        while not data.endswith(b"\n"):
            s.settimeout(max(0.001, deadline - time.time()))
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
        line = data.decode("ascii", "replace").strip()
        ip, _, port = line.rpartition(":")
        if not ip or not port.isdigit():
            raise ValueError(f"bad answer {line!r}")
        res.update(ok=True, addr=ip, port=int(port))
    except Exception as e:  # noqa: BLE001 - every failure is data
        res["err"] = errname(e)
    finally:
        if s is not None:
            s.close()
    res["end"] = time.time()
    with lock:
        out.write(json.dumps(res) + "\n")
        out.flush()


def cmd_prober(a):
    lock = threading.Lock()
    out = open(a.out, "a", buffering=1)
    threads = []
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    start = time.time()
    i = 0
    try:
        while not a.duration or time.time() - start < a.duration:
            due = start + i * a.every
            now = time.time()
            if due > now:
                time.sleep(due - now)
            t = threading.Thread(target=attempt, daemon=True,
                                 args=(a, i, time.time(), out, lock))
            t.start()
            threads.append(t)
            threads = [x for x in threads if x.is_alive()]
            i += 1
    except Stop:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for t in threads:
        t.join(a.timeout + 1)
    out.close()


# --- analyze ---------------------------------------------------------------


def load_attempts(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    pass   # a line cut short by a kill
    rows.sort(key=lambda r: r["t"])
    return rows


def cmd_analyze(a):
    rows = load_attempts(a.attempts)

    def good(r):
        return r["ok"] and r["addr"] == a.good

    before = [r for r in rows if r["t"] < a.at]
    after = [r for r in rows if r["t"] >= a.at]
    last_bad = -1
    for k, r in enumerate(after):
        if not good(r):
            last_bad = k
    first = after[last_bad + 1] if last_bad + 1 < len(after) else None
    tail = len(after) - (last_bad + 1)
    res = {
        "attempts": len(rows),
        "before": len(before),
        "after": len(after),
        # failures of attempts started before T (a SYN sent just before the
        # cut can lose its answer): counted too, reported apart
        "failed": sum(1 for r in rows if not r["ok"]),
        "failed_before": sum(1 for r in before if not r["ok"]),
        "errors": sorted({r["err"] for r in rows if r["err"]}),
        "by_addr_after": {},
        "bad_ok_after": 0,
        "settled": first is not None and tail >= a.settle,
        "settled_attempts": tail,
        "failover_s": round(first["t"] - a.at, 3) if first else None,
        "first_good_i": first["i"] if first else None,
    }
    for r in after:
        if r["ok"]:
            res["by_addr_after"][r["addr"]] = res["by_addr_after"].get(r["addr"], 0) + 1
            if a.bad and r["addr"] in a.bad:
                res["bad_ok_after"] += 1
    # the last attempt that went through a bad address, for the evidence
    bad_ok = [r for r in after if r["ok"] and a.bad and r["addr"] in a.bad]
    res["last_bad_ok_t"] = bad_ok[-1]["t"] if bad_ok else None
    print(json.dumps(res, sort_keys=True))
    return 0 if res["settled"] else 1


# --- echo server -------------------------------------------------------------


def serve_conn(c, peer):
    tag = f" {peer[0]}:{peer[1]}\n".encode()
    buf = b""
    try:
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                c.sendall(line[:64] + tag)
    except OSError:
        pass
    finally:
        c.close()


def cmd_echo_server(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.addr, a.port))
    s.listen(128)
    print(f"failover.py echo-server: listening on {a.addr}:{a.port}",
          file=sys.stderr, flush=True)
    while True:
        c, peer = s.accept()
        threading.Thread(target=serve_conn, args=(c, peer), daemon=True).start()


# --- hold ----------------------------------------------------------------------


def read_line(s, timeout):
    s.settimeout(timeout)
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(256)
        if not chunk:
            raise ConnectionError("EOF")
        data += chunk
    return data.decode("ascii", "replace").strip()


def open_wanted(a):
    """A connection whose peer, as the server sees it, is --want-addr."""
    tries = a.tries if a.want_addr else 1
    last = None
    for n in range(1, tries + 1):
        s = socket.create_connection((a.server, a.port), timeout=a.timeout,
                                     source_address=(a.bind, 0) if a.bind else None)
        s.sendall(b"hello\n")
        line = read_line(s, a.timeout)
        seen = line.rpartition(" ")[2]
        last = seen
        if not a.want_addr or seen.rpartition(":")[0] == a.want_addr:
            return s, seen, n
        s.close()
    raise RuntimeError(f"no connection seen from {a.want_addr} in {tries} tries (last {last})")


def cmd_hold(a):
    out = open(a.out, "a", buffering=1)

    def log(*words):
        out.write(" ".join([f"{time.time():.6f}"] + [str(w) for w in words]) + "\n")
        out.flush()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        try:
            s, seen, n = open_wanted(a)
        except Exception as e:  # noqa: BLE001
            log("error", "open", errname(e))
            return 2
        local = "%s:%d" % s.getsockname()
        log("open", local, seen, n)
        if a.ready:
            with open(a.ready, "w") as f:
                f.write(f"{local} {seen}\n")
        s.setblocking(False)
        seq, buf, next_send = 0, b"", time.time()
        while True:
            now = time.time()
            if now >= next_send:
                seq += 1
                try:
                    s.send(f"{seq}\n".encode())
                    log("sent", seq)
                except BlockingIOError:
                    log("blocked", seq)
                next_send += a.every
                if next_send < now:
                    next_send = now + a.every
            r, _, _ = select.select([s], [], [], max(0, next_send - time.time()))
            if not r:
                continue
            chunk = s.recv(4096)
            if not chunk:
                log("error", "EOF")
                return 3
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                words = line.decode("ascii", "replace").split()
                if len(words) == 2:
                    log("reply", words[0], words[1])
    except Stop:
        return 0
    except OSError as e:
        log("error", errname(e))
        return 3


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("prober")
    s.add_argument("--out", required=True)
    s.add_argument("--server", default="192.0.2.100")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--every", type=float, default=0.05)
    s.add_argument("--timeout", type=float, default=0.8)
    s.add_argument("--bind")
    s.add_argument("--duration", type=float, default=0)
    s = sub.add_parser("analyze")
    s.add_argument("--attempts", required=True)
    s.add_argument("--at", type=float, required=True)
    s.add_argument("--good", required=True)
    s.add_argument("--bad", action="append")
    s.add_argument("--settle", type=int, default=20)
    s = sub.add_parser("echo-server")
    s.add_argument("--addr", default="192.0.2.100")
    s.add_argument("--port", type=int, default=8090)
    s = sub.add_parser("hold")
    s.add_argument("--out", required=True)
    s.add_argument("--server", default="192.0.2.100")
    s.add_argument("--port", type=int, default=8090)
    s.add_argument("--every", type=float, default=0.1)
    s.add_argument("--timeout", type=float, default=2.0)
    s.add_argument("--bind")
    s.add_argument("--want-addr")
    s.add_argument("--tries", type=int, default=50)
    s.add_argument("--ready")
    a = p.parse_args()
    fn = {"prober": cmd_prober, "analyze": cmd_analyze,
          "echo-server": cmd_echo_server, "hold": cmd_hold}[a.cmd]
    sys.exit(fn(a) or 0)


if __name__ == "__main__":
    main()
