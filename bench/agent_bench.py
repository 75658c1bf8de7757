#!/usr/bin/env python3
"""ember-agent benchmarks: shipping a file from page cache to a real aggregator on
loopback, the agent's memory with 1 and 2,000 files, and its CPU while 2,000 files are quiet.
socat (file -> TCP, 128 KiB buffers) is the ceiling baseline of the same run; rsyslog and
syslog-ng (configs in bench/peers/, installed by bench/peers/install.sh) ship the first
--peer-size bytes of the same file to a TCP sink in the same run. Median of N runs (min and max
shown), printed as a table and written as JSON.

  bench/agent_bench.py --bin build/release --size 1GiB --runs 5
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from replay_bench import machine  # noqa: E402
import peer_agents  # noqa: E402
from procs import cpu_seconds, rss_kib, stop  # noqa: E402,F401 (load_bench imports them here)

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    sys.exit(f"timed out waiting for {what}")


class Pair:
    """A real aggregator and agent in a scratch directory."""

    def __init__(self, bindir, work, paths, rules_file=None, inputs_extra=""):
        self.work = work
        port = free_port()
        os.makedirs(f"{work}/rules", exist_ok=True)
        if rules_file:
            shutil.copy(rules_file, f"{work}/rules/bench.yaml")
        else:
            with open(f"{work}/rules/bench.yaml", "w") as f:
                f.write("rules:\n  - name: errors\n    match: '\\bERROR\\b'\n    by: [host]\n"
                        "    window: 60s\n    every: 10s\n    when: count >= 1000000000\n")
        with open(f"{work}/aggregator.yaml", "w") as f:
            f.write(f"listen: tcp://127.0.0.1:{port}\nhttp_listen: \"\"\nstate_dir: {work}/agg-state\n"
                    f"rules_dir: {work}/rules\nbatch_interval: " + os.environ.get("EMBER_BENCH_BATCH", "1s") + "\n" + os.environ.get("EMBER_BENCH_AGG_EXTRA", "") + "\n"
                    "outputs:\n  terminal_color: never\n")
        with open(f"{work}/agent.yaml", "w") as f:
            # /metrics on, as by default (on a free port): its cost is part of the agent's.
            f.write(f"name: bench\nhttp_listen: 127.0.0.1:{free_port()}\nstate_dir: {work}/agent-state\ninputs:\n"
                    f"  paths: [{', '.join(paths)}]\n{inputs_extra}"
                    f"output:\n  endpoint: tcp://127.0.0.1:{port}\n")
        self.agg_log = open(f"{work}/aggregator.log", "w")
        self.agent_log = open(f"{work}/agent.log", "w")
        self.aggregator = subprocess.Popen(
            [f"{bindir}/aggregator/ember-aggregator", "-c", f"{work}/aggregator.yaml", "--log-level", os.environ.get("EMBER_BENCH_LOG", "info")],
            stdout=subprocess.DEVNULL, stderr=self.agg_log)
        wait_for(lambda: "listening" in open(f"{work}/aggregator.log").read(), 10, "aggregator")
        self.started = time.monotonic()
        self.agent = subprocess.Popen(
            [f"{bindir}/agent/ember-agent", "-c", f"{work}/agent.yaml"],
            stdout=subprocess.DEVNULL, stderr=self.agent_log)

    def acked(self):
        """Stream count and total acknowledged bytes, from the agent's offsets file."""
        try:
            with open(f"{self.work}/agent-state/offsets.json") as f:
                streams = json.load(f)["streams"]
        except (OSError, ValueError, KeyError):
            return 0, 0
        return len(streams), sum(s["acked_offset"] for s in streams)

    def stop(self):
        stop(self.agent, self.aggregator)


def ship(bindir, log, size, lines, scratch, rules_file=None):
    work = tempfile.mkdtemp(dir=scratch)
    pair = Pair(bindir, work, [log], rules_file)
    # The aggregator acknowledges at every checkpoint (each batch, 1 s) and, under a heavy
    # stream, each time a quarter of the credit (16 MiB) arrived. The shipping rate is that of
    # the stream: bytes acknowledged by the last of those early commits over the time they
    # took. The rest (< 4 MiB) is acknowledged at the next checkpoint, up to 1 s later: the
    # time to the last ACK is reported too.
    bulk = size - 4 * 2**20
    bulk_at = bulk_bytes = None
    deadline = time.monotonic() + 600
    while True:
        acked = pair.acked()[1]
        now = time.monotonic()
        if bulk_at is None and acked >= bulk:
            bulk_at, bulk_bytes = now, acked
        if acked >= size:
            break
        if now > deadline:
            sys.exit("timed out waiting for the file to be acknowledged")
        time.sleep(0.005)
    elapsed = now - pair.started
    streaming = bulk_at - pair.started
    result = {
        "seconds": elapsed,
        "mib_s": bulk_bytes / 2**20 / streaming,
        "lines_s": lines * (bulk_bytes / size) / streaming,
        "mib_s_to_last_ack": size / 2**20 / elapsed,
        "agent_cpu_percent": 100 * cpu_seconds(pair.agent.pid) / elapsed,
        "agent_peak_rss_mib": rss_kib(pair.agent.pid, "VmHWM") / 1024,
        "agent_rss_mib": rss_kib(pair.agent.pid) / 1024,
        "agent_anon_mib": rss_kib(pair.agent.pid, "RssAnon") / 1024,
        # Pages of the binary and its shared libraries mapped in (shared with other processes).
        "agent_file_mib": rss_kib(pair.agent.pid, "RssFile") / 1024,
    }
    pair.stop()
    shutil.rmtree(work, ignore_errors=True)
    return result


def backfill_into_running(bindir, log, size, lines, scratch, rules_file=None):
    """The log dropped (renamed) into the directory of a running agent whose aggregator's
    watermark already follows the clock (a live line stamped now was shipped first): its
    2023 stamps are far older than max_lateness, so the whole file goes the late path
    (history floor, windows evaluated again). Timed from the rename to the last ACK."""
    work = tempfile.mkdtemp(dir=scratch)
    logs = f"{work}/logs"
    os.makedirs(logs)
    live = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + " web sshd[1]: live line\n"
    with open(f"{logs}/now.log", "w") as f:
        f.write(live)
    staged = f"{logs}/backfill.staged"
    try:
        os.link(log, staged)
    except OSError:
        shutil.copy(log, staged)
    pair = Pair(bindir, work, [f"{logs}/*.log"], rules_file)
    wait_for(lambda: pair.acked()[1] >= len(live), 30, "the live line's ACK")
    time.sleep(2.5)  # the watermark passes the live line's batch
    start = time.monotonic()
    os.rename(staged, f"{logs}/backfill.log")
    deadline = start + 900
    while pair.acked()[1] < len(live) + size:
        if time.monotonic() > deadline:
            sys.exit("timed out waiting for the backfill to be acknowledged")
        time.sleep(0.005)
    elapsed = time.monotonic() - start
    pair.stop()
    status = subprocess.run([f"{bindir}/cli/ember", "status", "--json", "--state-dir",
                             f"{work}/agg-state"], capture_output=True, text=True)
    counters = json.loads(status.stdout)["counters"] if status.returncode == 0 else {}
    shutil.rmtree(work, ignore_errors=True)
    return {"seconds": elapsed, "mib_s": size / 2**20 / elapsed,
            "late_lines": counters.get("late_lines"), "too_late": counters.get("too_late")}


def socat_ship(log, size):
    if not shutil.which("socat"):
        return None
    port = free_port()
    sink = subprocess.Popen(["socat", "-u", f"TCP-LISTEN:{port},reuseaddr", "OPEN:/dev/null"])
    time.sleep(0.2)
    start = time.monotonic()
    subprocess.run(["socat", "-u", "-b", "131072", log, f"TCP:127.0.0.1:{port}"], check=True)
    sink.wait(30)
    elapsed = time.monotonic() - start
    return {"seconds": elapsed, "mib_s": size / 2**20 / elapsed}


def many_files(bindir, n, scratch, idle_seconds):
    work = tempfile.mkdtemp(dir=scratch)
    os.makedirs(f"{work}/logs")
    total = 0
    for i in range(n):
        text = "".join(f"2026-11-22T10:00:00Z host app[{i}]: line {j} of file {i}\n" for j in range(10))
        with open(f"{work}/logs/f{i}.log", "w") as f:
            f.write(text)
        total += len(text)
    pair = Pair(bindir, work, [f"{work}/logs/*.log"])
    wait_for(lambda: pair.acked() == (n, total), 120, f"{n} files to be acknowledged")
    time.sleep(2)
    rss = rss_kib(pair.agent.pid) / 1024
    anon = rss_kib(pair.agent.pid, "RssAnon") / 1024
    before = cpu_seconds(pair.agent.pid)
    time.sleep(idle_seconds)
    idle = 100 * (cpu_seconds(pair.agent.pid) - before) / idle_seconds
    fds = len(os.listdir(f"/proc/{pair.agent.pid}/fd"))
    pair.stop()
    shutil.rmtree(work, ignore_errors=True)
    return {"rss_mib": rss, "anon_mib": anon, "idle_cpu_percent": idle, "open_fds": fds}


def peer_runs(log, peer_size, runs, scratch):
    """{peer: {"bytes", "lines", "runs": [...]}} for each installed peer, on a prefix of `log`
    cut at a line end."""
    available = peer_agents.available()
    if not available:
        print("rsyslog and syslog-ng not found: bench/peers/install.sh puts them in place")
        return {}
    limit = parse_size(peer_size)
    prefix = f"{scratch}/peer.log"
    with open(log, "rb") as src, open(prefix, "wb") as dst:
        data = src.read(limit)
        data = data[: data.rfind(b"\n") + 1]
        dst.write(data)
    size, lines = len(data), data.count(b"\n")
    del data
    out = {}
    for name in available:
        done, failed = [], []
        for _ in range(runs):
            try:
                done.append(peer_agents.ship(name, prefix, size, lines, scratch))
            except RuntimeError as e:  # reported, and left out of the median
                print(f"{name}: a run failed: {e}")
                failed.append(str(e))
        if done:
            out[name] = {"bytes": size, "lines": lines, "runs": done, "failed_runs": failed}
    os.unlink(prefix)
    return out


def parse_size(text):
    units = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def print_row(label, s, width=41, fmt="{:10.1f}"):
    """One table row: label, then the median, min and max of a summary()."""
    print(f"| {label:{width}} | {fmt.format(s['median'])} | {fmt.format(s['min'])} | {fmt.format(s['max'])} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/release")
    ap.add_argument("--size", default="1GiB")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--idle-seconds", type=float, default=10)
    ap.add_argument("--peer-size", default="256MiB",
                    help="prefix of the file shipped by rsyslog and syslog-ng (they are slow)")
    ap.add_argument("--scratch", default="/var/tmp")
    ap.add_argument("--json", default="bench/results/agent.json")
    args = ap.parse_args()
    bindir = os.path.abspath(args.bin)
    scratch = tempfile.mkdtemp(prefix="ember-agent-bench.", dir=args.scratch)
    try:
        log = f"{scratch}/bench.log"
        subprocess.run([f"{bindir}/demo/ember-loggen", "-o", log, "--bytes", args.size, "--seed", "42"],
                       check=True)
        size = os.path.getsize(log)
        with open(log, "rb") as f:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
        subprocess.run(["cat", log], stdout=subprocess.DEVNULL, check=True)  # page cache
        runs = [ship(bindir, log, size, lines, scratch) for _ in range(args.runs)]
        socat = [r for r in (socat_ship(log, size) for _ in range(args.runs)) if r]
        peers = peer_runs(log, args.peer_size, args.runs, scratch)
        many = [many_files(bindir, args.files, scratch, args.idle_seconds) for _ in range(min(args.runs, 3))]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    out = {
        "machine": machine(),
        "file_bytes": size,
        "file_lines": lines,
        "runs": args.runs,
        "ship": {k: summary([r[k] for r in runs]) for k in runs[0]},
        "socat": {k: summary([r[k] for r in socat]) for k in socat[0]} if socat else None,
        "many_files": {"files": args.files, **{k: summary([r[k] for r in many]) for k in many[0]}},
        "peers": {name: {"bytes": p["bytes"], "lines": p["lines"], "failed_runs": p["failed_runs"],
                         **{k: summary([r[k] for r in p["runs"]]) for k in p["runs"][0]}}
                  for name, p in peers.items()},
    }
    print(f"ember-agent: {size / 2**20:.0f} MiB, {lines:,} lines from page cache to ember-aggregator on "
          f"loopback (durable checkpoints), median of {args.runs} runs")
    print(f"machine: {out['machine']}\n")
    print("| measure                                   |     median |        min |        max |")
    print("|-------------------------------------------|------------|------------|------------|")

    def row(label, s, fmt="{:10.1f}"):
        print_row(label, s, 41, fmt)

    row("agent -> aggregator, MiB/s", out["ship"]["mib_s"])
    row("agent -> aggregator, lines/s", out["ship"]["lines_s"], "{:10,.0f}")
    row("  incl. wait for the last ACK, MiB/s", out["ship"]["mib_s_to_last_ack"])
    row("agent CPU while shipping, % of one core", out["ship"]["agent_cpu_percent"])
    row("agent peak RSS shipping 1 file, MiB", out["ship"]["agent_peak_rss_mib"])
    row("  of which private (RssAnon) at the end", out["ship"]["agent_anon_mib"])
    row("  of which binary + shared libs (RssFile)", out["ship"]["agent_file_mib"])
    if socat:
        row("socat -b 131072 file -> TCP, MiB/s", out["socat"]["mib_s"])
        ratio = out["ship"]["mib_s"]["median"] / out["socat"]["mib_s"]["median"]
        out["ship_vs_socat"] = ratio
    labels = {"rsyslog": "rsyslog imfile -> omfwd", "syslog-ng": "syslog-ng file() -> network()"}
    for name, p in out["peers"].items():
        failed = f" ({len(p['failed_runs'])} runs stalled)" if p["failed_runs"] else ""
        row(f"{labels[name]}, MiB/s{failed}", p["mib_s"])
        row(f"  lines/s", p["lines_s"], "{:10,.0f}")
        row(f"  CPU, % of one core", p["cpu_percent"])
        out[f"ship_vs_{name}"] = out["ship"]["mib_s"]["median"] / p["mib_s"]["median"]
    row(f"agent RSS with {args.files} files, MiB", out["many_files"]["rss_mib"])
    row("  of which private (RssAnon)", out["many_files"]["anon_mib"])
    row(f"agent idle CPU, {args.files} quiet files, %", out["many_files"]["idle_cpu_percent"], "{:10.2f}")
    row(f"agent open fds with {args.files} files", out["many_files"]["open_fds"], "{:10.0f}")
    if socat:
        print(f"\nember-agent ships at {out['ship_vs_socat']:.2f}x the socat ceiling of the same run.")
    for name in out["peers"]:
        print(f"ember-agent ships at {out[f'ship_vs_{name}']:.1f}x {name} "
              f"({out['peers'][name]['bytes'] / 2**20:.0f} MiB prefix of the same file).")
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
