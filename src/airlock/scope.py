"""Scope: may this caller reach what this action touches?

A caller is bound by every scope it carries (its principal's and its token's). A fact passes a
scope when its environment, its resource and its risk are all inside it. Anything outside is a
deny, not a hold: no approval can stretch a token beyond what it was issued for.

An environment nobody could determine is `(unknown)`: only a scope that reaches every
environment (`*`) covers it. Facts without a target that only read are not scoped (there is
nothing to reach) unless they happen inside a resource or in a production context: `SELECT 1`
sent with `env=production` reaches production whatever it names. Every other fact is scoped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from fnmatch import fnmatchcase

from airlock.model import UNKNOWN_ENVIRONMENT, Caller, Decision, Risk, Scope, Verdict
from airlock.policy import Fact

RULE = "scope"


def scope_violation(fact: Fact, scope: Scope, now: datetime) -> str | None:
    """Why `fact` lies outside `scope`, or None when it is inside."""
    if scope.expires_at is not None and now >= scope.expires_at:
        return f"the token expired at {scope.expires_at.isoformat(timespec='seconds')}"
    if fact.effect.target is None and fact.resource is None and fact.risk is Risk.READ \
            and not (fact.production and fact.environment != UNKNOWN_ENVIRONMENT):
        # A read of nothing in particular reaches nothing — unless the action's context put
        # it in production (an unplaced one is not put anywhere by reading nothing).
        return None
    if not _environment_allowed(scope.environments, fact.environment):
        shown = "an unknown environment (treated as production)" \
            if fact.environment == UNKNOWN_ENVIRONMENT else f"environment {fact.environment}"
        return (f"{fact.where()} is in {shown}, and this caller may only reach "
                f"{', '.join(scope.environments) or 'no environment'}")
    if (fact.effect.target is not None or fact.resource is not None) and scope.resources != ("*",):
        if fact.resource is None:
            what = fact.effect.target.key if fact.effect.target else "this action"
            return (f"{what} is not a configured resource, and this caller may "
                    f"only reach {', '.join(scope.resources)}")
        if not any(fnmatchcase(fact.resource, g) for g in scope.resources):
            return (f"resource {fact.resource} is outside this caller's resources "
                    f"({', '.join(scope.resources)})")
    if not scope.max_risk.at_least(fact.risk):
        return (f"the action is {fact.risk.value} on {fact.where()}, and this caller may act "
                f"only up to {scope.max_risk.value}")
    return None


def _environment_allowed(patterns: Sequence[str], environment: str) -> bool:
    if environment == UNKNOWN_ENVIRONMENT:
        return "*" in patterns
    return any(fnmatchcase(environment, p) for p in patterns)


def check_scope(facts: Sequence[Fact], caller: Caller, now: datetime) -> Decision | None:
    """A deny decision naming the first fact outside the caller's scopes, or None."""
    for fact in facts:
        for scope in caller.scopes:
            why = scope_violation(fact, scope, now)
            if why is not None:
                who = f"token {caller.token_id}" if caller.token_id else f"principal {caller.principal.name}"
                return Decision(Verdict.DENY, RULE, f"out of scope for {who}: {why}",
                                trace=(f"scope: {why}",))
    return None
