"""Process helpers shared by the benchmarks: CPU time and memory from /proc, and stopping
daemons the way an operator would (SIGTERM, then SIGKILL after a grace period)."""
import os
import subprocess

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU seconds of `pid` so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_kib(pid, key="VmRSS"):
    """A /proc/PID/status memory field (VmRSS, VmHWM, RssAnon…) in KiB, 0 if absent."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def stop(*procs, grace=30):
    """SIGTERM to every process, then waits for each; SIGKILL to one still running after
    `grace` seconds."""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
