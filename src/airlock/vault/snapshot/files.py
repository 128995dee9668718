"""Files and folders: a tar archive (PAX: modes, times, owners, symlinks) streamed through
zstd and AES-GCM into the vault. Each regular file is hashed as tar reads it, so the manifest
holds a content hash for the whole tree that a drill can check after extracting.

Extraction uses tarfile's `data` filter: no absolute paths, no `..`, no links out of the
target folder, no device files — an archive can never write outside where it is restored.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

from airlock.vault.core import Vault
from airlock.vault.crypto import ChunkReader
from airlock.vault.errors import RestoreError, SnapshotError
from airlock.vault.manifest import Manifest
from airlock.vault.progress import NoProgress, Progress
from airlock.vault.snapshot.sqlite import private_tempdir


class _HashingReader:
    def __init__(self, f: IO[bytes], progress: Progress) -> None:
        self._f = f
        self.hash = hashlib.sha256()
        self._progress = progress

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self.hash.update(data)
        self._progress.advance(len(data))
        return data


class _Out:
    """tarfile's stream mode writes to any object with `write`."""

    def __init__(self, sink: Any) -> None:
        self._sink = sink

    def write(self, data: bytes) -> int:
        self._sink.write(data)
        return len(data)


def tree_digest(entries: dict[str, str]) -> str:
    """One hash over (path, file hash) pairs in path order."""
    digest = hashlib.sha256()
    for name in sorted(entries):
        digest.update(f"{name}\0{entries[name]}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _walk(root: Path) -> Iterator[Path]:
    yield root
    if root.is_dir() and not root.is_symlink():
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                yield Path(dirpath) / name


def estimate_size(root: Path, limit: int = 100_000) -> int | None:
    """Bytes under `root`, or None when the tree is too large to count quickly."""
    total, count = 0, 0
    for path in _walk(root):
        count += 1
        if count > limit:
            return None
        try:
            st = path.lstat()
        except OSError:
            continue
        total += st.st_size if path.is_file() and not path.is_symlink() else 0
    return total


def take_files(vault: Vault, *, resource: str, environment: str, root: Path,
               action_id: str | None, progress: Progress | None = None) -> Manifest:
    progress = progress or NoProgress()
    root = Path(os.path.abspath(root))
    if not root.exists() and not root.is_symlink():
        raise SnapshotError(f"{root} does not exist; there is nothing to back up")
    builder = vault.begin(kind="files", resource=resource, environment=environment,
                          action_id=action_id)
    hashes: dict[str, str] = {}
    count = 0
    progress.start(f"snapshot {root}", estimate_size(root))
    try:
        with builder.object("tar") as out, \
                tarfile.open(fileobj=cast(Any, _Out(out)), mode="w|",
                             format=tarfile.PAX_FORMAT) as tar:
            for path in _walk(root):
                arcname = os.path.relpath(path, root.parent)
                info = tar.gettarinfo(str(path), arcname)
                count += 1
                if info.isreg():
                    with open(path, "rb") as f:
                        reader = _HashingReader(f, progress)
                        tar.addfile(info, cast(Any, reader))
                    hashes[arcname] = reader.hash.hexdigest()
                else:
                    tar.addfile(info)
                    if info.issym():
                        hashes[arcname] = "symlink:" + info.linkname
    except OSError as exc:
        raise SnapshotError(f"archiving {root} failed: {exc}") from None
    finally:
        progress.done()
    return builder.commit(source={"engine": "files", "root": str(root), "name": root.name},
                          stats={"entries": count, "files": len(hashes),
                                 "sha256": tree_digest(hashes)},
                          summary=f"files under {root}")


def _members(vault: Vault, manifest: Manifest) -> Iterator[tarfile.TarInfo]:
    with tarfile.open(fileobj=vault.reader(manifest, "tar"), mode="r|") as tar:
        yield from tar


def plan_files(vault: Vault, manifest: Manifest, into: Path) -> tuple[list[str], list[str]]:
    """(creates, overwrites) when extracting into the folder `into`."""
    creates: list[str] = []
    overwrites: list[str] = []
    for member in _members(vault, manifest):
        if member.isdir():
            continue
        dest = into / member.name
        (overwrites if dest.exists() or dest.is_symlink() else creates).append(str(dest))
    return creates, overwrites


def apply_files(vault: Vault, manifest: Manifest, into: Path, *, force: bool,
                progress: Progress | None = None) -> None:
    progress = progress or NoProgress()
    if not force:
        _, overwrites = plan_files(vault, manifest, into)
        if overwrites:
            raise RestoreError(f"restoring {manifest.id} would overwrite {len(overwrites)} "
                               f"file(s), e.g. {overwrites[0]}",
                               hint="use --force, or --into an empty folder")
    into.mkdir(parents=True, exist_ok=True)
    progress.start(f"restore {manifest.summary}", manifest.objects[0].content_size)
    try:
        reader = ChunkReader(_counted(vault.chunks(manifest, "tar"), progress))
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise RestoreError(f"extracting {manifest.id} into {into} failed: {exc}") from None
    finally:
        progress.done()


def _counted(chunks: Iterator[bytes], progress: Progress) -> Iterator[bytes]:
    for chunk in chunks:
        progress.advance(len(chunk))
        yield chunk


def tree_stats(base: Path, name: str) -> dict[str, Any]:
    """What `take_files` records, measured on an extracted tree (`base/name`)."""
    hashes: dict[str, str] = {}
    count = 0
    for path in _walk(base / name):
        count += 1
        arcname = os.path.relpath(path, base)
        if path.is_symlink():
            hashes[arcname] = "symlink:" + os.readlink(path)
        elif path.is_file():
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
            hashes[arcname] = digest.hexdigest()
    return {"entries": count, "files": len(hashes), "sha256": tree_digest(hashes)}


def drill_files(vault: Vault, manifest: Manifest) -> dict[str, Any]:
    with private_tempdir() as tmp:
        apply_files(vault, manifest, tmp, force=True)
        found = tree_stats(tmp, str(manifest.source["name"]))
    expected = {k: manifest.stats.get(k) for k in ("entries", "files", "sha256")}
    return {"expected": expected, "found": found}
