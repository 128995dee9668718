"""The embedded default store: one SQLite file in WAL mode.

WAL lets readers (the console, `airlock audit verify`) run while a writer appends. Several
processes share the file (the service, hook processes, the CLI), so every write transaction
starts with `BEGIN IMMEDIATE` and waits up to `busy_timeout` for the lock rather than failing.
The audit table refuses UPDATE and DELETE by trigger: the application never needs them, so
anything that tries is not airlock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from airlock.errors import StoreError
from airlock.store.sqlstore import SCHEMA, SCHEMA_VERSION, Cursor, SqlStore

_APPEND_ONLY = (
    """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
)


class SqliteStore(SqlStore):
    def __init__(self, path: Path, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        try:
            # State holds token hashes and approvals: private to airlock's user.
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not path.exists():
                path.touch(mode=0o600)
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                         timeout=busy_timeout_ms / 1000)
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the state database {path}: {exc}",
                             hint="check that the state folder exists and is writable") from None
        self._lock = threading.Lock()
        with self._transaction() as cur:
            for statement in (*SCHEMA, *_APPEND_ONLY):
                cur.execute(statement)
            cur.execute("INSERT OR IGNORE INTO airlock_meta (key, value) VALUES (?, ?)",
                        ("schema_version", str(SCHEMA_VERSION)))

    @contextmanager
    def _transaction(self, *, lock_audit: bool = False, read: bool = False) -> Iterator[Cursor]:
        # BEGIN IMMEDIATE takes the write lock up front, which is what serialises audit appends
        # (and every read-then-write) across processes. Reads begin deferred: under WAL they
        # see a consistent snapshot without waiting for, or blocking, any writer — long-polls,
        # the console and `audit verify` read often.
        with self._lock:
            try:
                cur = self._conn.cursor()
                cur.execute("BEGIN" if read else "BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"state database {self.path} is unavailable: {exc}") from None
            try:
                yield cur
            except sqlite3.Error as exc:
                self._conn.rollback()
                raise StoreError(f"state database {self.path} failed: {exc}") from None
            except BaseException:
                self._conn.rollback()
                raise
            else:
                try:
                    self._conn.commit()
                except sqlite3.Error as exc:
                    self._conn.rollback()
                    raise StoreError(f"state database {self.path} could not commit: {exc}") from None
            finally:
                cur.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
