"""In-memory twin of the state store, for unit tests. Same contract, no persistence."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace

from airlock.audit import AuditRecord
from airlock.store.records import ApprovalRecord, ApprovalStatus, TokenRecord


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tokens: dict[str, TokenRecord] = {}
        self.approvals: dict[str, ApprovalRecord] = {}
        self.audit: list[AuditRecord] = []

    def add_token(self, token: TokenRecord) -> None:
        with self._lock:
            if token.id in self.tokens:
                raise KeyError(token.id)
            self.tokens[token.id] = token

    def get_token(self, token_id: str) -> TokenRecord | None:
        return self.tokens.get(token_id)

    def list_tokens(self) -> list[TokenRecord]:
        return sorted(self.tokens.values(), key=lambda t: (t.created_at, t.id))

    def revoke_token(self, token_id: str, at: str) -> bool:
        with self._lock:
            token = self.tokens.get(token_id)
            if token is None or token.revoked_at is not None:
                return False
            self.tokens[token_id] = replace(token, revoked_at=at)
            return True

    def add_approval(self, approval: ApprovalRecord) -> None:
        with self._lock:
            if approval.id in self.approvals:
                raise KeyError(approval.id)
            self.approvals[approval.id] = approval

    def get_approval(self, approval_id: str) -> ApprovalRecord | None:
        return self.approvals.get(approval_id)

    def list_approvals(self, *, status: ApprovalStatus | None = None, digest: str | None = None,
                       limit: int = 100) -> list[ApprovalRecord]:
        found = [a for a in self.approvals.values()
                 if (status is None or a.status is status) and (digest is None or a.digest == digest)]
        found.sort(key=lambda a: (a.requested_at, a.id), reverse=True)
        return found[:limit]

    def update_approval(self, approval: ApprovalRecord) -> bool:
        with self._lock:
            current = self.approvals.get(approval.id)
            if current is None or current.version != approval.version - 1:
                return False
            self.approvals[approval.id] = approval
            return True

    def append_audit(self, make: Callable[[AuditRecord | None], AuditRecord]) -> AuditRecord:
        with self._lock:
            record = make(self.audit[-1] if self.audit else None)
            self.audit.append(record)
            return record

    def audit_records(self, after: int = 0) -> Iterator[AuditRecord]:
        return iter([r for r in self.audit if r.seq > after])

    def close(self) -> None:
        pass
