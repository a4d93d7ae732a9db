#!/usr/bin/python3
"""Check a `bpftool -j map dump` (file or stdin) of xwan's flow table.

  flowdump.py FILE [FIELD...]

Passes (exit 0) when it is a JSON list with at least one entry and every
FIELD appears as a key somewhere in it (bpftool prints the BTF-formatted
key/value under "formatted" when the map has BTF). Prints a one-line
summary: entry count and the field names seen.
"""
import json
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    src = sys.stdin if sys.argv[1] == "-" else open(sys.argv[1])
    want = sys.argv[2:]
    try:
        d = json.load(src)
    except ValueError as e:
        print(f"not JSON ({e})")
        sys.exit(1)
    names = set()

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                names.add(k)
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(d)
    n = len(d) if isinstance(d, list) else 0
    missing = [w for w in want if w not in names]
    fields = " ".join(sorted(names - {"key", "value", "formatted", "values", "cpu"}))
    msg = f"{n} entries, fields: {fields or 'none (no BTF?)'}"
    if missing:
        msg += f"; missing: {' '.join(missing)}"
    print(msg)
    sys.exit(0 if n > 0 and not missing else 1)


if __name__ == "__main__":
    main()
