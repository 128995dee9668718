"""What lies inside the configured resources, asked of the resources themselves.

PostgreSQL: schemas, tables, views, their sizes and row estimates, foreign keys and view
dependencies (the vault's catalog code, `vault/snapshot/pgcatalog.database_catalog`); SQLite
files: their tables; folders: how many files and bytes; Railway projects: volumes and services,
through the API proxy's read-only lookup when one is given (`RailwaySource`).

This is I/O, so nothing on the judging path calls it (`Judge.evaluate` and `airlock check`
resolve against the configuration alone). Each look is bounded — a connect timeout, a
`statement_timeout`, a read-only transaction, a cap on folder entries — and a failure is a
result, not an exception: the tree says "could not reach app-db: …". Results are cached per
resource for `ttl` by an injected clock, so a console page that redraws does not ask again.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import psycopg

from airlock.config import Config, Resource
from airlock.errors import AirlockError
from airlock.model import utcnow
from airlock.upstream.postgres import postgres_of
from airlock.vault.snapshot.pgcatalog import DatabaseCatalog, database_catalog

if TYPE_CHECKING:
    from airlock.fronts.apiproxy.railway import RailwayMap

__all__ = ["DEFAULT_TTL", "Discovered", "Discovery", "FolderSummary", "RailwaySource",
           "SqliteTable"]

DEFAULT_TTL = timedelta(minutes=5)
CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_MS = 5000
MAX_FOLDER_ENTRIES = 20_000
MAX_SQLITE_TABLES = 1000


class RailwaySource(Protocol):
    """The API proxy's read-only Railway lookup (`fronts/apiproxy/railway.RailwayLookup`):
    the map of a Railway resource's projects, or None when Railway could not be asked."""

    def map(self) -> RailwayMap | None: ...


@dataclass(frozen=True, slots=True)
class SqliteTable:
    name: str
    rows: int | None  # the largest rowid: an upper estimate (None: a WITHOUT ROWID table)


@dataclass(frozen=True, slots=True)
class FolderSummary:
    files: int
    size_bytes: int
    truncated: bool  # more than MAX_FOLDER_ENTRIES entries: the counts are a lower bound


@dataclass(frozen=True, slots=True)
class Discovered:
    """What one look at one resource found. `status`: ok, unreachable (`error` says why) or
    none (airlock has no way to look inside this kind of resource)."""

    resource: str
    status: str
    at: datetime
    error: str = ""
    catalog: DatabaseCatalog | None = None
    sqlite_tables: tuple[SqliteTable, ...] = ()
    file_size: int | None = None
    folder: FolderSummary | None = None
    railway: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"status": self.status, "at": self.at.isoformat(),
                                 "error": self.error or None}
        if self.catalog is not None:
            shown["postgres"] = {
                "relations": [{"schema": r.schema, "name": r.name, "kind": r.kind,
                               "rows": r.rows, "bytes": r.size_bytes}
                              for r in self.catalog.relations],
                "links": [{"from": link.source, "to": link.target, "on_delete": link.on_delete,
                           "name": link.name} for link in self.catalog.links],
                "truncated": self.catalog.truncated}
        if self.sqlite_tables or self.file_size is not None:
            shown["sqlite"] = {"bytes": self.file_size,
                               "tables": [{"name": t.name, "rows": t.rows}
                                          for t in self.sqlite_tables]}
        if self.folder is not None:
            shown["folder"] = {"files": self.folder.files, "bytes": self.folder.size_bytes,
                               "truncated": self.folder.truncated}
        if self.railway:
            shown["railway"] = dict(self.railway)
        return shown


class Discovery:
    """Looks inside resources, each look bounded and cached for `ttl`."""

    def __init__(self, config: Config, *, ttl: timedelta = DEFAULT_TTL,
                 clock: Callable[[], datetime] = utcnow,
                 railway: Mapping[str, RailwaySource] | None = None,
                 statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
                 connect_timeout: int = CONNECT_TIMEOUT_SECONDS) -> None:
        self.config = config
        self.ttl = ttl
        self.clock = clock
        self.railway = dict(railway or {})
        self.statement_timeout_ms = statement_timeout_ms
        self.connect_timeout = connect_timeout
        self._cache: dict[str, Discovered] = {}
        self._lock = threading.Lock()

    def discover(self, resource: Resource) -> Discovered:
        now = self.clock()
        with self._lock:
            cached = self._cache.get(resource.name)
        if cached is not None and now - cached.at < self.ttl:
            return cached
        try:
            found = self._look(resource, now)
        except Exception as exc:  # a look that failed in a way nobody foresaw still says so
            found = Discovered(resource.name, "unreachable", now, _why(exc))
        with self._lock:
            self._cache[resource.name] = found
        return found

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()

    # ----------------------------------------------------------------------------------------

    def _look(self, resource: Resource, now: datetime) -> Discovered:
        if resource.kind == "postgres":
            return self._postgres(resource, now)
        if resource.kind == "sqlite" and resource.paths:
            return _sqlite(resource.name, Path(resource.paths[0]), now)
        if resource.kind == "path" and resource.paths:
            return _folder(resource.name, Path(resource.paths[0]), now)
        if resource.kind == "api" and resource.provider == "railway":
            return self._railway(resource, now)
        return Discovered(resource.name, "none", now)

    def _postgres(self, resource: Resource, now: datetime) -> Discovered:
        try:
            pg = postgres_of(resource, self.config)
            with pg.connect(timeout=self.connect_timeout) as conn:
                conn.execute("SET TRANSACTION READ ONLY")
                conn.execute("SELECT set_config('statement_timeout', %s, true)",
                             (str(self.statement_timeout_ms),))
                catalog = database_catalog(conn)
                conn.rollback()
        except (AirlockError, psycopg.Error) as exc:
            return Discovered(resource.name, "unreachable", now, _why(exc))
        return Discovered(resource.name, "ok", now, catalog=catalog)

    def _railway(self, resource: Resource, now: datetime) -> Discovered:
        source = self.railway.get(resource.name)
        if source is None:
            return Discovered(resource.name, "none", now,
                              "no Railway lookup: configure railway_projects for this resource "
                              "under [fronts.apiproxy]")
        railway = source.map()
        if railway is None:
            return Discovered(resource.name, "unreachable", now,
                              "Railway did not answer the project lookup")
        volumes = {vid: {"name": name, "mounted": [{"environment": railway.environments.get(e, e),
                                                    "service": railway.services.get(s, (s, ""))[0]
                                                    if s else None} for e, s in instances]}
                   for vid, (name, instances) in sorted(railway.volumes.items())}
        services = {sid: name for sid, (name, _) in sorted(railway.services.items())}
        return Discovered(resource.name, "ok", now,
                          railway={"projects": dict(railway.projects), "volumes": volumes,
                                   "services": services})


def _why(exc: BaseException) -> str:
    message = exc.message if isinstance(exc, AirlockError) else str(exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


def _sqlite(name: str, path: Path, now: datetime) -> Discovered:
    if not path.is_file():
        return Discovered(name, "unreachable", now, f"{path} does not exist")
    try:
        # read-only and immutable-free: mode=ro never creates or writes the file
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=2)
        try:
            names = [str(r[0]) for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name LIMIT ?", (MAX_SQLITE_TABLES,))]
            tables = []
            for table in names:
                try:
                    row = conn.execute(f'SELECT max(rowid) FROM "{table.replace(chr(34), chr(34) * 2)}"'
                                       ).fetchone()
                    tables.append(SqliteTable(table, int(row[0] or 0) if row else 0))
                except sqlite3.Error:  # WITHOUT ROWID
                    tables.append(SqliteTable(table, None))
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return Discovered(name, "unreachable", now, f"{path}: {exc}")
    return Discovered(name, "ok", now, sqlite_tables=tuple(tables),
                      file_size=path.stat().st_size)


def _folder(name: str, root: Path, now: datetime) -> Discovered:
    if not root.exists():
        return Discovered(name, "unreachable", now, f"{root} does not exist")
    if not root.is_dir():
        return Discovered(name, "ok", now, folder=FolderSummary(1, root.stat().st_size, False))
    files = size = seen = 0
    todo = [root]
    truncated = False
    try:
        while todo and not truncated:
            with os.scandir(todo.pop()) as entries:
                for entry in entries:
                    seen += 1
                    if seen > MAX_FOLDER_ENTRIES:
                        truncated = True
                        break
                    if entry.is_dir(follow_symlinks=False):
                        todo.append(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False):
                        files += 1
                        size += entry.stat(follow_symlinks=False).st_size
    except OSError as exc:
        return Discovered(name, "unreachable", now, f"{root}: {exc.strerror or exc}")
    return Discovered(name, "ok", now, folder=FolderSummary(files, size, truncated))
