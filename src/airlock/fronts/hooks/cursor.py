"""Cursor: beforeShellExecution, beforeMCPExecution and beforeReadFile hooks.

In (stdin): common fields `{conversation_id, generation_id, hook_event_name, workspace_roots,
…}` plus, per event, `{command, cwd}`, `{tool_name, tool_input, url | command}` (tool_input is
JSON text or an object) and `{file_path, content, attachments}`.

Out (stdout, exit 0; Cursor reads flat snake_case fields, no wrapper):
`{"permission": "allow" | "deny" | "ask", "user_message": …, "agent_message": …}`.
`ask` exists for shell and MCP calls only; beforeReadFile answers allow or deny. Cursor has been
seen to hand the model `user_message` rather than `agent_message` on a deny, so both carry the
full reason. Every call gets an explicit answer: the installed hook sets `failClosed`, under
which a hook that crashes, times out or prints nothing blocks the call instead of allowing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airlock.errors import InputError
from airlock.fronts.hooks.base import (
    Answer,
    Harness,
    Reply,
    ToolCall,
    arguments_json,
    command,
    dumps,
    event_of,
    optional_text,
    resolve,
    text,
)
from airlock.model import FileAccess, McpCall, Payload

NAME = "cursor"
EVENTS = ("beforeShellExecution", "beforeMCPExecution", "beforeReadFile")
_ASKABLE = ("beforeShellExecution", "beforeMCPExecution")


def parse(data: Mapping[str, Any]) -> ToolCall:
    event = event_of(data, EVENTS)
    cwd = optional_text(data, "cwd") or _workspace(data)
    payload: Payload
    if event == "beforeShellExecution":
        tool = "Shell"
        payload = command(data)
    elif event == "beforeMCPExecution":
        tool = text(data, "tool_name").removeprefix("MCP:")
        # Cursor names the server by how it is reached, not by its mcp.json key.
        server = optional_text(data, "url") or optional_text(data, "command") or "cursor"
        payload = McpCall(server, tool, arguments_json(data.get("tool_input")))
    else:
        tool = "Read"
        payload = FileAccess(resolve(text(data, "file_path"), cwd), write=False)
    return ToolCall(NAME, event, tool, (payload,), cwd, can_ask=event in _ASKABLE)


def _workspace(data: Mapping[str, Any]) -> str | None:
    roots = data.get("workspace_roots")
    if roots is None:
        return None
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        raise InputError("`workspace_roots` must be a list of paths")
    return roots[0] if roots else None


def answer(call: ToolCall, reply: Reply, message: str) -> Answer:
    if reply is Reply.ALLOW or reply is Reply.DEFER:
        return Answer(0, dumps({"permission": "allow"}))
    permission = "ask" if reply is Reply.ASK and call.can_ask else "deny"
    return Answer(0, _answer(permission, message, read=call.event == "beforeReadFile"))


def refuse(message: str) -> Answer:
    return Answer(0, _answer("deny", message, read=False))


def _answer(permission: str, message: str, *, read: bool) -> str:
    body = {"permission": permission, "user_message": message}
    if not read:
        body["agent_message"] = message
    return dumps(body)


HARNESS = Harness(NAME, EVENTS, None, parse, answer, refuse)
