#!/usr/bin/env python3
"""The whole pipeline against rg: a real agent ships the replay benchmark's log to a
real aggregator on loopback, which matches the same 10 rules (Hyperscan screen + RE2 on its
matcher threads), updates their windows and commits a durable checkpoint every 1 s batch before
it acknowledges; `rg -c` with the same patterns on the same file is the baseline of the same
run, and so is `ember replay` of the same file with the same rules: the agent -> aggregator
path is then a live backfill (the log's stamps are from 2023, batched in event time), whose
rate is to be at least half replay's. The same file dropped into a running agent's directory
while the aggregator's watermark follows the clock is a backfill into a running aggregator:
every line is older than max_lateness and goes the late path (the history floor). Agent and
aggregator share the machine's cores; rg uses one. Median of N runs.

  bench/pipeline_bench.py --bin build/release --size 200MiB --runs 5
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agent_bench  # noqa: E402
import replay_bench  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/release")
    ap.add_argument("--size", default="200MiB")
    ap.add_argument("--rules", type=int, default=10)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--json", default="bench/results/pipeline.json")
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    if not shutil.which("rg"):
        sys.exit("pipeline_bench: rg (ripgrep) is needed as the baseline")
    work = a.workdir or tempfile.mkdtemp(prefix="ember-bench.")
    # Three days ago: the log's syslog lines carry no year, which agents, the aggregator and
    # replay take as this year's, so its ISO-8601 lines must be of this year too (else one
    # file holds two times years apart and live and replay disagree about which are late).
    start_ms = (int(time.time()) // 3600 - 72) * 3600 * 1000
    log, size, lines = replay_bench.bench_log(a.bin, work, a.size, a.seed, start_ms)
    rules = os.path.join(work, f"pipeline-rules{a.rules}.yaml")
    replay_bench.write_rules(rules, a.rules)
    ere = "|".join(replay_bench.to_ere(p) for p, _ in replay_bench.ALL_PATTERNS[:a.rules])

    ember, rg, replay, running = [], [], [], []
    for _ in range(a.runs):
        ember.append(agent_bench.ship(a.bin, log, size, lines, work, rules))
        running.append(agent_bench.backfill_into_running(a.bin, log, size, lines, work, rules))
        start = time.perf_counter()
        subprocess.run(["rg", "-c", ere, log], stdout=subprocess.DEVNULL, check=True)
        rg.append(size / 2**20 / (time.perf_counter() - start))
        start = time.perf_counter()
        subprocess.run([os.path.join(a.bin, "cli", "ember"), "replay", "--rules", rules, log],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        replay.append(size / 2**20 / (time.perf_counter() - start))

    def row(name, values, fmt="{:>10.1f}"):
        print(f"| {name:<46} | {fmt.format(statistics.median(values))} | "
              f"{fmt.format(min(values))} | {fmt.format(max(values))} |")

    stream = [r["mib_s"] for r in ember]
    last = [r["mib_s_to_last_ack"] for r in ember]
    print(f"\nwhole pipeline: {size / 2**20:.0f} MiB, {lines:,} lines (ember-loggen seed {a.seed}), "
          f"{a.rules} rules, agent -> aggregator on loopback, durable checkpoint every 1 s batch, "
          f"median of {a.runs} runs")
    print(f"machine: {replay_bench.machine()}\n")
    print(f"| {'measure':<46} | {'median':>10} | {'min':>10} | {'max':>10} |")
    print(f"|{'-' * 48}|{'-' * 12}|{'-' * 12}|{'-' * 12}|")
    row("ember agent -> aggregator, MiB/s (stream)", stream)
    row("  incl. wait for the last ACK, MiB/s", last)
    row(f"rg -c, {a.rules} patterns, MiB/s", rg)
    row(f"ember replay, {a.rules} rules, MiB/s", replay)
    row("backfill into a running aggregator, MiB/s", [r["mib_s"] for r in running])
    ratio = statistics.median(stream) / statistics.median(rg)
    backfill = statistics.median(last) / statistics.median(replay)
    print(f"\nthe whole pipeline runs at {ratio:.2f}x rg -c "
          f"({statistics.median(last) / statistics.median(rg):.2f}x to the last ACK); "
          f"as a live backfill, at {backfill:.2f}x ember replay of the same file (to the last ACK)")
    into_running = statistics.median([r["mib_s"] for r in running]) / statistics.median(replay)
    print(f"into a running aggregator (every line late), at {into_running:.2f}x ember replay; "
          f"late lines {running[-1]['late_lines']}, too late {running[-1]['too_late']} (last run)")
    os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
    with open(a.json, "w") as f:
        json.dump({"machine": replay_bench.machine(), "bytes": size, "lines": lines,
                   "rules": a.rules, "runs": a.runs, "ember": ember, "rg_mib_s": rg,
                   "replay_mib_s": replay, "ratio_stream": ratio,
                   "backfill_vs_replay": backfill, "into_running": running,
                   "into_running_vs_replay": into_running}, f, indent=2)


if __name__ == "__main__":
    main()
