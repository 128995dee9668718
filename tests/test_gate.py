"""The pipeline end to end over in-memory twins: each step, and failing closed at each step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airlock.approvals import decide
from airlock.audit import AuditRecord, verify_records
from airlock.classify import FixedClassifier
from airlock.model import (
    Action,
    ActionContext,
    Assessment,
    Principal,
    PrincipalKind,
    ResolvedTarget,
    Risk,
    Status,
    Target,
    Verdict,
)
from airlock.safety import RecordingSafetyNet
from airlock.store import ApprovalStatus
from tests.factories import Twins, action, assessment, caller, effect

STAGING_DB = Target("postgres", "db.staging.internal:5432/app")
PROD_DB = Target("postgres", "db.prod.internal:5432/app")
ALICE = Principal("alice", PrincipalKind.HUMAN)
BOB = Principal("bob", PrincipalKind.HUMAN)


def twins_for(*effects: Any, **kwargs: Any) -> Twins:
    return Twins(classifier=FixedClassifier(assessment(*effects)), **kwargs)


def test_read_is_executed_and_every_step_recorded() -> None:
    t = twins_for(effect(Risk.READ, PROD_DB))
    outcome = t.gate.submit(action("select"), caller())
    assert outcome.status is Status.EXECUTED and outcome.verdict is Verdict.ALLOW
    assert len(t.executed) == 1
    assert t.kinds() == ["action", "decision", "outcome"]
    assert verify_records(t.audit.records, t.audit.key).ok


def test_hold_creates_one_pending_approval_and_does_not_execute() -> None:
    t = twins_for(effect(Risk.DESTRUCTIVE, STAGING_DB))
    first = t.gate.submit(action("drop it"), caller())
    again = t.gate.submit(action("drop it"), caller())
    assert first.status is Status.HELD and first.approval_id
    assert again.approval_id == first.approval_id  # the same action does not pile up approvals
    assert t.executed == []
    approval = t.store.get_approval(first.approval_id)
    assert approval is not None and approval.status is ApprovalStatus.PENDING
    assert approval.details["safety_plan"]["steps"][0]["target"] == STAGING_DB.key
    assert "held" in t.kinds()


def test_approved_action_passes_exactly_once_then_holds_again() -> None:
    t = twins_for(effect(Risk.DESTRUCTIVE, STAGING_DB))
    held = t.gate.submit(action("drop it"), caller())
    assert held.approval_id
    decide(t.store, held.approval_id, ALICE, approve=True)
    passed = t.gate.submit(action("drop it"), caller())
    assert passed.status is Status.EXECUTED and passed.approval_id == held.approval_id
    assert len(passed.snapshots) == 1 and len(t.executed) == 1
    assert isinstance(t.safety, RecordingSafetyNet) and len(t.safety.protected) == 1
    assert "approval_used" in t.kinds() and "snapshot" in t.kinds()
    again = t.gate.submit(action("drop it"), caller())
    assert again.status is Status.HELD and again.approval_id != held.approval_id
    assert len(t.executed) == 1


def test_approval_is_bound_to_the_exact_action() -> None:
    t = twins_for(effect(Risk.DESTRUCTIVE, STAGING_DB))
    held = t.gate.submit(action("drop it"), caller())
    assert held.approval_id
    decide(t.store, held.approval_id, ALICE, approve=True)
    for other in (action("drop it "),  # different text
                  action("drop it", principal="other-agent"),
                  action("drop it", context=ActionContext(cwd="/elsewhere"))):
        assert t.gate.submit(other, caller(other.principal)).status is Status.HELD
    assert t.executed == []
    assert t.gate.submit(action("drop it"), caller()).status is Status.EXECUTED


def test_catastrophic_in_production_needs_two_distinct_humans() -> None:
    t = twins_for(effect(Risk.CATASTROPHIC, PROD_DB))
    held = t.gate.submit(action("drop database"), caller())
    assert held.approval_id
    decide(t.store, held.approval_id, ALICE, approve=True)
    assert t.gate.submit(action("drop database"), caller()).status is Status.HELD
    from airlock.errors import ApprovalError

    with pytest.raises(ApprovalError, match="already decided"):
        decide(t.store, held.approval_id, ALICE, approve=True)
    decide(t.store, held.approval_id, BOB, approve=True)
    assert t.gate.submit(action("drop database"), caller()).status is Status.EXECUTED


def test_agents_and_requesters_cannot_approve() -> None:
    from airlock.errors import ApprovalError

    t = twins_for(effect(Risk.DESTRUCTIVE, STAGING_DB))
    held = t.gate.submit(action("drop it"), caller())
    assert held.approval_id
    with pytest.raises(ApprovalError, match="only humans"):
        decide(t.store, held.approval_id, Principal("robot", PrincipalKind.AGENT), approve=True)
    with pytest.raises(ApprovalError, match="cannot approve"):
        decide(t.store, held.approval_id, Principal("agent", PrincipalKind.HUMAN), approve=True)


def test_expired_approval_cannot_be_used() -> None:
    now = [datetime(2026, 11, 26, 12, 0, tzinfo=UTC)]
    t = twins_for(effect(Risk.DESTRUCTIVE, STAGING_DB), clock=lambda: now[0])
    held = t.gate.submit(action("drop it"), caller())
    assert held.approval_id
    decide(t.store, held.approval_id, ALICE, approve=True, now=now[0])
    now[0] += timedelta(minutes=16)
    assert t.gate.submit(action("drop it"), caller()).status is Status.HELD
    assert t.executed == []


def test_denied_approval_keeps_it_held() -> None:
    t = twins_for(effect(Risk.DESTRUCTIVE, STAGING_DB))
    held = t.gate.submit(action("drop it"), caller())
    assert held.approval_id
    decide(t.store, held.approval_id, ALICE, approve=False, reason="not today")
    assert t.gate.submit(action("drop it"), caller()).status is Status.HELD
    assert t.executed == []


def test_failed_backup_means_the_action_does_not_run() -> None:
    t = twins_for(effect(Risk.DESTRUCTIVE, STAGING_DB),
                  safety_net=RecordingSafetyNet(fail_with="disk full"))
    held = t.gate.submit(action("drop it"), caller())
    assert held.approval_id
    decide(t.store, held.approval_id, ALICE, approve=True)
    outcome = t.gate.submit(action("drop it"), caller())
    assert outcome.status is Status.HELD and "disk full" in outcome.reason
    assert t.executed == []
    assert "snapshot_failed" in t.kinds()
    # the approval is not spent by a failed backup
    approval = t.store.get_approval(held.approval_id)
    assert approval is not None and approval.status is ApprovalStatus.APPROVED


def test_scope_denial_is_final_and_recorded() -> None:
    from airlock.model import Scope

    t = twins_for(effect(Risk.READ, PROD_DB))
    outcome = t.gate.submit(action(), caller("staging-agent", PrincipalKind.AGENT,
                                             Scope(environments=("staging",))))
    assert outcome.status is Status.DENIED and outcome.decision.rule == "scope"
    assert "production" in outcome.reason
    assert t.executed == []


# ---- failing closed at every step -----------------------------------------------------------

class Exploding:
    def __init__(self, message: str = "boom") -> None:
        self.message = message

    def classify(self, action: Action) -> Assessment:
        raise RuntimeError(self.message)

    def resolve(self, targets: Sequence[Target], context: ActionContext) -> tuple[ResolvedTarget, ...]:
        raise RuntimeError(self.message)

    def decide(self, *args: object) -> object:
        raise RuntimeError(self.message)


def test_classifier_crash_becomes_unknown_and_is_held() -> None:
    t = Twins(classifier=Exploding())
    outcome = t.gate.submit(action("anything"), caller())
    assert outcome.status is Status.HELD and outcome.assessment.risk is Risk.UNKNOWN
    assert t.executed == [] and "error" in t.kinds()


def test_resolver_crash_treats_targets_as_production() -> None:
    t = twins_for(effect(Risk.WRITE, STAGING_DB))
    t.judge.resolver = Exploding()
    outcome = t.gate.submit(action("update"), caller())
    assert outcome.status is Status.HELD  # a write in production
    assert outcome.targets[0].environments == ("(unknown)",)


def test_policy_crash_holds() -> None:
    t = twins_for(effect(Risk.READ, STAGING_DB))
    t.judge.policy = Exploding()  # type: ignore[assignment]
    outcome = t.gate.submit(action("select"), caller())
    assert outcome.status is Status.HELD and outcome.decision.rule == "error:policy"
    assert t.executed == []


def test_audit_failure_denies_everything() -> None:
    t = twins_for(effect(Risk.READ, STAGING_DB))

    def broken(kind: str, action_id: str | None, data: Mapping[str, Any]) -> AuditRecord:
        raise OSError("disk gone")

    t.gate.audit.record = broken  # type: ignore[method-assign]
    outcome = t.gate.submit(action("select"), caller())
    assert outcome.status is Status.DENIED and "disk gone" in outcome.reason
    assert t.executed == []


def test_execution_failure_is_reported_not_hidden() -> None:
    def fail(a: Action) -> Mapping[str, Any]:
        raise RuntimeError("connection reset")

    t = twins_for(effect(Risk.READ, STAGING_DB), execute=fail)
    outcome = t.gate.submit(action("select"), caller())
    assert outcome.status is Status.FAILED and "connection reset" in outcome.reason
    assert "execution_failed" in t.kinds()


def test_incomplete_assessment_is_never_allowed() -> None:
    t = Twins(classifier=FixedClassifier(assessment(effect(Risk.READ), complete=False)))
    outcome = t.gate.submit(action("ls $(cmd)"), caller())
    assert outcome.status is Status.HELD and outcome.assessment.risk is Risk.UNKNOWN


def test_audit_records_hide_credentials() -> None:
    t = twins_for(effect(Risk.READ, STAGING_DB))
    t.gate.submit(action("PGPASSWORD=hunter2 psql postgresql://app:s3cret@db/app -c 'select 1'"),
                  caller())
    text = repr([r.data for r in t.audit.records])
    assert "hunter2" not in text and "s3cret" not in text
