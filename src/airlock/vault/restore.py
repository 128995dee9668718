"""Restore in two steps: `plan_restore` (what will be created, what overwritten, whether every
object is intact) and `apply_restore` (refuses a plan with problems, and refuses to overwrite
anything unless forced). `undo` is the restore of the snapshots taken for one action.

Everything a restore needs is in the snapshot's manifest, so it works from the vault alone
(`airlock restore --vault LOCATION --key-file KEY --into TARGET`), with no airlock state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airlock.config import Config
from airlock.errors import InputError
from airlock.store import Store
from airlock.upstream.postgres import PgConn, postgres_of
from airlock.vault import quarantine
from airlock.vault.core import Vault
from airlock.vault.errors import RestoreError, VaultError
from airlock.vault.manifest import Manifest
from airlock.vault.progress import NoProgress, Progress
from airlock.vault.snapshot import files as files_snap
from airlock.vault.snapshot import pgrestore
from airlock.vault.snapshot import sqlite as sqlite_snap

PG_KINDS = ("postgres-rows", "postgres-table", "postgres-schema", "postgres-database",
            "postgres-quarantine")


@dataclass(frozen=True)
class RestoreTarget:
    description: str
    pg: PgConn | None = None
    path: Path | None = None


@dataclass(frozen=True)
class RestorePlan:
    manifest: Manifest
    target: RestoreTarget
    creates: tuple[str, ...] = ()
    overwrites: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # anything here and the restore is refused
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"snapshot": self.manifest.id, "kind": self.manifest.kind,
                "resource": self.manifest.resource, "summary": self.manifest.summary,
                "target": self.target.description, "creates": list(self.creates),
                "overwrites": list(self.overwrites), "steps": list(self.steps),
                "problems": list(self.problems)}


def resolve_target(manifest: Manifest, into: str | None, config: Config | None) -> RestoreTarget:
    """Where a snapshot goes back to: `--into` (a configured resource, a postgresql:// URL, a
    path), else the resource it was taken of."""
    pg_bin = config.vault.pg_bin if config is not None else None
    resource = None
    if config is not None:
        resource = config.resources.get(into or manifest.resource)
    if manifest.kind in PG_KINDS:
        if into is not None and into.startswith(("postgresql://", "postgres://")):
            pg = PgConn(into, pg_bin)
        elif resource is not None and resource.kind == "postgres" and resource.url is not None:
            assert config is not None  # the resource came from it
            pg = postgres_of(resource, config)
            if manifest.kind == "postgres-database" and into is None:
                pg = pg.with_dbname(str(manifest.source.get("database") or pg.dbname))
        else:
            raise InputError(f"cannot tell where to restore {manifest.id}: resource "
                             f"{into or manifest.resource!r} is not a configured postgres "
                             "resource", hint="give --into postgresql://USER@HOST/DB (password "
                             "in $PGPASSWORD) or a configured resource name")
        return RestoreTarget(f"database {pg.dbname} at {pg.shown}", pg=pg)
    if manifest.kind == "sqlite":
        if into is not None and (resource is None or resource.kind != "sqlite"):
            path = Path(into)
        elif resource is not None and resource.paths:
            path = Path(resource.paths[0])
        else:
            path = Path(str(manifest.source["path"]))
        return RestoreTarget(f"SQLite file {path}", path=path.absolute())
    if manifest.kind == "files":
        if into is not None and (resource is None or resource.kind != "path"):
            folder = Path(into)
        else:
            folder = Path(str(manifest.source["root"])).parent
        return RestoreTarget(f"folder {folder}", path=folder.absolute())
    raise RestoreError(f"snapshot {manifest.id} has unknown kind {manifest.kind!r}")


def plan_restore(vault: Vault, manifest: Manifest, target: RestoreTarget) -> RestorePlan:
    if vault.key is None:
        return RestorePlan(manifest, target, problems=(
            "reading a snapshot needs the vault key: give --key-file FILE or set "
            "$AIRLOCK_VAULT_KEY",))
    if vault.key.key_id != manifest.key_id:
        return RestorePlan(manifest, target, problems=(
            f"the snapshot was written with vault key {manifest.key_id}, but the key given is "
            f"{vault.key.key_id}",))
    integrity = vault.verify(manifest)
    if integrity:
        return RestorePlan(manifest, target, problems=tuple(
            f"snapshot is damaged: {p}" for p in integrity))
    kind = manifest.kind
    try:
        if kind == "postgres-rows":
            assert target.pg is not None
            plan = pgrestore.plan_rows(vault, manifest, target.pg)
            return RestorePlan(manifest, target, plan.creates, plan.overwrites, plan.steps,
                               plan.problems, plan.details)
        if kind in ("postgres-table", "postgres-schema", "postgres-database"):
            assert target.pg is not None
            plan = pgrestore.plan_dump(manifest, target.pg)
            return RestorePlan(manifest, target, plan.creates, plan.overwrites, plan.steps,
                               plan.problems)
        if kind == "postgres-quarantine":
            assert target.pg is not None
            creates, overwrites, problems = quarantine.plan_back(manifest, target.pg)
            return RestorePlan(manifest, target, tuple(creates), tuple(overwrites),
                               ("move the table back out of quarantine",), tuple(problems))
        assert target.path is not None
        if kind == "sqlite":
            creates, overwrites = sqlite_snap.plan_sqlite(manifest, target.path)
            return RestorePlan(manifest, target, tuple(creates), tuple(overwrites),
                               ("copy the database back with SQLite's backup API",))
        if kind == "files":
            creates, overwrites = files_snap.plan_files(vault, manifest, target.path)
            return RestorePlan(manifest, target, (f"{len(creates)} file(s)",) if creates else (),
                               tuple(overwrites), (f"extract into {target.path}",),
                               details={"creates": creates})
    except VaultError as exc:
        return RestorePlan(manifest, target, problems=(exc.message,))
    return RestorePlan(manifest, target, problems=(f"unknown snapshot kind {kind}",))


def apply_restore(vault: Vault, plan: RestorePlan, *, force: bool,
                  progress: Progress | None = None) -> None:
    progress = progress or NoProgress()
    manifest, target = plan.manifest, plan.target
    if plan.problems:
        raise RestoreError(f"restore of {manifest.id} refused: {'; '.join(plan.problems)}")
    if plan.overwrites and not force:
        shown = "; ".join(plan.overwrites[:5]) + (" …" if len(plan.overwrites) > 5 else "")
        raise RestoreError(f"restoring {manifest.id} would overwrite: {shown}",
                           hint="read the plan (--plan), then confirm or pass --force")
    kind = manifest.kind
    if kind == "postgres-rows":
        assert target.pg is not None
        pgrestore.apply_rows(vault, manifest, target.pg, force=force, progress=progress)
    elif kind in ("postgres-table", "postgres-schema", "postgres-database"):
        assert target.pg is not None
        pgrestore.apply_dump(vault, manifest, target.pg, force=force, progress=progress)
    elif kind == "postgres-quarantine":
        assert target.pg is not None
        quarantine.move_back(manifest, target.pg, force=force)
    elif kind == "sqlite":
        assert target.path is not None
        sqlite_snap.apply_sqlite(vault, manifest, target.path, force=force, progress=progress)
    elif kind == "files":
        assert target.path is not None
        files_snap.apply_files(vault, manifest, target.path, force=force, progress=progress)
    else:
        raise RestoreError(f"snapshot {manifest.id} has unknown kind {kind!r}")


def find_snapshot(vault: Vault, snapshot_id: str) -> Manifest:
    try:
        return vault.manifest(snapshot_id)
    except VaultError as exc:
        raise InputError(f"snapshot {snapshot_id}: {exc.message}",
                         hint="list snapshots with `airlock snapshots`") from None


def snapshots_of_action(vault: Vault, store: Store | None, action_id: str) -> list[Manifest]:
    """The snapshots taken for an action, newest first: from the catalog when there is one,
    else by reading every manifest in the vault."""
    ids: list[str] = []
    if store is not None:
        ids = [r.id for r in store.list_snapshots(action_id=action_id)]
    if ids:
        return [find_snapshot(vault, i) for i in ids]
    found = [m for m in vault.manifests() if m.action_id == action_id]
    return sorted(found, key=lambda m: m.created_at, reverse=True)
