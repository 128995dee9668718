"""The native hook client (`hookclient.c`), built at install time where a C compiler exists.

Starting CPython costs an agent ~14 ms per tool call before the client does anything (the whole
judgement in the daemon takes ~1–2 ms); a small C program speaking the same protocol starts in
about one. So `airlock install` builds `hookclient.c` with the system's compiler and writes that
binary into the hook command, with the Python client (`hookclient.py`) as its fallback for when
the daemon is not running. Without a compiler — or when the build or its self-check fails — the
Python client is installed, as before: slower, equally fail-closed.

It is built by `airlock.native` (named by the sha256 of its source, checked, then renamed into
place); its check: run with no daemon and no fallback it must give the blocking answer.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from airlock import native
from airlock.native import FLAGS, compiler

__all__ = ["FLAGS", "binary_path", "build", "compiler", "source_path"]

SOURCE_NAME = "hookclient.c"


def _works(binary: Path) -> bool:
    """Run with nowhere to ask and no fallback, the client must block (exit 2, a reason)."""
    if not binary.is_file():
        return False
    try:
        done = subprocess.run([str(binary), "claude", "--timeout", "5"], input=b"{}",
                              capture_output=True, timeout=10, check=False,
                              env={"PATH": os.environ.get("PATH", "")})
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 2 and b"blocked to be safe" in done.stderr


# Static where the C library allows it: no dynamic loader at each start (~0.5 ms).
PROGRAM = native.Program(SOURCE_NAME, "airlock-hookclient", _works, static_first=True)


def source_path() -> Path:
    return PROGRAM.source_path()


def binary_path(source: Path | None = None) -> Path:
    return PROGRAM.binary_path(source)


def build(source: Path | None = None) -> Path | None:
    """The built client (building it if needed), or None where it cannot be built — the
    caller then installs the Python client. Never raises."""
    return native.build(PROGRAM, source)
