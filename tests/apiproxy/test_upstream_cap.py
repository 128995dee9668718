"""`max_upstream_connections` through the real proxy: a burst of agent calls to a slow upstream
opens no more connections than the cap, and every call is answered."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.apiproxy.conftest import StartProxy
from tests.apiproxy.test_bombs import CONFIG


class Counting(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Slow)
        self.lock = threading.Lock()
        self.open = self.most = self.total = 0


class _Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Counting

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.open += 1
            self.server.total += 1
            self.server.most = max(self.server.most, self.server.open)

    def finish(self) -> None:
        with self.server.lock:
            self.server.open -= 1
        super().finish()

    def do_GET(self) -> None:
        time.sleep(0.1)
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_upstream() -> Iterator[Counting]:
    server = Counting()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_burst_of_calls_opens_no_more_upstream_connections_than_the_cap(
        start_proxy: StartProxy, slow_upstream: Counting) -> None:
    upstream = f"http://127.0.0.1:{slow_upstream.server_address[1]}"
    proxy = start_proxy(CONFIG.format(settings="max_upstream_connections = 2", upstream=upstream))
    auth = {"Authorization": f"Bearer {proxy.token('staging')}"}

    def call(i: int) -> httpx.Response:
        return httpx.get(f"{proxy.base}/cluster/api/v1/pods/{i}", headers=auth, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(call, range(8)))
    assert [a.status_code for a in answers] == [200] * 8
    assert [a.text for a in answers] == [f"/api/v1/pods/{i}" for i in range(8)]
    assert slow_upstream.most <= 2 and slow_upstream.total <= 2
