#!/usr/bin/python3
"""tests/e2e/tools/browser.py - a headless Chromium driven over the DevTools
protocol, one command per line on stdin, one JSON reply per line on stdout
(for a bash coproc):

    browser.py --profile DIR [--width W --height H]
    open URL            navigate, wait for the load event: {"ok", "load_s"}
    eval JS             {"ok", "value"} (JS is an expression; promises awaited)
    wait SECONDS JS     evaluate JS every 100 ms until truthy: {"ok", "value", "after_s"}
    shot PATH           a PNG screenshot of the whole page: {"ok", "bytes"}
    quit

Needs python3-websockets (Debian's) and chromium. Exits when stdin closes,
taking Chromium with it.
"""
import argparse
import asyncio
import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import websockets


class Page:
    def __init__(self, ws):
        self.ws, self.seq, self.events = ws, 0, []

    async def call(self, method, **params):
        self.seq += 1
        my = self.seq
        await self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            msg = json.loads(await self.ws.recv())
            if msg.get("id") == my:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg["method"])

    async def wait_event(self, name, timeout):
        end = time.monotonic() + timeout
        while name not in self.events:
            left = end - time.monotonic()
            if left <= 0:
                return False
            try:
                msg = json.loads(await asyncio.wait_for(self.ws.recv(), left))
            except asyncio.TimeoutError:
                return False
            if "method" in msg:
                self.events.append(msg["method"])
        return True

    async def eval(self, expr):
        r = await self.call("Runtime.evaluate", expression=expr, returnByValue=True,
                            awaitPromise=True)
        if "exceptionDetails" in r:
            return False, r["exceptionDetails"].get("text", "exception")
        return True, r.get("result", {}).get("value")


def start_chromium(args):
    cmd = ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
           "--no-first-run", "--disable-extensions", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--metrics-recording-only",
           f"--user-data-dir={args.profile}", "--remote-debugging-port=0",
           f"--window-size={args.width},{args.height}", "about:blank"]
    env = dict(os.environ, HOME=args.profile)
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=env, text=True, start_new_session=True)
    # a loaded 2-core machine can take a minute to start it
    end = time.monotonic() + 120
    port = None
    log = open(os.path.join(args.profile, "chromium.log"), "w")
    while time.monotonic() < end:
        line = p.stderr.readline()
        if not line:
            break
        log.write(line)
        m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
        if m:
            port = int(m.group(1))
            break
    log.flush()
    if not port:
        os.killpg(p.pid, signal.SIGKILL)    # its whole session: zygotes, renderers
        raise SystemExit("browser.py: chromium did not start in 120 s (%s; see %s)" %
                         ("it exited" if p.poll() is not None else "no DevTools port", log.name))
    # keep draining its stderr into the log, so it never blocks on a full pipe
    def drain():
        for line in p.stderr:
            log.write(line)
        log.close()
    import threading
    threading.Thread(target=drain, daemon=True).start()
    return p, port


def page_ws(port):
    for _ in range(300):
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        pages = [t for t in targets if t.get("type") == "page"]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.1)
    raise SystemExit("browser.py: chromium has no page")


def reply(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", required=True)
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=1600)
    args = ap.parse_args()
    os.makedirs(args.profile, exist_ok=True)
    proc, port = start_chromium(args)
    loop = asyncio.get_running_loop()
    try:
        async with websockets.connect(page_ws(port), max_size=64 << 20) as ws:
            page = Page(ws)
            await page.call("Page.enable")
            await page.call("Runtime.enable")
            reply(ok=True, ready=True)
            while True:
                line = await loop.run_in_executor(None, sys.stdin.readline)
                if not line:
                    break
                cmd, _, rest = line.rstrip("\n").partition(" ")
                try:
                    if cmd == "quit":
                        reply(ok=True)
                        break
                    if cmd == "open":
                        page.events.clear()
                        t0 = time.monotonic()
                        await page.call("Page.navigate", url=rest)
                        ok = await page.wait_event("Page.loadEventFired", 30)
                        reply(ok=ok, load_s=round(time.monotonic() - t0, 3))
                    elif cmd == "eval":
                        ok, v = await page.eval(rest)
                        reply(ok=ok, value=v)
                    elif cmd == "wait":
                        secs, _, expr = rest.partition(" ")
                        t0 = time.monotonic()
                        end = t0 + float(secs)
                        ok, v = False, None
                        while True:
                            ok, v = await page.eval(expr)
                            if (ok and v) or time.monotonic() >= end:
                                break
                            await asyncio.sleep(0.1)
                        reply(ok=bool(ok and v), value=v,
                              after_s=round(time.monotonic() - t0, 3))
                    elif cmd == "shot":
                        r = await page.call("Page.captureScreenshot", format="png",
                                            captureBeyondViewport=True)
                        data = base64.b64decode(r["data"])
                        with open(rest, "wb") as f:
                            f.write(data)
                        reply(ok=True, bytes=len(data))
                    else:
                        reply(ok=False, error=f"unknown command {cmd!r}")
                except Exception as e:  # one bad command is an answer, not a crash
                    reply(ok=False, error=str(e))
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except Exception:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except Exception:
                pass


if __name__ == "__main__":
    asyncio.run(main())
