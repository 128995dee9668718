"""`airlock install|uninstall HARNESS`: airlock's hook in each harness's settings file.

    harness  user file (under ~)       project file (under the project)  events
    claude   .claude/settings.json     .claude/settings.local.json       PreToolUse, PermissionRequest
    cursor   .cursor/hooks.json        .cursor/hooks.json                beforeShellExecution,
                                                                         beforeMCPExecution, beforeReadFile,
                                                                         preToolUse (file writes)
    codex    .codex/hooks.json         .codex/hooks.json                 PreToolUse
    gemini   .gemini/settings.json     .gemini/settings.json             BeforeTool

The project file for Claude Code is `settings.local.json` (not committed) because the command
holds absolute paths of this machine.

Merging never clobbers: the file is parsed (a file that is not JSON is left alone, with an
error), airlock's own entries — recognised by the client's path in their command — are taken
out, and one fresh entry per event is added; everything else keeps its place. So installing
twice gives the same file, and uninstalling removes exactly what install added. Files are
replaced atomically (written beside, then renamed) and keep their permissions.

The command written is the fail-closed client, started the fast way, with what it needs spelt
out so it never depends on the agent's working directory (an agent can write an airlock.toml
there; the hook must not pick it up):

    <python> -I -S <…/airlock/hookclient.py> <harness> --socket <state>/hooks.sock
        --timeout <s> -- <venv python> -m airlock [--config <file>] hook <harness> --state-dir <state>

Where a C compiler exists, the native client (`hookclient.c`, built by native.py) comes first
and the Python client above is its fallback for when the daemon is not running:

    <…/_native/airlock-hookclient-<hash>> <harness> --socket … --timeout <s> -- <the command above>
        || exit 2
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airlock.config import Config
from airlock.errors import InputError
from airlock.files import replace_atomically
from airlock.fronts.hooks import HARNESSES, autostart
from airlock.fronts.hooks.daemon import socket_path

CLIENT_MARK = "hookclient.py"
CLIENT_SECONDS = 20  # the client's own deadline, beyond any wait for an approval
HARNESS_MARGIN_SECONDS = 10  # the harness's timeout is longer: the client always answers first

SETTINGS_FILES: dict[str, tuple[str, str]] = {
    "claude": (".claude/settings.json", ".claude/settings.local.json"),
    "cursor": (".cursor/hooks.json", ".cursor/hooks.json"),
    "codex": (".codex/hooks.json", ".codex/hooks.json"),
    "gemini": (".gemini/settings.json", ".gemini/settings.json"),
}

NOTES: dict[str, str] = {
    "claude": "",
    "cursor": "failClosed is set: if the hook cannot answer, Cursor blocks the call.",
    "codex": "Codex runs hooks from version 0.124 on (earlier: [features] codex_hooks = true); "
             "project hooks run only in trusted projects.",
    "gemini": "Gemini CLI runs hooks only when its hooks system is enabled (/settings → "
              "Advanced → Enable Hooks System, or tools.enableHooks in settings.json).",
}


@dataclass(frozen=True, slots=True)
class Installed:
    path: Path
    events: tuple[str, ...]
    command: str
    changed: bool


def settings_path(harness: str, *, project: Path | None, home: Path | None = None) -> Path:
    user_file, project_file = SETTINGS_FILES[_known(harness)]
    if project is not None:
        return project / project_file
    return (home or Path.home()) / user_file


def hook_command(harness: str, config: Config, *, client_python: str | None = None,
                 fallback_python: str | None = None, native: Path | None = None) -> str:
    """The shell command a harness runs (all paths absolute). With `native` (the built
    `hookclient.c`, native.py) that binary asks the daemon, and the Python client is its
    fallback; `|| exit 2` blocks the call should the binary be gone (the shell's 127 would
    let it through)."""
    import airlock

    client = Path(airlock.__file__).resolve().parent / CLIENT_MARK
    # The real interpreter, not a shim: pyenv's `python3` is a shell script costing ~150 ms.
    fast = client_python or os.path.realpath(sys.executable)
    slow = fallback_python or sys.executable  # keeps its venv, where airlock is installed
    fallback = [slow, "-m", "airlock"]
    if config.path is not None:
        fallback += ["--config", str(config.path.resolve())]
    fallback += ["hook", harness, "--state-dir", str(config.state_dir)]
    timeout = client_timeout(config)
    ask = ["--socket", str(socket_path(config.state_dir, config.hooks.socket)),
           "--timeout", str(timeout)]
    # The user's own socket: a hook finding no daemon starts one (autostart.py). A system
    # socket ([hooks] socket) is systemd's to start: there the client falls back instead.
    start = [] if autostart.refusal(config) else ["--autostart"]
    python_client = [fast, "-I", "-S", str(client), harness, *ask, *start, "--", *fallback]
    if native is None:
        return shlex.join(python_client)
    return f"{shlex.join([str(native), harness, *ask, '--', *python_client])} || exit 2"


def client_timeout(config: Config) -> int:
    return config.hooks.wait_seconds + CLIENT_SECONDS


def entries(harness: str, command: str, timeout: int) -> dict[str, dict[str, Any]]:
    """airlock's entry for each event, in the shape that harness's file uses."""
    spec = HARNESSES[_known(harness)]
    seconds = timeout + HARNESS_MARGIN_SECONDS
    if harness == "cursor":  # flat handlers; its timeout unit is unclear, its default is ample
        return {event: {"command": command, "failClosed": True} for event in spec.events}
    handler: dict[str, Any] = {"type": "command", "command": command, "timeout": seconds}
    if harness == "gemini":  # milliseconds, and a name for /hooks enable|disable
        handler = {"name": "airlock", "type": "command", "command": command,
                   "timeout": seconds * 1000,
                   "description": "airlock: the gate between agents and infrastructure"}
    return {event: {"matcher": spec.matcher, "hooks": [handler]} for event in spec.events}


def merged(settings: Mapping[str, Any], harness: str, command: str,
           timeout: int) -> dict[str, Any]:
    """`settings` with airlock's entries replaced by fresh ones (pure)."""
    result = without_airlock(settings, harness)
    hooks = result.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise InputError("the settings file's `hooks` is not a JSON object; fix it by hand first")
    if harness == "cursor":
        result.setdefault("version", 1)
    for event, entry in entries(harness, command, timeout).items():
        current = hooks.setdefault(event, [])
        if not isinstance(current, list):
            raise InputError(f"the settings file's `hooks.{event}` is not a list; fix it by "
                             "hand first")
        current.append(entry)
    return result


def without_airlock(settings: Mapping[str, Any], harness: str) -> dict[str, Any]:
    """`settings` with every airlock entry taken out, and nothing else (pure)."""
    result = json.loads(json.dumps(settings))  # a deep copy of plain JSON
    hooks = result.get("hooks")
    if not isinstance(hooks, dict):
        return dict(result)
    for event in list(hooks):
        items = hooks[event]
        if not isinstance(items, list):
            continue
        kept = [item for item in (_strip(i, harness) for i in items) if item is not None]
        if kept != items:
            if kept:
                hooks[event] = kept
            else:
                del hooks[event]
    return dict(result)


def _strip(item: Any, harness: str) -> Any:
    """The item without airlock's handlers; None when nothing of it is left."""
    if not isinstance(item, dict):
        return item
    if harness == "cursor" or "hooks" not in item:
        return None if _is_airlock(item) else item
    handlers = item.get("hooks")
    if not isinstance(handlers, list):
        return item
    kept = [h for h in handlers if not _is_airlock(h)]
    if len(kept) == len(handlers):
        return item
    return {**item, "hooks": kept} if kept else None


def _is_airlock(handler: Any) -> bool:
    command = handler.get("command") if isinstance(handler, dict) else None
    return isinstance(command, str) and CLIENT_MARK in command and "airlock" in command


def install(harness: str, config: Config, path: Path, *, command: str | None = None,
            native: bool = True) -> Installed:
    """`native`: build and install the native client where a compiler exists (native.py)."""
    if command is None:
        from airlock.fronts.hooks import native as native_client

        command = hook_command(harness, config,
                               native=native_client.build() if native else None)
    before = read_settings(path)
    after = merged(before, harness, command, client_timeout(config))
    changed = after != before
    if changed:
        write_settings(path, after)
    return Installed(path, HARNESSES[harness].events, command, changed)


def uninstall(harness: str, path: Path) -> bool:
    """Remove airlock's entries; False when there were none (or no file)."""
    if not path.exists():
        return False
    before = read_settings(path)
    after = without_airlock(before, _known(harness))
    if after == before:
        return False
    write_settings(path, after)
    return True


def read_settings(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{path} is not valid JSON ({exc}); airlock does not overwrite it",
                         hint="fix the file (or move it away), then install again") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} does not hold a JSON object; airlock does not overwrite it")
    return data


def write_settings(path: Path, data: Mapping[str, Any]) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    replace_atomically(path, text.encode("utf-8"), suffix=".airlock")


def _known(harness: str) -> str:
    if harness not in HARNESSES:
        raise InputError(f"unknown harness {harness!r}; choose one of {', '.join(HARNESSES)}")
    return harness
