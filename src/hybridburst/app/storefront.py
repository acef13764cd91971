#!/usr/bin/env python3
"""The storefront of the local demo: a small HTTP service in front of the private backend.

Python standard library only: a burst host has python3 and nothing else to install from.

  GET /              the release and the host that answered
  GET /health        200 only when the backend answers its own /health (503 otherwise):
                     a host without access to the private network is never healthy. The
                     answer is a status only: never the backend's address nor its errors
  GET /products/<id> the product, fetched from the backend through the gateway; <id> is
                     1 to 12 digits, the form of the backend's ids

Nothing else reaches the backend: any other path (``..``, a query string, encoded slashes,
other ids, other methods) is answered 404 here and the backend never sees it. The request
sent to the backend is built from the checked id, never from the client's path.

Every answer carries ``release`` and ``host`` (also as X-Release and X-Served-By headers),
so a client behind the load balancer sees which host and release served it.
SIGTERM stops accepting, finishes the requests in flight, then exits.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# The only path proxied to the backend, matched on the raw request target (no decoding,
# no normalisation: "/products/%31" or "/products/1/" are refused, not rewritten).
PRODUCT_PATH = re.compile(r"/products/([0-9]{1,12})\Z")

HERE = Path(__file__).resolve().parent


def load_release(folder: Path = HERE) -> dict[str, Any]:
    """release.json beside this file (written by the release builder)."""
    try:
        return json.loads((folder / "release.json").read_text())
    except (OSError, ValueError):
        return {"version": "dev"}


class Storefront(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for the requests in flight
    block_on_close = True

    def __init__(self, address: tuple[str, int], backend: str, release: dict[str, Any],
                 timeout: float) -> None:
        super().__init__(address, Handler)
        self.backend = backend.rstrip("/")
        self.release = release
        self.backend_timeout = timeout
        self.host = socket.gethostname()

    def fetch(self, path: str) -> tuple[int, dict[str, Any]]:
        """GET ``path`` (built here from checked parts) from the backend: its status and
        JSON body; 0 when it cannot be reached or its answer is not JSON."""
        try:
            with urllib.request.urlopen(self.backend + path, timeout=self.backend_timeout) as resp:
                body = json.loads(resp.read() or b"{}")
                return resp.status, body if isinstance(body, dict) else {}
        except urllib.error.HTTPError as exc:
            return exc.code, {}
        except (OSError, ValueError):
            return 0, {}


class Handler(BaseHTTPRequestHandler):
    server: Storefront
    server_version = "storefront"

    def do_GET(self) -> None:
        srv = self.server
        product = PRODUCT_PATH.match(self.path)
        if self.path == "/":
            self.reply(200, {"service": "storefront"})
        elif self.path == "/health":
            # A status, never the backend's address nor its error text.
            if srv.release.get("health_fault"):
                self.reply(503, {"status": "failing", "reason": "release self-check failed"})
                return
            status, _ = srv.fetch("/health")
            if status == 200:
                self.reply(200, {"status": "ok"})
            else:
                self.reply(503, {"status": "failing", "reason": "backend unavailable"})
        elif product:
            status, body = srv.fetch(f"/products/{product.group(1)}")
            if status == 200:
                self.reply(200, {"product": body})
            elif status == 404:
                self.reply(404, {"error": "no such product"})
            else:
                self.reply(502, {"error": "backend unavailable"})
        else:
            self.reply(404, {"error": "not found"})

    def reply(self, status: int, body: dict[str, Any]) -> None:
        version = str(self.server.release.get("version", "dev"))
        payload = json.dumps({**body, "release": version, "host": self.server.host}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Release", version)
        self.send_header("X-Served-By", self.server.host)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the load balancer logs requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the storefront service")
    parser.add_argument("--listen", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--backend", required=True, help="base URL of the private backend")
    parser.add_argument("--backend-timeout", type=float, default=2.0)
    args = parser.parse_args(argv)
    server = Storefront((args.listen, args.port), args.backend, load_release(), args.backend_timeout)

    def stop(_signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
