"""The runbook in the console: behind the sign-in, escaped, generated from the state."""

from __future__ import annotations

from dataclasses import replace

from tests.approvals.test_console import World, login, world  # noqa: F401  (the fixture)


def test_console_shows_runbooks_to_signed_in_approvers_only(world: World) -> None:  # noqa: F811
    assert world.client.get("/console/runbooks/prod-db").headers["location"].startswith(
        "/console/login")
    login(world.client, world.alice)
    listing = world.client.get("/console/runbooks")
    assert listing.status_code == 200
    assert 'href="/console/runbooks/prod-db"' in listing.text
    page = world.client.get("/console/runbooks/prod-db")
    assert page.status_code == 200, page.text
    assert "Recovery runbook: prod-db" in page.text
    assert "the vault is switched off" in page.text  # this project has none, and it says so
    assert "Enrolled approvers: alice, bob." in page.text
    assert world.client.get("/console/runbooks/nope").status_code == 404


def test_console_runbook_escapes_what_the_configuration_says(world: World) -> None:  # noqa: F811
    login(world.client, world.alice)
    # the runbook is built from the runtime's configuration, read when the page is opened
    res = world.runtime.config.resources["prod-db"]
    hostile = replace(res, description='<img src=x onerror="alert(1)">')
    world.runtime.config = replace(world.runtime.config, resources={
        **world.runtime.config.resources, "prod-db": hostile})
    page = world.client.get("/console/runbooks/prod-db").text
    assert "<img src=x" not in page and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
