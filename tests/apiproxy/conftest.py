"""A real upstream (a local HTTP server that records what reaches it), and airlock's API proxy
served by its own service on a free port, in front of it."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from airlock.approvals import decide
from airlock.config import load_config
from airlock.fronts.apiproxy.service import ApiProxyService
from airlock.fronts.apiproxy.settings import SECTION
from airlock.model import Principal, PrincipalKind
from airlock.runtime import Runtime
from airlock.tokens import issue_token
from tests.conftest import require

REAL_SECRET = "real-upstream-secret-7f3a9c"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Upstream:
    """Answers like Railway's GraphQL API, a Kubernetes API server and an echo service."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    project: dict[str, Any] = field(default_factory=dict)  # Railway project map, by project id
    server: ThreadingHTTPServer | None = None

    def answer(self, seen: Seen) -> tuple[int, list[tuple[str, str]], bytes]:
        if seen.path.startswith("/echo"):
            # Echoes everything it got, credential included, in the body, a header, a redirect
            # and a cookie: none of it may reach the agent.
            auth = seen.headers.get("Authorization", "")
            return (302, [("Location", f"{self.url}/echo/next?auth={auth[7:]}"),
                          ("X-Echo-Authorization", auth), ("Set-Cookie", f"session={auth[7:]}"),
                          ("Content-Type", "application/json")],
                    json.dumps({"headers": seen.headers}).encode())
        if seen.path.startswith("/graphql"):
            request = json.loads(seen.body or b"{}")
            if "airlockProjectMap" in request.get("query", ""):
                project = self.project.get(request["variables"]["id"])
                return 200, [("Content-Type", "application/json")], json.dumps(
                    {"data": {"project": project}}).encode()
            return 200, [("Content-Type", "application/json")], b'{"data":{"volumeDelete":true}}'
        if seen.path.startswith(("/api/", "/apis/")):
            return 200, [("Content-Type", "application/json")], json.dumps(
                {"kind": "Status", "status": "Success", "path": seen.path}).encode()
        return 404, [("Content-Type", "text/plain")], b"not found"


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    up = Upstream()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen = Seen(self.command, self.path, dict(self.headers.items()),
                        self.rfile.read(length))
            up.seen.append(seen)
            if seen.path.startswith(("/chunked-echo", "/gzip-echo")):
                self._encoded_echo(seen)
                return
            status, headers, body = up.answer(seen)
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _encoded_echo(self, seen: Seen) -> None:
            """The credential echoed in a chunked body, split across chunks that arrive one by
            one (`/chunked-echo`), or in a gzip-encoded body (`/gzip-echo`)."""
            body = json.dumps({"echo": seen.headers.get("Authorization", ""),
                               "filler": "x" * 100_000}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if seen.path.startswith("/gzip-echo"):
                packed = gzip.compress(body)
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(packed)))
                self.end_headers()
                self.wfile.write(packed)
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for at in range(0, len(body), 7):  # 7 bytes a chunk: the secret spans several
                piece = body[at:at + 7]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                if at < 70:
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _any

        def log_message(self, *args: object) -> None:
            pass

    up.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    up.url = f"http://127.0.0.1:{up.server.server_address[1]}"
    threading.Thread(target=up.server.serve_forever, daemon=True).start()
    yield up
    up.server.shutdown()
    up.server.server_close()


@pytest.fixture
def other_fs_dir() -> Iterator[Path]:
    """A vault folder on another filesystem (the local vault insists), for deferred calls."""
    shm = Path("/dev/shm")
    require(shm.is_dir() and os.stat(shm).st_dev != os.stat(tempfile.gettempdir()).st_dev,
            "a second filesystem for the vault (/dev/shm as tmpfs)")
    path = Path(tempfile.mkdtemp(prefix="airlock-apiproxy-vault-", dir=shm))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@dataclass
class Proxy:
    runtime: Runtime
    service: ApiProxyService

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.service.port}"

    def token(self, *envs: str, resources: list[str] | None = None) -> str:
        return issue_token(self.runtime.store, self.runtime.config, principal="agent",
                           environments=list(envs), resources=resources).token

    def approve(self, approval_id: str, *, without_backup: bool = False) -> None:
        """As many humans as it takes (a catastrophic action in production takes two)."""
        for name in ("alice", "bob"):
            record = decide(self.runtime.store, approval_id, Principal(name, PrincipalKind.HUMAN),
                            approve=True, without_backup=without_backup)
            if record.status.value != "pending":
                return


StartProxy = Callable[[str], Proxy]


@pytest.fixture
def start_proxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StartProxy]:
    monkeypatch.setenv("UPSTREAM_TOKEN", REAL_SECRET)
    started: list[Proxy] = []

    def start(config_text: str) -> Proxy:
        path = tmp_path / "airlock.toml"
        path.write_text(f'state_dir = "{tmp_path / "state"}"\n'
                        '[principals.agent]\nkind = "agent"\n[principals.alice]\nkind = "human"\n'
                        '[principals.bob]\nkind = "human"\n'
                        '[fronts.apiproxy]\nlisten = "127.0.0.1:0"\n' + config_text)
        runtime = Runtime(load_config(path))
        service = ApiProxyService(runtime, SECTION.of(runtime.config),
                                  console_url="http://127.0.0.1:8377")
        service.start()
        proxy = Proxy(runtime, service)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.service.stop()
        proxy.runtime.close()
