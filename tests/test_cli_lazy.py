"""`airlock` imports only the command module it runs (cli/__init__.py): the map it uses must name
every command's module, and a command must not pay for the others."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from airlock.cli import COMMAND_MODULES, command_named, load_all
from airlock.cli.app import app
from airlock.hookline import HookLine, hook_line


def _registered() -> dict[str, set[str]]:
    load_all()
    found: dict[str, set[str]] = defaultdict(set)
    for cmd in app.registered_commands:
        assert cmd.callback is not None
        found[cmd.name or cmd.callback.__name__.replace("_", "-")].add(cmd.callback.__module__)
    for group in app.registered_groups:
        assert group.name and group.typer_instance is not None
        pending = [group.typer_instance]
        while pending:
            sub = pending.pop()
            for cmd in sub.registered_commands:
                assert cmd.callback is not None
                found[group.name].add(cmd.callback.__module__)
            pending += [g.typer_instance for g in sub.registered_groups if g.typer_instance]
    return found


def test_the_map_names_the_module_of_every_command() -> None:
    found = _registered()
    assert set(found) == set(COMMAND_MODULES), "a command is missing from COMMAND_MODULES"
    for name, modules in found.items():
        assert modules == {f"airlock.cli.{COMMAND_MODULES[name]}"}, name


@pytest.mark.parametrize(("argv", "name"), [
    (["token", "list"], "token"),
    (["--config", "x.toml", "up", "--port", "1"], "up"),
    (["-c", "x.toml", "audit", "verify"], "audit"),
    (["--config=x.toml", "check", "ls"], "check"),
    (["--version"], None),
    ([], None),
    (["--help"], None),
])
def test_the_command_named_after_the_root_options(argv: list[str], name: str | None) -> None:
    assert command_named(argv) == name


def _modules_after(*argv: str) -> tuple[int, set[str]]:
    script = ("import sys\nsys.argv = ['airlock', *sys.argv[1:]]\nfrom airlock.cli import main\n"
              "code = 0\ntry:\n    main()\nexcept SystemExit as exc:\n    code = exc.code or 0\n"
              "print(code)\nprint(' '.join(m for m in sys.modules if m.startswith('airlock.')))\n")
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True,
                          timeout=120)
    lines = done.stdout.strip().splitlines()
    return int(lines[-2]), set(lines[-1].split())


def test_a_command_imports_its_module_and_not_the_others() -> None:
    code, modules = _modules_after("token", "--help")
    assert code == 0
    assert "airlock.cli.token_cmd" in modules
    assert not modules & {"airlock.cli.admin_cmd", "airlock.cli.approve_cmd",
                          "airlock.console", "airlock.cli.vault_cmd"}, modules


def test_help_and_unknown_commands_still_see_every_command() -> None:
    code, modules = _modules_after("--help")
    assert code == 0
    assert {f"airlock.cli.{m}" for m in COMMAND_MODULES.values()} <= modules
    code, modules = _modules_after("no-such-command")
    assert code == 2
    assert {f"airlock.cli.{m}" for m in COMMAND_MODULES.values()} <= modules


def test_version_needs_no_command_module() -> None:
    code, modules = _modules_after("--version")
    assert code == 0
    assert not {m for m in modules if m.startswith("airlock.cli.") and m.endswith("_cmd")}


@pytest.mark.parametrize(("argv", "expected"), [
    (["hook", "claude"], HookLine("claude")),
    (["--config", "a.toml", "hook", "cursor", "--state-dir", "/s"],
     HookLine("cursor", "a.toml", Path("/s"))),
    (["-c", "a.toml", "hook", "codex"], HookLine("codex", "a.toml")),
    (["hook", "--help"], None),  # a value that looks like an option: the command line explains
    (["hook"], None),
    (["--state-dir", "/s", "hook", "claude"], None),  # --state-dir belongs after the harness
    (["hook", "claude", "--extra", "x"], None),
    (["token", "list"], None),
    (["--version"], None),
    ([], None),
])
def test_a_hook_call_is_told_from_any_other_command_line(argv: list[str],
                                                        expected: HookLine | None) -> None:
    assert hook_line(argv) == expected


def test_python_m_airlock_imports_the_hooks_only_for_a_hook_call() -> None:
    # `python -m airlock`, as the hook client's fallback and many scripts run it: a command that
    # is not a hook call does not import the hooks, and --version imports nothing but the CLI.
    script = ("import runpy, sys\nsys.argv = ['airlock', *sys.argv[1:]]\ncode = 0\n"
              "try:\n    runpy.run_module('airlock', run_name='__main__')\n"
              "except SystemExit as exc:\n    code = exc.code or 0\n"
              "print(code)\nprint(' '.join(m for m in sys.modules if m.startswith('airlock')))\n")
    done = subprocess.run([sys.executable, "-c", script, "--version"], capture_output=True,
                          text=True, timeout=120)
    lines = done.stdout.strip().splitlines()
    assert lines[-2] == "0", done.stderr
    modules = set(lines[-1].split())
    assert not {m for m in modules if m.startswith(("airlock.fronts", "airlock.config"))}, modules
