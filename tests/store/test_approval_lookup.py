"""A held call finds its digest's pending approval through the digest index, however many
approvals are pending (SQLite used to scan every pending one: the status index sorts for free)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from airlock.store.sqlite import SqliteStore
from airlock.store.sqlstore import SCHEMA

LOOKUP = ("SELECT record FROM approvals WHERE status = ? AND digest = ? "
          "ORDER BY requested_at DESC, id DESC LIMIT ?")


def test_the_pending_lookup_searches_by_digest(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "state.db").close()
    with sqlite3.connect(tmp_path / "state.db") as conn:
        plan = " ".join(str(row[3]) for row in
                        conn.execute("EXPLAIN QUERY PLAN " + LOOKUP, ("pending", "d", 100)))
    assert "approvals_by_digest_time (digest=? AND status=?)" in plan, plan


def test_an_older_database_gets_the_index_when_opened(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "state.db").close()
    with sqlite3.connect(tmp_path / "state.db") as conn:
        conn.execute("DROP INDEX approvals_by_digest_time")
    SqliteStore(tmp_path / "state.db").close()
    with sqlite3.connect(tmp_path / "state.db") as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master "
                                                "WHERE type = 'index'")}
    assert "approvals_by_digest_time" in names
    assert any("approvals_by_digest_time" in statement for statement in SCHEMA)
