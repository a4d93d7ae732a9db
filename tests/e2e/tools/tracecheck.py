#!/usr/bin/python3
"""Check `traceroute -n` output (stdin) against the expected hops.

  traceroute -n ... | tracecheck.py --hop 1=10.1.0.1 \\
      --hop 2=203.0.113.1,198.51.100.1 --last 192.0.2.100 --hops 3

Every answer of hop K must be one of the allowed addresses and no probe of a
checked hop may be lost ('*'); --last must answer at hop --hops (and the
trace must not be longer). Prints "ok" or the problems, exit 0/1.
"""
import argparse
import re
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hop", action="append", default=[],
                   help="K=ADDR[,ADDR...]")
    p.add_argument("--last", required=True)
    p.add_argument("--hops", type=int, required=True)
    a = p.parse_args()

    hops = {}
    for line in sys.stdin:
        m = re.match(r"^\s*(\d+)\s+(.*)$", line)
        if not m:
            continue
        k = int(m.group(1))
        rest = m.group(2)
        addrs = re.findall(r"(?<![\d.])(\d+\.\d+\.\d+\.\d+)(?![\d.])", rest)
        stars = len(re.findall(r"(?:^|\s)\*(?=\s|$)", rest))
        bangs = re.findall(r"\s!(\w*)", rest)
        hops[k] = (addrs, stars, bangs, rest.strip())

    problems = []
    want = {1: None}
    for spec in a.hop:
        k, _, v = spec.partition("=")
        want[int(k)] = set(v.split(","))
    want[a.hops] = {a.last}
    for k, allowed in sorted(want.items()):
        if allowed is None:
            continue
        if k not in hops:
            problems.append(f"hop {k} missing")
            continue
        addrs, stars, _, raw = hops[k]
        if not addrs or stars or not set(addrs) <= allowed:
            problems.append(f"hop {k}: '{raw}', want {'/'.join(sorted(allowed))}")
    longest = max(hops) if hops else 0
    if longest != a.hops:
        problems.append(f"trace has {longest} hops, want {a.hops}")
    if problems:
        print("; ".join(problems))
        sys.exit(1)
    print("ok: " + " | ".join(f"{k}: {' '.join(sorted(set(h[0])))}"
                              for k, h in sorted(hops.items())))


if __name__ == "__main__":
    main()
