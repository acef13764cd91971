#!/usr/bin/env python3
"""The storefront of the local demo: a small HTTP service in front of the private backend.

Python standard library only: a burst host has python3 and nothing else to install from.

  GET /              the release and the host that answered
  GET /health        200 only when the backend answers its own /health (503 otherwise):
                     a host without access to the private network is never healthy
  GET /products/<id> the product, fetched from the backend through the gateway

Every answer carries ``release`` and ``host`` (also as X-Release and X-Served-By headers),
so a client behind the load balancer sees which host and release served it.
SIGTERM stops accepting, finishes the requests in flight, then exits.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

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
        try:
            with urllib.request.urlopen(self.backend + path, timeout=self.backend_timeout) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, {"error": f"backend answered {exc.code}"}
        except (OSError, ValueError) as exc:
            return 0, {"error": f"backend unreachable: {exc}"}


class Handler(BaseHTTPRequestHandler):
    server: Storefront
    server_version = "storefront"

    def do_GET(self) -> None:
        srv = self.server
        if self.path == "/":
            self.reply(200, {"service": "storefront"})
        elif self.path == "/health":
            if srv.release.get("health_fault"):
                self.reply(503, {"status": "failing", "reason": "release self-check failed"})
                return
            status, body = srv.fetch("/health")
            if status == 200:
                self.reply(200, {"status": "ok", "backend": srv.backend})
            else:
                self.reply(503, {"status": "failing", "backend": srv.backend,
                                 "reason": body.get("error", f"backend answered {status}")})
        elif self.path.startswith("/products/"):
            status, body = srv.fetch(self.path)
            if status == 200:
                self.reply(200, {"product": body})
            elif status == 404:
                self.reply(404, {"error": "no such product"})
            else:
                self.reply(502, {"error": body.get("error", f"backend answered {status}")})
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
