#!/usr/bin/python3
"""TCP helpers for the policy e2e test (tests/e2e/test_policy.sh), stdlib only.

  echo-server --port P [--bind ADDR]
        TCP echo server (threaded, foreground until killed): returns every
        byte it receives; logs "peer IP:PORT" per connection on stderr.
  session --dst IP --port P [--bind IP] [--rounds N] [--interval S] [--marker M]
        one TCP connection to an echo server: N request/response rounds of
        "M-<i>\\n", S seconds apart (a session that lasts a while, like an
        SSH login). Result {"ok", "rounds", "echoed", "local", "error"}.
  probe --dst IP --port P [--bind IP] [--timeout S]
        one TCP connect; result {"result": "connected" | "refused" |
        "timeout" | "error: ..."}; exit 0 whatever the result.

Each client subcommand prints one JSON object on stdout; session exits 0
only when every round came back unchanged.
"""
import argparse
import json
import socket
import sys
import threading
import time


def out(res, ok=True):
    print(json.dumps(res, sort_keys=True), flush=True)
    sys.exit(0 if ok else 1)


def serve_one(conn, peer):
    print(f"peer {peer[0]}:{peer[1]}", file=sys.stderr, flush=True)
    with conn:
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
        except OSError:
            pass


def cmd_echo_server(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.bind, a.port))
    s.listen(128)
    print(f"echo-server listening on {a.bind}:{a.port}", file=sys.stderr, flush=True)
    while True:
        conn, peer = s.accept()
        threading.Thread(target=serve_one, args=(conn, peer), daemon=True).start()


def recv_line(s):
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    return data


def cmd_session(a):
    res = {"ok": False, "rounds": a.rounds, "echoed": 0, "local": None, "error": None}
    try:
        with socket.create_connection((a.dst, a.port), timeout=a.timeout,
                                      source_address=(a.bind, 0) if a.bind else None) as s:
            res["local"] = "%s:%d" % s.getsockname()
            for i in range(a.rounds):
                msg = f"{a.marker}-{i}\n".encode()
                s.sendall(msg)
                got = recv_line(s)
                if got != msg:
                    raise ValueError(f"round {i}: sent {msg!r}, got {got!r}")
                res["echoed"] += 1
                if i + 1 < a.rounds:
                    time.sleep(a.interval)
        res["ok"] = res["echoed"] == a.rounds
    except Exception as e:  # noqa: BLE001 - report every failure
        res["error"] = f"{type(e).__name__}: {e}"
    out(res, res["ok"])


def cmd_probe(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    try:
        if a.bind:
            s.bind((a.bind, 0))
        s.connect((a.dst, a.port))
        r = "connected"
    except ConnectionRefusedError:
        r = "refused"
    except (socket.timeout, TimeoutError):
        r = "timeout"
    except OSError as e:
        r = f"error: {e}"
    finally:
        s.close()
    out({"result": r})


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("echo-server")
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--port", type=int, required=True)
    s = sub.add_parser("session")
    s.add_argument("--dst", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--bind")
    s.add_argument("--rounds", type=int, default=5)
    s.add_argument("--interval", type=float, default=0.2)
    s.add_argument("--marker", default="XW-SESSION")
    s.add_argument("--timeout", type=float, default=5.0)
    s = sub.add_parser("probe")
    s.add_argument("--dst", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--bind")
    s.add_argument("--timeout", type=float, default=3.0)
    a = p.parse_args()
    {"echo-server": cmd_echo_server, "session": cmd_session, "probe": cmd_probe}[a.cmd](a)


if __name__ == "__main__":
    main()
