"""Compressed answers through the real proxy: a decompression bomb from the upstream is refused
(a 502 before the head, a cut connection after it) without airlock's memory following it, and a
normal compressed answer still arrives whole, decoded, byte for byte."""

from __future__ import annotations

import gzip
import json
import os
import threading
import tracemalloc
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import zstandard

from tests.apiproxy.conftest import StartProxy
from tests.apiproxy.test_http_upstreams import CLUSTER

BOMB_SIZE = 256 * 1024 * 1024  # decoded; a few hundred KB on the wire
JSON = json.dumps([{"id": n, "name": f"pod-{n}", "status": "Running"}
                   for n in range(60_000)]).encode()  # ~3 MiB
RANDOM = os.urandom(1024 * 1024).hex().encode()  # 2 MiB that compress about 2:1

PACK = {"gzip": lambda data: gzip.compress(data, 9), "deflate": lambda data: zlib.compress(data, 9),
        "zstd": lambda data: zstandard.ZstdCompressor(level=19).compress(data)}
BODIES = {"bomb": bytes(BOMB_SIZE), "json": JSON, "random": RANDOM}
_packed: dict[str, bytes] = {}

CONFIG = "{settings}\n" + CLUSTER  # a staging cluster endpoint, with [fronts.apiproxy] settings


def packed(encoding: str, what: str) -> bytes:
    key = f"{encoding}/{what}"
    if key not in _packed:
        _packed[key] = PACK[encoding](BODIES[what])
    return _packed[key]


@pytest.fixture
def compressing() -> Iterator[str]:
    """An upstream answering GET /<encoding>/<bomb|json|random> in that content encoding."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            _, encoding, what = self.path.split("/")[:3]
            body = b"\x1f\x8b\x08\x00 not compressed" if what == "corrupt" \
                else packed(encoding, what)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", encoding)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for at in range(0, len(body), 16384):
                    self.wfile.write(body[at:at + 16384])
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # airlock hung up on a refused answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd"])
def test_a_bomb_is_refused_before_the_head_and_memory_stays_bounded(
        start_proxy: StartProxy, compressing: str, encoding: str,
        caplog: pytest.LogCaptureFixture) -> None:
    proxy = start_proxy(CONFIG.format(settings="", upstream=compressing))
    auth = {"Authorization": f"Bearer {proxy.token('staging')}"}
    packed(encoding, "bomb")  # made before memory is watched
    tracemalloc.start()
    try:
        answer = httpx.get(f"{proxy.base}/cluster/{encoding}/bomb", headers=auth, timeout=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer.status_code == 502
    assert answer.json()["reason"].startswith(f"the {encoding} answer is a decompression bomb")
    assert answer.headers["x-airlock-status"] == "error"
    assert peak < 32 * 1024 * 1024  # every thread of this process; the bomb is 256 MiB
    assert any("decompression bomb" in r.getMessage() for r in caplog.records)  # and why


def test_an_answer_passing_the_limit_after_its_head_is_cut(start_proxy: StartProxy,
                                                           compressing: str) -> None:
    proxy = start_proxy(CONFIG.format(settings="max_decoded_mb = 1", upstream=compressing))
    auth = {"Authorization": f"Bearer {proxy.token('staging')}"}
    with httpx.stream("GET", f"{proxy.base}/cluster/gzip/random", headers=auth,
                      timeout=60) as answer:
        assert answer.status_code == 200  # the head went out: only a broken body is left
        with pytest.raises(httpx.RemoteProtocolError):
            answer.read()


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd"])
def test_normal_compressed_answers_pass_byte_identical(start_proxy: StartProxy,
                                                       compressing: str, encoding: str) -> None:
    proxy = start_proxy(CONFIG.format(settings="", upstream=compressing))
    auth = {"Authorization": f"Bearer {proxy.token('staging')}"}
    for what in ("json", "random"):
        answer = httpx.get(f"{proxy.base}/cluster/{encoding}/{what}", headers=auth, timeout=60)
        assert answer.status_code == 200
        assert "content-encoding" not in answer.headers
        assert answer.content == BODIES[what]


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
def test_a_corrupt_answer_is_a_502_that_says_so(start_proxy: StartProxy, compressing: str,
                                                encoding: str) -> None:
    proxy = start_proxy(CONFIG.format(settings="", upstream=compressing))
    auth = {"Authorization": f"Bearer {proxy.token('staging')}"}
    answer = httpx.get(f"{proxy.base}/cluster/{encoding}/corrupt", headers=auth, timeout=60)
    assert answer.status_code == 502
    assert answer.json()["reason"].startswith(f"the {encoding} answer does not decode")
