#!/usr/bin/env python3
"""The agent's journal input against journalctl: a journal of N entries (sshd-like messages
from a few units, written by systemd-journal-remote from the export format) is read from its
start by a real agent and shipped to a real aggregator on loopback, which counts them and
commits a durable checkpoint every 1 s batch before it acknowledges; `journalctl -D DIR -o
export` of the same journal (to /dev/null) is the baseline of the same run. Reported:
entries per second read and shipped (to the last ACK), the agent's CPU seconds per 100k
entries, and journalctl's rate and CPU. Median of N runs.

  bench/journal_bench.py --bin build/release --entries 200000 --runs 5
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
from procs import cpu_seconds  # noqa: E402
from replay_bench import machine  # noqa: E402

UNITS = ["ssh.service", "cron.service", "nginx.service", "systemd-logind.service"]


def write_journal(work, entries, start_us):
    """The journal directory, and the bytes the agent's lines of it take (its offsets)."""
    jdir = os.path.join(work, "journal")
    os.makedirs(jdir)
    export = os.path.join(work, "entries.export")
    total = 0
    with open(export, "w") as f:
        for n in range(entries):
            us = start_us + n * 5000
            unit = UNITS[n % len(UNITS)]
            ident = unit.split(".")[0].replace("ssh", "sshd")
            pid = 1000 + n % 97
            msg = (f"Failed password for invalid user u{n % 331} from 203.0.113.{n % 250} "
                   f"port {40000 + n % 20000} ssh2" if n % 3 == 0 else
                   f"session {n} opened for user www-data(uid=33) by (uid=0)")
            f.write(f"__REALTIME_TIMESTAMP={us}\n__MONOTONIC_TIMESTAMP={1000 + n}\n"
                    f"_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=bench\n"
                    f"SYSLOG_IDENTIFIER={ident}\n_SYSTEMD_UNIT={unit}\nPRIORITY=6\n_PID={pid}\n"
                    f"MESSAGE={msg}\n\n")
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(us // 1_000_000))
            line = f"{stamp}.{us % 1_000_000:06d}Z bench {ident}[{pid}]: {msg}"
            total += len(line.encode()) + 1
    with open(export) as stdin:
        subprocess.run(["/usr/lib/systemd/systemd-journal-remote",
                        f"--output={jdir}/remote.journal", "-"], stdin=stdin, check=True,
                       stderr=subprocess.DEVNULL)
    os.remove(export)
    return jdir, total


def ship(bindir, jdir, total, entries, scratch, rules):
    work = tempfile.mkdtemp(dir=scratch)
    pair = agent_bench.Pair(bindir, work, [], rules,
                            inputs_extra=f"  read_from: beginning\n  journal:\n    directory: {jdir}\n")
    deadline = time.monotonic() + 600
    while pair.acked()[1] < total:
        if time.monotonic() > deadline:
            sys.exit("timed out waiting for the journal to be acknowledged")
        time.sleep(0.005)
    elapsed = time.monotonic() - pair.started
    cpu = cpu_seconds(pair.agent.pid)
    peak_rss_mib = agent_bench.rss_kib(pair.agent.pid, "VmHWM") / 1024
    # The journal's files are mapped (sd-journal reads through mmap): their pages count in the
    # resident size but belong to the page cache; the agent's own memory is the anonymous part.
    anon_mib = agent_bench.rss_kib(pair.agent.pid, "RssAnon") / 1024
    pair.stop()
    shutil.rmtree(work, ignore_errors=True)
    return {"entries_s": entries / elapsed, "agent_cpu_s_per_100k": cpu * 100_000 / entries,
            "agent_peak_rss_mib": peak_rss_mib, "agent_anon_mib": anon_mib}


def journalctl(jdir, entries):
    start = time.perf_counter()
    p = subprocess.Popen(["journalctl", "-D", jdir, "-o", "export", "--no-pager"],
                         stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        sys.exit("journalctl failed")
    cpu = usage.ru_utime + usage.ru_stime
    return {"entries_s": entries / elapsed, "cpu_s_per_100k": cpu * 100_000 / entries,
            "peak_rss_mib": usage.ru_maxrss / 1024}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/release")
    ap.add_argument("--entries", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", default="bench/results/journal.json")
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    if not shutil.which("journalctl"):
        sys.exit("journal_bench: journalctl is needed as the baseline")
    work = a.workdir or tempfile.mkdtemp(prefix="ember-bench.")
    start_us = (int(time.time()) - 3600) * 1_000_000  # an hour ago: a backlog, not late
    jdir, total = write_journal(work, a.entries, start_us)
    rules = os.path.join(work, "rules.yaml")
    with open(rules, "w") as f:
        f.write("rules:\n  - name: ssh-fails\n"
                "    match: 'sshd\\[\\d+\\]: Failed password for .* from (?P<ip>[\\d.]+)'\n"
                "    by: [unit, ip]\n    window: 60s\n    every: 10s\n    when: count >= 1000000\n")
    ember, peer = [], []
    for _ in range(a.runs):
        ember.append(ship(a.bin, jdir, total, a.entries, work, rules))
        peer.append(journalctl(jdir, a.entries))

    def med(rows, key):
        values = [r[key] for r in rows]
        return statistics.median(values), min(values), max(values)

    print(f"\njournal input: {a.entries:,} entries ({total / 2**20:.1f} MiB of lines), "
          f"agent -> aggregator on loopback, durable checkpoint every 1 s batch, median of "
          f"{a.runs} runs")
    print(f"machine: {machine()}\n")
    print(f"| {'measure':<54} | {'median':>10} | {'min':>10} | {'max':>10} |")
    print(f"|{'-' * 56}|{'-' * 12}|{'-' * 12}|{'-' * 12}|")
    rows = [("ember agent: entries/s read and shipped (to last ACK)", med(ember, "entries_s")),
            ("journalctl -o export > /dev/null: entries/s", med(peer, "entries_s")),
            ("ember agent: CPU s per 100k entries", med(ember, "agent_cpu_s_per_100k")),
            ("journalctl -o export: CPU s per 100k entries", med(peer, "cpu_s_per_100k")),
            ("ember agent: peak RSS (journal files mapped), MiB", med(ember, "agent_peak_rss_mib")),
            ("journalctl -o export: peak RSS, MiB", med(peer, "peak_rss_mib")),
            ("ember agent: anonymous memory at the end, MiB", med(ember, "agent_anon_mib"))]
    for name, (m, lo, hi) in rows:
        fmt = "{:>10.0f}" if "entries/s" in name else "{:>10.2f}"
        print(f"| {name:<54} | {fmt.format(m)} | {fmt.format(lo)} | {fmt.format(hi)} |")
    ratio = rows[0][1][0] / rows[1][1][0]
    print(f"\nember agent / journalctl rate: {ratio:.2f}x")
    os.makedirs(os.path.dirname(a.json), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump({"entries": a.entries, "bytes": total, "ember": ember, "journalctl": peer,
                   "ratio": ratio, "machine": machine()}, f, indent=1)
    if not a.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
