"""The storefront on loopback in front of a fake backend on loopback that records every
request it receives: only /products/<digits> reaches the backend, and /health never names it."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hybridburst.app.storefront import Storefront


class FakeBackend(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _BackendHandler)
        self.seen: list[str] = []


class _BackendHandler(BaseHTTPRequestHandler):
    server: FakeBackend

    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        if self.path == "/health" or self.path.startswith("/products/"):
            body = json.dumps({"status": "ok"} if self.path == "/health"
                              else {"id": self.path.rsplit("/", 1)[-1]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def backend() -> Iterator[FakeBackend]:
    server = FakeBackend()
    _serve(server)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _forget(backend: FakeBackend) -> None:
    backend.seen.clear()


def _storefront(backend_url: str) -> Storefront:
    server = Storefront(("127.0.0.1", 0), backend_url, {"version": "1.0.0"}, timeout=2.0)
    _serve(server)
    return server


@pytest.fixture(scope="module")
def front(backend: FakeBackend) -> Iterator[Storefront]:
    server = _storefront(f"http://127.0.0.1:{backend.server_address[1]}")
    yield server
    server.shutdown()
    server.server_close()


def raw_get(server: Storefront, target: str) -> tuple[int, bytes]:
    """Send ``target`` byte for byte (no client-side normalisation) and read the answer."""
    with socket.create_connection(server.server_address[:2], timeout=5) as conn:
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n".encode())
        resp = http.client.HTTPResponse(conn)
        resp.begin()
        return resp.status, resp.read()


REFUSED = [
    "/products/../admin",
    "/products/..%2Fadmin",
    "/products/1%2F..%2F..%2Fadmin",
    "/products/%2e%2e/admin",
    "/products/1?x=1",
    "/products/1#x",
    "/products/1/",
    "/products/1/../../admin",
    "/products//1",
    "/products/%31",
    "/products/-1",
    "/products/1.5",
    "/products/1%0a",
    "/products/abc",
    "/products/",
    "/products",
    "/products/" + "9" * 13,
    "/products/" + "1" * 5000,
    "/admin",
    "/health/../products/1",
    "/health?x",
    "//backend.example/products/1",
    "http://127.0.0.1:1/products/1",
]


@pytest.mark.parametrize("target", REFUSED)
def test_a_refused_path_never_reaches_the_backend(front: Storefront, backend: FakeBackend,
                                                  target: str) -> None:
    status, _ = raw_get(front, target)
    assert status in (400, 404), (target, status)
    assert backend.seen == []


def test_a_product_id_reaches_the_backend_as_that_id_only(front: Storefront,
                                                          backend: FakeBackend) -> None:
    status, body = raw_get(front, "/products/7")
    assert status == 200
    assert json.loads(body)["product"] == {"id": "7"}
    status, _ = raw_get(front, "/products/" + "9" * 12)
    assert status == 200
    assert backend.seen == ["/products/7", "/products/" + "9" * 12]


def test_health_says_ok_without_naming_the_backend(front: Storefront,
                                                   backend: FakeBackend) -> None:
    status, body = raw_get(front, "/health")
    assert status == 200
    assert json.loads(body)["status"] == "ok"
    assert backend.seen == ["/health"]
    assert str(backend.server_address[1]).encode() not in body
    assert b"127.0.0.1" not in body and b"http" not in body


def test_health_of_an_unreachable_backend_is_a_status_not_its_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = _storefront(f"http://127.0.0.1:{port}")
    try:
        status, body = raw_get(server, "/health")
        product_status, product_body = raw_get(server, "/products/7")
    finally:
        server.shutdown()
        server.server_close()
    assert status == 503
    assert json.loads(body)["status"] == "failing"
    assert product_status == 502
    for text in (body, product_body):
        assert str(port).encode() not in text
        assert b"127.0.0.1" not in text
        assert b"refused" not in text.lower() and b"errno" not in text.lower()
