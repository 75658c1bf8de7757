#!/usr/bin/env python3
"""A real HTTP receiver for the webhook tests: logs every request as one JSON line
(method, path, headers, body, the status it answered) and answers 503 to the first
--fail-first requests, then 200. Stops by itself after --max-seconds."""
import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--fail-first", type=int, default=0)
parser.add_argument("--max-seconds", type=float, default=120)
args = parser.parse_args()
lock = threading.Lock()
seen = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            seen += 1
            status = 503 if seen <= args.fail_first else 200
            with open(args.log, "a") as f:
                f.write(json.dumps({"method": "POST", "path": self.path,
                                    "headers": dict(self.headers),
                                    "body": body.decode("utf-8", "replace"),
                                    "status": status}) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *a):
        pass


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
threading.Timer(args.max_seconds, server.shutdown).start()
server.serve_forever()
