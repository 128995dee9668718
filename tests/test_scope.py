"""A token scoped to some environments can never obtain an allow on a resource of another.

The property is tested with hypothesis over random resource graphs, actions, scopes and
policies — including a policy that allows everything, so scope alone must hold the line.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airlock.classify import FixedClassifier
from airlock.config import config_from_mapping
from airlock.model import ActionContext, Caller, Principal, PrincipalKind, Risk, Scope, Target, Verdict
from airlock.scope import scope_violation
from tests.factories import Twins, action, assessment, effect

ENVS = ["production", "staging", "development", "qa"]
RISKS = list(Risk)


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 6))
    resources: dict[str, Any] = {}
    for i in range(n):
        res: dict[str, Any] = {"kind": "other", "environment": draw(st.sampled_from(ENVS)),
                               "match": [f"thing:r{i}"]}
        earlier = [f"r{j}" for j in range(i)]
        if earlier:
            res["stored_on"] = draw(st.lists(st.sampled_from(earlier), max_size=2, unique=True))
        resources[f"r{i}"] = res
    allow_all = draw(st.booleans())
    rules = [{"name": "allow-all", "verdict": "allow"}] if allow_all else []
    return {"environments": {e: {} for e in ENVS}, "resources": resources,
            "principals": {"agent": {"kind": "agent"}}, "policy": {"rules": rules}}


def targets(n_resources: int) -> st.SearchStrategy[Target | None]:
    return st.one_of(
        st.none(),
        st.integers(0, n_resources + 1).map(lambda i: Target("thing", f"r{i}")),  # some unconfigured
        st.sampled_from([Target("path", "/srv/x", contextual=True),
                         Target("table", "users", contextual=True),
                         Target("postgres", "?:5432/app")]),
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_scoped_token_never_allowed_outside_its_environments(data: st.DataObject) -> None:
    world = data.draw(worlds())
    config = config_from_mapping(world, Path("/cfg/airlock.toml"))
    n = len(world["resources"])
    effects = data.draw(st.lists(st.tuples(st.sampled_from(RISKS), targets(n)), min_size=1, max_size=4))
    scope_envs = tuple(data.draw(st.lists(st.sampled_from(ENVS), min_size=1, max_size=3, unique=True)))
    scope = Scope(environments=scope_envs, max_risk=data.draw(st.sampled_from(RISKS)),
                  resources=data.draw(st.sampled_from([("*",), ("r0",), ("r*",)])))
    context = ActionContext(environment=data.draw(st.sampled_from([None, *ENVS])),
                            resource=data.draw(st.sampled_from([None, *world["resources"]])))
    caller = Caller(Principal("agent", PrincipalKind.AGENT), (Scope(), scope), token_id="tok_x")

    twins = Twins(config, classifier=FixedClassifier(assessment(*(effect(r, t) for r, t in effects))))
    outcome = twins.gate.submit(action("x", context=context), caller)
    if outcome.verdict is not Verdict.ALLOW:
        return
    # Allowed: every configured resource reached, and everything in its blast radius, lies in
    # the token's environments; nothing of unknown environment was reached.
    for placed in outcome.targets:
        assert "(unknown)" not in placed.environments
        for name in placed.blast_radius:
            assert config.resources[name].environment in scope_envs, (placed, scope_envs)
    if context.resource is not None:
        assert config.resources[context.resource].environment in scope_envs
    if context.resource is None and context.environment is not None and \
            config.environment(context.environment).production and \
            any(target is None for _, target in effects):
        # An effect that names nothing happens where the action was sent: in production, it
        # reaches production (with a resource, the resource's own environment is where it
        # runs; a named target resolves on its own).
        assert context.environment in scope_envs
    assert all(e.risk.at_least(Risk.READ) and scope.max_risk.at_least(e.risk)
               for e in outcome.assessment.effects)


def test_staging_token_asking_for_production_resource_is_denied() -> None:
    twins = Twins(classifier=FixedClassifier(assessment(effect(Risk.READ, Target("postgres", "db.prod.internal:5432/app")))))
    scope = Scope(environments=("staging",))
    outcome = twins.gate.submit(action("select 1"), Caller(Principal("agent", PrincipalKind.AGENT),
                                                           (Scope(), scope), token_id="tok_1"))
    assert outcome.verdict is Verdict.DENY
    assert "token tok_1" in outcome.reason and "production" in outcome.reason


def test_staging_volume_backing_production_is_out_of_a_staging_scope() -> None:
    # The incident: a volume labelled staging also held production's data.
    twins = Twins(classifier=FixedClassifier(assessment(effect(Risk.CATASTROPHIC, Target("railway:volume", "vol-shared")))))
    outcome = twins.gate.submit(action("volumeDelete"), Caller(
        Principal("agent", PrincipalKind.AGENT), (Scope(), Scope(environments=("staging",))), "tok_1"))
    assert outcome.verdict is Verdict.DENY and "production" in outcome.reason


def test_expired_scope_denies() -> None:
    from airlock.policy import facts_of
    from tests.factories import make_config

    now = datetime(2026, 1, 1, tzinfo=UTC)
    scope = Scope(expires_at=now - timedelta(seconds=1))
    ev_action = action("ls")
    fact = facts_of(assessment(effect(Risk.READ)), (), ev_action, make_config())[0]
    assert scope_violation(fact, scope, now) is not None


def test_max_risk_caps_what_a_token_may_do() -> None:
    twins = Twins(classifier=FixedClassifier(assessment(effect(Risk.DESTRUCTIVE, Target("postgres", "db.staging.internal:5432/app")))))
    outcome = twins.gate.submit(action("drop"), Caller(
        Principal("agent", PrincipalKind.AGENT), (Scope(), Scope(environments=("staging",), max_risk=Risk.WRITE)), "t"))
    assert outcome.verdict is Verdict.DENY and "only up to write" in outcome.reason


def test_targetless_action_inside_a_production_resource_is_out_of_a_staging_scope() -> None:
    # `SELECT 1` touches no table, but it runs on the production database all the same.
    twins = Twins(classifier=FixedClassifier(assessment(effect(Risk.READ))))
    staging_token = Caller(Principal("agent", PrincipalKind.AGENT), (Scope(), Scope(environments=("staging",))), "t")
    on_prod = twins.gate.submit(action("select 1", context=ActionContext(resource="prod-db")), staging_token)
    assert on_prod.verdict is Verdict.DENY and "prod-db in production" in on_prod.reason
    on_staging = twins.gate.submit(action("select 1", context=ActionContext(resource="staging-db")), staging_token)
    assert on_staging.verdict is Verdict.ALLOW
    only_staging_db = Caller(Principal("agent", PrincipalKind.AGENT),
                             (Scope(), Scope(environments=("*",), resources=("staging-db",))), "t")
    assert twins.gate.submit(action("select 1", context=ActionContext(resource="prod-db")),
                             only_staging_db).verdict is Verdict.DENY
