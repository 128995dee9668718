"""SQLite snapshots with SQLite's online backup API: a consistent copy even while the database
is being written (WAL or not), taken page by page, never a raw file copy.

The copy is made in a private temporary folder, checked (`PRAGMA quick_check`), measured (rows
and a content hash per table) and then sealed into the vault; the temporary copy is removed.
A restore goes back through the backup API too, so SQLite's own locking protects the target.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airlock.vault.core import Vault
from airlock.vault.errors import RestoreError, SnapshotError, VaultError
from airlock.vault.manifest import Manifest
from airlock.vault.progress import NoProgress, Progress

COPY_CHUNK = 1 << 20


@contextlib.contextmanager
def private_tempdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="airlock-vault-"))
    os.chmod(path, 0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_stats(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Rows and a content hash per table, in primary-key (rowid) order."""
    stats: dict[str, dict[str, Any]] = {}
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name")]
    for table in tables:
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({_quote(table)})")]
        order = ", ".join(str(i + 1) for i in range(len(columns))) or "1"
        digest, rows = hashlib.sha256(), 0
        for row in conn.execute(f"SELECT * FROM {_quote(table)} ORDER BY {order}"):
            digest.update(repr(row).encode("utf-8", "surrogatepass") + b"\n")
            rows += 1
        stats[table] = {"rows": rows, "sha256": digest.hexdigest()}
    return stats


def _check(conn: sqlite3.Connection, what: str, error: type[VaultError]) -> None:
    result = conn.execute("PRAGMA quick_check").fetchone()
    if not result or result[0] != "ok":
        raise error(f"{what} fails SQLite's quick_check: {result[0] if result else '?'}")


def take_sqlite(vault: Vault, *, resource: str, environment: str, path: Path,
                action_id: str | None, progress: Progress | None = None) -> Manifest:
    progress = progress or NoProgress()
    if not path.is_file():
        raise SnapshotError(f"SQLite database {path} does not exist")
    builder = vault.begin(kind="sqlite", resource=resource, environment=environment,
                          action_id=action_id)
    try:
        with private_tempdir() as tmp:
            copy = tmp / "copy.db"
            source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            target = sqlite3.connect(copy)
            try:
                source.backup(target)
                _check(target, f"the copy of {path}", SnapshotError)
                stats = table_stats(target)
            finally:
                target.close()
                source.close()
            progress.start(f"snapshot {path}", copy.stat().st_size)
            with builder.object("db") as out, open(copy, "rb") as f:
                while chunk := f.read(COPY_CHUNK):
                    out.write(chunk)
                    progress.advance(len(chunk))
    except sqlite3.Error as exc:
        raise SnapshotError(f"SQLite backup of {path} failed: {exc}") from None
    finally:
        progress.done()
    return builder.commit(source={"engine": "sqlite", "path": str(path)},
                          stats={"tables": stats}, summary=f"SQLite database {path}")


def _materialise(vault: Vault, manifest: Manifest, into: Path, progress: Progress) -> None:
    with open(into, "wb") as f:
        for chunk in vault.chunks(manifest, "db"):
            f.write(chunk)
            progress.advance(len(chunk))


def plan_sqlite(manifest: Manifest, target: Path) -> tuple[list[str], list[str]]:
    """(creates, overwrites)"""
    if target.exists():
        return [], [f"SQLite database {target}"]
    return [f"SQLite database {target}"], []


def apply_sqlite(vault: Vault, manifest: Manifest, target: Path, *, force: bool,
                 progress: Progress | None = None) -> None:
    progress = progress or NoProgress()
    if target.exists() and not force:
        raise RestoreError(f"{target} exists; restoring would overwrite it",
                           hint="use --force, or --into another path")
    progress.start(f"restore {manifest.summary}", manifest.objects[0].content_size)
    try:
        with private_tempdir() as tmp:
            copy = tmp / "restore.db"
            _materialise(vault, manifest, copy, progress)
            source = sqlite3.connect(copy)
            try:
                _check(source, f"snapshot {manifest.id}", RestoreError)
                if table_stats(source) != manifest.stats.get("tables"):
                    raise RestoreError(f"snapshot {manifest.id}: its tables do not match the "
                                       "row counts and hashes recorded when it was taken")
                target.parent.mkdir(parents=True, exist_ok=True)
                dest = sqlite3.connect(target, timeout=30)
                try:
                    source.backup(dest)
                finally:
                    dest.close()
            finally:
                source.close()
    except sqlite3.Error as exc:
        raise RestoreError(f"restore of {manifest.id} into {target} failed: {exc}") from None
    finally:
        progress.done()


def drill_sqlite(vault: Vault, manifest: Manifest) -> dict[str, Any]:
    """Restore into a scratch file and compare rows and hashes with the manifest."""
    with private_tempdir() as tmp:
        copy = tmp / "drill.db"
        _materialise(vault, manifest, copy, NoProgress())
        conn = sqlite3.connect(copy)
        try:
            _check(conn, f"snapshot {manifest.id}", RestoreError)
            found = table_stats(conn)
        finally:
            conn.close()
    return {"expected": manifest.stats.get("tables", {}), "found": found}
