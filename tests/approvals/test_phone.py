"""Every console page on a phone: at 390×844 (an iPhone 12-15 viewport) nothing may make the
page wider than the screen, with the long unbroken text agents send (a 300-character token-ish
word, a long SQL statement, a long URL). Screenshots go to tests/artifacts/phone-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airlock.approvers import check_is_human, enrol
from airlock.runtime import Runtime
from airlock.tokens import issue_token
from tests.approvals.helpers import Authenticator, ServedApp, authenticator, runtime_for, write_project
from tests.approvals.test_browser import ARTIFACTS
from tests.approvals.test_console import serve

WIDTH, HEIGHT = 390, 844
LONG_WORD = "x" * 300
LONG_SQL = ("DELETE FROM customer_orders_archive_2019 WHERE id IN (SELECT order_id FROM "
            "order_line_items_with_a_very_long_name WHERE created_at < '2019-01-01') AND "
            f"note = '{LONG_WORD}'")


class Phone:
    def __init__(self, runtime: Runtime, served: ServedApp, page: Any) -> None:
        self.runtime = runtime
        self.served = served
        self.page = page
        self.too_wide: list[str] = []  # every page is looked at before the test fails

    def visit(self, path: str, name: str) -> None:
        self.page.goto(self.served.base + path)
        self.page.wait_for_load_state("load")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"phone-{name}.png"), full_page=True)
        widths = self.page.evaluate(
            "() => [document.documentElement.scrollWidth, document.body.scrollWidth]")
        if max(widths) > WIDTH:
            overflowing = self.page.evaluate(
                """(width) => Array.from(document.querySelectorAll('body *'))
                    .filter(e => e.getBoundingClientRect().right > width + 0.5)
                    .map(e => e.tagName + '.' + e.className).slice(0, 6)""", WIDTH)
            self.too_wide.append(f"{path} is {max(widths)} px wide: {overflowing}")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Runtime, Authenticator, str]]:
    runtime = runtime_for(write_project(tmp_path))
    alice = authenticator(enrol(runtime.store, runtime.config, runtime.approvals_key, "alice"))
    token = issue_token(runtime.store, runtime.config, principal="agent",
                        environments=["*"]).token
    yield runtime, alice, token
    runtime.close()


def test_every_console_page_fits_a_phone(browser: Any,
                                         world: tuple[Runtime, Authenticator, str]) -> None:
    runtime, alice, token = world
    with serve(runtime) as served, httpx.Client(base_url=served.base) as agent:
        def submit(body: dict[str, Any]) -> dict[str, Any]:
            answer = agent.post("/v1/actions", json=body,
                                headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.text
            result: dict[str, Any] = answer.json()
            return result

        held = submit({"kind": "sql", "input": LONG_SQL, "resource": "prod-db"})
        assert held["verdict"] == "hold", held
        shell = submit({"kind": "shell", "input": f"rm -rf /srv/{LONG_WORD} && curl "
                        f"https://example.com/{LONG_WORD}"})
        denied = submit({"kind": "sql", "input": "DROP TABLE users", "resource": "prod-db"})
        for one in (shell, denied):
            assert one["verdict"] == "hold", one
        runtime.desk.decide(denied["approval_id"], check_is_human(runtime.config, "alice"),
                            approve=False, reason=f"no: {LONG_WORD}", via="test")

        context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT},
                                      device_scale_factor=2, is_mobile=True, has_touch=True)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        phone = Phone(runtime, served, page)

        phone.visit("/console/login", "1-login")
        page.fill("input[name=name]", "alice")
        page.fill("input[name=credential]", alice.credential)
        page.fill("input[name=code]", alice.code())
        page.click("button:has-text('Sign in')")
        page.wait_for_url(f"{served.base}/console/")

        phone.visit("/console/", "2-index")
        phone.visit(f"/console/approvals/{held['approval_id']}", "3-hold")
        phone.visit(f"/console/approvals/{shell['approval_id']}", "4-hold-shell")
        phone.visit(f"/console/approvals/{denied['approval_id']}", "5-denied")
        phone.visit("/console/audit", "6-audit")
        assert problems == []  # no script errors, nothing blocked by the CSP
        phone.visit("/console/approvals/apr_nothing", "7-not-found")  # (a 404: logs an error)
        assert phone.too_wide == [], "\n".join(phone.too_wide)
        context.close()
