"""Tokens that reach too far or live too long, and too few approvers for the holds configured.

A token's reach is its own scope *and* its principal's (neither widens the other): the
environments both allow. `*` in both reaches every environment, the unknown one included —
which counts as production.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from airlock.config import Config
from airlock.doctor.context import Doctor
from airlock.doctor.report import Finding, Severity
from airlock.model import PrincipalKind, Verdict
from airlock.policy import BUILTIN_RULES

LONG_LIVED = timedelta(days=30)


def check_tokens(doc: Doctor) -> list[Finding]:
    config, state = doc.config, doc.state
    if config is None or state is None:
        why = doc.config_problem if config is None else doc.state_problem
        return [Finding("tokens", Severity.INFO, "could not check tokens and approvers from this "
                        "account", (why,), "run `sudo airlock doctor`")]
    return _tokens(config, state["tokens"], doc.now()) + _approvers(config, state["approvers"])


def _tokens(config: Config, tokens: list[dict[str, Any]], now: datetime) -> list[Finding]:
    production: list[str] = []
    several: list[str] = []
    lasting: list[str] = []
    for token in tokens:
        expires = token["scope"].get("expires_at")
        if token["revoked"] or (expires and datetime.fromisoformat(expires) <= now):
            continue
        label = f"{token['id']} ({token['principal']})"
        envs, everywhere = _reach(config, token)
        if everywhere or any(config.environment(e).production for e in envs):
            production.append(f"{label} reaches "
                              + ("every environment" if everywhere else
                                 ", ".join(e for e in envs if config.environment(e).production)))
        elif len(envs) > 1:
            several.append(f"{label} reaches {', '.join(envs)}")
        if not expires:
            lasting.append(f"{label} never expires")
        elif datetime.fromisoformat(expires) - datetime.fromisoformat(token["created_at"]) \
                > LONG_LIVED:
            lasting.append(f"{label} lives until {expires}")
    findings = []
    fix = ("revoke it (`airlock token revoke ID`) and issue one per environment, short-lived: "
           "`airlock token create --principal NAME --env staging --ttl 8h`")
    if production:
        findings.append(Finding("tokens.production", Severity.CRITICAL,
                                f"{len(production)} token(s) reach production", tuple(production),
                                fix))
    if several:
        findings.append(Finding("tokens.environments", Severity.WARNING,
                                f"{len(several)} token(s) reach more than one environment",
                                tuple(several), fix))
    if lasting:
        findings.append(Finding("tokens.expiry", Severity.WARNING,
                                f"{len(lasting)} token(s) never expire or live over "
                                f"{LONG_LIVED.days} days", tuple(lasting), fix))
    return findings


def _reach(config: Config, token: dict[str, Any]) -> tuple[list[str], bool]:
    """The environments a token reaches, and whether it reaches every one (unknown included)."""
    own = tuple(token["scope"]["environments"])
    principal = config.principals.get(token["principal"])
    theirs = principal.scope.environments if principal else ("*",)
    everywhere = "*" in own and "*" in theirs
    names = sorted({*config.environments, config.local_environment})
    envs = [e for e in names if any(fnmatchcase(e, g) for g in own)
            and any(fnmatchcase(e, g) for g in theirs)]
    return envs, everywhere


def _approvers(config: Config, enrolled: list[str]) -> list[Finding]:
    rules = list(config.rules) + (list(BUILTIN_RULES) if config.builtin_rules else [])
    needs = [(r.approvals, r.name) for r in rules if r.verdict is Verdict.HOLD]
    if not needs:
        return []
    most, rule = max(needs)
    humans = [n for n in enrolled if (p := config.principals.get(n)) is not None
              and p.kind is PrincipalKind.HUMAN]
    if len(humans) >= most:
        return []
    have = f"{len(humans)} enrolled approver(s)" + (f" ({', '.join(humans)})" if humans else "")
    return [Finding("approvers.too-few", Severity.WARNING,
                    f"a hold can need {most} approvals ({rule}) but there are only {have}: such "
                    "a hold can never pass", (f"rule {rule} needs {most}", f"enrolled: {have}"),
                    "declare more people as `kind = \"human\"` principals and enrol them: "
                    "`sudo -u airlock airlock approver add NAME`")]
