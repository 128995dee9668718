"""The approval desk: the one door through which a human's decision reaches an approval.

Every approval path — the console, `airlock approve|deny`, the console's JSON endpoint for
scripts — comes here: authenticate the approver (credential and a fresh TOTP code, or a console
session plus a fresh code to approve), then `approvals.decide`, which enforces the binding rules.
Whatever is refused on the way is recorded in the audit log with a stable `why`, including an
agent token presented where only a human may speak.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from airlock import approvers
from airlock.approvals import WITHOUT_BACKUP_HINT, decide, without_backup_message
from airlock.approvers import ApproverAuthError
from airlock.audit import AuditLog
from airlock.config import Config
from airlock.errors import ApprovalError, InputError
from airlock.model import Principal, utcnow
from airlock.store import ApprovalRecord, Store
from airlock.tokens import TOKEN_RE

MAX_REASON = 2000


class ApprovalDesk:
    def __init__(self, *, store: Store, config: Config, audit: AuditLog, approvals_key: bytes,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.config = config
        self.audit = audit
        self.approvals_key = approvals_key
        self.clock = clock

    # ---- who is deciding --------------------------------------------------------------------

    def authenticate(self, credential: str, code: str, *, via: str, name: str | None = None,
                     client: str | None = None, approval_id: str | None = None) -> Principal:
        """An approver from their credential and a fresh TOTP code; refusals are recorded."""
        try:
            return approvers.authenticate(self.store, self.config, self.approvals_key,
                                          credential, code, name=name, now=self.clock())
        except ApproverAuthError as exc:
            self.record_refusal(exc, via=via, client=client, approval_id=approval_id)
            raise

    def confirm(self, name: str, code: str, *, via: str, client: str | None = None,
                approval_id: str | None = None) -> Principal:
        """A signed-in approver's fresh TOTP code (the step-up before approving)."""
        try:
            return approvers.confirm_code(self.store, self.config, self.approvals_key, name,
                                          code, now=self.clock())
        except ApproverAuthError as exc:
            self.record_refusal(exc, via=via, client=client, approval_id=approval_id)
            raise

    def refuse_agent_token(self, token: str, *, via: str, client: str | None = None,
                           approval_id: str | None = None) -> ApproverAuthError:
        """An agent token presented on an approval path: record it, return the error to raise."""
        match = TOKEN_RE.match(token.strip())
        error = ApproverAuthError("agent_token", "agent tokens can never approve or deny",
                                  token_id=match.group(1) if match else None)
        self.record_refusal(error, via=via, client=client, approval_id=approval_id)
        return error

    def record_refusal(self, exc: ApproverAuthError, *, via: str, client: str | None,
                       approval_id: str | None) -> None:
        approval = self.store.get_approval(approval_id) if approval_id else None
        data: dict[str, Any] = {"why": exc.why, "via": via, "approver": exc.name,
                                "approval_id": approval_id, "client": client,
                                "message": exc.message}
        if exc.token_id:
            data["token"] = exc.token_id  # the id only: the secret never reaches the log
        self.audit.record("approval_refused", approval.action_id if approval else None, data)

    # ---- deciding ---------------------------------------------------------------------------

    def decide(self, approval_id: str, approver: Principal, *, approve: bool, reason: str,
               via: str, without_backup: bool = False) -> ApprovalRecord:
        """`without_backup`: the approver accepted by name that part of the action runs with
        no backup (required when the stored plan says none can be taken; recorded)."""
        reason = clean_reason(reason, approve=approve)
        return decide(self.store, approval_id, approver, approve=approve, reason=reason,
                      now=self.clock(), use_window=self.config.approvals.use_window,
                      audit=self.audit, via=via, without_backup=without_backup)

    def decide_with_code(self, approval_id: str, credential: str, code: str, *, approve: bool,
                         reason: str, via: str, client: str | None = None,
                         without_backup: bool = False) -> ApprovalRecord:
        """What scripts and the CLI do: authenticate and decide in one step."""
        clean_reason(reason, approve=approve)  # before a code is spent on a doomed request
        if approve and not without_backup and not TOKEN_RE.match(credential.strip()):
            self.require_backup_accepted(approval_id)  # (an agent token is refused by name)
        approver = self.authenticate(credential, code, via=via, client=client,
                                     approval_id=approval_id)
        return self.decide(approval_id, approver, approve=approve, reason=reason, via=via,
                           without_backup=without_backup)

    def require_backup_accepted(self, approval_id: str) -> None:
        """Before a code is spent: approving this needs `without_backup`, and it was not given."""
        approval = self.store.get_approval(approval_id)
        if approval is not None and approval.unprotected:
            raise ApprovalError(without_backup_message(approval), hint=WITHOUT_BACKUP_HINT)


def clean_reason(reason: str, *, approve: bool) -> str:
    """One line, bounded; a denial must say why (the agent is told, and so is its human)."""
    reason = " ".join(reason.split())
    if len(reason) > MAX_REASON:
        raise InputError(f"the reason is longer than {MAX_REASON} characters; shorten it")
    if not approve and not reason:
        raise InputError("a denial needs a reason: it is what the agent is told",
                         hint="say what to do instead, e.g. --reason 'use a migration'")
    return reason
