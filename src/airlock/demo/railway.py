"""The demo's Railway: a local GraphQL endpoint shaped like Railway's public API, just enough
for the incident. One project, `rentals`, with a production and a staging environment whose
`postgres` service mounts one and the same volume — which also holds the backups.

It answers two things: the read-only project query airlock's API proxy asks to place Railway
ids (`airlockProjectMap`), and `volumeDelete`, which it records (the demo checks that nothing
ever reached it). It accepts only the real token (the one airlock holds), so a call that reaches
it with anything else — an agent's airlock token, a pointer — is refused, as Railway would.

It is a fixture of the demo, shipped in the package because `airlock demo` runs from an
installed airlock too; it is not a model of Railway beyond these two operations.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROJECT_ID = "proj-rentals"
VOLUME_ID = "vol-rentals-pg"
SERVICE_ID = "svc-postgres"
ENVIRONMENTS = {"env-production": "production", "env-staging": "staging"}


def project() -> dict[str, Any]:
    """The project as Railway's API describes it (edges and nodes)."""
    def edges(nodes: list[dict[str, Any]]) -> dict[str, Any]:
        return {"edges": [{"node": n} for n in nodes]}

    return {
        "id": PROJECT_ID, "name": "rentals",
        "environments": edges([{"id": i, "name": n} for i, n in ENVIRONMENTS.items()]),
        "services": edges([{"id": SERVICE_ID, "name": "postgres"}]),
        "volumes": edges([{"id": VOLUME_ID, "name": "postgres-data", "volumeInstances": edges(
            [{"environmentId": env, "serviceId": SERVICE_ID} for env in ENVIRONMENTS])}]),
    }


@dataclass
class FakeRailway:
    """Serve with `start()`; `deleted` lists every volumeDelete that reached it."""

    token: str
    deleted: list[str] = field(default_factory=list)
    calls: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the demo's Railway is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, authorization: str, body: bytes) -> tuple[int, dict[str, Any]]:
        self.calls += 1
        if authorization != f"Bearer {self.token}":
            return 401, {"errors": [{"message": "Not Authorized"}]}
        try:
            request = json.loads(body)
            query = str(request.get("query", ""))
            variables = request.get("variables") or {}
        except (ValueError, AttributeError):
            return 400, {"errors": [{"message": "the body is not a GraphQL request"}]}
        if "airlockProjectMap" in query:
            found = project() if variables.get("id") == PROJECT_ID else None
            return 200, {"data": {"project": found}}
        if "volumeDelete" in query:
            self.deleted.append(str(variables.get("volumeId")))
            return 200, {"data": {"volumeDelete": True}}
        return 200, {"errors": [{"message": "the demo's Railway answers only the project query "
                                            "and volumeDelete"}]}

    def start(self) -> None:
        railway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status, answer = railway.answer(self.headers.get("Authorization", ""),
                                                self.rfile.read(length))
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="demo-railway",
                         daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
