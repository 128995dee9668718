"""The agent's own account of a held tool call reaches the approver: Claude Code's
`tool_input.description` and the session id arrive through the hook, are kept (redacted) with
the hold, and the console shows them labelled as the agent's claim, escaped — and they bind
nothing: the same command with another description is the same approval."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import httpx

from airlock.approvers import enrol
from airlock.model import AgentStatement, Risk
from tests.approvals.helpers import authenticator
from tests.approvals.test_console import login, serve
from tests.hooks.conftest import fixture, make_world, with_command

RM = "rm -rf /srv/data"
SAID = ("Clean the <script>alert(1)</script> cache before the deploy; "
        "uses postgresql://app:hunter2@db/app")


def _claude(description: str) -> dict[str, Any]:
    data = with_command(fixture("claude", "pretooluse_bash"), RM, "/home/user/my-project")
    data["tool_input"]["description"] = description
    return data


def test_the_agents_stated_reason_reaches_the_hold_page(tmp_path: Path) -> None:
    world = make_world(tmp_path / "w", risks={RM: Risk.DESTRUCTIVE},
                       extra='\n[approvals.console]\npublic_url = "http://airlock.example"\n')
    try:
        answer = world.run("claude", _claude(SAID))
        assert answer.exit_code == 2, answer
        approval_id = answer.stderr.split("approval: ")[1].split()[0]
        # the agent's message links to the page where a person decides
        assert f"console: http://airlock.example/console/approvals/{approval_id}" \
            in answer.stderr
        record = world.runtime.store.get_approval(approval_id)
        assert record is not None
        said = record.details["agent_says"]
        assert said["conversation"] == "abc123" and said["harness"] == "claude"
        assert "hunter2" not in said["description"]  # redacted when kept

        # Another description, the same command: the same action, the same approval.
        again = world.run("claude", _claude("something else entirely"))
        assert f"approval: {approval_id}" in again.stderr

        runtime = world.runtime
        alice = authenticator(enrol(runtime.store, runtime.config, runtime.approvals_key,
                                    "alice"))
        with serve(runtime) as served, \
                httpx.Client(base_url=served.base, follow_redirects=False) as client:
            assert login(client, alice).status_code == 303
            page = client.get(f"/console/approvals/{approval_id}")
        assert page.status_code == 200
        text = page.text
        assert "The agent says" in text and "not checked by airlock" in text
        assert html.escape("Clean the <script>alert(1)</script> cache", quote=False) in text
        assert "<script>alert(1)" not in text
        assert "hunter2" not in text
        assert "abc123" in text  # the agent's session
        assert "something else entirely" not in text  # the first account stays with the hold
    finally:
        world.runtime.close()


def test_statements_take_only_non_empty_strings_and_are_cut() -> None:
    assert AgentStatement.of(None, None) is None
    assert AgentStatement.of({"x": 1}, 42) is None
    assert AgentStatement.of("   ", "") is None
    long = AgentStatement.of("x" * 5000, "s")
    assert long is not None and long.description is not None
    assert len(long.description) == AgentStatement.MAX_DESCRIPTION
    assert long.to_json() == {"description": long.description, "conversation": "s"}
