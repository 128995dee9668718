"""The records of one submission are written in one transaction, before its answer; concurrent
submissions share commits (group commit) without mixing or losing records."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from airlock.audit import AuditRecord, ChainHead, StoreAuditLog, verify_records
from airlock.errors import StoreError
from airlock.execute import Release
from airlock.model import Action, Status
from airlock.store.memory import MemoryStore
from airlock.store.records import ApprovalRecord
from airlock.store.sqlite import SqliteStore
from tests.factories import Twins, action, caller

KEY = b"k" * 32


class CountingStore(MemoryStore):
    """A store that counts write transactions of the audit log (and can be slow or broken)."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.transactions = 0
        self.synced: list[bool] = []  # per audit transaction: was its commit synced
        self.delay = delay
        self.broken = False

    def append_audit_many(self, make: Callable[[ChainHead | None], Sequence[AuditRecord]], *,
                          approvals: Sequence[ApprovalRecord] = (), sync: bool = True
                          ) -> list[AuditRecord]:
        if self.broken:
            raise StoreError("the state database is unavailable")
        time.sleep(self.delay)
        self.transactions += 1
        self.synced.append(sync)
        return super().append_audit_many(make, approvals=approvals, sync=sync)


def test_a_group_is_written_once_when_it_closes() -> None:
    store = CountingStore()
    log = StoreAuditLog(store, KEY)
    with log.group():
        assert log.record("action", "a1", {"n": 1}) is None
        log.record("decision", "a1", {"n": 2})
        with log.group():  # nested groups join the outer one
            log.record("outcome", "a1", {"n": 3})
        assert store.transactions == 0 and not store.audit
    assert store.transactions == 1
    assert [r.kind for r in store.audit] == ["action", "decision", "outcome"]
    assert verify_records(store.audit, KEY).ok


def test_flush_writes_what_is_pending_now() -> None:
    store = CountingStore()
    log = StoreAuditLog(store, KEY)
    with log.group():
        log.record("action", "a1", {})
        log.flush()
        assert [r.kind for r in store.audit] == ["action"]
        log.record("outcome", "a1", {})
    assert store.transactions == 2 and verify_records(store.audit, KEY).ok


def test_a_group_is_written_even_when_its_body_fails() -> None:
    store = CountingStore()
    log = StoreAuditLog(store, KEY)

    def failing() -> None:
        with log.group():
            log.record("action", "a1", {})
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        failing()
    assert [r.kind for r in store.audit] == ["action"]


def test_data_is_frozen_when_recorded() -> None:
    store = CountingStore()
    log = StoreAuditLog(store, KEY)
    data = {"n": 1}
    with log.group():
        log.record("action", "a1", data)
        data["n"] = 2
    assert store.audit[0].data == {"n": 1}


def test_unserialisable_data_fails_at_record_time() -> None:
    log = StoreAuditLog(CountingStore(), KEY)
    with log.group(), pytest.raises(TypeError):
        log.record("action", "a1", {"x": object()})


def test_an_allowed_submission_is_one_write_transaction() -> None:
    twins = Twins(executor=Release())  # the hooks' executor: the harness runs it
    store = CountingStore()
    twins.gate.audit = StoreAuditLog(store, KEY)
    outcome = twins.gate.submit(action("ls"), caller())
    assert outcome.status is Status.ALLOWED
    assert store.transactions == 1
    assert [r.kind for r in store.audit] == ["action", "decision", "outcome"]


def test_a_performing_executor_finds_the_records_durable_before_it_runs() -> None:
    store = CountingStore()
    seen: list[list[str]] = []

    def run(_action: Action) -> dict[str, bool]:
        seen.append([r.kind for r in store.audit])
        return {"ok": True}

    twins = Twins(execute=run)
    twins.gate.audit = StoreAuditLog(store, KEY)
    twins.gate.submit(action("ls"), caller())
    assert seen == [["action", "decision"]]
    assert [r.kind for r in store.audit] == ["action", "decision", "outcome"]


def test_a_log_that_cannot_be_written_denies() -> None:
    twins = Twins()
    store = CountingStore()
    store.broken = True
    twins.gate.audit = StoreAuditLog(store, KEY)
    outcome = twins.gate.submit(action("ls"), caller())
    assert outcome.status is Status.DENIED and "denied to be safe" in outcome.reason
    assert twins.executed == [] and store.audit == []
    both = twins.gate.submit_all([action("ls"), action("pwd")], caller())
    assert [o.status for _, o in both] == [Status.DENIED]


def test_a_batch_is_one_write_transaction() -> None:
    twins = Twins(executor=Release())
    store = CountingStore()
    twins.gate.audit = StoreAuditLog(store, KEY)
    done = twins.gate.submit_all([action("ls"), action("pwd")], caller())
    assert [o.status for _, o in done] == [Status.ALLOWED, Status.ALLOWED]
    assert store.transactions == 1 and len(store.audit) == 6


def test_concurrent_groups_share_commits_and_stay_whole() -> None:
    store = CountingStore(delay=0.05)  # a slow commit: others queue behind it
    log = StoreAuditLog(store, KEY)
    start = threading.Barrier(8)

    def submit(n: int) -> None:
        start.wait()
        with log.group():
            for step in ("action", "decision", "outcome"):
                log.record(step, f"a{n}", {"n": n})

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.audit) == 24 and verify_records(store.audit, KEY).ok
    assert store.transactions < 8  # some shared a commit
    for n in range(8):  # each submission's records are contiguous and in order
        mine = [i for i, r in enumerate(store.audit) if r.action_id == f"a{n}"]
        assert mine == list(range(mine[0], mine[0] + 3))
        assert [store.audit[i].kind for i in mine] == ["action", "decision", "outcome"]


def test_every_waiter_of_a_failed_commit_fails() -> None:
    store = CountingStore(delay=0.05)
    log = StoreAuditLog(store, KEY)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def submit() -> None:
        start.wait()
        try:
            log.record("action", None, {})
        except Exception as exc:
            errors.append(exc)

    store.broken = True
    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 4 and store.audit == []


def test_sqlite_groups_verify(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    log = StoreAuditLog(store, KEY)
    for n in range(3):
        with log.group():
            log.record("action", f"a{n}", {"n": n})
            log.record("outcome", f"a{n}", {"n": n})
    assert verify_records(store.audit_records(), KEY).ok
    assert [r.seq for r in store.audit_records()] == list(range(1, 7))
