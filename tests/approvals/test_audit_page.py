"""The console's audit view: keyset pages newest first, filters that say when they cannot be
applied, a bounded read per load (never the whole log), and the last verification kept."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airlock.audit import AuditRecord, ChainHead, seal, verify_records
from airlock.console import auditview
from airlock.console.auditview import AuditFilter, read_page
from airlock.store.memory import MemoryStore

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)


class CountingStore(MemoryStore):
    """Counts the records a reader actually takes from the log."""

    def __init__(self) -> None:
        super().__init__()
        self.read = 0

    def audit_records(self, after: int = 0, kinds: Collection[str] | None = None
                      ) -> Iterator[AuditRecord]:
        for record in super().audit_records(after, kinds):
            self.read += 1
            yield record


def log_of(count: int) -> CountingStore:
    store = CountingStore()
    for n in range(1, count + 1):
        kind = "decision" if n % 7 == 0 else "action"
        data = ({"decision": {"verdict": "hold", "reason": "destructive"}} if kind == "decision"
                else {"principal": "agent" if n % 2 else "bot", "content": {"command": f"ls {n}"}})
        at = (T0 + timedelta(minutes=n)).isoformat()

        def make(prev: ChainHead | None, kind: str = kind, data: dict[str, Any] = data,
                 n: int = n, at: str = at) -> AuditRecord:
            return seal(prev, kind, f"act_{n}", data, b"k" * 32, at=at)

        store.append_audit(make)
    store.read = 0
    return store


def test_pages_run_newest_first_by_keyset() -> None:
    store = log_of(250)
    first = read_page(store, AuditFilter(), None, NOW)
    assert [r.seq for r in first.rows] == list(range(250, 150, -1))
    assert first.older == 151 and first.total == 250
    second = read_page(store, AuditFilter(), first.older, NOW)
    assert [r.seq for r in second.rows] == list(range(150, 50, -1))
    last = read_page(store, AuditFilter(), second.older, NOW)
    assert [r.seq for r in last.rows] == list(range(50, 0, -1)) and last.older is None


def test_a_load_reads_a_bounded_part_of_a_long_log() -> None:
    store = log_of(10_000)
    page = read_page(store, AuditFilter(), None, NOW)
    assert len(page.rows) == auditview.PAGE
    assert store.read <= auditview.WINDOW  # not 10,000


def test_filters_by_principal_kind_verdict_and_time() -> None:
    store = log_of(300)
    bots = read_page(store, AuditFilter(principal="bot"), None, NOW)
    assert bots.rows and all(r.who == "bot" and r.seq % 2 == 0 for r in bots.rows)
    holds = read_page(store, AuditFilter(kind="decision", verdict="hold"), None, NOW)
    assert [r.seq for r in holds.rows] == list(range(294, 0, -7))
    assert holds.rows[0].summary == "destructive" and holds.older is None
    window = AuditFilter.from_query({"since": (T0 + timedelta(minutes=10)).isoformat(),
                                     "until": "2026-11-26T12:20"})
    assert [r.seq for r in read_page(store, window, None, NOW).rows] == list(range(20, 9, -1))


def test_an_unreadable_filter_is_reported_not_dropped() -> None:
    wanted = AuditFilter.from_query({"since": "last tuesday", "kind": "action"})
    assert wanted.since is None and wanted.kind == "action"
    assert wanted.problems and "last tuesday" in wanted.problems[0]


def test_a_filter_that_matches_little_stops_and_offers_to_go_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auditview, "SCAN_LIMIT", 1000)
    store = log_of(3000)
    page = read_page(store, AuditFilter(principal="nobody"), None, NOW)
    assert page.rows == [] and page.scanned_to == 2001 and page.older == 2001
    assert store.read <= 1000 + auditview.WINDOW


def test_raw_json_is_redacted_and_the_last_verification_is_kept() -> None:
    store = MemoryStore()
    store.append_audit(lambda prev: seal(prev, "action", "act_1", {
        "principal": "agent", "content": {"command": "psql postgresql://app:hunter2@db/app"},
        "headers": {"authorization": "Bearer sk-live-1234567890"}}, b"k" * 32, at=T0.isoformat()))
    row = read_page(store, AuditFilter(), None, NOW).rows[0]
    assert "hunter2" not in row.raw and "sk-live" not in row.raw and "hunter2" not in row.summary
    assert auditview.last_verification(store, NOW) is None
    report = verify_records(store.audit_records(), b"k" * 32)
    auditview.save_verification(store, report, at=T0, by="alice")
    kept = auditview.last_verification(store, NOW)
    assert kept is not None and kept["ok"] and kept["by"] == "alice" and kept["count"] == 1
    assert kept["when"].relative == "1 day ago"
