"""The state store: tokens, pending approvals and the audit log.

One small interface with three implementations:

    memory.py     in-memory twin for unit tests
    sqlite.py     the embedded default (a WAL-mode SQLite file in the state folder)
    postgres.py   shared state for several airlock replicas

`sqlstore.py` holds what the two SQL stores share; one contract test suite runs against all.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from airlock.audit import AuditRecord, ChainHead
from airlock.errors import ConfigError
from airlock.store.records import (
    ApprovalRecord,
    ApprovalStatus,
    ApproverRecord,
    AwsKeyRecord,
    DeferredRecord,
    DeferredStatus,
    Grant,
    OutboxItem,
    OutboxStatus,
    SnapshotRecord,
    TokenRecord,
)

__all__ = ["ApprovalRecord", "ApprovalStatus", "ApproverRecord", "AwsKeyRecord", "DeferredRecord",
           "DeferredStatus", "Grant", "OutboxItem", "OutboxStatus", "SnapshotRecord", "Store",
           "TokenRecord", "is_local", "open_store"]


class Store(Protocol):
    # tokens
    def add_token(self, token: TokenRecord) -> None: ...
    def get_token(self, token_id: str) -> TokenRecord | None: ...
    def list_tokens(self) -> list[TokenRecord]: ...
    def revoke_token(self, token_id: str, at: str) -> bool: ...
    def tokens_version(self) -> object | None:
        """A value that is different once any token was added or revoked after it was read, by
        this process or another; None when the store cannot tell cheaply (then a cache of tokens
        must read the store every time). See tokens.TokenLookup."""
        ...

    # AWS access keys bound to tokens (fronts/apiproxy/keys.py)
    def add_aws_key(self, key: AwsKeyRecord) -> None:
        """Add a new key; raises if one with that access key id exists."""
        ...
    def get_aws_key(self, access_key_id: str) -> AwsKeyRecord | None: ...

    # approvals
    def add_approval(self, approval: ApprovalRecord) -> None:
        """Add a new approval; raises if one with that id exists."""
        ...
    def add_approval_once(self, approval: ApprovalRecord) -> ApprovalRecord:
        """Add `approval` unless one with its id is stored, atomically (across processes too);
        the approval stored under that id afterwards. Two holds of the same action that raced
        name the same id (approvals.next_approval_id): the first one stored stands."""
        ...
    def get_approval(self, approval_id: str) -> ApprovalRecord | None: ...
    def list_approvals(self, *, status: ApprovalStatus | None = None, digest: str | None = None,
                       limit: int = 100) -> list[ApprovalRecord]: ...
    def update_approval(self, approval: ApprovalRecord) -> bool:
        """Replace the stored approval whose version is `approval.version - 1`; False when
        someone else changed it first (compare-and-set, so single use holds across replicas)."""
        ...

    # approvers (humans who approve; see approvers.py)
    def add_approver(self, approver: ApproverRecord) -> None:
        """Add a new approver; raises if one of that name exists."""
        ...
    def get_approver(self, name: str) -> ApproverRecord | None: ...
    def list_approvers(self) -> list[ApproverRecord]: ...
    def update_approver(self, approver: ApproverRecord) -> bool:
        """Compare-and-set on `version`, like `update_approval`: a TOTP code is accepted once
        even when two requests present it at the same moment."""
        ...
    def remove_approver(self, name: str) -> bool: ...

    # notification outbox (see notify.py)
    def add_outbox(self, item: OutboxItem) -> None:
        """Queue `item`, unless one with its id is queued already (ids derived from what they
        announce make two racing announcements of one thing one: notify.enqueue_event)."""
        ...
    def due_outbox(self, now: str, limit: int = 20) -> list[OutboxItem]:
        """Pending items due at or before `now`, oldest due first."""
        ...
    def update_outbox(self, item: OutboxItem) -> bool:
        """Compare-and-set on `version`: one replica claims an item, the others skip it."""
        ...

    # vault snapshot catalog (see vault/catalog.py)
    def add_snapshot(self, snapshot: SnapshotRecord) -> None: ...
    def get_snapshot(self, snapshot_id: str) -> SnapshotRecord | None: ...
    def list_snapshots(self, *, resource: str | None = None, action_id: str | None = None,
                       limit: int = 1000) -> list[SnapshotRecord]:
        """Newest first."""
        ...
    def update_snapshot(self, snapshot: SnapshotRecord) -> bool:
        """Replace the record with this id (verification results); False if there is none."""
        ...

    # deferred destructive calls (see vault/deferred.py)
    def add_deferred(self, deferred: DeferredRecord) -> None: ...
    def get_deferred(self, deferred_id: str) -> DeferredRecord | None: ...
    def list_deferred(self, *, status: DeferredStatus | None = None,
                      limit: int = 1000) -> list[DeferredRecord]:
        """Soonest due first."""
        ...
    def update_deferred(self, deferred: DeferredRecord) -> bool:
        """Compare-and-set on `version`: a cancel and an execution cannot both win."""
        ...

    # audit
    def append_audit(self, make: Callable[[ChainHead | None], AuditRecord]) -> AuditRecord:
        """Append `make(head)` atomically: no other record can slip between reading the head
        and writing its successor, even from another process or replica."""
        ...
    def append_audit_many(self, make: Callable[[ChainHead | None], Sequence[AuditRecord]], *,
                          approvals: Sequence[ApprovalRecord] = (), sync: bool = True
                          ) -> list[AuditRecord]:
        """Append the records `make(head)` returns (each following the one before it) and add
        `approvals` in one transaction: all of it is written, or none (an approval whose id
        is stored already is left as it is, like `add_approval_once`). `sync` False (routine
        records only, see audit.needs_sync): the commit survives a crash of the process but
        may roll back on a power loss, until the next synced commit or `sync()`."""
        ...
    def sync(self) -> None:
        """Make every commit so far durable on disk (the anchor writer calls it first)."""
        ...
    def audit_records(self, after: int = 0, kinds: Collection[str] | None = None
                      ) -> Iterator[AuditRecord]:
        """The records after seq `after`, oldest first; with `kinds`, only records of those
        kinds (filtered by the store: finding the drills, or the records webhooks announce,
        does not decode every record of the log)."""
        ...
    def audit_head(self) -> AuditRecord | None:
        """The newest audit record (None for an empty log)."""
        ...

    # small named values airlock keeps about itself (the vault's identity, …)
    def get_meta(self, key: str) -> str | None: ...
    def put_meta(self, key: str, value: str, *, expected: str | None) -> bool:
        """Set `key` if its value is `expected` now (None: not set); compare-and-set."""
        ...

    def check(self) -> list[str]:
        """Problems with the store's own integrity ([] when none). A store that found one
        refuses every later call (StoreError) until it is repaired and opened again."""
        ...

    def close(self) -> None: ...


def open_store(url: str | None, state_dir: Path) -> Store:
    """`None` or a path → SQLite (default: state_dir/state.db); postgresql:// → PostgreSQL."""
    if url is None or url == "" or url.startswith("sqlite:"):
        from airlock.store.sqlite import SqliteStore

        path = url.removeprefix("sqlite:").removeprefix("//") if url else ""
        return SqliteStore(Path(path) if path else state_dir / "state.db")
    if url.startswith(("postgresql://", "postgres://")):
        from airlock.store.postgres import PostgresStore

        return PostgresStore(url)
    raise ConfigError("store.url: expected `sqlite:PATH` or a `postgresql://` URL",
                      hint="leave store.url out to use SQLite in the state folder")


def is_local(store: Store) -> bool:
    """Whether the store answers from this process's own file or memory (SQLite, the in-memory
    twin), never over a network: a read or an unsynced commit takes microseconds, so an event
    loop may make it itself rather than hand it to a thread (the API proxy's kept reads)."""
    from airlock.store.memory import MemoryStore
    from airlock.store.sqlite import SqliteStore

    return isinstance(store, SqliteStore | MemoryStore)
