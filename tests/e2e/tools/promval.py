#!/usr/bin/python3
"""Read a Prometheus text exposition on stdin and print the sum of the
samples of one metric whose labels include the given ones.

  xwan stats | promval.py 'xwan_packets_total{hook="xdp",verdict="drop",reason="unsolicited"}'

Label order does not matter and extra labels on the sample are allowed, so
a per-CPU or per-interface breakdown is summed. Prints nothing and exits 1
when no sample matches (a metric that vanished is an error, not a zero).
"""
import re
import sys

SEL = re.compile(r'^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def labels(text):
    out, pos = {}, 0
    text = text or ""
    while pos < len(text):
        m = LABEL.match(text, pos)
        if not m:
            if text[pos:].strip(" ,"):
                raise ValueError(f"cannot parse labels {text!r}")
            break
        out[m.group(1)] = m.group(2)
        pos = m.end()
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    m = SEL.match(sys.argv[1])
    if not m:
        sys.exit(f"promval.py: bad selector {sys.argv[1]!r}")
    name, want = m.group(1), labels(m.group(2))
    total, found = 0.0, False
    for line in sys.stdin:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        sm = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)', line)
        if not sm or sm.group(1) != name:
            continue
        have = labels((sm.group(2) or "{}")[1:-1])
        if all(have.get(k) == v for k, v in want.items()):
            total += float(sm.group(3))
            found = True
    if not found:
        sys.exit(1)
    print(int(total) if total.is_integer() else total)


if __name__ == "__main__":
    main()
