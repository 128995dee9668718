"""The native hook client (`hookclient.c`): it only relays bytes between the harness and the
daemon, and whatever goes wrong it gives the harness's blocking answer — fuzzed like the Python
client (random stdin through the real binary, random answers from a fake daemon)."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airlock.fronts.hooks import install as installer
from airlock.fronts.hooks import native
from airlock.fronts.hooks.daemon import HookDaemon
from tests.conftest import require
from tests.hooks.conftest import World, client_command, fixture, make_world, raw
from tests.hooks.test_fuzz import FUZZ, HARNESSES, check_answer, payloads


@pytest.fixture(scope="module")
def binary() -> Path:
    built = native.build()
    require(built is not None, "a C compiler to build the native hook client")
    assert built is not None
    return built


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = make_world(tmp_path_factory.mktemp("native") / "w")
    yield w
    w.runtime.close()


@pytest.fixture(scope="module")
def daemon(world: World) -> Iterator[HookDaemon]:
    with HookDaemon(world.runner, world.config.state_dir / "native.sock").start(warm=False) as d:
        yield d


def run(command: list[str], data: bytes, timeout: float = 60) -> tuple[int, bytes, bytes]:
    done = subprocess.run(command, input=data, capture_output=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def native_command(binary: Path, harness: str, sock: Path | str | None, *fallback: str,
                   timeout: float = 10) -> list[str]:
    command = [str(binary), harness]
    if sock is not None:
        command += ["--socket", str(sock)]
    command += ["--timeout", str(timeout)]
    return [*command, "--", *fallback] if fallback else command


# ---- against the real daemon ------------------------------------------------------------------

@settings(FUZZ, max_examples=80)
@given(case=payloads())
def test_with_the_daemon_every_input_gets_an_answer(binary: Path, daemon: HookDaemon,
                                                     case: tuple[str, bytes, bool]) -> None:
    harness, data, must_block = case
    check_answer(harness, *run(native_command(binary, harness, daemon.path), data),
                 must_block=must_block)


@pytest.mark.parametrize("harness", HARNESSES)
def test_it_answers_exactly_as_the_python_client(binary: Path, daemon: HookDaemon,
                                                 harness: str) -> None:
    name = {"claude": "pretooluse_bash", "cursor": "before_shell_execution",
            "codex": "pretooluse_bash", "gemini": "beforetool_shell"}[harness]
    for command in ("ls -la", "rm -rf /srv/data"):
        data = fixture(harness, name)
        if "tool_input" in data:
            data["tool_input"] = {"command": command}
        else:
            data["command"] = command
        ours = run(native_command(binary, harness, daemon.path), raw(data))
        theirs = run(client_command(harness, daemon.path), raw(data))
        # the approval id differs between two holds; everything else is the same answer
        assert ours[0] == theirs[0]
        assert len(ours[1]) == len(theirs[1]) and len(ours[2]) == len(theirs[2])


def test_without_the_daemon_the_fallback_answers_with_stdin_intact(binary: Path,
                                                                   world: World,
                                                                   tmp_path: Path) -> None:
    fallback = client_command("claude", tmp_path / "nobody.sock", sys.executable, "-m",
                              "airlock", "--config", str(world.config.path), "hook", "claude",
                              "--state-dir", str(world.config.state_dir), timeout=60)
    data = fixture("claude", "pretooluse_bash")
    data["tool_input"] = {"command": "ls"}
    code, out, err = run(native_command(binary, "claude", tmp_path / "nobody.sock", *fallback),
                         raw(data), timeout=120)
    assert code == 0, err
    assert json.loads(out)["hookSpecificOutput"]["permissionDecision"] == "allow"


@pytest.mark.parametrize("harness", HARNESSES)
def test_no_daemon_and_no_fallback_blocks(binary: Path, harness: str, tmp_path: Path) -> None:
    code, out, err = run(native_command(binary, harness, tmp_path / "none.sock"), b"{}")
    check_answer(harness, code, out, err, must_block=True)
    assert b"not running" in (out + err)


def test_a_fallback_that_cannot_start_blocks(binary: Path, tmp_path: Path) -> None:
    code, _out, err = run(native_command(binary, "claude", tmp_path / "none.sock",
                                         str(tmp_path / "missing")), b"{}")
    assert code == 2 and b"could not start" in err


@pytest.mark.parametrize("harness", ["", "claude\udcff", "two words", "x" * 65])
def test_a_harness_name_it_cannot_send_blocks(binary: Path, daemon: HookDaemon,
                                              harness: str) -> None:
    code, _out, err = run(native_command(binary, harness, daemon.path), b"{}")
    assert code == 2 and b"blocked to be safe" in err


@pytest.mark.parametrize("timeout", ["0", "-1", "nan", "1e9", "x"])
def test_a_timeout_that_would_switch_its_deadline_off_blocks(binary: Path, timeout: str) -> None:
    code, _out, err = run([str(binary), "claude", "--timeout", timeout], b"{}")
    assert code == 2 and b"not between 0 and 3600 seconds" in err


def test_unknown_arguments_block(binary: Path) -> None:
    code, _out, err = run([str(binary), "claude", "--sockett", "x"], b"{}")
    assert code == 2 and b"unknown argument" in err


def test_input_over_the_limit_blocks(binary: Path, daemon: HookDaemon) -> None:
    code, out, _err = run(native_command(binary, "cursor", daemon.path),
                          b"{" + b" " * (16 * 1024 * 1024 + 1) + b"}")
    assert code == 0 and json.loads(out)["permission"] == "deny"


def test_input_that_never_ends_meets_the_deadline(binary: Path, daemon: HookDaemon) -> None:
    with subprocess.Popen(native_command(binary, "cursor", daemon.path, timeout=0.5),
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b'{"hook_event_name": ')
        proc.stdin.flush()
        try:
            proc.wait(timeout=30)
        finally:
            proc.kill()
        answer = json.loads(proc.stdout.read())
    assert proc.returncode == 0 and answer["permission"] == "deny"
    assert "did not answer in time" in answer["user_message"]


# ---- against a fake daemon: whatever it answers -----------------------------------------------

class FakeDaemon:
    """Reads one request per connection and answers with whatever `answer` holds."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.answer = b""
        self.requests: list[bytes] = []
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        self.server.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                chunks = []
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
                self.requests.append(b"".join(chunks))
                conn.sendall(self.answer)


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeDaemon]:
    d = FakeDaemon(tmp_path_factory.mktemp("fake") / "f.sock")
    yield d
    d.server.close()


@settings(FUZZ, max_examples=150)
@given(answer=st.binary(max_size=300), harness=st.sampled_from(HARNESSES))
def test_random_answers_are_never_relayed_unless_well_formed(binary: Path, fake: FakeDaemon,
                                                             answer: bytes,
                                                             harness: str) -> None:
    fake.answer = answer
    code, out, err = run(native_command(binary, harness, fake.path), b"{}")
    if (code == 2 and b"blocked to be safe" in err) or (harness == "cursor" and b'"deny"' in out):
        return
    header, _, body = answer.partition(b"\n")
    fields = header.split(b" ")
    assert fields[:2] == [b"airlock-hook", b"1"] and int(fields[2]) == code in (0, 2)
    assert body == out + err


@settings(FUZZ, max_examples=100)
@given(code=st.sampled_from((0, 2)), out=st.binary(max_size=500), err=st.binary(max_size=500),
       stdin=st.binary(max_size=2000))
def test_well_formed_answers_are_relayed_exactly(binary: Path, fake: FakeDaemon, code: int,
                                                 out: bytes, err: bytes, stdin: bytes) -> None:
    fake.answer = b"airlock-hook 1 %d %d %d\n%s%s" % (code, len(out), len(err), out, err)
    assert run(native_command(binary, "claude", fake.path), stdin) == (code, out, err)
    assert fake.requests[-1] == b"airlock-hook 1 claude\n" + stdin


@pytest.mark.parametrize("answer", [
    b"airlock-hook 1 1 0 0\n", b"airlock-hook 1 0 5 0\nabc", b"airlock-hook 1 0 -1 1\nx",
    b"airlock-hook 2 0 0 0\n", b"airlock-hook 1 0 0 0", b"", b"airlock-hook 1 0 0 0 0\n",
    b"airlock-hook 1 00000000000 0 0\n", b"airlock-hook 1 +0 0 0\n"])
def test_malformed_answers_block(binary: Path, fake: FakeDaemon, answer: bytes) -> None:
    fake.answer = answer
    code, _out, err = run(native_command(binary, "claude", fake.path), b"{}")
    assert code == 2 and b"malformed" in err


# ---- installed -------------------------------------------------------------------------------

def test_the_installed_command_runs_native_first_and_blocks_if_it_is_gone(
        binary: Path, world: World, daemon: HookDaemon, tmp_path: Path) -> None:
    command = installer.hook_command("claude", world.config, native=binary)
    argv = shlex.split(command.removesuffix(" || exit 2"))
    assert argv[0] == str(binary) and "hookclient.py" in command
    data = fixture("claude", "pretooluse_bash")
    data["tool_input"] = {"command": "ls"}
    done = subprocess.run(["/bin/sh", "-c", command], input=raw(data), capture_output=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    gone = command.replace(str(binary), str(tmp_path / "gone"), 1)
    done = subprocess.run(["/bin/sh", "-c", gone], input=raw(data), capture_output=True,
                          timeout=60)
    assert done.returncode == 2 and done.stderr


def test_install_writes_the_native_command(binary: Path, world: World, tmp_path: Path) -> None:
    done = installer.install("claude", world.config, tmp_path / "settings.json")
    assert done.command.startswith(shlex.quote(str(binary)))
    assert installer.uninstall("claude", tmp_path / "settings.json")  # still recognised


def test_without_a_compiler_the_python_client_is_installed(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    source = tmp_path / "hookclient.c"
    source.write_text(native.source_path().read_text() + "\n/* another build */\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("CC", raising=False)
    assert native.build(source) is None


def test_a_source_that_does_not_compile_gives_no_binary(tmp_path: Path) -> None:
    require(native.compiler() is not None, "a C compiler")
    source = tmp_path / "hookclient.c"
    source.write_text("this is not C\n")
    assert native.build(source) is None
    assert not list((tmp_path / "_native").glob("airlock-hookclient-*"))
