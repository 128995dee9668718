"""The blast radius: what else dies with a target, walked transitively over the configuration's
edges (stored_on, attached_to, backs_up), and shown wherever a hold is explained."""

from __future__ import annotations

import json
from pathlib import Path

from airlock.classify import FixedClassifier
from airlock.fronts.hooks.messages import Judged, held
from airlock.inventory import Inventory, describe_blast
from airlock.model import ActionContext, Risk, Status, Target
from airlock.notify import hold_event, slack_payload
from airlock.store import ApprovalStatus
from tests.cli import airlock
from tests.factories import Twins, action, assessment, caller, effect, make_config
from tests.inventory.scenario import RAILWAY_API_TOML, SHARED_VOLUME_TOML, VOLUME_DELETE

VOLUME = Target("railway:volume", "vol-shared")


def shared() -> Inventory:
    return Inventory.from_config(make_config(base=SHARED_VOLUME_TOML))


def test_deleting_the_shared_volume_reaches_both_databases_and_the_backups() -> None:
    [placed] = shared().resolve([VOLUME], ActionContext())
    assert placed.resource == "shared-volume"
    assert set(placed.blast_radius) == {"shared-volume", "prod-db", "staging-db",
                                        "volume-backups", "web"}
    assert "offsite" not in placed.blast_radius  # backs prod-db up, but lives elsewhere
    assert set(placed.environments) == {"staging", "production"}
    fates = {c.resource: (c.fate, c.via) for c in placed.casualties}
    assert fates == {"shared-volume": ("destroyed", None),
                     "prod-db": ("destroyed", "shared-volume"),
                     "staging-db": ("destroyed", "shared-volume"),
                     "volume-backups": ("destroyed", "shared-volume"),
                     "web": ("damaged", "shared-volume")}
    assert placed.blast_radius == tuple(c.resource for c in placed.casualties)
    assert placed.to_json()["casualties"][1]["why"].startswith(("stored on", "attached to"))


def test_the_walk_is_transitive_and_each_resource_appears_once() -> None:
    extra = """
    [resources.cache]
    kind = "other"
    environment = "production"
    match = ["railway:service:svc-cache"]
    stored_on = ["web"]
    """
    inventory = Inventory.from_config(make_config(extra, base=SHARED_VOLUME_TOML))
    radius = inventory.blast_radius("shared-volume")
    assert radius.index("cache") > radius.index("web")  # reached through the attached service
    assert len(radius) == len(set(radius))
    why = {c.resource: c.why for c in inventory.casualties("shared-volume")}
    assert why["cache"] == "stored on web"
    # losing the offsite bucket loses production's backups: production is reached
    offsite = inventory.casualties("offsite")
    assert [(c.resource, c.fate) for c in offsite][:2] == [("offsite", "destroyed"),
                                                           ("prod-db", "loses backups")]


def test_attached_to_is_one_way() -> None:
    """A service attached to a volume is damaged by the volume's loss; deleting the service
    does not destroy the volume."""
    assert shared().blast_radius("web") == ["web"]


def test_describe_blast_names_what_else_is_reached() -> None:
    targets = shared().resolve([VOLUME], ActionContext())
    text = describe_blast(targets)
    assert "prod-db (production, stored on shared-volume)" in text
    assert "volume-backups (staging, stored on shared-volume)" in text
    assert "web (production, attached to shared-volume, which is lost)" in text
    assert "shared-volume (" not in text  # the target itself is not "something else"
    assert describe_blast(targets, limit=2).endswith("and 2 more")
    assert describe_blast(shared().resolve([Target("path", "/tmp/x")], ActionContext())) == ""


def test_hold_message_and_webhook_carry_the_blast_radius() -> None:
    config = make_config(base=SHARED_VOLUME_TOML)
    twins = Twins(config=config, classifier=FixedClassifier(assessment(
        effect(Risk.CATASTROPHIC, VOLUME))))
    outcome = twins.gate.submit(action("railway volume delete vol-shared"), caller())
    assert outcome.status is Status.HELD and outcome.approval_id
    approval = twins.store.get_approval(outcome.approval_id)
    assert approval is not None and approval.status is ApprovalStatus.PENDING
    message = held([Judged(action(), outcome, approval)], approver_note=None)
    assert "what else it reaches: " in message and "prod-db (production" in message
    assert "staging-db (staging" in message and "volume-backups" in message

    event = hold_event(approval, config)
    reached = {c["resource"]: c for c in event["blast_radius"]}
    assert set(reached) == {"prod-db", "staging-db", "volume-backups", "web"}
    assert reached["volume-backups"]["fate"] == "destroyed"
    slack = json.dumps(slack_payload(event, "https://airlock.example"))
    assert "also reaches: " in slack and "prod-db (production, destroyed)" in slack


def test_check_shows_the_blast_radius(tmp_path: Path) -> None:
    (tmp_path / "airlock.toml").write_text(SHARED_VOLUME_TOML + RAILWAY_API_TOML)
    env = {"AIRLOCK_TEST_RAILWAY_TOKEN": "not-a-real-token"}
    args = ("check", "-k", "http", "POST https://backboard.railway.app/graphql/v2",
            "-d", VOLUME_DELETE)
    shown = airlock(*args, cwd=tmp_path, env=env)
    assert shown.returncode in (3, 4), shown.stdout + shown.stderr  # never an allow
    for line in ("destroyed: prod-db (production, postgres) — stored on shared-volume",
                 "destroyed: staging-db (staging, postgres) — stored on shared-volume",
                 "destroyed: volume-backups (staging, path) — stored on shared-volume",
                 "damaged: web (production, service) — attached to shared-volume"):
        assert line in shown.stdout, shown.stdout
    as_json = airlock(*args, "--json", cwd=tmp_path, env=env)
    [volume] = [t for t in json.loads(as_json.stdout)["targets"]
                if t["target"] == "railway:volume:vol-shared"]
    assert volume["blast_radius"] == [c["resource"] for c in volume["casualties"]]
    assert {c["resource"] for c in volume["casualties"]} == {
        "shared-volume", "prod-db", "staging-db", "volume-backups", "web"}

