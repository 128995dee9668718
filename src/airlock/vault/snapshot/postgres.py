"""PostgreSQL snapshots: what a destructive statement destroys, written to the vault first.

    kind               taken before                    how
    postgres-rows      DELETE/UPDATE … WHERE           COPY (capture query) TO STDOUT, in the
                                                       statement's own transaction; rows that
                                                       cascades reach are captured as well
    postgres-table     DROP/TRUNCATE TABLE, DELETE     pg_dump -t of the table's closure (its
                       without WHERE                   partitions, dependent views) + the
                                                       foreign keys of other tables into it
    postgres-schema    DROP SCHEMA                     pg_dump -n (+ outside dependants)
    postgres-database  DROP DATABASE, `airlock backup` pg_dump of the whole database

Dumps are plain SQL (`pg_dump -Fp`): airlock compresses and encrypts them itself (zstd is
several times faster than pg_dump's zlib), and while the dump streams past it counts each
table's rows and hashes its COPY data — the figures a drill checks after restoring.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from airlock.safety import TableReach
from airlock.upstream.postgres import PgConn
from airlock.vault.core import Vault
from airlock.vault.errors import SnapshotError, VaultError
from airlock.vault.manifest import Manifest
from airlock.vault.progress import NoProgress, Progress, human_size
from airlock.vault.snapshot.pgcatalog import (
    Closure,
    Column,
    Conn,
    Relation,
    database_size,
    references_into,
    resolve_table,
    row_key,
    schema_closure,
    table_closure,
    user_triggers,
    writable_columns,
)
from airlock.vault.snapshot.pgcopy import CopyScanner
from airlock.vault.snapshot.pgrows import NotCapturable, RowStatement, child_capture_sql
from airlock.vault.snapshot.pgtools import dump_pattern, qualified, streamed

MAX_CASCADE_DEPTH = 8


@dataclass(frozen=True)
class PgSource:
    """A configured PostgreSQL resource, as the vault sees it."""

    resource: str
    environment: str
    conn: PgConn
    selector: str = ""  # postgres:host:port/db


# ---- estimates (cheap: catalog statistics only) ------------------------------------------------


def estimate_rows(conn: Conn, sql: str) -> tuple[int, int]:
    """(rows, bytes) the planner expects a capture query to return."""
    plan = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchone()
    top = plan[0][0]["Plan"] if plan else {}
    rows = int(top.get("Plan Rows", 0))
    return rows, rows * int(top.get("Plan Width", 0))


def estimate_reach(conn: Conn, captures: Sequence[Capture]) -> tuple[TableReach, ...]:
    """Every table a row statement reaches — its own, then each one its cascades reach — with
    the planner's estimate of the rows touched there. Children are estimated by the semi-join
    of their foreign key on the parent's rows (unlocked, so the planner flattens it and uses
    both tables' statistics)."""
    reach = []
    for capture in captures:
        rows, size = estimate_rows(conn, capture.estimate_sql or capture.sql)
        reach.append(TableReach(f"{capture.schema}.{capture.table}", rows, size, capture.how,
                                capture.depth))
    return tuple(reach)


# ---- dumps ------------------------------------------------------------------------------------


def _dump(vault: Vault, src: PgSource, *, kind: str, args: list[str], action_id: str | None,
          source: dict[str, Any], summary: str, expected: int | None,
          progress: Progress) -> Manifest:
    dsn, env = src.conn.tool_args()
    command = [src.conn.tool("pg_dump"), "--format=plain", "--no-password",
               "--lock-wait-timeout=30000", "--dbname", dsn, *args]
    builder = vault.begin(kind=kind, resource=src.resource, environment=src.environment,
                          action_id=action_id)
    scanner = CopyScanner()
    progress.start(f"snapshot {summary}", expected)
    try:
        with builder.object("dump") as out, streamed(command, env, "pg_dump") as chunks:
            for chunk in chunks:
                scanner.feed(chunk)
                out.write(chunk)
                progress.advance(len(chunk))
        scanner.close()
    except (VaultError, ValueError, OSError) as exc:
        raise SnapshotError(f"snapshot of {summary} failed: {exc}") from None
    finally:
        progress.done()
    return builder.commit(source={"engine": "postgres", "format": "plain-sql",
                                  "database": src.conn.dbname, "selector": src.selector,
                                  **source},
                          stats={"tables": scanner.stats()}, summary=summary)


def take_closure(vault: Vault, src: PgSource, closure: Closure, *, purpose: str,
                 action_id: str | None, what: str, progress: Progress | None = None) -> Manifest:
    """A dump of a table closure (postgres-table)."""
    args = ["--strict-names"]
    for rel in closure.relations:
        args += ["--table", dump_pattern(rel.schema, rel.name)]
    return _dump(vault, src, kind="postgres-table", args=args, action_id=action_id,
                 source={"purpose": purpose,
                         "relations": [r.to_json() for r in closure.relations],
                         "foreign_keys": [fk.to_json() for fk in closure.foreign_keys]},
                 summary=what, expected=closure.size_bytes, progress=progress or NoProgress())


def take_table(vault: Vault, src: PgSource, conn: Conn, table: str, *, purpose: str,
               action_id: str | None, progress: Progress | None = None) -> Manifest:
    closure = table_closure(conn, table)
    main = closure.relations[0]
    return take_closure(vault, src, closure, purpose=purpose, action_id=action_id,
                        what=f"table {main.schema}.{main.name}", progress=progress)


def take_schema(vault: Vault, src: PgSource, conn: Conn, schema: str, *,
                action_id: str | None, progress: Progress | None = None) -> Manifest:
    outside = schema_closure(conn, schema)
    args = ["--schema", dump_pattern(schema, "")]
    for rel in outside.relations:
        args += ["--table", dump_pattern(rel.schema, rel.name)]
    return _dump(vault, src, kind="postgres-schema", args=args, action_id=action_id,
                 source={"purpose": "drop", "schema": schema,
                         "relations": [r.to_json() for r in outside.relations],
                         "foreign_keys": [fk.to_json() for fk in outside.foreign_keys]},
                 summary=f"schema {schema}", expected=outside.size_bytes,
                 progress=progress or NoProgress())


def take_database(vault: Vault, src: PgSource, *, purpose: str, action_id: str | None,
                  dbname: str | None = None, progress: Progress | None = None) -> Manifest:
    target = src.conn.with_dbname(dbname) if dbname else src.conn
    with target.connect(autocommit=True) as conn:
        size = database_size(conn, target.dbname)
        row = conn.execute(
            "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database "
            "WHERE datname = current_database()").fetchone()
    props = {"encoding": row[0], "collate": row[1], "ctype": row[2]} if row else {}
    scoped = PgSource(src.resource, src.environment, target, src.selector)
    return _dump(vault, scoped, kind="postgres-database", args=[], action_id=action_id,
                 source={"purpose": purpose, "properties": props},
                 summary=f"database {target.dbname}", expected=size,
                 progress=progress or NoProgress())


# ---- row before-images ------------------------------------------------------------------------


@dataclass(frozen=True)
class Capture:
    """One query whose rows go into one object of a rows snapshot."""

    object: str
    schema: str
    table: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    sql: str
    how: str  # what the statement does to these rows: delete | update | set-null | set-default
    depth: int
    estimate_sql: str = ""  # the same rows, unlocked, for EXPLAIN (estimate_reach)


def plan_captures(conn: Conn, st: RowStatement) -> tuple[list[Capture], list[str]]:
    """The capture queries for a statement (its table, then what cascades reach), and notes.
    Raises NotCapturable when the rows cannot be listed exactly."""
    oid, schema, name = resolve_table(conn, st.table)
    if st.functions:
        volatile = [str(r[0]) for r in conn.execute(
            "SELECT DISTINCT proname FROM pg_proc WHERE proname = ANY(%s) AND provolatile = 'v'",
            (list(st.functions),))]
        if volatile:
            raise NotCapturable(f"it calls volatile function(s) {', '.join(sorted(volatile))}, so "
                                "a second evaluation could pick other rows")
    if st.relation.inh:
        row = conn.execute("SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = "
                           "i.inhrelid WHERE i.inhparent = %s AND NOT c.relispartition",
                           (oid,)).fetchone()
        if row and row[0]:
            raise NotCapturable(f"{schema}.{name} has inheritance children with columns of "
                                "their own")
    notes: list[str] = []
    columns = writable_columns(conn, oid)
    main = Capture("rows.0", schema, name, columns, row_key(conn, oid), st.capture_sql(columns),
                   st.verb, 0, st.estimate_sql(columns))
    captures = [main]
    triggers = user_triggers(conn, oid)
    if triggers:
        notes.append(f"{schema}.{name} has triggers ({', '.join(triggers)}) whose own effects are "
                     "not captured")

    def follow(parent: Capture, parent_oid: int, path: tuple[int, ...]) -> None:
        for ref in references_into(conn, parent_oid):
            action = ref.on_delete if parent.how == "delete" else ref.on_update
            if parent.how in ("set-null", "set-default") or action in ("a", "r"):
                continue  # no cascade: the statement fails instead if such rows exist
            if ref.oid in path or len(path) > MAX_CASCADE_DEPTH:
                raise NotCapturable(f"cascades from {parent.schema}.{parent.table} loop back or "
                                    "run too deep to list exactly")
            child_columns = writable_columns(conn, ref.oid)
            how = {"c": parent.how, "n": "set-null", "d": "set-default"}[action]
            child = Capture(f"rows.{len(captures)}", ref.schema, ref.table, child_columns,
                            row_key(conn, ref.oid),
                            child_capture_sql(ref, child_columns, parent.sql), how, parent.depth + 1,
                            child_capture_sql(ref, child_columns, parent.estimate_sql, lock=False))
            if how != "delete" and not child.key:
                raise NotCapturable(f"{ref.schema}.{ref.table} is changed by a cascade and has no "
                                    "primary key to put its rows back by")
            captures.append(child)
            follow(child, ref.oid, (*path, ref.oid))

    follow(main, oid, (oid,))
    if st.verb == "update" and not main.key:
        raise NotCapturable(f"{schema}.{name} has no primary key (or unique NOT NULL key) to put "
                            "updated rows back by")
    return captures, notes


def take_rows(vault: Vault, src: PgSource, conn: Conn, st: RowStatement, *,
              action_id: str | None, progress: Progress | None = None) -> tuple[Manifest, int]:
    """The before-image of every row the statement will touch, read in `conn`'s transaction.
    Returns the manifest and how many rows of the target table it holds (the statement must
    report the same count)."""
    progress = progress or NoProgress()
    captures, notes = plan_captures(conn, st)
    builder = vault.begin(kind="postgres-rows", resource=src.resource,
                          environment=src.environment, action_id=action_id)
    stats: dict[str, dict[str, Any]] = {}
    main_rows = 0
    progress.start(f"before-image of {captures[0].schema}.{captures[0].table}", None)
    try:
        for cap in captures:
            digest, rows = hashlib.sha256(), 0
            with builder.object(cap.object) as out, conn.cursor() as cur, \
                    cur.copy(f"COPY ({cap.sql}) TO STDOUT") as copy:
                for data in copy:
                    chunk = bytes(data)
                    out.write(chunk)
                    digest.update(chunk)
                    rows += chunk.count(b"\n")
                    progress.advance(len(chunk))
            stats[cap.object] = {"rows": rows, "sha256": digest.hexdigest()}
            if cap.depth == 0:
                main_rows = rows
    except psycopg.Error as exc:
        raise SnapshotError(f"reading the rows to protect failed: {str(exc).strip()}") from None
    except VaultError as exc:
        raise SnapshotError(f"writing the before-image failed: {exc.message}") from None
    finally:
        progress.done()
    source = {"engine": "postgres", "format": "copy-text", "database": src.conn.dbname,
              "selector": src.selector, "purpose": st.verb,
              "tables": [{"object": c.object, "schema": c.schema, "table": c.table,
                          "columns": [col.to_json() for col in c.columns], "key": list(c.key),
                          "how": c.how, "depth": c.depth} for c in captures],
              "notes": notes}
    main = captures[0]
    manifest = builder.commit(source=source, stats={"objects": stats},
                              summary=f"{main_rows} row(s) of {main.schema}.{main.table} before "
                                      f"{st.verb.upper()}")
    return manifest, main_rows


def describe_closure(closure: Closure) -> str:
    main = closure.relations[0]
    extra: list[str] = []
    parts = list(closure.tables[1:])
    views = [r for r in closure.relations if r.kind in ("v", "m")]
    if parts:
        extra.append(f"{len(parts)} partition/child table(s)")
    if views:
        extra.append(f"{len(views)} dependent view(s)")
    if closure.foreign_keys:
        extra.append(f"{len(closure.foreign_keys)} foreign key(s) from other tables")
    with_text = f" with {', '.join(extra)}" if extra else ""
    return (f"pg_dump of table {main.schema}.{main.name} (data, indexes, constraints, sequences, "
            f"grants){with_text}; expected ≈ {human_size(closure.size_bytes)} "
            "(catalog statistics)")


def qualified_names(relations: Iterable[Relation]) -> list[str]:
    return [qualified(r.schema, r.name) for r in relations]
