"""The benchmark's peer agents: rsyslog (imfile -> omfwd) and syslog-ng (file() -> network())
shipping a file to a TCP sink on loopback that counts lines, configured from bench/peers/.
bench/peers/install.sh puts them in place; a peer that is missing is reported as such.
Used by bench/agent_bench.py so that ember, socat and the peers are measured in the same run.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

from procs import cpu_seconds, stop

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS_DIR = os.environ.get("EMBER_PEERS_DIR", "/var/tmp/ember-peers")


def _find(package, binary):
    """(root, path): the system-wide binary, else the one bench/peers/install.sh unpacked."""
    if os.access(binary, os.X_OK):
        return "", binary
    root = f"{PEERS_DIR}/{package}"
    return (root, root + binary) if os.access(root + binary, os.X_OK) else (None, None)


def available():
    """Names of the peers that can run here."""
    return [name for name, (package, binary) in PEERS.items() if _find(package, binary)[1]]


PEERS = {"rsyslog": ("rsyslog", "/usr/sbin/rsyslogd"),
         "syslog-ng": ("syslog-ng-core", "/usr/sbin/syslog-ng")}


class LineSink:
    """Accepts one TCP connection and counts LF-terminated messages until `expected`."""

    def __init__(self, expected):
        self.expected = expected
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.lines = 0
        self.bytes = 0
        self.done_at = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(600)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            while self.lines < self.expected:
                data = conn.recv(1 << 20)
                if not data:
                    break
                self.lines += data.count(b"\n")
                self.bytes += len(data)
        if self.lines >= self.expected:
            self.done_at = time.monotonic()
        self.sock.close()


def _command(name, root, binary, work, conf):
    if name == "rsyslog":
        moddir = f"{root}/usr/lib/x86_64-linux-gnu/rsyslog" if root else None
        cmd = [binary, "-n", "-f", conf, "-i", f"{work}/rsyslog.pid"]
        return (cmd + ["-M", moddir] if moddir else cmd), {}
    cmd = [binary, "-F", "-f", conf, f"--persist-file={work}/syslog-ng.persist",
           f"--pidfile={work}/syslog-ng.pid", f"--control={work}/syslog-ng.ctl", "--no-caps"]
    env = {}
    if root:
        cmd.append(f"--module-path={root}/usr/lib/syslog-ng/3.38")
        env["LD_LIBRARY_PATH"] = f"{root}/usr/lib/syslog-ng"
    return cmd, env


def ship(name, log, size, lines, scratch, timeout=900, stall_seconds=30):
    """Runs peer `name` on `log` until the sink has every line. Returns seconds, MiB/s,
    lines/s and the peer's CPU (% of one core), or raises RuntimeError with its log when it
    exits, stalls (no new line for `stall_seconds`) or runs out of time."""
    package, binary = PEERS[name]
    root, path = _find(package, binary)
    if path is None:
        raise RuntimeError(f"{name} is not installed (bench/peers/install.sh)")
    work = tempfile.mkdtemp(prefix=f"{name}.", dir=scratch)
    sink = LineSink(lines)
    conf = f"{work}/{name}.conf"
    with open(f"{HERE}/peers/{name}.conf.in") as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace("@WORK@", work).replace("@LOG@", log).replace("@PORT@", str(sink.port)))
    cmd, extra_env = _command(name, root, path, work, conf)
    err = open(f"{work}/{name}.err", "w")
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=err, stderr=subprocess.STDOUT, env={**os.environ, **extra_env})
    cpu = 0.0
    progress = (0, start)  # lines seen, when they last grew
    try:
        while sink.done_at is None and time.monotonic() - start < timeout:
            if proc.poll() is not None:
                break
            now = time.monotonic()
            if sink.lines != progress[0]:
                progress = (sink.lines, now)
            elif now - progress[1] > stall_seconds:
                break
            try:
                cpu = cpu_seconds(proc.pid)
            except OSError:
                pass
            time.sleep(0.05)
    finally:
        stop(proc)
        err.close()
    if sink.done_at is None:
        with open(f"{work}/{name}.err") as f:
            tail = f.read()[-2000:]
        shutil.rmtree(work, ignore_errors=True)
        raise RuntimeError(f"{name} delivered {sink.lines} of {lines} lines after "
                           f"{time.monotonic() - start:.0f} s, then stopped: {tail.strip()}")
    shutil.rmtree(work, ignore_errors=True)
    elapsed = sink.done_at - start
    return {"seconds": elapsed, "mib_s": size / 2**20 / elapsed, "lines_s": lines / elapsed,
            "cpu_percent": 100 * cpu / elapsed, "wire_bytes": sink.bytes}
