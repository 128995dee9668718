"""Rows of the state store, as immutable values."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from airlock.model import PrincipalKind, Risk, Scope


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An issued token. Only the SHA-256 of its secret is kept; the token itself is shown once."""

    id: str
    principal: str
    principal_kind: PrincipalKind
    scope: Scope
    secret_hash: str
    created_at: str
    revoked_at: str | None = None
    note: str = ""

    def scope_json(self) -> str:
        return json.dumps(self.scope.to_json(), sort_keys=True)

    @staticmethod
    def scope_from_json(text: str) -> Scope:
        obj = json.loads(text)
        expires = obj.get("expires_at")
        return Scope(tuple(obj["environments"]), tuple(obj["resources"]),
                     Risk(obj["max_risk"]),
                     datetime.fromisoformat(expires) if expires else None)


class ApprovalStatus(StrEnum):
    PENDING = "pending"  # waiting for enough humans
    APPROVED = "approved"  # enough humans said yes; the identical action may now pass once
    DENIED = "denied"
    USED = "used"  # the approved action went through; the approval is spent
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Grant:
    approver: str
    at: str
    decision: str = "approve"  # approve | deny
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    """A held action waiting for (or holding) human approval, bound to its digest."""

    id: str
    action_id: str
    digest: str
    principal: str
    summary: str
    risk: Risk
    approvals_required: int
    requested_at: str
    expires_at: str
    status: ApprovalStatus = ApprovalStatus.PENDING
    grants: tuple[Grant, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)  # assessment, targets, decision, plan
    decided_at: str | None = None
    used_at: str | None = None
    used_by_action: str | None = None
    reason: str = ""
    version: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "action_id": self.action_id, "digest": self.digest,
            "principal": self.principal, "summary": self.summary, "risk": self.risk.value,
            "approvals_required": self.approvals_required, "requested_at": self.requested_at,
            "expires_at": self.expires_at, "status": self.status.value,
            "grants": [{"approver": g.approver, "at": g.at, "decision": g.decision,
                        "reason": g.reason} for g in self.grants],
            "details": self.details, "decided_at": self.decided_at, "used_at": self.used_at,
            "used_by_action": self.used_by_action, "reason": self.reason, "version": self.version,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ApprovalRecord:
        return cls(
            id=obj["id"], action_id=obj["action_id"], digest=obj["digest"],
            principal=obj["principal"], summary=obj["summary"], risk=Risk(obj["risk"]),
            approvals_required=obj["approvals_required"], requested_at=obj["requested_at"],
            expires_at=obj["expires_at"], status=ApprovalStatus(obj["status"]),
            grants=tuple(Grant(**g) for g in obj["grants"]), details=obj["details"],
            decided_at=obj["decided_at"], used_at=obj["used_at"],
            used_by_action=obj["used_by_action"], reason=obj["reason"], version=obj["version"])

    def next_version(self, **changes: Any) -> ApprovalRecord:
        return replace(self, version=self.version + 1, **changes)
