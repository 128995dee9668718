"""The vault behind the gate, for fronts that do not run the action themselves (hooks, the API):
an approved cloud deletion is deferred — held for its grace period, listed, cancellable, carried
out only when due, once, never after a cancel — and an approved `rm -rf` of a configured folder
is archived before the hook may answer allow."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airlock.approvals import decide
from airlock.classify import FixedClassifier
from airlock.errors import InputError
from airlock.model import (
    Action,
    ActionContext,
    HttpRequest,
    Principal,
    PrincipalKind,
    Risk,
    Status,
    Target,
    Verb,
    utcnow,
)
from airlock.store import DeferredRecord, DeferredStatus, open_store
from airlock.vault import deferred
from airlock.vault.core import Vault
from airlock.vault.net import VaultNet
from tests.cli import airlock
from tests.factories import Twins, assessment, caller, effect, make_config

VOLUME = Target("railway:volume", "vol-shared")
DELETE_VOLUME = HttpRequest("POST", "https://backboard.railway.app/graphql/v2",
                            (("authorization", "Bearer alk_tok_x"),),
                            '{"query": "mutation { volumeDelete(volumeId: \\"vol-shared\\") }"}')


def no_vault() -> Vault:
    raise AssertionError("a deferral needs no vault")


@pytest.fixture
def twins() -> Twins:
    config = make_config("[vault]\ngrace = \"2h\"\n")
    t = Twins(config, classifier=FixedClassifier(assessment(
        effect(Risk.CATASTROPHIC, VOLUME, Verb.DESTROY, "volumeDelete destroys the volume"))))
    t.gate.safety_net = VaultNet(config=config, vault=no_vault, store=t.store)
    return t


def submit(twins: Twins) -> Any:
    action = Action(DELETE_VOLUME, "agent", "api", ActionContext())
    return twins.gate.submit(action, caller())


def approve_all(twins: Twins, approval_id: str) -> None:
    for who in ("alice", "bob"):
        record = twins.store.get_approval(approval_id)
        assert record is not None
        if record.status.value == "pending":
            decide(twins.store, approval_id, Principal(who, PrincipalKind.HUMAN), approve=True)


def test_an_approved_cloud_deletion_is_deferred_not_run(twins: Twins) -> None:
    first = submit(twins)
    assert first.status is Status.HELD and first.approval_id
    details = twins.store.get_approval(first.approval_id).details  # type: ignore[union-attr]
    step = details["safety_plan"]["steps"][0]
    assert step["method"] == "deferred-delete" and "2 hours" in step["detail"]
    approve_all(twins, first.approval_id)

    second = submit(twins)
    assert second.status is Status.HELD and "deferred" in second.reason
    assert twins.executed == []  # nothing went upstream
    [record] = twins.store.list_deferred()
    assert second.snapshots == (record.id,) and record.status is DeferredStatus.PENDING
    assert record.target == VOLUME.key and record.resource == "shared-volume"
    assert "alk_tok_x" not in json.dumps(record.content)  # credentials are never kept
    due = utcnow() + timedelta(hours=2)
    assert abs(datetime.fromisoformat(record.due_at) - due) < timedelta(minutes=1)
    # the approval is spent: the same call again asks again, it does not defer twice
    third = submit(twins)
    assert third.status is Status.HELD and third.approval_id != first.approval_id
    assert len(twins.store.list_deferred()) == 1
    assert "deferred" in twins.kinds()


def test_due_deferrals_run_once_and_cancelled_ones_never(twins: Twins) -> None:
    store = twins.store
    action = Action(DELETE_VOLUME, "agent", "api")
    early = deferred.defer(store, action, target=VOLUME.key, resource="v", grace=timedelta(hours=1))
    late = deferred.defer(store, action, target=VOLUME.key, resource="v", grace=timedelta(days=3))
    gone = deferred.defer(store, action, target=VOLUME.key, resource="v", grace=timedelta(hours=1))
    deferred.cancel(store, gone.id, "alice", "wrong volume")
    with pytest.raises(InputError, match="already cancelled"):
        deferred.cancel(store, gone.id, "bob")

    ran: list[DeferredRecord] = []

    def runner(record: DeferredRecord) -> dict[str, Any]:
        ran.append(record)
        return {"status": 200}

    assert deferred.run_due(store, {"http": runner}) == []  # nothing is due yet
    later = utcnow() + timedelta(hours=2)
    done = deferred.run_due(store, {"http": runner}, now=later)
    assert [r.id for r in done] == [early.id] and [r.id for r in ran] == [early.id]
    assert store.get_deferred(early.id).status is DeferredStatus.EXECUTED  # type: ignore[union-attr]
    assert deferred.run_due(store, {"http": runner}, now=later) == []  # only once
    assert store.get_deferred(gone.id).status is DeferredStatus.CANCELLED  # type: ignore[union-attr]
    assert store.get_deferred(late.id).status is DeferredStatus.PENDING  # type: ignore[union-attr]
    # without a runner for its kind a due deferral stays pending rather than being marked done
    assert deferred.run_due(store, {}, now=utcnow() + timedelta(days=4)) == []
    assert store.get_deferred(late.id).status is DeferredStatus.PENDING  # type: ignore[union-attr]


def test_deferred_and_cancel_on_the_command_line(tmp_path: Path) -> None:
    store = open_store(None, tmp_path / ".airlock")
    record = deferred.defer(store, Action(DELETE_VOLUME, "agent", "api"), target=VOLUME.key,
                            resource="railway", grace=timedelta(hours=48))
    store.close()
    listed = airlock("deferred", "--json", cwd=tmp_path)
    assert listed.returncode == 0 and json.loads(listed.stdout)[0]["id"] == record.id
    cancelled = airlock("cancel", record.id, "--reason", "keep it", "--by", "alice", cwd=tmp_path)
    assert cancelled.returncode == 0 and "will not run" in cancelled.stdout
    assert airlock("deferred", cwd=tmp_path).stdout.strip() == "nothing is deferred"
    shown = airlock("deferred", "--all", cwd=tmp_path).stdout
    assert "cancelled" in shown and "alice" in shown
    again = airlock("cancel", record.id, cwd=tmp_path)
    assert again.returncode == 2 and "already cancelled" in again.stderr
    missing = airlock("cancel", "def_nope", cwd=tmp_path)
    assert missing.returncode == 2 and "airlock deferred" in missing.stderr


def test_an_approved_rm_of_a_folder_is_archived_first_and_comes_back(tmp_path: Path,
                                                                     vault_dir: Path) -> None:
    import shutil

    from airlock.model import ShellCommand
    from airlock.vault.crypto import VaultKey
    from airlock.vault.restore import apply_restore, plan_restore, resolve_target
    from airlock.vault.stores.local import LocalStore

    data = tmp_path / "uploads"
    (data / "2026").mkdir(parents=True)
    (data / "2026" / "photo.jpg").write_bytes(b"\xff\xd8" + b"x" * 5000)
    config = make_config(f"""
[resources.uploads]
kind = "path"
environment = "production"
path = "{data}"
[vault]
path = "{vault_dir}"
""")
    twins = Twins(config, classifier=FixedClassifier(assessment(
        effect(Risk.DESTRUCTIVE, Target("path", str(data / "2026")), Verb.DESTROY, "rm -rf"))))
    vault = Vault(LocalStore(vault_dir), VaultKey.generate())
    twins.gate.safety_net = VaultNet(config=config, vault=lambda: vault, store=twins.store)
    action = Action(ShellCommand(f"rm -rf {data / '2026'}"), "agent", "hook",
                    ActionContext(cwd=str(tmp_path)))
    held = twins.gate.submit(action, caller())
    assert held.status is Status.HELD and held.approval_id
    step = twins.store.get_approval(held.approval_id).details["safety_plan"]["steps"][0]  # type: ignore[union-attr]
    assert step["method"] == "files-archive" and str(data / "2026") in step["detail"]
    approve_all(twins, held.approval_id)
    done = twins.gate.submit(Action(action.payload, "agent", "hook", action.context), caller())
    assert done.status is Status.EXECUTED and len(done.snapshots) == 1
    shutil.rmtree(data / "2026")  # what the agent's command then does
    manifest = vault.manifest(done.snapshots[0])
    plan = plan_restore(vault, manifest, resolve_target(manifest, None, config))
    assert plan.ok and not plan.overwrites
    apply_restore(vault, plan, force=False)
    assert (data / "2026" / "photo.jpg").read_bytes() == b"\xff\xd8" + b"x" * 5000
