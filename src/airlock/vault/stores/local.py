"""A vault in a local folder (the embedded default). Put it on another disk than the data.

Writes are atomic: bytes go to `.partial/<random>`, are fsynced, made read-only, then
hard-linked to their final name (which fails rather than overwrite) and the folder is fsynced.
A crash leaves at most a file in `.partial/`, which is never listed. Retention is recorded in
`.retention/<key>`; airlock refuses to delete an object before it, but a local folder cannot
stop the machine's administrator — use the S3 store with Object Lock for that guarantee.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from airlock.model import utcnow
from airlock.vault.errors import VaultError
from airlock.vault.stores.base import ObjectInfo, check_key

PARTIAL = ".partial"
RETENTION = ".retention"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _LocalWriter:
    def __init__(self, store: LocalStore, key: str, retain_until: datetime | None) -> None:
        self._store = store
        self._key = key
        self._retain_until = retain_until
        self._tmp = store.root / PARTIAL / f"{secrets.token_hex(12)}.part"
        self._file = open(self._tmp, "xb")  # noqa: SIM115  (closed in commit/abort)
        os.chmod(self._tmp, 0o600)
        self._size = 0

    def write(self, data: bytes) -> int:
        self._file.write(data)
        self._size += len(data)
        return len(data)

    def commit(self) -> ObjectInfo:
        final = self._store.path_of(self._key)
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.chmod(self._tmp, 0o400)
            final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self._retain_until is not None:
                self._store._write_retention(self._key, self._retain_until)
            os.link(self._tmp, final)  # never replaces an existing object
            _fsync_dir(final.parent)
        except FileExistsError:
            raise VaultError(f"vault object {self._key} already exists; objects are never "
                             "overwritten") from None
        except OSError as exc:
            raise VaultError(f"cannot write {self._key} to the vault at {self._store.location}: "
                             f"{exc.strerror or exc}") from None
        finally:
            self.abort()
        return ObjectInfo(self._key, self._size)

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()


def shares_filesystem(store: object, path: Path) -> str:
    """Why a local vault must not protect `path` (it is on the same filesystem, so it would die
    with it), or '' (another filesystem, or not a local vault)."""
    if not isinstance(store, LocalStore):
        return ""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if os.stat(probe).st_dev == store.device:
        return (f"the vault folder {store.location} is on the same filesystem as {path}, so a "
                "backup there would die with it; set [vault] path to another disk or use an S3 "
                "vault")
    return ""


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        self.location = str(self.root)
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            (self.root / PARTIAL).mkdir(mode=0o700, exist_ok=True)
            (self.root / RETENTION).mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise VaultError(f"cannot create the vault folder {self.root}: {exc.strerror or exc}",
                             hint="set [vault] path to a writable folder on another disk") from None

    @property
    def device(self) -> int:
        return os.stat(self.root).st_dev

    def path_of(self, key: str) -> Path:
        return self.root / check_key(key)

    def writer(self, key: str, *, retain_until: datetime | None) -> _LocalWriter:
        check_key(key)
        if self.path_of(key).exists():
            raise VaultError(f"vault object {key} already exists; objects are never overwritten")
        return _LocalWriter(self, key, retain_until)

    def open(self, key: str, version: str | None = None) -> BinaryIO:
        try:
            return open(self.path_of(key), "rb")  # the caller closes it
        except FileNotFoundError:
            raise VaultError(f"vault object {key} is missing from {self.location}") from None
        except OSError as exc:
            raise VaultError(f"cannot read vault object {key}: {exc.strerror or exc}") from None

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self.root
        for dirpath, dirnames, filenames in os.walk(base):
            rel_dir = os.path.relpath(dirpath, base)
            if rel_dir == ".":
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                rel_dir = ""
            dirnames.sort()
            for name in sorted(filenames):
                key = f"{rel_dir}/{name}" if rel_dir else name
                if key.startswith(prefix):
                    yield ObjectInfo(key, os.stat(os.path.join(dirpath, name)).st_size)

    def exists(self, key: str) -> bool:
        return self.path_of(key).is_file()

    def retention(self, key: str) -> datetime | None:
        try:
            text = (self.root / RETENTION / check_key(key)).read_text("ascii").strip()
        except FileNotFoundError:
            return None
        return datetime.fromisoformat(text)

    def _write_retention(self, key: str, until: datetime) -> None:
        path = self.root / RETENTION / key
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_text(until.isoformat(), "ascii")

    def delete(self, key: str) -> None:
        until = self.retention(key)
        if until is not None and until > utcnow():
            raise VaultError(f"vault object {key} is retained until {until.isoformat()}; it "
                             "cannot be deleted before then")
        try:
            os.chmod(self.path_of(key), 0o600)
            self.path_of(key).unlink()
        except FileNotFoundError:
            raise VaultError(f"vault object {key} is missing from {self.location}") from None
        with contextlib.suppress(FileNotFoundError):
            (self.root / RETENTION / key).unlink()
