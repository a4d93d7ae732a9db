#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Turn the benchmark results into docs/benchmarks.md and a table on stdout.

  bench/report.py --dp bench_dp.json --lab lab.tsv --failover failover.tsv \
                  --meta meta.env --out docs/benchmarks.md

Missing inputs (a part that failed or was skipped) are reported as such.
"""
import argparse
import json
import os
import re
import statistics
import sys


def med(xs):
    return statistics.median(xs) if xs else None


def fmt(x, unit="", nd=0):
    if x is None:
        return "n/a"
    return f"{x:,.{nd}f}{unit}"


def verdict(ok):
    if ok is None:
        return "not measured"
    return "**met**" if ok else "**MISSED**"


def read_meta(path):
    meta = {}
    if path and os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    return meta


def read_tsv(path):
    rows = []
    if path and os.path.exists(path):
        for line in open(path):
            f = line.split()
            if f:
                rows.append(f)
    return rows


class Doc:
    def __init__(self):
        self.lines = []

    def __call__(self, s=""):
        self.lines.append(s)

    def table(self, head, rows):
        self("| " + " | ".join(head) + " |")
        self("|" + "|".join("---" for _ in head) + "|")
        for r in rows:
            self("| " + " | ".join(str(c) for c in r) + " |")
        self()


def part_dp(d, dp, summary):
    d("## 1. Per-packet cost of the XDP programs (BPF_PROG_TEST_RUN)")
    d()
    if not dp:
        d("Not measured: `bench_dp` did not produce results (see the `make bench` output).")
        d()
        return
    s = lambda k: dp.get(k, {})
    m = lambda k: s(k).get("median")
    rng = lambda k: f"{fmt(s(k).get('min'))}–{fmt(s(k).get('max'))}" if s(k) else "n/a"
    d(f"Median of {int(dp['rounds'])} interleaved rounds; every round runs each case once with "
      f"`repeat` = {int(dp['repeat']):,} ({int(dp['new_repeat']):,} distinct new flows for the "
      "new-flow case). Figures are ns per packet of the program alone: the harness's own cost "
      f"(median {fmt(m('harness_ns'))} ns, measured in the same round) is subtracted. The "
      "single-run column is the cross-check without the harness (see Method).")
    d()
    rows = [
        ("bare forwarder, LAN→WAN (`bench/bare_fwd.bpf.c`)", "bare_lan_ns", "single_bare_lan_ns"),
        ("bare forwarder, WAN→LAN", "bare_wan_ns", None),
        ("`xdp_lan`, established flow, LAN→WAN (SNAT)", "lan_est_ns", "single_lan_est_ns"),
        ("`xdp_wan`, established flow, WAN→LAN reply (DNAT)", "wan_est_ns", "single_wan_est_ns"),
        ("`xdp_lan`, new flow (rules, gateway choice, NAT port, 2 entries)", "new_flow_ns",
         "single_new_flow_ns"),
        ("`xdp_wan`, unsolicited packet to a LAN address, dropped", "wan_unsolicited_ns", None),
    ]
    d.table(["path", "ns/packet (median)", "min–max", "single-run cross-check"],
            [(name, fmt(m(k), nd=1), rng(k), fmt(m(x), nd=0) if x else "")
             for name, k, x in rows])
    rl, rw = m("ratio_lan_bare"), m("ratio_wan_bare")
    ok = None if rl is None else max(rl, rw or 0) <= 1.5
    summary.append(("established / bare forwarder (test_run)", "≤ 1.5×",
                    f"LAN→WAN {fmt(rl, '×', 2)}, WAN→LAN {fmt(rw, '×', 2)}", verdict(ok)))
    d(f"Established / bare: LAN→WAN **{fmt(rl, '×', 2)}**, WAN→LAN **{fmt(rw, '×', 2)}** "
      f"(median of the per-round ratios; with the harness left in: "
      f"{fmt(m('ratio_lan_bare_gross'), '×', 2)}). Target ≤ 1.5×: {verdict(ok)}.")
    d()
    if m("single_lan6_est_ns") is not None:
        r6l, r6w = m("ratio_lan6_lan"), m("ratio_wan6_wan")
        d("IPv6 (issue 13) against IPv4, established TCP flow, single runs in the same rounds "
          "(the harness takes 64-byte IPv4 frames only; an 84-byte IPv6 frame, nat6 npt):")
        d()
        d.table(["path", "IPv4 ns (median)", "IPv6 ns (median)", "IPv6 / IPv4 (median of rounds)"],
                [("`xdp_lan`, LAN→WAN", fmt(m("single_lan_est_ns"), nd=0),
                  fmt(m("single_lan6_est_ns"), nd=0), fmt(r6l, "×", 2)),
                 ("`xdp_wan`, WAN→LAN", fmt(m("single_wan_est_ns"), nd=0),
                  fmt(m("single_wan6_est_ns"), nd=0), fmt(r6w, "×", 2))])
        summary.append(("IPv6 / IPv4 established cost (single runs)", "(reported)",
                        f"LAN→WAN {fmt(r6l, '×', 2)}, WAN→LAN {fmt(r6w, '×', 2)}", "measured"))
    d("XDP_REDIRECT under BPF_PROG_TEST_RUN without `BPF_F_TEST_XDP_LIVE_FRAMES` only records "
      "the target: nothing is transmitted, so these are the programs' own costs (the devmap "
      "transmit is in the lab figures below).")
    d()


def part_scale(d, dp, summary):
    d("## 2. Flow table scale")
    d()
    if not dp or "scale_1000_one_ns" not in dp:
        d("Not measured.")
        d()
        return
    m = lambda k: dp.get(k, {}).get("median")
    sizes = [1000, 100000, 1000000]
    rows = []
    for n in sizes:
        rows.append((f"{n:,}", fmt(m(f"scale_{n}_one_ns"), nd=1),
                     fmt(m(f"scale_{n}_random_lan_ns"), nd=0),
                     fmt(m(f"scale_{n}_random_wan_ns"), nd=0)))
    d("The flow table (capacity "
      f"{int(dp['flows_capacity']):,} flows) is filled from userspace with established flow "
      "pairs (batch updates, both entries, as the dataplane makes them), then measured: a "
      "packet of one flow, as the target asks, and — beside it — a packet of a random one of "
      "the N flows on every run, which is what many active flows cost once the table no "
      "longer fits the caches.")
    d()
    d.table(["flows in the table", "one flow, `xdp_lan` ns", "random flow, `xdp_lan` ns",
             "random flow, `xdp_wan` ns"], rows)
    one = [m(f"scale_{n}_one_ns") for n in sizes]
    spread = max(one) / min(one) - 1 if all(one) else None
    ok = None if spread is None else spread <= 0.20
    summary.append(("established cost, 1k vs 100k vs 1M flows", "within 20%",
                    f"{fmt(spread * 100 if spread is not None else None, '%', 1)} spread "
                    "(one flow)", verdict(ok)))
    rnd = [m(f"scale_{n}_random_lan_ns") for n in sizes]
    d(f"One flow: spread {fmt(spread * 100 if spread is not None else None, '%', 1)} "
      f"(max/min − 1); target within 20%: {verdict(ok)}. Random flows: "
      f"{fmt(rnd[0])} → {fmt(rnd[2])} ns from 1k to 1M flows — cache and TLB misses on the "
      "hash buckets and entries, not the program's logic; the bare forwarder has no table "
      "and no such term.")
    d()
    d(f"Memory: the kernel charges {fmt(dp['flows_memlock_bytes'] / 2**20, ' MiB', 1)} "
      f"(`memlock` of the `flows` map) for {int(dp['flows_capacity']):,} flows, "
      f"**{fmt(dp['bytes_per_flow'])} bytes per flow** of capacity (two preallocated LRU "
      f"entries: key {int(dp['sizeof_flow_key'])} B + value {int(dp['sizeof_flow_entry'])} B "
      "+ the hash table's element header and bucket, each). The table is preallocated: the "
      "figure is the same empty or full.")
    d()
    if "rate_filling_flows_per_s" in dp:
        fill = m("rate_filling_flows_per_s")
        full = m("rate_full_flows_per_s")
        by = dp.get("rate_ns_by_chunk", [])
        d(f"New-flow rate, one CPU, table of {int(dp['rate_capacity']):,} flows (xwan's "
          f"default), {int(dp['rate_offered']):,} distinct new flows offered in chunks of "
          f"{int(dp['rate_chunk']):,}: **{fmt(fill / 1e6 if fill else None, ' M', 2)} "
          f"flows/s** while the table fills (first 75%), **{fmt(full / 1e6 if full else None, ' M', 2)} "
          "flows/s** once it is full and LRU eviction makes room "
          f"({int(dp['rate_forwarded']):,} of {int(dp['rate_offered']):,} forwarded, "
          f"{int(dp['rate_alloc_drops']):,} dropped for want of an entry; "
          f"{int(dp['rate_eviction_events']):,} creations counted as evictions).")
        d()
        if by:
            d("ns per new flow by how much of the capacity had been offered: " +
              ", ".join(f"{25 * (i + 1)}%: {v:.0f}" for i, v in enumerate(by)) + ".")
            d()


def part_lab(d, lab, summary, meta):
    d("## 3. The gateway in the namespace lab")
    d()
    udp = [r for r in lab if r[0] == "udp"]
    tcp = [r for r in lab if r[0] == "tcp"]
    prog = [r for r in lab if r[0] == "prog"]
    if not udp:
        d("Not measured: `bench/lab_bench.sh` did not produce results.")
        d()
        return
    modes = ["xwan", "kernel", "bare"]
    names = {"xwan": "xwan (XDP)", "kernel": "kernel + nftables masquerade",
             "bare": "bare XDP forwarder (no NAT)"}
    per = {m: [int(r[5]) / int(r[4]) for r in udp if r[1] == m and int(r[4]) > 0] for m in modes}
    dlv = {m: [int(r[4]) / int(r[3]) for r in udp if r[1] == m] for m in modes}
    kfw = {m: sum(int(r[8]) for r in udp if r[1] == m and len(r) > 8) for m in modes}
    rate = meta.get("lab_rate", "?")
    rounds = max((int(r[2]) for r in udp), default=0)
    d(f"64-byte UDP frames at a fixed {int(rate):,} packets/s (16 flows) from the client to "
      f"the server through the gw; {rounds} interleaved rounds (xwan, kernel, bare, xwan, …); "
      "the gw's CPU per forwarded packet is the on-CPU time of its NAPI threads over the "
      "packets the server side received (Method).")
    d()
    rows = []
    for m in modes:
        p = per[m]
        rows.append((names[m], fmt(med(p), nd=0), f"{fmt(min(p) if p else None)}–{fmt(max(p) if p else None)}",
                     fmt(med(dlv[m]) * 100 if dlv[m] else None, "%", 2), f"{kfw[m]:,}"))
    d.table(["gateway", "gw CPU ns/packet (median)", "min–max", "delivered", "forwarded by the gw's kernel"],
            rows)
    x, k, b = med(per["xwan"]), med(per["kernel"]), med(per["bare"])
    rk = x / k if x and k else None
    rb = x / b if x and b else None
    okk = None if rk is None else rk <= 0.5
    okb = None if rb is None else rb <= 1.25
    summary.append(("lab: xwan / kernel+nftables CPU per packet", "≤ 0.5×", fmt(rk, "×", 2), verdict(okk)))
    summary.append(("lab: xwan / bare XDP forwarder CPU per packet", "≤ 1.25×", fmt(rb, "×", 2), verdict(okb)))
    d(f"xwan / kernel+nftables: **{fmt(rk, '×', 2)}** (target ≤ 0.5×: {verdict(okk)}); "
      f"xwan / bare XDP forwarder: **{fmt(rb, '×', 2)}** (target ≤ 1.25×: {verdict(okb)}).")
    d()
    if prog:
        parts = []
        for r in prog:
            t, n = int(r[3]), int(r[4])
            if n:
                parts.append(f"{names[r[1]]}: {t / n:.0f} ns per run")
        d("Of that, the XDP program on lan0 itself (a separate diagnostic run with "
          "`kernel.bpf_stats_enabled=1`): " + "; ".join(parts) + ". The rest is the veth "
          "NAPI poll, the devmap transmit into the next veth's ring and waking its thread.")
        d()
    if tcp:
        rows = []
        for m in modes:
            bps = [float(r[3]) for r in tcp if r[1] == m]
            busy = [int(r[4]) / (float(r[5]) * 1e9) for r in tcp if r[1] == m]
            rows.append((names[m], fmt(med(bps) / 1e9 if bps else None, "", 2),
                         f"{fmt(min(bps) / 1e9 if bps else None, '', 2)}–{fmt(max(bps) / 1e9 if bps else None, '', 2)}",
                         fmt(med(busy) * 100 if busy else None, "%", 0)))
        d(f"TCP, one iperf3 stream client → server ({meta.get('tcp_secs', '?')} s per run, "
          "interleaved rounds):")
        d()
        d.table(["gateway", "Gbit/s (median)", "min–max", "gw NAPI threads busy"], rows)
        d("On veth the TCP figure is bounded by the endpoints and the ISP/inet hops, which "
          "all share the other CPU, not by the gateway (see its busy share). It also favours "
          "the kernel gateway for a reason that a NIC would not have: with GRO on the gw's "
          "lan0 the kernel forwards 64 KiB GRO aggregates, which every later veth hop passes "
          "on whole, while an XDP program on a veth turns off GSO/TSO on its peer (the "
          "client then segments in software) and every hop handles 1500-byte frames; and "
          "native XDP on a veth copies each frame that comes from a socket (here iperf3's) "
          "into a page first.")
        d()


def part_flood(d, fl):
    d("## 3b. Established TCP during a spoofed SYN flood")
    d()
    rows = [r for r in fl if r[0] == "flood"]
    if not rows:
        d("Not measured: `bench/flood_bench.sh` did not produce results.")
        d()
        return
    q = [float(r[3]) for r in rows if r[1] == "quiet"]
    f = [float(r[3]) for r in rows if r[1] == "flood"]
    syn = [int(r[5]) / float(r[6]) for r in rows if r[1] == "flood" and float(r[6]) > 0]
    ev = [int(r[7]) for r in rows if r[1] == "flood"]
    rtq = [int(r[4]) for r in rows if r[1] == "quiet"]
    rtf = [int(r[4]) for r in rows if r[1] == "flood"]
    d(f"One iperf3 stream client → server through the xwan lab gateway ({rows[0][6]} s per "
      "run), alternating runs without and with `hping3 --flood --rand-source -S` (pinned to "
      "CPU 0) from the internet host to a port forward on the gw's WAN address "
      "(bench/flood_bench.sh).")
    d()
    d.table(["", "Gbit/s (median)", "min–max", "retransmits (median)", "SYNs/s offered (median)",
             "unanswered flows evicted per run (median)"], [
        ("no flood", fmt(med(q) / 1e9 if q else None, "", 2),
         f"{fmt(min(q) / 1e9 if q else None, '', 2)}–{fmt(max(q) / 1e9 if q else None, '', 2)}",
         fmt(med(rtq), nd=0), "0", "0"),
        ("during the flood", fmt(med(f) / 1e9 if f else None, "", 2),
         f"{fmt(min(f) / 1e9 if f else None, '', 2)}–{fmt(max(f) / 1e9 if f else None, '', 2)}",
         fmt(med(rtf), nd=0), fmt(med(syn), nd=0), fmt(med(ev), nd=0)),
    ])
    d("The stream's flow is answered, so it lives in the table the flood cannot evict "
      "(docs/config.md, `flow_table_size`); the flood churns only the unanswered table. "
      "What the stream loses is CPU: on this 2-core machine hping3, the gw's XDP on every "
      "SYN, the LAN server's SYN-ACKs and the stream's endpoints share the cores.")
    d()


def part_failover(d, fo, summary):
    d("## 4. Failover time")
    d()
    rows = [r for r in fo if r[0] == "failover"]
    if not rows or rows[0][1] == "skipped":
        d("Not measured: " + (rows[0][2] if rows else "no results") + ". Hook: "
          "`bench/failover_bench.sh` calls `measure_failover` from "
          "`tests/e2e/failover_lib.sh` when that file exists.")
        d()
        summary.append(("failover time", "(reported)", "not measured", "not measured"))
        return
    d("`measure_failover` (tests/e2e/failover_lib.sh): a new TCP connection every 50 ms; "
      "isp1 is blackholed (link up, packets dropped); time from the blackhole to the first "
      "attempt after which every attempt succeeded through isp2. A fresh agent per run, "
      "profiles interleaved.")
    d()
    out = []
    for p in ["default", "fast"]:
        rr = [r for r in rows if r[1] == p]
        vals = [float(r[3]) for r in rr if r[3] != "never"]
        never = sum(1 for r in rr if r[3] == "never")
        failed = [int(r[4]) for r in rr if r[4].isdigit()]
        out.append((p, len(rr), fmt(med(vals), " s", 2), fmt(max(vals) if vals else None, " s", 2),
                    f"{never}", fmt(med(failed), nd=0)))
        summary.append((f"failover, {p} probe profile", "(reported)",
                        f"median {fmt(med(vals), ' s', 2)}, worst {fmt(max(vals) if vals else None, ' s', 2)}",
                        "measured" if vals and not never else "see section 4"))
    d.table(["profile", "runs", "median", "worst", "never settled", "failed attempts (median)"], out)
    ages = [r[6] for r in rows if len(r) > 6 and r[1] == "default"]
    d("The default profile decides on loss over a 60 s window (20% lost: down). A fresh "
      "agent's window holds only the probes sent since it started"
      + (f" (here about {float(ages[0]):.0f} s)" if ages else "") + ", so a few lost probes reach 20%; "
      "an agent whose window is full needs 24 of its 120 probes lost, plus the 2 s loss "
      "interval: about 13.5 s (tests/unit/test_health.c derives it from the rules). The same "
      "holds right after a recovery, which clears the outage from the window. For fast "
      "failover use `down_after` (the fast profile: interval 100 ms, loss interval 200 ms, "
      "down_after 3), whose time does not depend on the window.")
    d()


def part_agent(d, ag, summary):
    d("## 5. The agent under a big flow table")
    d()
    v = {r[1]: r[2] for r in ag if r[0] == "agent" and len(r) > 2}
    if not v.get("flows"):
        d("Not measured (bench/agent_bench.sh failed or did not run).")
        d()
        summary.append(("probe send jitter during sweep / scrape", "< 10 ms", "not measured",
                        "not measured"))
        return
    flows = int(v["flows"])
    d(f"`bench/agent_bench.sh`: a lab agent probing every 100 ms with {flows:,} live flows in "
      "its table (bench/flowfill); isp1's probes are captured on the ISP side. Phase *sweep*: "
      "only the agent's own 10 s sweeps run (on its worker thread); phase *scrape*: /metrics "
      "is scraped back to back; phase *idle* (before the table is filled) is the control: "
      "the same agent with an empty table, i.e. what the machine's load alone gives. Jitter is |interval between consecutive probes - 100 ms|.")
    d()
    rows = []
    for ph in ("idle", "sweep", "scrape"):
        if f"{ph}_probes" not in v:
            continue
        rows.append((ph, v.get(f"{ph}_probes", "?"), v.get(f"{ph}_jitter_p50_ms", "?") + " ms",
                     v.get(f"{ph}_jitter_p99_ms", "?") + " ms",
                     v.get(f"{ph}_jitter_max_ms", "?") + " ms", v.get(f"{ph}_seq_gaps", "?")))
    d.table(["phase", "probe intervals", "jitter p50", "jitter p99", "jitter max",
             "probes missing in the capture"], rows)
    d.table(["", ""], [
        ("one /metrics scrape (counts from the last sweep), median / worst",
         f"{float(v.get('scrape_p50_s', 'nan')) * 1000:.1f} ms / "
         f"{float(v.get('scrape_max_s', 'nan')) * 1000:.1f} ms ({v.get('scrapes', '?')} scrapes)"),
        ("`xwan stats` (CLI: scans the whole table)", f"{float(v.get('cli_stats_s', 'nan')):.2f} s"),
        ("the agent's sweep (worker thread)", f"{float(v.get('sweep_s', 'nan')):.2f} s"),
        ("xwan_flows_active after the run", v.get("flows_active", "?")),
    ])
    try:
        worst = max(float(v["sweep_jitter_p99_ms"]), float(v["scrape_jitter_p99_ms"]))
    except (KeyError, ValueError):
        worst = None
    summary.append((f"probe send jitter during sweep / scrape, {flows:,} flows (p99)", "< 10 ms",
                    f"{v.get('sweep_jitter_p99_ms', '?')} / {v.get('scrape_jitter_p99_ms', '?')} ms",
                    verdict(worst < 10 if worst is not None else None)))
    summary.append((f"/metrics scrape time, {flows:,} flows", "(reported)",
                    f"{float(v.get('scrape_p50_s', 'nan')) * 1000:.1f} ms", "measured"))
    d("Sweeps, flushes, textfile writes and reloads run on the agent's worker thread "
      "(monitor/worker.c, nice 10); the scrape reads the flow counts the last sweep took, "
      "so it costs O(gateways) instead of a walk of the table. The probing loop runs at a low "
      "real-time priority (SCHED_FIFO 10, reset on fork; monitor/rt.h), so the worker, the "
      "HTTP thread, the scrapers and the rest of the machine never keep it from the CPU when "
      "a probe is due, and the mutexes it shares with the worker and HTTP threads inherit "
      "priority: a nice-10 worker preempted while holding one used to stall the loop for tens "
      "of milliseconds (p99 10.73 ms during sweeps, 52.78 ms during scrapes before, with the "
      "loop at nice 0). A probe missing in the capture is one lost on the way (the agent "
      "numbers every probe it sends), not one left unsent.")
    d()


METHOD = """## Method

**Per-packet cost (section 1).** `build/bench/bench_dp` (bench/bench_dp.c) builds the test
fixture's private network namespace (tests/bpf/fixture.h: veths lan0/wan1/wan2, permanent
gateway neighbours) and loads the real dataplane with the real loader (config parser,
`dp_load`, `xwan_sync_all`, `xwan_sync_neigh`). `BPF_PROG_TEST_RUN` with `repeat` runs a
program *repeat* times on one buffer, so from the second run on the program would see its own
output (translated addresses, decremented TTL) — a different path. Every measurement therefore
runs `bench_wrap` (bench/harness.bpf.c): it copies the 64-byte frame back in place, optionally
writes a flow's tuple into it, and tail-calls the program under test. Its cost is measured the
same way with an empty target and subtracted. New flows: the harness writes flow number
*next++* into each run's frame (distinct client port and remote address per run, so NAT keeps
the client's port), one million distinct tuples per round into an emptied table of 2M flows.
Every measured run is checked against the dataplane's verdict counters (all runs forwarded,
established runs created no flow, new-flow runs each created one). Cross-check: single runs
(`repeat` 1) on a fresh copy of the frame each time, median duration minus an empty
program's; new flows with a new client port per call. Those include cold-cache effects of a
syscall per packet and are higher. The process is pinned to one CPU. The timer is the
kernel's (`duration`, whole ns, preemption excluded).

**Scale (section 2).** Same environment; the flows map is filled with `bpf_map_update_batch`
(1k, then up to 100k, then up to 1M flows, each round from an empty table). Memory is the
`memlock` the kernel reports for the `flows` map (`/proc/PID/fdinfo`, as `bpftool map show`).
New-flow rate: a table of the default 262,144 flows offered four times its capacity in
distinct new flows, ns per flow per chunk.

**Lab (section 3).** `bench/lab_bench.sh` builds three labs (tests/e2e/lab.sh) at once: xwan
mode, kernel mode, and the kernel mode turned into a plain router for the bare forwarder
(gw nftables tables deleted, gw source-routing rules removed, ISPs' and inet's anti-spoofing
rules flushed and routes to 10.1.0.0/24 added — for this measurement only). On veth every hop
runs on the sending core, so the veth ends that receive traffic get NAPI (GRO on) and threaded
NAPI (`/sys/class/net/DEV/threaded`): the gw's lan0/wan1/wan2 threads are pinned to CPU 1,
and the threads of the ends the gw sends into (client eth0, isp cust) — which the gw only
wakes — and all lab processes to CPU 0. The gw's cost per packet is the on-CPU time of its
NAPI threads (`/proc/TID/schedstat`) over the packets the server side counted (nft counter in
inet's prerouting, which also drops them). The offered load comes from `bench/xdpgen`: in the
client namespace it runs bench/xdpgen.bpf.c with `BPF_PROG_TEST_RUN` in live-frames mode,
`rate/1000` frames every millisecond, redirected into the client's veth, so they arrive in the
gw's lan0 ring as xdp_frames, as a NIC would deliver them (a socket's skbs would have to be
copied by native XDP on a veth). A warm-up of 0.3 s precedes each run (flows, conntrack,
neighbours). TCP: `iperf3 -c` from the client to the lab's iperf3 server.

**Failover (section 4).** `bench/failover_bench.sh`, see section 4.

**Noise.** This is a 2-CPU VM shared with other work; medians of interleaved rounds are
reported with their ranges. Hardware performance counters are not available here
(`perf stat -e instructions` reports "not supported"); the breakdowns below come from
`perf record -e cpu-clock` (software sampling) and `kernel.bpf_stats_enabled`.
"""

ANALYSIS = """## Where the time goes

`make bench` samples three cases with `perf record -e cpu-clock -F 5000 --
build/bench/bench_dp --profile CASE` (software sampling: no hardware counters here; symbol
level only: perf cannot annotate JITed BPF and bpftool cannot dump JITed code without libbfd).
The shares below are of all samples of that loop, so the harness (`bench_wrap`) and
`bpf_test_run` overhead are in them. `bpf_prog_*_NAME` is the program's own JITed code;
every other line is a kernel function it calls (helpers, map code).

How to read them, and what the lead could change:

* **Established packets**: the program's own instructions are the largest item (parsing into
  `struct pkt`, ~130 bytes zeroed and filled per packet, Ethernet addresses copied though only
  new flows use them; three per-CPU counter updates — verdict, per-gateway packets and bytes;
  the NAT rewrite with its incremental checksum updates). Next the flow lookup
  (`htab_map_hash`: jhash of the 16-byte key; `lookup_nulls_elem_raw`: the bucket walk;
  `__htab_map_lookup_elem`, `memcmp`), then `bpf_ktime_get_coarse_ns` — a helper call for the
  coarse clock that costs about as much as the redirect and the counters together. Cheap
  wins: read the clock only where it is needed (or use `bpf_jiffies64`), do not copy the MACs
  into `struct pkt` before a flow miss, fold the per-gateway counters into fewer per-CPU
  writes. With many active flows the lookup's cache and TLB misses dominate (section 2,
  random flows): a smaller `flow_entry` (96 bytes; `created_ns`, `bytes`, `tcp_seq_next`,
  the MACs are cold) would fit more entries per cache line and page.
* **New flows**: the hash table, not xwan's logic (`flow_admit` itself is a few percent):
  `htab_lru_map_update_elem` (bucket lock, element initialisation) and
  `lookup_nulls_elem_raw` — every new flow walks buckets for keys never seen before (its
  lookup miss, the `BPF_NOEXIST` claim of the NAT port, the check for an old OUT entry, the
  OUT insert, the re-lookup in `xdp_lan`: five walks), and
  on a table of hundreds of MiB each walk is a cache and TLB miss — plus the LRU free lists
  (`bpf_lru_pop_free`, `bpf_lru_push_free`). A common (shared) LRU takes locks and rotates
  its lists on allocation; `BPF_F_NO_COMMON_LRU` (per-CPU LRU lists) avoids part of that at
  the price of splitting the capacity per CPU; dropping the re-lookup after `flow_admit`
  (return the entry, or keep the OUT entry in the scratch area) saves one walk. The first
  round on a freshly created table is markedly faster (its free elements still lie in
  address order); after the first emptying the free elements are scattered, as in a
  long-running gateway, and that is what the median shows.
* **Bare forwarder**: `bpf_ipv4_fib_lookup`, `fib_table_lookup`, `ip_mtu_from_fib_result`
  — the FIB lookup that xwan's flow entry replaces on every established packet (it caches the
  gateway, the output device and both MACs). That is why xwan's established path is cheaper
  than the reference, and more so in the lab, where the FIB's data is colder than in a tight
  test_run loop (section 3's bpf_stats line).
"""


def profile_tables(d, pdir):
    names = [("lan_est", "established `xdp_lan`"), ("new", "new flow, `xdp_lan`"),
             ("bare", "bare forwarder")]
    found = False
    for case, title in names:
        f = os.path.join(pdir or "", f"perf-{case}.txt")
        if not pdir or not os.path.exists(f):
            continue
        rows = []
        for line in open(f):
            t = line.split()
            if len(t) >= 3 and t[0].endswith("%") and t[1] == "[k]":
                rows.append((t[0], "`" + t[2] + "`"))
            if len(rows) >= 10:
                break
        if rows:
            found = True
            d(f"Profile, {title} (top 10 symbols):")
            d()
            d.table(["samples", "symbol"], rows)
    if not found:
        d("(No profiles: perf was not available or `BENCH_QUICK` skipped them.)")
        d()


# Sections other scripts write into the same file between their own markers
# (bench/ha_bench.sh: "<!-- ha_bench: ... -->" to "<!-- /ha_bench -->"):
# this report does not measure them, so it carries them over as they are.
KEPT = re.compile(r"<!-- ([a-z_]+): written by .*?<!-- /\1 -->\n?", re.S)


def kept_sections(path):
    try:
        with open(path) as f:
            return [m.group(0).rstrip("\n") for m in KEPT.finditer(f.read())]
    except OSError:
        return []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dp")
    ap.add_argument("--lab")
    ap.add_argument("--failover")
    ap.add_argument("--flood")
    ap.add_argument("--meta")
    ap.add_argument("--agent")
    ap.add_argument("--profiles", help="directory with perf-CASE.txt")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    meta = read_meta(a.meta)
    dp = None
    if a.dp and os.path.exists(a.dp):
        try:
            dp = json.load(open(a.dp))
        except ValueError as e:
            print(f"report: {a.dp}: {e}", file=sys.stderr)
    lab = read_tsv(a.lab)
    fo = read_tsv(a.failover)
    fl = read_tsv(a.flood)

    d = Doc()
    summary = []
    d("# xwan benchmarks")
    d()
    d("Generated by `make bench` (bench/run.sh); do not edit by hand.")
    d()
    d.table(["", ""], [
        ("machine", f"{meta.get('cpu', '?')}, {meta.get('cores', '?')} cores, "
                    f"{meta.get('mem', '?')} memory{meta.get('virt', '')}"),
        ("kernel", meta.get("kernel", "?")),
        ("load", "1-minute load average %s at the start, %s at the end (a shared machine's "
                 "other work is in every figure)" % (meta.get("load_start", "?"),
                                                     meta.get("load_end", "?"))),
        ("date", meta.get("date", "?")),
        ("commit", meta.get("commit", "?")),
        ("reproduce", f"`{meta.get('command', 'make bench')}` (as root; about "
                      f"{meta.get('minutes', '?')} minutes)"),
        ("run", "quick (`BENCH_QUICK=1`: fewer rounds)" if meta.get("quick") else "full"),
    ])
    body = Doc()
    part_dp(body, dp, summary)
    part_scale(body, dp, summary)
    part_lab(body, lab, summary, meta)
    part_flood(body, fl)
    part_failover(body, fo, summary)
    part_agent(body, read_tsv(a.agent), summary)

    d("## Summary against the targets")
    d()
    d.table(["figure", "target", "measured", ""], summary)
    d.lines += body.lines
    d(METHOD)
    d(ANALYSIS)
    profile_tables(d, a.profiles)
    if dp and dp.get("checks_failed"):
        d("**Warning: some measured runs did not take the path they were meant to measure "
          "(bench_dp checks failed); see the `make bench` output.**")
        d()

    text = "\n".join(d.lines).rstrip() + "\n"
    for block in kept_sections(a.out):
        text += "\n" + block + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    # stdout: the summary and the figures, without the prose
    prev = ""
    for line in d.lines:
        if line.startswith("## Method"):
            break
        if line.startswith("#") or (line.startswith("|") and not prev.startswith("|")):
            print()
        if line.startswith("|") or line.startswith("#"):
            print(line)
        prev = line
    print(f"\nwritten: {a.out}")


if __name__ == "__main__":
    main()
