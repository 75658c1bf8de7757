#!/usr/bin/env python3
"""ember-agent resident memory of two builds side by side, e.g. before and after a change to
what the agent links: a real aggregator and agent on loopback with N small files, all
acknowledged and quiet, runs of the two builds alternating; median (min, max) of N runs.

  bench/agent_memory_compare.py --base /tmp/base-build --bin build/release --files 200 --runs 5

Each build directory needs agent/ember-agent and aggregator/ember-aggregator (the base may
take the aggregator of --bin: they speak the same protocol when built from one version).
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_bench import many_files  # noqa: E402
from replay_bench import machine  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="build directory of the baseline")
    ap.add_argument("--bin", default="build/release", help="build directory measured against it")
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scratch", default="/var/tmp")
    args = ap.parse_args()
    builds = {"base": os.path.abspath(args.base), "this": os.path.abspath(args.bin)}
    scratch = tempfile.mkdtemp(prefix="ember-agent-mem.", dir=args.scratch)
    results = {name: [] for name in builds}
    try:
        for _ in range(args.runs):
            for name, bindir in builds.items():
                results[name].append(many_files(bindir, args.files, scratch, 1))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"ember-agent memory, {args.files} quiet files, median (min-max) of {args.runs} runs")
    print(f"machine: {machine()}\n")
    print("| build | RSS, MiB            | private (RssAnon), MiB |")
    print("|-------|---------------------|------------------------|")
    for name, runs in results.items():
        rss = [r["rss_mib"] for r in runs]
        anon = [r["anon_mib"] for r in runs]
        print(f"| {name:5} | {statistics.median(rss):5.2f} ({min(rss):.2f}-{max(rss):.2f})   "
              f"| {statistics.median(anon):5.2f} ({min(anon):.2f}-{max(anon):.2f})      |")
    base = statistics.median(r["rss_mib"] for r in results["base"])
    this = statistics.median(r["rss_mib"] for r in results["this"])
    print(f"\nthis build: {this - base:+.2f} MiB resident against the base ({this / base:.3f}x).")


if __name__ == "__main__":
    main()
