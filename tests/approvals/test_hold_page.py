"""What the hold page tells an approver beyond the action: that nobody enrolled can complete
it, what happened when the approval was used (outcome, backup, snapshots), and the tables a
backup reaches with their row estimates."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from airlock.approvers import check_is_human, enrol
from airlock.console.views import plan_step
from airlock.tokens import issue_token
from tests.approvals.helpers import TWO_PEOPLE, authenticator, runtime_for, write_project
from tests.approvals.test_console import login, serve


def _text(page: httpx.Response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page.text).split())


def test_a_hold_needing_more_approvers_than_enrolled_says_so(tmp_path: Path) -> None:
    runtime = runtime_for(write_project(tmp_path, TWO_PEOPLE))
    try:
        alice = authenticator(enrol(runtime.store, runtime.config, runtime.approvals_key,
                                    "alice"))
        token = issue_token(runtime.store, runtime.config, principal="agent",
                            environments=["*"]).token
        with serve(runtime) as served, \
                httpx.Client(base_url=served.base, follow_redirects=False) as client:
            held = client.post("/v1/actions", headers={"Authorization": f"Bearer {token}"},
                               json={"kind": "sql", "input": "DROP TABLE users",
                                     "resource": "prod-db"}).json()
            assert held["verdict"] == "hold"
            login(client, alice)
            page = _text(client.get(f"/console/approvals/{held['approval_id']}"))
            listing = _text(client.get("/console/"))
        assert "This needs 2 approvals, but only 1 enrolled approver can give one" in page
        assert "only 1 enrolled approver can approve it" in listing
    finally:
        runtime.close()


def test_a_used_approval_shows_its_outcome(tmp_path: Path) -> None:
    runtime = runtime_for(write_project(tmp_path))
    try:
        alice = authenticator(enrol(runtime.store, runtime.config, runtime.approvals_key,
                                    "alice"))
        token = issue_token(runtime.store, runtime.config, principal="agent",
                            environments=["*"]).token
        body = {"kind": "sql", "input": "DROP TABLE users", "resource": "prod-db"}
        auth = {"Authorization": f"Bearer {token}"}
        with serve(runtime) as served, \
                httpx.Client(base_url=served.base, follow_redirects=False) as client:
            held = client.post("/v1/actions", headers=auth, json=body).json()
            runtime.desk.decide(held["approval_id"], check_is_human(runtime.config, "alice"),
                                approve=True, reason="fine", via="test", without_backup=True)
            ran = client.post("/v1/actions", headers=auth, json=body).json()
            assert ran["verdict"] == "allow", ran
            login(client, alice)
            page = _text(client.get(f"/console/approvals/{held['approval_id']}"))
        assert f"Used by action {ran['action_id']}" in page
        assert "ran without a backup of" in page and "accepted by alice" in page
    finally:
        runtime.close()


def test_plan_steps_carry_the_tables_they_reach() -> None:
    step = plan_step({"target": "table:orders", "method": "postgres-rows", "tables": [
        {"table": "orders", "estimated_rows": 1200},
        {"table": "order_items", "estimated_rows": 9600, "via": "ON DELETE CASCADE"},
        {"name": "audit_trail"}, "notes", 42]})
    assert step["tables"] == [
        {"name": "orders", "rows": 1200, "why": ""},
        {"name": "order_items", "rows": 9600, "why": "ON DELETE CASCADE"},
        {"name": "audit_trail", "rows": None, "why": ""},
        {"name": "notes", "rows": None, "why": ""}]
    assert plan_step({"target": "x", "method": "m"})["tables"] == []
