"""Production resources whose backups were never proved to restore: snapshots exist, but no
`airlock drill` of the resource passed within 30 days. (A resource with no snapshot at all is
the RPO check's finding, `backups.rpo`.)

When `[vault] drill_every` is set, `backups.py` judges every resource's drills against it and
this check stays quiet (one finding per fact): it is what expects drills of production when
nobody configured an interval."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airlock.doctor.backups import PROTECTABLE
from airlock.doctor.context import Doctor
from airlock.doctor.report import Finding, Severity

DEFAULT_WITHIN = timedelta(days=30)


def check_drills(doc: Doctor, within: timedelta = DEFAULT_WITHIN) -> list[Finding]:
    config = doc.config
    if config is None or not config.vault.enabled or config.vault.drill_every is not None:
        return []  # `backups` reports these (with the reason), or judges drills itself
    production = [r for r in config.resources.values() if r.kind in PROTECTABLE
                  and config.environment(r.environment).production]
    if not production:
        return []
    state = doc.state
    if state is None:
        return [Finding("drills", Severity.INFO, "could not read past drills",
                        (doc.state_problem,), "run `sudo airlock doctor`")]
    now = doc.now()
    drills: dict[str, Any] = state["drills"]
    snapshots: dict[str, str] = state["snapshots"]
    evidence = []
    for res in production:
        if res.name not in snapshots:
            continue  # nothing to drill yet
        seen = drills.get(res.name, {})
        last_ok = seen.get("last_ok") or None
        if last_ok is not None and now - datetime.fromisoformat(last_ok) <= within:
            continue
        evidence.append(_evidence(res.name, res.environment, last_ok, seen.get("last") or None,
                                  now))
    if not evidence:
        return []
    return [Finding(
        "drills.production", Severity.WARNING,
        f"{len(evidence)} production resource(s) have no successful restore drill within "
        f"{_days(within)}: nobody knows their backups restore", tuple(evidence),
        "run `airlock drill RESOURCE` (restores each kind of snapshot into a scratch target and "
        "checks rows and hashes); `airlock runbook RESOURCE` shows how to restore it")]


def _evidence(name: str, env: str, last_ok: str | None, last: str | None,
              now: datetime) -> str:
    text = f"{name} ({env}): "
    text += (f"last successful drill {(now - datetime.fromisoformat(last_ok)).days} days ago "
             f"({last_ok})" if last_ok else "never successfully drilled")
    if last is not None and last != last_ok:
        text += f"; the last drill, {last}, FAILED"
    return text


def _days(delta: timedelta) -> str:
    return f"{delta.days} days" if delta.days and not delta.seconds else str(delta)
