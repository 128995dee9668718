"""The hook client as a harness runs it (`python3 -I -S hookclient.py …`, a real process): it
relays the daemon's answer exactly, falls back to the in-process path when no daemon listens,
and turns every failure into the harness's blocking answer."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from airlock.fronts.hooks.daemon import HookDaemon
from tests.hooks.conftest import (
    World,
    client_command,
    fixture,
    make_world,
    raw,
    run_client,
    with_command,
)


def test_the_daemon_answer_is_relayed_exactly(world: World, daemon: HookDaemon) -> None:
    for harness, name in (("claude", "pretooluse_bash"), ("cursor", "before_shell_execution"),
                          ("codex", "pretooluse_bash"), ("gemini", "beforetool_shell")):
        for command in ("ls", "rm -rf /srv/data"):
            data = with_command(fixture(harness, name), command)
            expected = world.runner.run(harness, raw(data))
            done = run_client(client_command(harness, daemon.path), data)
            assert (done.returncode, done.stdout, done.stderr) == (
                expected.exit_code, expected.stdout, expected.stderr)


def test_the_socket_can_come_from_the_environment(world: World, daemon: HookDaemon) -> None:
    done = run_client(client_command("gemini", None), fixture("gemini", "beforetool_shell"),
                      env={"AIRLOCK_HOOK_SOCKET": str(daemon.path)})
    assert (done.returncode, json.loads(done.stdout)) == (0, {"decision": "allow"})


def test_without_a_daemon_the_fallback_answers(world: World, tmp_path: Path) -> None:
    fallback = [sys.executable, "-m", "airlock", "--config", str(world.config.path), "hook",
                "claude", "--state-dir", str(world.config.state_dir)]
    # The fixture's `npm test` would read /home/user/my-project/package.json, which this
    # machine does not have (a script airlock cannot read is held): a plain read instead.
    data = with_command(fixture("claude", "pretooluse_bash"), "git status")
    # The fallback starts airlock (about a second; many more on a loaded machine): the test is
    # about who answers, so the client's deadline is generous here.
    done = run_client(client_command("claude", tmp_path / "nobody.sock", *fallback, timeout=90),
                      data)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["hookSpecificOutput"]["permissionDecision"] == "allow"
    stale = tmp_path / "stale.sock"  # a socket file nobody listens on: a crashed daemon
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(stale))
    listener.close()
    held = run_client(client_command("claude", stale, *fallback, timeout=90),
                      with_command(data, "rm -rf /srv/data"))
    assert held.returncode == 2 and "airlock held this action" in held.stderr
    assert f"nothing answers on {stale}" in held.stderr  # the slow path is not taken silently
    assert "nothing answers" not in done.stderr  # no socket at all: nothing stale to report


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@pytest.mark.parametrize(("fallback", "why"), [
    ([], "no fallback command is set"),
    (_python("import sys; sys.stderr.write('Traceback: boom'); sys.exit(1)"),
     "airlock exited with status 1 Traceback: boom"),
    (_python("print('{}')"), None),  # exit 0 and 2 are the fallback's to give
    (["/nonexistent/python"], "could not start airlock"),
])
def test_fallback_failures_block(tmp_path: Path, fallback: list[str], why: str | None) -> None:
    data = fixture("codex", "pretooluse_bash")
    done = run_client(client_command("codex", tmp_path / "none.sock", *fallback), data)
    if why is None:
        assert (done.returncode, done.stdout) == (0, "{}\n")
    else:
        assert done.returncode == 2 and why in done.stderr
        assert "blocked to be safe" in done.stderr


def test_a_hung_fallback_blocks_within_the_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    done = run_client(client_command("claude", tmp_path / "none.sock",
                                     *_python("import time; time.sleep(30)"), timeout=1),
                      fixture("claude", "pretooluse_bash"))
    assert done.returncode == 2 and "did not answer in time" in done.stderr
    assert time.monotonic() - started < 10


@pytest.fixture
def fake_daemon(tmp_path: Path) -> Iterator[Callable[[Callable[[socket.socket], None]], Path]]:
    """A socket that answers however the test says (garbage, silence, bad exit codes)."""
    servers: list[socket.socket] = []

    def serve(behaviour: Callable[[socket.socket], None]) -> Path:
        path = tmp_path / f"fake{len(servers)}.sock"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.listen(1)
        servers.append(server)

        def loop() -> None:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                behaviour(conn)

        threading.Thread(target=loop, daemon=True).start()
        return path

    yield serve
    for server in servers:
        server.close()


def _reply(data: bytes) -> Callable[[socket.socket], None]:
    def behaviour(conn: socket.socket) -> None:
        while conn.recv(65536):
            pass
        conn.sendall(data)
    return behaviour


@pytest.mark.parametrize("response", [
    b"", b"hello", b"airlock-hook 1 0 5 0\nabc",  # truncated
    b"airlock-hook 1 1 0 0\n",  # exit 1 would let the call through: refused
    b"airlock-hook 2 0 0 0\n", b"airlock-hook 1 0 x 0\n"])
def test_malformed_daemon_answers_block(fake_daemon: Callable[..., Path],
                                        response: bytes) -> None:
    path = fake_daemon(_reply(response))
    done = run_client(client_command("claude", path), fixture("claude", "pretooluse_bash"))
    assert done.returncode == 2 and "malformed answer" in done.stderr


def test_a_silent_daemon_blocks_at_the_timeout(fake_daemon: Callable[..., Path]) -> None:
    path = fake_daemon(lambda conn: time.sleep(5))
    started = time.monotonic()
    done = run_client(client_command("cursor", path, timeout=0.5),
                      fixture("cursor", "before_shell_execution"))
    assert time.monotonic() - started < 4
    assert done.returncode == 0  # Cursor's blocking form is a JSON deny
    answer = json.loads(done.stdout)
    assert answer["permission"] == "deny" and "did not answer in time" in answer["user_message"]


@pytest.mark.parametrize("args", [["--bogus"], ["--timeout", "soon"]])
def test_bad_arguments_block(args: list[str]) -> None:
    command = client_command("gemini", None)[:5] + args
    done = run_client(command, fixture("gemini", "beforetool_shell"))
    assert done.returncode == 2 and "blocked to be safe" in done.stderr


def test_a_long_state_folder_is_reached_through_its_descriptor(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    world = make_world(deep)
    assert len(str(world.config.state_dir / "hooks.sock")) > 108
    with HookDaemon(world.runner, world.config.state_dir / "hooks.sock").start(warm=False) as d:
        done = run_client(client_command("claude", d.path), fixture("claude", "pretooluse_bash"))
    world.runtime.close()
    assert done.returncode == 0, done.stderr


def test_the_client_imports_nothing_it_does_not_need() -> None:
    """The speed of every tool call rests on this: no json, os, socket or subprocess on the
    daemon path (they cost ~30 ms to import)."""
    from tests.hooks.conftest import CLIENT

    source = CLIENT.read_text()
    top_level = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert top_level == ["from __future__ import annotations", "import _signal", "import _socket",
                         "import posix", "import sys", "import time"]
