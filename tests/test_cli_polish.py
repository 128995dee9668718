"""The command line as a newcomer meets it: --version, help that shows flags as flags, and a
busy port that fails before anything claims to listen."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
import typer.testing

from airlock import __version__
from airlock.cli.app import EXIT_ERROR, app
from tests.cli import airlock


def test_version_prints_the_version_and_exits_zero(tmp_path: Path) -> None:
    result = airlock("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"airlock {__version__}"


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path under a click group (typer's own copy of click: duck-typed)."""
    found = [prefix]
    ctx = typer.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if hasattr(command, "list_commands"):
            found += _commands(command, (*prefix, name))
        elif command is not None:
            found.append((*prefix, name))
    return found


def test_no_help_page_shows_a_flag_as_taking_a_value() -> None:
    commands = _commands(typer.main.get_command(app))
    assert ("token", "create") in commands and ("up",) in commands
    runner = typer.testing.CliRunner()
    for path in commands:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
        assert result.exit_code == 0, (path, result.output)
        assert "<bool>" not in result.output and "BOOLEAN" not in result.output, \
            (path, result.output)
        if path == ("check",):
            line = next(x for x in result.output.splitlines() if "--json " in x)
            assert "--json" in line and "Print the verdict as JSON." in line


def test_a_busy_port_fails_clearly_before_anything_says_listening(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "airlock", "up", "--port", str(port)],
                                cwd=tmp_path, capture_output=True, text=True, timeout=60,
                                env={"NO_COLOR": "1", "COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert result.returncode == EXIT_ERROR, result.stderr
    assert f"port {port} is already in use" in result.stderr
    assert "--port" in result.stderr  # what to do
    assert "listening" not in result.stderr + result.stdout


@pytest.mark.parametrize("args", [["--version", "up"], ["--version"]])
def test_version_is_eager(tmp_path: Path, args: list[str]) -> None:
    result = airlock(*args, cwd=tmp_path)
    assert result.returncode == 0 and __version__ in result.stdout


def test_missing_corpora_say_where_they_come_from(tmp_path: Path) -> None:
    from tests.conftest import CORPUS_SOURCES, missing_corpora

    (tmp_path / "dcg").mkdir()
    message = missing_corpora(tmp_path)
    assert message is not None and str(tmp_path) in message
    assert "dcg/" not in message  # present, so not listed
    assert "github.com/railwayapp/cli" in message and "libpg_query" in message
    assert "AIRLOCK_CORPORA" in message
    for name in CORPUS_SOURCES:
        (tmp_path / name).mkdir(exist_ok=True)
    assert missing_corpora(tmp_path) is None


def test_hints_are_spelled_the_way_airlock_was_run(tmp_path: Path) -> None:
    as_typed = {"AIRLOCK_INVOKED_AS": "bin/airlock"}
    init = airlock("init", cwd=tmp_path, env=as_typed)
    assert init.returncode == 0, init.stderr
    assert "`bin/airlock config check`" in init.stdout  # ./airlock.toml needs no --config
    again = airlock("init", cwd=tmp_path, env=as_typed)
    assert again.returncode == EXIT_ERROR
    missing = airlock("approve", "apr_nope", "--token", "t", "--code", "1", cwd=tmp_path,
                      env=as_typed)
    assert "`bin/airlock approvals`" in missing.stderr, missing.stderr
    plain = airlock("init", str(tmp_path / "other.toml"), cwd=tmp_path)
    assert f"`airlock --config {tmp_path / 'other.toml'} config check`" in plain.stdout
