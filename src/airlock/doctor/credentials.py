"""Credentials the agent could read: the workspace, the home folder (scanned as the agent's
user, so only what it can open counts) and the environment of its processes."""

from __future__ import annotations

import os
from pathlib import Path

from airlock.credentials.importer import default_roots
from airlock.credentials.scan import Finding as Found
from airlock.credentials.scan import ScanResult, scan, scan_environment
from airlock.doctor.context import Doctor
from airlock.doctor.report import Finding, Severity
from airlock.errors import AirlockError
from airlock.setup.system import OsUser

MAX_EVIDENCE = 20


def check_credentials(doc: Doctor) -> list[Finding]:
    findings: list[Finding] = []
    for agent in doc.agents:
        roots = default_roots(agent, doc.workspaces)
        try:
            result = _scan(doc, agent, roots)
        except AirlockError as exc:
            findings.append(Finding("credentials.files", Severity.INFO,
                                    f"could not scan {agent.name}'s files: {exc.message}", (),
                                    "run `sudo airlock doctor` on a machine set up with "
                                    "`sudo airlock setup`"))
            result = None
        if result is not None:
            findings += _file_findings(agent, result)
        findings += _environment_findings(agent)
    return findings


def _scan(doc: Doctor, agent: OsUser, roots: list[Path]) -> ScanResult:
    if os.geteuid() == agent.uid:
        return scan(roots, home=agent.home)
    if not doc.can_act_as(agent):
        raise AirlockError(f"scanning as {agent.name} needs root and airlock's installed "
                           "interpreter")
    return ScanResult.from_json(doc.as_agent(agent, {
        "op": "scan", "roots": [str(r) for r in roots], "home": str(agent.home)}))


def _file_findings(agent: OsUser, result: ScanResult) -> list[Finding]:
    movable = [f for f in result.findings if f.custody is not None]
    other = [f for f in result.findings if f.custody is None]
    found: list[Finding] = []
    if movable:
        found.append(Finding(
            "credentials.files", Severity.CRITICAL,
            f"{len(movable)} credential(s) that reach real systems are readable by "
            f"{agent.name}, the agent's user",
            _evidence(movable),
            f"`sudo airlock credentials import --developer {agent.name}` moves them into "
            "airlock's custody (each confirmed; the originals are kept); then rotate them"))
    if other:
        found.append(Finding(
            "credentials.other", Severity.WARNING,
            f"{len(other)} other credential(s) or key file(s) are readable by {agent.name}",
            _evidence(other),
            "airlock's hooks deny agents reading these, but anything else the agent starts can: "
            "move them out of reach (a password manager, an agent with a passphrase) or delete "
            "the ones no longer needed"))
    return found


def _evidence(found: list[Found]) -> tuple[str, ...]:
    lines = [f"{f.where}: {f.kind}" + (f" ({f.key})" if f.key else "") for f in found]
    if len(lines) > MAX_EVIDENCE:
        lines = [*lines[:MAX_EVIDENCE], f"… and {len(lines) - MAX_EVIDENCE} more"]
    return tuple(lines)


def _environment_findings(agent: OsUser) -> list[Finding]:
    environs = _environments(agent)
    found: list[Found] = []
    seen: set[str] = set()
    for where, environ in environs:
        for finding in scan_environment(environ, where):
            name = finding.key or finding.path
            if name not in seen:
                seen.add(name)
                found.append(finding)
    if not found:
        return []
    return [Finding("credentials.environment", Severity.CRITICAL,
                    f"{len(found)} credential(s) in the environment of {agent.name}'s processes",
                    _evidence(found),
                    "remove them from shell start-up files and the agents' launch environment; "
                    "give agents airlock tokens instead (`airlock token create`), and hand the "
                    "real credential to airlock (`sudo airlock credentials import`)")]


def _environments(agent: OsUser) -> list[tuple[str, dict[str, str]]]:
    """This process's environment when we are the agent; as root, every process of theirs."""
    if os.geteuid() == agent.uid:
        return [("", dict(os.environ))]
    if os.geteuid() != 0:
        return []
    found: list[tuple[str, dict[str, str]]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != agent.uid:
                continue
            raw = (entry / "environ").read_bytes()
        except OSError:
            continue
        pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
        found.append((f" (process {entry.name})",
                      {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}))
    return found
