#!/usr/bin/env python3
"""Aggregator load test: many agent connections on loopback — ember-load-agents,
one process speaking the real protocol on each connection — each sending at a steady rate to
a real aggregator (durable checkpoints, the example rules). The aggregator keeps up when every
agent's last line is acknowledged within a couple of batch intervals after the traffic
stops. Median of N runs, printed as a table and written as JSON.

  bench/load_bench.py --bin build/release --agents 500 --rate 200 --seconds 20 --runs 3
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
from agent_bench import cpu_seconds, free_port, print_row, rss_kib, summary, wait_for  # noqa: E402
from procs import stop  # noqa: E402
from replay_bench import machine  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def batch_processing(http_port):
    """Mean and (bucket-resolution) p99 batch processing time from the aggregator's /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5).read().decode()
    buckets, total, count = [], 0.0, 0
    for line in text.splitlines():
        if line.startswith("ember_batch_processing_seconds_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
        elif line.startswith("ember_batch_processing_seconds_sum"):
            total = float(line.rsplit(" ", 1)[1])
        elif line.startswith("ember_batch_processing_seconds_count"):
            count = int(float(line.rsplit(" ", 1)[1]))
    p99 = next((le for le, n in sorted(buckets) if count and n >= 0.99 * count), float("nan"))
    return {"batches": count, "batch_processing_mean_ms": 1000 * total / max(count, 1),
            "batch_processing_p99_le_ms": 1000 * p99}


def start_aggregator(bindir, work, extra=""):
    """A real aggregator in `work` on free loopback ports with the example rules and `extra`
    configuration lines, once it listens. Returns (process, data port, HTTP port)."""
    port, http = free_port(), free_port()
    with open(f"{work}/aggregator.yaml", "w") as f:
        f.write(f"listen: tcp://127.0.0.1:{port}\nhttp_listen: 127.0.0.1:{http}\nstate_dir: {work}/state\n"
                f"rules_dir: {REPO}/rules/examples\n{extra}outputs:\n  terminal: false\n")
    log = open(f"{work}/aggregator.log", "w")
    agg = subprocess.Popen([f"{bindir}/aggregator/ember-aggregator", "-c", f"{work}/aggregator.yaml"],
                           stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_for(lambda: "listening" in open(f"{work}/aggregator.log").read(), 10, "aggregator")
    except BaseException:
        stop(agg)
        raise
    return agg, port, http


def one_run(bindir, scratch, agents, rate, seconds, max_lateness="1h", event_hours=0):
    work = tempfile.mkdtemp(dir=scratch)
    agg, port, http = start_aggregator(bindir, work,
                                       f"batch_interval: 1s\nmax_lateness: {max_lateness}\n")
    try:
        cpu0, t0 = cpu_seconds(agg.pid), time.monotonic()
        load = subprocess.run([f"{bindir}/bench/ember-load-agents", "--endpoint", f"tcp://127.0.0.1:{port}",
                               "--agents", str(agents), "--lines-per-second", str(rate),
                               "--seconds", str(seconds), "--threads", "4",
                               "--event-hours", str(event_hours)],
                              stdout=subprocess.PIPE, text=True, timeout=seconds + 60)
        elapsed = time.monotonic() - t0
        result = json.loads(load.stdout)
        result["aggregator_cpu_percent"] = 100 * (cpu_seconds(agg.pid) - cpu0) / elapsed
        result["aggregator_peak_rss_mib"] = rss_kib(agg.pid, "VmHWM") / 1024
        result["kept_up"] = load.returncode == 0
        result.update(batch_processing(http))
    finally:
        stop(agg)
        shutil.rmtree(work, ignore_errors=True)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/release")
    ap.add_argument("--agents", type=int, default=500)
    ap.add_argument("--rate", type=int, default=200, help="lines per second per agent")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scratch", default="/var/tmp")
    ap.add_argument("--json", default="bench/results/load.json")
    ap.add_argument("--event-hours", type=float, default=0,
                    help="stamps run from this many hours ago to now over the run, so that "
                         "the history max_lateness keeps fills in a short run (0: the clock)")
    a = ap.parse_args()
    bindir = os.path.abspath(a.bin)
    scratch = tempfile.mkdtemp(prefix="ember-load-bench.", dir=a.scratch)
    try:
        runs, window_only = [], []
        for _ in range(a.runs):
            runs.append(one_run(bindir, scratch, a.agents, a.rate, a.seconds, "1h", a.event_hours))
            # The same load keeping no history for late lines: what max_lateness costs.
            window_only.append(one_run(bindir, scratch, a.agents, a.rate, a.seconds, "0s",
                                       a.event_hours))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    def med(key):
        return summary([r[key] for r in runs])

    out = {"machine": machine(), "agents": a.agents, "lines_per_second_per_agent": a.rate,
           "event_hours": a.event_hours,
           "seconds": a.seconds, "runs": runs,
           "kept_up_every_run": all(r["kept_up"] for r in runs)}
    for key in ("drain_seconds", "aggregator_cpu_percent", "aggregator_peak_rss_mib",
                "batch_processing_mean_ms", "batch_processing_p99_le_ms"):
        out[key] = med(key)
    out["peak_rss_mib_max_lateness_0"] = summary([r["aggregator_peak_rss_mib"] for r in window_only])
    out["kept_up_every_run"] = out["kept_up_every_run"] and all(r["kept_up"] for r in window_only)
    lines = statistics.median(r["lines_sent"] for r in runs)
    mib = statistics.median(r["bytes_sent"] for r in runs) / 2**20
    print(f"aggregator load: {a.agents} agent connections on loopback, {a.rate} lines/s each "
          f"({a.agents * a.rate:,} lines/s offered), {a.seconds:.0f} s"
          + (f" carrying {a.event_hours:g} h of event time" if a.event_hours else "")
          + f", median of {a.runs} runs")
    print(f"machine: {out['machine']}\n")
    print("| measure                                        |     median |        min |        max |")
    print("|------------------------------------------------|------------|------------|------------|")
    print(f"| {'lines sent (all agents)':46} | {lines:10,.0f} |            |            |")
    print(f"| {'MiB sent':46} | {mib:10.1f} |            |            |")
    for label, key, fmt in (("last ACK after traffic stopped, s", "drain_seconds", "{:10.2f}"),
                            ("aggregator CPU, % of one core", "aggregator_cpu_percent", "{:10.1f}"),
                            ("aggregator peak RSS, MiB (max_lateness 1h)", "aggregator_peak_rss_mib",
                             "{:10.1f}"),
                            ("  the same with max_lateness 0, MiB", "peak_rss_mib_max_lateness_0",
                             "{:10.1f}"),
                            ("batch processing, mean ms (1 s batches)", "batch_processing_mean_ms",
                             "{:10.1f}"),
                            ("batch processing p99 at most, ms (bucket)", "batch_processing_p99_le_ms",
                             "{:10.0f}")):
        print_row(label, out[key], 46, fmt)
    print(f"\nevery agent welcomed and fully acknowledged in every run: {out['kept_up_every_run']}")
    os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(out, f, indent=2)
    if not out["kept_up_every_run"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
