"""The hook daemon: its wire format, its socket's permissions, stale and live sockets, and many
calls at once."""

from __future__ import annotations

import json
import socket
import stat
import threading
from pathlib import Path

import pytest

from airlock.errors import AirlockError
from airlock.fronts.hooks.base import Answer
from airlock.fronts.hooks.daemon import (
    HookDaemon,
    ProtocolError,
    encode_response,
    parse_request,
)
from tests.hooks.conftest import World, fixture, raw, with_command


def test_the_wire_format() -> None:
    assert parse_request(b"airlock-hook 1 claude\n{}") == ("claude", b"{}")
    assert parse_request(b"airlock-hook 1 claude\n") == ("claude", b"")
    assert encode_response(Answer(2, "out", "érr")) == b"airlock-hook 1 2 3 4\nout\xc3\xa9rr"
    for bad in (b"{}", b"airlock-hook 1\n{}", b"airlock-hook 9 claude\n{}",
                b"x" * 300 + b"\n"):
        with pytest.raises(ProtocolError):
            parse_request(bad)


def _ask(path: Path, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(10)
        conn.connect(str(path))
        conn.sendall(request)
        conn.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_socket_is_private_and_removed_on_close(world: World) -> None:
    path = world.config.state_dir / "hooks.sock"
    with HookDaemon(world.runner, path).start(warm=False):
        mode = path.stat().st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not path.exists()


def test_a_bad_request_gets_a_blocking_answer(world: World, daemon: HookDaemon) -> None:
    assert _ask(daemon.path, b"GET / HTTP/1.1\r\n\r\n").startswith(b"airlock-hook 1 2 ")
    unknown = _ask(daemon.path, b"airlock-hook 1 windsurf\n{}")
    assert unknown.startswith(b"airlock-hook 1 2 ") and b"windsurf" in unknown


def test_one_daemon_per_state_folder(world: World, daemon: HookDaemon) -> None:
    with pytest.raises(AirlockError, match="already serving hooks"):
        HookDaemon(world.runner, daemon.path).start(warm=False)
    assert _ask(daemon.path, b"airlock-hook 1 claude\n" + raw(fixture("claude", "pretooluse_bash")))


def test_a_stale_socket_is_replaced_and_a_stranger_file_is_not(world: World,
                                                               tmp_path: Path) -> None:
    stale = tmp_path / "stale.sock"
    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(str(stale))
    leftover.close()
    with HookDaemon(world.runner, stale).start(warm=False) as d:
        assert _ask(d.path, b"airlock-hook 1 claude\n" + raw(fixture("claude", "pretooluse_bash")))
    stranger = tmp_path / "file.sock"
    stranger.write_text("not a socket")
    with pytest.raises(AirlockError, match="is not airlock's hook socket"):
        HookDaemon(world.runner, stranger).start(warm=False)
    assert stranger.read_text() == "not a socket"


def test_many_calls_at_once(world: World, daemon: HookDaemon) -> None:
    answers: list[bytes] = []

    def call(i: int) -> None:
        data = with_command(fixture("claude", "pretooluse_bash"), f"ls dir{i}")
        answers.append(_ask(daemon.path, b"airlock-hook 1 claude\n" + raw(data)))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == 20
    for answer in answers:
        header, _, body = answer.partition(b"\n")
        assert header.split()[2] == b"0"
        assert json.loads(body)["hookSpecificOutput"]["permissionDecision"] == "allow"


def test_warming_loads_the_classifiers(world: World) -> None:
    world.runner.warm()
    from airlock.classify import secrets_files

    assert secrets_files._prefilter is not None


def test_a_socket_group_lets_that_group_in_and_nobody_else(world: World) -> None:
    """The deployment docs recommend running airlock as its own OS user; the agent's user then
    reaches the hooks through a socket outside the private state folder, shared with one group.
    Proved with real OS users: `nobody` in the group is answered, `nobody` outside it is not."""
    import grp
    import os
    import shutil
    import subprocess
    import tempfile

    from tests.conftest import require

    system_python = Path("/usr/bin/python3")
    require(os.geteuid() == 0 and shutil.which("runuser") is not None and system_python.exists(),
            "root, runuser and /usr/bin/python3 (to act as another OS user)")
    group = "postgres"  # a group every test machine has (the PostgreSQL server's)
    gid = grp.getgrnam(group).gr_gid
    sockdir = Path(tempfile.mkdtemp(prefix="airlock-hooks-", dir="/tmp"))
    clientdir = Path(tempfile.mkdtemp(prefix="airlock-client-", dir="/tmp"))
    try:
        clientdir.chmod(0o755)
        client = clientdir / "hookclient.py"
        shutil.copy(Path(__file__).resolve().parents[2] / "src/airlock/hookclient.py", client)
        client.chmod(0o644)
        path = sockdir / "hooks.sock"
        payload = raw(with_command(fixture("claude", "pretooluse_bash"), "ls -la"))
        with HookDaemon(world.runner, path, group).start(warm=False):
            assert stat.S_IMODE(path.stat().st_mode) == 0o660 and path.stat().st_gid == gid
            assert stat.S_IMODE(sockdir.stat().st_mode) == 0o710 and sockdir.stat().st_gid == gid

            def as_nobody(*group_args: str) -> subprocess.CompletedProcess[bytes]:
                return subprocess.run(
                    ["runuser", "-u", "nobody", *group_args, "--", str(system_python), "-I", "-S",
                     str(client), "claude", "--socket", str(path), "--timeout", "10"],
                    input=payload, capture_output=True, timeout=60)

            member = as_nobody("-g", group)
            assert member.returncode == 0, member.stderr
            assert json.loads(member.stdout)["hookSpecificOutput"]["permissionDecision"] == "allow"
            stranger = as_nobody()
            assert stranger.returncode == 2 and b"blocked" in stranger.stderr
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)
        shutil.rmtree(clientdir, ignore_errors=True)


def test_a_stop_request_removes_the_socket_before_any_service_stops(world: World,
                                                                     tmp_path: Path) -> None:
    from airlock.services import Services

    daemon = HookDaemon(world.runner, tmp_path / "w.sock")
    services = Services([daemon])
    services.start()
    try:
        assert daemon.path.is_socket()
        services.request_stop()  # what the SIGTERM handler calls
        assert not daemon.path.exists()
        assert daemon.health().ok  # calls in flight still finish
    finally:
        services.stop()
    assert not daemon.health().ok
