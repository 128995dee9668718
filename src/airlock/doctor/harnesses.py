"""Agent harnesses on this machine without airlock's hook, or with a hook that sees only some
tools.

For each of the agent user's harness folders (`~/.claude`, `~/.cursor`, `~/.codex`,
`~/.gemini`), its settings — the user's, and each workspace's project files — must give every
event airlock installs for an airlock entry whose matcher covers every tool airlock's own matcher
names (`Bash|Read|…|mcp__.*`: each alternative is tried as a tool name). Claude Code's
`disableAllHooks` switches every hook off. A hook pointing at another socket answers for
another airlock (or none).
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

from airlock.doctor.context import Doctor
from airlock.doctor.report import Finding, Severity
from airlock.errors import AirlockError
from airlock.fronts.hooks import HARNESSES
from airlock.fronts.hooks.install import CLIENT_MARK, SETTINGS_FILES
from airlock.setup.machine import HOOK_FOLDERS
from airlock.setup.system import OsUser

# Claude Code also reads the project's shared settings.json (the local one is what install writes).
_EXTRA_PROJECT_FILES = {"claude": (".claude/settings.json",)}


def check_harnesses(doc: Doctor) -> list[Finding]:
    findings: list[Finding] = []
    for agent in doc.agents:
        files = _settings_files(agent, doc.workspaces)
        if not files:
            continue
        settings = _read(doc, agent, [p for paths in files.values() for p in paths])
        for harness, paths in sorted(files.items()):
            findings += _judge(harness, agent, paths, settings, doc.socket_path)
    return findings


def _settings_files(agent: OsUser, workspaces: list[Path]) -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {}
    for harness, folder in HOOK_FOLDERS.items():
        user_file, project_file = SETTINGS_FILES[harness]
        present = [agent.home / user_file] if _is_dir(agent.home / folder) else []
        for workspace in workspaces:
            if _is_dir(workspace / folder):
                for name in (project_file, *_EXTRA_PROJECT_FILES.get(harness, ())):
                    present.append(workspace / name)
        if present:
            files[harness] = list(dict.fromkeys(present))
    return files


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _read(doc: Doctor, agent: OsUser, paths: list[Path]) -> dict[str, Any]:
    request = {"op": "hook-settings", "paths": [str(p) for p in paths]}
    try:
        if os.geteuid() == agent.uid or doc.can_act_as(agent):
            answer = doc.as_agent(agent, request)
        else:
            from airlock.setup.helper import handle

            answer = handle(request)
    except AirlockError as exc:
        return {str(p): {"error": exc.message, "exists": True} for p in paths}
    settings: dict[str, Any] = answer["settings"]
    return settings


def _judge(harness: str, agent: OsUser, paths: list[Path], settings: dict[str, Any],
           socket: Path) -> list[Finding]:
    spec = HARNESSES[harness]
    findings: list[Finding] = []
    covered: dict[str, list[str]] = {event: [] for event in spec.events}
    evidence: list[str] = []
    for path in paths:
        entry = settings.get(str(path), {})
        if "error" in entry:
            evidence.append(f"{path}: {entry['error']}")
            continue
        data = entry.get("settings") or {}
        if harness == "claude" and data.get("disableAllHooks") is True:
            findings.append(Finding(
                f"harness.{harness}.disabled", Severity.CRITICAL,
                f"{path} switches every Claude Code hook off (disableAllHooks), airlock's "
                "included", (f"{path}: \"disableAllHooks\": true",),
                f"remove disableAllHooks from {path}"))
        for event, matcher, command in _airlock_entries(harness, data):
            if event in covered:
                covered[event].append(matcher if matcher is not None else "")
                evidence.append(f"{path}: {event} matcher {matcher!r}")
                other = _socket_of(command)
                if other is not None and Path(other) != socket:
                    findings.append(Finding(
                        f"harness.{harness}.socket", Severity.WARNING,
                        f"airlock's {harness} hook in {path} asks another airlock",
                        (f"it asks {other}; this airlock serves {socket}",),
                        f"`airlock install {harness}` (or re-run `sudo airlock setup`)"))
    missing = [event for event, matchers in covered.items() if not matchers]
    where = ", ".join(str(p) for p in paths)
    fix = (f"re-run `sudo airlock setup` (or, as {agent.name}: `airlock install {harness}`), "
           "which merges airlock's hook into the settings and changes nothing else")
    if missing:
        findings.append(Finding(
            f"harness.{harness}.hook", Severity.CRITICAL,
            f"{harness} is set up for {agent.name} ({_folder(harness)}) but airlock's hook is "
            f"missing for {', '.join(missing)}: those tool calls run unguarded",
            (f"settings read: {where}", *evidence), fix))
    left = _left_out(harness, covered)
    if left and not missing:
        findings.append(Finding(
            f"harness.{harness}.matcher", Severity.CRITICAL,
            f"airlock's {harness} hook leaves tools out: {', '.join(left)} run unguarded",
            tuple(evidence), fix))
    return findings


def _folder(harness: str) -> str:
    return f"~/{HOOK_FOLDERS[harness]}"


def _airlock_entries(harness: str, data: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    """(event, matcher, command) of every airlock handler in a settings file."""
    hooks = data.get("hooks")
    if not isinstance(hooks, dict):
        return []
    found: list[tuple[str, str | None, str]] = []
    for event, items in hooks.items():
        if not isinstance(items, list):
            continue
        for item in items:
            if not isinstance(item, dict):
                continue
            handlers = item.get("hooks") if harness != "cursor" else [item]
            for handler in handlers if isinstance(handlers, list) else []:
                command = handler.get("command") if isinstance(handler, dict) else None
                if isinstance(command, str) and CLIENT_MARK in command and "airlock" in command:
                    matcher = item.get("matcher") if harness != "cursor" else None
                    found.append((event, matcher if isinstance(matcher, str) else None, command))
    return found


def _left_out(harness: str, covered: dict[str, list[str]]) -> list[str]:
    """Tools airlock's matcher names that no installed matcher (for some event) covers."""
    spec = HARNESSES[harness]
    if spec.matcher is None:
        return []
    tools = [alt.replace(".*", "x").replace("\\", "") for alt in spec.matcher.split("|")]
    left: list[str] = []
    for event, matchers in covered.items():
        for tool in tools:
            if not any(_matches(m, tool) for m in matchers):
                left.append(f"{tool} ({event})")
    return left


def _matches(matcher: str, tool: str) -> bool:
    if matcher in ("", "*", ".*"):
        return True
    try:
        return re.fullmatch(matcher, tool) is not None
    except re.error:
        return matcher == tool


def _socket_of(command: str) -> str | None:
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    for index, word in enumerate(words[:-1]):
        if word == "--socket":
            return words[index + 1]
    return None
