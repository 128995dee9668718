"""Gemini CLI: the BeforeTool hook.

In (stdin): `{session_id, transcript_path, cwd, hook_event_name: "BeforeTool", timestamp,
tool_name, tool_input, mcp_context?}`. Tools: `run_shell_command {command, description?,
directory?}`, `read_file {file_path | absolute_path | path}`, `read_many_files {paths,
include?}`, `write_file {file_path, content}`, `replace {file_path, old_string, new_string}`,
`search_file_content`/`grep_search {pattern, path | dir_path?}`; MCP tools are
`mcp__<server>__<tool>` (or carry `mcp_context.server_name`).

Out: `{"decision": "allow"}` with exit 0 to let the call run; to block, exit 2 with the reason on
stderr (Gemini's "system block": the reason goes to the model as the tool's error and the turn
goes on), plus `{"decision": "deny", "reason": …}` on stdout. Gemini has no ask.
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
    file_access,
    mapping,
    mcp_call,
    optional_text,
    resolve,
    text,
)
from airlock.model import FileAccess, McpCall, Payload

NAME = "gemini"
EVENTS = ("BeforeTool",)
_PATH_KEYS = ("file_path", "absolute_path", "path")
_SEARCH_TOOLS = ("search_file_content", "grep_search")
MATCHER = ("run_shell_command|read_file|read_many_files|write_file|replace|"
           "search_file_content|grep_search|mcp__.*")


def parse(data: Mapping[str, Any]) -> ToolCall:
    event = event_of(data, EVENTS)
    tool = text(data, "tool_name")
    tool_input = mapping(data, "tool_input")
    cwd = optional_text(data, "cwd")
    if tool == "run_shell_command":
        directory = optional_text(tool_input, "directory") or optional_text(tool_input, "dir_path")
        command_cwd = resolve(directory, cwd) if directory else cwd
        payload = command(tool_input, where="tool_input.")
        return ToolCall(NAME, event, tool, (payload,), command_cwd)
    return ToolCall(NAME, event, tool, translate(tool, tool_input, cwd, data), cwd)


def translate(tool: str, tool_input: Mapping[str, Any], cwd: str | None,
              data: Mapping[str, Any]) -> tuple[Payload, ...]:
    if tool == "read_file":
        return (FileAccess(resolve(_path(tool_input), cwd), write=False),)
    if tool in ("write_file", "replace"):
        return (file_access(tool_input, "file_path", cwd, write=True),)
    if tool == "read_many_files":
        entries = [*_strings(tool_input, "paths"), *_strings(tool_input, "include")]
        if not entries:
            raise InputError("read_many_files names no paths")
        return tuple(FileAccess(resolve(p, cwd), write=False) for p in dict.fromkeys(entries))
    if tool in _SEARCH_TOOLS:
        where = optional_text(tool_input, "path") or optional_text(tool_input, "dir_path") or cwd
        if where is None:
            raise InputError(f"{tool} without a path needs the session's cwd")
        return (FileAccess(resolve(where, cwd), write=False),)
    if tool.startswith("mcp__"):
        return (mcp_call(tool, tool_input),)
    context = data.get("mcp_context")
    if isinstance(context, Mapping) and isinstance(context.get("server_name"), str):
        return (McpCall(context["server_name"], tool, arguments_json(tool_input)),)
    raise InputError(f"airlock does not know Gemini CLI's tool {tool!r}, so it cannot judge it; "
                     f"install with `airlock install gemini` (matcher {MATCHER})")


def _path(tool_input: Mapping[str, Any]) -> str:
    for key in _PATH_KEYS:
        value = tool_input.get(key)
        if isinstance(value, str) and value:
            return value
    raise InputError(f"read_file needs one of {', '.join(_PATH_KEYS)}")


def _strings(tool_input: Mapping[str, Any], key: str) -> list[str]:
    value = tool_input.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InputError(f"`tool_input.{key}` must be a list of paths")
    return list(value)


def answer(call: ToolCall, reply: Reply, message: str) -> Answer:
    if reply is Reply.ALLOW or reply is Reply.DEFER:
        return Answer(0, dumps({"decision": "allow"}))
    return Answer(2, dumps({"decision": "deny", "reason": message}), message)


def refuse(message: str) -> Answer:
    return Answer(2, dumps({"decision": "deny", "reason": message}), message)


HARNESS = Harness(NAME, EVENTS, MATCHER, parse, answer, refuse)
