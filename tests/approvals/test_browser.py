"""The whole approval flow in a real browser (Playwright driving Debian's Chromium) against a
real `airlock up`: an agent's `DROP TABLE` is held, a person signs in with a TOTP code, sees it,
approves it, and the waiting agent proceeds; a second one is denied with a reason, which the
agent receives. Screenshots of every page go to tests/artifacts/ for review."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.approvals.helpers import (
    Agent,
    Server,
    Waiter,
    agent_token,
    enrol_by_cli,
    start_server,
    write_project,
)
from tests.conftest import REPO

ARTIFACTS = REPO / "tests" / "artifacts"
PRODUCTION_RED = "rgb(198, 40, 40)"  # --prod in console.css


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(write_project(tmp_path))
    yield running
    running.stop()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"approvals-{name}.png"), full_page=True)


def test_approve_and_deny_in_a_real_browser(browser: Any, server: Server) -> None:
    project = server.project
    alice = enrol_by_cli(project, "alice")
    agent = Agent(server.base, agent_token(project))

    held = agent.submit("DROP TABLE users")
    assert held["verdict"] == "hold", held
    waiter = Waiter(agent, held["approval_id"], timeout=90)
    waiter.start()

    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    # Sign in: name, credential and the current code from the authenticator.
    page.goto(f"{server.base}/console/")
    assert page.url.startswith(f"{server.base}/console/login")
    shot(page, "1-login")
    page.fill("input[name=name]", "alice")
    page.fill("input[name=credential]", alice.credential)
    page.fill("input[name=code]", alice.code())
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{server.base}/console/")

    # The held action is waiting, in production, in red.
    card = page.locator(f"a.card[href='/console/approvals/{held['approval_id']}']")
    card.wait_for()
    assert "DROP TABLE users" in card.inner_text()
    assert card.locator(".env-prod").evaluate("e => getComputedStyle(e).backgroundColor") \
        == PRODUCTION_RED
    assert "in " in card.locator("time").inner_text()  # the live countdown
    shot(page, "2-pending")

    # The action page: the full statement, where it lands, the safety net, then approve.
    card.click()
    page.wait_for_url(f"**/console/approvals/{held['approval_id']}")
    assert "DROP" in page.locator("pre.code").inner_text()
    assert page.locator("pre.code .t-k").count() >= 2  # highlighted keywords
    assert "prod-db" in page.locator("table").first.inner_text()
    assert "This reaches production" in page.inner_text(".hero")
    shot(page, "3-action")
    # No vault here: nothing can back the table up, and approving must say so, by name.
    assert "No backup of" in page.inner_text(".panel:has(h2:text('Safety net'))")
    checkbox = page.locator(".decide-approve input[name=without_backup]")
    assert "Run without a backup" in page.inner_text(".decide-approve label.without-backup")
    page.fill(".decide-approve input[name=reason]", "checked: the table is unused")
    page.fill(".decide-approve input[name=code]", alice.code())
    page.click("button.button-approve")  # unticked: the browser refuses to send the form
    assert checkbox.evaluate("e => e.validity.valueMissing")
    assert page.url.endswith(f"/console/approvals/{held['approval_id']}")
    checkbox.check()
    shot(page, "3b-without-backup-ticked")
    page.click("button.button-approve")
    page.wait_for_url("**?done=approved")
    assert "Your approval is recorded" in page.inner_text(".flash-ok")
    shot(page, "4-approved")

    # The waiting agent proceeds, once.
    waiter.join(timeout=15)
    assert waiter.answer["status"] == "approved" and waiter.answer["decided_by"] == ["alice"]
    ran = agent.submit("DROP TABLE users")
    assert ran["verdict"] == "allow", ran
    assert "ran without a backup of" in str(ran) and "accepted by alice" in str(ran)

    # A second one arrives while the list is open: it appears without a reload…
    page.goto(f"{server.base}/console/")
    assert page.locator("a.card").count() == 0
    second = agent.submit("DROP TABLE orders")
    assert second["verdict"] == "hold"
    waiter = Waiter(agent, second["approval_id"], timeout=90)
    waiter.start()
    arrived = page.locator(f"a.card[href='/console/approvals/{second['approval_id']}']")
    arrived.wait_for(timeout=10_000)
    assert page.inner_text("#pending-count") == "1"
    # …and is denied with a reason that reaches the agent.
    arrived.click()
    page.fill(".decide-deny textarea[name=reason]", "orders is live: write a migration instead")
    page.click("button.button-deny")
    page.wait_for_url("**?done=denied")
    assert page.locator(".grants .status").inner_text().lower() == "denied"
    shot(page, "5-denied")
    waiter.join(timeout=15)
    assert waiter.answer["status"] == "denied"
    assert waiter.answer["reason"] == "orders is live: write a migration instead"

    # Recent decisions and the audit log, verified.
    page.goto(f"{server.base}/console/")
    recent = page.locator("table").inner_text()
    assert "DENIED" in recent.upper() and "orders is live" in recent
    shot(page, "6-index-after")
    page.goto(f"{server.base}/console/audit")
    assert page.locator(".audit-row .kind", has_text="approval_given").count() == 1
    page.click("button:has-text('Verify the whole chain now')")
    page.wait_for_url(f"{server.base}/console/audit")
    assert "The chain verified" in page.inner_text(".flash-ok")
    shot(page, "7-audit")

    assert problems == []  # no script errors, nothing blocked by the page's own CSP
    context.close()
