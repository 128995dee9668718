"""The vault as the gate's safety net: plan what a destructive action needs, then protect it.

`plan` runs when policy asks for a snapshot (and so before an approval is requested: approvers
see it). It only reads catalogs and sizes. Each destroyed target gets one step:

    target                                   step
    table (DELETE/UPDATE … WHERE, SQL)       postgres-rows       exact rows, in the transaction
    table, view, sequence (DROP/TRUNCATE)    postgres-table      pg_dump of its closure
    table (DROP, soft_drop, via airlock sql) postgres-soft-drop  moved to a quarantine schema
    schema / database                        postgres-schema / postgres-database
    anything in a sqlite resource            sqlite-backup       SQLite backup API
    a path in a path resource                files-archive       tar + zstd
    a cloud object (volume, bucket, …)       deferred-delete     held for the grace period
    anything else                            unprotected, with the reason (→ a human decides)

`protect` carries the steps out and returns the snapshot (or deferral) ids; any failure raises,
and the gate then does not run the action. `within(txn)` gives a net whose PostgreSQL steps run
inside an executing front's transaction (upstream/transaction.py) — the only way a
before-image is exact.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from airlock.config import Config, Resource
from airlock.model import Action, Assessment, Effect, ResolvedTarget, Risk, SqlQuery, Verb
from airlock.safety import Protection, ProtectionStep, SafetyPlan
from airlock.store import Store
from airlock.upstream.postgres import PgConn, postgres_of
from airlock.upstream.transaction import ProtectedTransaction
from airlock.vault import deferred, quarantine
from airlock.vault.core import Vault
from airlock.vault.errors import SnapshotError, VaultError
from airlock.vault.progress import NoProgress, Progress, human_size
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
from airlock.vault.stores.local import shares_filesystem

WHOLE_ACTION = "(the action as a whole)"
# Resource kinds whose contents airlock cannot copy: their deletion is deferred instead.
CLOUD_KINDS = frozenset({"volume", "bucket", "project", "service", "namespace", "api", "other"})
PG_RELATION_KINDS = frozenset({"table", "view", "materialized_view", "sequence"})
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", ""})
PLAN_CONNECT_TIMEOUT = 3  # seconds
# A configured resource whose backup could not be planned (its database did not answer): the
# step is planned again, and taken, just before the action runs — and if that fails, it does
# not run. A human approving never turns a failed backup of a protectable resource into none.
PLAN_AT_RUN = "plan-at-run"
_REMEMBERED = 256  # planned actions whose effects protect() may need again


def _needs_protection(effect: Effect) -> bool:
    if effect.verb is Verb.READ:
        return False
    if effect.risk.at_least(Risk.DESTRUCTIVE) or effect.verb in (Verb.DELETE, Verb.DESTROY):
        return True
    return effect.verb is Verb.WRITE and effect.scope == "rows"  # an UPDATE's old values


@dataclass(frozen=True)
class _Planned:
    step: ProtectionStep | None
    why_not: str = ""


class VaultNet:
    def __init__(self, *, config: Config, vault: Callable[[], Vault], store: Store,
                 txn: ProtectedTransaction | None = None,
                 progress: Progress | None = None) -> None:
        self.config = config
        self._vault = vault
        self.store = store
        self.txn = txn
        self.progress = progress or NoProgress()
        # action id → (effect, resource, targets) of steps planned as PLAN_AT_RUN
        self._replan: OrderedDict[tuple[str, str, str], tuple[Effect, Sequence[ResolvedTarget]]] = \
            OrderedDict()
        self._replan_lock = threading.Lock()

    def within(self, txn: ProtectedTransaction, progress: Progress | None = None) -> VaultNet:
        return VaultNet(config=self.config, vault=self._vault, store=self.store, txn=txn,
                        progress=progress or self.progress)

    # ---- plan ------------------------------------------------------------------------------

    def plan(self, action: Action, assessment: Assessment,
             targets: Sequence[ResolvedTarget]) -> SafetyPlan:
        steps: list[ProtectionStep] = []
        unprotected: list[tuple[str, str]] = []
        placed: dict[str, list[ResolvedTarget]] = {}
        for t in targets:
            placed.setdefault(t.target.key, []).append(t)
        seen: set[tuple[str, str]] = set()
        for effect in assessment.effects:
            if not _needs_protection(effect):
                continue
            mandatory = effect.risk.at_least(Risk.DESTRUCTIVE)
            if effect.target is None:
                if mandatory:
                    unprotected.append((WHOLE_ACTION, "airlock cannot tell what this part of the "
                                        "action touches, so it cannot back it up"))
                continue
            key = effect.target.key
            owners = [t for t in placed.get(key, []) if t.resource is not None]
            if not owners:
                if mandatory:
                    unprotected.append((key, "no configured resource owns it, so airlock holds no "
                                        "credentials to back it up"))
                continue
            for owner in owners:
                assert owner.resource is not None
                if (key, owner.resource) in seen:
                    continue
                seen.add((key, owner.resource))
                resource = self.config.resources[owner.resource]
                try:
                    planned = self._plan_one(action, effect, resource, targets)
                except Exception as exc:  # planning must never let an action through unplanned
                    planned = _Planned(ProtectionStep(
                        key, resource.name, PLAN_AT_RUN,
                        f"the backup could not be planned now ({exc}); it is planned and taken "
                        "just before the action runs, and if that fails the action does not run"))
                    self._remember(action.id, key, resource.name, effect, targets)
                if planned.step is not None:
                    steps.append(planned.step)
                elif planned.why_not and mandatory:
                    unprotected.append((key, planned.why_not))
        return SafetyPlan(tuple(steps), tuple(dict.fromkeys(unprotected)))

    def _plan_one(self, action: Action, effect: Effect, resource: Resource,
                  targets: Sequence[ResolvedTarget]) -> _Planned:
        assert effect.target is not None
        target = effect.target
        if resource.kind == "postgres":
            return self._plan_postgres(action, effect, resource)
        if resource.kind == "sqlite":
            path = Path(resource.paths[0])
            shared = self._same_filesystem(path)
            if shared:
                return _Planned(None, shared)
            db_size = path.stat().st_size if path.exists() else 0
            return _Planned(ProtectionStep(target.key, resource.name, "sqlite-backup",
                                           f"SQLite online backup of {path}; expected ≈ "
                                           f"{human_size(db_size)}"))
        if resource.kind == "path":
            root = self._archive_root(target.value, action, resource)
            shared = self._same_filesystem(root)
            if shared:
                return _Planned(None, shared)
            size: int | None = files_snap.estimate_size(root) if root.exists() else 0
            shown = human_size(size) if size is not None else "unknown (a very large tree)"
            return _Planned(ProtectionStep(target.key, resource.name, "files-archive",
                                           f"tar + zstd of {root} with its metadata; expected "
                                           f"≈ {shown}", ))
        if resource.kind in CLOUD_KINDS and effect.verb in (Verb.DESTROY, Verb.DELETE):
            grace = self.config.vault.for_resource(resource.name).grace or self.config.vault.grace
            return _Planned(ProtectionStep(
                target.key, resource.name, deferred.METHOD,
                f"{resource.kind} contents cannot be copied: the approved call is held for "
                f"{_hours(grace)} and then carried out, unless cancelled (`airlock deferred`, "
                "`airlock cancel ID`)"))
        return _Planned(None, f"airlock has no snapshotter for a {resource.kind} resource")

    def _plan_postgres(self, action: Action, effect: Effect, resource: Resource) -> _Planned:
        assert effect.target is not None
        target = effect.target
        kind, value = target.kind, target.value
        pg = self._pg(resource)
        local = pg.host in LOCAL_HOSTS or pg.host.startswith("/")
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
                elif (shared := self._same_filesystem(Path(datadir))):
                    return _Planned(None, shared)
            if kind in PG_RELATION_KINDS:
                rows = self._plan_rows(action, effect, resource, conn)
                if rows is None:
                    return _Planned(None, "")  # an INSERT: nothing is destroyed
                if isinstance(rows, ProtectionStep):
                    return _Planned(_with_note(rows, note))
                closure = table_closure(conn, value)
                if (self.txn is not None and effect.verb is Verb.DESTROY and effect.scope == "table"
                        and self.config.vault.for_resource(resource.name).soft_drop
                        and isinstance(action.payload, SqlQuery)
                        and quarantine.is_plain_drop_table(action.payload.text)
                        and len(closure.relations) == 1 and not closure.foreign_keys):
                    return _Planned(ProtectionStep(
                        target.key, resource.name, "postgres-soft-drop",
                        "soft drop: the table is moved to schema airlock_quarantine instead of "
                        "dropped and purged after the grace period; undo is instant" + note))
                method = "postgres-table" if effect.verb is Verb.DESTROY else "postgres-table-data"
                if method == "postgres-table-data":
                    closure = with_referencing_tables(conn, closure)
                why = f" ({rows})" if rows else ""
                return _Planned(ProtectionStep(target.key, resource.name, method,
                                               pg_snap.describe_closure(closure) + why + note))
            if kind == "schema":
                outside = schema_closure(conn, _unquote(value))
                return _Planned(ProtectionStep(
                    target.key, resource.name, "postgres-schema",
                    f"pg_dump of schema {_unquote(value)} with what depends on it elsewhere; "
                    f"expected ≈ {human_size(outside.size_bytes)} (catalog statistics){note}"))
            if kind in ("database", "postgres"):
                dbname = _unquote(value) if kind == "database" else value.rsplit("/", 1)[-1]
                if dbname in ("", "?"):
                    return _Planned(None, "the database it names cannot be identified")
                size = database_size(conn, dbname)
                return _Planned(ProtectionStep(
                    target.key, resource.name, "postgres-database",
                    f"pg_dump of database {dbname}; expected ≈ {human_size(size)} (catalog "
                    f"statistics){note}"))
        return _Planned(None, f"airlock has no snapshotter for a PostgreSQL {kind}; take a "
                              f"database backup first (`airlock backup {resource.name}`)")

    def _plan_rows(self, action: Action, effect: Effect, resource: Resource,
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
            rows, size = pg_snap.estimate_rows(conn, captures[0].sql)
        except (NotCapturable, VaultError) as exc:
            conn.rollback()
            return f"an exact before-image is not possible: {exc}"
        except psycopg.Error as exc:
            conn.rollback()
            return f"an exact before-image could not be planned: {str(exc).strip()}"
        conn.rollback()
        main = captures[0]
        cascades = f", plus {len(captures) - 1} table(s) its cascades reach" if len(captures) > 1 else ""
        exact = ("in the statement's own transaction (exact)" if self.txn is not None else
                 "just before the statement runs (not in its transaction: rows changed in between "
                 "are not captured)")
        detail = (f"before-image of the rows of {main.schema}.{main.table} the {st.verb.upper()} "
                  f"touches{cascades}, {exact}; expected ≈ {rows} row(s), {human_size(size)} "
                  "(planner statistics)")
        if notes:
            detail += "; note: " + "; ".join(notes)
        return ProtectionStep(effect.target.key, resource.name, "postgres-rows", detail)

    # ---- protect ---------------------------------------------------------------------------

    def protect(self, action: Action, plan: SafetyPlan) -> Protection:
        protection = Protection()
        for step in plan.steps:
            try:
                taken = self._protect_one(action, step)
                protection = Protection(
                    (*protection.ids, *taken.ids),
                    taken.expected_rows if taken.expected_rows is not None
                    else protection.expected_rows,
                    protection.done or taken.done)
            except SnapshotError:
                raise
            except VaultError as exc:
                raise SnapshotError(f"{step.method} of {step.target}: {exc.message}") from None
            except psycopg.Error as exc:
                raise SnapshotError(f"{step.method} of {step.target}: {str(exc).strip()}") from None
        return protection

    def _remember(self, action_id: str, key: str, resource: str, effect: Effect,
                  targets: Sequence[ResolvedTarget]) -> None:
        with self._replan_lock:
            self._replan[(action_id, key, resource)] = (effect, targets)
            while len(self._replan) > _REMEMBERED:
                self._replan.popitem(last=False)

    def _protect_one(self, action: Action, step: ProtectionStep) -> Protection:
        if step.resource is None:
            raise SnapshotError(f"{step.target}: no resource to protect it in")
        resource = self.config.resources[step.resource]
        if step.method == PLAN_AT_RUN:
            with self._replan_lock:
                remembered = self._replan.pop((action.id, step.target, resource.name), None)
            if remembered is None:
                raise SnapshotError(f"the backup of {step.target} was never planned for this "
                                    "action; it does not run")
            effect, targets = remembered
            try:
                planned = self._plan_one(action, effect, resource, targets)
            except Exception as exc:
                raise SnapshotError(f"the backup of {step.target} in {resource.name} still "
                                    f"cannot be planned ({exc}); the action does not run") from None
            if planned.step is None:
                raise SnapshotError(f"the backup of {step.target} in {resource.name} cannot be "
                                    f"taken ({planned.why_not or 'no step'}); the action does not run")
            return self._protect_one(action, planned.step)
        kind, _, value = step.target.partition(":")
        if step.method == deferred.METHOD:
            grace = self.config.vault.for_resource(resource.name).grace or self.config.vault.grace
            return Protection((deferred.defer(self.store, action, target=step.target,
                                              resource=resource.name, grace=grace).id,))
        vault = self._vault()
        if step.method == "sqlite-backup":
            return Protection((sqlite_snap.take_sqlite(vault, resource=resource.name,
                                                       environment=resource.environment,
                                                       path=Path(resource.paths[0]),
                                                       action_id=action.id,
                                                       progress=self.progress).id,))
        if step.method == "files-archive":
            root = self._archive_root(value, action, resource)
            return Protection((files_snap.take_files(vault, resource=resource.name,
                                                     environment=resource.environment, root=root,
                                                     action_id=action.id,
                                                     progress=self.progress).id,))
        if step.method.startswith("postgres-"):
            return self._protect_postgres(vault, action, step, resource, kind, value)
        raise SnapshotError(f"unknown protection method {step.method}")

    def _protect_postgres(self, vault: Vault, action: Action, step: ProtectionStep,
                          resource: Resource, kind: str, value: str) -> Protection:
        pg = self._pg(resource)
        src = pg_snap.PgSource(resource.name, resource.environment, pg, _selector(resource))
        txn = self.txn if self.txn is not None and self.txn.resource == resource.name else None
        if step.method == "postgres-database":
            dbname = _unquote(value) if kind == "database" else value.rsplit("/", 1)[-1]
            return Protection((pg_snap.take_database(vault, src, purpose="drop",
                                                     action_id=action.id, dbname=dbname,
                                                     progress=self.progress).id,))
        conn = txn.conn if txn is not None else pg.connect()
        try:
            if step.method == "postgres-rows":
                assert isinstance(action.payload, SqlQuery)
                st = parse_row_statement(action.payload.text)
                if txn is None:
                    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
                manifest, rows = pg_snap.take_rows(vault, src, conn, st, action_id=action.id,
                                                   progress=self.progress)
                # in the statement's transaction, the executor holds it to this count
                return Protection((manifest.id,), rows if txn is not None else None)
            if step.method == "postgres-schema":
                return Protection((pg_snap.take_schema(vault, src, conn, _unquote(value),
                                                       action_id=action.id,
                                                       progress=self.progress).id,))
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
                return Protection((self._soft_drop(vault, src, txn, closure, action),), done=True)
            return Protection((pg_snap.take_closure(vault, src, closure, purpose=purpose,
                                                    action_id=action.id,
                                                    what=f"table {main.schema}.{main.name}",
                                                    progress=self.progress).id,))
        finally:
            if txn is None:
                conn.rollback()
                conn.close()

    def _soft_drop(self, vault: Vault, src: pg_snap.PgSource, txn: ProtectedTransaction,
                   closure: Closure, action: Action) -> str:
        return quarantine.move(vault, src, txn, closure.relations[0], action.id,
                               self.config.vault.for_resource(src.resource).grace
                               or self.config.vault.grace)

    # ---- helpers ---------------------------------------------------------------------------

    def _pg(self, resource: Resource) -> PgConn:
        return postgres_of(resource, self.config)

    def _archive_root(self, value: str, action: Action, resource: Resource) -> Path:
        """What to archive for a path target: the target itself when it is inside the
        resource, else the resource's folder (a command on `/srv` destroys `/srv/data`)."""
        path = Path(os.path.normpath(os.path.join(action.context.cwd or os.getcwd(),
                                                  os.path.expanduser(value))))
        for root in resource.paths:
            if str(path) == root or str(path).startswith(root.rstrip("/") + "/"):
                return path if not any(c in str(path) for c in "*?[") else Path(root)
        return Path(resource.paths[0])

    def _same_filesystem(self, path: Path) -> str:
        """Why the vault may not protect `path` (it would die with it), or ''."""
        try:
            store = self._vault().store
        except VaultError as exc:
            return f"the vault is unavailable: {exc.message}"
        return shares_filesystem(store, path)


def _with_note(step: ProtectionStep, note: str) -> ProtectionStep:
    return ProtectionStep(step.target, step.resource, step.method, step.detail + note) if note else step


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if len(name) > 1 and name[0] == name[-1] == '"' else name


def _selector(resource: Resource) -> str:
    return next((s for s in resource.selectors if s.startswith("postgres:")), "")


def _hours(delta: Any) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours >= 1 else f"{delta.total_seconds() / 60:.0f} minutes"
