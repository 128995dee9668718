"""One contract, every store: the in-memory twin, SQLite, and a real PostgreSQL server."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airlock.audit import AuditRecord, ChainHead, seal, verify_records
from airlock.errors import StoreError
from airlock.model import PrincipalKind, Risk, Scope
from airlock.store import (
    ApprovalRecord,
    ApprovalStatus,
    ApproverRecord,
    DeferredRecord,
    DeferredStatus,
    Grant,
    OutboxItem,
    OutboxStatus,
    SnapshotRecord,
    Store,
    TokenRecord,
    open_store,
)
from airlock.store.sqlstore import SCHEMA_VERSION
from tests.pgcluster import Cluster

KEY = b"k" * 32
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


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


def test_token_keeps_its_scram_verifier(store: Store) -> None:
    from dataclasses import replace

    with_verifier = replace(token(7), scram="SCRAM-SHA-256$4096:c2FsdA==$a2V5:a2V5")
    store.add_token(with_verifier)
    assert store.get_token(with_verifier.id) == with_verifier
    assert store.list_tokens() == [with_verifier]


def test_token_ids_are_unique(store: Store) -> None:
    store.add_token(token())
    with pytest.raises((StoreError, KeyError)):
        store.add_token(token())


def test_tokens_list_in_creation_order(store: Store) -> None:
    for n in (3, 1, 2):
        store.add_token(token(n))
    assert [t.id for t in store.list_tokens()] == [token(n).id for n in (1, 2, 3)]


def test_aws_key_round_trip_and_unique(store: Store) -> None:
    from airlock.store import AwsKeyRecord

    key = AwsKeyRecord("ALKA" + "X" * 16, token().id, "sealed-box", "2026-11-26T12:00:00+00:00")
    store.add_aws_key(key)
    assert store.get_aws_key(key.access_key_id) == key
    assert store.get_aws_key("ALKAMISSING") is None
    with pytest.raises((StoreError, KeyError)):
        store.add_aws_key(key)


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


def test_an_approval_added_once_keeps_the_first_of_its_id(store: Store) -> None:
    first = approval(1)
    assert store.add_approval_once(first) == first
    racer = approval(1, action_id="act_racer", requested_at=(T0 + timedelta(seconds=9)).isoformat())
    assert store.add_approval_once(racer) == first  # the stored one, not the racer's
    assert store.list_approvals(digest="d1") == [first]
    with pytest.raises((StoreError, KeyError)):
        store.add_approval(racer)  # a plain add still refuses a taken id


def test_concurrent_adds_of_one_approval_id_store_one(store: Store) -> None:
    barrier = threading.Barrier(8)
    got: list[ApprovalRecord] = []

    def add(i: int) -> None:
        barrier.wait()
        got.append(store.add_approval_once(approval(1, action_id=f"act_{i}")))

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and len({a.action_id for a in got}) == 1  # all see the one stored
    assert [a.id for a in store.list_approvals(digest="d1")] == ["apr_1"]


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


# ---- approvers ------------------------------------------------------------------------------

def approver(name: str = "alice", **changes: object) -> ApproverRecord:
    base = ApproverRecord(name=name, credential_hash="cd" * 32, seed_box="sealed-ünïcode",
                          created_at=T0.isoformat())
    return replace(base, **changes)  # type: ignore[arg-type]


def test_approver_round_trip_and_listing(store: Store) -> None:
    store.add_approver(approver("bob"))
    store.add_approver(approver("alice", last_step=7, locked_until=T0.isoformat()))
    assert store.get_approver("alice") == approver("alice", last_step=7,
                                                   locked_until=T0.isoformat())
    assert [a.name for a in store.list_approvers()] == ["alice", "bob"]
    assert store.get_approver("carol") is None


def test_approver_names_are_unique(store: Store) -> None:
    store.add_approver(approver())
    with pytest.raises((StoreError, KeyError)):
        store.add_approver(approver())


def test_approver_update_is_compare_and_set(store: Store) -> None:
    a = approver()
    store.add_approver(a)
    first = a.next_version(last_step=100)
    replayed = a.next_version(last_step=100)  # the same code presented twice at once
    assert store.update_approver(first) is True
    assert store.update_approver(replayed) is False
    assert store.get_approver("alice") == first
    assert store.update_approver(approver("nobody", version=2)) is False


def test_only_one_of_many_concurrent_code_uses_wins(store: Store) -> None:
    a = approver()
    store.add_approver(a)
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def use_code() -> None:
        barrier.wait()
        wins.append(store.update_approver(a.next_version(last_step=42)))

    threads = [threading.Thread(target=use_code) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1


def test_remove_approver(store: Store) -> None:
    store.add_approver(approver())
    assert store.remove_approver("alice") is True
    assert store.remove_approver("alice") is False
    assert store.get_approver("alice") is None


# ---- notification outbox --------------------------------------------------------------------

def outbox_item(n: int = 1, due: int = 0, **changes: object) -> OutboxItem:
    base = OutboxItem(id=f"ntf_{n}", channel="hook1", event="approval.requested",
                      payload={"approval": {"id": f"apr_{n}", "summary": "DROP TABLE ✓"}},
                      created_at=T0.isoformat(),
                      due_at=(T0 + timedelta(seconds=due)).isoformat())
    return replace(base, **changes)  # type: ignore[arg-type]


def test_outbox_returns_due_pending_items_oldest_first(store: Store) -> None:
    store.add_outbox(outbox_item(1, due=30))
    store.add_outbox(outbox_item(2, due=10))
    store.add_outbox(outbox_item(3, due=60))
    store.add_outbox(outbox_item(4, due=0, status=OutboxStatus.DELIVERED))
    due = store.due_outbox((T0 + timedelta(seconds=30)).isoformat())
    assert [i.id for i in due] == ["ntf_2", "ntf_1"]
    assert due[1] == outbox_item(1, due=30)
    assert len(store.due_outbox((T0 + timedelta(hours=1)).isoformat(), limit=1)) == 1


def test_an_outbox_item_whose_id_is_queued_is_not_queued_again(store: Store) -> None:
    store.add_outbox(outbox_item(1, due=10))
    store.add_outbox(outbox_item(1, due=0, payload={"again": True}))  # the same id: the first
    due = store.due_outbox((T0 + timedelta(hours=1)).isoformat())
    assert due == [outbox_item(1, due=10)]


def test_outbox_update_is_compare_and_set(store: Store) -> None:
    item = outbox_item()
    store.add_outbox(item)
    claimed = item.next_version(attempts=1, due_at=(T0 + timedelta(minutes=1)).isoformat())
    assert store.update_outbox(claimed) is True
    assert store.update_outbox(item.next_version(attempts=1)) is False  # another replica, late
    assert store.due_outbox(T0.isoformat()) == []
    done = claimed.next_version(status=OutboxStatus.DELIVERED, delivered_at=T0.isoformat())
    assert store.update_outbox(done) is True
    assert store.due_outbox((T0 + timedelta(days=1)).isoformat()) == []


# ---- vault snapshot catalog -----------------------------------------------------------------

def snapshot(n: int = 1, resource: str = "app-db", action: str | None = "act_1",
             **changes: object) -> SnapshotRecord:
    base = SnapshotRecord(id=f"snap_{n}", kind="postgres-table", resource=resource,
                          environment="production",
                          created_at=(T0 + timedelta(seconds=n)).isoformat(), size=1234 * n,
                          digest="ef" * 32, location="/vault", action_id=action,
                          retain_until=(T0 + timedelta(days=30)).isoformat(),
                          summary="table public.users ✓")
    return replace(base, **changes)  # type: ignore[arg-type]


def test_snapshot_catalog_round_trip_and_filters(store: Store) -> None:
    store.add_snapshot(snapshot(1))
    store.add_snapshot(snapshot(2, resource="other", action="act_2"))
    store.add_snapshot(snapshot(3, action=None))
    assert store.get_snapshot("snap_1") == snapshot(1)
    assert store.get_snapshot("snap_missing") is None
    assert [s.id for s in store.list_snapshots()] == ["snap_3", "snap_2", "snap_1"]
    assert [s.id for s in store.list_snapshots(resource="app-db")] == ["snap_3", "snap_1"]
    assert [s.id for s in store.list_snapshots(action_id="act_2")] == ["snap_2"]
    assert len(store.list_snapshots(limit=1)) == 1
    with pytest.raises((StoreError, KeyError)):
        store.add_snapshot(snapshot(1))


def test_snapshot_verification_is_recorded(store: Store) -> None:
    store.add_snapshot(snapshot(1))
    checked = snapshot(1, last_verified_at=T0.isoformat(), verify_problem="data: digest differs")
    assert store.update_snapshot(checked) is True
    assert store.get_snapshot("snap_1") == checked
    assert store.update_snapshot(snapshot(9)) is False


# ---- deferred destructive calls ---------------------------------------------------------------

def deferred(n: int = 1, due: int = 0, **changes: object) -> DeferredRecord:
    base = DeferredRecord(id=f"def_{n}", action_id=f"act_{n}", principal="agent",
                          resource="railway", target="railway:volume:vol-1",
                          summary="POST https://backboard.railway.app/graphql/v2",
                          content={"kind": "http", "body": "volumeDelete ✓"},
                          context={"cwd": None}, digest="ab" * 32, created_at=T0.isoformat(),
                          due_at=(T0 + timedelta(hours=48, seconds=due)).isoformat())
    return replace(base, **changes)  # type: ignore[arg-type]


def test_deferred_round_trip_and_order(store: Store) -> None:
    store.add_deferred(deferred(1, due=30))
    store.add_deferred(deferred(2, due=10))
    store.add_deferred(deferred(3, due=0, status=DeferredStatus.CANCELLED))
    assert store.get_deferred("def_1") == deferred(1, due=30)
    assert [d.id for d in store.list_deferred()] == ["def_3", "def_2", "def_1"]
    assert [d.id for d in store.list_deferred(status=DeferredStatus.PENDING)] == ["def_2", "def_1"]
    assert store.get_deferred("def_missing") is None


def test_deferred_cancel_and_execute_cannot_both_win(store: Store) -> None:
    d = deferred()
    store.add_deferred(d)
    cancel = d.next_version(status=DeferredStatus.CANCELLED, decided_by="alice")
    execute = d.next_version(status=DeferredStatus.EXECUTED)
    assert store.update_deferred(cancel) is True
    assert store.update_deferred(execute) is False
    assert store.get_deferred(d.id) == cancel


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


def test_audit_records_of_one_kind_are_filtered_by_the_store(store: Store) -> None:
    kinds = ["action", "drill", "decision", "drill", "action", "drill"]
    for n, kind in enumerate(kinds):
        append(store, kind, {"n": n})
    drills = list(store.audit_records(kinds=("drill",)))
    assert [r.seq for r in drills] == [2, 4, 6]
    assert all(r.kind == "drill" for r in drills)
    assert [r.seq for r in store.audit_records(after=2, kinds=["drill"])] == [4, 6]
    assert list(store.audit_records(kinds={"no such kind"})) == []
    assert list(store.audit_records(kinds=())) == []
    assert [r.seq for r in store.audit_records(kinds=("decision", "drill"))] == [2, 3, 4, 6]


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


def test_an_append_is_given_the_heads_place_and_hash(store: Store) -> None:
    seen: list[ChainHead | None] = []

    def make(prev: ChainHead | None) -> AuditRecord:
        seen.append(prev)
        return seal(prev, "action", "act_1", {"n": len(seen)}, KEY)

    first = store.append_audit(make)
    second = store.append_audit(make)
    assert seen[0] is None
    assert seen[1] is not None and (seen[1].seq, seen[1].hash) == (first.seq, first.hash)
    assert (second.seq, second.prev) == (2, first.hash)
    assert verify_records(store.audit_records(), KEY).ok


def test_failed_append_leaves_no_record(store: Store) -> None:
    append(store, "action", {"n": 1})

    def broken(prev: ChainHead | None) -> AuditRecord:
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


def test_schema_1_deferred_calls_lose_their_credentials_on_upgrade(
        request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Rows stored before schema 2 kept the agent's headers (masked or whole): opening the
    state rewrites them, on SQLite and PostgreSQL alike."""
    for backend in ("sqlite", "postgres"):
        if backend == "sqlite":
            url = f"sqlite:{tmp_path / 'old.db'}"
        else:
            url = request.getfixturevalue("pg_database")
        store = open_store(url, tmp_path)
        old = deferred(7, content={"kind": "http", "method": "DELETE", "url": "https://x/a",
                                   "headers": [["authorization", "Bearer agent-secret-7"],
                                               ["x-api-key", "***"], ["accept", "json"]]},
                       summary="DELETE https://u:pw-7@x/a")
        store.add_deferred(old)
        assert store.put_meta("schema_version", "1", expected=str(SCHEMA_VERSION))
        store.close()
        upgraded = open_store(url, tmp_path)
        try:
            record = upgraded.get_deferred(old.id)
            assert record is not None
            assert record.content["headers"] == [["accept", "json"]]
            assert "pw-7" not in record.summary
            assert upgraded.get_meta("schema_version") == str(SCHEMA_VERSION)
        finally:
            upgraded.close()


def test_meta_is_compare_and_set(store: Store) -> None:
    assert store.get_meta("vault_identity") is None
    assert store.put_meta("vault_identity", "a", expected=None)
    assert not store.put_meta("vault_identity", "b", expected=None)  # someone set it first
    assert not store.put_meta("vault_identity", "b", expected="x")
    assert store.put_meta("vault_identity", "b", expected="a")
    assert store.get_meta("vault_identity") == "b"


def test_audit_head_is_the_newest_record(store: Store) -> None:
    assert store.audit_head() is None
    append(store, "one", {})
    second = append(store, "two", {})
    assert store.audit_head() == second


def test_a_healthy_store_checks_clean(store: Store) -> None:
    assert store.check() == []


def test_an_audit_append_adds_its_approvals_in_the_same_transaction(store: Store) -> None:
    def broken(prev: ChainHead | None) -> list[AuditRecord]:
        raise RuntimeError("sealing failed")

    with pytest.raises((RuntimeError, StoreError)):
        store.append_audit_many(broken, approvals=[approval(1)])
    assert store.get_approval("apr_1") is None  # nothing of a failed append remains
    written = store.append_audit_many(
        lambda prev: [seal(prev, "held", "act_1", {"approval_id": "apr_1"}, KEY)],
        approvals=[approval(1)], sync=False)  # an approval is always synced
    assert [r.kind for r in store.audit_records()] == ["held"] == [r.kind for r in written]
    assert store.get_approval("apr_1") == approval(1)


def test_an_audit_append_keeps_an_approval_already_stored_under_that_id(store: Store) -> None:
    store.add_approval(approval(1))
    written = store.append_audit_many(
        lambda prev: [seal(prev, "held", "act_2", {"approval_id": "apr_1"}, KEY)],
        approvals=[approval(1, action_id="act_2")])
    assert [r.kind for r in written] == ["held"]  # the hold is recorded, naming the approval
    assert store.get_approval("apr_1") == approval(1)  # the first one stored stands


def test_an_unsynced_append_is_read_back_and_made_durable_by_sync(store: Store) -> None:
    for n in range(3):
        def make(prev: ChainHead | None, n: int = n) -> list[AuditRecord]:
            return [seal(prev, "action", f"a{n}", {}, KEY)]

        store.append_audit_many(make, sync=n == 1)
    store.sync()
    records = list(store.audit_records())
    assert [r.action_id for r in records] == ["a0", "a1", "a2"]
    assert verify_records(records, KEY).ok
