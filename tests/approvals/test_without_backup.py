"""Approving what no backup can protect is an explicit act, and the outcome never claims a
backup that was not taken: the binding rule in `decide`, the gate's use of an approval when the
plan changed under it, and the words the outcome and the audit log keep."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from airlock.approvals import decide
from airlock.classify import FixedClassifier
from airlock.errors import ApprovalError
from airlock.model import Action, Assessment, Principal, PrincipalKind, ResolvedTarget, Risk, Status
from airlock.safety import ProtectionStep, RecordingSafetyNet, SafetyPlan, destroyed_targets
from airlock.store import ApprovalStatus
from tests.factories import Twins, action, assessment, caller, effect, make_config
from tests.test_gate import STAGING_DB

ALICE = Principal("alice", PrincipalKind.HUMAN)
BOB = Principal("bob", PrincipalKind.HUMAN)


class SwitchableNet(RecordingSafetyNet):
    """Plans a backup while `possible`, and none (with the reason) once it is not: a vault that
    became co-located, a resource whose credentials went away."""

    possible: bool = True

    def plan(self, action: Action, assessment: Assessment,
             targets: Sequence[ResolvedTarget]) -> SafetyPlan:
        keys = destroyed_targets(assessment)
        if self.possible:
            return SafetyPlan(tuple(ProtectionStep(k, None, "test-snapshot") for k in keys))
        return SafetyPlan((), tuple((k, "the vault shares a disk with it") for k in keys))


def _twins(net: RecordingSafetyNet | None = None, two: bool = False) -> Twins:
    config = make_config("""
        [[policy.rules]]
        name = "two"
        risk = ["destructive"]
        verdict = "hold"
        approvals = 2
        snapshot = true
        """) if two else None
    return Twins(config=config, classifier=FixedClassifier(assessment(
        effect(Risk.DESTRUCTIVE, STAGING_DB))), safety_net=net or SwitchableNet())


def test_decide_refuses_an_approval_that_does_not_accept_the_missing_backup() -> None:
    net = SwitchableNet()
    net.possible = False
    t = _twins(net)
    held = t.gate.submit(action("drop it"), caller())
    assert held.approval_id
    with pytest.raises(ApprovalError, match="without a backup of what it destroys") as error:
        decide(t.store, held.approval_id, ALICE, approve=True, audit=t.audit)
    assert "--without-backup" in str(error.value)
    assert t.audit.records[-1].kind == "approval_refused"
    assert t.audit.records[-1].data["why"] == "backup_not_accepted"
    record = decide(t.store, held.approval_id, ALICE, approve=True, without_backup=True,
                    audit=t.audit)
    assert record.status is ApprovalStatus.APPROVED and record.grants[0].without_backup
    assert t.audit.records[-1].data["without_backup"] is True
    ran = t.gate.submit(action("drop it"), caller())
    assert ran.status is Status.EXECUTED and ran.snapshots == ()
    assert ran.reason == (f"approved ({held.approval_id}); ran without a backup of "
                          f"{STAGING_DB.key} (accepted by alice)")
    assert t.audit.records[-1].data["backup"].startswith("ran without a backup")


def test_a_denial_needs_no_acceptance() -> None:
    net = SwitchableNet()
    net.possible = False
    t = _twins(net)
    held = t.gate.submit(action("drop it"), caller())
    assert held.approval_id
    denied = decide(t.store, held.approval_id, ALICE, approve=False, reason="no")
    assert denied.status is ApprovalStatus.DENIED and not denied.grants[0].without_backup


def test_a_protected_action_never_records_an_acceptance_and_says_verified() -> None:
    t = _twins()
    held = t.gate.submit(action("drop it"), caller())
    assert held.approval_id
    record = decide(t.store, held.approval_id, ALICE, approve=True, without_backup=True)
    assert not record.grants[0].without_backup  # nothing to accept: a backup is planned
    ran = t.gate.submit(action("drop it"), caller())
    assert ran.status is Status.EXECUTED and len(ran.snapshots) == 1
    assert "without a backup" not in ran.reason
    assert t.audit.records[-1].data["backup"] == "verified backup taken first"


def test_an_approval_given_for_a_backup_is_not_used_when_none_can_be_taken() -> None:
    """Approved while the backup was possible; by the retry it is not (the vault moved onto the
    data's disk). The approval is not spent and the action does not run: a human is asked
    again, and only an approval that accepts running without a backup lets it through."""
    net = SwitchableNet()
    t = _twins(net)
    held = t.gate.submit(action("drop it"), caller())
    assert held.approval_id
    decide(t.store, held.approval_id, ALICE, approve=True)
    net.possible = False
    retry = t.gate.submit(action("drop it"), caller())
    assert retry.status is Status.HELD and t.executed == []
    assert retry.approval_id and retry.approval_id != held.approval_id
    assert f"approval {held.approval_id} expected a backup" in retry.reason
    first = t.store.get_approval(held.approval_id)
    assert first is not None and first.status is ApprovalStatus.APPROVED  # not spent
    assert "approval_not_used" in t.kinds()
    again = t.gate.submit(action("drop it"), caller())  # still the same request, not a pile
    assert again.approval_id == retry.approval_id
    decide(t.store, retry.approval_id, ALICE, approve=True, without_backup=True)
    ran = t.gate.submit(action("drop it"), caller())
    assert ran.status is Status.EXECUTED and ran.approval_id == retry.approval_id
    assert "ran without a backup" in ran.reason


def test_every_approver_of_a_two_person_hold_must_accept() -> None:
    net = SwitchableNet()
    net.possible = False
    t = _twins(net, two=True)
    held = t.gate.submit(action("drop it"), caller())
    assert held.approval_id
    decide(t.store, held.approval_id, ALICE, approve=True, without_backup=True)
    with pytest.raises(ApprovalError, match="without a backup"):
        decide(t.store, held.approval_id, BOB, approve=True)
    decide(t.store, held.approval_id, BOB, approve=True, without_backup=True)
    ran = t.gate.submit(action("drop it"), caller())
    assert ran.status is Status.EXECUTED and "accepted by alice, bob" in ran.reason
