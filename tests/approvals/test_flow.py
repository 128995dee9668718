"""Approvals through the real thing: `airlock up` in a subprocess, agents over HTTP with their
tokens, approvers with the real `airlock approve|deny` command line (locally and `--server`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.approvals.helpers import (
    TWO_PEOPLE,
    Agent,
    Authenticator,
    Server,
    Waiter,
    agent_token,
    enrol_by_cli,
    start_server,
    write_project,
)
from tests.cli import airlock


class Project:
    def __init__(self, root: Path, server: Server) -> None:
        self.root, self.server = root, server
        self.agent = Agent(server.base, agent_token(root))
        self.other = Agent(server.base, agent_token(root, "other-agent"))
        self.alice: Authenticator = enrol_by_cli(root, "alice")
        self.bob: Authenticator = enrol_by_cli(root, "bob")
        # each authenticator yields about three fresh codes per 30 s: spread the work
        self.carol: Authenticator = enrol_by_cli(root, "carol")

    def cli(self, *args: str) -> Any:
        return airlock(*args, cwd=self.root)

    def approve(self, who: Authenticator, approval_id: str, *extra: str) -> Any:
        # No vault here: approving accepts, by name, that nothing is backed up first.
        return self.cli("approve", approval_id, "--without-backup", "--token", who.credential,
                        "--code", who.code(), *extra)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = write_project(tmp_path_factory.mktemp("flow"), TWO_PEOPLE.replace(
        'production = true', 'resource = ["staging-db"]'))  # two people for staging-db only
    server = start_server(root)
    try:
        yield Project(root, server)
    finally:
        server.stop()


def test_waiting_client_proceeds_once_approved(project: Project) -> None:
    held = project.agent.submit("DROP TABLE waiting_users")
    assert held["verdict"] == "hold" and held["approval_id"]
    waiter = Waiter(project.agent, held["approval_id"])
    waiter.start()
    time.sleep(0.5)
    assert waiter.is_alive()  # still waiting: nobody has decided
    result = project.approve(project.alice, held["approval_id"], "--reason", "checked")
    decided_at = time.monotonic()
    assert result.returncode == 0, result.stderr
    assert "approved" in result.stdout and "may now pass once" in result.stdout
    waiter.join(timeout=10)
    assert waiter.answer["status"] == "approved" and waiter.answer["decided_by"] == ["alice"]
    assert waiter.finished_at - decided_at < 1.0  # the long-poll notices within its poll period
    assert project.agent.submit("DROP TABLE waiting_users")["verdict"] == "allow"
    assert project.agent.submit("DROP TABLE waiting_users")["verdict"] == "hold"


def test_denied_client_gets_the_reason(project: Project) -> None:
    held = project.agent.submit("DROP TABLE denied_orders")
    waiter = Waiter(project.agent, held["approval_id"])
    waiter.start()
    result = project.cli("deny", held["approval_id"], "--reason", "use a migration instead",
                         "--token", project.bob.credential, "--code", project.bob.code(),
                         "--server", project.server.base)
    assert result.returncode == 0, result.stderr
    waiter.join(timeout=10)
    assert waiter.answer["status"] == "denied"
    assert waiter.answer["reason"] == "use a migration instead"


def test_long_poll_answers_pending_at_its_timeout(project: Project) -> None:
    held = project.agent.submit("DROP TABLE slow_decision")
    started = time.monotonic()
    answer = project.agent.wait(held["approval_id"], 1)
    assert answer.status_code == 200 and answer.json()["status"] == "pending"
    assert 0.9 < time.monotonic() - started < 3


@pytest.mark.parametrize("timeout", ["0", "121", "soon", "nan", "inf"])
def test_long_poll_refuses_a_bad_timeout(project: Project, timeout: str) -> None:
    held = project.agent.submit("DROP TABLE bad_timeout")
    answer = httpx.get(f"{project.server.base}/v1/approvals/{held['approval_id']}/wait",
                       params={"timeout": timeout}, headers=project.agent.headers)
    assert answer.status_code == 400 and "1 to 120" in answer.json()["error"]


def test_only_the_requester_can_wait_on_an_approval(project: Project) -> None:
    held = project.agent.submit("DROP TABLE private_wait")
    assert project.other.wait(held["approval_id"], 1).status_code == 404
    assert httpx.get(f"{project.server.base}/v1/approvals/{held['approval_id']}/wait").status_code == 401


def test_an_approval_cannot_be_used_for_a_different_action(project: Project) -> None:
    held = project.agent.submit("DROP TABLE bound_users")
    result = project.cli("approve", held["approval_id"], "--token", project.carol.credential,
                         "--code", project.carol.code(), "--server", project.server.base,
                         "--without-backup")
    assert result.returncode == 0, result.stderr
    others = [project.agent.submit("DROP TABLE bound_orders"),  # another statement
              project.agent.submit("DROP TABLE bound_users ", "staging-db"),  # another target
              project.other.submit("DROP TABLE bound_users")]  # another principal
    for other in others:
        assert other["verdict"] == "hold" and other["approval_id"] != held["approval_id"]
    passed = project.agent.submit("DROP TABLE bound_users")
    assert passed["verdict"] == "allow" and passed["approval_id"] == held["approval_id"]


def test_two_people_needed_and_one_cannot_count_twice(project: Project) -> None:
    held = project.agent.submit("DROP TABLE two_people", "staging-db")
    assert held["verdict"] == "hold"
    first = project.approve(project.alice, held["approval_id"])
    assert first.returncode == 0 and "1 more person" in first.stdout
    assert project.agent.submit("DROP TABLE two_people", "staging-db")["verdict"] == "hold"
    again = project.approve(project.alice, held["approval_id"])
    assert again.returncode == 2 and "already decided" in again.stderr
    second = project.approve(project.bob, held["approval_id"])
    assert second.returncode == 0 and "(2 of 2)" in second.stdout
    assert project.agent.submit("DROP TABLE two_people", "staging-db")["verdict"] == "allow"


def test_agent_token_cannot_approve_through_any_door(project: Project) -> None:
    held = project.agent.submit("DROP TABLE agent_self_approval")
    token = project.agent.headers["Authorization"].split()[1]
    via_cli = project.cli("approve", held["approval_id"], "--token", token, "--code", "123456")
    assert via_cli.returncode == 2 and "agent token" in via_cli.stderr
    via_server = project.cli("approve", held["approval_id"], "--token", token, "--code",
                             "123456", "--server", project.server.base)
    assert via_server.returncode == 2 and "agent token" in via_server.stderr
    bearer = httpx.post(f"{project.server.base}/console/api/approvals/{held['approval_id']}"
                        "/decision", headers=project.agent.headers, json={"decision": "approve"})
    assert bearer.status_code == 403
    status = httpx.get(f"{project.server.base}/v1/approvals/{held['approval_id']}",
                       headers=project.agent.headers).json()
    assert status["status"] == "pending"
    export = project.cli("audit", "export")
    refusals = [line for line in export.stdout.splitlines()
                if '"approval_refused"' in line and held["approval_id"] in line]
    assert len(refusals) == 3 and all('"agent_token"' in line for line in refusals)
    assert all(token[-43:] not in line for line in export.stdout.splitlines())


def test_everything_is_in_a_verified_audit_log(project: Project) -> None:
    verify = project.cli("audit", "verify")
    assert verify.returncode == 0, verify.stdout
    kinds = {line.split('"kind": "')[1].split('"')[0]
             for line in project.cli("audit", "export").stdout.splitlines()}
    assert {"approver_added", "held", "approval_given", "approval_denied", "approval_refused",
            "approval_used"} <= kinds
