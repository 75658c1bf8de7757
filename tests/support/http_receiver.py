#!/usr/bin/env python3
"""A real HTTP receiver for the webhook tests: logs every request as one JSON line
(method, path, headers, body, the status it answered) and answers 503 to the first
--fail-first requests, then 200. With --tls-cert/--tls-key it speaks HTTPS (and with
--client-ca it requires a client certificate signed by that CA); a POST to --redirect-from is
answered 307 to --redirect-to. Stops by itself after --max-seconds."""
import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--fail-first", type=int, default=0)
parser.add_argument("--max-seconds", type=float, default=120)
parser.add_argument("--tls-cert")
parser.add_argument("--tls-key")
parser.add_argument("--client-ca")
parser.add_argument("--redirect-from")
parser.add_argument("--redirect-to")
args = parser.parse_args()
lock = threading.Lock()
seen = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if args.redirect_from and self.path == args.redirect_from:
            self.send_response(307)
            self.send_header("Location", args.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
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
if args.tls_cert:
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    if args.client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(args.client_ca)
    server.socket = context.wrap_socket(server.socket, server_side=True)
threading.Timer(args.max_seconds, server.shutdown).start()
server.serve_forever()
