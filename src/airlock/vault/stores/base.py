"""The one interface every vault backend implements, and the key layout they share.

An `ObjectStore` holds immutable objects under string keys. Its contract (checked for every
backend by tests/vault/test_store_contract.py):

- `writer(key)` returns a stream; the object becomes visible under `key` only when the stream
  is committed, whole, or not at all (a crash or an exception leaves nothing under `key`);
- `open(key)` reads an object back; `list(prefix)` lists committed objects only;
- objects are never overwritten: writing an existing key is an error;
- `delete(key)` removes an object unless its retention forbids it (then `VaultError`).

Keys look like `snapshots/<snapshot id>/<object>`; a snapshot's `manifest.json` is written last
and is the commit point of the snapshot (see vault/core.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    version: str | None = None  # S3 version id; None for stores without versions


class ObjectWriter(Protocol):
    def write(self, data: bytes, /) -> object: ...

    def commit(self) -> ObjectInfo:
        """Make the object visible under its key (atomically) and return what was stored."""
        ...

    def abort(self) -> None: ...


class ObjectStore(Protocol):
    location: str  # where it is, for people: /srv/vault, s3://bucket/prefix

    def writer(self, key: str, *, retain_until: datetime | None) -> ObjectWriter: ...

    def open(self, key: str, version: str | None = None) -> BinaryIO: ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def retention(self, key: str) -> datetime | None:
        """Until when the object cannot be deleted (None when nothing holds it)."""
        ...


def check_key(key: str) -> str:
    """Keys are relative, slash-separated, without '..' or empty parts: they become paths."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) \
            or any(c in key for c in "\\\0"):
        raise ValueError(f"invalid vault key {key!r}")
    return key
