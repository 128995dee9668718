"""Two holds of the same action at the same moment make one pending approval, not two.

Raced for real: threads on the in-memory twin, SQLite and PostgreSQL, through the approvals
alone and through a gate whose held calls commit their approval with their audit records; and
separate processes over one SQLite file.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airlock.approvals import StoreApprovals, action_digest, next_approval_id
from airlock.audit import StoreAuditLog
from airlock.model import Decision, Risk, Status, Target, Verdict
from airlock.store import ApprovalRecord, ApprovalStatus, Store, open_store
from tests.factories import action, assessment, caller, effect
from tests.test_audit_durability import gate_over

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HOLD = Decision(Verdict.HOLD, "test", "destructive", 1)
DB = Target("postgres", "db.staging.internal:5432/app")
RACERS = 8
ROOT = Path(__file__).resolve().parents[2]


def race(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in n threads released together; their results (a failure re-raised)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def request(approvals: StoreApprovals, now: datetime = T0) -> ApprovalRecord:
    act = action("psql -c 'drop table users'")
    return approvals.request(act, "d1", assessment(effect(Risk.DESTRUCTIVE, DB)), [], HOLD,
                             {}, now)


def pending(store: Store, digest: str = "d1") -> list[ApprovalRecord]:
    return store.list_approvals(status=ApprovalStatus.PENDING, digest=digest)


def test_racing_requests_name_one_approval(store: Store) -> None:
    approvals = StoreApprovals(store)
    got = race(RACERS, lambda _i: request(approvals))
    assert len({a.id for a in got}) == 1
    assert [a.id for a in pending(store)] == [got[0].id]


def test_racing_requests_inside_audit_groups_name_one_approval(store: Store) -> None:
    log = StoreAuditLog(store, b"k" * 32)
    approvals = StoreApprovals(store, audit=log)

    def hold(_i: int) -> ApprovalRecord:
        with log.group():  # as the gate does: the approval commits with the hold's records
            record = request(approvals)
            log.record("held", record.action_id, {"approval_id": record.id})
            return record

    got = race(RACERS, hold)
    assert len({a.id for a in got}) == 1
    assert [a.id for a in pending(store)] == [got[0].id]
    held = [r for r in store.audit_records() if r.kind == "held"]
    assert len(held) == RACERS and {r.data["approval_id"] for r in held} == {got[0].id}


def test_racing_held_calls_through_the_gate_share_their_approval(store: Store) -> None:
    gate = gate_over(store, Risk.DESTRUCTIVE, DB).gate
    outcomes = race(RACERS, lambda _i: gate.submit(action("drop table t"), caller()))
    assert {o.status for o in outcomes} == {Status.HELD}
    ids = {o.approval_id for o in outcomes}
    assert len(ids) == 1 and [a.id for a in store.list_approvals()] == list(ids)


def test_a_decided_or_expired_approval_is_followed_by_a_new_one(store: Store) -> None:
    approvals = StoreApprovals(store, ttl=timedelta(minutes=15))
    first = request(approvals)
    assert request(approvals, T0 + timedelta(minutes=1)).id == first.id  # still pending
    store.update_approval(first.next_version(status=ApprovalStatus.DENIED))
    second = request(approvals, T0 + timedelta(minutes=2))
    assert second.id != first.id and [a.id for a in pending(store)] == [second.id]
    third = request(approvals, T0 + timedelta(minutes=30))  # second expired (still "pending")
    assert third.id not in (first.id, second.id)
    assert {a.id for a in store.list_approvals(digest="d1")} == {first.id, second.id, third.id}


def test_approval_ids_depend_on_the_digest_and_its_history() -> None:
    a = next_approval_id("d1", [])
    assert a == next_approval_id("d1", []) and a.startswith("apr_") and len(a) == 30
    assert a != next_approval_id("d2", [])
    assert next_approval_id("d1", ["apr_x", "apr_y"]) == next_approval_id("d1", ["apr_y", "apr_x"])
    assert next_approval_id("d1", ["apr_x"]) != a


def test_different_actions_still_get_their_own_approvals(store: Store) -> None:
    approvals = StoreApprovals(store)
    one = request(approvals)
    other = approvals.request(action("rm -rf /srv"), "d2", assessment(effect(Risk.DESTRUCTIVE)),
                              [], HOLD, {}, T0)
    assert one.id != other.id and len(store.list_approvals()) == 2


RACER = """
import sys, time
from datetime import datetime
from pathlib import Path
from airlock.approvals import StoreApprovals
from airlock.model import Decision, Risk, Verdict
from airlock.store import open_store
from tests.factories import action, assessment, effect

state, go = Path(sys.argv[1]), Path(sys.argv[2])
store = open_store(None, state)
approvals = StoreApprovals(store)
while not go.exists():
    time.sleep(0.001)
record = approvals.request(action("drop table t"), "d1", assessment(effect(Risk.DESTRUCTIVE)), [],
                           Decision(Verdict.HOLD, "test", "destructive", 1), {},
                           datetime.fromisoformat(sys.argv[3]))
print(record.id)
"""


def test_racing_processes_over_one_sqlite_file_name_one_approval(tmp_path: Path) -> None:
    open_store(None, tmp_path).close()  # the schema exists before the racers start
    go = tmp_path / "go"
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(tmp_path), str(go),
                                T0.isoformat()], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(4)]
    time.sleep(1.0)  # let them import and open the store: the race is the request itself
    go.touch()
    outs = [r.communicate(timeout=60) for r in racers]
    assert all(r.returncode == 0 for r in racers), [err for _out, err in outs]
    ids = {out.strip() for out, _err in outs}
    store = open_store(None, tmp_path)
    try:
        assert len(ids) == 1 and [a.id for a in pending(store)] == list(ids)
    finally:
        store.close()


def test_the_digest_a_gate_binds_is_what_the_ids_follow() -> None:
    # The id is a function of the digest, so it binds what the approval binds: the same action
    # retried by another principal makes another digest, hence another approval.
    mine, theirs = action("drop table t"), action("drop table t", principal="other")
    assert action_digest(mine, []) != action_digest(theirs, [])
    assert next_approval_id(action_digest(mine, []), []) != \
        next_approval_id(action_digest(theirs, []), [])
