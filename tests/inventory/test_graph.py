"""The resource graph drawn on the server (SVG): layered so hosts sit above what lives on them,
well-formed, and — in a real browser, on the hold page of a volume deletion — the blast radius
highlighted under the console's CSP."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest

from airlock.approvers import enrol
from airlock.console import mount_console
from airlock.fronts.api import create_app
from airlock.inventory import Inventory
from airlock.inventory.svg import graph_svg
from airlock.runtime import Runtime
from airlock.tokens import issue_token
from tests.approvals.helpers import ServedApp, authenticator
from tests.conftest import REPO
from tests.factories import make_config
from tests.inventory.scenario import RAILWAY_API_TOML, SHARED_VOLUME_TOML, VOLUME_DELETE

SVG = "{http://www.w3.org/2000/svg}"
ARTIFACTS = REPO / "tests" / "artifacts"


def _boxes(svg: str) -> dict[str, tuple[float, float, str]]:
    root = ET.fromstring(svg)  # noqa: S314  (our own output; well-formed, or this raises)
    found = {}
    for group in root.iter(f"{SVG}g"):
        if "node" in group.get("class", "").split():
            rect = group.find(f"{SVG}rect")
            assert rect is not None
            found[group.get("data-resource", "")] = (float(rect.get("x", 0)),
                                                     float(rect.get("y", 0)),
                                                     group.get("class", ""))
    return found


def test_hosts_sit_above_what_lives_on_them_and_the_blast_radius_is_red() -> None:
    config = make_config(base=SHARED_VOLUME_TOML)
    inventory = Inventory.from_config(config)
    blast = inventory.blast_radius("shared-volume")
    svg = graph_svg(config.resources.values(), highlight=blast, targets={"shared-volume"},
                    production={"production"})
    boxes = _boxes(svg)
    assert set(boxes) == set(config.resources)
    for lives_on_it in ("prod-db", "staging-db", "volume-backups", "web"):
        assert boxes[lives_on_it][1] > boxes["shared-volume"][1], lives_on_it
    assert {name for name, (_, _, cls) in boxes.items() if "blast" in cls} == set(blast)
    assert "target" in boxes["shared-volume"][2] and "offsite" not in blast
    assert 'data-edge="web attached_to shared-volume"' in svg
    assert 'data-edge="offsite backs_up prod-db"' in svg and 'stroke-dasharray' in svg
    assert "<script" not in svg and "style=" not in svg  # the console's CSP allows neither


def test_a_cycle_in_the_edges_still_draws() -> None:
    config = make_config("""
    [resources.a]
    kind = "volume"
    environment = "staging"
    stored_on = ["b"]
    [resources.b]
    kind = "volume"
    environment = "staging"
    stored_on = ["a"]
    """, base=SHARED_VOLUME_TOML)
    assert {"a", "b"} <= set(_boxes(graph_svg(config.resources.values())))


# ---- in the console, in a real browser -------------------------------------------------------

PROJECT = SHARED_VOLUME_TOML + RAILWAY_API_TOML + """
[principals.bob]
kind = "human"

[vault]
enabled = false
"""


def test_the_hold_page_highlights_the_blast_radius_in_a_real_browser(
        browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRLOCK_TEST_RAILWAY_TOKEN", "not-a-real-token")
    (tmp_path / "airlock.toml").write_text(PROJECT)
    from airlock.config import load_config

    runtime = Runtime(load_config(tmp_path / "airlock.toml"))
    alice = authenticator(enrol(runtime.store, runtime.config, runtime.approvals_key, "alice"))
    token = issue_token(runtime.store, runtime.config, principal="agent",
                        environments=["*"]).token
    app = create_app(runtime)
    mount_console(app, runtime)
    try:
        with ServedApp(app) as served:
            held = httpx.post(f"{served.base}/v1/actions", timeout=30,
                              headers={"Authorization": f"Bearer {token}"},
                              json={"kind": "http", "input": {
                                  "method": "POST",
                                  "url": "https://backboard.railway.app/graphql/v2",
                                  "headers": {"Content-Type": "application/json"},
                                  "body": VOLUME_DELETE}}).json()
            assert held["verdict"] == "hold", held
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{served.base}/console/login?next=/console/approvals/"
                      f"{held['approval_id']}")
            page.fill("input[name=name]", "alice")
            page.fill("input[name=credential]", alice.credential)
            page.fill("input[name=code]", alice.code())
            page.click("button:has-text('Sign in')")
            page.wait_for_url(f"**/console/approvals/{held['approval_id']}")

            graph = page.locator("figure.blast-graph svg.resource-graph")
            graph.wait_for()
            box = graph.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100  # drawn
            hit = page.locator("figure.blast-graph g.node.blast")
            assert sorted(hit.evaluate_all("els => els.map(e => e.dataset.resource)")) == [
                "prod-db", "shared-volume", "staging-db", "volume-backups", "web"]
            red = page.locator("figure.blast-graph g.node.blast rect").first.evaluate(
                "e => getComputedStyle(e).stroke")
            assert red == "rgb(198, 40, 40)"
            target = page.locator("figure.blast-graph g.node.target")
            assert target.evaluate_all("els => els.map(e => e.dataset.resource)") == [
                "shared-volume"]
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "inventory-hold-blast.png"), full_page=True)

            page.click("figure.blast-graph a:has-text('All resources')")
            page.wait_for_url("**/console/inventory")
            nodes = page.locator("svg.resource-graph g.node")
            assert nodes.count() == len(runtime.config.resources)
            assert page.locator("svg.resource-graph g.node.blast").count() == 0
            row = page.inner_text("#resource-shared-volume")
            assert "prod-db" in row and "destroyed: stored on shared-volume" in row
            page.screenshot(path=str(ARTIFACTS / "inventory-page.png"), full_page=True)
            assert problems == []  # nothing refused by the CSP, no script errors
    finally:
        runtime.close()
