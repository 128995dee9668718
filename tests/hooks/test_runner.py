"""The in-process path end to end over a real runtime (SQLite state, real approvals, audit log):
verdicts become each harness's answer, holds wait for exactly the same action, and nothing that
goes wrong lets a call through."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airlock.classify.secrets_files import FileRules
from airlock.config import Config
from airlock.fronts.hooks import messages
from airlock.fronts.hooks.base import ToolCall
from airlock.fronts.hooks.runner import HookRunner
from airlock.model import ActionContext, McpCall, Risk, Verdict
from airlock.runtime import Runtime
from airlock.store import ApprovalStatus
from tests.hooks.conftest import ScriptedShell, World, fixture, make_world, raw, with_command

RM = "rm -rf /srv/data"


def _claude(command: str, cwd: str = "/home/user/my-project") -> dict[str, Any]:
    return with_command(fixture("claude", "pretooluse_bash"), command, cwd)


def _decision(answer_stdout: str) -> str:
    return str(json.loads(answer_stdout)["hookSpecificOutput"]["permissionDecision"])


def test_allowed_commands_are_allowed_in_every_harness(world: World) -> None:
    assert _decision(world.run("claude", _claude("ls")).stdout) == "allow"
    cursor = world.run("cursor", with_command(fixture("cursor", "before_shell_execution"), "ls"))
    assert json.loads(cursor.stdout) == {"permission": "allow"}
    codex = world.run("codex", with_command(fixture("codex", "pretooluse_bash"), "ls"))
    assert (codex.exit_code, codex.stdout, codex.stderr) == (0, "", "")
    gemini = world.run("gemini", with_command(fixture("gemini", "beforetool_shell"), "ls"))
    assert json.loads(gemini.stdout) == {"decision": "allow"}


def test_a_hold_names_its_approval_and_says_how_to_go_on(world: World) -> None:
    answer = world.run("claude", _claude(RM))
    assert answer.exit_code == 2
    approval_id = answer.stderr.split("approval: ")[1].split()[0]
    record = world.runtime.store.get_approval(approval_id)
    assert record is not None and record.status is ApprovalStatus.PENDING
    assert record.principal == "coding-agent"
    assert f"airlock held this action: {RM}" in answer.stderr
    assert f"`airlock approve {approval_id}` or the console" in answer.stderr
    assert "run exactly the same command again" in answer.stderr
    assert messages.NO_APPROVER_NOTE in answer.stderr  # humans declared, none enrolled
    again = world.run("claude", _claude(RM))  # asking again does not pile up approvals
    assert approval_id in again.stderr
    codex = world.run("codex", with_command(fixture("codex", "pretooluse_bash"), RM))
    assert codex.exit_code == 2 and "airlock held this action" in codex.stderr
    assert approval_id not in codex.stderr  # another front: another action, its own approval


def test_hold_approve_identical_retry_passes_once(world: World) -> None:
    held = world.run("claude", _claude(RM))
    approval_id = held.stderr.split("approval: ")[1].split()[0]
    world.approve(approval_id)

    changed = world.run("claude", _claude(RM + " --verbose"))
    assert changed.exit_code == 2, "a changed command is held again"
    elsewhere = world.run("claude", _claude(RM, cwd="/tmp"))
    assert elsewhere.exit_code == 2, "the same command in another directory is held again"

    retry = world.run("claude", _claude(RM))
    assert retry.exit_code == 0 and _decision(retry.stdout) == "allow"
    assert f"approved ({approval_id})" in json.loads(retry.stdout)[
        "hookSpecificOutput"]["permissionDecisionReason"]
    record = world.runtime.store.get_approval(approval_id)
    assert record is not None and record.status is ApprovalStatus.USED

    again = world.run("claude", _claude(RM))
    assert again.exit_code == 2, "an approval lets the action through once"
    assert approval_id not in again.stderr


def test_two_approvals_when_policy_asks_for_two(world: World) -> None:
    command = "psql -c 'DROP DATABASE app'"
    held = world.run("claude", _claude(command))
    approval_id = held.stderr.split("approval: ")[1].split()[0]
    assert "needs 2 human approvals" in held.stderr
    world.approve(approval_id, "alice")
    assert world.run("claude", _claude(command)).exit_code == 2
    world.approve(approval_id, "bob")
    assert world.run("claude", _claude(command)).exit_code == 0


def test_waiting_for_the_approval_answers_allow_once_it_comes(tmp_path: Path) -> None:
    world = make_world(tmp_path / "w", hooks='principal = "coding-agent"\nwait_seconds = 30',
                       risks={RM: Risk.DESTRUCTIVE})
    clock = [0.0]
    approved: list[str] = []

    def sleep(seconds: float) -> None:  # a human approves (once) while the hook waits
        clock[0] += seconds
        pending = world.runtime.store.list_approvals(status=ApprovalStatus.PENDING)
        if clock[0] >= 2 and pending and not approved:
            approved.append(world.approve(pending[0].id).id)

    world.runner = HookRunner(config=world.config, gate=world.runner.gate,
                              store=world.runtime.store, audit=world.runtime.audit,
                              sleep=sleep, monotonic=lambda: clock[0])
    answer = world.run("claude", _claude(RM))
    assert answer.exit_code == 0 and _decision(answer.stdout) == "allow"
    assert 2 <= clock[0] < 3
    clock[0] = 100.0
    again = world.run("claude", _claude(RM))  # used up: held again, and waits in vain
    assert again.exit_code == 2 and approved[0] not in again.stderr


def test_waiting_ends_at_a_denial_or_the_deadline(tmp_path: Path) -> None:
    world = make_world(tmp_path / "w", hooks='principal = "coding-agent"\nwait_seconds = 5',
                       risks={RM: Risk.DESTRUCTIVE})
    clock = [0.0]

    def deny_on_first_look(seconds: float) -> None:
        clock[0] += seconds
        from airlock.approvals import decide
        from airlock.model import Principal, PrincipalKind
        for pending in world.runtime.store.list_approvals(status=ApprovalStatus.PENDING):
            decide(world.runtime.store, pending.id, Principal("alice", PrincipalKind.HUMAN),
                   approve=False, reason="not on a Friday")

    world.runner = HookRunner(config=world.config, gate=world.runner.gate,
                              store=world.runtime.store, audit=world.runtime.audit,
                              sleep=deny_on_first_look, monotonic=lambda: clock[0])
    denied = world.run("claude", _claude(RM))
    assert denied.exit_code == 2 and "a human denied approval" in denied.stderr
    assert "not on a Friday" in denied.stderr

    def tick(seconds: float) -> None:
        clock[0] += seconds

    world.runner = HookRunner(config=world.config, gate=world.runner.gate,
                              store=world.runtime.store, audit=world.runtime.audit,
                              sleep=tick, monotonic=lambda: clock[0])
    clock[0] = 0.0
    timed_out = world.run("claude", _claude(RM))
    assert timed_out.exit_code == 2 and "airlock held this action" in timed_out.stderr
    assert clock[0] >= 5


def test_ask_passthrough_lets_claude_and_cursor_ask_and_others_block(tmp_path: Path) -> None:
    world = make_world(tmp_path / "w", hooks="ask_passthrough = true", risks={RM: Risk.DESTRUCTIVE})
    assert _decision(world.run("claude", _claude(RM)).stdout) == "ask"
    cursor = world.run("cursor", with_command(fixture("cursor", "before_shell_execution"), RM))
    assert json.loads(cursor.stdout)["permission"] == "ask"
    codex = world.run("codex", with_command(fixture("codex", "pretooluse_bash"), RM))
    assert codex.exit_code == 2
    gemini = world.run("gemini", with_command(fixture("gemini", "beforetool_shell"), RM))
    assert gemini.exit_code == 2


def test_without_a_configuration_holds_say_nobody_can_approve(tmp_path: Path) -> None:
    config = Config(path=None, state_dir=tmp_path / "state")
    runtime = Runtime(config, classifier=ScriptedShell({"some-unknown-program": Risk.UNKNOWN},
                                                       FileRules.from_config(config)))
    runner = HookRunner.from_runtime(runtime)
    data = fixture("claude", "pretooluse_bash")
    data["tool_input"]["command"] = "some-unknown-program --wipe"
    answer = runner.run("claude", raw(data))
    runtime.close()
    assert answer.exit_code == 2
    assert messages.NO_CONFIG_NOTE in answer.stderr


def test_permission_request_denies_only_what_airlock_denies(tmp_path: Path) -> None:
    world = make_world(tmp_path / "w", risks={RM: Risk.DESTRUCTIVE})
    request = fixture("claude", "permissionrequest_bash")
    assert world.run("claude", with_command(request, "ls")).stdout == ""  # the dialog decides
    assert world.run("claude", with_command(request, RM)).exit_code == 0  # a hold: already gated
    assert world.runtime.store.list_approvals() == []  # a second look creates nothing
    request["tool_name"], request["tool_input"] = "Read", {"file_path": "/home/u/.ssh/id_rsa"}
    denied = world.run("claude", request)
    assert denied.exit_code == 2
    assert json.loads(denied.stdout)["hookSpecificOutput"]["decision"]["behavior"] == "deny"


def test_mcp_calls_run_in_the_mapped_resource_or_nowhere_known(tmp_path: Path) -> None:
    world = make_world(tmp_path / "w", """
        [resources.app-db]
        kind = "postgres"
        environment = "production"
        url = "postgresql://app@db.internal:5432/app"
        """, hooks='mcp_resources = { postgres = "app-db" }')
    call = ToolCall("claude", "PreToolUse", "mcp__postgres__query", (), "/w")
    assert world.runner._context(call, McpCall("postgres", "query", "{}")) == \
        ActionContext(cwd="/w", environment="production", resource="app-db")
    # an unmapped server may sit in front of anything: no environment (counts as production)
    assert world.runner._context(call, McpCall("other", "query", "{}")) == \
        ActionContext(cwd="/w", environment=None, resource=None)
    held = world.run("claude", fixture("claude", "pretooluse_mcp"))  # DELETE in production
    assert held.exit_code == 2 and "airlock held this action" in held.stderr
    reads = fixture("claude", "pretooluse_mcp")
    reads["tool_input"] = {"sql": "SELECT count(*) FROM users"}
    assert _decision(world.run("claude", reads).stdout) == "allow"


@pytest.mark.parametrize(("harness", "name"), [
    ("claude", "pretooluse_read"), ("cursor", "before_read_file"),
    ("gemini", "beforetool_read_file")])
def test_credential_reads_are_denied_and_say_how_to_allow(tmp_path: Path, harness: str,
                                                         name: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home" / ".aws").mkdir(parents=True)
    secret = tmp_path / "home" / ".aws" / "credentials"
    secret.write_text("[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n")
    world = make_world(tmp_path / "w")
    data = fixture(harness, name)
    if harness == "cursor":
        data["file_path"] = str(secret)
    else:
        data["tool_input"] = {"file_path": str(secret)}
    answer = world.run(harness, data)
    text = answer.stderr or json.loads(answer.stdout).get("user_message", "")
    assert "airlock denied this action" in text
    assert "[hooks] allow_credential_reads" in text
    assert answer.exit_code == (0 if harness == "cursor" else 2)
    assert world.runtime.store.list_approvals() == []  # a deny, not a hold

    allowed = make_world(tmp_path / "w2", hooks=f'allow_credential_reads = ["{secret}"]')
    assert allowed.run(harness, data).exit_code == 0


def test_unreadable_input_blocks_and_is_recorded(world: World) -> None:
    for harness in ("claude", "codex", "gemini"):
        answer = world.run(harness, b"{not json")
        assert answer.exit_code == 2 and "blocked to be safe" in answer.stderr
    cursor = world.run("cursor", b"\xff\xfe")
    assert json.loads(cursor.stdout)["permission"] == "deny"
    assert "not UTF-8" in json.loads(cursor.stdout)["user_message"]
    kinds = [r.kind for r in world.runtime.store.audit_records()]
    assert kinds.count("hook_refused") == 4


def test_unknown_harness_blocks(world: World) -> None:
    answer = world.run("windsurf", _claude("ls"))
    assert answer.exit_code == 2 and "does not know the harness 'windsurf'" in answer.stderr


def test_a_failing_gate_blocks(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(world.runner, "decide", broken)
    answer = world.run("claude", _claude("ls"))
    assert answer.exit_code == 2
    assert "RuntimeError: disk on fire" in answer.stderr


@pytest.mark.parametrize("raw_input", ["", "{not json",
                                       '{"tool_name":"Bash","tool_input":{"command":123}}',
                                       '{"tool_name":"Read","tool_input":{"command":"git reset --hard"}}'])
def test_dcg_malformed_hook_inputs_are_blocked_not_allowed(world: World, raw_input: str) -> None:
    # destructive_command_guard lets these through (its corpus expects "allow" for malformed
    # hook JSON); airlock fails closed on purpose.
    assert world.run("claude", raw_input.encode()).exit_code == 2


def test_payload_size_is_bounded(world: World) -> None:
    huge = b'{"pad": "' + b"x" * (16 * 1024 * 1024) + b'"}'
    answer = world.run("claude", huge)
    assert answer.exit_code == 2 and "over airlock's limit" in answer.stderr


def test_the_action_is_recorded_with_the_hook_front(world: World) -> None:
    world.run("claude", _claude("ls"))
    actions = [r for r in world.runtime.store.audit_records() if r.kind == "action"]
    assert actions[-1].data["front"] == "hook:claude"
    assert actions[-1].data["principal"] == "coding-agent"
    assert actions[-1].data["context"] == {"cwd": "/home/user/my-project",
                                           "environment": "local", "resource": None}


def test_the_backup_is_taken_before_an_approved_retry_is_allowed(world: World) -> None:
    from airlock.approvals import StoreApprovals
    from airlock.execute import Release
    from airlock.gate import Gate
    from airlock.safety import RecordingSafetyNet

    net = RecordingSafetyNet()
    gate = Gate(judge=world.runtime.judge, approvals=StoreApprovals(world.runtime.store),
                safety_net=net, executor=Release(), audit=world.runtime.audit)
    runner = HookRunner(config=world.config, gate=gate, store=world.runtime.store,
                        audit=world.runtime.audit)
    held = runner.run("claude", raw(_claude(RM)))
    approval_id = held.stderr.split("approval: ")[1].split()[0]
    world.approve(approval_id)
    net.fail_with = "the vault is full"
    failed = runner.run("claude", raw(_claude(RM)))
    assert failed.exit_code == 2 and "the vault is full" in failed.stderr
    assert "It is approved already" in failed.stderr
    record = world.runtime.store.get_approval(approval_id)
    assert record is not None and record.status is ApprovalStatus.APPROVED  # not spent
    net.fail_with = None
    allowed = runner.run("claude", raw(_claude(RM)))
    assert allowed.exit_code == 0
    assert [plan.steps[0].target for _, plan in net.protected] == ["path:/srv/data"]


def test_a_patch_runs_whole_or_not_at_all_and_spends_no_approval_early(tmp_path: Path) -> None:
    world = make_world(tmp_path / "w", """
        [resources.app]
        kind = "path"
        environment = "production"
        path = "/srv/app"
        """)
    patch = fixture("codex", "pretooluse_apply_patch")
    patch["tool_input"] = {"command": "*** Begin Patch\n*** Update File: /srv/app/a.py\n@@\n-1\n+2\n"
                                      "*** Update File: /srv/app/b.py\n@@\n-1\n+2\n"
                                      "*** Add File: /tmp/notes.md\n+hi\n*** End Patch\n"}
    first = world.run("codex", patch)
    assert first.exit_code == 2
    ids = [line.split()[1] for line in first.stderr.splitlines() if line.startswith("approval: ")]
    assert len(ids) == 2  # one per production file; the /tmp note needs none
    world.approve(ids[0])
    partial = world.run("codex", patch)
    assert partial.exit_code == 2 and ids[1] in partial.stderr and ids[0] not in partial.stderr
    record = world.runtime.store.get_approval(ids[0])
    assert record is not None and record.status is ApprovalStatus.APPROVED  # not spent
    world.approve(ids[1])
    assert world.run("codex", patch).exit_code == 0
    assert all(r.status is ApprovalStatus.USED
               for r in map(world.runtime.store.get_approval, ids) if r is not None)
    assert world.run("codex", patch).exit_code == 2


def test_one_denied_file_blocks_the_whole_patch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                ) -> None:
    world = make_world(tmp_path / "w")
    patch = fixture("codex", "pretooluse_apply_patch")
    patch["tool_input"] = {"command": f"*** Begin Patch\n*** Add File: {tmp_path}/ok.txt\n+1\n"
                                      f"*** Update File: {world.config.path}\n@@\n-a\n+b\n"
                                      "*** End Patch\n"}
    answer = world.run("codex", patch)
    assert answer.exit_code == 2 and "airlock denied this action" in answer.stderr
    assert "airlock's own files" in answer.stderr
    submitted = [r for r in world.runtime.store.audit_records() if r.kind == "action"]
    assert len(submitted) == 1  # the allowed part was not released


def test_a_call_with_nothing_to_judge_is_blocked(world: World) -> None:
    from airlock.fronts.hooks.base import Reply, ToolCall
    from airlock.fronts.hooks.messages import worst

    reply, message = world.runner.decide(ToolCall("claude", "PreToolUse", "Bash", (), "/tmp"))
    assert reply is Reply.BLOCK and "nothing it could judge" in message
    assert worst([]) is Verdict.DENY


def test_cursor_file_writes_go_through_the_gate(world: World) -> None:
    secret = world.run("cursor", fixture("cursor", "pre_tool_use_write"))  # a write to .env
    body = json.loads(secret.stdout)
    assert secret.exit_code == 0 and body["permission"] == "deny", body
    assert ".env" in body["agent_message"]
    shell = fixture("cursor", "pre_tool_use_write") | {"tool_name": "Shell",
                                                        "tool_input": {"command": RM}}
    # judged by beforeShellExecution, once: preToolUse leaves it to that event
    assert json.loads(world.run("cursor", shell).stdout) == {"permission": "allow"}
    assert json.loads(world.run("cursor", with_command(
        fixture("cursor", "before_shell_execution"), RM)).stdout)["permission"] == "deny"
