"""The transaction a protected statement runs in: the seam between safety net and executor.

An executing front (`airlock sql`, the PostgreSQL wire proxy) opens one of these on the resource
(`postgres_of`), then submits the action to `runtime.protected_gate(txn)`: a gate whose safety
net is `VaultNet.within(txn)` and whose executor is `StatementExecutor(txn)`:

    BEGIN ISOLATION LEVEL REPEATABLE READ
    ── safety net (protect) ──
      DELETE/UPDATE … WHERE:  COPY (SELECT … WHERE <its WHERE> FOR UPDATE) → vault, verified
      DROP/TRUNCATE TABLE:    LOCK TABLE … IN SHARE MODE (writers wait), pg_dump → vault, verified
    ── executor ──
      the statement itself; a DELETE/UPDATE must report exactly the captured row count
      (the `Protection` the safety net returned carries it to the executor)
      COMMIT
    (if protection fails the gate never calls the executor and the front rolls back)

The row locks (and the SHARE lock) keep every other writer off what is being captured until the
statement has run, so the before-image is exactly what the statement destroys. The cost: those
rows or tables stay locked while the vault write is verified.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from airlock.errors import InputError
from airlock.model import Action, SqlQuery
from airlock.safety import Protection
from airlock.upstream.postgres import PgConn
from airlock.vault.errors import VaultError

__all__ = ["MAX_RESULT_ROWS", "ProtectedTransaction", "StatementExecutor", "needs_autocommit"]

_postgast: Any = importlib.import_module("postgast")

# Statements PostgreSQL refuses inside a transaction block.
_OUTSIDE_TRANSACTION = frozenset({"dropdb_stmt", "createdb_stmt", "vacuum_stmt",
                                  "alter_system_stmt", "create_table_space_stmt",
                                  "drop_table_space_stmt"})
MAX_RESULT_ROWS = 200


def needs_autocommit(text: str) -> bool:
    try:
        stmts = _postgast.parse(text).stmts
    except Exception:
        return False  # the server will say what is wrong
    return len(stmts) == 1 and stmts[0].stmt.WhichOneof("node") in _OUTSIDE_TRANSACTION


class ProtectedTransaction:
    def __init__(self, resource: str, pg: PgConn) -> None:
        self.resource = resource
        self.pg = pg
        self.conn: psycopg.Connection[Any] = pg.connect()
        try:
            # psycopg opens the transaction with the first statement, at this level
            self.conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            self.conn.execute("SET LOCAL lock_timeout = '30s'")
        except psycopg.Error as exc:
            self.conn.close()
            raise VaultError(f"cannot open a transaction on {pg.shown}: {exc}") from None

    def __enter__(self) -> ProtectedTransaction:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lock_share(self, qualified_names: list[str]) -> None:
        """Keep writers off these tables until the statement has run (readers, like pg_dump,
        still may)."""
        if qualified_names:
            self.conn.execute(f"LOCK TABLE {', '.join(qualified_names)} IN SHARE MODE")

    def execute(self, text: str, *, expected_rows: int | None = None,
                done: bool = False) -> Mapping[str, Any]:
        """Run the statement in the transaction, check it touched the `expected_rows` that were
        captured, commit. `done`: protection already did what it asked (a soft drop)."""
        if done:
            self.conn.commit()
            return {"status": "done by protection (soft drop)", "rowcount": 0}
        if needs_autocommit(text):
            # Nothing was done in the transaction (a whole database is dumped from its own
            # connection); the statement runs on its own, as PostgreSQL requires.
            self.conn.rollback()
            self.conn.autocommit = True
        try:
            with self.conn.cursor() as cur:
                # the statement is the payload itself: it is what was judged and approved
                cur.execute(text.encode())
                result = _result(cur)
                if expected_rows is not None and cur.rowcount != expected_rows:
                    raise VaultError(
                        f"the statement touched {cur.rowcount} row(s) but the before-image holds "
                        f"{expected_rows}; rolled back so nothing is lost")
                while cur.nextset():
                    result = _result(cur)
            if not self.conn.autocommit:
                self.conn.commit()
        except BaseException:
            self.rollback()
            raise
        return result

    def rollback(self) -> None:
        if not self.conn.closed and not self.conn.autocommit:
            self.conn.rollback()

    def close(self) -> None:
        if not self.conn.closed:
            self.rollback()
            self.conn.close()


@dataclass
class StatementExecutor:
    """Runs the approved statement in the protected transaction, held to what protection
    captured, then commits."""

    txn: ProtectedTransaction
    performs: bool = True

    def execute(self, action: Action, protection: Protection) -> Mapping[str, Any]:
        if not isinstance(action.payload, SqlQuery):
            raise InputError("the SQL front executes SQL statements only")
        return self.txn.execute(action.payload.text, expected_rows=protection.expected_rows,
                                done=protection.done)


def _result(cur: psycopg.Cursor[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"status": cur.statusmessage, "rowcount": cur.rowcount}
    if cur.description is not None:
        out["columns"] = [c.name for c in cur.description]
        rows = cur.fetchmany(MAX_RESULT_ROWS + 1)
        out["rows"] = [[_plain(v) for v in row] for row in rows[:MAX_RESULT_ROWS]]
        out["truncated"] = len(rows) > MAX_RESULT_ROWS
    return out


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)
