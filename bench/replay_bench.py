#!/usr/bin/env python3
"""ember replay throughput, with grep (and ripgrep when installed) on the same file and the
same patterns as baselines in the same run. Median of N runs (min and max shown), printed
as a table and written as JSON.

  bench/run.sh                         # builds release, 200 MiB log, 5 runs
  bench/replay_bench.py --bin build/release --size 1GiB --runs 5
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# 20 patterns over the generator's lines. The first is the single-rule case. Named captures
# feed `by`; the grep/rg versions drop them (same language otherwise).
PATTERNS = [
    (r"\bERROR\b", []),
    (r"sshd\[[0-9]+\]: Failed password for (?:invalid user )?(?P<user>[^ ]+) from (?P<ip>[0-9.]+)", ["ip"]),
    (r"Accepted publickey for (?P<user>[^ ]+) from (?P<ip>[0-9.]+)", ["user"]),
    (r"status=404", []),
    (r"took=2[0-9][0-9]ms", []),
    (r"upstream '(?P<svc>[a-z]+)' returned (?P<code>5[0-9][0-9])", ["svc", "code"]),
    (r"disk quota exceeded", []),
    (r"database timeout after (?P<ms>[0-9]+)ms", []),
    (r"GET /api/cart/(?P<id>[0-9]+)", []),
    (r"GET /login/", []),
    (r"\bWARN\b", []),
    (r"failed to decode request body", []),
    (r"api\[400[0-3]\]: ERROR", []),
    (r"from 203\.0\.113\.(?P<last>[0-9]+) ", ["last"]),
    (r"port 6[0-9][0-9][0-9][0-9] ssh2", []),
    (r"GET /metrics/[0-9]+ status=404", []),
    (r"invalid user (?P<user>oracle|postgres|pi)", ["user"]),
    (r"GET /api/search/[0-9]*7 ", []),
    (r"took=1[0-9]ms", []),
    (r"segfault|Out of memory|PANIC", []),
]


# Rule sets of 200: the 20 above and 180 more in the same style, most of which never match on
# this log (as most of an operator's rules, most of the time).
EXTRA = [(rf"component-{i} (?:failed|crashed): (?P<reason>[a-z]+)", ["reason"]) for i in range(90)] + \
        [(rf"GET /api/v{i % 9 + 2}/item{i}/[0-9]+ status=5[0-9][0-9]", []) for i in range(90)]
ALL_PATTERNS = PATTERNS + EXTRA
RULE_COUNTS = (1, 10, 20, 200)


def to_ere(p):
    p = re.sub(r"\(\?P<[a-z]+>", "(", p)
    return p.replace("(?:", "(")


def write_rules(path, n):
    with open(path, "w") as f:
        f.write("rules:\n")
        for i, (pattern, by) in enumerate(ALL_PATTERNS[:n]):
            quoted = pattern.replace("'", "''")  # YAML single-quoted scalar
            f.write(f"  - name: r{i}\n    match: '{quoted}'\n")
            if by:
                f.write(f"    by: [{', '.join(by)}]\n")
            f.write("    window: 60s\n    every: 10s\n    when: count >= 100\n")


def timed(cmd, ok_codes):
    start = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if p.returncode not in ok_codes:
        sys.exit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    return elapsed, p


def measure(cmd, runs):
    # grep and rg exit 1 when nothing matches; ember must exit 0.
    ok_codes = (0,) if "replay" in cmd else (0, 1)
    times, last = [], None
    for _ in range(runs):
        t, last = timed(cmd, ok_codes)
        times.append(t)
    return times, last


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {cpu}, {mem:.0f} GiB RAM, {platform.system()} {platform.release()}"


def bench_log(bindir, work, size_text, seed, start_ms=None):
    """The benchmarks' seeded log in `work` (made once), its size and lines, in page cache.
    `start_ms`: the first line's time (default: loggen's, in 2023)."""
    os.makedirs(work, exist_ok=True)
    suffix = "" if start_ms is None else f"-{start_ms}"
    log = os.path.join(work, f"bench-{size_text}-{seed}{suffix}.log")
    if not os.path.exists(log):
        extra = [] if start_ms is None else ["--start-ms", str(start_ms)]
        subprocess.run([os.path.join(bindir, "demo/ember-loggen"), "--output", log, "--bytes",
                        size_text, "--seed", str(seed), "--error-rate", "0.01"] + extra,
                       check=True)
    size = os.path.getsize(log)
    with open(log, "rb") as f:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))
    subprocess.run(["cat", log], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    return log, size, lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/release")
    ap.add_argument("--size", default="200MiB")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--json", default="bench/results/replay.json")
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()

    work = a.workdir or tempfile.mkdtemp(prefix="ember-bench.")
    log, size, lines = bench_log(a.bin, work, a.size, a.seed)

    ember = os.path.join(a.bin, "cli/ember")
    rows = []
    per_core = []  # (rules, filter throughput / rg's, replay throughput / rg's)
    apply_rows = []  # (rules, ember-apply-bench rows by thread count)
    for n in RULE_COUNTS:
        rules = os.path.join(work, f"rules{n}.yaml")
        write_rules(rules, n)
        ere = "|".join(to_ere(p) for p, _ in ALL_PATTERNS[:n])
        # ember replay keeps the compiled screen of its rules (first run only compiles it);
        # the second case compiles it every time, as a first run with new rules does.
        replay = [ember, "replay", "--rules", rules, "--host", "bench", "--year", "2023",
                  "--screen-cache", os.path.join(work, "screens")]
        cases = [(f"ember replay, {n} rule{'s' if n > 1 else ''}", replay + [log]),
                 (f"grep -cE, {n} pattern{'s' if n > 1 else ''}", ["grep", "-cE", ere, log])]
        if shutil.which("rg"):
            cases.append((f"rg -c, {n} pattern{'s' if n > 1 else ''}", ["rg", "-c", ere, log]))
        compiling = f"replay compiling, {n} rule{'s' if n > 1 else ''}"
        cases.append((compiling, replay + ["--no-screen-cache", log]))
        # Bounded lateness: windows close as the data's time passes, so memory stays bounded
        # (a week of logs), and the engine advances its watermark at every batch.
        bounded = f"replay lateness 1m, {n} rule{'s' if n > 1 else ''}"
        cases.append((bounded, replay + ["--allowed-lateness", "1m", log]))
        results = {}
        # The aggregator's matching stage alone on one thread (ember-filter-bench times its own
        # runs over the file held in memory), to compare per core with rg, which searches one
        # file on one thread.
        fb = subprocess.run([os.path.join(a.bin, "bench/ember-filter-bench"), "--rules", rules,
                             "--runs", str(a.runs), log], stdout=subprocess.PIPE, text=True, check=True)
        fj = json.loads(fb.stdout)
        ftimes = fj["seconds"]
        fname = f"ember filter 1 core, {n} rule{'s' if n > 1 else ''}"
        fmed = statistics.median(ftimes)
        results[fname] = {"case": fname, "rules": n, "median_s": fmed, "min_s": min(ftimes),
                          "max_s": max(ftimes), "lines_per_s": lines / fmed,
                          "mib_per_s": size / 2**20 / fmed, "matches": fj["matched_lines"],
                          "screen": fj["screen"]}
        for name, cmd in cases:
            times, last = measure(cmd, a.runs)
            med = statistics.median(times)
            row = {"case": name, "rules": n, "median_s": med, "min_s": min(times),
                   "max_s": max(times), "lines_per_s": lines / med, "mib_per_s": size / 2**20 / med}
            if cmd[0] == ember:
                m = re.search(r"; (\d+) matches in (\d+) matching lines", last.stderr)
                row["matches"] = int(m.group(2)) if m else None
                row["rule_matches"] = int(m.group(1)) if m else None
            else:
                row["matches"] = int(last.stdout.strip() or 0)
            results[name] = row
            rows.append(row)
        rows.append(results[fname])
        base = results[cases[1][0]]["median_s"]
        for name in [c[0] for c in cases] + [fname]:
            results[name]["time_vs_grep"] = results[name]["median_s"] / base
        # The engine's apply stage alone (routing, windows, closing), on 1 thread and on all.
        if n > 1:
            counts = sorted({1, os.cpu_count() or 1})
            aj = os.path.join(work, f"apply{n}.json")
            subprocess.run([os.path.join(a.bin, "bench/ember-apply-bench"), "--rules", rules,
                            "--runs", str(a.runs), "--threads", ",".join(map(str, counts)),
                            "--json", aj, log], stdout=subprocess.DEVNULL, check=True)
            with open(aj) as f:
                apply_rows.append((n, json.load(f)))
        rg_name = next((name for name, cmd in cases if cmd[0] == "rg"), None)
        if rg_name:
            rg_s = results[rg_name]["median_s"]
            per_core.append((n, rg_s / fmed, rg_s / results[cases[0][0]]["median_s"],
                             rg_s / results[compiling]["median_s"],
                             rg_s / results[bounded]["median_s"]))

    print(f"\nember replay throughput: {size / 2**20:.0f} MiB, {lines:,} lines (ember-loggen seed "
          f"{a.seed}, 1% ERROR), median of {a.runs} runs, page cache warm")
    print(f"machine: {machine()}\n")
    hdr = f"| {'case':<32} | {'median s':>8} | {'min s':>6} | {'max s':>6} | {'lines/s':>11} | {'MiB/s':>7} | {'time vs grep':>12} | {'matches':>9} |"
    print(hdr)
    print("|" + "|".join("-" * (len(c)) for c in hdr.split("|")[1:-1]) + "|")
    for r in rows:
        print(f"| {r['case']:<32} | {r['median_s']:>8.3f} | {r['min_s']:>6.3f} | {r['max_s']:>6.3f} | "
              f"{r['lines_per_s']:>11,.0f} | {r['mib_per_s']:>7.1f} | {r['time_vs_grep']:>11.2f}x | "
              f"{r['matches'] if r['matches'] is not None else '?':>9} |")
    print("\nmatches: lines at least one pattern matches; ember, grep and rg must agree exactly.")
    if per_core:
        print("\n| rules | ember filter on 1 core / rg -c (1 thread) | ember replay (all cores) / rg -c "
              "| replay compiling its screen / rg -c | replay lateness 1m / rg -c |")
        print("|-------|-------------------------------------------|----------------------------------"
              "|-------------------------------------|----------------------------|")
        for n, f, r, c, b in per_core:
            print(f"| {n:>5} | {f:>40.2f}x | {r:>31.2f}x | {c:>34.2f}x | {b:>25.2f}x |")
    if apply_rows:
        print("\nApply stage alone (ember-apply-bench: routing, windows, closing every batch), "
              f"median of {a.runs}:\n")
        print("| rules | threads | apply s | of which routing s | close s | speedup vs 1 thread |")
        print("|-------|---------|---------|--------------------|---------|---------------------|")
        for n, arows in apply_rows:
            for r in arows:
                print(f"| {n:>5} | {r['threads']:>7} | {r['apply_s']:>7.3f} | {r['route_s']:>18.3f} | "
                      f"{r['close_s']:>7.3f} | {r['speedup']:>18.2f}x |")
    for n in RULE_COUNTS:
        counts = {r["case"]: r["matches"] for r in rows if r["rules"] == n}
        if len(set(counts.values())) != 1:
            sys.exit(f"matched-line counts differ with {n} patterns: {counts}")
    os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
    with open(a.json, "w") as f:
        json.dump({"machine": machine(), "bytes": size, "lines": lines, "runs": a.runs, "rows": rows,
                   "per_core_vs_rg": [{"rules": n, "filter_1_core": f, "replay": r,
                                       "replay_compiling": c, "replay_lateness_1m": b}
                                      for n, f, r, c, b in per_core],
                   "apply": [{"rules": n, "rows": r} for n, r in apply_rows]}, f, indent=2)


if __name__ == "__main__":
    main()
