"""`airlock install|uninstall`: merging into each harness's settings without clobbering, and the
command it writes, run exactly as the harness would run it."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from airlock.config import Config, load_config
from airlock.errors import InputError
from airlock.fronts.hooks import install as installer
from airlock.fronts.hooks.daemon import HookDaemon, socket_path
from airlock.fronts.hooks.runner import HookRunner
from airlock.runtime import Runtime
from tests.cli import airlock
from tests.hooks.conftest import fixture, raw

EXISTING_CLAUDE: dict[str, Any] = {
    "model": "opus",
    "permissions": {"allow": ["Bash(npm test)"], "deny": ["Read(./secrets/**)"]},
    "env": {"FOO": "bar"},
    "hooks": {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "~/bin/audit-bash.sh"}]},
        ],
        "PostToolUse": [
            {"matcher": "Write|Edit", "hooks": [{"type": "command", "command": "prettier -w"}]},
        ],
    },
}


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(path=None, state_dir=tmp_path / "state")


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def test_install_keeps_what_is_there_and_is_idempotent(tmp_path: Path, config: Config) -> None:
    path = tmp_path / ".claude" / "settings.json"
    _write(path, EXISTING_CLAUDE)
    path.chmod(0o640)
    first = installer.install("claude", config, path)
    assert first.changed and first.events == ("PreToolUse", "PermissionRequest")
    after = json.loads(path.read_text())
    for key in ("model", "permissions", "env"):
        assert after[key] == EXISTING_CLAUDE[key]
    assert after["hooks"]["PostToolUse"] == EXISTING_CLAUDE["hooks"]["PostToolUse"]
    pre = after["hooks"]["PreToolUse"]
    assert pre[0] == EXISTING_CLAUDE["hooks"]["PreToolUse"][0]
    assert pre[1]["matcher"] == "Bash|Read|Write|Edit|MultiEdit|NotebookEdit|Grep|mcp__.*"
    assert pre[1]["hooks"][0]["command"] == first.command
    assert after["hooks"]["PermissionRequest"][0]["hooks"][0]["timeout"] == 30
    assert (path.stat().st_mode & 0o777) == 0o640
    text = path.read_text()
    second = installer.install("claude", config, path)
    assert not second.changed and path.read_text() == text


def test_reinstalling_replaces_airlocks_entry_only(tmp_path: Path, config: Config) -> None:
    path = tmp_path / "settings.json"
    _write(path, EXISTING_CLAUDE)
    installer.install("claude", config, path, command="/old/python -I -S /x/airlock/hookclient.py claude")
    installer.install("claude", config, path)
    pre = json.loads(path.read_text())["hooks"]["PreToolUse"]
    commands = [h["command"] for group in pre for h in group["hooks"]]
    assert commands[0] == "~/bin/audit-bash.sh"
    assert len([c for c in commands if "hookclient.py" in c]) == 1
    assert not any(c.startswith("/old/") for c in commands)


def test_uninstall_removes_only_airlock(tmp_path: Path, config: Config) -> None:
    path = tmp_path / "settings.json"
    _write(path, EXISTING_CLAUDE)
    installer.install("claude", config, path)
    assert installer.uninstall("claude", path)
    assert json.loads(path.read_text()) == EXISTING_CLAUDE
    assert not installer.uninstall("claude", path)
    assert not installer.uninstall("claude", tmp_path / "missing.json")


def test_a_shared_group_keeps_its_other_handlers(tmp_path: Path, config: Config) -> None:
    command = installer.hook_command("codex", config)
    path = tmp_path / "hooks.json"
    _write(path, {"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [
        {"type": "command", "command": "lint.sh"}, {"type": "command", "command": command}]}]}})
    assert installer.uninstall("codex", path)
    assert json.loads(path.read_text()) == {"hooks": {"PreToolUse": [
        {"matcher": "Bash", "hooks": [{"type": "command", "command": "lint.sh"}]}]}}


def test_each_harness_gets_its_own_shape(tmp_path: Path, config: Config) -> None:
    cursor = json.loads(json.dumps(installer.merged({}, "cursor", "C hookclient.py airlock", 20)))
    assert cursor["version"] == 1
    assert set(cursor["hooks"]) == {"beforeShellExecution", "beforeMCPExecution", "beforeReadFile",
                                    "preToolUse"}
    assert cursor["hooks"]["beforeReadFile"] == [{"command": "C hookclient.py airlock",
                                                  "failClosed": True}]
    gemini = installer.merged({"ui": {"theme": "x"}}, "gemini", "G", 20)
    handler = gemini["hooks"]["BeforeTool"][0]["hooks"][0]
    assert (handler["name"], handler["timeout"]) == ("airlock", 30000)
    assert gemini["ui"] == {"theme": "x"}
    codex = installer.merged({}, "codex", "X", 20)
    assert codex["hooks"]["PreToolUse"][0]["matcher"] == "Bash|apply_patch|mcp__.*"


def test_the_command_spells_everything_out(tmp_path: Path) -> None:
    (tmp_path / "airlock.toml").write_text('state_dir = "st"\n[hooks]\nwait_seconds = 45\n')
    config = load_config(tmp_path / "airlock.toml")
    argv = shlex.split(installer.hook_command("claude", config))
    assert argv[1:3] == ["-I", "-S"] and argv[3].endswith("airlock/hookclient.py")
    assert argv[argv.index("--socket") + 1] == str(tmp_path / "st" / "hooks.sock")
    assert argv[argv.index("--timeout") + 1] == "65"
    fallback = argv[argv.index("--") + 1:]
    assert fallback[1:] == ["-m", "airlock", "--config", str(tmp_path / "airlock.toml"), "hook",
                            "claude", "--state-dir", str(tmp_path / "st")]
    assert installer.entries("claude", "c", 65)["PreToolUse"]["hooks"][0]["timeout"] == 75


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "is not valid JSON"), ("[1, 2]", "does not hold a JSON object"),
    ('{"hooks": []}', "`hooks` is not a JSON object"),
    ('{"hooks": {"PreToolUse": {}}}', "`hooks.PreToolUse` is not a list")])
def test_files_airlock_cannot_merge_are_left_alone(tmp_path: Path, config: Config,
                                                   content: str, message: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        installer.install("claude", config, path)
    assert path.read_text() == content


def test_unknown_harness(config: Config, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown harness 'windsurf'"):
        installer.install("windsurf", config, tmp_path / "x.json")


# --------------------------------------------------------------------------------------------
# End to end: install into a temporary HOME, then run exactly what was written

PROJECT_CONFIG = """
state_dir = "state"

[principals.coding-agent]
kind = "agent"

[principals.alice]
kind = "human"

[hooks]
principal = "coding-agent"
"""

PAYLOADS = {
    "claude": ("pretooluse_read", ".claude/settings.json", "PreToolUse"),
    "cursor": ("before_read_file", ".cursor/hooks.json", "beforeReadFile"),
    "codex": ("pretooluse_apply_patch", ".codex/hooks.json", "PreToolUse"),
    "gemini": ("beforetool_read_file", ".gemini/settings.json", "BeforeTool"),
}


def _touching(harness: str, path: Path, cwd: Path) -> dict[str, Any]:
    """A documented payload of `harness` that reads `path` (Codex: a patch that writes it)."""
    name = PAYLOADS[harness][0]
    data = fixture(harness, name) | {"cwd": str(cwd)}
    if harness == "cursor":
        data["file_path"] = str(path)
    elif harness == "codex":
        data["tool_input"] = {"command": f"*** Begin Patch\n*** Update File: {path}\n@@\n-a\n+b\n"
                                         "*** End Patch\n"}
    else:
        data["tool_input"] = {"file_path": str(path)}
    return data


def _installed_command(home: Path, harness: str) -> str:
    _, rel, event = PAYLOADS[harness]
    settings = json.loads((home / rel).read_text())
    entry = settings["hooks"][event][-1]
    return str(entry["command"] if harness == "cursor" else entry["hooks"][0]["command"])


def _run_as_harness(command: str, data: dict[str, Any], cwd: Path) -> subprocess.CompletedProcess[str]:
    # Every harness runs the command through a shell, in the agent's working directory.
    return subprocess.run(["/bin/sh", "-c", command], input=raw(data).decode(), text=True,
                          capture_output=True, cwd=cwd, timeout=60,
                          env={k: v for k, v in os.environ.items() if k != "AIRLOCK_CONFIG"})


def _blocked(harness: str, done: subprocess.CompletedProcess[str]) -> str:
    if harness == "cursor":
        answer = json.loads(done.stdout)
        assert answer["permission"] == "deny", answer
        return str(answer["user_message"])
    assert done.returncode == 2, done
    return done.stderr


def _allowed(harness: str, done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done
    if harness == "cursor":
        assert json.loads(done.stdout) == {"permission": "allow"}
    elif harness == "gemini":
        assert json.loads(done.stdout) == {"decision": "allow"}
    elif harness == "claude":
        assert json.loads(done.stdout)["hookSpecificOutput"]["permissionDecision"] == "allow"
    else:
        assert done.stdout == ""


def test_install_into_a_temporary_home_and_run_what_was_written(tmp_path: Path) -> None:
    home, project, elsewhere = tmp_path / "home", tmp_path / "project", tmp_path / "agent-cwd"
    for folder in (home, project, elsewhere):
        folder.mkdir()
    (project / "airlock.toml").write_text(textwrap.dedent(PROJECT_CONFIG))
    # An agent can write files where it works: an airlock.toml there must change nothing.
    (elsewhere / "airlock.toml").write_text(textwrap.dedent("""
        [[policy.rules]]
        name = "let-me"
        verdict = "allow"
        """))
    secret = home / ".ssh" / "id_ed25519"
    secret.parent.mkdir()
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n")
    readme = elsewhere / "README.md"
    readme.write_text("# hello\n")
    env = {"HOME": str(home)}
    for harness in PAYLOADS:
        done = airlock("install", harness, cwd=project, env=env)
        assert done.returncode == 0, done.stderr
        assert "installed airlock's hook in" in done.stdout
        again = airlock("install", harness, "--user", cwd=project, env=env)
        assert "is already in" in again.stdout

    # Codex patches files, the others read them: the key, and airlock's own configuration.
    forbidden = {h: project / "airlock.toml" if h == "codex" else secret for h in PAYLOADS}
    for harness in PAYLOADS:  # no daemon running: the first call starts one (autostart.py)
        command = _installed_command(home, harness)
        denied = _run_as_harness(command, _touching(harness, forbidden[harness], elsewhere),
                                 elsewhere)
        assert "airlock denied this action" in _blocked(harness, denied)
        _allowed(harness, _run_as_harness(command, _touching(harness, readme, elsewhere),
                                          elsewhere))

    config = load_config(project / "airlock.toml")
    runtime = Runtime(config)
    # as `airlock up` does: the daemon a hook started steps aside
    with HookDaemon(HookRunner.from_runtime(runtime), socket_path(config.state_dir),
                    take_over_in=config.state_dir).start(warm=False):
        for harness in PAYLOADS:  # the daemon answers the same
            command = _installed_command(home, harness)
            denied = _run_as_harness(command, _touching(harness, forbidden[harness], elsewhere),
                                     elsewhere)
            assert "airlock denied this action" in _blocked(harness, denied)
            _allowed(harness, _run_as_harness(command, _touching(harness, readme, elsewhere),
                                              elsewhere))
    fronts = {r.data["front"] for r in runtime.store.audit_records() if r.kind == "action"}
    runtime.close()
    assert fronts == {f"hook:{h}" for h in PAYLOADS}

    for harness in PAYLOADS:
        done = airlock("uninstall", harness, cwd=project, env=env)
        assert "removed airlock's hook" in done.stdout
        _, rel, _ = PAYLOADS[harness]
        assert "hookclient.py" not in (home / rel).read_text()


def test_project_scope_and_bad_flags(tmp_path: Path) -> None:
    done = airlock("install", "claude", "--project", cwd=tmp_path, env={"HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / ".claude" / "settings.local.json").exists()
    both = airlock("install", "claude", "--project", "--user", cwd=tmp_path)
    assert both.returncode == 2 and "not both" in both.stderr
    unknown = airlock("install", "windsurf", cwd=tmp_path, env={"HOME": str(tmp_path)})
    assert unknown.returncode == 2 and "unknown harness" in unknown.stderr
