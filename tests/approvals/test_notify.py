"""Webhooks on every new hold: what they say (never a secret), and that they get there —
retried with backoff, surviving a restart, sent once across replicas, from the real service."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from airlock.approvals import StoreApprovals
from airlock.classify import FixedClassifier
from airlock.gate import Gate
from airlock.model import Action, ActionContext, Risk, ShellCommand, Status, Target
from airlock.notify import BACKOFF, MAX_ATTEMPTS, Dispatcher, NotifyingApprovals
from airlock.store import OutboxStatus, Store, open_store
from airlock.store.memory import MemoryStore
from tests.approvals.helpers import (
    agent_token,
    enrol_by_cli,
    runtime_for,
    start_server,
    write_project,
)
from tests.factories import Twins, assessment, caller, effect, make_config

PROD_DB = Target("postgres", "db.prod.internal:5432/app")
SECRET_COMMAND = ("PGPASSWORD=hunter2 psql postgresql://app:s3cr3t@db.prod.internal/app "
                  "-c 'DROP TABLE users' -H 'Authorization: Bearer sk_live_42'")
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class Receiver:
    """A real HTTP endpoint that records what it is sent and answers with scripted statuses."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.statuses = list(statuses or [])
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(json.loads(body))
                outer.paths.append(self.path)
                self.send_response(outer.statuses.pop(0) if outer.statuses else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0/B0/secret-path"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def notifying_twins(url: str, fmt: str = "json", store: Store | None = None) -> Twins:
    config = make_config(f"""
[[approvals.webhooks]]
url = "{url}"
format = "{fmt}"
""")
    # The gate stamps holds (and so outbox items) with its own clock: the same frozen time the
    # dispatchers below start from, never the machine's date.
    twins = Twins(config=config, classifier=FixedClassifier(assessment(
        effect(Risk.DESTRUCTIVE, PROD_DB))), clock=Clock())
    if store is not None:
        twins.store = store  # type: ignore[assignment]
    twins.gate = Gate(judge=twins.judge, approvals=NotifyingApprovals(
        StoreApprovals(twins.store), twins.store, config, twins.audit),
        safety_net=twins.safety, executor=twins.executor, audit=twins.audit)
    return twins


def hold(twins: Twins, command: str = SECRET_COMMAND) -> str:
    outcome = twins.gate.submit(Action(ShellCommand(command), "agent", "hook-claude",
                                       ActionContext(cwd="/work/app")), caller())
    assert outcome.status is Status.HELD and outcome.approval_id
    return outcome.approval_id


def dispatcher(twins: Twins, clock: Clock | None = None) -> Dispatcher:
    return Dispatcher(twins.store, twins.config.approvals.webhooks, twins.audit,
                      "https://airlock.example", clock=clock or Clock())


# ---- what is said ---------------------------------------------------------------------------

def test_json_notification_has_the_facts_and_no_secrets(receiver: Receiver) -> None:
    twins = notifying_twins(receiver.url)
    apr = hold(twins)
    assert dispatcher(twins).run_once() == 1
    [sent] = receiver.received
    assert sent["event"] == "approval.requested" and sent["approval_id"] == apr
    assert sent["url"] == f"https://airlock.example/console/approvals/{apr}"
    assert sent["risk"] == "destructive" and sent["environments"] == ["production"]
    assert sent["production"] == ["production"] and sent["principal"] == "agent"
    assert sent["resources"] == ["prod-db"] and sent["front"] == "hook-claude"
    text = json.dumps(sent)
    for secret in ("hunter2", "s3cr3t", "sk_live_42"):
        assert secret not in text
    assert "PGPASSWORD=***" in sent["summary"]


def test_slack_notification_links_to_the_console(receiver: Receiver) -> None:
    twins = notifying_twins(receiver.url, "slack")
    apr = hold(twins, "rm -rf /srv/<data> && echo ```done```")
    dispatcher(twins).run_once()
    [sent] = receiver.received
    assert "Review it: https://airlock.example/console/approvals/" in sent["text"]
    section, context, actions = sent["blocks"]
    assert "&lt;data&gt;" in section["text"]["text"] and "```done```" not in section["text"]["text"]
    assert "*production* :red_circle:" in section["text"]["text"]
    assert "requested by agent via hook-claude" in context["elements"][0]["text"]
    assert actions["elements"][0]["url"] == f"https://airlock.example/console/approvals/{apr}"


def test_only_new_holds_are_announced(receiver: Receiver) -> None:
    twins = notifying_twins(receiver.url)
    first = hold(twins)
    assert hold(twins) == first  # the same action again: the same pending approval
    hold(twins, "another command")
    assert dispatcher(twins).run_once() == 2
    assert len(receiver.received) == 2


def test_holds_that_raced_to_one_approval_announce_it_once(receiver: Receiver,
                                                           tmp_path: Path) -> None:
    # Two holds of one action racing (threads here; processes and replicas alike) share one
    # approval (approvals.next_approval_id). With the store's audit log each writes it with its
    # records and thinks it made it, so each queues its announcement — under the same ids,
    # derived from the approval and the channel.
    from airlock.audit import StoreAuditLog

    store = open_store(None, tmp_path)
    twins = notifying_twins(receiver.url, store=store)
    audit = StoreAuditLog(store, b"k" * 32)
    twins.gate = Gate(judge=twins.judge, approvals=NotifyingApprovals(
        StoreApprovals(store, audit=audit), store, twins.config, audit),
        safety_net=twins.safety, executor=twins.executor, audit=audit)
    approvals: list[str] = []
    looked = threading.Barrier(6, timeout=10)
    real = twins.store.list_approvals

    def all_look_first(**kwargs: Any) -> Any:  # every racer sees no approval yet: a true race
        found = real(**kwargs)
        if kwargs.get("digest") is not None and kwargs.get("status") is None:
            looked.wait()
        return found

    twins.store.list_approvals = all_look_first  # type: ignore[method-assign]

    def racer() -> None:
        approvals.append(hold(twins))

    threads = [threading.Thread(target=racer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(approvals)) == 1
    assert len(store.due_outbox((T0 + timedelta(hours=1)).isoformat())) == 1
    assert dispatcher(twins).run_once() == 1
    assert len(receiver.received) == 1


def test_a_broken_outbox_does_not_undo_the_hold(receiver: Receiver) -> None:
    twins = notifying_twins(receiver.url)

    def broken(item: Any) -> None:
        raise RuntimeError("disk full")

    twins.store.add_outbox = broken  # type: ignore[method-assign]
    apr = hold(twins)
    assert twins.store.get_approval(apr) is not None
    errors = [r for r in twins.audit.records if r.kind == "error"]
    assert errors and errors[0].data["step"] == "notify.enqueue"


# ---- getting there --------------------------------------------------------------------------

def test_failures_are_retried_with_backoff(receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    twins = notifying_twins(receiver.url)
    clock = Clock()
    d = dispatcher(twins, clock)
    hold(twins)
    assert d.run_once() == 0
    [item] = twins.store.due_outbox((T0 + timedelta(days=1)).isoformat())
    assert item.attempts == 1 and item.last_error == "HTTP 500 Internal Server Error"
    assert datetime.fromisoformat(item.due_at) == T0 + BACKOFF[0]
    assert "secret-path" not in item.last_error and "127.0.0.1" not in json.dumps(item.to_json())
    clock.now = T0 + BACKOFF[0] - timedelta(seconds=1)
    assert d.run_once() == 0 and len(receiver.received) == 1  # not due yet: not sent
    clock.now = T0 + BACKOFF[0]
    assert d.run_once() == 0 and len(receiver.received) == 2
    clock.now += BACKOFF[1]
    assert d.run_once() == 1 and len(receiver.received) == 3
    assert twins.store.due_outbox((T0 + timedelta(days=1)).isoformat()) == []


def test_gives_up_after_the_last_attempt_and_records_it() -> None:
    twins = notifying_twins("http://127.0.0.1:9/unreachable")  # nothing listens on port 9
    clock = Clock()
    d = dispatcher(twins, clock)
    apr = hold(twins)
    for _ in range(MAX_ATTEMPTS):
        d.run_once()
        clock.now += timedelta(hours=2)
    assert twins.store.due_outbox((clock.now + timedelta(days=1)).isoformat()) == []
    [failed] = [r for r in twins.audit.records if r.kind == "notification_failed"]
    assert failed.data["approval_id"] == apr and failed.data["attempts"] == MAX_ATTEMPTS
    assert "unreachable" not in str(failed.data)


def test_a_refusing_webhook_is_not_retried(receiver: Receiver) -> None:
    receiver.statuses = [404]
    twins = notifying_twins(receiver.url)
    hold(twins)
    dispatcher(twins).run_once()
    assert [r.data["error"] for r in twins.audit.records if r.kind == "notification_failed"] \
        == ["HTTP 404 Not Found"]


def test_outbox_survives_a_restart(receiver: Receiver, tmp_path: Path) -> None:
    receiver.statuses = [500]
    store = open_store(None, tmp_path)
    twins = notifying_twins(receiver.url, store=store)
    hold(twins)
    dispatcher(twins).run_once()  # fails once
    store.close()
    reopened = open_store(None, tmp_path)  # the service restarts
    d = Dispatcher(reopened, twins.config.approvals.webhooks, twins.audit,
                   "https://airlock.example", clock=lambda: T0 + timedelta(minutes=1))
    assert d.run_once() == 1 and len(receiver.received) == 2
    reopened.close()


def test_replicas_send_each_notification_once(receiver: Receiver) -> None:
    twins = notifying_twins(receiver.url)
    hold(twins)
    sending = threading.Event()
    release = threading.Event()

    def slow_send(url: str, payload: Any) -> None:
        sending.set()
        release.wait(5)
        httpx.post(url, json=payload)

    a = Dispatcher(twins.store, twins.config.approvals.webhooks, twins.audit, "https://x",
                   send=slow_send, clock=Clock())
    b = Dispatcher(twins.store, twins.config.approvals.webhooks, twins.audit, "https://x",
                   clock=Clock())
    worker = threading.Thread(target=a.run_once)
    worker.start()
    assert sending.wait(5)
    assert b.run_once() == 0  # a holds the claim while it sends
    release.set()
    worker.join(5)
    assert len(receiver.received) == 1
    assert isinstance(twins.store, MemoryStore)
    assert [i.status for i in twins.store.outbox.values()] == [OutboxStatus.DELIVERED]


def test_the_service_announces_holds_from_any_process(receiver: Receiver, tmp_path: Path) -> None:
    project = write_project(tmp_path, f"""
[[approvals.webhooks]]
url = "{receiver.url}"
format = "slack"
""")
    token = agent_token(project)
    server = start_server(project)
    try:
        held = httpx.post(f"{server.base}/v1/actions", headers={"Authorization": f"Bearer {token}"},
                          json={"kind": "sql", "input": "DROP TABLE users", "resource": "prod-db"}).json()
        # …and a hold made by another process on the same state (as an agent hook would)
        runtime = runtime_for(project)
        outcome = runtime.gate().submit(Action(ShellCommand("rm -rf /srv/data"), "agent", "hook"),
                                        caller())
        runtime.close()
        assert held["verdict"] == "hold" and outcome.status is Status.HELD
        deadline = time.monotonic() + 10
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        links = sorted(m["blocks"][2]["elements"][0]["url"] for m in receiver.received)
        assert links == sorted(f"{server.base}/console/approvals/{a}"
                               for a in (held["approval_id"], outcome.approval_id))
        assert receiver.paths == ["/hooks/T0/B0/secret-path"] * 2
    finally:
        server.stop()
    assert "secret-path" not in (project / "server.log").read_text()


# ---- after the hold: decisions, expiries, outcomes ------------------------------------------

def test_the_service_announces_decisions_and_outcomes_and_logs_each(
        receiver: Receiver, tmp_path: Path) -> None:
    project = write_project(tmp_path, f"""
[[approvals.webhooks]]
url = "{receiver.url}"
format = "json"
""")
    token = agent_token(project)
    alice = enrol_by_cli(project, "alice")
    server = start_server(project)
    auth = {"Authorization": f"Bearer {token}"}
    body = {"kind": "sql", "input": "DROP TABLE users -- postgresql://app:s3cr3t@db/app",
            "resource": "prod-db"}
    try:
        held = httpx.post(f"{server.base}/v1/actions", headers=auth, json=body).json()
        assert held["verdict"] == "hold", held
        approved = httpx.post(
            f"{server.base}/console/api/approvals/{held['approval_id']}/decision",
            json={"credential": alice.credential, "code": alice.code(), "decision": "approve",
                  "reason": "checked with the owner", "without_backup": True})
        assert approved.status_code == 200, approved.text
        ran = httpx.post(f"{server.base}/v1/actions", headers=auth, json=body).json()
        assert ran["verdict"] == "allow", ran
        deadline = time.monotonic() + 15
        while len(receiver.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.stop()
    events = {m["event"]: m for m in receiver.received}
    assert sorted(m["event"] for m in receiver.received) == [
        "approval.decided", "approval.outcome", "approval.requested"]
    decided, outcome = events["approval.decided"], events["approval.outcome"]
    assert decided["decision"] == "approved" and decided["by"] == "alice"
    assert decided["reason"] == "checked with the owner" and decided["status"] == "approved"
    assert decided["url"] == f"{server.base}/console/approvals/{held['approval_id']}"
    assert outcome["without_backup"] is True and "accepted by alice" in outcome["backup"]
    assert outcome["action_id"] == ran["action_id"]
    for message in receiver.received:
        text = json.dumps(message)
        assert "s3cr3t" not in text and alice.credential not in text
        assert "DROP TABLE" in text  # the summary, redacted
    # `airlock up` logged each hold and decision as one JSON line
    lines = [json.loads(line) for line in (project / "server.log").read_text().splitlines()
             if line.startswith("{")]
    kinds = [line["event"] for line in lines]
    assert kinds == ["hold", "approval.decided", "approval.outcome"], kinds
    assert all(line["approval_id"] == held["approval_id"] for line in lines)
    assert "s3cr3t" not in (project / "server.log").read_text()


def test_holds_nobody_decided_are_expired_and_announced(receiver: Receiver,
                                                        tmp_path: Path) -> None:
    project = write_project(tmp_path, f"""
[[approvals.webhooks]]
url = "{receiver.url}"
format = "slack"
""")
    runtime = runtime_for(project)
    try:
        outcome = runtime.gate().submit(Action(ShellCommand("rm -rf /srv/data"), "agent",
                                               "hook"), caller())
        assert outcome.status is Status.HELD and outcome.approval_id
        approval = runtime.store.get_approval(outcome.approval_id)
        assert approval is not None
        late = Clock()
        late.now = datetime.fromisoformat(approval.expires_at) + timedelta(seconds=1)
        early = Clock()
        early.now = datetime.fromisoformat(approval.requested_at)
        d = Dispatcher(runtime.store, runtime.config.approvals.webhooks, runtime.audit,
                       "https://airlock.example", clock=early, config=runtime.config)
        d.feed.begin()  # type: ignore[union-attr]
        d.run_once()
        assert [m["text"].split(":")[0] for m in receiver.received] == ["airlock"]
        d.clock = late
        d.feed.clock = late  # type: ignore[union-attr]
        d.run_once()
        again = Dispatcher(runtime.store, runtime.config.approvals.webhooks, runtime.audit,
                           "https://airlock.example", clock=late, config=runtime.config)
        again.run_once()  # another replica: nothing twice
    finally:
        runtime.close()
    assert len(receiver.received) == 2
    expired = receiver.received[1]["text"]
    assert "Nobody decided on agent's destructive action (rm -rf /srv/data) in time" in expired
    assert f"https://airlock.example/console/approvals/{outcome.approval_id}" in expired
    stored = runtime_for(project).store.get_approval(outcome.approval_id)
    assert stored is not None and stored.status.value == "expired"


def test_the_feed_passes_records_it_does_not_announce_without_reading_them() -> None:
    """A busy front writes thousands of records a poll; the feed reads only the kinds it
    announces, and its cursor moves past the rest (it does not read them again next time)."""
    from airlock.audit import AuditRecord, ChainHead, seal
    from airlock.notify import FEED_BATCH, FEED_CURSOR, EventFeed

    class Counting(MemoryStore):
        def __init__(self) -> None:
            super().__init__()
            self.kinds_asked: list[Any] = []

        def audit_records(self, after: int = 0, kinds: Any = None) -> Any:
            self.kinds_asked.append(kinds)
            return super().audit_records(after, kinds)

    store = Counting()
    feed = EventFeed(store, make_config(), clock=lambda: T0)
    feed.begin()
    key = b"k" * 32
    def action(n: int) -> Callable[[ChainHead | None], AuditRecord]:
        return lambda prev: seal(prev, "action", f"act_{n}", {"n": n}, key)

    for n in range(FEED_BATCH * 3):
        store.append_audit(action(n))
    assert feed.run_once() == 0
    assert store.get_meta(FEED_CURSOR) == str(FEED_BATCH * 3)
    assert store.kinds_asked and all(k is not None and "action" not in k
                                     for k in store.kinds_asked)
    assert feed.run_once() == 0  # nothing new: the cursor stays
    assert store.get_meta(FEED_CURSOR) == str(FEED_BATCH * 3)
