"""Each harness module, replayed with the payloads its documentation shows: what airlock reads
from them, and exactly what the harness gets back for allow, ask and block."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airlock.errors import InputError
from airlock.fronts.hooks import HARNESSES, claude, codex, cursor, gemini
from airlock.fronts.hooks.base import Reply, ToolCall, content_digest
from airlock.model import FileAccess, McpCall, ShellCommand
from tests.hooks.conftest import fixture

# --------------------------------------------------------------------------------------------
# Translation


def _written(harness: str, name: str) -> str:
    """What a write in that fixture is bound to: the whole tool input."""
    return content_digest(fixture(harness, name)["tool_input"])


@pytest.mark.parametrize(("harness", "name", "event", "payloads", "cwd"), [
    ("claude", "pretooluse_bash", "PreToolUse", [ShellCommand("npm test")],
     "/home/user/my-project"),
    ("claude", "pretooluse_read", "PreToolUse",
     [FileAccess("/home/user/my-project/src/app.py")], "/home/user/my-project"),
    ("claude", "pretooluse_write", "PreToolUse",
     [FileAccess("/home/user/my-project/notes.txt", write=True,
                 content_sha256=_written("claude", "pretooluse_write"))], "/home/user/my-project"),
    ("claude", "pretooluse_edit", "PreToolUse",
     [FileAccess("/home/user/my-project/src/app.py", write=True,
                 content_sha256=_written("claude", "pretooluse_edit"))], "/home/user/my-project"),
    ("claude", "pretooluse_grep", "PreToolUse",
     [FileAccess("/home/user/my-project/src")], "/home/user/my-project"),
    ("claude", "pretooluse_mcp", "PreToolUse",
     [McpCall("postgres", "query", json.dumps({"sql": "DELETE FROM users WHERE created_at < "
                                                      "now() - interval '1 year'"},
                                              separators=(",", ":")))],
     "/home/user/my-project"),
    ("claude", "permissionrequest_bash", "PermissionRequest",
     [ShellCommand("rm -rf node_modules")], "/home/user/my-project"),
    ("cursor", "before_shell_execution", "beforeShellExecution",
     [ShellCommand("npm install express")], "/home/user/my-project"),
    ("cursor", "before_mcp_execution", "beforeMCPExecution",
     [McpCall("npx -y @modelcontextprotocol/server-postgres postgresql://localhost/app", "query",
              '{"sql":"SELECT id, email FROM users LIMIT 10"}')], "/home/user/my-project"),
    ("cursor", "before_read_file", "beforeReadFile", [FileAccess("/home/user/my-project/.env")],
     "/home/user/my-project"),
    ("codex", "pretooluse_bash", "PreToolUse", [ShellCommand("cargo test")],
     "/home/user/my-project"),
    ("codex", "pretooluse_apply_patch", "PreToolUse",
     [FileAccess(f"/home/user/my-project/{name}", write=True, delete=name == "old.txt",
                 content_sha256=_written("codex", "pretooluse_apply_patch"))
      for name in ("docs/notes.md", "src/lib.rs", "old.txt")], "/home/user/my-project"),
    ("codex", "pretooluse_mcp", "PreToolUse",
     [McpCall("postgres", "query", '{"sql":"SELECT count(*) FROM orders"}')],
     "/home/user/my-project"),
    ("gemini", "beforetool_shell", "BeforeTool", [ShellCommand("./my_script.sh")],
     "/home/user/my-project/scripts"),
    ("gemini", "beforetool_read_file", "BeforeTool",
     [FileAccess("/home/user/my-project/README.md")], "/home/user/my-project"),
    ("gemini", "beforetool_write_file", "BeforeTool", [FileAccess("/path/to/file.ts", write=True,
                                                 content_sha256=_written("gemini", "beforetool_write_file"))],
     "/home/user/my-project"),
    ("gemini", "beforetool_mcp", "BeforeTool",
     [McpCall("github", "create_issue", '{"owner":"acme","repo":"app","title":"Flaky test"}')],
     "/home/user/my-project"),
])
def test_documented_payloads_translate(harness: str, name: str, event: str,
                                       payloads: list[Any], cwd: str) -> None:
    call = HARNESSES[harness].parse(fixture(harness, name))
    assert (call.harness, call.event, list(call.payloads), call.cwd) == (harness, event,
                                                                         payloads, cwd)


def test_which_events_can_ask() -> None:
    assert claude.parse(fixture("claude", "pretooluse_bash")).can_ask
    assert claude.parse(fixture("claude", "permissionrequest_bash")).second_look
    assert cursor.parse(fixture("cursor", "before_shell_execution")).can_ask
    assert cursor.parse(fixture("cursor", "before_mcp_execution")).can_ask
    assert not cursor.parse(fixture("cursor", "before_read_file")).can_ask
    assert not codex.parse(fixture("codex", "pretooluse_bash")).can_ask
    assert not gemini.parse(fixture("gemini", "beforetool_shell")).can_ask


def test_relative_paths_resolve_against_the_working_directory() -> None:
    data = fixture("claude", "pretooluse_read") | {"cwd": "/w"}
    data["tool_input"] = {"file_path": "sub/../a.txt"}
    assert claude.parse(data).payloads == (FileAccess("/w/a.txt"),)
    data["tool_input"] = {"file_path": "~/.aws/credentials"}  # the classifier expands ~
    assert claude.parse(data).payloads == (FileAccess("~/.aws/credentials"),)


def test_cursor_mcp_arguments_may_be_an_object_and_cwd_falls_back_to_the_workspace() -> None:
    data = fixture("cursor", "before_mcp_execution")
    data["tool_input"] = {"sql": "SELECT 1"}
    call = cursor.parse(data)
    assert call.payloads == (McpCall(data["command"], "query", '{"sql":"SELECT 1"}'),)
    assert call.cwd == "/home/user/my-project"


def test_gemini_reads_many_files_and_older_path_names() -> None:
    data = fixture("gemini", "beforetool_read_file")
    data["tool_input"] = {"absolute_path": "/a/b.txt"}
    assert gemini.parse(data).payloads == (FileAccess("/a/b.txt"),)
    data["tool_name"], data["tool_input"] = "read_many_files", {"paths": ["src/*.py", ".env"]}
    assert gemini.parse(data).payloads == (FileAccess("/home/user/my-project/src/*.py"),
                                           FileAccess("/home/user/my-project/.env"))


def _with(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**data, **changes}


@pytest.mark.parametrize(("harness", "data", "message"), [
    ("claude", {"tool_name": "Bash"}, "hook_event_name"),
    ("claude", _with(fixture("claude", "pretooluse_bash"), hook_event_name="PostToolUse"),
     "does not handle the hook event 'PostToolUse'"),
    ("claude", _with(fixture("claude", "pretooluse_bash"), tool_input={"command": 123}),
     "`tool_input.command` must be a string (got 123)"),
    ("claude", _with(fixture("claude", "pretooluse_bash"), tool_input={}),
     "`tool_input.command` must be a string (got nothing)"),
    ("claude", _with(fixture("claude", "pretooluse_bash"), tool_input="ls"),
     "`tool_input` must be a JSON object"),
    ("claude", _with(fixture("claude", "pretooluse_bash"), tool_name="WebSearch"),
     "does not know Claude Code's tool 'WebSearch'"),
    ("claude", _with(fixture("claude", "pretooluse_mcp"), tool_name="mcp__broken"),
     "is not mcp__<server>__<tool>"),
    ("claude", _with(fixture("claude", "pretooluse_bash"), cwd=["/"]), "`cwd` must be a string"),
    ("cursor", _with(fixture("cursor", "before_mcp_execution"), tool_input="{not json"),
     "arguments are not valid JSON"),
    ("cursor", _with(fixture("cursor", "before_mcp_execution"), tool_input="[1]"),
     "must be a JSON object"),
    ("cursor", _with(fixture("cursor", "before_shell_execution"), workspace_roots="/x", cwd=""),
     "`workspace_roots` must be a list"),
    ("codex", _with(fixture("codex", "pretooluse_apply_patch"), tool_input={"command": "hi"}),
     "must be '*** Begin Patch'"),
    ("codex", _with(fixture("codex", "pretooluse_apply_patch"),
                    tool_input={"command": "*** Begin Patch\n*** End Patch"}),
     "found no file in this patch"),
    ("codex", _with(fixture("codex", "pretooluse_apply_patch"),
                    tool_input={"command": "*** Begin Patch\n*** Delete File: x\n"}),
     "must be '*** End Patch'"),
    ("codex", _with(fixture("codex", "pretooluse_bash"), tool_name="web_search"),
     "does not know Codex's tool 'web_search'"),
    ("gemini", _with(fixture("gemini", "beforetool_read_file"), tool_input={}),
     "read_file needs one of file_path"),
    ("gemini", _with(fixture("gemini", "beforetool_read_file"), tool_name="read_many_files",
                     tool_input={"paths": [1]}), "must be a list of paths"),
    ("gemini", _with(fixture("gemini", "beforetool_read_file"), tool_name="google_web_search"),
     "does not know Gemini CLI's tool 'google_web_search'"),
])
def test_bad_input_is_refused_with_a_clear_reason(harness: str, data: dict[str, Any],
                                                  message: str) -> None:
    with pytest.raises(InputError) as error:
        HARNESSES[harness].parse(data)
    assert message in error.value.message


# --------------------------------------------------------------------------------------------
# Answers


def _call(harness: str, name: str) -> ToolCall:
    return HARNESSES[harness].parse(fixture(harness, name))


def test_claude_answers() -> None:
    call = _call("claude", "pretooluse_bash")
    allow = claude.answer(call, Reply.ALLOW, "fine")
    assert (allow.exit_code, allow.stderr) == (0, "")
    assert json.loads(allow.stdout) == {"hookSpecificOutput": {
        "hookEventName": "PreToolUse", "permissionDecision": "allow",
        "permissionDecisionReason": "fine"}}
    ask = claude.answer(call, Reply.ASK, "you decide")
    assert ask.exit_code == 0
    assert json.loads(ask.stdout)["hookSpecificOutput"]["permissionDecision"] == "ask"
    block = claude.answer(call, Reply.BLOCK, "held: apr_1")
    assert (block.exit_code, block.stderr) == (2, "held: apr_1")
    assert json.loads(block.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_claude_permission_request_only_denies() -> None:
    call = _call("claude", "permissionrequest_bash")
    block = claude.answer(call, Reply.BLOCK, "no")
    assert (block.exit_code, block.stderr) == (2, "no")
    assert json.loads(block.stdout) == {"hookSpecificOutput": {
        "hookEventName": "PermissionRequest", "decision": {"behavior": "deny", "message": "no"}}}
    assert claude.answer(call, Reply.DEFER, "") == claude.answer(call, Reply.ALLOW, "x")
    assert claude.answer(call, Reply.DEFER, "").exit_code == 0
    assert claude.answer(call, Reply.DEFER, "").stdout == ""


def test_cursor_answers() -> None:
    shell = _call("cursor", "before_shell_execution")
    assert json.loads(cursor.answer(shell, Reply.ALLOW, "").stdout) == {"permission": "allow"}
    block = cursor.answer(shell, Reply.BLOCK, "held")
    assert block.exit_code == 0
    assert json.loads(block.stdout) == {"permission": "deny", "user_message": "held",
                                        "agent_message": "held"}
    assert json.loads(cursor.answer(shell, Reply.ASK, "?").stdout)["permission"] == "ask"
    read = _call("cursor", "before_read_file")
    assert json.loads(cursor.answer(read, Reply.ASK, "?").stdout) == {  # no ask for reads
        "permission": "deny", "user_message": "?"}


def test_codex_answers() -> None:
    call = _call("codex", "pretooluse_bash")
    assert codex.answer(call, Reply.ALLOW, "fine").exit_code == 0
    assert codex.answer(call, Reply.ALLOW, "fine").stdout == ""  # Codex rejects a bare allow
    for reply in (Reply.BLOCK, Reply.ASK):  # Codex has no ask: a hold blocks
        answer = codex.answer(call, reply, "held: apr_1")
        assert (answer.exit_code, answer.stderr) == (2, "held: apr_1")
        assert json.loads(answer.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_gemini_answers() -> None:
    call = _call("gemini", "beforetool_shell")
    allow = gemini.answer(call, Reply.ALLOW, "fine")
    assert (allow.exit_code, json.loads(allow.stdout)) == (0, {"decision": "allow"})
    block = gemini.answer(call, Reply.BLOCK, "no")
    assert (block.exit_code, block.stderr) == (2, "no")
    assert json.loads(block.stdout) == {"decision": "deny", "reason": "no"}


@pytest.mark.parametrize("harness", sorted(HARNESSES))
def test_refusals_block(harness: str) -> None:
    answer = HARNESSES[harness].refuse("unreadable")
    if harness == "cursor":
        assert answer.exit_code == 0
        assert json.loads(answer.stdout)["permission"] == "deny"
    else:
        assert (answer.exit_code, answer.stderr) == (2, "unreadable")


# ---- Cursor's preToolUse: file writes ---------------------------------------------------------

def _cursor_tool(tool: str, tool_input: object) -> dict[str, object]:
    data = fixture("cursor", "pre_tool_use_write")
    data["tool_name"] = tool
    data["tool_input"] = tool_input
    return data


def test_cursor_file_writes_are_judged_bound_to_their_content() -> None:
    def one(data: dict[str, object]) -> FileAccess:
        (payload,) = cursor.parse(data).payloads
        assert isinstance(payload, FileAccess)
        return payload

    write = one(fixture("cursor", "pre_tool_use_write"))
    assert write == FileAccess("/home/user/my-project/.env", write=True,
                               content_sha256=write.content_sha256)
    assert write.content_sha256 is not None
    other = one(_cursor_tool("Write", {"file_path": ".env", "content": "DEBUG=0\n"}))
    assert other.path == write.path  # relative to the cwd
    assert other.content_sha256 != write.content_sha256
    for tool, key in (("Edit", "path"), ("StrReplace", "target_file"), ("edit_file", "filePath")):
        access = one(_cursor_tool(tool, {key: "a.py", "x": 1}))
        assert access == FileAccess("/home/user/my-project/a.py", write=True,
                                    content_sha256=access.content_sha256)
    gone = one(_cursor_tool("Delete", {"path": "app.db"}))
    assert gone.delete and gone.path == "/home/user/my-project/app.db"
    assert one(_cursor_tool("Grep", {"pattern": "KEY"})) == FileAccess("/home/user/my-project")


def test_cursor_tools_with_their_own_event_are_judged_there_once() -> None:
    for tool, event in (("Shell", "beforeShellExecution"), ("Read", "beforeReadFile"),
                        ("MCP:query", "beforeMCPExecution")):
        call = cursor.parse(_cursor_tool(tool, {"command": "rm -rf /"}))
        assert (call.payloads, call.gated_by) == ((), event)
    assert cursor.parse(_cursor_tool("Glob", {"pattern": "*"})).gated_by


@pytest.mark.parametrize(("tool", "tool_input", "why"), [
    ("Write", {"content": "x"}, "named no file"),
    ("Delete", {}, "named no file"),
    ("Write", "[1]", "must be a JSON object"),
    ("Write", "{not json", "not valid JSON"),
    ("SomethingNew", {"file_path": "a"}, "does not know Cursor's tool 'SomethingNew'"),
])
def test_cursor_tool_calls_airlock_cannot_read_are_refused(tool: str, tool_input: object,
                                                           why: str) -> None:
    with pytest.raises(InputError, match=why):
        cursor.parse(_cursor_tool(tool, tool_input))
