"""`airlock doctor`: is this machine protected? Each check reports findings with a severity, the
evidence and the exact fix; any critical finding makes the command exit 1.

    context.py      what the doctor looks at, and acting as the agent's or airlock's user
    probe.py        read/write/replace tried for real, as the agent's user (stdlib only)
    access.py       the agent's user against airlock's state, keys, config, vault, socket, code
    credentials.py  credentials the agent could read: workspace, home, environment
    harnesses.py    harnesses without airlock's hook, or with a matcher that leaves tools out
    backups.py      backups beside their data, too old, never drilled
    tokens.py       tokens reaching production / several environments / never expiring;
                    fewer approvers than a hold needs
    service.py      `airlock up` not running, or running as the agent's user
    auditlog.py     the audit chain verifies; whether its head is anchored elsewhere
    state.py        the facts read from airlock's state, as airlock's user
    report.py       findings and the report
"""

from __future__ import annotations

from collections.abc import Callable

from airlock.doctor.access import check_access
from airlock.doctor.auditlog import check_audit
from airlock.doctor.backups import check_backups
from airlock.doctor.context import Doctor
from airlock.doctor.credentials import check_credentials
from airlock.doctor.harnesses import check_harnesses
from airlock.doctor.report import Finding, Report, Severity
from airlock.doctor.service import check_service
from airlock.doctor.tokens import check_tokens

CHECKS: tuple[tuple[str, Callable[[Doctor], list[Finding]]], ...] = (
    ("service", check_service),
    ("access", check_access),
    ("credentials", check_credentials),
    ("harnesses", check_harnesses),
    ("backups", check_backups),
    ("tokens", check_tokens),
    ("audit", check_audit),
)


def examine(doc: Doctor, only: set[str] | None = None) -> Report:
    """Run every check (or `only` those); a check that fails is itself a finding, never a crash
    — and a failed check is a warning, because an unchecked machine is not a clean one."""
    report = Report()
    for name, check in CHECKS:
        if only is not None and name not in only:
            continue
        report.checked.append(name)
        try:
            report.add(check(doc))
        except Exception as exc:
            report.add([Finding(name, Severity.WARNING, f"the {name} check could not finish: "
                                f"{type(exc).__name__}: {exc}", (), "run `airlock doctor` as "
                                "root (`sudo airlock doctor`); report it if it persists")])
    return report


__all__ = ["CHECKS", "Doctor", "Finding", "Report", "Severity", "examine"]
