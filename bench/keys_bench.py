#!/usr/bin/env python3
"""Many keys: 1M distinct keys inside one 5-minute window — `ember replay` over a
generated log where every line is a login failure of another user, 4 minutes of event time —
and the peak resident memory and time it takes. Median of N runs, printed and written as JSON.

  bench/keys_bench.py --bin build/release --keys 1000000 --runs 3
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_bench import print_row, summary  # noqa: E402
from replay_bench import machine  # noqa: E402

RULE = """rules:
  - name: failures-per-user
    match: 'login failed for user=(?P<user>\\\\S+)'
    by: [user]
    window: 5m
    every: 10s
    when: count >= 3
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/release")
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", default="bench/results/keys.json")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ember-keys-bench.")
    try:
        log = f"{work}/keys.log"
        with open(log, "w") as f:
            for i in range(a.keys):
                t = 36000 + i * 240 // a.keys  # 10:00:00 plus up to 4 minutes
                f.write(f"2026-11-23 {t // 3600:02}:{t % 3600 // 60:02}:{t % 60:02},000 WARN auth: "
                        f"login failed for user=u{i:07d} from 10.{i % 250}.{i // 250 % 250}.1\n")
        with open(f"{work}/rules.yaml", "w") as f:
            f.write(RULE.replace("\\\\", "\\"))
        runs = []
        for _ in range(a.runs):
            p = subprocess.run(["/usr/bin/time", "-f", "%M %e", os.path.join(a.bin, "cli/ember"), "replay",
                                "--rules", f"{work}/rules.yaml", log],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
            rss_kib, secs = p.stderr.strip().splitlines()[-1].split()
            m = re.search(r"(\d+) matches", p.stderr)
            assert m and int(m.group(1)) == a.keys, p.stderr
            runs.append({"peak_rss_mib": int(rss_kib) / 1024, "seconds": float(secs)})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = {"machine": machine(), "keys": a.keys, "runs": runs}
    for k in ("peak_rss_mib", "seconds"):
        out[k] = summary([r[k] for r in runs])
    print(f"{a.keys:,} distinct keys in one 5-minute window (ember replay), median of {a.runs} runs")
    print(f"machine: {out['machine']}\n")
    print("| measure                      |     median |        min |        max |")
    print("|------------------------------|------------|------------|------------|")
    for label, k in (("peak RSS, MiB", "peak_rss_mib"), ("time, s", "seconds")):
        print_row(label, out[k], 28)
    os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
