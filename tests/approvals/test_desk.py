"""The approval desk over the real gate (in-memory twins): every way to approve, deny or be
refused, each checked against what reaches the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airlock.approvers import ApproverAuthError, code_at_step, current_step, enrol
from airlock.audit import AuditRecord, verify_records
from airlock.classify import FixedClassifier
from airlock.decisions import ApprovalDesk
from airlock.errors import ApprovalError, InputError
from airlock.model import Status, Target
from airlock.store import ApprovalStatus
from tests.factories import Twins, action, assessment, caller, effect, make_config

KEY = b"a" * 32
STAGING_DB = Target("postgres", "db.staging.internal:5432/app")
PROD_DB = Target("postgres", "db.prod.internal:5432/app")
T0 = datetime(2026, 11, 26, 12, 0, 5, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class World:
    """A gate and a desk sharing one store, audit log and clock; alice, bob and carol enrolled."""

    def __init__(self, risk: str = "destructive", target: Target = STAGING_DB) -> None:
        from airlock.model import Risk

        self.clock = Clock()
        config = make_config("""
[principals.carol]
kind = "human"
""")
        self.twins = Twins(config=config, clock=self.clock,
                           classifier=FixedClassifier(assessment(effect(Risk(risk), target))))
        self.desk = ApprovalDesk(store=self.twins.store, config=config, audit=self.twins.audit,
                                 approvals_key=KEY, clock=self.clock)
        self.people = {name: enrol(self.twins.store, config, KEY, name, now=T0)
                       for name in ("alice", "bob", "carol")}
        self.steps = {name: current_step(T0) - 1 for name in self.people}

    def credential(self, name: str) -> str:
        return self.people[name].credential

    def code(self, name: str) -> str:
        """The approver's next unused code (their authenticator, a step at a time)."""
        self.steps[name] += 1
        assert self.steps[name] <= current_step(self.clock.now) + 1, "test needs more time"
        return code_at_step(self.people[name].seed, self.steps[name])

    def hold(self, command: str = "drop it", principal: str = "agent") -> str:
        outcome = self.twins.gate.submit(action(command, principal=principal), caller(principal))
        assert outcome.status is Status.HELD and outcome.approval_id
        return outcome.approval_id

    def submit(self, command: str = "drop it", principal: str = "agent") -> Status:
        return self.twins.gate.submit(action(command, principal=principal),
                                      caller(principal)).status

    def records(self, kind: str) -> list[AuditRecord]:
        return [r for r in self.twins.audit.records if r.kind == kind]

    def refusals(self) -> list[str]:
        return [str(r.data["why"]) for r in self.records("approval_refused")]


def test_approval_with_credential_and_code_lets_the_action_pass_once() -> None:
    w = World()
    apr = w.hold()
    record = w.desk.decide_with_code(apr, w.credential("alice"), w.code("alice"), approve=True,
                                     reason="looks fine", via="cli")
    assert record.status is ApprovalStatus.APPROVED
    given = w.records("approval_given")
    assert len(given) == 1 and given[0].data["approver"] == "alice"
    assert given[0].data["via"] == "cli" and given[0].action_id == record.action_id
    assert w.submit() is Status.EXECUTED
    assert w.submit() is Status.HELD
    assert verify_records(w.twins.audit.records, w.twins.audit.key).ok


def test_agent_token_is_refused_and_recorded() -> None:
    w = World()
    apr = w.hold()
    token = "alk_tok_" + "1" * 26 + "_" + "s" * 43
    with pytest.raises(ApproverAuthError, match="agent token"):
        w.desk.decide_with_code(apr, token, w.code("alice"), approve=True, reason="", via="api")
    [refusal] = w.records("approval_refused")
    assert refusal.data["why"] == "agent_token" and refusal.data["token"] == "tok_" + "1" * 26
    assert refusal.data["approval_id"] == apr and refusal.action_id is not None
    assert "s" * 43 not in str(refusal.data)  # the secret never reaches the log
    # refused at another door too: the desk's explicit check for bearer tokens
    w.desk.refuse_agent_token(token, via="console", approval_id=apr)
    assert w.refusals() == ["agent_token", "agent_token"]
    assert w.twins.store.get_approval(apr).status is ApprovalStatus.PENDING  # type: ignore[union-attr]


def test_wrong_and_reused_codes_are_refused_and_recorded() -> None:
    w = World()
    first, second = w.hold("drop one"), w.hold("drop two")
    code = w.code("alice")
    wrong = next(c for c in ("000000", "111111") if c != code)
    with pytest.raises(ApproverAuthError, match="wrong TOTP code"):
        w.desk.decide_with_code(first, w.credential("alice"), wrong, approve=True, reason="",
                                via="cli")
    w.desk.decide_with_code(first, w.credential("alice"), code, approve=True, reason="",
                            via="cli")
    with pytest.raises(ApproverAuthError, match="already used"):
        # the same code, replayed against another held action
        w.desk.decide_with_code(second, w.credential("alice"), code, approve=True, reason="",
                                via="cli")
    assert w.refusals() == ["bad_code", "reused_code"]
    assert w.twins.store.get_approval(second).status is ApprovalStatus.PENDING  # type: ignore[union-attr]


def test_expired_approval_is_unusable_and_the_attempt_recorded() -> None:
    w = World()
    apr = w.hold()
    w.clock.now = T0 + timedelta(minutes=16)
    w.steps["alice"] = current_step(w.clock.now) - 1
    with pytest.raises(ApprovalError, match="expired"):
        w.desk.decide_with_code(apr, w.credential("alice"), w.code("alice"), approve=True,
                                reason="", via="cli")
    assert w.refusals() == ["expired"]
    assert w.twins.store.get_approval(apr).status is ApprovalStatus.EXPIRED  # type: ignore[union-attr]
    assert w.submit() is Status.HELD  # the retry asks anew


def test_approved_but_unused_approval_expires_after_the_use_window() -> None:
    w = World()
    apr = w.hold()
    w.desk.decide_with_code(apr, w.credential("alice"), w.code("alice"), approve=True,
                            reason="", via="cli")
    w.clock.now = T0 + timedelta(minutes=15, seconds=1)  # default use_window
    assert w.submit() is Status.HELD
    assert w.twins.executed == []


def test_approval_cannot_be_used_for_a_different_action() -> None:
    w = World()
    apr = w.hold("drop users")
    w.desk.decide_with_code(apr, w.credential("alice"), w.code("alice"), approve=True,
                            reason="", via="cli")
    assert w.submit("drop orders") is Status.HELD
    assert w.submit("drop users", principal="other-agent") is Status.HELD
    assert w.twins.executed == []
    assert w.submit("drop users") is Status.EXECUTED


def test_n_of_m_counts_distinct_humans() -> None:
    w = World(risk="catastrophic", target=PROD_DB)  # built-in rule: two approvals
    apr = w.hold("drop database")
    first = w.desk.decide_with_code(apr, w.credential("alice"), w.code("alice"), approve=True,
                                    reason="", via="cli")
    assert first.status is ApprovalStatus.PENDING and first.approvals_required == 2
    assert w.submit("drop database") is Status.HELD
    # alice again, with a fresh code: still one person
    with pytest.raises(ApprovalError, match="already decided"):
        w.desk.decide_with_code(apr, w.credential("alice"), w.code("alice"), approve=True,
                                reason="", via="cli")
    second = w.desk.decide_with_code(apr, w.credential("bob"), w.code("bob"), approve=True,
                                     reason="", via="console")
    assert second.status is ApprovalStatus.APPROVED
    assert [g.approver for g in second.grants] == ["alice", "bob"]
    assert w.refusals() == ["already_decided"]
    assert [r.data["approvals"] for r in w.records("approval_given")] == [1, 2]
    assert w.submit("drop database") is Status.EXECUTED


def test_denial_needs_a_reason_which_the_record_keeps() -> None:
    w = World()
    apr = w.hold()
    with pytest.raises(InputError, match="needs a reason"):
        w.desk.decide_with_code(apr, w.credential("alice"), w.code("alice"), approve=False,
                                reason="  ", via="cli")
    alice = w.twins.store.get_approver("alice")
    assert alice is not None and alice.last_step == 0  # the code was not spent on it
    record = w.desk.decide_with_code(apr, w.credential("alice"), w.code("alice"),
                                     approve=False, reason="use a migration", via="cli")
    assert record.status is ApprovalStatus.DENIED and record.reason == "use a migration"
    [denied] = w.records("approval_denied")
    assert denied.data["reason"] == "use a migration" and denied.data["approver"] == "alice"
    assert w.submit() is Status.HELD
    # a decided approval refuses further decisions, and says so in the log
    with pytest.raises(ApprovalError, match="is denied"):
        w.desk.decide_with_code(apr, w.credential("bob"), w.code("bob"), approve=True,
                                reason="", via="cli")
    assert w.refusals() == ["already_denied"]


def test_requester_cannot_approve_their_own_request() -> None:
    w = World()
    apr = w.hold(principal="alice")  # a human's own action, held
    with pytest.raises(ApprovalError, match="cannot approve"):
        w.desk.decide_with_code(apr, w.credential("alice"), w.code("alice"), approve=True,
                                reason="", via="cli")
    assert w.refusals() == ["own_request"]


def test_unknown_approval_is_refused_and_recorded() -> None:
    w = World()
    with pytest.raises(ApprovalError, match="no approval apr_nope"):
        w.desk.decide_with_code("apr_nope", w.credential("alice"), w.code("alice"),
                                approve=True, reason="", via="cli")
    assert w.refusals() == ["unknown_approval"]
