"""`[principals.NAME]` and `[[policy.rules]]`: who acts, how far they reach, and the rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from airlock.config.base import NAME_PATTERN, BuildContext, Strict, as_tuple
from airlock.model import ActionKind, Guard, PrincipalKind, Risk, Scope, Verdict

# Enum fields accept their string values; strict mode still refuses `"yes"` for a bool elsewhere.
LaxRisk = Annotated[Risk, Field(strict=False)]
LaxPrincipalKind = Annotated[PrincipalKind, Field(strict=False)]
LaxActionKind = Annotated[ActionKind, Field(strict=False)]
LaxVerdict = Annotated[Verdict, Field(strict=False)]


class PrincipalFile(Strict):
    kind: LaxPrincipalKind
    environments: list[str] = Field(default_factory=lambda: ["*"])
    resources: list[str] = Field(default_factory=lambda: ["*"])
    max_risk: LaxRisk = Risk.CATASTROPHIC


class RuleFile(Strict):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    # when (every field given must match; lists match any element; globs allowed in names)
    principal: list[str] | None = None
    principal_kind: LaxPrincipalKind | None = None
    environment: list[str] | None = None
    production: bool | None = None
    resource: list[str] | None = None
    risk: list[LaxRisk] | None = None
    front: list[str] | None = None
    action: list[LaxActionKind] | None = None
    # then
    verdict: LaxVerdict
    approvals: int | None = None
    snapshot: bool = False
    reason: str = ""


class PolicyFile(Strict):
    builtin: bool = True  # append the built-in rules after the configured ones
    rules: list[RuleFile] = Field(default_factory=list)
    # a DELETE/UPDATE the planner expects to reach this share of its table is destructive
    broad_write_fraction: Annotated[float, Field(gt=0, le=1)] = 0.5


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    verdict: Verdict
    approvals: int = 0
    snapshot: bool = False
    reason: str = ""
    principal: tuple[str, ...] | None = None
    principal_kind: PrincipalKind | None = None
    environment: tuple[str, ...] | None = None
    production: bool | None = None
    resource: tuple[str, ...] | None = None
    risk: tuple[Risk, ...] | None = None
    front: tuple[str, ...] | None = None
    action: tuple[ActionKind, ...] | None = None
    guard: tuple[Guard, ...] | None = None  # built-in guard rules only (policy.GUARD_RULES)


@dataclass(frozen=True, slots=True)
class PrincipalConfig:
    name: str
    kind: PrincipalKind
    scope: Scope


def build_principals(parsed: Mapping[str, PrincipalFile]) -> dict[str, PrincipalConfig]:
    return {name: PrincipalConfig(name, pr.kind, Scope(tuple(pr.environments),
                                                       tuple(pr.resources), pr.max_risk))
            for name, pr in parsed.items()}


def build_rules(parsed: Sequence[RuleFile], ctx: BuildContext) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    seen_rules: set[str] = set()
    for index, rf in enumerate(parsed):
        key = f"policy.rules[{index}] ({rf.name})"
        if rf.name in seen_rules:
            ctx.fail(key, f"rule name {rf.name!r} is used twice; names identify rules in decisions")
        seen_rules.add(rf.name)
        approvals = rf.approvals
        if rf.verdict is Verdict.HOLD:
            approvals = 1 if approvals is None else approvals
            if approvals < 1:
                ctx.fail(f"{key}.approvals", "a hold needs at least 1 approval")
        elif approvals not in (None, 0):
            ctx.fail(f"{key}.approvals",
                     f"only a hold takes approvals (verdict is {rf.verdict.value})")
        rules.append(Rule(
            name=rf.name, verdict=rf.verdict, approvals=approvals or 0, snapshot=rf.snapshot,
            reason=rf.reason, principal=as_tuple(rf.principal), principal_kind=rf.principal_kind,
            environment=as_tuple(rf.environment), production=rf.production,
            resource=as_tuple(rf.resource), risk=as_tuple(rf.risk), front=as_tuple(rf.front),
            action=as_tuple(rf.action)))
    return tuple(rules)
