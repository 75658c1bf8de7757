#!/usr/bin/env python3
"""Per-peer tables under a flood: a real aggregator (durable checkpoints, the default bounds
max_agents 10,000 and max_streams_per_agent 10,000) is sent 100,000 HELLOs with distinct names
from one connection, or 2,000,000 new streams (200 agents x 10,000), by ember-flood-peers.
Before and after (once the aggregator has worked off the flood): resident memory, the mean
checkpoint time over the next seconds (from /metrics), the aggregator's CPU while idle. Bounded tables keep all three flat after the flood
has been refused. Median of N runs, printed as a table and written as JSON.

  bench/flood_bench.py --bin build/release --runs 3
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_bench import cpu_seconds, rss_kib  # noqa: E402
from load_bench import start_aggregator  # noqa: E402
from procs import stop  # noqa: E402
from replay_bench import machine  # noqa: E402


def scrape(http):
    text = urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def settle(pid, http, seconds):
    """Mean checkpoint time (ms) and CPU (% of a core) over `seconds` of an idle aggregator."""
    m0, c0, t0 = scrape(http), cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    m1, c1, t1 = scrape(http), cpu_seconds(pid), time.monotonic()
    n = m1["ember_checkpoint_duration_seconds_count"] - m0["ember_checkpoint_duration_seconds_count"]
    s = m1["ember_checkpoint_duration_seconds_sum"] - m0["ember_checkpoint_duration_seconds_sum"]
    return {"checkpoint_ms": 1000 * s / n if n else 0.0, "checkpoints": n,
            "cpu_percent": 100 * (c1 - c0) / (t1 - t0), "rss_mib": rss_kib(pid) / 1024}


def quiet(pid, limit=300):
    """Waits (bounded) until the aggregator has worked off the flood: under a tenth of a core
    over two seconds (its /metrics snapshot is not a guide: it is published per batch)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        c0 = cpu_seconds(pid)
        time.sleep(2)
        if cpu_seconds(pid) - c0 < 0.2:
            return


def one_run(bindir, scratch, flood_args, settle_seconds):
    work = tempfile.mkdtemp(dir=scratch)
    agg, port, http = start_aggregator(bindir, work)
    try:
        time.sleep(2)
        before = settle(agg.pid, http, settle_seconds)
        flood = subprocess.run([f"{bindir}/bench/ember-flood-peers", "--endpoint",
                                f"tcp://127.0.0.1:{port}", *flood_args],
                               stdout=subprocess.PIPE, text=True, timeout=600, check=True)
        quiet(agg.pid)
        after = settle(agg.pid, http, settle_seconds)
        m = scrape(http)
        return {"before": before, "after": after, "flood": json.loads(flood.stdout),
                "peak_rss_mib": rss_kib(agg.pid, "VmHWM") / 1024,
                "refused": m.get("ember_refused_total", 0),
                "streams_refused": m.get("ember_streams_refused_total", 0)}
    finally:
        stop(agg)
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/release")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--hellos", type=int, default=100_000)
    ap.add_argument("--streams", type=int, default=2_000_000)
    ap.add_argument("--settle-seconds", type=float, default=5)
    ap.add_argument("--scratch", default="/var/tmp")
    ap.add_argument("--json", default="bench/results/flood.json")
    args = ap.parse_args()
    bindir = os.path.abspath(args.bin)
    cases = {
        f"{args.hellos:,} HELLOs": ["--hellos", str(args.hellos)],
        f"{args.streams:,} streams": ["--streams", str(args.streams), "--agents", "200"],
    }
    results = {name: [one_run(bindir, args.scratch, a, args.settle_seconds) for _ in range(args.runs)]
               for name, a in cases.items()}
    print(f"aggregator per-peer tables under a flood (default bounds), median of {args.runs} runs")
    print(f"machine: {machine()}\n")
    print("| flood | RSS before, MiB | RSS after | peak RSS | checkpoint before, ms | after | "
          "idle CPU before, % | after | refused |")
    print("|---|---|---|---|---|---|---|---|---|")
    out = {"machine": machine(), "runs": args.runs, "cases": {}}
    for name, runs in results.items():
        med = lambda f: statistics.median(f(r) for r in runs)  # noqa: E731
        row = {
            "rss_before": med(lambda r: r["before"]["rss_mib"]),
            "rss_after": med(lambda r: r["after"]["rss_mib"]),
            "peak_rss": med(lambda r: r["peak_rss_mib"]),
            "ckpt_before": med(lambda r: r["before"]["checkpoint_ms"]),
            "ckpt_after": med(lambda r: r["after"]["checkpoint_ms"]),
            "cpu_before": med(lambda r: r["before"]["cpu_percent"]),
            "cpu_after": med(lambda r: r["after"]["cpu_percent"]),
            "refused": med(lambda r: r["refused"] + r["streams_refused"]),
        }
        out["cases"][name] = {"median": row, "runs": runs}
        print(f"| {name} | {row['rss_before']:.1f} | {row['rss_after']:.1f} | {row['peak_rss']:.1f} | "
              f"{row['ckpt_before']:.2f} | {row['ckpt_after']:.2f} | {row['cpu_before']:.1f} | "
              f"{row['cpu_after']:.1f} | {row['refused']:,.0f} |")
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
