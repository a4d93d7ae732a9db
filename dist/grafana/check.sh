#!/bin/bash
# dist/grafana/check.sh [DASHBOARD] - every query of the Grafana dashboard,
# as Prometheus recording rules checked by `promtool check rules`. Grafana's
# own variables get a value first ($gateway: .*, $__rate_interval: 1m).
# Prints the metric names the queries use (one line, sorted) on success.
#   PROMTOOL=promtool   EXPRS_OUT=FILE (keep the rules file there)
set -eu
dash=${1:-$(dirname "$0")/xwan.json}
out=${EXPRS_OUT:-$(mktemp)}
/usr/bin/python3 - "$dash" "$out" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
exprs = [(p["id"], t["refId"], t["expr"]) for p in d["panels"] for t in p.get("targets", [])]
if not exprs:
    sys.exit("no queries in " + sys.argv[1])
with open(sys.argv[2], "w") as f:
    f.write("groups:\n  - name: grafana\n    rules:\n")
    for pid, ref, e in exprs:
        e = e.replace("$__rate_interval", "1m").replace("$gateway", ".*")
        f.write(f"      - record: grafana:panel{pid}_{ref}\n        expr: {json.dumps(e)}\n")
PY
"${PROMTOOL:-promtool}" check rules "$out" >&2
grep -o 'xwan_[a-z_]*' "$out" | sort -u | tr '\n' ' ' | sed 's/ $/\n/'
[ -n "${EXPRS_OUT:-}" ] || rm -f "$out"
