"""Audit anchors: the head of the log kept in the vault, out of the agent's reach, so a log
rewritten and sealed again with the (readable) key, or cut short, contradicts them. The writer
under an injected clock; verification of intact, rewritten and truncated logs; and the real
`airlock up` writing anchors that `airlock audit verify` then holds the log to."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airlock.anchors import (
    META_KEY,
    AnchorWriter,
    anchored_seq,
    read_anchors,
    verify_anchors,
)
from airlock.audit import AuditRecord, ChainHead, compute_hash, compute_mac, seal
from airlock.store.memory import MemoryStore
from airlock.vault.stores.local import LocalStore
from tests.approvals.helpers import Server, start_server
from tests.cli import airlock
from tests.hooks.conftest import client_command, raw

KEY = b"k" * 32
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def objects(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "vault")


def _append(store: MemoryStore, n: int, clock: Clock) -> None:
    for i in range(n):
        def make(prev: ChainHead | None, i: int = i) -> AuditRecord:
            return seal(prev, "decision", None, {"i": i}, KEY, at=clock().isoformat())

        store.append_audit(make)


def _writer(store: MemoryStore, objects: LocalStore, clock: Clock) -> AnchorWriter:
    return AnchorWriter(store, lambda: objects, KEY, retention=timedelta(days=30), clock=clock)


def test_anchors_are_written_each_minute_the_log_moves_and_soon_after_a_poke(
        objects: LocalStore, clock: Clock) -> None:
    store = MemoryStore()
    writer = _writer(store, objects, clock)
    assert writer.tick() is None  # an empty log has nothing to anchor
    _append(store, 3, clock)
    clock.advance(60)
    first = writer.tick()
    assert first is not None and (first.first_seq, first.seq) == (1, 3)
    path = objects.root / first.key
    assert stat.S_IMODE(path.stat().st_mode) == 0o400  # read-only, like every vault object
    _append(store, 1, clock)
    clock.advance(10)
    assert writer.tick() is None  # not a minute yet, nobody asked
    writer.poke()
    clock.advance(1)
    assert writer.tick() is None  # debounced
    clock.advance(1.5)
    second = writer.tick()
    assert second is not None and (second.first_seq, second.seq) == (4, 4)
    clock.advance(60)
    assert writer.tick() is None  # the log did not move
    _append(store, 2, clock)
    clock.advance(60)
    third = writer.tick()
    assert third is not None and third.seq == 6
    assert anchored_seq(store) == 6 and json.loads(store.get_meta(META_KEY) or "")["seq"] == 6
    anchors, problems = read_anchors(objects)
    assert [a.seq for a in anchors] == [3, 4, 6] and problems == []


def _anchored_log(objects: LocalStore, clock: Clock, n: int = 12) -> MemoryStore:
    store = MemoryStore()
    writer = _writer(store, objects, clock)
    for _ in range(3):
        _append(store, n // 3, clock)
        clock.advance(61)
        assert writer.tick() is not None
    return store


def test_an_intact_log_matches_every_anchor_and_the_age_is_told(objects: LocalStore,
                                                                 clock: Clock) -> None:
    store = _anchored_log(objects, clock)
    anchors, _ = read_anchors(objects)
    report = verify_anchors(store.audit_records(), anchors, KEY, anchored_seq=anchored_seq(store))
    assert report.ok and report.checked == 12 and report.newest is not None
    clock.advance(42)
    assert report.age(clock()) == timedelta(seconds=42)


def _rewrite_from(records: list[AuditRecord], first: int, key: bytes) -> list[AuditRecord]:
    """What an agent holding the key does: change a record, then seal it and every later one
    again, so the chain and the HMACs verify."""
    out: list[AuditRecord] = []
    prev: AuditRecord | None = None
    for rec in records:
        if rec.seq < first:
            out.append(rec)
            prev = rec
            continue
        data = {**rec.data, "forged": True} if rec.seq == first else rec.data
        body = {"seq": rec.seq, "at": rec.at, "kind": rec.kind, "action_id": rec.action_id,
                "data": data, "prev": prev.hash if prev else "0" * 64}
        digest = compute_hash(body)
        prev = AuditRecord(hash=digest, mac=compute_mac(key, digest), **body)  # type: ignore[arg-type]
        out.append(prev)
    return out


@pytest.mark.parametrize("first", [1, 5, 9, 12])
def test_a_rewritten_log_contradicts_its_anchors_at_the_first_changed_record(
        objects: LocalStore, clock: Clock, first: int) -> None:
    from airlock.audit import verify_records

    store = _anchored_log(objects, clock)
    forged = _rewrite_from(list(store.audit_records()), first, KEY)
    assert verify_records(forged, KEY).ok  # the chain alone cannot tell
    anchors, _ = read_anchors(objects)
    report = verify_anchors(forged, anchors, KEY)
    assert not report.ok and report.bad_seq == first
    assert f"record {first} is not the record anchored" in report.problems[0]


@pytest.mark.parametrize("keep", [0, 5, 11])
def test_a_log_cut_short_contradicts_its_newest_anchor(objects: LocalStore, clock: Clock,
                                                       keep: int) -> None:
    store = _anchored_log(objects, clock)
    cut = list(store.audit_records())[:keep]
    anchors, _ = read_anchors(objects)
    report = verify_anchors(cut, anchors, KEY)
    assert not report.ok and report.bad_seq == keep + 1
    assert f"records {keep + 1}–12 were cut off the end" in report.problems[-1]


def test_forged_or_missing_anchors_are_problems(objects: LocalStore, clock: Clock) -> None:
    store = _anchored_log(objects, clock)
    anchors, _ = read_anchors(objects)
    assert not verify_anchors(store.audit_records(), anchors, b"x" * 32).ok  # another key
    newest = anchors[-1]
    path = objects.root / newest.key
    os.chmod(path, 0o600)
    path.unlink()  # removed: the state still remembers it anchored record 12
    fewer, _ = read_anchors(objects)
    report = verify_anchors(store.audit_records(), fewer, KEY, anchored_seq=anchored_seq(store))
    assert not report.ok and "the state says records up to 12 were anchored" in report.problems[0]
    path.write_text("{not json")
    _, unreadable = read_anchors(objects)
    assert unreadable and "not a readable anchor" in unreadable[0]


# ---- the real service --------------------------------------------------------------------------

READ = {"hook_event_name": "PreToolUse", "tool_name": "Read", "cwd": "/tmp",
        "tool_input": {"file_path": "/etc/hostname"}}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Server]:
    (tmp_path / "airlock.toml").write_text(f'state_dir = "{tmp_path / "state"}"\n')
    server = start_server(tmp_path)
    yield server
    server.stop()


def _wait_for_anchor(vault: Path, seq_at_least: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        anchors = sorted((vault / "anchors").glob("*.json")) if (vault / "anchors").exists() else []
        if anchors and int(anchors[-1].stem) >= seq_at_least:
            return
        assert time.monotonic() < deadline, "no anchor was written"
        time.sleep(0.2)


def _live_records(state: Path) -> list[AuditRecord]:
    with sqlite3.connect(state / "state.db") as conn:
        rows = conn.execute("SELECT seq, at, kind, action_id, data, prev, hash, mac FROM audit "
                            "ORDER BY seq").fetchall()
    return [AuditRecord(int(r[0]), r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7])
            for r in rows]


def _replace_log(state: Path, records: list[AuditRecord]) -> None:
    """As an agent with a shell would: drop the append-only triggers, write its own log."""
    with sqlite3.connect(state / "state.db") as conn:
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("DROP TRIGGER audit_no_delete")
        conn.execute("DELETE FROM audit")
        conn.executemany("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
            (r.seq, r.at, r.kind, r.action_id,
             json.dumps(r.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
             r.prev, r.hash, r.mac) for r in records])


def test_airlock_up_anchors_the_log_and_verify_catches_a_rewrite(service: Server,
                                                                 tmp_path: Path) -> None:
    state = tmp_path / "state"
    for _ in range(3):  # decisions through the daemon, as an agent's hook makes them
        done = subprocess.run(client_command("claude", state / "hooks.sock"), input=raw(READ),
                              capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr
    head = len(_live_records(state))
    _wait_for_anchor(state / "vault", head)  # soon after the decisions, not a minute later
    service.stop()

    intact = airlock("audit", "verify", cwd=tmp_path)
    assert intact.returncode == 0, intact.stdout
    assert "every anchored record matches" in intact.stdout and "written" in intact.stdout

    key = bytes.fromhex((state / "audit.key").read_text().strip())
    records = _live_records(state)
    _replace_log(state, _rewrite_from(records, 2, key))
    rewritten = airlock("audit", "verify", cwd=tmp_path)
    assert rewritten.returncode == 1, rewritten.stdout
    assert "FAILED at record 2" in rewritten.stdout and "rewritten" in rewritten.stdout

    _replace_log(state, records[:2])
    cut = airlock("audit", "verify", cwd=tmp_path)
    assert cut.returncode == 1 and "FAILED at record 3" in cut.stdout
    assert "cut off the end" in cut.stdout
