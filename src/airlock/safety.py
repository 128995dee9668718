"""The safety net: before a destructive action runs, protect exactly what it destroys.

A `SafetyNet` first *plans* (shown to approvers: which backup will be taken of what, and what
cannot be protected), then *protects* (takes and verifies the backups). `protect` raising means
the action does not run; otherwise its `Protection` says what was taken and what the executor
must hold the action to (a DELETE must touch exactly the rows whose before-image was taken).
The runtime's net is the vault's (`vault/net.py`); `NoVault` plans nothing and says so, so
approvers see that no backup will exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from airlock.model import Action, Assessment, ResolvedTarget, Risk, new_id

# The method of a step that holds an approved call and carries it out after a grace period.
DEFERRED_METHOD = "deferred-delete"


@dataclass(frozen=True, slots=True)
class TableReach:
    """One table a DELETE/UPDATE reaches, with the planner's estimate of the rows it touches
    there (the statement's own table at depth 0, then what ON DELETE/UPDATE cascades reach).
    In the plan's JSON: `steps[].tables = [{"table", "rows", "bytes", "how", "depth"}]`."""

    table: str  # schema.table
    rows: int
    bytes: int
    how: str  # delete | update | set-null | set-default
    depth: int

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "rows": self.rows, "bytes": self.bytes, "how": self.how,
                "depth": self.depth}


@dataclass(frozen=True, slots=True)
class ProtectionStep:
    target: str
    resource: str | None
    method: str  # e.g. "postgres-table-dump", "sqlite-backup", "deferred-delete"
    detail: str = ""
    tables: tuple[TableReach, ...] = ()  # a rows step: every table reached, with estimates


@dataclass(frozen=True, slots=True)
class SafetyPlan:
    steps: tuple[ProtectionStep, ...] = ()
    unprotected: tuple[tuple[str, str], ...] = ()  # (target, why it cannot be protected)

    @property
    def complete(self) -> bool:
        return not self.unprotected

    @property
    def defers(self) -> bool:
        """A step turns the action into a deferred one (vault/deferred.py): it does not run now."""
        return any(s.method == DEFERRED_METHOD for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {"steps": [{"target": s.target, "resource": s.resource, "method": s.method,
                           "detail": s.detail, "tables": [t.to_json() for t in s.tables]}
                          for s in self.steps],
                "unprotected": [{"target": t, "why": why} for t, why in self.unprotected]}


@dataclass(frozen=True, slots=True)
class Protection:
    """What `protect` did, for the outcome and the executor."""

    ids: tuple[str, ...] = ()  # snapshots (or deferrals) taken, in plan order
    # A DELETE/UPDATE whose rows were captured must touch exactly that many rows, or roll back.
    expected_rows: int | None = None
    # Protection already did what the action asked (a soft drop moved the table): do not run it.
    done: bool = False


class SafetyNet(Protocol):
    def plan(self, action: Action, assessment: Assessment,
             targets: Sequence[ResolvedTarget]) -> SafetyPlan: ...

    def protect(self, action: Action, plan: SafetyPlan) -> Protection:
        """Take and verify every planned backup, or raise."""
        ...


def destroyed_targets(assessment: Assessment) -> list[str]:
    """Keys of the targets of effects that destroy (or might: unknown), in order."""
    keys: list[str] = []
    for effect in assessment.effects:
        if effect.risk.at_least(Risk.DESTRUCTIVE):
            key = effect.target.key if effect.target else "(the action as a whole)"
            if key not in keys:
                keys.append(key)
    return keys


class NoVault:
    """No snapshotters configured: every destroyed target is unprotected, and says why."""

    def plan(self, action: Action, assessment: Assessment,
             targets: Sequence[ResolvedTarget]) -> SafetyPlan:
        why = "no vault snapshotter is configured for it, so no backup can be taken"
        return SafetyPlan((), tuple((key, why) for key in destroyed_targets(assessment)))

    def protect(self, action: Action, plan: SafetyPlan) -> Protection:
        if plan.steps:
            raise RuntimeError("NoVault cannot carry out a plan with protection steps")
        return Protection()


@dataclass
class RecordingSafetyNet:
    """Twin for tests: plans a step per destroyed target, records what it protected, and fails
    on demand."""

    fail_with: str | None = None
    protected: list[tuple[str, SafetyPlan]] = field(default_factory=list)

    def plan(self, action: Action, assessment: Assessment,
             targets: Sequence[ResolvedTarget]) -> SafetyPlan:
        return SafetyPlan(tuple(ProtectionStep(key, None, "test-snapshot")
                                for key in destroyed_targets(assessment)))

    def protect(self, action: Action, plan: SafetyPlan) -> Protection:
        if self.fail_with:
            raise RuntimeError(self.fail_with)
        self.protected.append((action.id, plan))
        return Protection(tuple(new_id("snap") for _ in plan.steps))
