#!/usr/bin/python3
"""Services of the "inet" namespace of the xwan e2e lab (stdlib only).

  TCP  ADDR:8080  whoami: answers "<peer-ip>:<peer-port>\\n" and logs the peer
  TCP  ADDR:8081  hold: reads and discards until the client closes (keeps
                  long-lived flows around for flow-table checks and demos)
  UDP  ADDR:5300  whoami: answers "<request> <peer-ip>:<peer-port>\\n"
  UDP  ADDR:5301  echo:   returns each datagram unchanged (any size, so
                  fragmented datagrams come back fragmented)
  HTTP ADDR:8000  static files from --www (the lab puts an 8 MiB blob there)

--addr may be repeated (an IPv4 and an IPv6 address): every service listens
on each.

Every TCP/UDP whoami peer is appended to --log as "<proto> <ip> <port>"
(one line per connection/datagram, flushed at once), so a test can count
which public (NATed) source addresses reached the internet.

Runs in the foreground until killed; the lab polls the ports for readiness.
"""
import argparse
import asyncio
import functools
import http.server
import os
import socket
import sys
import threading


class PeerLog:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1) if path else None

    def add(self, proto, peer):
        if self.f:
            self.f.write(f"{proto} {peer[0]} {peer[1]}\n")
            self.f.flush()


class UdpWhoami(asyncio.DatagramProtocol):
    def __init__(self, log):
        self.log = log

    def connection_made(self, transport):
        self.t = transport

    def datagram_received(self, data, addr):
        self.log.add("udp", addr)
        req = data[:64].decode("ascii", "replace").strip()
        self.t.sendto(f"{req} {addr[0]}:{addr[1]}\n".encode(), addr)


class UdpEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.t = transport

    def datagram_received(self, data, addr):
        self.t.sendto(data, addr)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass


def start_http(addr, port, www):
    # http.server binds AF_INET unless told: an IPv6 address needs AF_INET6.
    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        allow_reuse_address = True
        daemon_threads = True

    httpd = Server((addr, port), functools.partial(QuietHandler, directory=www))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()


async def main(args):
    log = PeerLog(args.log)
    loop = asyncio.get_running_loop()

    async def tcp_whoami(reader, writer):
        peer = writer.get_extra_info("peername")
        log.add("tcp", peer)
        try:
            writer.write(f"{peer[0]}:{peer[1]}\n".encode())
            await writer.drain()
        finally:
            writer.close()

    async def tcp_hold(reader, writer):
        try:
            while await reader.read(65536):
                pass
        except ConnectionError:
            pass
        finally:
            writer.close()

    servers = []
    for addr in args.addr:
        servers.append(await asyncio.start_server(
            tcp_whoami, addr, args.tcp_port, backlog=1024, reuse_address=True))
        await asyncio.start_server(tcp_hold, addr, args.hold_port,
                                   backlog=1024, reuse_address=True)
        await loop.create_datagram_endpoint(lambda: UdpWhoami(log),
                                            local_addr=(addr, args.udp_port))
        await loop.create_datagram_endpoint(UdpEcho,
                                            local_addr=(addr, args.echo_port))
        if args.www:
            start_http(addr, args.http_port, args.www)
    print(f"servers.py: listening on {' '.join(args.addr)}", file=sys.stderr,
          flush=True)
    srv = servers[0]
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--addr", action="append",
                   help="listen here (repeat for more; default 192.0.2.100)")
    p.add_argument("--tcp-port", type=int, default=8080)
    p.add_argument("--hold-port", type=int, default=8081)
    p.add_argument("--udp-port", type=int, default=5300)
    p.add_argument("--echo-port", type=int, default=5301)
    p.add_argument("--http-port", type=int, default=8000)
    p.add_argument("--www", help="directory served over HTTP")
    p.add_argument("--log", help="append peer addresses here")
    a = p.parse_args()
    a.addr = a.addr or ["192.0.2.100"]
    if a.www and not os.path.isdir(a.www):
        sys.exit(f"servers.py: --www {a.www}: not a directory")
    try:
        asyncio.run(main(a))
    except KeyboardInterrupt:
        pass
