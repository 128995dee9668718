"""Claude Code: PreToolUse and PermissionRequest command hooks.

In (stdin): `{session_id, transcript_path, cwd, permission_mode, hook_event_name, tool_name,
tool_input, tool_use_id}`; MCP tools are named `mcp__<server>__<tool>`.

Out:
- allow / ask: exit 0 with `{"hookSpecificOutput": {"hookEventName": "PreToolUse",
  "permissionDecision": "allow"|"ask", "permissionDecisionReason": …}}`;
- block: exit 2 with the reason on stderr — Claude Code blocks the tool and shows stderr to the
  model whatever version parses the JSON — and the same decision as JSON on stdout (`deny`);
- PermissionRequest (a permission dialog is about to be shown): airlock only ever *denies*
  there (`decision.behavior = "deny"`, exit 2). Anything else is left to the person at the
  dialog, because PreToolUse has already let it through — a hold never reaches the dialog
  unless it was approved, or `ask_passthrough` asked for the dialog on purpose.

A crashed or timed-out hook lets the call through in Claude Code, which is why the command
airlock installs is the fail-closed client, never this module directly.
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
    command,
    dumps,
    event_of,
    file_access,
    mapping,
    mcp_call,
    optional_text,
    resolve,
    text,
)
from airlock.model import FileAccess, Payload

NAME = "claude"
EVENTS = ("PreToolUse", "PermissionRequest")
READ_TOOLS = {"Read": "file_path"}
WRITE_TOOLS = {"Write": "file_path", "Edit": "file_path", "MultiEdit": "file_path",
               "NotebookEdit": "notebook_path"}
MATCHER = "Bash|Read|Write|Edit|MultiEdit|NotebookEdit|Grep|mcp__.*"


def parse(data: Mapping[str, Any]) -> ToolCall:
    event = event_of(data, EVENTS)
    tool = text(data, "tool_name")
    tool_input = mapping(data, "tool_input")
    cwd = optional_text(data, "cwd")
    return ToolCall(NAME, event, tool, translate(tool, tool_input, cwd), cwd,
                    can_ask=event == "PreToolUse", second_look=event == "PermissionRequest")


def translate(tool: str, tool_input: Mapping[str, Any], cwd: str | None) -> tuple[Payload, ...]:
    if tool == "Bash":
        return (command(tool_input, where="tool_input."),)
    if tool in READ_TOOLS:
        return (file_access(tool_input, READ_TOOLS[tool], cwd, write=False),)
    if tool in WRITE_TOOLS:
        return (file_access(tool_input, WRITE_TOOLS[tool], cwd, write=True),)
    if tool == "Grep":  # prints matching lines: a read of what it searches
        path = optional_text(tool_input, "path") or cwd
        if path is None:
            raise InputError("Grep without a path needs the session's cwd")
        return (FileAccess(resolve(path, cwd), write=False),)
    if tool.startswith("mcp__"):
        return (mcp_call(tool, tool_input),)
    raise InputError(f"airlock does not know Claude Code's tool {tool!r}, so it cannot judge it; "
                     f"install with `airlock install claude` (matcher {MATCHER})")


def answer(call: ToolCall, reply: Reply, message: str) -> Answer:
    if call.event == "PermissionRequest":
        if reply is Reply.BLOCK:
            decision = {"behavior": "deny", "message": message}
            return Answer(2, dumps({"hookSpecificOutput": {"hookEventName": call.event,
                                                           "decision": decision}}), message)
        return Answer(0)  # the person at the dialog decides
    if reply is Reply.BLOCK:
        return Answer(2, _decision(call.event, "deny", message), message)
    if reply is Reply.ASK:
        return Answer(0, _decision(call.event, "ask", message))
    if reply is Reply.ALLOW:
        return Answer(0, _decision(call.event, "allow", message))
    return Answer(0)


def refuse(message: str) -> Answer:
    return Answer(2, "", message)


def _decision(event: str, decision: str, reason: str) -> str:
    return dumps({"hookSpecificOutput": {"hookEventName": event, "permissionDecision": decision,
                                         "permissionDecisionReason": reason}})


HARNESS = Harness(NAME, EVENTS, MATCHER, parse, answer, refuse)
