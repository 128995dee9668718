"""Putting PostgreSQL snapshots back: plan (what will be created or overwritten), then apply.

Dumps are replayed by `psql --single-transaction` with ON_ERROR_STOP, so a restore lands whole
or not at all; the object stream is authenticated frame by frame on its way in, and a frame
that fails kills psql before its transaction can commit. Row before-images are loaded into a
temporary table first, which is how the plan counts the rows that already exist (conflicts),
and then inserted — or, with `force`, upserted over the existing rows by key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg

from airlock.upstream.postgres import PgConn
from airlock.vault.core import Vault
from airlock.vault.errors import RestoreError, VaultError
from airlock.vault.manifest import Manifest
from airlock.vault.progress import NoProgress, Progress
from airlock.vault.snapshot.pgcatalog import Column, ForeignKey, Relation
from airlock.vault.snapshot.pgcopy import CopyScanner, data_only
from airlock.vault.snapshot.pgtools import feed, qualified, quote_ident, streamed


@dataclass(frozen=True)
class PgPlan:
    creates: tuple[str, ...] = ()
    overwrites: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


def _exists(conn: psycopg.Connection[Any], rel: Relation) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (rel.qualified,)).fetchone()
    return bool(row and row[0])


def _fk_exists(conn: psycopg.Connection[Any], fk: ForeignKey) -> bool | None:
    """True/False for the constraint; None when its table is gone (it cannot be re-added)."""
    row = conn.execute("SELECT to_regclass(%s)", (qualified(fk.schema, fk.table),)).fetchone()
    if not row or row[0] is None:
        return None
    found = conn.execute("SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(%s) AND "
                         "conname = %s", (qualified(fk.schema, fk.table), fk.name)).fetchone()
    return found is not None


def _row_count(conn: psycopg.Connection[Any], rel: Relation) -> int:
    row = conn.execute(f"SELECT count(*) FROM {rel.qualified}").fetchone()
    return int(row[0]) if row else 0


# ---- dumps ------------------------------------------------------------------------------------


def plan_dump(manifest: Manifest, target: PgConn) -> PgPlan:
    relations = [Relation.from_json(r) for r in manifest.source.get("relations", [])]
    fks = [ForeignKey.from_json(f) for f in manifest.source.get("foreign_keys", [])]
    purpose = manifest.source.get("purpose", "drop")
    creates: list[str] = []
    overwrites: list[str] = []
    steps: list[str] = []
    problems: list[str] = []
    if manifest.kind == "postgres-database":
        with target.with_dbname("postgres").connect(autocommit=True) as conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                               (target.dbname,)).fetchone()
        if row is not None:
            problems.append(f"database {target.dbname} exists; restore a database snapshot into a "
                            "new database (--into postgresql://…/NEW_NAME)")
        else:
            creates.append(f"database {target.dbname}")
            steps.append(f"create database {target.dbname}, then replay the dump into it")
        return PgPlan(tuple(creates), (), tuple(steps), tuple(problems))
    with target.connect() as conn:
        if manifest.kind == "postgres-schema":
            schema = str(manifest.source["schema"])
            row = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
            (overwrites if row else creates).append(f"schema {schema}")
        for rel in relations:
            exists = _exists(conn, rel)
            name = f"{'view' if rel.kind in ('v', 'm') else 'table'} {rel.schema}.{rel.name}"
            if purpose == "drop":
                (overwrites if exists else creates).append(name)
            elif not exists:
                problems.append(f"{name} does not exist; its rows cannot be put back into it")
            elif rel.kind in ("r", "p") and _row_count(conn, rel):
                overwrites.append(f"{name} (not empty: its rows would be replaced)")
        for fk in fks:
            state = _fk_exists(conn, fk)
            if state is False:
                creates.append(f"foreign key {fk.name} on {fk.schema}.{fk.table}")
        conn.rollback()
    if purpose == "drop":
        steps.append("replay the dump (tables, data, indexes, constraints, sequences, grants, "
                     "views) in one transaction")
    else:
        steps.append("reload the rows into the existing table(s) in one transaction")
    if overwrites:
        steps.insert(0, "drop or empty what exists first (--force)")
    return PgPlan(tuple(creates), tuple(overwrites), tuple(steps), tuple(problems))


def _prelude(manifest: Manifest, target: PgConn, force: bool) -> bytes:
    if not force:
        return b""
    lines = []
    purpose = manifest.source.get("purpose", "drop")
    relations = [Relation.from_json(r) for r in manifest.source.get("relations", [])]
    if manifest.kind == "postgres-schema":
        lines.append(f"DROP SCHEMA IF EXISTS {quote_ident(str(manifest.source['schema']))} CASCADE;")
    for rel in reversed(relations):
        if purpose == "drop":
            what = {"v": "VIEW", "m": "MATERIALIZED VIEW", "f": "FOREIGN TABLE"}.get(rel.kind,
                                                                                    "TABLE")
            lines.append(f"DROP {what} IF EXISTS {rel.qualified} CASCADE;")
        elif rel.kind in ("r", "p"):
            lines.append(f"TRUNCATE {rel.qualified};")
    return ("\n".join(lines) + "\n").encode() if lines else b""


def _postlude(manifest: Manifest, target: PgConn) -> bytes:
    if manifest.source.get("purpose", "drop") != "drop":
        return b""
    fks = [ForeignKey.from_json(f) for f in manifest.source.get("foreign_keys", [])]
    if not fks:
        return b""
    with target.connect() as conn:
        wanted = [fk for fk in fks if _fk_exists(conn, fk) is False]
        conn.rollback()
    return ("\n".join(fk.sql() for fk in wanted) + "\n").encode() if wanted else b""


def apply_dump(vault: Vault, manifest: Manifest, target: PgConn, *, force: bool,
               progress: Progress | None = None,
               rewrite: Callable[[Iterator[bytes]], Iterator[bytes]] | None = None) -> None:
    """Replay a dump snapshot into `target`. `rewrite` (drills only) may change the dump's
    script on its way to psql."""
    progress = progress or NoProgress()
    if manifest.kind == "postgres-database":
        props = manifest.source.get("properties", {})
        options = ""
        if props:
            options = (f" TEMPLATE template0 ENCODING '{props['encoding']}' "
                       f"LC_COLLATE '{props['collate']}' LC_CTYPE '{props['ctype']}'")
        try:
            with target.with_dbname("postgres").connect(autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {quote_ident(target.dbname)}{options}")
        except psycopg.Error as exc:
            raise RestoreError(f"cannot create database {target.dbname}: {str(exc).strip()}") from None
    chunks: Iterator[bytes] = vault.chunks(manifest, "dump")
    if manifest.source.get("purpose", "drop") not in ("drop", "backup"):
        chunks = data_only(chunks)
    if rewrite is not None:
        chunks = rewrite(chunks)
    prelude = _prelude(manifest, target, force)
    postlude = _postlude(manifest, target)

    def stream() -> Iterator[bytes]:
        if prelude:
            yield prelude
        yield from chunks
        if postlude:
            yield postlude

    dsn, env = target.tool_args()
    command = [target.tool("psql"), "-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1",
               "--single-transaction", "--dbname", dsn, "-f", "-"]
    progress.start(f"restore {manifest.summary}", manifest.objects[0].content_size)
    try:
        feed(command, env, stream(), "psql (restore)", progress.advance)
    except VaultError as exc:
        if manifest.kind == "postgres-database":
            _drop_created(target)  # created a moment ago, holds nothing: do not leave it half
        raise RestoreError(f"restore of {manifest.id} failed and was rolled back: {exc.message}") \
            from None
    finally:
        progress.done()


def _drop_created(target: PgConn) -> None:
    try:
        with target.with_dbname("postgres").connect(autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(target.dbname)}")
    except (VaultError, psycopg.Error):
        pass  # the restore error is the one to report


def data_stats(target: PgConn, relations: list[Relation] | None = None,
               schema: str | None = None) -> dict[str, Any]:
    """Per-table row counts and COPY-data hashes, read the way the snapshot was (pg_dump)."""
    dsn, env = target.tool_args()
    args = [target.tool("pg_dump"), "--format=plain", "--data-only", "--no-password",
            "--dbname", dsn]
    if schema is not None:
        args += ["--schema", quote_ident(schema)]
    for rel in relations or []:
        if rel.kind in ("r", "p", "f", "m"):
            args += ["--table", rel.qualified]
    scanner = CopyScanner()
    with streamed(args, env, "pg_dump (verification)") as chunks:
        for chunk in chunks:
            scanner.feed(chunk)
    scanner.close()
    return scanner.stats()


# ---- row before-images ------------------------------------------------------------------------


@dataclass(frozen=True)
class RowsTable:
    object: str
    schema: str
    table: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    how: str
    depth: int

    @property
    def qualified(self) -> str:
        return qualified(self.schema, self.table)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> RowsTable:
        return cls(obj["object"], obj["schema"], obj["table"],
                   tuple(Column.from_json(c) for c in obj["columns"]), tuple(obj["key"]),
                   obj["how"], int(obj["depth"]))


def rows_tables(manifest: Manifest) -> list[RowsTable]:
    tables = [RowsTable.from_json(t) for t in manifest.source.get("tables", [])]
    return sorted(tables, key=lambda t: t.depth)


def _load_rows(vault: Vault, manifest: Manifest, conn: psycopg.Connection[Any],
               progress: Progress) -> PgPlan:
    """Load every captured table into a temporary table and count what already exists.
    Runs inside the caller's transaction."""
    creates: list[str] = []
    overwrites: list[str] = []
    problems: list[str] = []
    details: dict[str, Any] = {}
    for index, t in enumerate(rows_tables(manifest)):
        row = conn.execute("SELECT to_regclass(%s)", (t.qualified,)).fetchone()
        if not row or row[0] is None:
            problems.append(f"table {t.schema}.{t.table} does not exist; restore it first "
                            "(a table snapshot, or recreate it)")
            continue
        tmp = quote_ident(f"airlock_restore_{index}")
        cols = ", ".join(quote_ident(c.name) for c in t.columns)
        conn.execute(f"CREATE TEMP TABLE {tmp} (LIKE {t.qualified}) ON COMMIT DROP")
        with conn.cursor() as cur, cur.copy(f"COPY {tmp} ({cols}) FROM STDIN") as copy:
            for chunk in vault.chunks(manifest, t.object):
                copy.write(chunk)
                progress.advance(len(chunk))
        total_row = conn.execute(f"SELECT count(*) FROM {tmp}").fetchone()
        total = int(total_row[0]) if total_row else 0
        existing = 0
        if t.key:
            join = " AND ".join(f"t.{quote_ident(k)} = r.{quote_ident(k)}" for k in t.key)
            found = conn.execute(f"SELECT count(*) FROM {tmp} r JOIN {t.qualified} t ON {join}"
                                 ).fetchone()
            existing = int(found[0]) if found else 0
        name = f"{t.schema}.{t.table}"
        if total - existing:
            creates.append(f"{total - existing} row(s) of {name}")
        if existing:
            overwrites.append(f"{existing} existing row(s) of {name} (set back to their values "
                              "before the action)")
        details[t.object] = {"table": name, "rows": total, "existing": existing,
                             "temp": f"airlock_restore_{index}"}
    steps = ["insert the rows back" + (", overwriting existing rows by key (--force)"
                                       if overwrites else "") + ", in one transaction"]
    return PgPlan(tuple(creates), tuple(overwrites), tuple(steps), tuple(problems), details)


def plan_rows(vault: Vault, manifest: Manifest, target: PgConn) -> PgPlan:
    try:
        with target.connect() as conn:
            plan = _load_rows(vault, manifest, conn, NoProgress())
            conn.rollback()
    except psycopg.Error as exc:
        raise RestoreError(f"cannot plan the restore of {manifest.id}: {str(exc).strip()}") from None
    return plan


def apply_rows(vault: Vault, manifest: Manifest, target: PgConn, *, force: bool,
               progress: Progress | None = None) -> PgPlan:
    progress = progress or NoProgress()
    progress.start(f"restore {manifest.summary}", manifest.size)
    try:
        with target.connect() as conn:
            plan = _load_rows(vault, manifest, conn, progress)
            if plan.problems:
                raise RestoreError("; ".join(plan.problems))
            if plan.overwrites and not force:
                raise RestoreError(f"restoring {manifest.id} would overwrite "
                                   f"{'; '.join(plan.overwrites)}",
                                   hint="look at `airlock restore --plan`, then use --force")
            for index, t in enumerate(rows_tables(manifest)):
                tmp = quote_ident(f"airlock_restore_{index}")
                cols = ", ".join(quote_ident(c.name) for c in t.columns)
                sql = (f"INSERT INTO {t.qualified} ({cols}) OVERRIDING SYSTEM VALUE "
                       f"SELECT {cols} FROM {tmp}")
                if t.key and force:
                    rest = [c.name for c in t.columns if c.name not in t.key]
                    keys = ", ".join(quote_ident(k) for k in t.key)
                    if rest:
                        sets = ", ".join(f"{quote_ident(c)} = EXCLUDED.{quote_ident(c)}"
                                         for c in rest)
                        sql += f" ON CONFLICT ({keys}) DO UPDATE SET {sets}"
                    else:
                        sql += f" ON CONFLICT ({keys}) DO NOTHING"
                conn.execute(sql)
            conn.commit()
    except psycopg.Error as exc:
        raise RestoreError(f"restore of {manifest.id} failed and was rolled back: "
                           f"{str(exc).strip()}") from None
    finally:
        progress.done()
    return plan
