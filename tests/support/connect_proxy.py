#!/usr/bin/env python3
"""A real HTTP CONNECT proxy for the HTTPS tests: logs each CONNECT target as one line and
relays bytes both ways. Loopback only; stops by itself after --max-seconds."""
import argparse
import select
import socket
import threading

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--max-seconds", type=float, default=120)
args = parser.parse_args()


def relay(client):
    with client:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, target = line.split(" ")[:2]
        with open(args.log, "a") as f:
            f.write(f"{method} {target}\n")
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, port = target.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as upstream:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            socks = [client, upstream]
            while True:
                ready, _, _ = select.select(socks, [], [], 10)
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is client else client).sendall(data)


listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", args.port))
listener.listen(16)
threading.Timer(args.max_seconds, lambda: listener.close()).start()
while True:
    try:
        conn, _ = listener.accept()
    except OSError:
        break
    threading.Thread(target=relay, args=(conn,), daemon=True).start()
