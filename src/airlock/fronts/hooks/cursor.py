"""Cursor: beforeShellExecution, beforeMCPExecution, beforeReadFile and preToolUse hooks.

In (stdin): common fields `{conversation_id, generation_id, hook_event_name, workspace_roots,
…}` plus, per event, `{command, cwd}`, `{tool_name, tool_input, url | command}` (tool_input is
JSON text or an object), `{file_path, content, attachments}` and, for preToolUse (which Cursor
documents for every tool), `{tool_name, tool_input, tool_use_id, cwd}`.

preToolUse is where file *writes* are gated: Cursor has no beforeFileEdit, only afterFileEdit,
which comes too late. Writing tools (Write, Edit, StrReplace, MultiEdit, EditNotebook and their
snake_case spellings) are file writes bound to their whole input, Delete a delete, Grep a read
of what it searches. Shell, Read and MCP tools are left to their own events (judged there,
once: an approval must not be spent by the first of two hooks). Tools that touch no file
content (Glob, LS, Task, todos, web search) are left alone, as they are for Claude Code; any
other tool is blocked with its name, so a new tool is never waved through unseen. The name of
the path argument varies between Cursor versions: every known spelling is read, and a write
without one is blocked.

Out (stdout, exit 0; Cursor reads flat snake_case fields, no wrapper):
`{"permission": "allow" | "deny" | "ask", "user_message": …, "agent_message": …}`.
`ask` exists for shell and MCP calls only; beforeReadFile answers allow or deny. Cursor has been
seen to hand the model `user_message` rather than `agent_message` on a deny, so both carry the
full reason. Every call gets an explicit answer: the installed hook sets `failClosed`, under
which a hook that crashes, times out or prints nothing blocks the call instead of allowing it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from airlock.errors import InputError
from airlock.fronts.hooks.base import (
    Answer,
    Harness,
    Reply,
    ToolCall,
    arguments_json,
    command,
    content_digest,
    dumps,
    event_of,
    file_access,
    optional_text,
    resolve,
    text,
)
from airlock.model import FileAccess, McpCall, Payload

NAME = "cursor"
EVENTS = ("beforeShellExecution", "beforeMCPExecution", "beforeReadFile", "preToolUse")
_ASKABLE = ("beforeShellExecution", "beforeMCPExecution", "preToolUse")
WRITE_TOOLS = frozenset({"Write", "Edit", "StrReplace", "MultiEdit", "EditNotebook",
                         "write", "edit_file", "search_replace", "multi_edit", "edit_notebook"})
DELETE_TOOLS = frozenset({"Delete", "delete_file"})
SEARCH_TOOLS = frozenset({"Grep", "grep", "grep_search"})
# gated by their own event (see the docstring)
OWN_EVENT = {"Shell": "beforeShellExecution", "run_terminal_cmd": "beforeShellExecution",
             "Read": "beforeReadFile", "read_file": "beforeReadFile"}
NO_FILE_CONTENT = frozenset({"Glob", "LS", "Task", "TodoWrite", "WebSearch", "list_dir",
                             "glob_file_search", "file_search", "todo_write", "web_search",
                             "codebase_search"})
PATH_KEYS = ("file_path", "path", "target_file", "target_notebook", "filePath")


def parse(data: Mapping[str, Any]) -> ToolCall:
    event = event_of(data, EVENTS)
    cwd = optional_text(data, "cwd") or _workspace(data)
    payload: Payload
    if event == "preToolUse":
        return _pre_tool_use(data, cwd)
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


def _pre_tool_use(data: Mapping[str, Any], cwd: str | None) -> ToolCall:
    tool = text(data, "tool_name")
    tool_input = arguments(data.get("tool_input"))
    call = ToolCall(NAME, "preToolUse", tool, (), cwd, can_ask=True)
    if tool in OWN_EVENT or tool.startswith("MCP:"):
        return replace(call, gated_by=OWN_EVENT.get(tool, "beforeMCPExecution"))
    if tool in NO_FILE_CONTENT:
        return replace(call, gated_by="nothing: it reads no file content")
    if tool in WRITE_TOOLS or tool in DELETE_TOOLS:
        key = next((k for k in PATH_KEYS if isinstance(tool_input.get(k), str)), None)
        if key is None:
            raise InputError(f"Cursor's {tool} tool named no file ({' or '.join(PATH_KEYS)}), "
                             "so airlock cannot judge it")
        if tool in DELETE_TOOLS:
            payload = FileAccess(resolve(text(tool_input, key), cwd), write=True, delete=True,
                                 content_sha256=content_digest(tool_input))
        else:
            payload = file_access(tool_input, key, cwd, write=True)
        return replace(call, payloads=(payload,))
    if tool in SEARCH_TOOLS:  # prints matching lines: a read of what it searches
        path = optional_text(tool_input, "path") or cwd
        if path is None:
            raise InputError(f"Cursor's {tool} without a path needs the session's cwd")
        return replace(call, payloads=(FileAccess(resolve(path, cwd), write=False),))
    raise InputError(f"airlock does not know Cursor's tool {tool!r}, so it cannot judge it and "
                     "blocks it")


def arguments(value: Any) -> Mapping[str, Any]:
    """preToolUse's tool_input: an object, or JSON text of one."""
    try:
        decoded = json.loads(arguments_json(value))
    except ValueError:
        raise InputError("`tool_input` is not a JSON object") from None
    if not isinstance(decoded, dict):
        raise InputError("`tool_input` is not a JSON object")
    return decoded


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
