"""bin/lib/venv.sh: installs only what is asked for, once, and shows progress while it does.

A stand-in venv python answers `-m pip install` the way pip prints, so nothing is downloaded."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

FAKE_PYTHON = """#!/bin/sh
# A venv's python that has pip and "installs" by printing what pip prints.
if [ "$1" = "-c" ]; then exit 0; fi
echo "$@" >> "$(dirname "$0")/../pip-calls"
echo "Collecting typer>=0.12 (from airlock==0.1.0)"
echo "  Downloading typer-0.29.2-py3-none-any.whl (121 kB)"
echo "Collecting rich>=13 (from airlock==0.1.0)"
echo "Installing collected packages: rich, typer, airlock"
echo "Successfully installed airlock-0.1.0 rich-13.0 typer-0.29.2"
"""


def _checkout(tmp_path: Path) -> Path:
    root = tmp_path / "clone"
    (root / "bin" / "lib").mkdir(parents=True)
    (root / "bin" / "lib" / "venv.sh").write_text((REPO / "bin/lib/venv.sh").read_text())
    (root / "pyproject.toml").write_text("[project]\nname = 'airlock'\n")
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return root


def _ensure(root: Path, *extras: str, env_extras: str = "") -> subprocess.CompletedProcess[str]:
    script = f'set -euo pipefail; source "{root}/bin/lib/venv.sh"; airlock_ensure_venv {" ".join(extras)}'
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "AIRLOCK_EXTRAS": env_extras})


def _calls(root: Path) -> list[str]:
    calls = root / ".venv" / "pip-calls"
    return calls.read_text().splitlines() if calls.exists() else []


def test_runtime_only_then_nothing_then_the_extra_asked_for(tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    first = _ensure(root)
    assert first.returncode == 0, first.stderr
    assert _calls(root)[-1].endswith(f"-e {root}")  # no extras: runtime dependencies only
    assert "[1] typer>=0.12" in first.stderr and "[2] rich>=13" in first.stderr
    assert "installed 3 packages" in first.stderr
    digest = hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()
    assert (root / ".venv" / ".airlock-installed").read_text() == f"{digest}\n"

    again = _ensure(root)
    assert again.returncode == 0 and again.stderr == "" and len(_calls(root)) == 1

    with_dev = _ensure(root, "dev", "aws")
    assert with_dev.returncode == 0, with_dev.stderr
    assert _calls(root)[-1].endswith(f"-e {root}[aws,dev]")
    # a later run that asks for less finds it installed
    assert _ensure(root).stderr == "" and _ensure(root, "aws").stderr == ""
    assert len(_calls(root)) == 2


def test_airlock_extras_adds_to_what_is_asked_and_a_changed_pyproject_reinstalls(
        tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    assert _ensure(root, env_extras="aws").returncode == 0
    assert _calls(root)[-1].endswith(f"-e {root}[aws]")
    (root / "pyproject.toml").write_text("[project]\nname = 'airlock'\nversion = '2'\n")
    assert _ensure(root).returncode == 0
    assert len(_calls(root)) == 2


def test_a_failed_install_says_so_and_leaves_no_stamp(tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    python = root / ".venv" / "bin" / "python"
    python.write_text('#!/bin/sh\nif [ "$1" = "-c" ]; then exit 0; fi\n'
                      'echo "ERROR: No matching distribution found for typer"; exit 1\n')
    result = _ensure(root)
    assert result.returncode != 0
    assert "the install failed" in result.stderr and "No matching distribution" in result.stderr
    assert not (root / ".venv" / ".airlock-installed").exists()
