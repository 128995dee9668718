"""Replacing a file so that a crash or a full disk never leaves it half written.

The new content goes to a temporary file beside the old one (same folder, so the rename cannot
cross filesystems), is synced, then renamed over it: readers see the old file or the new one,
never a mix. The mode is the old file's (0600 for a new one: what airlock writes is often
private) unless given, and is set on the temporary file before its first byte, as is the owner
when one is given — so the content is never readable by more than it will be.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

NEW_FILE_MODE = 0o600


def replace_atomically(path: Path, content: bytes, *, mode: int | None = None,
                       owner: tuple[int, int] | None = None, suffix: str = "") -> None:
    """Write `content` to `path` in one step (see the module docstring); the folder is made
    if missing. `owner` is (uid, gid); `suffix` marks the temporary file as airlock's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = NEW_FILE_MODE
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        if owner is not None:
            os.fchown(fd, *owner)
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
