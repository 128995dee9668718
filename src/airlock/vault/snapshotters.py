"""The snapshotters the vault's safety net can use, tried in order (`SNAPSHOTTERS`).

Each is one kind of backup. `plan` looks at one destroyed target of one resource and answers
with a step (a backup it will take, sized from catalogs only), a reason it cannot protect it,
or None when that resource or effect is not its business (the next one is asked). `capture`
carries out a step of one of its `methods` and returns the `Protection` taken; any failure
raises, and the action does not run.

    PostgresSnapshotter  postgres-rows (exact before-image, in the statement's transaction when
                         there is one), postgres-table / -table-data (pg_dump of the closure),
                         postgres-soft-drop, postgres-schema, postgres-database
    SqliteSnapshotter    sqlite-backup (SQLite's online backup API)
    FilesSnapshotter     files-archive (tar + zstd of a folder)
    DeferredDelete       deferred-delete: cloud objects cannot be copied; the approved call waits
                         out a grace period and can be cancelled

A new kind of resource gets its own snapshotter here, added to `SNAPSHOTTERS`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import psycopg

from airlock.config import Resource
from airlock.model import Action, Effect, Risk, SqlQuery, Verb
from airlock.safety import DEFERRED_METHOD, Protection, ProtectionStep
from airlock.upstream.transaction import ProtectedTransaction
from airlock.vault import deferred, quarantine
from airlock.vault.errors import SnapshotError, VaultError
from airlock.vault.locality import is_this_machine
from airlock.vault.progress import human_size
from airlock.vault.snapshot import files as files_snap
from airlock.vault.snapshot import postgres as pg_snap
from airlock.vault.snapshot import sqlite as sqlite_snap
from airlock.vault.snapshot.pgcatalog import (
    Closure,
    data_directory,
    database_size,
    schema_closure,
    table_closure,
    with_referencing_tables,
)
from airlock.vault.snapshot.pgrows import NotCapturable, inserts_only, parse_row_statement

if TYPE_CHECKING:
    from airlock.vault.core import Vault
    from airlock.vault.net import VaultNet

__all__ = ["SNAPSHOTTERS", "DeferredDelete", "FilesSnapshotter", "Planned", "PostgresSnapshotter",
           "Snapshotter", "SqliteSnapshotter", "snapshotter_for"]

# Resource kinds whose contents airlock cannot copy: their deletion is deferred instead.
CLOUD_KINDS = frozenset({"volume", "bucket", "project", "service", "namespace", "api", "other"})
PG_RELATION_KINDS = frozenset({"table", "view", "materialized_view", "sequence"})
PLAN_CONNECT_TIMEOUT = 3  # seconds


@dataclass(frozen=True)
class Planned:
    """A snapshotter's answer for one target: the step, or why it cannot be protected."""

    step: ProtectionStep | None
    why_not: str = ""


class Snapshotter(Protocol):
    methods: frozenset[str]  # the step methods `capture` carries out

    def plan(self, net: VaultNet, action: Action, effect: Effect,
             resource: Resource) -> Planned | None:
        """A step for `effect.target` in `resource`, why none is possible, or None: not mine."""
        ...

    def capture(self, net: VaultNet, action: Action, step: ProtectionStep,
                resource: Resource) -> Protection:
        """Take and verify the step's backup, or raise."""
        ...


class PostgresSnapshotter:
    methods = frozenset({"postgres-rows", "postgres-table", "postgres-table-data",
                         "postgres-soft-drop", "postgres-schema", "postgres-database"})

    def plan(self, net: VaultNet, action: Action, effect: Effect,
             resource: Resource) -> Planned | None:
        if resource.kind != "postgres":
            return None
        assert effect.target is not None
        target = effect.target
        kind, value = target.kind, target.value
        pg = net.postgres(resource)
        local = is_this_machine(pg.host)  # 127.0.0.2 or the machine's own name are local too
        note = ""
        # Plans run while a hook or an agent waits for an answer: a database that does not
        # answer quickly gets a PLAN_AT_RUN step (planned and taken just before the action
        # runs, or the action does not run), never a long wait.
        with pg.connect(timeout=PLAN_CONNECT_TIMEOUT) as conn:
            if local:
                datadir = data_directory(conn)
                if datadir is None:
                    note = ("; could not check whether the vault shares a disk with this database "
                            "(the role may not read data_directory)")
                elif (shared := net.same_filesystem(Path(datadir))):
                    return Planned(None, shared)
            if kind in PG_RELATION_KINDS:
                rows = self._plan_rows(net, action, effect, resource, conn)
                if rows is None:
                    return Planned(None, "")  # an INSERT: nothing is destroyed
                if isinstance(rows, ProtectionStep):
                    return Planned(_with_note(rows, note))
                closure = table_closure(conn, value)
                if (net.txn is not None and effect.verb is Verb.DESTROY and effect.scope == "table"
                        and net.config.vault.for_resource(resource.name).soft_drop
                        and isinstance(action.payload, SqlQuery)
                        and quarantine.is_plain_drop_table(action.payload.text)
                        and len(closure.relations) == 1 and not closure.foreign_keys):
                    return Planned(ProtectionStep(
                        target.key, resource.name, "postgres-soft-drop",
                        "soft drop: the table is moved to schema airlock_quarantine instead of "
                        "dropped and purged after the grace period; undo is instant" + note))
                method = "postgres-table" if effect.verb is Verb.DESTROY else "postgres-table-data"
                if method == "postgres-table-data":
                    closure = with_referencing_tables(conn, closure)
                why = f" ({rows})" if rows else ""
                return Planned(ProtectionStep(target.key, resource.name, method,
                                              pg_snap.describe_closure(closure) + why + note))
            if kind == "schema":
                outside = schema_closure(conn, _unquote(value))
                # DROP SCHEMA … CASCADE reaches views (and foreign keys) in other schemas: name
                # them, so the approver sees the damage outside the schema too
                names = [f"{r.schema}.{r.name}" for r in outside.relations]
                reaches = (f"; CASCADE also drops {', '.join(names[:10])}"
                           + (f" and {len(names) - 10} more" if len(names) > 10 else "")
                           + " in other schemas") if names else ""
                return Planned(ProtectionStep(
                    target.key, resource.name, "postgres-schema",
                    f"pg_dump of schema {_unquote(value)} with what depends on it elsewhere; "
                    f"expected ≈ {human_size(outside.size_bytes)} (catalog statistics)"
                    f"{reaches}{note}"))
            if kind in ("database", "postgres"):
                dbname = _unquote(value) if kind == "database" else value.rsplit("/", 1)[-1]
                if dbname in ("", "?"):
                    return Planned(None, "the database it names cannot be identified")
                size = database_size(conn, dbname)
                return Planned(ProtectionStep(
                    target.key, resource.name, "postgres-database",
                    f"pg_dump of database {dbname}; expected ≈ {human_size(size)} (catalog "
                    f"statistics){note}"))
        return Planned(None, f"airlock has no snapshotter for a PostgreSQL {kind}; take a "
                             f"database backup first (`airlock backup {resource.name}`)")

    def _plan_rows(self, net: VaultNet, action: Action, effect: Effect, resource: Resource,
                   conn: psycopg.Connection[Any]) -> ProtectionStep | str | None:
        """For an effect on rows: a rows step when the statement allows an exact before-image,
        else why not (the whole table is dumped instead); None when nothing is destroyed."""
        if effect.scope != "rows" or effect.target is None:
            return ""
        if not isinstance(action.payload, SqlQuery):
            if effect.verb is Verb.WRITE and not effect.risk.at_least(Risk.DESTRUCTIVE):
                return None  # cannot tell an UPDATE from an INSERT here; nothing mandatory
            return ("the statement cannot be read out of a shell command, so the whole table "
                    "is dumped; exact row before-images need `airlock sql` or the wire proxy")
        if effect.verb is Verb.WRITE and inserts_only(action.payload.text):
            return None
        try:
            st = parse_row_statement(action.payload.text)
            captures, notes = pg_snap.plan_captures(conn, st)
            reach = pg_snap.estimate_reach(conn, captures)
        except (NotCapturable, VaultError) as exc:
            conn.rollback()
            return f"an exact before-image is not possible: {exc}"
        except psycopg.Error as exc:
            conn.rollback()
            return f"an exact before-image could not be planned: {str(exc).strip()}"
        conn.rollback()
        main = captures[0]
        cascades = f", plus {len(captures) - 1} table(s) its cascades reach" if len(captures) > 1 else ""
        exact = ("in the statement's own transaction (exact)" if net.txn is not None else
                 "just before the statement runs (not in its transaction: rows changed in between "
                 "are not captured)")
        expected = ", ".join(f"{t.table} ≈ {t.rows} row(s)" + (f" ({t.how})" if t.depth else "")
                             for t in reach)
        size = sum(t.bytes for t in reach)
        detail = (f"before-image of the rows of {main.schema}.{main.table} the {st.verb.upper()} "
                  f"touches{cascades}, {exact}; expected {expected}, {human_size(size)} "
                  "(planner statistics)")
        if notes:
            detail += "; note: " + "; ".join(notes)
        return ProtectionStep(effect.target.key, resource.name, "postgres-rows", detail, reach)

    def capture(self, net: VaultNet, action: Action, step: ProtectionStep,
                resource: Resource) -> Protection:
        kind, _, value = step.target.partition(":")
        vault = net.vault()
        pg = net.postgres(resource)
        src = pg_snap.PgSource(resource.name, resource.environment, pg, _selector(resource))
        txn = net.txn if net.txn is not None and net.txn.resource == resource.name else None
        if step.method == "postgres-database":
            dbname = _unquote(value) if kind == "database" else value.rsplit("/", 1)[-1]
            return Protection((pg_snap.take_database(vault, src, purpose="drop",
                                                     action_id=action.id, dbname=dbname,
                                                     progress=net.progress).id,))
        conn = txn.conn if txn is not None else pg.connect()
        try:
            if step.method == "postgres-rows":
                assert isinstance(action.payload, SqlQuery)
                st = parse_row_statement(action.payload.text)
                if txn is None:
                    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
                manifest, rows = pg_snap.take_rows(vault, src, conn, st, action_id=action.id,
                                                   progress=net.progress)
                # in the statement's transaction, the executor holds it to this count
                return Protection((manifest.id,), rows if txn is not None else None)
            if step.method == "postgres-schema":
                return Protection((pg_snap.take_schema(vault, src, conn, _unquote(value),
                                                       action_id=action.id,
                                                       progress=net.progress).id,))
            closure = table_closure(conn, value)
            main = closure.relations[0]
            purpose = "drop" if step.method == "postgres-table" else "truncate"
            if purpose == "truncate":
                # TRUNCATE … CASCADE empties the tables that reference it too: keep their rows
                closure = with_referencing_tables(conn, closure)
            if txn is not None:
                # writers wait from here until the statement has run: the dump is exact
                txn.lock_share([r.qualified for r in closure.tables])
            if step.method == "postgres-soft-drop":
                if txn is None:
                    raise SnapshotError("soft drop needs the statement's own transaction")
                return Protection((self._soft_drop(net, vault, src, txn, closure, action),),
                                  done=True)
            return Protection((pg_snap.take_closure(vault, src, closure, purpose=purpose,
                                                    action_id=action.id,
                                                    what=f"table {main.schema}.{main.name}",
                                                    progress=net.progress).id,))
        finally:
            if txn is None:
                conn.rollback()
                conn.close()

    def _soft_drop(self, net: VaultNet, vault: Vault, src: pg_snap.PgSource,
                   txn: ProtectedTransaction, closure: Closure, action: Action) -> str:
        return quarantine.move(vault, src, txn, closure.relations[0], action.id,
                               net.config.vault.for_resource(src.resource).grace
                               or net.config.vault.grace)


class SqliteSnapshotter:
    methods = frozenset({"sqlite-backup"})

    def plan(self, net: VaultNet, action: Action, effect: Effect,
             resource: Resource) -> Planned | None:
        if resource.kind != "sqlite":
            return None
        assert effect.target is not None
        path = Path(resource.paths[0])
        shared = net.same_filesystem(path)
        if shared:
            return Planned(None, shared)
        db_size = path.stat().st_size if path.exists() else 0
        return Planned(ProtectionStep(effect.target.key, resource.name, "sqlite-backup",
                                      f"SQLite online backup of {path}; expected ≈ "
                                      f"{human_size(db_size)}"))

    def capture(self, net: VaultNet, action: Action, step: ProtectionStep,
                resource: Resource) -> Protection:
        return Protection((sqlite_snap.take_sqlite(net.vault(), resource=resource.name,
                                                   environment=resource.environment,
                                                   path=Path(resource.paths[0]),
                                                   action_id=action.id,
                                                   progress=net.progress).id,))


class FilesSnapshotter:
    methods = frozenset({"files-archive"})

    def plan(self, net: VaultNet, action: Action, effect: Effect,
             resource: Resource) -> Planned | None:
        if resource.kind != "path":
            return None
        assert effect.target is not None
        root = archive_root(effect.target.value, action, resource)
        shared = net.same_filesystem(root)
        if shared:
            return Planned(None, shared)
        size: int | None = files_snap.estimate_size(root) if root.exists() else 0
        shown = human_size(size) if size is not None else "unknown (a very large tree)"
        return Planned(ProtectionStep(effect.target.key, resource.name, "files-archive",
                                      f"tar + zstd of {root} with its metadata; expected "
                                      f"≈ {shown}"))

    def capture(self, net: VaultNet, action: Action, step: ProtectionStep,
                resource: Resource) -> Protection:
        _, _, value = step.target.partition(":")
        root = archive_root(value, action, resource)
        return Protection((files_snap.take_files(net.vault(), resource=resource.name,
                                                 environment=resource.environment, root=root,
                                                 action_id=action.id,
                                                 progress=net.progress).id,))


class DeferredDelete:
    """Not a copy: a cloud object's deletion waits out the grace period, cancellable."""

    methods = frozenset({DEFERRED_METHOD})

    def plan(self, net: VaultNet, action: Action, effect: Effect,
             resource: Resource) -> Planned | None:
        if resource.kind not in CLOUD_KINDS or effect.verb not in (Verb.DESTROY, Verb.DELETE):
            return None
        assert effect.target is not None
        return Planned(ProtectionStep(
            effect.target.key, resource.name, deferred.METHOD,
            f"{resource.kind} contents cannot be copied: the approved call is held for "
            f"{_hours(net.grace_of(resource))} and then carried out, unless cancelled "
            "(`airlock deferred`, `airlock cancel ID`)"))

    def capture(self, net: VaultNet, action: Action, step: ProtectionStep,
                resource: Resource) -> Protection:
        return Protection((deferred.defer(net.store, action, target=step.target,
                                          resource=resource.name,
                                          grace=net.grace_of(resource)).id,))


# Tried in this order for each destroyed target; the first that answers plans it.
SNAPSHOTTERS: tuple[Snapshotter, ...] = (PostgresSnapshotter(), SqliteSnapshotter(),
                                         FilesSnapshotter(), DeferredDelete())


def snapshotter_for(method: str,
                    snapshotters: tuple[Snapshotter, ...] = SNAPSHOTTERS) -> Snapshotter | None:
    return next((s for s in snapshotters if method in s.methods), None)


def archive_root(value: str, action: Action, resource: Resource) -> Path:
    """What to archive for a path target: the target itself when it is inside the
    resource, else the resource's folder (a command on `/srv` destroys `/srv/data`)."""
    path = Path(os.path.normpath(os.path.join(action.context.cwd or os.getcwd(),
                                              os.path.expanduser(value))))
    for root in resource.paths:
        if str(path) == root or str(path).startswith(root.rstrip("/") + "/"):
            return path if not any(c in str(path) for c in "*?[") else Path(root)
    return Path(resource.paths[0])


def _with_note(step: ProtectionStep, note: str) -> ProtectionStep:
    return ProtectionStep(step.target, step.resource, step.method, step.detail + note) if note else step


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if len(name) > 1 and name[0] == name[-1] == '"' else name


def _selector(resource: Resource) -> str:
    return next((s for s in resource.selectors if s.startswith("postgres:")), "")


def _hours(delta: Any) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours >= 1 else f"{delta.total_seconds() / 60:.0f} minutes"


