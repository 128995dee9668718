"""Backups on demand (`airlock backup RESOURCE`) and on schedule (`backup_schedule = "24h"`
per resource; `airlock up` takes the due ones each minute, and `airlock backup --due` does the
same from cron or a systemd timer when airlock does not run as a service)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from airlock.audit import AuditLog
from airlock.config import Config, Resource
from airlock.errors import InputError
from airlock.model import utcnow
from airlock.store import Store
from airlock.upstream.postgres import postgres_of
from airlock.vault.core import Vault
from airlock.vault.errors import VaultError
from airlock.vault.manifest import Manifest
from airlock.vault.progress import Progress
from airlock.vault.snapshot import files as files_snap
from airlock.vault.snapshot import postgres as pg_snap
from airlock.vault.snapshot import sqlite as sqlite_snap
from airlock.vault.snapshot.pgcatalog import data_directory
from airlock.vault.stores.local import shares_filesystem

BACKUP_KINDS = ("postgres", "sqlite", "path")


def backup_resource(vault: Vault, config: Config, name: str,
                    progress: Progress | None = None) -> Manifest:
    resource = config.resources.get(name)
    if resource is None:
        raise InputError(f"resource {name!r} is not configured in {config.source}")
    return _backup(vault, config, resource, progress)


def _backup(vault: Vault, config: Config, resource: Resource,
            progress: Progress | None) -> Manifest:
    for path in resource.paths:
        problem = shares_filesystem(vault.store, Path(path))
        if problem:
            raise VaultError(f"not backing up {resource.name}: {problem}")
    if resource.kind == "postgres" and resource.url is not None:
        pg = postgres_of(resource, config)
        if pg.host in ("localhost", "127.0.0.1", "::1", "") or pg.host.startswith("/"):
            with pg.connect() as conn:
                datadir = data_directory(conn)
            problem = shares_filesystem(vault.store, Path(datadir)) if datadir else ""
            if problem:
                raise VaultError(f"not backing up {resource.name}: {problem}")
        selector = next((s for s in resource.selectors if s.startswith("postgres:")), "")
        src = pg_snap.PgSource(resource.name, resource.environment, pg, selector)
        return pg_snap.take_database(vault, src, purpose="backup", action_id=None,
                                     progress=progress)
    if resource.kind == "sqlite":
        return sqlite_snap.take_sqlite(vault, resource=resource.name,
                                       environment=resource.environment,
                                       path=Path(resource.paths[0]), action_id=None,
                                       progress=progress)
    if resource.kind == "path":
        return files_snap.take_files(vault, resource=resource.name,
                                     environment=resource.environment,
                                     root=Path(resource.paths[0]), action_id=None,
                                     progress=progress)
    raise InputError(f"resource {resource.name} is a {resource.kind} resource; airlock backs up "
                     f"{', '.join(BACKUP_KINDS)} resources")


def due(config: Config, store: Store, now: datetime | None = None) -> list[str]:
    """Resources whose `backup_schedule` says a backup is due (none yet, or the newest is older
    than the interval)."""
    now = now or utcnow()
    names = []
    for name, settings in config.vault.resources.items():
        if settings.backup_schedule is None:
            continue
        newest = next((s for s in store.list_snapshots(resource=name, limit=50)
                       if s.action_id is None), None)
        if newest is None or datetime.fromisoformat(newest.created_at) + settings.backup_schedule <= now:
            names.append(name)
    return names


def take_due(vault: Vault, config: Config, store: Store, audit: AuditLog,
             now: datetime | None = None) -> list[Manifest]:
    """Take every scheduled backup that is due (what `airlock up` does each minute). A failure
    is recorded and the next round tries again; one resource failing does not stop the others."""
    taken: list[Manifest] = []
    for name in due(config, store, now):
        try:
            manifest = backup_resource(vault, config, name)
        except Exception as exc:
            audit.record("backup_failed", None, {"resource": name, "error": repr(exc)[:2000],
                                                 "scheduled": True})
            continue
        audit.record("backup", None, {"resource": name, "snapshot": manifest.id,
                                      "size": manifest.size, "scheduled": True})
        taken.append(manifest)
    return taken
