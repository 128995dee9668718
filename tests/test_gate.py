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
    Scope,
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


def test_an_approval_binds_to_the_content_of_the_scripts_it_judged() -> None:
    """What was judged is what runs: a script edited after its approval is a new action."""
    from airlock.classify import KindDispatch
    from airlock.classify.shell.files import MemoryReader

    scripts = MemoryReader({"/app/deploy.sh": "git push --force origin main\n"})
    t = Twins(classifier=KindDispatch(scripts=scripts))
    here = ActionContext(cwd="/app", environment="development")
    held = t.gate.submit(action("bash deploy.sh", context=here), caller())
    assert held.status is Status.HELD and held.approval_id
    assert dict(held.assessment.inputs)["/app/deploy.sh"].startswith("sha256:")
    decide(t.store, held.approval_id, ALICE, approve=True)

    scripts.files["/app/deploy.sh"] = b"rm -rf /srv/data\n"  # edited after the approval
    edited = t.gate.submit(action("bash deploy.sh", context=here), caller())
    assert edited.status is Status.HELD and edited.approval_id != held.approval_id
    assert t.executed == []

    scripts.files["/app/deploy.sh"] = b"git push --force origin main\n"  # as approved
    assert t.gate.submit(action("bash deploy.sh", context=here), caller()).status is \
        Status.EXECUTED
    assert len(t.executed) == 1


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


# ---- several actions as one, and waiting for approvals (what every front shares) ----------


class ByText:
    """Classifies each shell command by its text (a batch needs parts that differ)."""

    def __init__(self, effects: Mapping[str, Any]) -> None:
        self.effects = effects

    def classify(self, a: Action) -> Assessment:
        return assessment(self.effects[a.content()["command"]])


def batch_twins() -> Twins:
    return Twins(classifier=ByText({"look": effect(Risk.READ, STAGING_DB),
                                    "drop a": effect(Risk.DESTRUCTIVE, STAGING_DB),
                                    "drop b": effect(Risk.DESTRUCTIVE, Target("table", "b")),
                                    "drop prod": effect(Risk.DESTRUCTIVE, PROD_DB)}))


def test_a_batch_runs_whole_once_every_hold_in_it_is_approved() -> None:
    t = batch_twins()
    first = t.gate.submit_all([action("look"), action("drop a")], caller())
    assert [(a.content()["command"], o.status) for a, o in first] == [("drop a", Status.HELD)]
    assert t.executed == []  # the harmless part waits for the rest
    approval_id = first[0][1].approval_id
    assert approval_id
    decide(t.store, approval_id, ALICE, approve=True)
    second = t.gate.submit_all([action("look"), action("drop a")], caller())
    assert [o.status for _, o in second] == [Status.EXECUTED, Status.EXECUTED]
    assert [a.content()["command"] for a in t.executed] == ["look", "drop a"]


def test_a_batch_spends_no_approval_while_another_part_still_waits() -> None:
    t = batch_twins()
    held = {a.content()["command"]: o.approval_id
            for a, o in t.gate.submit_all([action("drop a"), action("drop b")], caller())}
    assert held["drop a"] and held["drop b"]
    decide(t.store, held["drop a"], ALICE, approve=True)
    again = t.gate.submit_all([action("drop a"), action("drop b")], caller())
    assert [(a.content()["command"], o.status) for a, o in again] == [("drop b", Status.HELD)]
    granted = t.store.get_approval(held["drop a"])
    assert granted is not None and granted.status is ApprovalStatus.APPROVED  # not spent
    assert t.executed == []


def test_a_batch_with_a_denied_part_submits_only_that_part() -> None:
    t = batch_twins()
    staging_only = caller("staging-agent", PrincipalKind.AGENT,
                          Scope(environments=("staging",)))
    submitted = t.gate.submit_all([action("look", principal="staging-agent"),
                                   action("drop prod", principal="staging-agent")], staging_only)
    assert [(a.content()["command"], o.status) for a, o in submitted] == [
        ("drop prod", Status.DENIED)]
    assert t.executed == [] and t.store.list_approvals() == []


def test_wait_returns_once_a_human_decides_and_otherwise_at_the_deadline() -> None:
    t = twins_for(effect(Risk.DESTRUCTIVE, STAGING_DB))
    held = t.gate.submit(action("drop it"), caller())
    assert held.approval_id
    approval_id = held.approval_id
    clock = [0.0]

    def tick(seconds: float) -> None:
        clock[0] += seconds

    pending = t.gate.wait([approval_id], 2, sleep=tick, monotonic=lambda: clock[0])
    assert not pending.settled and pending.statuses == (ApprovalStatus.PENDING,)
    assert clock[0] == 2

    def approve_at_one_second(seconds: float) -> None:
        tick(seconds)
        record = t.store.get_approval(approval_id)
        if clock[0] >= 1 and record is not None and record.status is ApprovalStatus.PENDING:
            decide(t.store, approval_id, ALICE, approve=True)

    clock[0] = 0.0
    approved = t.gate.wait([approval_id], 30, sleep=approve_at_one_second,
                           monotonic=lambda: clock[0])
    assert approved.approved and approved.settled and 1 <= clock[0] < 1.5


def test_wait_ends_at_a_denial_and_never_shows_another_callers_approval() -> None:
    t = twins_for(effect(Risk.DESTRUCTIVE, STAGING_DB))
    mine = t.gate.submit(action("drop it"), caller()).approval_id
    assert mine
    decide(t.store, mine, ALICE, approve=False, reason="not on a Friday")
    denied = t.gate.wait([mine], 30, sleep=lambda _: pytest.fail("a decided approval waits"))
    assert denied.denied is not None and denied.denied.reason == "not on a Friday"
    other = t.gate.wait([mine], 30, principal="someone-else",
                        sleep=lambda _: pytest.fail("another caller's approval waits"))
    assert other.approvals == (None,) and other.statuses == (ApprovalStatus.EXPIRED,)


def test_wait_async_ends_when_the_waiter_leaves() -> None:
    import asyncio

    t = twins_for(effect(Risk.DESTRUCTIVE, STAGING_DB))
    held = t.gate.submit(action("drop it"), caller()).approval_id
    assert held

    async def gone() -> bool:
        return True

    waited = asyncio.run(t.gate.wait_async([held], 60, gone=gone))
    assert waited.statuses == (ApprovalStatus.PENDING,)


def test_a_submission_uses_the_fronts_evaluation_of_that_very_action_only() -> None:
    calls: list[str] = []
    fixed = FixedClassifier(assessment(effect(Risk.READ)))

    class Counting:
        def classify(self, a: Any) -> Any:
            calls.append(a.id)
            return fixed.classify(a)

    t = Twins(classifier=Counting())
    who, first, second = caller(), action("SELECT 1"), action("SELECT 2")
    looked = t.gate.evaluate(first, who)
    assert t.gate.submit(first, who, looked).status is Status.EXECUTED
    assert calls == [first.id]  # judged once
    # Another action's evaluation, or the same action for another caller, is not used
    t.gate.submit(second, who, looked)
    t.gate.submit(first, caller(token_id="tok_other"), looked)
    assert calls == [first.id, second.id, first.id]
