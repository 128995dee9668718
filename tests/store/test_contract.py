"""One contract, every store: the in-memory twin, SQLite, and a real PostgreSQL server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airlock.audit import AuditRecord, seal, verify_records
from airlock.errors import StoreError
from airlock.model import PrincipalKind, Risk, Scope
from airlock.store import ApprovalRecord, ApprovalStatus, Grant, Store, TokenRecord, open_store
from airlock.store.memory import MemoryStore
from tests.pgcluster import Cluster

KEY = b"k" * 32
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        s: Store = MemoryStore()
    elif request.param == "sqlite":
        s = open_store(None, tmp_path)
    else:
        url = request.getfixturevalue("pg_database")
        s = open_store(url, tmp_path)
    yield s
    s.close()


def token(n: int = 1, **changes: object) -> TokenRecord:
    base = TokenRecord(id=f"tok_{n:026d}", principal="agent", principal_kind=PrincipalKind.AGENT,
                       scope=Scope(("staging",), ("app-*",), Risk.WRITE, T0 + timedelta(hours=8)),
                       secret_hash="ab" * 32, created_at=(T0 + timedelta(seconds=n)).isoformat())
    return replace(base, **changes)  # type: ignore[arg-type]


def approval(n: int = 1, digest: str = "d1", **changes: object) -> ApprovalRecord:
    base = ApprovalRecord(id=f"apr_{n}", action_id=f"act_{n}", digest=digest, principal="agent",
                          summary="DROP TABLE users", risk=Risk.DESTRUCTIVE, approvals_required=2,
                          requested_at=(T0 + timedelta(seconds=n)).isoformat(),
                          expires_at=(T0 + timedelta(minutes=15)).isoformat(),
                          details={"plan": {"steps": []}, "ünïcode": "✓"})
    return replace(base, **changes)  # type: ignore[arg-type]


# ---- tokens ---------------------------------------------------------------------------------

def test_token_round_trip(store: Store) -> None:
    t = token()
    store.add_token(t)
    assert store.get_token(t.id) == t
    assert store.get_token("tok_missing") is None


def test_token_ids_are_unique(store: Store) -> None:
    store.add_token(token())
    with pytest.raises((StoreError, KeyError)):
        store.add_token(token())


def test_tokens_list_in_creation_order(store: Store) -> None:
    for n in (3, 1, 2):
        store.add_token(token(n))
    assert [t.id for t in store.list_tokens()] == [token(n).id for n in (1, 2, 3)]


def test_revoke_once(store: Store) -> None:
    store.add_token(token())
    assert store.revoke_token(token().id, "2026-11-26T13:00:00+00:00") is True
    assert store.revoke_token(token().id, "2026-11-26T14:00:00+00:00") is False
    stored = store.get_token(token().id)
    assert stored is not None and stored.revoked_at == "2026-11-26T13:00:00+00:00"
    assert store.revoke_token("tok_missing", "x") is False


# ---- approvals ------------------------------------------------------------------------------

def test_approval_round_trip(store: Store) -> None:
    a = approval()
    store.add_approval(a)
    assert store.get_approval(a.id) == a


def test_approvals_filter_by_status_and_digest(store: Store) -> None:
    store.add_approval(approval(1, "d1"))
    store.add_approval(approval(2, "d2"))
    store.add_approval(approval(3, "d1", status=ApprovalStatus.DENIED))
    assert [a.id for a in store.list_approvals(digest="d1")] == ["apr_3", "apr_1"]
    assert [a.id for a in store.list_approvals(status=ApprovalStatus.PENDING)] == ["apr_2", "apr_1"]
    assert [a.id for a in store.list_approvals(status=ApprovalStatus.PENDING, digest="d1")] == ["apr_1"]
    assert len(store.list_approvals(limit=1)) == 1


def test_approval_update_is_compare_and_set(store: Store) -> None:
    a = approval()
    store.add_approval(a)
    first = a.next_version(grants=(Grant("alice", T0.isoformat()),))
    competing = a.next_version(grants=(Grant("bob", T0.isoformat()),))
    assert store.update_approval(first) is True
    assert store.update_approval(competing) is False  # based on a stale version
    assert store.get_approval(a.id) == first
    assert store.update_approval(replace(first, version=5)) is False  # skipping versions fails


def test_only_one_of_many_concurrent_redeemers_wins(store: Store) -> None:
    a = approval(status=ApprovalStatus.APPROVED)
    store.add_approval(a)
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def redeem(i: int) -> None:
        barrier.wait()
        wins.append(store.update_approval(a.next_version(status=ApprovalStatus.USED,
                                                         used_by_action=f"act_{i}")))

    threads = [threading.Thread(target=redeem, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1


# ---- audit ----------------------------------------------------------------------------------

def append(store: Store, kind: str, data: dict[str, object]) -> AuditRecord:
    return store.append_audit(lambda prev: seal(prev, kind, "act_1", data, KEY))


def test_audit_chain_appends_in_order(store: Store) -> None:
    records = [append(store, "action", {"n": n, "text": "DROP TABLE \"ü\"; -- ?"}) for n in range(5)]
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    read = list(store.audit_records())
    assert read == records
    assert verify_records(read, KEY).ok
    assert [r.seq for r in store.audit_records(after=3)] == [4, 5]


def test_audit_pages_through_long_logs(store: Store) -> None:
    for n in range(1205):
        append(store, "action", {"n": n})
    read = list(store.audit_records())
    assert len(read) == 1205 and read[-1].seq == 1205
    assert verify_records(read, KEY).ok


def test_concurrent_appends_never_fork_the_chain(store: Store) -> None:
    def writer(w: int) -> None:
        for n in range(20):
            append(store, "action", {"writer": w, "n": n})

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    read = list(store.audit_records())
    assert len(read) == 80
    assert verify_records(read, KEY).ok


def test_failed_append_leaves_no_record(store: Store) -> None:
    append(store, "action", {"n": 1})

    def broken(prev: AuditRecord | None) -> AuditRecord:
        raise RuntimeError("sealing failed")

    with pytest.raises(RuntimeError):
        store.append_audit(broken)
    assert [r.seq for r in store.audit_records()] == [1]
    assert append(store, "action", {"n": 2}).seq == 2


# ---- backend specifics ----------------------------------------------------------------------

def test_sqlite_audit_table_is_append_only(tmp_path: Path) -> None:
    s = open_store(None, tmp_path)
    append(s, "action", {})
    import sqlite3

    conn = sqlite3.connect(tmp_path / "state.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit SET kind = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit")
    conn.close()
    s.close()


def test_sqlite_state_is_private(tmp_path: Path) -> None:
    s = open_store(None, tmp_path / "state")
    s.close()
    assert (tmp_path / "state" / "state.db").stat().st_mode & 0o077 == 0
    assert (tmp_path / "state").stat().st_mode & 0o077 == 0


def test_two_sqlite_handles_share_one_chain(tmp_path: Path) -> None:
    a, b = open_store(None, tmp_path), open_store(None, tmp_path)
    for n in range(10):
        append(a if n % 2 else b, "action", {"n": n})
    assert verify_records(list(a.audit_records()), KEY).ok
    assert len(list(b.audit_records())) == 10
    a.close()
    b.close()


@pytest.mark.postgres
def test_postgres_replicas_share_one_chain(pg_cluster: Cluster, pg_database: str,
                                           tmp_path: Path) -> None:
    replicas = [open_store(pg_database, tmp_path) for _ in range(3)]

    def writer(s: Store) -> None:
        for n in range(15):
            append(s, "action", {"n": n})

    threads = [threading.Thread(target=writer, args=(s,)) for s in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    read = list(replicas[0].audit_records())
    assert len(read) == 45 and verify_records(read, KEY).ok
    import psycopg

    with psycopg.connect(pg_database) as conn:
        for statement in ("UPDATE audit SET kind = 'x'", "DELETE FROM audit", "TRUNCATE audit"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
            conn.rollback()
    for s in replicas:
        s.close()


def test_unreachable_postgres_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot connect") as info:
        open_store("postgresql://airlock:s3cret@127.0.0.1:1/airlock", tmp_path)
    assert "s3cret" not in str(info.value)
