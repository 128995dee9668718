"""`airlock demo` end to end: the real command, as a user runs it from the README. Each step's
observation is asserted, and afterwards no folder and no process of the demo is left — after a
run to the end and after a Ctrl-C in the middle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from airlock.cli import app, load_all
from airlock.demo import STEPS, parts, stage
from tests.conftest import require
from tests.pgcluster import find_bindir

load_all()  # every command on `app` (`main` registers only the one it runs)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SHM = Path("/dev/shm")


def _demo_env(tmp_path: Path) -> dict[str, str]:
    # TMPDIR: the demo's folders go under this test's folder, so leftovers are easy to find
    env = {**os.environ, "TMPDIR": str(tmp_path), "NO_COLOR": "1", "COLUMNS": "160"}
    for name in ("AIRLOCK_CONFIG", "AIRLOCK_TOKEN"):
        env.pop(name, None)
    return env


def _demo_folders(tmp_path: Path) -> set[str]:
    """The demo's folders wherever it makes them: $TMPDIR, /tmp (PostgreSQL's, as root, when
    $TMPDIR is private), /dev/shm (the vault)."""
    roots = (tmp_path, Path("/tmp"), SHM)
    return {str(p) for root in roots if root.is_dir() for p in root.glob(parts.PREFIX + "*")}


def _processes_in(folders: set[str]) -> list[str]:
    """Processes whose command line or working directory names one of `folders`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or proc.name == str(os.getpid()):
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if any(folder in cmdline or cwd.startswith(folder) for folder in folders):
            found.append(f"{proc.name}: {cmdline[:200]} (in {cwd})")
    return found


def _assert_nothing_left(tmp_path: Path, before: set[str], during: set[str]) -> None:
    deadline = time.monotonic() + 10  # an immediate shutdown's last backends need a moment
    while _processes_in(during) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_in(during) == []
    assert _demo_folders(tmp_path) - before == set()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.fixture
def real_parts() -> None:
    require(find_bindir() is not None, "PostgreSQL server binaries (initdb, pg_ctl)")
    require(SHM.is_dir() and os.stat(SHM).st_dev != os.stat("/tmp").st_dev,
            "a second filesystem for the demo's vault (/dev/shm as tmpfs)")


def test_the_demo_replays_the_incident_and_each_step_is_stopped(real_parts: None,
                                                                 tmp_path: Path) -> None:
    before = _demo_folders(tmp_path)
    done = subprocess.run([sys.executable, "-m", "airlock", "demo", "--json"], cwd=tmp_path,
                          env=_demo_env(tmp_path), capture_output=True, text=True, timeout=600)
    steps: list[dict[str, Any]] = json.loads(done.stdout)
    by_name = {s["name"]: s for s in steps}
    assert [s["name"] for s in steps] == [name for name, _ in STEPS]
    assert all(set(s) >= {"name", "expected", "observed", "ok"} for s in steps)
    assert done.returncode == 0, (done.stderr[-3000:], steps)
    assert all(s["ok"] for s in steps)

    found = by_name["token in a file"]["evidence"]
    assert found["finding"]["kind"] == "Railway Token" and found["finding"]["path"].endswith(".env")
    assert found["pointer"] == f"RAILWAY_TOKEN=airlock:{found['resource']}"

    staging = by_name["volumeDelete with a staging token"]["evidence"]
    assert staging["status"] == 403
    assert set(staging["target"]["environments"]) == {"production", "staging"}
    assert {"rentals", "rentals-staging", "rentals-backups"} <= set(staging["target"]["blast_radius"])

    production = by_name["volumeDelete with a production token"]["evidence"]
    assert production["status"] == 409 and production["approvals_required"] == 2
    assert production["approval_id"].startswith("apr_")

    dropped = by_name["DROP TABLE through the wire proxy"]["evidence"]
    assert dropped["approval_id"].startswith("apr_") and dropped["snapshot"].startswith("snap_")

    undone = by_name["airlock undo"]["evidence"]
    assert undone["rows"] == 2000 and undone["md5_after"] == undone["md5_before"]

    assert "step 5: airlock undo" in done.stderr  # the narration goes to stderr with --json
    # the folders it used are gone; any process still in a demo folder would be in one of them
    evidence = json.dumps(steps)
    used = {str(tmp_path)} | {f for f in _demo_folders(tmp_path) if f in evidence}
    _assert_nothing_left(tmp_path, before, used | {parts.PREFIX})


def test_ctrl_c_in_the_middle_stops_and_removes_everything(real_parts: None,
                                                          tmp_path: Path) -> None:
    before = _demo_folders(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "airlock", "demo", "--json"], cwd=tmp_path,
                            env=_demo_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # airlock up, PostgreSQL and the demo's Railway are all up
            seen.append(line)
            if line.startswith("step 2"):
                break
        assert any(line.startswith("step 2") for line in seen), "".join(seen)
        during = _demo_folders(tmp_path) - before
        assert len(during) == 3, during  # its own, PostgreSQL's (or the same) and the vault
        running = _processes_in(during)
        assert any("postgres" in p for p in running) and any(" up " in p for p in running), \
            running  # PostgreSQL and airlock up
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    _assert_nothing_left(tmp_path, before, during)


def test_without_postgresql_it_says_what_to_install_and_exits_2(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(parts, "SEARCHED", str(tmp_path / "nothing" / "*" / "bin"))
    result = CliRunner().invoke(app, ["demo", "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout.splitlines()[0])["error"].startswith(
        "PostgreSQL's server binaries")
    assert "apt-get install postgresql" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_step_that_fails_fails_the_demo_and_still_removes_everything(
        real_parts: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A workspace without the token: step 1 observes no finding, the rest is not run, the exit
    is 1 — and PostgreSQL, started in its thread while step 1 ran, is stopped."""
    before = _demo_folders(tmp_path)
    write_workspace = stage.write_workspace
    monkeypatch.setattr(stage, "write_workspace",
                        lambda home, token: write_workspace(home, "not-a-token"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = CliRunner().invoke(app, ["demo", "--json"])
    steps = json.loads(result.stdout)
    assert result.exit_code == 1, result.output
    assert steps[0]["ok"] is False and "did not flag" in steps[0]["observed"]
    assert [s["observed"] for s in steps[1:]] == ["not run: an earlier step failed"] * 4
    assert not any(s["ok"] for s in steps)
    _assert_nothing_left(tmp_path, before, {str(tmp_path), parts.PREFIX})
