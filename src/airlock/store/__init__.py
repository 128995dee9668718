"""The state store: tokens, pending approvals and the audit log.

One small interface with three implementations:

    memory.py     in-memory twin for unit tests
    sqlite.py     the embedded default (a WAL-mode SQLite file in the state folder)
    postgres.py   shared state for several airlock replicas

`sqlstore.py` holds what the two SQL stores share; one contract test suite runs against all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from airlock.audit import AuditRecord
from airlock.errors import ConfigError
from airlock.store.records import ApprovalRecord, ApprovalStatus, Grant, TokenRecord

__all__ = ["ApprovalRecord", "ApprovalStatus", "Grant", "Store", "TokenRecord", "open_store"]


class Store(Protocol):
    # tokens
    def add_token(self, token: TokenRecord) -> None: ...
    def get_token(self, token_id: str) -> TokenRecord | None: ...
    def list_tokens(self) -> list[TokenRecord]: ...
    def revoke_token(self, token_id: str, at: str) -> bool: ...

    # approvals
    def add_approval(self, approval: ApprovalRecord) -> None: ...
    def get_approval(self, approval_id: str) -> ApprovalRecord | None: ...
    def list_approvals(self, *, status: ApprovalStatus | None = None, digest: str | None = None,
                       limit: int = 100) -> list[ApprovalRecord]: ...
    def update_approval(self, approval: ApprovalRecord) -> bool:
        """Replace the stored approval whose version is `approval.version - 1`; False when
        someone else changed it first (compare-and-set, so single use holds across replicas)."""
        ...

    # audit
    def append_audit(self, make: Callable[[AuditRecord | None], AuditRecord]) -> AuditRecord:
        """Append `make(head)` atomically: no other record can slip between reading the head
        and writing its successor, even from another process or replica."""
        ...
    def audit_records(self, after: int = 0) -> Iterator[AuditRecord]: ...

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
