"""Policy: rules over principal, environment, resource, risk and front → allow | hold | deny.

An action is judged fact by fact. A *fact* is one effect in one environment it reaches (an
effect on a volume that also backs production yields a fact for each environment). Rules are
tried in order — the configured ones, then the built-in ones — and the first rule that matches
a fact decides that fact. The action's decision is the strictest over its facts: deny beats hold
beats allow, more approvals beat fewer, and a snapshot required anywhere is required.

A fact no rule matches is held: what policy does not cover, airlock does not let through.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from airlock.config import Config, Rule
from airlock.model import (
    UNKNOWN_ENVIRONMENT,
    Action,
    Assessment,
    Caller,
    Decision,
    Effect,
    Guard,
    PrincipalKind,
    ResolvedTarget,
    Risk,
    Verb,
    Verdict,
)

BUILTIN_RULES: tuple[Rule, ...] = (
    Rule("builtin:read", Verdict.ALLOW, risk=(Risk.READ,),
         reason="reading changes nothing"),
    Rule("builtin:write-production", Verdict.HOLD, approvals=1, snapshot=True, risk=(Risk.WRITE,),
         production=True,
         reason="writes to production wait for a human approval, and the rows they change are "
                "backed up first"),
    Rule("builtin:write", Verdict.ALLOW, risk=(Risk.WRITE,),
         reason="writes outside production are allowed"),
    Rule("builtin:catastrophic-production", Verdict.HOLD, approvals=2, snapshot=True,
         risk=(Risk.CATASTROPHIC,), production=True,
         reason="destroying a whole database, volume, bucket, backup, namespace or project in "
                "production needs two approvers and a safety net first"),
    Rule("builtin:destructive", Verdict.HOLD, approvals=1, snapshot=True,
         risk=(Risk.DESTRUCTIVE, Risk.UNKNOWN, Risk.CATASTROPHIC),
         reason="destructive or unclassifiable actions wait for a human approval and a "
                "verified backup"),
)

# Rules tried before any configured rule — and before scope — so no configuration can loosen
# them. They judge what the guards (guards.py) found, for every action kind and every front,
# and they bind agents only: a person asking `airlock check --principal alice 'cat .env'` is
# judged by the ordinary rules.
GUARD_RULES: tuple[Rule, ...] = (
    Rule("builtin:credential-files", Verdict.DENY, guard=(Guard.CREDENTIAL,),
         principal_kind=PrincipalKind.AGENT,
         reason="agents may not read credentials (files, variables or the whole environment); "
                "to let agents read a particular credential file, list it under [hooks] "
                "allow_credential_reads in airlock.toml"),
    Rule("builtin:airlock-files", Verdict.DENY, guard=(Guard.AIRLOCK,),
         principal_kind=PrincipalKind.AGENT,
         reason="agents may not read or change what airlock depends on; a human must do that"),
    Rule("builtin:airlock-commands", Verdict.DENY, guard=(Guard.AIRLOCK_COMMAND,),
         principal_kind=PrincipalKind.AGENT,
         reason="agents may not decide, enrol, issue tokens, configure, install or act with "
                "airlock's credentials; a human must run this command"),
)

NO_RULE = Rule("builtin:no-rule-matched", Verdict.HOLD, approvals=1, snapshot=True,
               reason="no policy rule covers this, and airlock holds what its policy does not cover")


@dataclass(frozen=True, slots=True)
class Fact:
    """One effect in one environment — the unit policy and scope judge."""

    effect: Effect
    risk: Risk
    environment: str
    production: bool
    resource: str | None
    target: ResolvedTarget | None

    def where(self) -> str:
        target = self.effect.target
        place = self.resource or (target.key if target else "no specific target")
        if self.environment == UNKNOWN_ENVIRONMENT:
            return f"{place} in an unknown environment (treated as production)"
        return f"{place} in {self.environment}"


def facts_of(assessment: Assessment, resolved: Sequence[ResolvedTarget], action: Action,
             config: Config) -> list[Fact]:
    """Spread each effect over the environments its target reaches."""
    by_target: dict[str, list[ResolvedTarget]] = {}
    for r in resolved:
        by_target.setdefault(r.target.key, []).append(r)
    facts: list[Fact] = []
    effects = assessment.effects or (
        Effect(_VERB_OF_RISK.get(assessment.risk, Verb.UNKNOWN), assessment.risk,
               "the action as a whole"),)
    # An effect with no target of its own happens wherever the action runs: inside the
    # context's resource when the front connected it to one (so `SELECT 1` on a production
    # database still reaches production), else in the context's environment.
    home = config.resources.get(action.context.resource) if action.context.resource else None
    if home is not None:
        # Being connected to a resource reaches it, whatever the statement names.
        reach = Effect(Verb.READ, Risk.READ, f"runs inside resource {home.name}")
        facts.append(Fact(reach, Risk.READ, home.environment,
                          config.environment(home.environment).production, home.name, None))
    for effect in effects:
        placements = by_target.get(effect.target.key, []) if effect.target else []
        if not placements:
            if effect.target is None and home is not None:
                env, resource = home.environment, home.name
            elif effect.target is None:
                env, resource = action.context.environment or UNKNOWN_ENVIRONMENT, None
            else:
                env, resource = UNKNOWN_ENVIRONMENT, None
            facts.append(Fact(effect, effect.risk, env, config.environment(env).production,
                              resource, None))
            continue
        for placed in placements:
            for env in placed.environments:
                facts.append(Fact(effect, effect.risk, env, config.environment(env).production,
                                  placed.resource, placed))
    return facts


_VERB_OF_RISK = {Risk.READ: Verb.READ, Risk.WRITE: Verb.WRITE}


class Policy:
    """The ordered rule list, applied to facts."""

    def __init__(self, rules: Iterable[Rule], *, builtin: bool = True) -> None:
        self.rules: tuple[Rule, ...] = (GUARD_RULES + tuple(rules)
                                        + (BUILTIN_RULES if builtin else ()))

    @classmethod
    def from_config(cls, config: Config) -> Policy:
        return cls(config.rules, builtin=config.builtin_rules)

    def guard(self, facts: Sequence[Fact], action: Action, caller: Caller) -> Decision | None:
        """The guard rules alone, tried before scope: a deny when one matches a fact (so its
        reason, not a scope's, is what the agent reads), else None."""
        for fact in facts:
            if fact.effect.guard is None:
                continue
            for rule in GUARD_RULES:
                if rule_mismatch(rule, fact, action, caller) is None:
                    reason = f"{fact.effect.reason}: {rule.reason}"
                    return Decision(rule.verdict, rule.name, reason,
                                    trace=(f"guard: {fact.effect.reason}",
                                           f"  rule {rule.name}: matches → {rule.verdict.value}"))
        return None

    def decide(self, facts: Sequence[Fact], action: Action, caller: Caller) -> Decision:
        if not facts:
            return Decision(Verdict.HOLD, NO_RULE.name, "the action has no effects to judge, "
                            "which should not happen; held to be safe", 1, True)
        trace: list[str] = []
        judged = [(fact, self.first_match(fact, action, caller, trace)) for fact in facts]
        fact, rule = max(judged, key=lambda pair: _strictness(pair[1]))
        approvals = 0
        if rule.verdict is Verdict.HOLD:
            approvals = max(r.approvals for _, r in judged if r.verdict is Verdict.HOLD)
        snapshot = any(r.snapshot for _, r in judged)
        reason = f"{fact.risk.value} action on {fact.where()}: {rule.reason or 'rule ' + rule.name}"
        return Decision(rule.verdict, rule.name, reason, approvals, snapshot, tuple(trace))

    def first_match(self, fact: Fact, action: Action, caller: Caller,
                    trace: list[str] | None = None) -> Rule:
        if trace is not None:
            trace.append(f"fact: {fact.risk.value} {fact.effect.verb.value} on {fact.where()}"
                         f" — {fact.effect.reason}")
        for rule in self.rules:
            mismatch = rule_mismatch(rule, fact, action, caller)
            if mismatch is None:
                if trace is not None:
                    trace.append(f"  rule {rule.name}: matches → {rule.verdict.value}"
                                 + (f" ({rule.approvals} approval(s))" if rule.approvals else "")
                                 + (", snapshot first" if rule.snapshot else ""))
                return rule
            if trace is not None:
                trace.append(f"  rule {rule.name}: no ({mismatch})")
        if trace is not None:
            trace.append(f"  no rule matched → {NO_RULE.verdict.value}")
        return NO_RULE


def _strictness(rule: Rule) -> tuple[int, int, bool]:
    return (rule.verdict.strictness, rule.approvals, rule.snapshot)


def _any_glob(patterns: Sequence[str], value: str) -> bool:
    return any(fnmatchcase(value, p) for p in patterns)


def rule_mismatch(rule: Rule, fact: Fact, action: Action, caller: Caller) -> str | None:
    """Why `rule` does not apply to `fact`, or None when it does."""
    principal = caller.principal
    if rule.principal is not None and not _any_glob(rule.principal, principal.name):
        return f"principal is {principal.name}"
    if rule.principal_kind is not None and rule.principal_kind is not principal.kind:
        return f"principal is a {principal.kind.value}"
    if rule.environment is not None and not _any_glob(rule.environment, fact.environment):
        return f"environment is {fact.environment}"
    if rule.production is not None and rule.production != fact.production:
        return "production" if fact.production else "not production"
    if rule.resource is not None and (fact.resource is None or not _any_glob(rule.resource, fact.resource)):
        return f"resource is {fact.resource or 'not a configured resource'}"
    if rule.risk is not None and fact.risk not in rule.risk:
        return f"risk is {fact.risk.value}"
    if rule.front is not None and not _any_glob(rule.front, action.front):
        return f"front is {action.front}"
    if rule.action is not None and action.kind not in rule.action:
        return f"action is {action.kind.value}"
    if rule.guard is not None and fact.effect.guard not in rule.guard:
        return "nothing guarded" if fact.effect.guard is None else f"guard is {fact.effect.guard}"
    return None
