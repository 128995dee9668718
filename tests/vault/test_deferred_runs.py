"""A deferred cloud deletion is carried out when its grace period ends — with airlock's own
credential for the upstream, never the agent's — unless a human cancelled it first."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from airlock.approvals import decide
from airlock.config import load_config
from airlock.model import Action, HttpRequest, Principal, PrincipalKind, Status, utcnow
from airlock.runtime import Runtime
from airlock.store import DeferredStatus
from airlock.tokens import local_caller
from airlock.vault import deferred
from airlock.vault.runners import run_due_and_record

AGENT_TOKEN = "alk_tok_" + "1" * 26 + "_" + "a" * 43


class Upstream:
    """A real HTTP server standing in for a cloud API: records what reaches it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.answer = 200
        self.location = ""
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                upstream.seen.append((self.command, self.path, dict(self.headers.items()),
                                      self.rfile.read(length)))
                self.send_response(upstream.answer)
                if upstream.location:
                    self.send_header("Location", upstream.location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_DELETE = do_POST = do_GET = _any

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    up = Upstream()
    yield up
    up.server.shutdown()
    up.server.server_close()


@pytest.fixture
def runtime(tmp_path: Path, upstream: Upstream, vault_dir: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("THINGS_API_TOKEN", "real-upstream-secret")
    (tmp_path / "airlock.toml").write_text(f"""
state_dir = "{tmp_path / 'state'}"
[environments.staging]
[resources.things-api]
kind = "api"
environment = "staging"
base_url = "{upstream.url}/api"
credential = {{ env = "THINGS_API_TOKEN" }}
[principals.agent]
kind = "agent"
[principals.alice]
kind = "human"
[vault]
path = "{vault_dir}"
""")
    rt = Runtime(load_config(tmp_path / "airlock.toml"))
    yield rt
    rt.close()


def delete_thing(rt: Runtime, url: str) -> tuple[Status, str, str | None]:
    action = Action(HttpRequest("DELETE", url, (("Authorization", f"Bearer {AGENT_TOKEN}"),)),
                    "agent", "test")
    outcome = rt.gate().submit(action, local_caller(rt.config, "agent"))
    return outcome.status, outcome.reason, outcome.approval_id


def defer_through_the_gate(rt: Runtime, url: str) -> str:
    status, _, approval_id = delete_thing(rt, url)
    assert status is Status.HELD and approval_id
    decide(rt.store, approval_id, Principal("alice", PrincipalKind.HUMAN), approve=True)
    status, reason, _ = delete_thing(rt, url)
    assert status is Status.HELD and reason.startswith("deferred, not run now"), reason
    (pending,) = rt.store.list_deferred(status=DeferredStatus.PENDING)
    return pending.id


def test_due_call_is_sent_with_airlocks_credential_not_the_agents(runtime: Runtime,
                                                                  upstream: Upstream) -> None:
    deferred_id = defer_through_the_gate(runtime, f"{upstream.url}/api/things/1")
    assert upstream.seen == []  # nothing reached the upstream at approval time
    assert run_due_and_record(runtime.store, runtime.config, runtime.audit) == []  # not due yet
    assert upstream.seen == []

    later = utcnow() + timedelta(hours=49)
    (done,) = run_due_and_record(runtime.store, runtime.config, runtime.audit, now=later)
    assert done.id == deferred_id and done.status is DeferredStatus.EXECUTED
    ((method, path, headers, _),) = upstream.seen
    assert (method, path) == ("DELETE", "/api/things/1")
    assert headers["Authorization"] == "Bearer real-upstream-secret"
    assert AGENT_TOKEN not in str(headers)
    assert run_due_and_record(runtime.store, runtime.config, runtime.audit, now=later) == []  # once
    kinds = [r.kind for r in runtime.store.audit_records()]
    assert "deferred" in kinds and "deferred_executed" in kinds


def test_cancelled_call_never_runs(runtime: Runtime, upstream: Upstream) -> None:
    deferred_id = defer_through_the_gate(runtime, f"{upstream.url}/api/things/2")
    deferred.cancel(runtime.store, deferred_id, "alice", "wrong volume")
    assert run_due_and_record(runtime.store, runtime.config, runtime.audit,
                              now=utcnow() + timedelta(days=3)) == []
    assert upstream.seen == []


@pytest.mark.parametrize(("answer", "location", "expected"), [
    (500, "", "answered 500"),
    (302, "http://attacker.example/steal", "answered 302"),
])
def test_failures_are_recorded_and_redirects_not_followed(runtime: Runtime, upstream: Upstream,
                                                          answer: int, location: str,
                                                          expected: str) -> None:
    upstream.answer, upstream.location = answer, location
    defer_through_the_gate(runtime, f"{upstream.url}/api/things/3")
    (done,) = run_due_and_record(runtime.store, runtime.config, runtime.audit,
                                 now=utcnow() + timedelta(hours=49))
    assert done.status is DeferredStatus.FAILED and expected in done.result
    assert len(upstream.seen) == 1  # the redirect was not followed
    assert "deferred_failed" in [r.kind for r in runtime.store.audit_records()]


def test_only_urls_a_configured_api_owns_are_called(runtime: Runtime, upstream: Upstream) -> None:
    from airlock.upstream.http import UpstreamCallError
    from airlock.vault.runners import http_runner

    record = deferred.defer(runtime.store, Action(HttpRequest("DELETE", f"{upstream.url}/other/1"),
                                                  "agent", "test"),
                            target="url:x", resource="things-api", grace=timedelta(minutes=1))
    with pytest.raises(UpstreamCallError, match="0 configured api resources"):
        http_runner(runtime.config)(record)
    assert upstream.seen == []


AGENT_SECRETS = {"Authorization": f"Bearer {AGENT_TOKEN}", "Cookie": "session=agent-cookie-1",
                 "X-Api-Key": "agent-api-key-2", "X-Amz-Security-Token": "agent-sts-3",
                 "X-Amz-Date": "20250101T000000Z", "X-Railway-Token": "agent-railway-4",
                 "Proxy-Authorization": "Basic YWdlbnQ6NQ"}


def test_no_credential_the_agent_sent_is_stored_anywhere_or_replayed(
        runtime: Runtime, upstream: Upstream, tmp_path: Path) -> None:
    url = f"{upstream.url}/api/things/9"
    headers = (*AGENT_SECRETS.items(), ("Accept", "application/json"), ("X-Request-Id", "r-1"))
    action = Action(HttpRequest("DELETE", url, headers), "agent", "test")
    caller = local_caller(runtime.config, "agent")
    held = runtime.gate().submit(action, caller)
    assert held.approval_id
    decide(runtime.store, held.approval_id, Principal("alice", PrincipalKind.HUMAN), approve=True)
    again = runtime.gate().submit(Action(HttpRequest("DELETE", url, headers), "agent", "test"),
                                  caller)
    assert again.reason.startswith("deferred, not run now"), again.reason
    (pending,) = runtime.store.list_deferred(status=DeferredStatus.PENDING)
    stored = {name.lower() for name, _ in pending.content["headers"]}
    assert stored == {"accept", "x-request-id"}
    # Nowhere in the state: deferred calls, approvals, the audit log (the whole database dumped)
    import sqlite3

    with sqlite3.connect(tmp_path / "state" / "state.db") as conn:
        dump = "\n".join(conn.iterdump())
    for name, value in AGENT_SECRETS.items():
        secret = value.split()[-1].split("=")[-1]
        assert secret not in dump, f"{name} was stored"
    run_due_and_record(runtime.store, runtime.config, runtime.audit,
                       now=utcnow() + timedelta(hours=49))
    ((_method, _path, sent, _body),) = upstream.seen
    assert sent["Authorization"] == "Bearer real-upstream-secret"
    assert sent["Accept"] == "application/json" and sent["X-Request-Id"] == "r-1"
    for name in AGENT_SECRETS:
        if name != "Authorization":
            assert name not in sent, f"{name} was replayed"


@pytest.mark.parametrize(("body", "why"), [
    ('{"confirm": true, "password": "agent-pass-9"}', "it held a credential"),
    ("x" * 200_000, "too large"),
])
def test_a_body_redaction_had_to_change_is_not_kept_and_never_sent(
        runtime: Runtime, upstream: Upstream, body: str, why: str) -> None:
    """Replaying a masked or cut body would send what nobody approved: such a call waits for a
    human to run it by hand or cancel it."""
    record = deferred.defer(runtime.store, Action(HttpRequest("DELETE", f"{upstream.url}/api/x",
                                                              body=body), "agent", "test"),
                            target="url:x", resource="things-api", grace=timedelta(minutes=1))
    stored = runtime.store.get_deferred(record.id)
    assert stored is not None and "agent-pass-9" not in str(stored.content)
    assert why in stored.content["body"] and len(stored.content["body"]) < 300
    (done,) = run_due_and_record(runtime.store, runtime.config, runtime.audit,
                                 now=utcnow() + timedelta(hours=1))
    assert done.status is DeferredStatus.FAILED and "too large to keep" in done.result
    assert upstream.seen == []


def test_a_plain_body_is_kept_and_sent(runtime: Runtime, upstream: Upstream) -> None:
    body = '{"reason": "cleanup"}'
    deferred.defer(runtime.store, Action(HttpRequest("DELETE", f"{upstream.url}/api/y",
                                                     body=body), "agent", "test"),
                   target="url:y", resource="things-api", grace=timedelta(minutes=1))
    run_due_and_record(runtime.store, runtime.config, runtime.audit,
                       now=utcnow() + timedelta(hours=1))
    ((_method, _path, _headers, sent),) = upstream.seen
    assert sent == body.encode()
