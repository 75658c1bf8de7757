#!/usr/bin/env python3
"""The whole pipeline against rg: a real agent ships the replay benchmark's log to a
real aggregator on loopback, which matches the same 10 rules (Hyperscan screen + RE2 on its
matcher threads), updates their windows and commits a durable checkpoint every 1 s batch before
it acknowledges; `rg -c` with the same patterns on the same file is the baseline of the same
run, and so is `ember replay` of the same file with the same rules: the agent -> aggregator
path is then a live backfill (the log's stamps are from 2023, batched in event time), whose
rate the issue of live = replay asks to be at least half replay's. Agent and aggregator share
the machine's cores; rg uses one. Median of N runs.

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
    log, size, lines = replay_bench.bench_log(a.bin, work, a.size, a.seed)
    rules = os.path.join(work, f"pipeline-rules{a.rules}.yaml")
    replay_bench.write_rules(rules, a.rules)
    ere = "|".join(replay_bench.to_ere(p) for p, _ in replay_bench.ALL_PATTERNS[:a.rules])

    ember, rg, replay = [], [], []
    for _ in range(a.runs):
        ember.append(agent_bench.ship(a.bin, log, size, lines, work, rules))
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
    ratio = statistics.median(stream) / statistics.median(rg)
    backfill = statistics.median(last) / statistics.median(replay)
    print(f"\nthe whole pipeline runs at {ratio:.2f}x rg -c "
          f"({statistics.median(last) / statistics.median(rg):.2f}x to the last ACK); "
          f"as a live backfill, at {backfill:.2f}x ember replay of the same file (to the last ACK)")
    os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
    with open(a.json, "w") as f:
        json.dump({"machine": replay_bench.machine(), "bytes": size, "lines": lines,
                   "rules": a.rules, "runs": a.runs, "ember": ember, "rg_mib_s": rg,
                   "replay_mib_s": replay, "ratio_stream": ratio,
                   "backfill_vs_replay": backfill}, f, indent=2)


if __name__ == "__main__":
    main()
