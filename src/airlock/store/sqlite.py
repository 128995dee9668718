"""The embedded default store: one SQLite file in WAL mode.

WAL lets readers (the console, `airlock audit verify`) run while a writer appends. Several
processes share the file (the service, hook processes, the CLI), so every write transaction
starts with `BEGIN IMMEDIATE` and waits up to `busy_timeout` for the lock rather than failing.
The audit table refuses UPDATE and DELETE by trigger: the application never needs them, so
anything that tries is not airlock.

A state database is made whole or not at all: it is built under a temporary name and linked
into place. So a file that exists is always a finished airlock database, and one that is empty,
foreign or missing tables is damage — refused (every action denied, with what to do), never
quietly initialised again: that would start a new audit log and forget every approval.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from airlock.errors import StoreError
from airlock.store.sqlstore import DAMAGED_HINT, Cursor, SqlStore

_APPEND_ONLY = (
    """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
)
# SQLite's primary result codes that mean the file is not (or no longer) a sound database.
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26
_SQLITE_MAGIC = b"SQLite format 3\x00"


class SqliteStore(SqlStore):
    def __init__(self, path: Path, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._lock = threading.Lock()
        self._file: _FileWatch | None = None
        self._synchronous = "FULL"  # what _settle sets; a relaxed commit switches for itself
        try:
            # State holds token hashes and approvals: private to airlock's user.
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not path.exists():
                self._create()
            elif path.stat().st_size == 0:
                raise self._damaged(str(path), "the file is empty (it was truncated)")
            self._conn = self._connect(path)
        except (sqlite3.Error, OSError) as exc:
            raise self._open_error(exc) from None
        try:
            self._file = _FileWatch(path)
            self._open_schema(may_create=False)  # before anything is written to it
            try:
                self._settle(self._conn)
            except sqlite3.Error as exc:
                raise self._open_error(exc) from None
            with self._transaction() as cur:
                for statement in _APPEND_ONLY:
                    cur.execute(statement)
        except BaseException:
            self._conn.close()
            if self._file is not None:
                self._file.close()
            raise

    def _connect(self, path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                               timeout=self._busy_timeout_ms / 1000)
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        return conn

    @staticmethod
    def _settle(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")

    def _create(self) -> None:
        """A new state database, built under a temporary name and linked into place (a crash
        leaves at most the temporary file; a file at `path` is always finished)."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}.new")
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            self._conn = self._connect(tmp)
            try:
                self._settle(self._conn)
                self._open_schema(may_create=True)
            finally:
                self._conn.close()
            with contextlib.suppress(FileExistsError):  # another process made it first
                os.link(tmp, self.path)
        finally:
            for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()

    def _open_error(self, exc: BaseException) -> StoreError:
        if isinstance(exc, StoreError):
            return exc
        if isinstance(exc, sqlite3.Error) and _is_damage(exc):
            return self._damaged(str(self.path), str(exc))
        return StoreError(f"cannot open the state database {self.path}: {exc}",
                          hint="check that the state folder exists and is writable by airlock's "
                               f"user; if the file itself is damaged: {DAMAGED_HINT}")

    def _where(self) -> str:
        return str(self.path)

    def _tables(self, cur: Cursor) -> set[str]:
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {str(row[0]) for row in cur.fetchall()}

    def _integrity(self, cur: Cursor) -> list[str]:
        # On a connection of its own: the store's connection may answer from its page cache,
        # and damage on disk is what this looks for.
        try:
            fresh = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True,
                                    timeout=self._busy_timeout_ms / 1000)
        except sqlite3.Error as exc:
            return [f"it cannot be opened ({exc})"]
        try:
            rows = fresh.execute("PRAGMA quick_check").fetchall()
        except sqlite3.Error as exc:
            return [str(exc)]
        finally:
            fresh.close()
        return [str(row[0]) for row in rows if row[0] != "ok"]

    @contextmanager
    def _transaction(self, *, lock_audit: bool = False, read: bool = False,
                     sync: bool = True) -> Iterator[Cursor]:
        # BEGIN IMMEDIATE takes the write lock up front, which is what serialises audit appends
        # (and every read-then-write) across processes. Reads begin deferred: under WAL they
        # see a consistent snapshot without waiting for, or blocking, any writer — long-polls,
        # the console and `audit verify` read often.
        # Durability per commit (WAL): FULL syncs the log at commit; NORMAL writes the commit
        # to the log (the OS has it: a killed process loses nothing) and syncs it later — at
        # the next FULL commit, which syncs the whole log, or at a checkpoint. A read commits
        # nothing, so it leaves the level as the last write set it (switching it costs a
        # statement each way on the hot path: a token read, then a relaxed audit append).
        level = self._synchronous if read else "FULL" if sync else "NORMAL"
        with self._lock:
            self._refuse_if_broken()
            problem = self._file.problem() if self._file is not None else ""
            if problem:
                raise self._damaged(str(self.path), problem)
            try:
                cur = self._conn.cursor()
                if level != self._synchronous:
                    cur.execute(f"PRAGMA synchronous = {level}")
                    self._synchronous = level
                cur.execute("BEGIN" if read else "BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._failure("is unavailable", exc) from None
            try:
                yield cur
            except sqlite3.Error as exc:
                self._rollback()
                raise self._failure("failed", exc) from None
            except BaseException:
                self._rollback()
                raise
            else:
                try:
                    self._conn.commit()
                except sqlite3.Error as exc:
                    self._rollback()
                    raise self._failure("could not commit", exc) from None
            finally:
                cur.close()

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.rollback()

    def _failure(self, what: str, exc: sqlite3.Error) -> StoreError:
        if _is_damage(exc):
            return self._damaged(str(self.path), str(exc))
        return StoreError(f"state database {self.path} {what}: {exc}",
                          hint="check that the state folder and database are writable by "
                               "airlock's user and the disk has room; until then airlock "
                               "denies every action")

    def sync(self) -> None:
        # The log first, then the database file (what a checkpoint moved there): after both,
        # every commit made before this call is on disk, relaxed ones included.
        with self._lock:
            for path in (self.path.with_name(self.path.name + "-wal"), self.path):
                try:
                    fd = os.open(path, os.O_RDONLY)
                except FileNotFoundError:
                    continue
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            if self._file is not None:
                self._file.close()


    def tokens_version(self) -> object | None:
        # This process's token writes, and SQLite's data_version, which changes whenever another
        # connection (the CLI's `airlock token revoke`, another process) commits anything.
        with self._lock:
            self._refuse_if_broken()
            try:
                row = self._conn.execute("PRAGMA data_version").fetchone()
            except sqlite3.Error as exc:
                raise self._failure("is unavailable", exc) from None
        return (self._token_writes, int(row[0]))


class _FileWatch:
    """Notices, before each transaction, that the database file was deleted, replaced, truncated
    or overwritten under the open connection. The connection itself would not: under WAL it
    answers from its cache and the log, and would go on allowing reads against a file that is
    gone. (Damage inside the file is for `check()`, which `airlock up` runs every minute.)"""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY)
        st = os.fstat(self._fd)
        self._identity = (st.st_dev, st.st_ino)
        self._page_size = os.pread(self._fd, 100, 0)[16:18]

    def problem(self) -> str:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return "the file is gone (deleted or moved away) under the running airlock"
        except OSError as exc:
            return f"the file cannot be read ({exc.strerror})"
        if (st.st_dev, st.st_ino) != self._identity:
            return "the file was replaced by another under the running airlock"
        header = os.pread(self._fd, 100, 0)
        if not header.startswith(_SQLITE_MAGIC) or header[16:18] != self._page_size:
            return ("its header is no longer SQLite's: the file was truncated or overwritten "
                    "under the running airlock")
        return ""

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


def _is_damage(exc: sqlite3.Error) -> bool:
    """Corruption, a file that is not a database, or tables gone from under a live store —
    as opposed to a busy lock or a full disk, which may pass."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return True
    message = str(exc)
    return message.startswith(("no such table", "no such column")) or "malformed" in message
