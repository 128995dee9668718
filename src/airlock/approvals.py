"""Approvals: a held action waits for humans, and an approval lets exactly that action through once.

An approval is bound to the action's *digest*: its kind, normalised content, principal, working
directory, context and resolved targets. The same action retried produces the same digest and
can redeem the approval; anything else — another command, another principal, another target —
produces another digest and is held again.

Rules enforced here (the console and CLI of the approvals issue build on them):
- only humans approve; an agent's approval is refused;
- nobody approves their own request, and one human counts once towards N;
- an approval is used at most once (compare-and-set on the stored version), and not after it
  expires.

Given an audit log, `decide` records every approval (`approval_given`), denial
(`approval_denied`) and refusal (`approval_refused`, with a `why`); the fronts that authenticate
approvers (`decisions.ApprovalDesk`) always give it one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from airlock.audit import AuditLog
from airlock.errors import ApprovalError
from airlock.model import (
    Action,
    Assessment,
    Decision,
    Principal,
    PrincipalKind,
    ResolvedTarget,
    canonical_json,
    id_from_hash,
    sha256_hex,
    utcnow,
)
from airlock.redact import redact_text
from airlock.store import ApprovalRecord, ApprovalStatus, Grant, Store

DEFAULT_TTL = timedelta(minutes=15)


def action_digest(action: Action, targets: Sequence[ResolvedTarget],
                  inputs: Sequence[tuple[str, str]] = ()) -> str:
    """What an approval is bound to. The action id and time are left out on purpose: the
    retry of an approved action is a new action with the same meaning. `inputs` are the files
    the judgement read (`Assessment.inputs`: a script and its digest): what was judged is what
    runs, so a script edited after its approval makes a new action."""
    bound: dict[str, Any] = {
        "content": action.content(),
        "principal": action.principal,
        "front": action.front,
        "context": action.context.canonical(),
        "targets": sorted({f"{t.target.key}@{t.resource or ''}" for t in targets}),
    }
    if inputs:  # absent otherwise, so digests of actions that read no file are unchanged
        bound["inputs"] = sorted([path, state] for path, state in inputs)
    return sha256_hex(canonical_json(bound))


class Approvals(Protocol):
    def get(self, approval_id: str) -> ApprovalRecord | None:
        """The approval as stored now (decisions may come from another process)."""
        ...

    def redeemable(self, digest: str, now: datetime) -> ApprovalRecord | None:
        """An approved, unused, unexpired approval for this digest."""
        ...

    def redeem(self, approval: ApprovalRecord, action_id: str, now: datetime) -> bool:
        """Spend the approval; False when it was spent (or changed) by someone else first."""
        ...

    def request(self, action: Action, digest: str, assessment: Assessment,
                targets: Sequence[ResolvedTarget], decision: Decision,
                details: Mapping[str, Any], now: datetime) -> ApprovalRecord:
        """The pending approval for this digest, created if there is none."""
        ...


class StoreApprovals:
    """Approvals kept in the state store (the in-memory store makes it a twin for tests)."""

    def __init__(self, store: Store, ttl: timedelta = DEFAULT_TTL, *,
                 audit: _Attaching | None = None) -> None:
        self.store = store
        self.ttl = ttl
        # With the audit log over the same store: a new approval is written in the same
        # transaction as the records of the call it holds (one commit per held call).
        self.audit = audit

    def get(self, approval_id: str) -> ApprovalRecord | None:
        return self.store.get_approval(approval_id)

    def redeemable(self, digest: str, now: datetime) -> ApprovalRecord | None:
        for approval in self.store.list_approvals(status=ApprovalStatus.APPROVED, digest=digest):
            if datetime.fromisoformat(approval.expires_at) > now:
                return approval
        return None

    def redeem(self, approval: ApprovalRecord, action_id: str, now: datetime) -> bool:
        if approval.status is not ApprovalStatus.APPROVED:
            return False
        if datetime.fromisoformat(approval.expires_at) <= now:
            return False
        spent = approval.next_version(status=ApprovalStatus.USED, used_at=now.isoformat(),
                                      used_by_action=action_id)
        return self.store.update_approval(spent)

    def request(self, action: Action, digest: str, assessment: Assessment,
                targets: Sequence[ResolvedTarget], decision: Decision,
                details: Mapping[str, Any], now: datetime) -> ApprovalRecord:
        # One pending approval per digest, even when two holds of the same action race (two
        # threads, two processes, two replicas): the new approval's id is derived from the
        # digest and the approvals it had so far, so racers that saw the same history make the
        # same id, and the store keeps the first row of an id (the others are not added). A
        # racer that looks after the row is stored finds it pending. The id is fixed before
        # anything is written, so the held call's audit records may name it and commit with it.
        history = self.store.list_approvals(digest=digest, limit=HISTORY)
        for known in history:
            if known.status is ApprovalStatus.PENDING and \
                    datetime.fromisoformat(known.expires_at) > now:
                return known
        record = ApprovalRecord(
            id=next_approval_id(digest, [a.id for a in history]), action_id=action.id,
            digest=digest, principal=action.principal,
            summary=redact_text(action.summary()), risk=assessment.risk,
            approvals_required=max(1, decision.approvals_required),
            requested_at=now.isoformat(), expires_at=(now + self.ttl).isoformat(),
            details=dict(details))
        if self.audit is not None and self.audit.attach_approval(record):
            return record  # inserted with the records of the hold, unless a racer's was first
        return self.store.add_approval_once(record)


# How many of a digest's approvals (newest first) make the next one's id. Any approval added
# for the digest changes the set, so a denied, used or expired approval is never named again.
HISTORY = 100


def next_approval_id(digest: str, history: Sequence[str]) -> str:
    """The id of the next approval for `digest`, given the ids of the ones it has (newest
    first): the same for every caller that saw the same history, new once one was added."""
    return id_from_hash("apr", sha256_hex(canonical_json({"digest": digest,
                                                          "after": sorted(history)})))


class _Attaching(Protocol):
    def attach_approval(self, approval: ApprovalRecord) -> bool: ...


def effective_status(approval: ApprovalRecord, now: datetime) -> ApprovalStatus:
    """The status as of `now`: a pending or approved record past its expiry is expired even
    before anyone has marked it so."""
    if approval.status in (ApprovalStatus.PENDING, ApprovalStatus.APPROVED) and \
            datetime.fromisoformat(approval.expires_at) <= now:
        return ApprovalStatus.EXPIRED
    return approval.status


def decide(store: Store, approval_id: str, approver: Principal, *, approve: bool,
           reason: str = "", now: datetime | None = None,
           use_window: timedelta = DEFAULT_TTL, audit: AuditLog | None = None,
           via: str = "", without_backup: bool = False) -> ApprovalRecord:
    """Record one human's approval or denial. Returns the approval as stored afterwards.

    Authentication of the approver (credential + TOTP) happens before this is called; this
    function enforces what no authentication can make right: kind, self-approval, duplicates,
    expiry and state — and that approving an action part of which no backup can protect says
    so by name (`without_backup`: `--without-backup`, the console's checkbox). With `audit`,
    the decision or the refusal is recorded (`via` names the path: console, cli, api).
    """
    now = now or utcnow()
    decision = "approve" if approve else "deny"

    def refuse(why: str, approval: ApprovalRecord | None, message: str,
               hint: str | None = None) -> ApprovalError:
        if audit is not None:
            audit.record("approval_refused", approval.action_id if approval else None,
                         {"approval_id": approval_id, "approver": approver.name,
                          "approver_kind": approver.kind.value, "decision": decision,
                          "why": why, "via": via, "message": message})
        return ApprovalError(message, hint=hint)

    for _attempt in range(5):  # compare-and-set retries against concurrent approvers
        approval = store.get_approval(approval_id)
        if approval is None:
            raise refuse("unknown_approval", None, f"no approval {approval_id}",
                         hint="list pending approvals with `airlock approvals`")
        if approver.kind is not PrincipalKind.HUMAN:
            raise refuse("not_human", approval,
                         f"{approver.name} is an agent; only humans can approve or deny")
        if approver.name == approval.principal:
            raise refuse("own_request", approval,
                         f"{approver.name} requested this action and cannot approve it")
        if approval.status is not ApprovalStatus.PENDING:
            raise refuse(f"already_{approval.status.value}", approval,
                         f"approval {approval_id} is {approval.status.value}, not pending")
        if datetime.fromisoformat(approval.expires_at) <= now:
            expired = approval.next_version(status=ApprovalStatus.EXPIRED)
            store.update_approval(expired)
            raise refuse("expired", approval,
                         f"approval {approval_id} expired at {approval.expires_at}",
                         hint="the agent must retry the action to request a new approval")
        if any(g.approver == approver.name for g in approval.grants):
            raise refuse("already_decided", approval,
                         f"{approver.name} already decided on {approval_id}; "
                         f"another person must give the next approval")
        if approve and approval.unprotected and not without_backup:
            raise refuse("backup_not_accepted", approval, without_backup_message(approval),
                         hint=WITHOUT_BACKUP_HINT)
        grant = Grant(approver.name, now.isoformat(), "approve" if approve else "deny", reason,
                      without_backup=bool(approve and approval.unprotected and without_backup))
        grants = (*approval.grants, grant)
        if not approve:
            updated = approval.next_version(status=ApprovalStatus.DENIED, grants=grants,
                                            decided_at=now.isoformat(), reason=reason)
        elif sum(g.decision == "approve" for g in grants) >= approval.approvals_required:
            # From the moment it is approved, the agent has a fresh window to retry.
            updated = approval.next_version(status=ApprovalStatus.APPROVED, grants=grants,
                                            decided_at=now.isoformat(),
                                            expires_at=(now + use_window).isoformat())
        else:
            updated = approval.next_version(grants=grants)
        if store.update_approval(updated):
            if audit is not None:
                audit.record("approval_given" if approve else "approval_denied",
                             approval.action_id,
                             {"approval_id": approval_id, "approver": approver.name,
                              "reason": reason, "via": via, "status": updated.status.value,
                              "without_backup": grant.without_backup,
                              "approvals": sum(g.decision == "approve" for g in grants),
                              "approvals_required": updated.approvals_required,
                              "digest": updated.digest})
            return updated
    raise refuse("busy", None, f"approval {approval_id} kept changing while recording the "
                 "decision; try again")


WITHOUT_BACKUP_HINT = ("if you accept that nothing can undo it, approve with --without-backup "
                       "(in the console: tick \"Run without a backup\")")


def without_backup_message(approval: ApprovalRecord) -> str:
    gaps = "; ".join(f"{u.get('target')}: {u.get('why')}" for u in approval.unprotected[:3])
    return (f"approval {approval.id} would let the action run without a backup of what it "
            f"destroys ({gaps})")

