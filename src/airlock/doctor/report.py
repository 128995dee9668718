"""What `airlock doctor` says: findings with a severity, the evidence, and the exact fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    CRITICAL = "critical"  # an agent can get past airlock, or a loss could not be undone
    WARNING = "warning"  # weaker than it should be, or something will not work when needed
    INFO = "info"  # worth knowing; nothing to fix

    @property
    def rank(self) -> int:
        return {"critical": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True, slots=True)
class Finding:
    check: str  # a stable id: "access.keys", "harness.claude", "backups.rpo", …
    severity: Severity
    title: str  # one sentence
    evidence: tuple[str, ...] = ()  # what was seen, line by line
    fix: str = ""  # the exact next step

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "severity": self.severity.value, "title": self.title,
                "evidence": list(self.evidence), "fix": self.fix}


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # the checks that ran

    def add(self, findings: list[Finding]) -> None:
        self.findings.extend(findings)

    @property
    def critical(self) -> bool:
        return any(f.severity is Severity.CRITICAL for f in self.findings)

    @property
    def clean(self) -> bool:
        return not any(f.severity in (Severity.CRITICAL, Severity.WARNING) for f in self.findings)

    def sorted(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: (f.severity.rank, f.check))

    def to_json(self) -> dict[str, Any]:
        counts = {s.value: sum(f.severity is s for f in self.findings) for s in Severity}
        return {"clean": self.clean, "counts": counts, "checked": self.checked,
                "findings": [f.to_json() for f in self.sorted()]}
