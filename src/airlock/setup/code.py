"""Installing airlock's code where the agent cannot change it.

`airlock up` must not run code the agent's user can write: a checkout under the developer's home,
or a venv built from it, is theirs to edit, and an edited airlock approves anything. So setup
builds a venv in a root-owned folder (`/opt/airlock/venv`) from a copy of the source taken into a
private temporary folder (pip never writes into the developer's checkout), installs it
non-editable, and gives every file to root with no group or other write bit. The interpreter the
venv is made from must be root's too (a pyenv under someone's home is not).

Re-running compares a digest of the source with the one recorded in the venv, and reinstalls only
when they differ or the venv no longer imports airlock.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import airlock
from airlock.errors import SetupError
from airlock.setup.system import Commands

DIGEST_FILE = ".airlock-source"
_COPIED = ("pyproject.toml", "README.md", "LICENSE", "src")
_SKIPPED = ("__pycache__", "*.egg-info", "*.pyc")


@dataclass(frozen=True, slots=True)
class Source:
    """A checkout to install from, or (from an installed airlock) a requirement for pip."""

    checkout: Path | None
    requirement: str

    @property
    def label(self) -> str:
        return str(self.checkout) if self.checkout else self.requirement

    def digest(self) -> str:
        if self.checkout is None:
            return f"requirement:{self.requirement}"
        h = hashlib.sha256()
        for path in sorted(_files(self.checkout)):
            h.update(str(path.relative_to(self.checkout)).encode() + b"\0")
            h.update(path.read_bytes())
        return h.hexdigest()


def find_source(explicit: Path | None = None) -> Source:
    if explicit is not None:
        checkout = explicit.resolve()
        if not _is_checkout(checkout):
            raise SetupError(f"{checkout} is not an airlock checkout (no pyproject.toml naming "
                             "the airlock project)")
        return Source(checkout, "")
    here = Path(airlock.__file__).resolve().parents[2]
    if _is_checkout(here):
        return Source(here, "")
    from importlib.metadata import version

    return Source(None, f"airlock=={version('airlock')}")


def _is_checkout(path: Path) -> bool:
    try:
        project = tomllib.loads((path / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(project.get("project", {}).get("name") == "airlock")


def _files(checkout: Path) -> list[Path]:
    found: list[Path] = []
    for name in _COPIED:
        top = checkout / name
        if top.is_file():
            found.append(top)
        elif top.is_dir():
            for folder, dirs, files in os.walk(top):
                dirs[:] = [d for d in dirs if not _skipped(d)]
                found.extend(Path(folder) / f for f in files if not _skipped(f))
    return found


def _skipped(name: str) -> bool:
    from fnmatch import fnmatch

    return any(fnmatch(name, pattern) for pattern in _SKIPPED)


def base_python(explicit: Path | None = None) -> Path:
    """The interpreter to build the venv from: root's, and not writable by anyone else."""
    candidates = [explicit] if explicit else [Path("/usr/bin/python3"),
                                              Path(getattr(sys, "_base_executable", "")
                                                   or sys.executable)]
    problems: list[str] = []
    for candidate in candidates:
        if candidate is None or not candidate.exists():
            continue
        real = candidate.resolve()
        why = root_owned_problem(real)
        if why:
            problems.append(f"{candidate}: {why}")
            continue
        version = subprocess.run([str(real), "-c", "import sys, venv; print(sys.version_info >= "
                                  "(3, 11))"], capture_output=True, text=True, timeout=60)
        if version.stdout.strip() != "True":
            problems.append(f"{candidate}: not Python 3.11+ with the venv module")
            continue
        return real
    raise SetupError("found no Python 3.11+ owned by root to install airlock with ("
                     + "; ".join(problems or ["none found"]) + ")",
                     hint="install one (Debian: apt install python3 python3-venv) or name it "
                          "with --python")


def root_owned_problem(path: Path) -> str:
    """'' when `path` and every folder above it belong to root and only root can write them."""
    for item in [path, *path.parents]:
        info = item.stat()
        if info.st_uid != 0:
            return f"{item} belongs to uid {info.st_uid}, not root"
        if stat.S_IMODE(info.st_mode) & 0o022 and not (info.st_mode & stat.S_ISVTX):
            return f"{item} is writable by others than root"
    return ""


def installed_digest(venv: Path) -> str | None:
    try:
        return (venv / DIGEST_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def venv_works(venv: Path) -> bool:
    python = venv / "bin" / "python"
    if not python.exists():
        return False
    probe = subprocess.run([str(python), "-I", "-c", "import airlock.cli"], capture_output=True,
                           timeout=120)
    return probe.returncode == 0


def install(source: Source, venv: Path, python: Path, commands: Commands) -> None:
    """Build (or rebuild) the venv and install airlock into it, non-editable."""
    old_umask = os.umask(0o022)
    try:
        if not (venv / "bin" / "python").exists():
            commands.run([str(python), "-m", "venv", str(venv)])
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
               "--disable-pip-version-check", "--no-input"]
        if source.checkout is None:
            commands.run([*pip, source.requirement])
        else:
            with tempfile.TemporaryDirectory(prefix="airlock-src-") as temp:
                copy = Path(temp) / "airlock"
                for path in _files(source.checkout):
                    target = copy / path.relative_to(source.checkout)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target)
                # pip reinstalls a local folder every time, even at the same version number
                commands.run([*pip, str(copy)])
        (venv / DIGEST_FILE).write_text(source.digest() + "\n", encoding="utf-8")
    finally:
        os.umask(old_umask)
