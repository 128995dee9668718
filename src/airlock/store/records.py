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
    scram: str | None = None  # SCRAM-SHA-256 verifier for the wire proxy (None: older tokens)

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
    # The approver accepted, by name, that part of the action runs with no backup (the plan
    # stored with the approval said which part and why).
    without_backup: bool = False


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
                        "reason": g.reason, "without_backup": g.without_backup}
                       for g in self.grants],
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

    @property
    def unprotected(self) -> list[dict[str, Any]]:
        """The targets its stored safety plan could not back up ({"target", "why"})."""
        plan = self.details.get("safety_plan") or {}
        return [u for u in plan.get("unprotected") or [] if isinstance(u, dict)]

    @property
    def accepted_without_backup(self) -> bool:
        """Every approval it holds accepted running without a backup."""
        approving = [g for g in self.grants if g.decision == "approve"]
        return bool(approving) and all(g.without_backup for g in approving)


@dataclass(frozen=True, slots=True)
class ApproverRecord:
    """A human who may approve: the hash of their credential and their TOTP seed, encrypted.

    `last_step` is the last TOTP time-step accepted from them: a code is accepted once, so a
    code seen over someone's shoulder (or in a process list) is worthless after its first use.
    `failures` counts consecutive wrong codes given with the right credential; enough of them
    lock the approver out for a while (`locked_until`), which bounds guessing.
    """

    name: str
    credential_hash: str
    seed_box: str  # the TOTP seed, sealed with AES-256-GCM under the approvals key
    created_at: str
    last_step: int = 0
    failures: int = 0
    locked_until: str | None = None
    last_used_at: str | None = None
    version: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "credential_hash": self.credential_hash,
                "seed_box": self.seed_box, "created_at": self.created_at,
                "last_step": self.last_step, "failures": self.failures,
                "locked_until": self.locked_until, "last_used_at": self.last_used_at,
                "version": self.version}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ApproverRecord:
        return cls(name=obj["name"], credential_hash=obj["credential_hash"],
                   seed_box=obj["seed_box"], created_at=obj["created_at"],
                   last_step=int(obj["last_step"]), failures=int(obj["failures"]),
                   locked_until=obj["locked_until"], last_used_at=obj["last_used_at"],
                   version=int(obj["version"]))

    def next_version(self, **changes: Any) -> ApproverRecord:
        return replace(self, version=self.version + 1, **changes)


class OutboxStatus(StrEnum):
    PENDING = "pending"  # to be delivered at `due_at` (again, after a failure)
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the last attempt


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A notification waiting to be delivered. Kept in the store so that retries survive a
    restart, and so a hold created by any process (a hook, the CLI) is announced by the
    service. `payload` is the event as sent, already free of secrets."""

    id: str
    channel: str  # which configured webhook (a digest of its URL, never the URL itself)
    event: str  # e.g. "approval.requested"
    payload: dict[str, Any]
    created_at: str
    due_at: str
    status: OutboxStatus = OutboxStatus.PENDING
    attempts: int = 0
    last_error: str = ""
    delivered_at: str | None = None
    version: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "channel": self.channel, "event": self.event,
                "payload": self.payload, "created_at": self.created_at, "due_at": self.due_at,
                "status": self.status.value, "attempts": self.attempts,
                "last_error": self.last_error, "delivered_at": self.delivered_at,
                "version": self.version}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> OutboxItem:
        return cls(id=obj["id"], channel=obj["channel"], event=obj["event"],
                   payload=obj["payload"], created_at=obj["created_at"], due_at=obj["due_at"],
                   status=OutboxStatus(obj["status"]), attempts=int(obj["attempts"]),
                   last_error=obj["last_error"], delivered_at=obj["delivered_at"],
                   version=int(obj["version"]))

    def next_version(self, **changes: Any) -> OutboxItem:
        return replace(self, version=self.version + 1, **changes)


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    """The catalog's entry for one vault snapshot (vault/catalog.py). The snapshot's manifest in
    the vault is the authority; this row finds it fast and records when it was last verified.
    `digest` is the sha256 of the manifest as stored."""

    id: str
    kind: str
    resource: str
    environment: str
    created_at: str
    size: int
    digest: str
    location: str  # the vault it lives in
    action_id: str | None = None
    retain_until: str | None = None
    summary: str = ""
    last_verified_at: str | None = None
    verify_problem: str = ""  # empty when the last verification passed

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "resource": self.resource,
                "environment": self.environment, "created_at": self.created_at,
                "size": self.size, "digest": self.digest, "location": self.location,
                "action_id": self.action_id, "retain_until": self.retain_until,
                "summary": self.summary, "last_verified_at": self.last_verified_at,
                "verify_problem": self.verify_problem}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SnapshotRecord:
        return cls(id=obj["id"], kind=obj["kind"], resource=obj["resource"],
                   environment=obj["environment"], created_at=obj["created_at"],
                   size=int(obj["size"]), digest=obj["digest"], location=obj["location"],
                   action_id=obj.get("action_id"), retain_until=obj.get("retain_until"),
                   summary=obj.get("summary", ""), last_verified_at=obj.get("last_verified_at"),
                   verify_problem=obj.get("verify_problem", ""))


class DeferredStatus(StrEnum):
    PENDING = "pending"  # waiting for its due time
    CANCELLED = "cancelled"  # a human cancelled it: it never runs
    EXECUTED = "executed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DeferredRecord:
    """An approved destructive call airlock holds and carries out after a grace period, unless a
    human cancels it first (vault/deferred.py). `content` is the action's normalised content
    (`Action.content()`), already redacted of credentials airlock would add itself."""

    id: str
    action_id: str
    principal: str
    resource: str | None
    target: str
    summary: str
    content: dict[str, Any]
    context: dict[str, Any]
    digest: str
    created_at: str
    due_at: str
    status: DeferredStatus = DeferredStatus.PENDING
    decided_by: str | None = None
    decided_at: str | None = None
    result: str = ""
    version: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "action_id": self.action_id, "principal": self.principal,
                "resource": self.resource, "target": self.target, "summary": self.summary,
                "content": self.content, "context": self.context, "digest": self.digest,
                "created_at": self.created_at, "due_at": self.due_at,
                "status": self.status.value, "decided_by": self.decided_by,
                "decided_at": self.decided_at, "result": self.result, "version": self.version}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> DeferredRecord:
        return cls(id=obj["id"], action_id=obj["action_id"], principal=obj["principal"],
                   resource=obj["resource"], target=obj["target"], summary=obj["summary"],
                   content=obj["content"], context=obj["context"], digest=obj["digest"],
                   created_at=obj["created_at"], due_at=obj["due_at"],
                   status=DeferredStatus(obj["status"]), decided_by=obj["decided_by"],
                   decided_at=obj["decided_at"], result=obj["result"],
                   version=int(obj["version"]))

    def next_version(self, **changes: Any) -> DeferredRecord:
        return replace(self, version=self.version + 1, **changes)


@dataclass(frozen=True, slots=True)
class AwsKeyRecord:
    """An AWS-style access key pair airlock issued for a token (fronts/apiproxy/keys.py). Agents
    sign with it (SigV4) instead of real AWS keys. SigV4 is an HMAC, so checking a signature needs
    the secret itself: it is kept sealed with AES-256-GCM under a key derived from the approvals
    key, never in the clear. The token decides who the key speaks for and how far it reaches;
    revoking the token ends the key."""

    access_key_id: str
    token_id: str
    secret_box: str
    created_at: str
