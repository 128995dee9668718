"""Codex CLI: the PreToolUse hook.

In (stdin): `{session_id, turn_id, transcript_path, cwd, hook_event_name: "PreToolUse", model,
permission_mode, tool_name, tool_input, tool_use_id}`. Shell calls arrive as `Bash` with
`tool_input.command`; file edits as `apply_patch` with the patch text in `tool_input.command`;
MCP tools as `mcp__<server>__<tool>` with their arguments as `tool_input`.

Out: nothing and exit 0 to let the call run (Codex rejects `permissionDecision: "allow"` without
a rewritten input, and does not honour `ask`); exit 2 with the reason on stderr to block it.
A hold is therefore a block whose reason names the pending approval and says to retry after it
is given. The same decision is printed as JSON on stdout for readers that want it; Codex uses
stderr when the exit code is 2.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from airlock.errors import InputError
from airlock.fronts.hooks.base import (
    Answer,
    Harness,
    Reply,
    ToolCall,
    command,
    content_digest,
    dumps,
    event_of,
    mapping,
    mcp_call,
    optional_text,
    text,
)
from airlock.fronts.hooks.codex_patch import PatchError, parse_patch
from airlock.model import FileAccess, Payload

NAME = "codex"
EVENTS = ("PreToolUse",)
MATCHER = "Bash|apply_patch|mcp__.*"


def parse(data: Mapping[str, Any]) -> ToolCall:
    event = event_of(data, EVENTS)
    tool = text(data, "tool_name")
    tool_input = mapping(data, "tool_input")
    cwd = optional_text(data, "cwd")
    return ToolCall(NAME, event, tool, translate(tool, tool_input, cwd), cwd)


def translate(tool: str, tool_input: Mapping[str, Any], cwd: str | None) -> tuple[Payload, ...]:
    if tool == "Bash":
        return (command(tool_input, where="tool_input."),)
    if tool == "apply_patch":
        # Each file the patch writes is bound to the whole patch: an approval of this patch
        # lets this patch through, not another one that names the same files.
        digest = content_digest(tool_input)
        return tuple(replace(write, content_sha256=digest) if isinstance(write, FileAccess)
                     else write
                     for write in patch_writes(text(tool_input, "command", where="tool_input."),
                                               cwd))
    if tool.startswith("mcp__"):
        return (mcp_call(tool, tool_input),)
    raise InputError(f"airlock does not know Codex's tool {tool!r}, so it cannot judge it; "
                     f"install with `airlock install codex` (matcher {MATCHER})")


def patch_writes(patch: str, cwd: str | None) -> tuple[Payload, ...]:
    """The file actions of a patch, in order, each once, read as Codex reads it
    (`codex_patch.py`): a file added or updated is a write; deleted — or moved away — a delete
    of that path; a move also writes its destination. A patch Codex would refuse is refused."""
    try:
        operations = parse_patch(patch)
    except PatchError as exc:
        raise InputError(f"airlock cannot read this patch as Codex would ({exc}), so it cannot "
                         "tell what the patch changes") from None
    if not operations:
        raise InputError("airlock found no file in this patch (no '*** Add/Update/Delete File:' "
                         "line), so it cannot tell what the patch changes")
    payloads: list[Payload] = []
    for op in operations:
        if op.kind in ("add", "update"):
            payloads.append(FileAccess(_where(op.path, cwd), write=True))
        elif op.kind == "delete":
            payloads.append(FileAccess(_where(op.path, cwd), write=True, delete=True))
        else:
            payloads.append(FileAccess(_where(op.path, cwd), write=True, delete=True))
            payloads.append(FileAccess(_where(op.destination or "", cwd), write=True))
    return tuple(dict.fromkeys(payloads))


def _where(path: str, cwd: str | None) -> str:
    """A patch path as Codex resolves it: against the working directory, `~` included (Codex
    does not expand it)."""
    if not path:
        raise InputError("the patch names an empty path, so airlock cannot tell which file it is")
    if posixpath.isabs(path):
        return posixpath.normpath(path)
    if cwd is None or not posixpath.isabs(cwd):
        raise InputError(f"the patch names the relative path {path!r} and the hook gave no "
                         "absolute working directory, so airlock cannot tell which file it is")
    return posixpath.normpath(posixpath.join(cwd, path))


def answer(call: ToolCall, reply: Reply, message: str) -> Answer:
    if reply is Reply.BLOCK or reply is Reply.ASK:  # Codex has no ask: a hold blocks
        return Answer(2, dumps({"hookSpecificOutput": {
            "hookEventName": call.event, "permissionDecision": "deny",
            "permissionDecisionReason": message}}), message)
    return Answer(0)


def refuse(message: str) -> Answer:
    return Answer(2, "", message)


HARNESS = Harness(NAME, EVENTS, MATCHER, parse, answer, refuse)
