"""The built-in policy, configured rules, and how a verdict is explained."""

from __future__ import annotations

import pytest

from airlock.classify import FixedClassifier
from airlock.model import ActionContext, Risk, Target, Verdict
from tests.factories import Twins, action, assessment, caller, effect, make_config

PROD_TABLE = Target("table", "users", contextual=True)


def judge(risk: Risk, env: str | None, *, target: Target | None = PROD_TABLE, extra: str = "",
          principal: str = "agent", resource: str | None = None) -> tuple[Verdict, int, bool, str]:
    twins = Twins(make_config(extra), classifier=FixedClassifier(assessment(effect(risk, target))))
    ev = twins.judge.evaluate(action(principal=principal,
                                     context=ActionContext(environment=env, resource=resource)),
                              caller(principal))
    d = ev.decision
    return d.verdict, d.approvals_required, d.snapshot_required, d.rule


@pytest.mark.parametrize(("risk", "env", "expected"), [
    (Risk.READ, "production", (Verdict.ALLOW, 0, False, "builtin:read")),
    (Risk.READ, None, (Verdict.ALLOW, 0, False, "builtin:read")),
    (Risk.WRITE, "staging", (Verdict.ALLOW, 0, False, "builtin:write")),
    (Risk.WRITE, "production", (Verdict.HOLD, 1, True, "builtin:write-production")),
    (Risk.WRITE, None, (Verdict.HOLD, 1, True, "builtin:write-production")),  # unknown = prod
    (Risk.DESTRUCTIVE, "staging", (Verdict.HOLD, 1, True, "builtin:destructive")),
    (Risk.DESTRUCTIVE, "production", (Verdict.HOLD, 1, True, "builtin:destructive")),
    (Risk.UNKNOWN, "development", (Verdict.HOLD, 1, True, "builtin:destructive")),
    (Risk.CATASTROPHIC, "staging", (Verdict.HOLD, 1, True, "builtin:destructive")),
    (Risk.CATASTROPHIC, "production", (Verdict.HOLD, 2, True, "builtin:catastrophic-production")),
    (Risk.CATASTROPHIC, None, (Verdict.HOLD, 2, True, "builtin:catastrophic-production")),
])
def test_builtin_defaults(risk: Risk, env: str | None, expected: tuple[Verdict, int, bool, str]) -> None:
    assert judge(risk, env) == expected


def test_undeterminable_environment_counts_as_production() -> None:
    # A non-contextual target nobody configured: its environment cannot be known.
    stray = Target("postgres", "db.unknown.example:5432/app")
    assert judge(Risk.WRITE, "staging", target=stray)[0] is Verdict.HOLD


def test_resource_environment_beats_context() -> None:
    table_in_prod = Target("table", "users", contextual=True)
    # the context says staging, but the connected resource is production
    assert judge(Risk.WRITE, "staging", target=table_in_prod, resource="prod-db")[0] is Verdict.HOLD


def test_blast_radius_pulls_in_production() -> None:
    # The volume is labelled staging, but production lives on it.
    volume = Target("railway:volume", "vol-shared")
    verdict, approvals, _, _ = judge(Risk.CATASTROPHIC, None, target=volume)
    assert (verdict, approvals) == (Verdict.HOLD, 2)


def test_configured_rule_comes_first() -> None:
    extra = """
    [[policy.rules]]
    name = "no-agent-catastrophes"
    principal_kind = "agent"
    risk = ["catastrophic"]
    verdict = "deny"
    reason = "agents never destroy whole resources"
    """
    assert judge(Risk.CATASTROPHIC, "staging", extra=extra)[::3] == (Verdict.DENY, "no-agent-catastrophes")
    assert judge(Risk.DESTRUCTIVE, "staging", extra=extra)[0] is Verdict.HOLD


def test_rules_match_on_every_field() -> None:
    extra = """
    [[policy.rules]]
    name = "dev-writes-for-one-agent"
    principal = ["agent"]
    environment = ["dev*"]
    risk = ["destructive"]
    front = ["test"]
    action = ["shell"]
    verdict = "allow"
    """
    assert judge(Risk.DESTRUCTIVE, "development", extra=extra)[0] is Verdict.ALLOW
    assert judge(Risk.DESTRUCTIVE, "staging", extra=extra)[0] is Verdict.HOLD
    assert judge(Risk.DESTRUCTIVE, "development", extra=extra, principal="staging-agent")[0] is Verdict.HOLD


def test_without_builtin_rules_anything_unmatched_is_held() -> None:
    extra = """
    [policy]
    builtin = false
    """
    verdict, _, snapshot, rule = judge(Risk.READ, "staging", extra=extra)
    assert (verdict, snapshot, rule) == (Verdict.HOLD, True, "builtin:no-rule-matched")


def test_strictest_fact_decides_and_approvals_add_up() -> None:
    prod = Target("postgres", "db.prod.internal:5432/app")
    staging = Target("postgres", "db.staging.internal:5432/app")
    twins = Twins(classifier=FixedClassifier(assessment(
        effect(Risk.READ, prod), effect(Risk.DESTRUCTIVE, staging), effect(Risk.CATASTROPHIC, prod))))
    d = twins.judge.evaluate(action(), caller()).decision
    assert (d.verdict, d.approvals_required, d.snapshot_required) == (Verdict.HOLD, 2, True)
    assert d.rule == "builtin:catastrophic-production"


def test_every_decision_names_its_rule_and_reason() -> None:
    twins = Twins(classifier=FixedClassifier(assessment(effect(Risk.DESTRUCTIVE, PROD_TABLE))))
    ev = twins.judge.evaluate(action(context=ActionContext(resource="prod-db")), caller())
    assert ev.decision.rule == "builtin:destructive"
    assert "prod-db in production" in ev.decision.reason
    assert any("rule builtin:read: no (risk is destructive)" in line for line in ev.decision.trace)
    assert any("rule builtin:destructive: matches → hold" in line for line in ev.decision.trace)
