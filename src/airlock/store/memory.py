"""In-memory twin of the state store, for unit tests. Same contract, no persistence."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import replace

from airlock.audit import AuditRecord, ChainHead
from airlock.store.records import (
    ApprovalRecord,
    ApprovalStatus,
    ApproverRecord,
    AwsKeyRecord,
    DeferredRecord,
    DeferredStatus,
    OutboxItem,
    OutboxStatus,
    SnapshotRecord,
    TokenRecord,
)


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tokens: dict[str, TokenRecord] = {}
        self.approvals: dict[str, ApprovalRecord] = {}
        self.audit: list[AuditRecord] = []
        self.approvers: dict[str, ApproverRecord] = {}
        self.outbox: dict[str, OutboxItem] = {}
        self.snapshots: dict[str, SnapshotRecord] = {}
        self.deferred: dict[str, DeferredRecord] = {}
        self.aws_keys: dict[str, AwsKeyRecord] = {}
        self.meta: dict[str, str] = {}

    def add_aws_key(self, key: AwsKeyRecord) -> None:
        with self._lock:
            if key.access_key_id in self.aws_keys:
                raise KeyError(key.access_key_id)
            self.aws_keys[key.access_key_id] = key

    def get_aws_key(self, access_key_id: str) -> AwsKeyRecord | None:
        return self.aws_keys.get(access_key_id)

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

    def tokens_version(self) -> object | None:
        # Every token write replaces a record or adds one: the records' identities are the
        # version (a test that edits `tokens` directly is seen too).
        with self._lock:
            return tuple(map(id, self.tokens.values()))

    def add_approval(self, approval: ApprovalRecord) -> None:
        with self._lock:
            if approval.id in self.approvals:
                raise KeyError(approval.id)
            self.approvals[approval.id] = approval

    def add_approval_once(self, approval: ApprovalRecord) -> ApprovalRecord:
        with self._lock:
            return self.approvals.setdefault(approval.id, approval)

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

    def add_approver(self, approver: ApproverRecord) -> None:
        with self._lock:
            if approver.name in self.approvers:
                raise KeyError(approver.name)
            self.approvers[approver.name] = approver

    def get_approver(self, name: str) -> ApproverRecord | None:
        return self.approvers.get(name)

    def list_approvers(self) -> list[ApproverRecord]:
        return sorted(self.approvers.values(), key=lambda a: a.name)

    def update_approver(self, approver: ApproverRecord) -> bool:
        with self._lock:
            current = self.approvers.get(approver.name)
            if current is None or current.version != approver.version - 1:
                return False
            self.approvers[approver.name] = approver
            return True

    def remove_approver(self, name: str) -> bool:
        with self._lock:
            return self.approvers.pop(name, None) is not None

    def add_outbox(self, item: OutboxItem) -> None:
        with self._lock:
            self.outbox.setdefault(item.id, item)

    def due_outbox(self, now: str, limit: int = 20) -> list[OutboxItem]:
        due = [i for i in self.outbox.values()
               if i.status is OutboxStatus.PENDING and i.due_at <= now]
        due.sort(key=lambda i: (i.due_at, i.id))
        return due[:limit]

    def update_outbox(self, item: OutboxItem) -> bool:
        with self._lock:
            current = self.outbox.get(item.id)
            if current is None or current.version != item.version - 1:
                return False
            self.outbox[item.id] = item
            return True

    def append_audit(self, make: Callable[[ChainHead | None], AuditRecord]) -> AuditRecord:
        return self.append_audit_many(lambda prev: [make(prev)])[0]

    def append_audit_many(self, make: Callable[[ChainHead | None], Sequence[AuditRecord]], *,
                          approvals: Sequence[ApprovalRecord] = (), sync: bool = True
                          ) -> list[AuditRecord]:
        with self._lock:
            records = list(make(self.audit[-1] if self.audit else None))
            for approval in approvals:  # the first of an id stands (as add_approval_once)
                self.approvals.setdefault(approval.id, approval)
            self.audit.extend(records)
            return records

    def sync(self) -> None:
        pass  # nothing here outlives the process

    def audit_records(self, after: int = 0, kinds: Collection[str] | None = None
                      ) -> Iterator[AuditRecord]:
        return iter([r for r in self.audit
                     if r.seq > after and (kinds is None or r.kind in kinds)])

    def audit_head(self) -> AuditRecord | None:
        return self.audit[-1] if self.audit else None

    def get_meta(self, key: str) -> str | None:
        return self.meta.get(key)

    def put_meta(self, key: str, value: str, *, expected: str | None) -> bool:
        with self._lock:
            if self.meta.get(key) != expected:
                return False
            self.meta[key] = value
            return True

    def check(self) -> list[str]:
        return []

    def add_snapshot(self, snapshot: SnapshotRecord) -> None:
        with self._lock:
            if snapshot.id in self.snapshots:
                raise KeyError(snapshot.id)
            self.snapshots[snapshot.id] = snapshot

    def get_snapshot(self, snapshot_id: str) -> SnapshotRecord | None:
        return self.snapshots.get(snapshot_id)

    def list_snapshots(self, *, resource: str | None = None, action_id: str | None = None,
                       limit: int = 1000) -> list[SnapshotRecord]:
        found = [s for s in self.snapshots.values()
                 if (resource is None or s.resource == resource)
                 and (action_id is None or s.action_id == action_id)]
        found.sort(key=lambda s: (s.created_at, s.id), reverse=True)
        return found[:limit]

    def update_snapshot(self, snapshot: SnapshotRecord) -> bool:
        with self._lock:
            if snapshot.id not in self.snapshots:
                return False
            self.snapshots[snapshot.id] = snapshot
            return True

    def add_deferred(self, deferred: DeferredRecord) -> None:
        with self._lock:
            if deferred.id in self.deferred:
                raise KeyError(deferred.id)
            self.deferred[deferred.id] = deferred

    def get_deferred(self, deferred_id: str) -> DeferredRecord | None:
        return self.deferred.get(deferred_id)

    def list_deferred(self, *, status: DeferredStatus | None = None,
                      limit: int = 1000) -> list[DeferredRecord]:
        found = [d for d in self.deferred.values() if status is None or d.status is status]
        found.sort(key=lambda d: (d.due_at, d.id))
        return found[:limit]

    def update_deferred(self, deferred: DeferredRecord) -> bool:
        with self._lock:
            current = self.deferred.get(deferred.id)
            if current is None or current.version != deferred.version - 1:
                return False
            self.deferred[deferred.id] = deferred
            return True

    def close(self) -> None:
        pass
