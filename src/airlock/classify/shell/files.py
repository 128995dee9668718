"""Reading the files a command would run (`bash deploy.sh`, `python cleanup.py`, `./x`,
package.json scripts, Makefiles), before it runs: bounded, regular files only, never blocking.

    ScriptReader.read(absolute path) -> FileRead      the protocol the analysis is given
    DiskReader                                       this machine's files
    MemoryReader                                     the in-memory twin for tests

The classifier stays pure: it never opens a file itself, it asks the reader it was given, and
without one every file it would need is unknown. What was read — the content's sha256, or that
the file was missing or unreadable — is recorded, so an approval binds to exactly that content
(`Assessment.inputs`, `approvals.action_digest`): a script changed after approval is a new
action.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from airlock.classify import MAX_INPUT_BYTES

# Files whose first bytes say they are programs, not text a person wrote.
_BINARY_MAGIC = (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe",
                 b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"MZ", b"\x00asm", b"PK\x03\x04")


@dataclass(frozen=True, slots=True)
class FileRead:
    """One read: the bytes, or why there are none ("missing", "not a regular file", …)."""

    path: str
    data: bytes | None
    problem: str = ""

    @property
    def fingerprint(self) -> str:
        """What an approval binds to: the content's digest, or the reason there is none."""
        if self.data is not None:
            return "sha256:" + hashlib.sha256(self.data).hexdigest()
        return self.problem or "unreadable"

    @property
    def binary(self) -> bool:
        data = self.data or b""
        return data.startswith(_BINARY_MAGIC) or b"\x00" in data[:8192]


class ScriptReader(Protocol):
    def read(self, path: str) -> FileRead:
        """Read the file at an absolute path (bounded); never raises."""
        ...


def missing(path: str) -> FileRead:
    return FileRead(path, None, "missing")


class DiskReader:
    """This machine's files. Only regular files are opened (a FIFO or a device could block or
    act on being opened), without following into anything larger than `limit`."""

    def __init__(self, limit: int = MAX_INPUT_BYTES) -> None:
        self.limit = limit

    def read(self, path: str) -> FileRead:
        try:
            return self._read(path)
        except Exception as exc:  # a reader never raises: an unreadable file is unknown
            return FileRead(path, None, f"unreadable ({type(exc).__name__})")

    def _read(self, path: str) -> FileRead:
        if not posixpath.isabs(path):
            return FileRead(path, None, "not an absolute path")
        try:
            info = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return missing(path)
        except OSError as exc:
            return FileRead(path, None, f"unreadable ({exc.strerror or type(exc).__name__})")
        if not stat.S_ISREG(info.st_mode):
            return FileRead(path, None, "not a regular file")
        if info.st_size > self.limit:
            return FileRead(path, None, f"larger than {self.limit} bytes")
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | \
            getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags)
        except OSError as exc:
            return FileRead(path, None, f"unreadable ({exc.strerror or type(exc).__name__})")
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since the stat above
                return FileRead(path, None, "not a regular file")
            chunks: list[bytes] = []
            size = 0
            while size <= self.limit:
                chunk = os.read(fd, min(65536, self.limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
        if size > self.limit:
            return FileRead(path, None, f"larger than {self.limit} bytes")
        return FileRead(path, b"".join(chunks))


class MemoryReader:
    """The in-memory twin: absolute paths to contents; anything else is missing."""

    def __init__(self, files: Mapping[str, bytes | str] | None = None,
                 limit: int = MAX_INPUT_BYTES) -> None:
        self.files = {posixpath.normpath(k): v.encode() if isinstance(v, str) else v
                      for k, v in (files or {}).items()}
        self.limit = limit
        self.reads: list[str] = []

    def read(self, path: str) -> FileRead:
        self.reads.append(path)
        data = self.files.get(posixpath.normpath(path))
        if data is None:
            return missing(path)
        if len(data) > self.limit:
            return FileRead(path, None, f"larger than {self.limit} bytes")
        return FileRead(path, data)
