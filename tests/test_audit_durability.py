"""How durable each audit commit is (docs/architecture.md, "Audit durability"): a routine allowed
call is committed without a sync — it survives a crash of airlock, not a power loss, until the
next synced commit — and everything else (a hold with its approval, a deny, a backup, an error)
is one synced commit before the answer. Anchors name only synced records."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airlock.anchors import AnchorWriter
from airlock.approvals import StoreApprovals
from airlock.audit import StoreAuditLog, _Entry, needs_sync, verify_records
from airlock.classify import FixedClassifier
from airlock.execute import Release
from airlock.model import Risk, Status, Target
from airlock.store.memory import MemoryStore
from airlock.store.sqlite import SqliteStore
from airlock.vault.stores.local import LocalStore
from tests.factories import Twins, action, assessment, caller, effect
from tests.test_audit_groups import CountingStore

KEY = b"k" * 32
STAGING_DB = Target("postgres", "db.staging.internal:5432/app")
ROOT = Path(__file__).resolve().parents[1]


def gate_over(store: Any, risk: Risk, target: Target | None = None) -> Twins:
    """A gate as a hook front has it: nothing executed (the harness runs the call), the audit
    log and the approvals over the same store."""
    twins = Twins(classifier=FixedClassifier(assessment(effect(risk, target))), executor=Release())
    log = StoreAuditLog(store, KEY)
    twins.gate.audit = log
    twins.gate.approvals = StoreApprovals(store, audit=log)
    return twins


def test_an_allowed_read_is_one_commit_without_a_sync() -> None:
    store = CountingStore()
    outcome = gate_over(store, Risk.READ).gate.submit(action("ls"), caller())
    assert outcome.status is Status.ALLOWED
    assert store.synced == [False]
    assert [r.kind for r in store.audit] == ["action", "decision", "outcome"]


def test_a_held_call_is_one_synced_commit_with_its_approval() -> None:
    store = CountingStore()
    gate = gate_over(store, Risk.DESTRUCTIVE, STAGING_DB).gate
    outcome = gate.submit(action("drop table t"), caller())
    assert outcome.status is Status.HELD and outcome.approval_id
    assert store.synced == [True]  # the approval row and every record: one transaction
    assert list(store.approvals) == [outcome.approval_id]
    assert "held" in [r.kind for r in store.audit]
    again = gate.submit(action("drop table t"), caller())  # the same call finds its approval
    assert again.approval_id == outcome.approval_id and len(store.approvals) == 1
    assert store.synced == [True, True]


def test_a_held_call_whose_commit_fails_leaves_no_approval_behind() -> None:
    store = CountingStore()
    store.broken = True
    outcome = gate_over(store, Risk.DESTRUCTIVE, STAGING_DB).gate.submit(action("drop"), caller())
    assert outcome.status is Status.DENIED
    assert store.approvals == {} and store.audit == []


def _entries(*records: tuple[str, dict[str, Any]]) -> list[_Entry]:
    return [_Entry.of(kind, "a1", data) for kind, data in records]


ALLOW = {"risk": "read", "decision": {"verdict": "allow", "snapshot_required": False}}
ALLOWED = {"status": "allowed", "snapshots": []}


@pytest.mark.parametrize(("records", "synced"), [
    ([("action", {}), ("decision", ALLOW), ("outcome", ALLOWED)], False),
    ([("action", {}), ("decision", ALLOW | {"risk": "write"}), ("outcome", ALLOWED)], False),
    # anything else is synced
    ([("action", {}), ("decision", ALLOW | {"risk": "destructive"}), ("outcome", ALLOWED)], True),
    ([("action", {}), ("decision", ALLOW | {"risk": "unknown"}), ("outcome", ALLOWED)], True),
    ([("action", {}), ("decision", {"risk": "read", "decision": {"verdict": "deny"}}),
      ("outcome", {"status": "denied"})], True),
    ([("action", {}), ("decision", ALLOW | {"decision": {"verdict": "allow",
                                                         "snapshot_required": True}}),
      ("outcome", ALLOWED)], True),
    ([("action", {}), ("decision", ALLOW), ("outcome", {"status": "executed"})], True),
    ([("action", {}), ("decision", ALLOW), ("outcome", ALLOWED | {"snapshots": ["s1"]})], True),
    ([("action", {}), ("decision", ALLOW)], True),  # flushed before a backup or a run
    ([("action", {}), ("decision", ALLOW), ("error", {}), ("outcome", ALLOWED)], True),
    ([("approved", {})], True),
    ([("something-new", {})], True),
    ([("action", {}), ("decision", {}), ("outcome", ALLOWED)], True),  # no verdict: not routine
    # data of other shapes than the gate writes: synced (the facts are read without failing)
    ([("action", {}), ("decision", {"risk": "read", "decision": "allow"}), ("outcome", ALLOWED)],
     True),
    ([("action", {}), ("decision", ALLOW | {"risk": ["read"]}), ("outcome", ALLOWED)], True),
    ([("action", {}), ("decision", ALLOW | {"decision": {"verdict": "allow"}}),
      ("outcome", ALLOWED)], True),  # snapshot_required must be False, not missing
    ([("action", {}), ("decision", ALLOW), ("outcome", {"status": "allowed"})], False),
    ([("action", {}), ("decision", ALLOW), ("outcome", ALLOWED | {"snapshots": {"s": 1}})], True),
    ([("action", {}), ("action", {}), ("decision", ALLOW), ("outcome", ALLOWED),
      ("decision", ALLOW), ("outcome", ALLOWED)], False),  # two calls in one group commit
    ([("action", {}), ("decision", ALLOW), ("outcome", ALLOWED), ("held", {})], True),
    ([("action", {})], True),  # nothing let through yet
])
def test_only_routine_allowed_calls_skip_the_sync(records: list[tuple[str, dict[str, Any]]],
                                                  synced: bool) -> None:
    assert needs_sync(_entries(*records)) is synced


class _Commits:
    """Stands in for the store's SQLite connection and notes, at each commit that wrote
    something, the `PRAGMA synchronous` it commits under (2 = FULL: the log is fsynced at
    commit; 1 = NORMAL: it is not)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._changes = conn.total_changes
        self.levels: list[int] = []

    def commit(self) -> None:
        level = self._conn.execute("PRAGMA synchronous").fetchone()[0]
        self._conn.commit()
        if self._conn.total_changes != self._changes:
            self._changes = self._conn.total_changes
            self.levels.append(int(level))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> tuple[SqliteStore, _Commits]:
    store = SqliteStore(tmp_path / "state.db")
    commits = _Commits(store._conn)
    store._conn = commits  # type: ignore[assignment]
    return store, commits


def test_sqlite_commits_a_routine_call_unsynced_and_everything_else_synced(
        sqlite_store: tuple[SqliteStore, _Commits]) -> None:
    store, commits = sqlite_store
    allowed = gate_over(store, Risk.READ).gate.submit(action("ls"), caller())
    assert allowed.status is Status.ALLOWED
    assert commits.levels == [1]
    held = gate_over(store, Risk.DESTRUCTIVE, STAGING_DB).gate.submit(action("drop"), caller())
    assert held.status is Status.HELD
    assert commits.levels == [1, 2]  # hold row and records: one commit, synced
    assert store.get_approval(str(held.approval_id)) is not None
    store.put_meta("k", "v", expected=None)  # every other write stays synced
    assert commits.levels == [1, 2, 2]
    assert verify_records(store.audit_records(), KEY).ok


def test_a_read_leaves_the_sqlite_sync_level_alone(tmp_path: Path) -> None:
    """Only a write chooses FULL or NORMAL: a read commits nothing, so the API proxy's token
    read between two relaxed audit appends costs no `PRAGMA synchronous` either way."""
    store = SqliteStore(tmp_path / "state.db")
    statements: list[str] = []
    try:
        gate_over(store, Risk.READ).gate.submit(action("ls"), caller())  # relaxed: NORMAL
        store._conn.set_trace_callback(statements.append)
        assert store.get_token("tok_missing") is None
        assert store.audit_head() is not None
        assert not any("synchronous" in s for s in statements)
        gate_over(store, Risk.READ).gate.submit(action("ls"), caller())  # still NORMAL
        assert not any("synchronous" in s for s in statements)
        store.put_meta("k", "v", expected=None)  # a synced write switches back to FULL
        assert [s for s in statements if "synchronous" in s] == ["PRAGMA synchronous = FULL"]
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    finally:
        store._conn.set_trace_callback(None)
        store.close()


def test_a_crash_right_after_an_allowed_answer_loses_no_record(tmp_path: Path) -> None:
    """SIGKILL the process that answered, the moment it answered: its unsynced commit is in
    the database's log, which the OS keeps; a new process reads every record."""
    path = tmp_path / "state.db"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from airlock.store.sqlite import SqliteStore
        from airlock.model import Risk
        from tests.factories import action, caller
        from tests.test_audit_durability import gate_over
        store = SqliteStore(__import__("pathlib").Path({str(path)!r}))
        for n in range(3):
            outcome = gate_over(store, Risk.READ).gate.submit(action(f"ls {{n}}"), caller())
            print(outcome.status.value, flush=True)
        time.sleep(60)
    """)
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                          cwd=ROOT) as proc:
        try:
            assert proc.stdout is not None
            answers = [proc.stdout.readline().decode().strip() for _ in range(3)]
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(timeout=10)
    assert answers == ["allowed"] * 3
    store = SqliteStore(path)
    records = list(store.audit_records())
    store.close()
    assert [r.kind for r in records] == ["action", "decision", "outcome"] * 3
    assert verify_records(records, KEY).ok


class _SyncingStore(MemoryStore):
    def __init__(self, vault: Path) -> None:
        super().__init__()
        self.vault = vault
        self.anchors_at_sync: list[int] = []

    def sync(self) -> None:
        self.anchors_at_sync.append(sum(1 for p in self.vault.rglob("*") if p.is_file()))


def test_the_head_is_synced_before_it_is_anchored(tmp_path: Path) -> None:
    store = _SyncingStore(tmp_path / "vault")
    log = StoreAuditLog(store, KEY)
    heard: list[int] = []
    log.on_record = lambda record: heard.append(record.seq)
    with log.group():  # a routine call: written unsynced, and the anchor writer is not poked
        log.record("action", "a1", {})
        log.record("decision", "a1", ALLOW)
        log.record("outcome", "a1", ALLOWED)
    assert heard == []
    log.record("held", "a2", {})  # synced: heard of
    assert heard == [4]
    writer = AnchorWriter(store, lambda: LocalStore(tmp_path / "vault"), KEY,
                          retention=timedelta(days=1))
    anchor = writer.tick()
    assert anchor is not None and anchor.seq == 4
    assert store.anchors_at_sync == [0]  # synced once, before anything went to the vault
    assert json.loads(str(store.get_meta("audit_anchor") or "{}")).get("seq", 4) == 4


def test_postgres_relaxes_only_the_routine_commit(pg_database: str) -> None:
    from airlock.store.postgres import PostgresStore

    store = PostgresStore(pg_database)
    try:
        # the test cluster may run with it off for speed: a production server has it on
        store._connection().execute("SET synchronous_commit = on")
        store._connection().commit()
        settings = []
        for sync in (False, True):
            with store._transaction(sync=sync) as cur:
                cur.execute("SELECT current_setting('synchronous_commit')")
                settings.append(cur.fetchone()[0])
        assert settings == ["off", "on"]  # SET LOCAL: that transaction only
        store.sync()
    finally:
        store.close()
