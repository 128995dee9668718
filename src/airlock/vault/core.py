"""The vault: snapshots written to an object store, each verified before it counts.

    builder = vault.begin(kind=..., resource=..., environment=..., action_id=...)
    with builder.object("data") as out:      # plaintext in; sealed (zstd + AES-GCM) on the way
        out.write(...)
    manifest = builder.commit(source=..., stats=...)

`commit` is where a snapshot becomes real, in this order:

1. every object is read back from the store and its sha256 compared with what was written;
2. the manifest (with its MAC) is written — this is the commit point: a snapshot without a
   manifest does not exist and is never listed;
3. the manifest is read back and compared byte for byte;
4. the snapshot is entered in the catalog (the state store), when there is one.

If anything fails, `commit` raises `SnapshotError` and the action the snapshot protects does
not run. Objects written before a failure stay in the store as orphans (they may be under an
Object Lock retention); `airlock vault verify` reports them.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, BinaryIO, Protocol

from airlock.model import new_id, utcnow
from airlock.vault.crypto import ChunkReader, Sealer, VaultKey, unseal
from airlock.vault.errors import IntegrityError, SnapshotError, VaultError
from airlock.vault.manifest import Manifest, ObjectEntry, manifest_key, snapshot_prefix
from airlock.vault.stores.base import ObjectStore

DEFAULT_RETENTION = timedelta(days=30)
READ_CHUNK = 1 << 20


class _ObjectOut:
    """The plaintext side of one object being written: `write(bytes)`."""

    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.size += len(data)
        return self._sealer.write(data)


class SnapshotBuilder:
    def __init__(self, vault: Vault, *, kind: str, resource: str, environment: str,
                 action_id: str | None, retain_until: datetime) -> None:
        if vault.key is None:
            raise SnapshotError("no vault key: snapshots cannot be written without one")
        self.vault = vault
        self.key: VaultKey = vault.key
        self.id = new_id("snap")
        self.kind = kind
        self.resource = resource
        self.environment = environment
        self.action_id = action_id
        self.created_at = utcnow()
        self.retain_until = retain_until
        self.objects: list[ObjectEntry] = []

    @contextmanager
    def object(self, name: str) -> Iterator[_ObjectOut]:
        """Write one object; it is committed to the store when the block ends without error."""
        key = f"{snapshot_prefix(self.id)}{name}.alv"
        if any(o.name == name for o in self.objects):
            raise SnapshotError(f"snapshot {self.id} already has an object {name!r}")
        writer = self.vault.store.writer(key, retain_until=self.retain_until)
        try:
            sealer = Sealer(self.key, writer, key)
            out = _ObjectOut(sealer)
            yield out
            sealed = sealer.finish()
            info = writer.commit()
        except BaseException:
            writer.abort()
            raise
        if info.size != sealed.size:
            raise SnapshotError(f"{key}: the store kept {info.size} bytes of {sealed.size}")
        self.objects.append(ObjectEntry(name, key, sealed.size, sealed.sha256, sealed.content_size,
                                        sealed.content_sha256, info.version))

    def commit(self, *, source: Mapping[str, Any], stats: Mapping[str, Any] | None = None,
               summary: str = "") -> Manifest:
        try:
            for entry in self.objects:
                problem = self.vault.check_object(entry)
                if problem:
                    raise SnapshotError(f"verification after writing failed: {problem}")
            manifest = Manifest(
                id=self.id, kind=self.kind, resource=self.resource, environment=self.environment,
                created_at=self.created_at.isoformat(), retain_until=self.retain_until.isoformat(),
                key_id=self.key.key_id, action_id=self.action_id, objects=tuple(self.objects),
                source=dict(source), stats=dict(stats or {}), summary=summary).sealed(self.key)
            data = manifest.to_bytes()
            writer = self.vault.store.writer(manifest_key(self.id), retain_until=self.retain_until)
            try:
                writer.write(data)
                writer.commit()
            except BaseException:
                writer.abort()
                raise
            with self.vault.store.open(manifest_key(self.id)) as back:
                if back.read() != data:
                    raise SnapshotError(f"snapshot {self.id}: the manifest read back differs "
                                        "from what was written")
        except SnapshotError:
            raise
        except VaultError as exc:
            raise SnapshotError(f"snapshot {self.id} could not be stored: {exc.message}") from None
        except OSError as exc:
            raise SnapshotError(f"snapshot {self.id} could not be stored: {exc}") from None
        if self.vault.catalog is not None:
            self.vault.catalog.record(manifest, hashlib.sha256(data).hexdigest(),
                                      self.vault.store.location)
        return manifest


class CatalogSink(Protocol):
    """What the vault needs from the catalog (vault/catalog.py implements it)."""

    def record(self, manifest: Manifest, digest: str, location: str) -> None: ...


class Vault:
    def __init__(self, store: ObjectStore, key: VaultKey | None, *,
                 catalog: CatalogSink | None = None,
                 retention: timedelta = DEFAULT_RETENTION,
                 guard: Callable[[], object] | None = None) -> None:
        self.store = store
        self.key = key
        self.catalog = catalog
        self.retention = retention
        # Runs before every snapshot and raises when the vault must not be written to (see
        # identity.py: a vault that is gone or damaged stops every destructive action).
        self.guard = guard

    @property
    def location(self) -> str:
        return self.store.location

    def begin(self, *, kind: str, resource: str, environment: str,
              action_id: str | None = None) -> SnapshotBuilder:
        if self.guard is not None:
            self.guard()
        return SnapshotBuilder(self, kind=kind, resource=resource, environment=environment,
                               action_id=action_id, retain_until=utcnow() + self.retention)

    # ---- reading ------------------------------------------------------------------------------

    def manifest(self, snapshot_id: str) -> Manifest:
        """The manifest as stored, MAC-checked when the key is known."""
        _, manifest = self._read_manifest(manifest_key(snapshot_id))
        if manifest.id != snapshot_id:
            raise IntegrityError(f"snapshot {snapshot_id}: its manifest names {manifest.id}")
        if self.key is not None:
            manifest.check_mac(self.key)
        return manifest

    def manifest_digest(self, snapshot_id: str) -> str:
        data, _ = self._read_manifest(manifest_key(snapshot_id))
        return hashlib.sha256(data).hexdigest()

    def _read_manifest(self, key: str) -> tuple[bytes, Manifest]:
        with self.store.open(key) as f:
            data = f.read()
        return data, Manifest.from_bytes(data, key)

    def snapshot_ids(self) -> list[str]:
        """Every committed snapshot (one with a manifest), oldest first."""
        ids = [info.key.split("/")[1] for info in self.store.list("snapshots/")
               if info.key.endswith("/manifest.json") and info.key.count("/") == 2]
        return sorted(ids)

    def manifests(self) -> list[Manifest]:
        out = []
        for snapshot_id in self.snapshot_ids():
            try:
                out.append(self.manifest(snapshot_id))
            except VaultError:
                continue  # `vault verify` names it; listing shows what can be used
        return out

    def check_object(self, entry: ObjectEntry) -> str:
        """Read an object back and compare its size and sha256 with the manifest's. Needs no key.
        Returns the problem, or '' when it matches."""
        digest = hashlib.sha256()
        size = 0
        try:
            with self.store.open(entry.key, entry.version) as f:
                while chunk := f.read(READ_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
        except VaultError as exc:
            return f"{entry.key}: {exc.message}"
        except OSError as exc:
            return f"{entry.key}: cannot read it ({exc})"
        if size != entry.size:
            return f"{entry.key}: {size} bytes stored, the manifest says {entry.size}"
        if digest.hexdigest() != entry.sha256:
            return f"{entry.key}: its sha256 does not match the manifest (the object was changed)"
        return ""

    def verify(self, manifest: Manifest) -> list[str]:
        """Every problem with a snapshot's objects ([] when all match)."""
        problems = [p for p in (self.check_object(e) for e in manifest.objects) if p]
        if self.key is not None and not problems:
            try:
                manifest.check_mac(self.key)
            except IntegrityError as exc:
                problems.append(exc.message)
        return problems

    def chunks(self, manifest: Manifest, name: str) -> Iterator[bytes]:
        """The plaintext of one object, authenticated frame by frame."""
        if self.key is None:
            raise VaultError("reading a snapshot needs the vault key",
                             hint="give it with --key-file or $AIRLOCK_VAULT_KEY")
        entry = manifest.entry(name)
        with self.store.open(entry.key, entry.version) as f:
            yield from unseal(self.key, f, entry.key, entry.content_sha256)

    def reader(self, manifest: Manifest, name: str) -> BinaryIO:
        return io.BufferedReader(ChunkReader(self.chunks(manifest, name)), READ_CHUNK)

    def read_bytes(self, manifest: Manifest, name: str) -> bytes:
        return b"".join(self.chunks(manifest, name))

    def orphans(self) -> list[str]:
        """Objects under snapshots/ whose snapshot has no manifest (interrupted writes)."""
        committed = set(self.snapshot_ids())
        return [info.key for info in self.store.list("snapshots/")
                if info.key.split("/")[1] not in committed]

