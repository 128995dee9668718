"""Shared state in PostgreSQL, so several airlock replicas see the same tokens, approvals and
audit log.

Audit appends take a transaction-scoped advisory lock, so replicas append one at a time and the
chain never forks; `seq` being the primary key is the backstop. The audit table refuses UPDATE
and DELETE by trigger. Rows are written as text, not jsonb: the audit hash covers exact bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from airlock.errors import StoreError
from airlock.secrets import redact_url
from airlock.store.sqlstore import Cursor, SqlStore

# An arbitrary constant: the advisory lock every replica takes to append to the audit log.
AUDIT_LOCK_ID = 0x6169726C6F636B  # "airlock"

_APPEND_ONLY = (
    """CREATE OR REPLACE FUNCTION airlock_audit_append_only() RETURNS trigger
       LANGUAGE plpgsql AS $$ BEGIN
         RAISE EXCEPTION 'the audit log is append-only';
       END $$""",
    "DROP TRIGGER IF EXISTS audit_append_only ON audit",
    """CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit
       FOR EACH STATEMENT EXECUTE FUNCTION airlock_audit_append_only()""",
)


class _QmarkCursor:
    """Adapts `?` placeholders (the shared queries) to psycopg's `%s`."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self._cur = cur

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self._cur.execute(sql.replace("%", "%%").replace("?", "%s"), params)

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any:
        return self._cur.executemany(sql.replace("%", "%%").replace("?", "%s"), params)

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()


class PostgresStore(SqlStore):
    """A database with no tables is a first start (the schema is created); one that has some of
    airlock's tables but not all, or not its schema version, is damage and is refused."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        try:
            self._open_schema(may_create=True)
            with self._transaction(lock_audit=True) as cur:
                for statement in _APPEND_ONLY:
                    cur.execute(statement)
        except BaseException:
            self.close()
            raise

    def _where(self) -> str:
        return redact_url(self._url)

    def _tables(self, cur: Cursor) -> set[str]:
        cur.execute("SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema()")
        return {str(row[0]) for row in cur.fetchall()}

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(self._url, connect_timeout=10,
                                             application_name="airlock")
            except psycopg.Error as exc:
                raise StoreError(
                    f"cannot connect to the state database {redact_url(self._url)}: "
                    f"{str(exc).strip()}",
                    hint="check store.url and that the server is reachable; until it is, "
                         "airlock denies every action") from None
        return self._conn

    @contextmanager
    def _transaction(self, *, lock_audit: bool = False, read: bool = False,
                     sync: bool = True) -> Iterator[Cursor]:
        # `read` changes nothing here: PostgreSQL's readers never wait for writers.
        with self._lock:
            self._refuse_if_broken()
            conn = self._connection()
            try:
                with conn.transaction(), conn.cursor() as raw:
                    cur = _QmarkCursor(raw)
                    if not sync:  # this commit only: WAL written, flushed by the next sync
                        raw.execute("SET LOCAL synchronous_commit = off")
                    if lock_audit:
                        raw.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK_ID,))
                    yield cur
            except psycopg.errors.UndefinedTable as exc:  # a table dropped under a live store
                raise self._damaged(self._where(), str(exc).strip()) from None
            except psycopg.Error as exc:
                raise StoreError(f"state database {redact_url(self._url)} failed: "
                                 f"{str(exc).strip()}",
                                 hint="check that the database server is up and reachable; "
                                      "until it is, airlock denies every action") from None

    def sync(self) -> None:
        # A transaction with an id commits a record and, synchronous_commit being on, waits
        # for the WAL to be flushed up to it: every earlier commit, relaxed ones included.
        with self._transaction() as cur:
            cur.execute("SELECT txid_current()")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
