"""The console's defences, request by request: sign-in, sessions, CSRF, rate limits, agent
tokens, and what pages may never show. (The whole flow in a real browser against a real
`airlock up` is tests/approvals/test_browser.py.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from airlock.approvers import enrol
from airlock.console import mount_console
from airlock.fronts.api import create_app
from airlock.runtime import Runtime
from airlock.store import ApprovalStatus
from airlock.tokens import issue_token
from tests.approvals.helpers import (
    Authenticator,
    ServedApp,
    authenticator,
    runtime_for,
    write_project,
)


@dataclass
class World:
    runtime: Runtime
    client: httpx.Client
    alice: Authenticator
    bob: Authenticator
    token: str

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.client.post("/v1/actions", json=body,
                                  headers={"Authorization": f"Bearer {self.token}"})
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def hold(self, sql: str = "DROP TABLE users", resource: str = "prod-db") -> str:
        answer = self.submit({"kind": "sql", "input": sql, "resource": resource})
        assert answer["verdict"] == "hold", answer
        return str(answer["approval_id"])

    def audit(self, kind: str) -> list[dict[str, Any]]:
        return [dict(r.data) for r in self.runtime.store.audit_records() if r.kind == kind]


def serve(runtime: Runtime) -> ServedApp:
    app = create_app(runtime)
    mount_console(app, runtime)
    return ServedApp(app)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    runtime = runtime_for(write_project(tmp_path))
    people = [authenticator(enrol(runtime.store, runtime.config, runtime.approvals_key, name))
              for name in ("alice", "bob")]
    token = issue_token(runtime.store, runtime.config, principal="agent",
                        environments=["*"]).token
    with serve(runtime) as served, \
            httpx.Client(base_url=served.base, follow_redirects=False) as client:
        yield World(runtime, client, people[0], people[1], token)
    runtime.close()


def csrf_in(page: httpx.Response) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def login(client: httpx.Client, who: Authenticator, name: str = "alice", *,
          code: str | None = None, next_page: str = "/console/") -> httpx.Response:
    form = client.get("/console/login")
    return client.post("/console/login", data={
        "csrf": csrf_in(form), "name": name, "credential": who.credential,
        "code": code if code is not None else who.code(), "next": next_page})


def set_cookie_headers(response: httpx.Response, name: str) -> str:
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert headers, response.headers
    return headers[-1]


# ---- sign-in and sessions -------------------------------------------------------------------

def test_login_sets_a_strict_http_only_session_cookie(world: World) -> None:
    assert world.client.get("/console/").headers["location"].startswith("/console/login")
    page = world.client.get("/console/login")
    assert "Sign in to approve" in page.text
    login_cookie = set_cookie_headers(page, "airlock_login")
    assert "HttpOnly" in login_cookie and "SameSite=strict" in login_cookie
    done = login(world.client, world.alice)
    assert done.status_code == 303 and done.headers["location"] == "/console/"
    cookie = set_cookie_headers(done, "airlock_session")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http on localhost: a Secure cookie would never return
    assert "Signed in as" in world.client.get("/console/").text
    assert [r["approver"] for r in world.audit("console_login")] == ["alice"]


def test_session_cookie_is_secure_when_served_over_https(tmp_path: Path) -> None:
    # behind a TLS proxy the console's public URL is https: cookies must never travel in clear
    runtime = runtime_for(write_project(tmp_path, """
[approvals.console]
public_url = "https://airlock.example"
"""))
    alice = authenticator(enrol(runtime.store, runtime.config, runtime.approvals_key, "alice"))
    with serve(runtime) as served, \
            httpx.Client(base_url=served.base, follow_redirects=False) as client:
        form = client.get("/console/login")
        login_cookie = set_cookie_headers(form, "airlock_login")
        assert "Secure" in login_cookie
        # a browser on https would send the Secure cookie back; this client, on http, must be told
        token = login_cookie.split(";")[0].split("=", 1)[1]
        done = client.post("/console/login", headers={"Cookie": f"airlock_login={token}"}, data={
            "csrf": csrf_in(form), "name": "alice", "credential": alice.credential,
            "code": alice.code()})
        cookie = set_cookie_headers(done, "airlock_session")
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    runtime.close()


def test_failed_login_never_echoes_the_credential_or_code(world: World) -> None:
    code = world.alice.wrong_code()
    answer = login(world.client, world.alice, code=code)
    assert answer.status_code == 401 and "wrong TOTP code" in answer.text
    assert world.alice.credential not in answer.text and code not in answer.text
    assert "airlock_session" not in answer.headers.get("set-cookie", "")
    assert [r["why"] for r in world.audit("approval_refused")] == ["bad_code"]


def test_login_without_its_csrf_token_is_refused(world: World) -> None:
    world.client.get("/console/login")
    answer = world.client.post("/console/login", data={
        "name": "alice", "credential": world.alice.credential, "code": world.alice.code()})
    assert answer.status_code == 403 and "expired" in answer.text
    assert "airlock_session" not in answer.headers.get("set-cookie", "")
    assert world.runtime.store.get_approver("alice").last_step == 0  # type: ignore[union-attr]


def test_login_is_rate_limited_per_address(world: World) -> None:
    for _ in range(10):
        assert login(world.client, world.alice, code=world.alice.wrong_code()).status_code == 401
    blocked = login(world.client, world.alice)  # even the right code, for now
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in blocked.text
    # the store-side lockout caught the guessing as well: 5 wrong codes with a right credential
    record = world.runtime.store.get_approver("alice")
    assert record is not None and record.locked_until is not None


def test_login_redirects_only_inside_the_console(world: World) -> None:
    answer = login(world.client, world.alice, next_page="https://evil.example/")
    assert answer.headers["location"] == "/console/"
    world.client.cookies.clear()
    answer = login(world.client, world.alice, next_page="//evil.example/console/")
    assert answer.headers["location"] == "/console/"


def test_forged_or_stale_sessions_are_refused(world: World) -> None:
    login(world.client, world.alice)
    cookie = world.client.cookies["airlock_session"]
    version, payload, mac = cookie.split(".")
    world.client.cookies.set("airlock_session", f"{version}.{payload}x.{mac}", path="/console")
    assert world.client.get("/console/").status_code == 303
    world.client.cookies.set("airlock_session", cookie, path="/console")
    assert world.client.get("/console/").status_code == 200
    # removing (or re-enrolling) the approver ends their sessions at once
    world.runtime.store.remove_approver("alice")
    assert world.client.get("/console/").status_code == 303


# ---- approving and denying ------------------------------------------------------------------

def test_approve_needs_a_fresh_code_and_records_it(world: World) -> None:
    apr = world.hold()
    login_code = world.alice.code()
    login(world.client, world.alice, code=login_code)
    page = world.client.get(f"/console/approvals/{apr}")
    assert page.status_code == 200 and "DROP" in page.text and "prod-db" in page.text
    assert 'class="env env-prod"' in page.text and "This reaches <strong>production</strong>" in page.text
    csrf = csrf_in(page)
    for code, why in (("", "bad_code"), (login_code, "reused_code")):
        refused = world.client.post(f"/console/approvals/{apr}/approve",
                                    data={"csrf": csrf, "code": code, "without_backup": "yes"})
        assert refused.status_code == 401 and "Not approved" in refused.text
        assert world.audit("approval_refused")[-1]["why"] == why
    done = world.client.post(f"/console/approvals/{apr}/approve",
                             data={"csrf": csrf, "code": world.alice.code(), "reason": "ok",
                                   "without_backup": "yes"})
    assert done.status_code == 303 and done.headers["location"].endswith("?done=approved")
    assert world.runtime.store.get_approval(apr).status is ApprovalStatus.APPROVED  # type: ignore[union-attr]
    [given] = world.audit("approval_given")
    assert given["approver"] == "alice" and given["via"] == "console"
    assert given["without_backup"] is True  # no vault here: the plan has no backup to offer
    assert "Your approval is recorded" in world.client.get(done.headers["location"]).text


def test_approving_without_a_possible_backup_needs_the_named_checkbox(world: World) -> None:
    apr = world.hold()
    login(world.client, world.alice)
    page = world.client.get(f"/console/approvals/{apr}")
    assert 'name="without_backup" value="yes" required' in page.text
    assert "Run without a backup" in page.text and "No backup of" in page.text
    csrf = csrf_in(page)
    code = world.alice.code()
    for unticked in ({}, {"without_backup": "on"}, {"without_backup": ""}):
        refused = world.client.post(f"/console/approvals/{apr}/approve",
                                    data={"csrf": csrf, "code": code, **unticked})
        assert refused.status_code == 409 and "without a backup" in refused.text
    record = world.runtime.store.get_approval(apr)
    assert record is not None and record.status is ApprovalStatus.PENDING and not record.grants
    # the code was not spent on the refused forms: it still approves
    done = world.client.post(f"/console/approvals/{apr}/approve",
                             data={"csrf": csrf, "code": code, "without_backup": "yes"})
    assert done.status_code == 303
    record = world.runtime.store.get_approval(apr)
    assert record is not None and record.grants[0].without_backup
    assert "accepted running without a backup" in world.client.get(done.headers["location"]).text


def test_deny_needs_a_reason(world: World) -> None:
    apr = world.hold()
    login(world.client, world.alice)
    csrf = csrf_in(world.client.get(f"/console/approvals/{apr}"))
    empty = world.client.post(f"/console/approvals/{apr}/deny", data={"csrf": csrf, "reason": ""})
    assert empty.status_code == 409 and "needs a reason" in empty.text
    done = world.client.post(f"/console/approvals/{apr}/deny",
                             data={"csrf": csrf, "reason": "use a migration"})
    assert done.status_code == 303
    record = world.runtime.store.get_approval(apr)
    assert record is not None and record.status is ApprovalStatus.DENIED
    assert record.reason == "use a migration"


def test_post_without_csrf_token_is_refused_and_recorded(world: World) -> None:
    apr = world.hold()
    login(world.client, world.alice)
    for data in ({"code": world.alice.code()}, {"csrf": "forged", "code": world.alice.code()}):
        answer = world.client.post(f"/console/approvals/{apr}/approve", data=data)
        assert answer.status_code == 403 and "CSRF" in answer.text
    answer = world.client.post(f"/console/approvals/{apr}/deny", data={"reason": "x"})
    assert answer.status_code == 403
    assert [r["why"] for r in world.audit("approval_refused")] == ["csrf"] * 3
    assert world.runtime.store.get_approval(apr).status is ApprovalStatus.PENDING  # type: ignore[union-attr]


def test_cross_site_post_is_refused_even_with_a_token(world: World) -> None:
    apr = world.hold()
    login(world.client, world.alice)
    csrf = csrf_in(world.client.get(f"/console/approvals/{apr}"))
    answer = world.client.post(f"/console/approvals/{apr}/deny",
                               data={"csrf": csrf, "reason": "x"},
                               headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403 and "another site" in answer.text
    assert world.runtime.store.get_approval(apr).status is ApprovalStatus.PENDING  # type: ignore[union-attr]


def test_requester_sees_no_decision_form(world: World) -> None:
    # a human submitting through the API is held like anyone; they cannot approve themselves
    alice_token = issue_token(world.runtime.store, world.runtime.config, principal="alice",
                              environments=["*"]).token
    answer = world.client.post("/v1/actions", headers={"Authorization": f"Bearer {alice_token}"},
                               json={"kind": "sql", "input": "DROP TABLE a", "resource": "prod-db"})
    apr = answer.json()["approval_id"]
    login(world.client, world.alice)
    page = world.client.get(f"/console/approvals/{apr}")
    assert "someone else must decide" in page.text and "/approve" not in page.text


# ---- agent tokens ---------------------------------------------------------------------------

def test_agent_token_as_bearer_is_refused_and_recorded(world: World) -> None:
    apr = world.hold()
    for path in ("/console/", f"/console/approvals/{apr}/approve",
                 f"/console/api/approvals/{apr}/decision"):
        answer = world.client.post(path, headers={"Authorization": f"Bearer {world.token}"},
                                   json={"decision": "approve"})
        assert answer.status_code == 403 and "agent tokens can never" in answer.json()["error"]
    refusals = world.audit("approval_refused")
    assert [r["why"] for r in refusals] == ["agent_token"] * 3
    assert refusals[1]["approval_id"] == apr and refusals[2]["approval_id"] == apr
    secret = world.token[-43:]  # the whole secret: it may itself contain "_"
    assert all(secret not in str(r) for r in refusals)


def test_agent_token_as_login_credential_is_refused_and_recorded(world: World) -> None:
    form = world.client.get("/console/login")
    answer = world.client.post("/console/login", data={
        "csrf": csrf_in(form), "name": "agent", "credential": world.token, "code": "123456"})
    assert answer.status_code == 401 and "agent token" in answer.text
    assert world.audit("approval_refused")[-1]["why"] == "agent_token"


def test_json_decision_endpoint_for_scripts(world: World) -> None:
    apr = world.hold()
    url = f"/console/api/approvals/{apr}/decision"
    as_agent = world.client.post(url, json={"credential": world.token, "code": "123456",
                                            "decision": "approve"})
    assert as_agent.status_code == 401 and as_agent.json()["why"] == "agent_token"
    as_form = world.client.post(url, data={"credential": world.alice.credential})
    assert as_form.status_code == 415
    bad = world.client.post(url, json={"credential": world.alice.credential, "code": 5,
                                       "decision": "approve"})
    assert bad.status_code == 400 and "must be strings" in bad.json()["error"]
    unaccepted = world.client.post(url, json={"credential": world.alice.credential,
                                              "code": "000000", "decision": "approve"})
    assert unaccepted.status_code == 409 and "without a backup" in unaccepted.json()["error"]
    assert "--without-backup" in unaccepted.json()["error"]
    not_bool = world.client.post(url, json={"credential": world.alice.credential, "code": "1",
                                            "decision": "approve", "without_backup": "yes"})
    assert not_bool.status_code == 400 and "true or false" in not_bool.json()["error"]
    done = world.client.post(url, json={"credential": world.alice.credential,
                                        "code": world.alice.code(), "decision": "approve",
                                        "without_backup": True})
    assert done.status_code == 200 and done.json()["status"] == "approved"
    again = world.client.post(url, json={"credential": world.bob.credential,
                                         "code": world.bob.code(), "decision": "approve",
                                         "without_backup": True})
    assert again.status_code == 409 and "not pending" in again.json()["error"]


# ---- what pages show ------------------------------------------------------------------------

def test_pages_never_show_secrets(world: World) -> None:
    sql = world.hold("DROP TABLE users -- PGPASSWORD=hunter2")
    http = world.submit({"kind": "http", "input": {
        "method": "DELETE", "url": "https://admin:s3cr3t@api.example.com/v1/volumes/vol-1",
        "headers": {"Authorization": "Bearer sk_live_0123456789"}}})
    assert http["verdict"] == "hold"
    login(world.client, world.alice)
    pages = [world.client.get(p).text for p in (
        "/console/", "/console/pending", f"/console/approvals/{sql}",
        f"/console/approvals/{http['approval_id']}", "/console/audit")]
    for page in pages:
        for secret in ("hunter2", "s3cr3t", "sk_live_0123456789", world.alice.credential,
                       world.token):
            assert secret not in page
    assert "PGPASSWORD=***" in pages[2]


def test_agent_text_is_escaped_not_run(world: World) -> None:
    apr = world.hold('DROP TABLE "<script>alert(1)</script>"')
    login(world.client, world.alice)
    for page in (world.client.get(f"/console/approvals/{apr}").text,
                 world.client.get("/console/").text):
        assert "<script>alert" not in page
        assert "&lt;script&gt;" in page or "&#34;&lt;script" in page


def test_every_page_carries_the_security_headers(world: World) -> None:
    login(world.client, world.alice)
    for path in ("/console/", "/console/login", "/console/audit"):
        answer = world.client.get(path)
        csp = answer.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
    css = world.client.get("/console/static/console.css")
    assert css.status_code == 200 and "env-prod" in css.text


def test_audit_page_verifies_only_when_asked_and_filters_by_action(world: World) -> None:
    held = world.submit({"kind": "sql", "input": "DROP TABLE users", "resource": "prod-db"})
    login(world.client, world.alice)
    page = world.client.get("/console/audit")
    assert "has not been verified from the console yet" in page.text
    assert '<span class="kind">console_login</span>' in page.text
    refused = world.client.post("/console/audit/verify", data={"csrf": "wrong"})
    assert refused.status_code == 403
    verified = world.client.post("/console/audit/verify", data={"csrf": csrf_in(page)})
    assert verified.status_code == 303
    page = world.client.get("/console/audit")
    assert "The chain verified just now (by alice)" in re.sub(r"<[^>]+>", "", page.text)
    only = world.client.get(f"/console/audit?action={held['action_id']}").text
    assert '<span class="kind">held</span>' in only
    assert '<span class="kind">console_login</span>' not in only
