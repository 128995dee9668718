"""A hook that finds no daemon starts one (autostart.py): real clients, real daemons, real
`airlock up` — one daemon for concurrent hooks, never for a system socket, gone when idle, and
taken over by `airlock up`."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock.config import Config, load_config
from airlock.fronts.hooks import autostart
from airlock.fronts.hooks.install import hook_command
from tests.approvals.helpers import start_server
from tests.hooks.conftest import (
    client_command,
    fixture,
    raw,
    run_client,
    started_daemons,
    with_command,
)


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def _auto_daemons(state: Path) -> list[int]:
    """Live daemons started by a hook for this state folder."""
    return started_daemons(state)


def _wait(condition: object, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "p"
    root.mkdir()
    (root / "airlock.toml").write_text('state_dir = "state"\n')
    yield root
    for pid in _auto_daemons(root / "state"):  # whatever a failing test left running
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _hook(project: Path, command: str = "ls") -> subprocess.CompletedProcess[str]:
    config = load_config(project / "airlock.toml")
    payload = with_command(fixture("claude", "pretooluse_bash"), command, cwd=str(project))
    return run_client(shlex.split(hook_command("claude", config)), payload)


def test_a_hook_without_a_daemon_starts_one_that_answers_the_next_calls(project: Path) -> None:
    state = project / "state"
    first = _hook(project)
    assert first.returncode == 0 and '"allow"' in first.stdout
    pid = int((state / autostart.PID_NAME).read_text())
    assert autostart.is_auto_daemon(pid) and _answers(state / "hooks.sock")
    assert (state / autostart.PID_NAME).stat().st_mode & 0o077 == 0
    # the daemon answers: a fallback that fails would block the call
    payload = with_command(fixture("claude", "pretooluse_bash"), "ls", cwd=str(project))
    second = run_client(client_command("claude", state / "hooks.sock", "/bin/false"), payload)
    assert second.returncode == 0 and '"allow"' in second.stdout
    held = _hook(project, "rm -rf /")  # and it judges like the in-process path
    assert held.returncode == 2 or "\"allow\"" not in held.stdout
    os.kill(pid, signal.SIGTERM)
    assert _wait(lambda: not _auto_daemons(state))
    assert not (state / "hooks.sock").exists() and not (state / autostart.PID_NAME).exists()


def test_concurrent_hooks_start_one_daemon(project: Path) -> None:
    config = load_config(project / "airlock.toml")
    payload = raw(with_command(fixture("claude", "pretooluse_bash"), "ls", cwd=str(project)))
    clients = [subprocess.Popen(shlex.split(hook_command("claude", config)),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE) for _ in range(4)]
    answers = [c.communicate(payload, timeout=60) for c in clients]
    assert [c.returncode for c in clients] == [0] * 4, answers
    assert all(b'"allow"' in out for out, _ in answers)
    time.sleep(0.5)  # a second starter, had there been one, would be serving by now
    assert len(_auto_daemons(project / "state")) == 1


def test_airlock_up_takes_over_from_a_started_daemon(project: Path) -> None:
    state = project / "state"
    assert _hook(project).returncode == 0
    pid = int((state / autostart.PID_NAME).read_text())
    server = start_server(project)
    try:
        # the hooks service starts after the API answers: it stops the started daemon first
        assert _wait(lambda: not autostart.is_auto_daemon(pid))
        assert _wait(lambda: _answers(state / "hooks.sock")) and _auto_daemons(state) == []
        assert "stopping the hooks daemon a hook started" in server.log.read_text()
        payload = with_command(fixture("claude", "pretooluse_bash"), "ls", cwd=str(project))
        served = run_client(client_command("claude", state / "hooks.sock", "/bin/false"),
                            payload)
        assert served.returncode == 0 and '"allow"' in served.stdout
    finally:
        server.stop()


def test_take_over_leaves_a_lock_held_by_anything_else_alone(tmp_path: Path) -> None:
    (tmp_path / autostart.PID_NAME).write_text(f"{os.getpid()}\n")  # not a started daemon
    fd = os.open(tmp_path / autostart.LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert autostart.take_over(tmp_path, seconds=0.5) is None
    finally:
        os.close(fd)
    taken = autostart.take_over(tmp_path)
    assert taken is not None
    os.close(taken)


def test_a_system_socket_is_never_started_by_a_hook(tmp_path: Path) -> None:
    config_path = tmp_path / "airlock.toml"
    config_path.write_text(f'state_dir = "state"\n[hooks]\nsocket = "{tmp_path}/sys.sock"\n')
    config = load_config(config_path)
    assert "--autostart" not in hook_command("claude", config)
    assert "systemd" in autostart.refusal(config)
    assert autostart.main(["--config", str(config_path), "hook", "claude"]) == autostart.REFUSED
    assert not (tmp_path / "sys.sock").exists()
    own = Config(path=None, state_dir=tmp_path / "own")
    assert "--autostart" in hook_command("claude", own)


def test_a_state_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to give a folder away")  # the check itself is plain Python
    folder = tmp_path / "theirs"
    folder.mkdir()
    os.chown(folder, 65534, 65534)
    assert "another user" in autostart.refusal(Config(path=None, state_dir=folder))


def test_a_refusing_daemon_sends_the_client_to_its_fallback_at_once(tmp_path: Path) -> None:
    config_path = tmp_path / "airlock.toml"
    config_path.write_text(f'state_dir = "state"\n[hooks]\nsocket = "{tmp_path}/sys.sock"\n')
    fallback = [sys.executable, "-m", "airlock", "--config", str(config_path), "hook", "claude"]
    command = client_command("claude", tmp_path / "sys.sock", *fallback, timeout=60)
    command.insert(command.index("--"), "--autostart")  # as if installed before the change
    payload = with_command(fixture("claude", "pretooluse_bash"), "ls", cwd=str(tmp_path))
    done = run_client(command, payload)
    assert done.returncode == 0 and '"allow"' in done.stdout  # the in-process path answered
    assert not (tmp_path / "sys.sock").exists()


def test_an_idle_daemon_leaves(tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc = subprocess.run([sys.executable, "-m", autostart.MODULE, "hook", "claude",
                           "--state-dir", str(state), "--idle-seconds", "1"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert not (state / "hooks.sock").exists() and not (state / autostart.PID_NAME).exists()
    assert "no hook call for 1 s: leaving" in (state / autostart.LOG_NAME).read_text()


def test_bad_arguments_are_refused() -> None:
    assert autostart.main(["--bogus"]) == autostart.REFUSED
