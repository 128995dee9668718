"""Small C programs airlock builds for itself where a C compiler exists.

Two parts of airlock are faster as a few hundred lines of C than as Python: the hook client an
agent's harness starts on every tool call (`hookclient.c`, `fronts/hooks/native.py`) and the
wire proxy's relay (`pgrelay.c`, `fronts/pgwire/relay.py`). Both are built the same way, by
`build` here: with the system's compiler (`$CC`, else cc, gcc or clang), under a name made of the
sha256 of the source and the compiler's flags, next to the package (`<airlock>/_native/`), so an
upgraded source never runs an old build and a build goes away with the installation it belongs
to. A build is made under a temporary name, *checked* by the program's own self-check, and only
then renamed into place. Without a compiler, or when the build or its check fails, `build`
answers None and the caller uses its Python path: slower, equally fail-closed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("airlock.native")

FLAGS = ("-O2", "-std=c99", "-Wall", "-Wextra", "-Werror")
BUILD_SECONDS = 60


@dataclass(frozen=True)
class Program:
    """One C program: its source file in the package, the prefix of its binary's name, the
    check a fresh build must pass, and whether to try a static link first."""

    source_name: str
    prefix: str
    works: Callable[[Path], bool]
    static_first: bool = False
    flags: tuple[str, ...] = FLAGS

    def source_path(self) -> Path:
        import airlock

        return Path(airlock.__file__).resolve().parent / self.source_name

    def binary_path(self, source: Path | None = None) -> Path:
        source = source or self.source_path()
        digest = hashlib.sha256(source.read_bytes() + " ".join(self.flags).encode()).hexdigest()
        return source.parent / "_native" / f"{self.prefix}-{digest[:16]}"


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


def build(program: Program, source: Path | None = None) -> Path | None:
    """The built program (building it if needed), or None where it cannot be built. Never
    raises: any failure here means the Python path, never no path."""
    try:
        return _build(program, source or program.source_path())
    except Exception:
        log.exception("could not build %s", program.source_name)
        return None


def _build(program: Program, source: Path) -> Path | None:
    target = program.binary_path(source)
    if program.works(target):
        return target
    cc = compiler()
    if cc is None:
        log.info("no C compiler: %s is not built, airlock uses its Python path",
                 program.source_name)
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".build-", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        for extra in (("-static",), ()) if program.static_first else ((),):
            done = subprocess.run([cc, *program.flags, *extra, "-o", str(tmp), str(source)],
                                  capture_output=True, text=True, timeout=BUILD_SECONDS,
                                  check=False)
            if done.returncode == 0 and program.works(tmp):
                os.chmod(tmp, 0o755)  # noqa: S103  (run by any user of this installation)
                os.replace(tmp, target)
                return target
            log.info("building %s%s failed: %s", program.source_name,
                     " statically" if extra else "", done.stderr.strip()[-500:])
        return None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
