#!/usr/bin/env python3
"""The private backend service of the local demo: the product catalogue the storefront needs."""
import json
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PRODUCTS = {str(i): {"id": str(i), "name": f"product {i}", "price_cents": 990 + i} for i in range(1, 51)}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = {"status": "ok", "service": "backend", "host": socket.gethostname()}
        elif self.path.startswith("/products/") and self.path.split("/")[-1] in PRODUCTS:
            body = PRODUCTS[self.path.split("/")[-1]]
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
