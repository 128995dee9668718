"""Backups that would not survive what they back up, are too old, or were never proved.

    same filesystem  a local vault on the disk of a path or SQLite resource it protects
    same volume      a resource that `backs_up` another, where losing one resource (through
                     `stored_on`) loses both — the incident's volume that held its own backups
    same account     the vault's S3 bucket is itself a resource (agents reaching it reach the
                     backups), or the vault uses a resource's own credential
    RPO              a resource's newest snapshot older than `[vault] rpo`, or none at all
    drills           no passing `airlock drill` of a resource within `[vault] drill_every`
"""

from __future__ import annotations

import os
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from airlock.config import Config, Resource
from airlock.doctor.context import Doctor
from airlock.doctor.report import Finding, Severity
from airlock.model import PrincipalKind

PROTECTABLE = ("postgres", "sqlite", "path")


def check_backups(doc: Doctor) -> list[Finding]:
    config = doc.config
    if config is None:
        return [Finding("backups", Severity.INFO, "could not check backups from this account",
                        (doc.config_problem,), "run `sudo airlock doctor`")]
    if not config.vault.enabled:
        return [Finding("backups.disabled", Severity.WARNING, "the vault is switched off "
                        "([vault] enabled = false): destructive actions run without a backup",
                        (), "remove `enabled = false` from [vault]")]
    findings = _same_filesystem(config) + _same_volume(config) + _same_account(config)
    if config.vault.rpo is not None or config.vault.drill_every is not None:
        findings += _ages(doc, config)
    return findings


def _device(path: Path) -> int | None:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return os.stat(probe).st_dev
    except OSError:
        return None


def _same_filesystem(config: Config) -> list[Finding]:
    if config.vault.s3_bucket is not None:
        return []
    vault = config.vault.path or config.state_dir / "vault"
    device = _device(vault)
    evidence = [f"{res.name}: {path} and the vault {vault} are on one filesystem"
                for res in config.resources.values() for path in res.paths
                if device is not None and _device(Path(path)) == device]
    if not evidence:
        return []
    return [Finding("backups.same-filesystem", Severity.CRITICAL,
                    "backups would die with the data they protect (same filesystem)",
                    tuple(evidence), "set [vault] path to a folder on another disk, or use an S3 "
                    "bucket with Object Lock ([vault] s3 = { bucket = … })")]


def _dies_with(config: Config) -> dict[str, set[str]]:
    """For each resource, everything lost with it (itself, and what is stored on it, deeply)."""
    lost: dict[str, set[str]] = {}
    for name in config.resources:
        seen, todo = {name}, [name]
        while todo:
            current = todo.pop()
            for other in config.resources.values():
                if current in other.stored_on and other.name not in seen:
                    seen.add(other.name)
                    todo.append(other.name)
        lost[name] = seen
    return lost


def _same_volume(config: Config) -> list[Finding]:
    lost = _dies_with(config)
    evidence = []
    for backup in config.resources.values():
        for data in backup.backs_up:
            for cause, gone in sorted(lost.items()):
                if data in gone and backup.name in gone:
                    evidence.append(f"losing {cause} loses {data} and its backups in {backup.name}")
                    break
    if not evidence:
        return []
    return [Finding("backups.same-volume", Severity.CRITICAL,
                    "backups live on the same volume as the data they back up",
                    tuple(evidence), "move the backups to storage outside the data's blast "
                    "radius (another volume, another account, the airlock vault on S3 with "
                    "Object Lock), then correct stored_on / backs_up")]


def _same_account(config: Config) -> list[Finding]:
    vault = config.vault
    findings: list[Finding] = []
    if vault.s3_bucket is not None:
        key = f"aws:s3:bucket:{vault.s3_bucket}"
        for res in config.resources.values():
            if not any(fnmatchcase(key, s) for s in res.selectors):
                continue
            agents = [p.name for p in config.principals.values()
                      if p.kind is PrincipalKind.AGENT and _reaches(p.scope.resources,
                                                                    p.scope.environments, res)]
            findings.append(Finding(
                "backups.same-account", Severity.CRITICAL if agents else Severity.WARNING,
                f"the vault's bucket {vault.s3_bucket} is also the resource {res.name}"
                + (f", which agents can reach ({', '.join(agents)})" if agents else ""),
                (f"{res.name} claims {key}",),
                "keep the vault in a bucket (ideally an account) no configured resource or "
                "agent reaches"))
        secrets = {s.reveal() for s in (vault.s3_access_key_id, vault.s3_secret_access_key) if s}
        shared = [r.name for r in config.resources.values()
                  if r.credential is not None and r.credential.reveal() in secrets]
        if shared:
            findings.append(Finding(
                "backups.same-account", Severity.WARNING,
                "the vault uses the same credential as a resource it protects",
                tuple(f"{name}'s credential is the vault's" for name in shared),
                "give the vault its own credential, limited to writing that bucket"))
    return findings


def _reaches(resources: tuple[str, ...], environments: tuple[str, ...], res: Resource) -> bool:
    return any(fnmatchcase(res.name, g) for g in resources) and any(
        fnmatchcase(res.environment, g) for g in environments)


def _ages(doc: Doctor, config: Config) -> list[Finding]:
    state = doc.state
    if state is None:
        return [Finding("backups.age", Severity.INFO, "could not read the snapshot catalog",
                        (doc.state_problem,), "run `sudo airlock doctor`")]
    now = doc.now()
    protected = [r for r in config.resources.values() if r.kind in PROTECTABLE]
    findings: list[Finding] = []
    rpo, drill_every = config.vault.rpo, config.vault.drill_every
    if rpo is not None:
        stale = [_age_line(r.name, state["snapshots"].get(r.name), now, "backup")
                 for r in protected if _older(state["snapshots"].get(r.name), now, rpo)]
        if stale:
            findings.append(Finding(
                "backups.rpo", Severity.WARNING,
                f"{len(stale)} resource(s) have no backup newer than the RPO ({rpo})",
                tuple(stale), "take one now (`airlock backup RESOURCE`) and schedule them "
                "(`backup_schedule = \"24h\"` on the resource; `airlock up` takes them)"))
    if drill_every is not None:
        drills: dict[str, Any] = state["drills"]
        undrilled = [_age_line(r.name, drills.get(r.name, {}).get("last_ok") or None, now,
                               "passing drill")
                     for r in protected if r.name in state["snapshots"]
                     and _older(drills.get(r.name, {}).get("last_ok") or None, now, drill_every)]
        if undrilled:
            findings.append(Finding(
                "backups.drill", Severity.WARNING,
                f"{len(undrilled)} resource(s) have no passing restore drill within "
                f"{drill_every}", tuple(undrilled),
                "run `airlock drill RESOURCE` (restores into a scratch target and checks it)"))
    return findings


def _older(when: str | None, now: datetime, limit: Any) -> bool:
    return when is None or now - datetime.fromisoformat(when) > limit


def _age_line(name: str, when: str | None, now: datetime, what: str) -> str:
    if when is None:
        return f"{name}: no {what} ever"
    return f"{name}: newest {what} {now - datetime.fromisoformat(when)} ago ({when})"
