"""The native hook client (`hookclient.c`), built at install time where a C compiler exists.

Starting CPython costs an agent ~14 ms per tool call before the client does anything (the whole
judgement in the daemon takes ~1–2 ms); a small C program speaking the same protocol starts in
about one. So `airlock install` builds `hookclient.c` with the system's compiler and writes that
binary into the hook command, with the Python client (`hookclient.py`) as its fallback for when
the daemon is not running. Without a compiler — or when the build or its self-check fails — the
Python client is installed, as before: slower, equally fail-closed.

The binary is named by the sha256 of its source (and the compiler's flags), next to the package
(`<airlock>/_native/`), so an upgraded source never runs an old build, and it goes away with the
installation it belongs to. It is built under a temporary name, checked — run with no daemon and
no fallback it must give the blocking answer — and renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger("airlock.hooks.native")

SOURCE_NAME = "hookclient.c"
FLAGS = ("-O2", "-std=c99", "-Wall", "-Wextra", "-Werror")
# Static where the C library allows it: no dynamic loader at each start (~0.5 ms).
STATIC = ("-static",)
BUILD_SECONDS = 60


def source_path() -> Path:
    import airlock

    return Path(airlock.__file__).resolve().parent / SOURCE_NAME


def binary_path(source: Path | None = None) -> Path:
    source = source or source_path()
    digest = hashlib.sha256(source.read_bytes() + " ".join(FLAGS).encode()).hexdigest()[:16]
    return source.parent / "_native" / f"airlock-hookclient-{digest}"


def compiler() -> str | None:
    """The C compiler to use: $CC, else cc or gcc or clang on PATH."""
    configured = os.environ.get("CC")
    if configured:
        return shutil.which(configured)
    for name in ("cc", "gcc", "clang"):
        found = shutil.which(name)
        if found:
            return found
    return None


def build(source: Path | None = None) -> Path | None:
    """The built client (building it if needed), or None where it cannot be built — the
    caller then installs the Python client. Never raises."""
    try:
        return _build(source or source_path())
    except Exception:  # any failure here means the slower client, never no client
        log.exception("could not build the native hook client")
        return None


def _build(source: Path) -> Path | None:
    target = binary_path(source)
    if _works(target):
        return target
    cc = compiler()
    if cc is None:
        log.info("no C compiler: the Python hook client is installed")
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".build-", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        for extra in (STATIC, ()):
            done = subprocess.run([cc, *FLAGS, *extra, "-o", str(tmp), str(source)],
                                  capture_output=True, text=True, timeout=BUILD_SECONDS,
                                  check=False)
            if done.returncode == 0 and _works(tmp):
                os.chmod(tmp, 0o755)  # noqa: S103  (the harness runs it, as any user of airlock)
                os.replace(tmp, target)
                return target
            log.info("building the native hook client%s failed: %s",
                     " statically" if extra else "", done.stderr.strip()[-500:])
        return None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


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
