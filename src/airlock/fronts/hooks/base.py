"""What every harness module shares: the translated call, the reply, the answer.

A harness module is sans-io: `parse` turns the JSON a harness sends into a `ToolCall` (which
tool, which event, the payloads airlock judges, the working directory), and `answer` turns
airlock's `Reply` into exactly what that harness reads back — an exit code, stdout and stderr.
Reading stdin, the gate and writing stdout belong to `runner.py`.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from airlock.errors import InputError
from airlock.model import (
    AgentStatement,
    FileAccess,
    McpCall,
    Payload,
    ShellCommand,
    canonical_json,
    sha256_hex,
)


class Reply(StrEnum):
    """What airlock tells the harness."""

    ALLOW = "allow"  # airlock has no objection
    ASK = "ask"  # the harness asks the person at the keyboard (ask_passthrough)
    BLOCK = "block"  # the tool call must not run (deny, or a hold waiting for approval)
    DEFER = "defer"  # no decision: the harness's own permission flow goes on


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call, translated. `payloads` holds what airlock judges (one for most tools;
    a patch that changes three files is three writes)."""

    harness: str
    event: str
    tool: str
    payloads: tuple[Payload, ...]
    cwd: str | None
    can_ask: bool = False  # the harness honours an "ask" answer on this event
    second_look: bool = False  # a permission dialog after PreToolUse: deny-only re-check
    stated: AgentStatement | None = None  # the agent's own description: shown, never judged
    # The harness calls airlock for this tool on a dedicated event as well (Cursor's preToolUse
    # sees shell commands that beforeShellExecution gates): judged there, once, so an approval
    # is not spent by the first of two hooks. Named so the reason is on record.
    gated_by: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """Exactly what the hook process returns to the harness."""

    exit_code: int
    stdout: str = ""
    stderr: str = ""

    def encoded(self) -> tuple[bytes, bytes]:
        """stdout and stderr as UTF-8. Something that cannot be encoded (a lone surrogate that
        reached a message) becomes '?': an exception here would end the hook with a crash, which
        a harness reads as "go ahead"."""
        return self.stdout.encode("utf-8", "replace"), self.stderr.encode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class Harness:
    name: str
    events: tuple[str, ...]  # the hook events airlock installs for
    matcher: str | None  # which tools the installed hook sees (None: the event has no matcher)
    parse: Callable[[Mapping[str, Any]], ToolCall]
    answer: Callable[[ToolCall, Reply, str], Answer]
    refuse: Callable[[str], Answer]  # a blocking answer when the call itself is unreadable


# --------------------------------------------------------------------------------------------
# Reading harness JSON: every field is checked, and a wrong one is an InputError (→ blocked)


def text(data: Mapping[str, Any], key: str, *, where: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise InputError(f"`{where}{key}` must be a non-empty string (got {_shown(value)})")
    return value


def command(data: Mapping[str, Any], key: str = "command", *, where: str = "") -> ShellCommand:
    """A shell command line. Empty is a command too (the classifier judges it, as for `check`)."""
    value = data.get(key)
    if not isinstance(value, str):
        raise InputError(f"`{where}{key}` must be a string (got {_shown(value)})")
    return ShellCommand(value)


def optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(f"`{key}` must be a string (got {_shown(value)})")
    return value


def mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise InputError(f"`{key}` must be a JSON object (got {_shown(value)})")
    return value


def event_of(data: Mapping[str, Any], known: tuple[str, ...]) -> str:
    event = text(data, "hook_event_name")
    if event not in known:
        raise InputError(f"airlock does not handle the hook event {event!r} (it handles "
                         f"{', '.join(known)}); check the hook's event in the settings file")
    return event


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    return type(value).__name__ if isinstance(value, dict | list) else repr(value)[:60]


def resolve(path: str, cwd: str | None) -> str:
    """A path as the tool will use it: relative ones are relative to the working directory.
    (`~` is left for the classifier, which knows the home folder.)"""
    if path.startswith("~") or posixpath.isabs(path) or cwd is None:
        return posixpath.normpath(path)
    return posixpath.normpath(posixpath.join(cwd, path))


def file_access(data: Mapping[str, Any], key: str, cwd: str | None, *, write: bool,
                where: str = "tool_input.") -> FileAccess:
    """A read of, or a write to, the file named by `data[key]`. A write is bound to the whole
    tool input (content, old and new strings, edits, patch): see `content_digest`."""
    path = resolve(text(data, key, where=where), cwd)
    return FileAccess(path, write=write, content_sha256=content_digest(data) if write else None)


def content_digest(tool_input: Mapping[str, Any]) -> str:
    """sha256 of a write tool's input as canonical JSON. An approval of a write binds to it:
    another content, another edit or another patch to the same file is another action."""
    return sha256_hex(canonical_json(dict(tool_input)))


def mcp_call(name: str, arguments: Any) -> McpCall:
    """`mcp__<server>__<tool>` (Claude Code, Codex, Gemini) → McpCall."""
    server, sep, tool = name.removeprefix("mcp__").partition("__")
    if not sep or not server or not tool:
        raise InputError(f"MCP tool name {name!r} is not mcp__<server>__<tool>")
    return McpCall(server, tool, arguments_json(arguments))


def arguments_json(arguments: Any) -> str:
    """Tool arguments as canonical JSON text (an approval binds to their meaning, not to key
    order). Harnesses send an object, or sometimes JSON text of one."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments, object_pairs_hook=_once_each)
        except ValueError as exc:
            raise InputError(str(exc) if isinstance(exc, _Repeated) else
                             "the MCP tool's arguments are not valid JSON") from None
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping):
        raise InputError(f"the MCP tool's arguments must be a JSON object (got {_shown(arguments)})")
    return json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class _Repeated(ValueError):
    pass


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A key given twice: the harness's JSON reader and the server's may each keep another."""
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        twice = next(k for k in keys if keys.count(k) > 1)
        raise _Repeated(f"the MCP tool's arguments name {twice!r} twice, and JSON readers "
                        "disagree on which one counts")
    return dict(pairs)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
