#!/usr/bin/env python3
"""End-to-end alert latency: the time from appending a line to a log file to the
alert it raises appearing in the aggregator's alerts.jsonl, through a real agent and a real
aggregator on loopback (durable checkpoints), at a fixed offered rate of background lines.
One probe line (a unique key, so each raises its own alert) every 50 ms; p50 and p99 over
all probes; median of N runs with min and max; for 1 s and 100 ms batches. Printed as a table
and written as JSON.

  bench/latency_bench.py --bin build/release --runs 5 --seconds 10 --rate 20000
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_bench import free_port, summary, wait_for  # noqa: E402
from procs import stop  # noqa: E402
from replay_bench import machine  # noqa: E402

FILLER = b" web1 app[42]: INFO request served in 12ms path=/api/v1/items status=200 bytes=5120\n"


def stamp():
    """Now, as an RFC 3339 UTC stamp with milliseconds: lines count in event time."""
    now = time.time()
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % int(now % 1 * 1000)).encode()


# (batch interval, in ms, allowed lateness): the watermark trails the streams' positions by the
# lateness (lines in transit from an agent read to its end).
CONFIGS = (("1s", 1000, "100ms"), ("100ms", 100, "50ms"))


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def one_run(bindir, scratch, batch, lateness, seconds, rate):
    work = tempfile.mkdtemp(dir=scratch)
    port = free_port()
    os.makedirs(f"{work}/rules")
    with open(f"{work}/rules/probe.yaml", "w") as f:
        f.write("rules:\n  - name: probe\n    match: 'LATENCY-PROBE (?P<id>\\d+)'\n    by: [id]\n"
                f"    window: {batch}\n    when: count >= 1\n")
    with open(f"{work}/aggregator.yaml", "w") as f:
        f.write(f"listen: tcp://127.0.0.1:{port}\nhttp_listen: \"\"\nstate_dir: {work}/agg-state\n"
                f"rules_dir: {work}/rules\nbatch_interval: {batch}\nallowed_lateness: {lateness}\n"
                f"outputs:\n  terminal: false\n  jsonl: {work}/alerts.jsonl\n")
    log = f"{work}/app.log"
    open(log, "w").close()
    with open(f"{work}/agent.yaml", "w") as f:
        f.write(f"name: bench\nhttp_listen: \"\"\nstate_dir: {work}/agent-state\ninputs:\n"
                f"  paths: [{log}]\n  read_from: beginning\noutput:\n  endpoint: tcp://127.0.0.1:{port}\n")
    agg_log = open(f"{work}/aggregator.log", "w")
    aggregator = subprocess.Popen([f"{bindir}/aggregator/ember-aggregator", "-c", f"{work}/aggregator.yaml"],
                                  stdout=subprocess.DEVNULL, stderr=agg_log)
    wait_for(lambda: "listening" in open(f"{work}/aggregator.log").read(), 10, "aggregator")
    agent = subprocess.Popen([f"{bindir}/agent/ember-agent", "-c", f"{work}/agent.yaml"],
                             stdout=subprocess.DEVNULL, stderr=open(f"{work}/agent.log", "w"))
    appended = {}  # probe id -> monotonic time of the append
    seen = {}      # probe id -> monotonic time the alert was read from alerts.jsonl
    alerts_read = 0
    jsonl = None

    def read_alerts():
        nonlocal jsonl, alerts_read
        if jsonl is None:
            if not os.path.exists(f"{work}/alerts.jsonl"):
                return
            jsonl = open(f"{work}/alerts.jsonl")
        now = time.monotonic()
        while True:
            line = jsonl.readline()
            if not line or not line.endswith("\n"):
                if line:
                    jsonl.seek(jsonl.tell() - len(line))
                return
            a = json.loads(line)
            if a["state"] == "firing":
                seen.setdefault(int(a["key"]["id"]), now)

    try:
        time.sleep(0.5)  # the agent connects
        with open(log, "ab", buffering=0) as out:
            start = time.monotonic()
            next_probe = start
            probe = 0
            filler_sent = 0
            # Bounded: `seconds` of traffic, then at most 5 s to collect the last alerts.
            while time.monotonic() - start < seconds:
                now = time.monotonic()
                due = int((now - start) * rate) - filler_sent  # background lines owed by now
                if due > 0:
                    out.write((stamp() + FILLER) * due)
                    filler_sent += due
                if now >= next_probe:
                    out.write(stamp() + b" web1 app[42]: ERROR LATENCY-PROBE %d\n" % probe)
                    appended[probe] = time.monotonic()
                    probe += 1
                    next_probe += 0.05
                read_alerts()
                time.sleep(0.001)
            deadline = time.monotonic() + 5
            while len(seen) < len(appended) and time.monotonic() < deadline:
                read_alerts()
                time.sleep(0.001)
    finally:
        stop(agent, aggregator)
        shutil.rmtree(work, ignore_errors=True)
    latencies = [(seen[i] - appended[i]) * 1000 for i in appended if i in seen]
    missing = len(appended) - len(latencies)
    return {"probes": len(appended), "missing": missing, "lines_s": rate,
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/release")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rate", type=int, default=20000, help="background lines per second")
    ap.add_argument("--scratch", default="/var/tmp")
    ap.add_argument("--json", default="bench/results/latency.json")
    args = ap.parse_args()
    bindir = os.path.abspath(args.bin)
    scratch = tempfile.mkdtemp(prefix="ember-latency-bench.", dir=args.scratch)
    out = {"machine": machine(), "runs": args.runs, "seconds": args.seconds, "rate_lines_s": args.rate}
    try:
        for batch, ms, lateness in CONFIGS:
            runs = [one_run(bindir, scratch, batch, lateness, args.seconds, args.rate)
                    for _ in range(args.runs)]
            if any(r["missing"] for r in runs):
                sys.exit(f"alerts missing for some probes with {batch} batches: {runs}")
            out[batch] = {"batch_ms": ms, "allowed_lateness": lateness, "probes": sum(r["probes"] for r in runs),
                          "p50_ms": summary([r["p50_ms"] for r in runs]),
                          "p99_ms": summary([r["p99_ms"] for r in runs])}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"append -> alert latency: real agent and aggregator on loopback, {args.rate:,} background "
          f"lines/s, a probe every 50 ms, {args.seconds:.0f} s per run, median of {args.runs} runs")
    print(f"machine: {out['machine']}\n")
    print("| batch interval | allowed lateness | probes | p50 ms (median, min-max) | p99 ms (median, min-max) | p99 / interval |")
    print("|----------------|------------------|--------|--------------------------|--------------------------|----------------|")
    for batch, _, lateness in CONFIGS:
        r = out[batch]
        p50, p99 = r["p50_ms"], r["p99_ms"]
        print(f"| {batch:14} | {lateness:16} | {r['probes']:6} | {p50['median']:7.0f} ({p50['min']:.0f}-{p50['max']:.0f}) "
              f"{'':7}| {p99['median']:7.0f} ({p99['min']:.0f}-{p99['max']:.0f}) {'':7}| "
              f"{p99['median'] / r['batch_ms']:14.2f} |")
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
