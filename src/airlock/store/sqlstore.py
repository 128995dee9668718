"""What the SQLite and PostgreSQL stores share: the schema and every query.

Queries are written once with `?` placeholders; a backend supplies a transaction whose cursor
takes them (PostgreSQL's adapter rewrites them to `%s`). Approvals are stored as a JSON document
beside the columns that are searched on, and updated by compare-and-set on `version`.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from airlock.audit import AuditHead, AuditRecord, ChainHead
from airlock.errors import StoreError
from airlock.model import PrincipalKind, utcnow
from airlock.redact import redact_text
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

# 2: deferred calls keep no credential headers (rows stored by version 1 are rewritten)
# 3: aws_keys (the API proxy's key pairs) is part of every database from here on
# 4: token_verifiers (the wire proxy's SCRAM verifiers) is part of every database from here on
SCHEMA_VERSION = 4
# The tables a database of at least that schema version has. One of them missing means the
# database was damaged or tampered with — it is never quietly created again, which would start
# an empty audit log or approval list as if nothing had happened.
TABLES_SINCE: dict[int, tuple[str, ...]] = {
    1: ("airlock_meta", "tokens", "approvals", "approvers", "outbox", "snapshots", "deferred",
        "audit"),
    3: ("aws_keys",),
    4: ("token_verifiers",),
}
REQUIRED_TABLES = tuple(t for names in TABLES_SINCE.values() for t in names)


def required_tables(version: int) -> list[str]:
    return [t for since, names in TABLES_SINCE.items() if version >= since for t in names]


DAMAGED_HINT = ("airlock denies every action until this is repaired: restore the state database "
                "from a backup (then check it with `airlock audit verify`), or move it away to "
                "start a new one")

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS airlock_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS tokens (
        id TEXT PRIMARY KEY, principal TEXT NOT NULL, principal_kind TEXT NOT NULL,
        scope TEXT NOT NULL, secret_hash TEXT NOT NULL, created_at TEXT NOT NULL,
        revoked_at TEXT, note TEXT NOT NULL)""",
    # A token's SCRAM verifier for the PostgreSQL wire proxy (fronts/pgwire/auth.py). Its own
    # table so that stores created before it need no migration: tokens without a row here
    # simply have no verifier.
    """CREATE TABLE IF NOT EXISTS token_verifiers (
        id TEXT PRIMARY KEY, verifier TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS approvals (
        id TEXT PRIMARY KEY, action_id TEXT NOT NULL, digest TEXT NOT NULL,
        status TEXT NOT NULL, requested_at TEXT NOT NULL, version INTEGER NOT NULL,
        record TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS approvals_by_digest ON approvals (digest, status)",
    # Every held call looks up its digest's pending approval, newest first. Without the time in
    # a digest index SQLite preferred approvals_by_status (it sorts for free) and scanned every
    # pending approval: 1.1 ms at 800 pending, growing; by digest it is ~0.01 ms at any count.
    "CREATE INDEX IF NOT EXISTS approvals_by_digest_time ON approvals "
    "(digest, status, requested_at)",
    "CREATE INDEX IF NOT EXISTS approvals_by_status ON approvals (status, requested_at)",
    # approvers and the notification outbox: a JSON document beside the searched columns,
    # updated by compare-and-set on `version` (like approvals)
    """CREATE TABLE IF NOT EXISTS approvers (
        name TEXT PRIMARY KEY, version INTEGER NOT NULL, record TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS outbox (
        id TEXT PRIMARY KEY, status TEXT NOT NULL, due_at TEXT NOT NULL,
        version INTEGER NOT NULL, record TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, due_at)",
    # the vault's snapshot catalog and deferred destructive calls (vault/)
    """CREATE TABLE IF NOT EXISTS snapshots (
        id TEXT PRIMARY KEY, resource TEXT NOT NULL, action_id TEXT, created_at TEXT NOT NULL,
        record TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS snapshots_by_resource ON snapshots (resource, created_at)",
    "CREATE INDEX IF NOT EXISTS snapshots_by_action ON snapshots (action_id)",
    """CREATE TABLE IF NOT EXISTS deferred (
        id TEXT PRIMARY KEY, status TEXT NOT NULL, due_at TEXT NOT NULL,
        version INTEGER NOT NULL, record TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS deferred_due ON deferred (status, due_at)",
    # AWS access keys issued for tokens (the API proxy); the secret sealed, never in the clear
    """CREATE TABLE IF NOT EXISTS aws_keys (
        access_key_id TEXT PRIMARY KEY, token_id TEXT NOT NULL, secret_box TEXT NOT NULL,
        created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS audit (
        seq BIGINT PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL, action_id TEXT,
        data TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL, mac TEXT NOT NULL)""",
)


_TOKEN_WRITES = threading.Lock()

class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class SqlStore(ABC):
    """A Store over any SQL backend that provides `_transaction()`.

    Damage latches: once the database showed it is corrupt or missing tables (a backend calls
    `_damaged`), every later call raises StoreError with the same reason — a store that is known
    to be broken never answers a read as if nothing had happened. `check()` looks for damage on
    purpose (`airlock up` runs it at start and every minute)."""

    _broken: str | None = None

    @abstractmethod
    def _transaction(self, *, lock_audit: bool = False, read: bool = False,
                     sync: bool = True) -> AbstractContextManager[Cursor]:
        """A cursor inside one transaction; `lock_audit` serialises audit appends; `read` says
        the transaction only reads (a backend may then skip taking the write lock). `sync`
        False: the commit need not reach the disk before it returns — it survives a crash of
        the process, not a power loss — until the next synced commit (or `sync()`)."""

    @abstractmethod
    def sync(self) -> None:
        """Make every commit made so far durable (fsync), whoever made it."""

    # ---- health, schema and meta ------------------------------------------------------------

    def _refuse_if_broken(self) -> None:
        if self._broken is not None:
            raise StoreError(self._broken, hint=DAMAGED_HINT)

    def _damaged(self, where: str, problem: str) -> StoreError:
        """Latch the store as broken; the error to raise now."""
        self._broken = f"the state database {where} is damaged: {problem}"
        return StoreError(self._broken, hint=DAMAGED_HINT)

    @abstractmethod
    def _where(self) -> str:
        """The database, for people (a path, a URL without its password)."""

    @abstractmethod
    def _tables(self, cur: Cursor) -> set[str]:
        """The names of the tables in the database."""

    def _open_schema(self, *, may_create: bool) -> None:
        """Create the schema in an empty database (when `may_create`); in an existing one,
        insist that it is airlock's and whole, then bring it up to SCHEMA_VERSION."""
        with self._transaction(lock_audit=True) as cur:
            tables = self._tables(cur)
            if not tables and not may_create:
                raise self._damaged(self._where(), "it holds no tables at all (it was emptied "
                                    "or replaced)")
            if not tables:
                for statement in SCHEMA:
                    cur.execute(statement)
                cur.execute("INSERT INTO airlock_meta (key, value) VALUES (?, ?)",
                            ("schema_version", str(SCHEMA_VERSION)))
                cur.execute("INSERT INTO airlock_meta (key, value) VALUES (?, ?)",
                            ("created_at", utcnow().isoformat()))
                return
            version = 0
            if "airlock_meta" in tables:
                cur.execute("SELECT value FROM airlock_meta WHERE key = ?", ("schema_version",))
                row = cur.fetchone()
                version = int(row[0]) if row and str(row[0]).isdigit() else 0
            missing = [t for t in required_tables(max(version, 1)) if t not in tables]
            if missing:
                raise self._damaged(self._where(), "it is not an airlock state database, or "
                                    f"tables were removed from it ({', '.join(missing)} missing)")
            if version < 1:
                raise self._damaged(self._where(), "its schema version is missing")
            if version > SCHEMA_VERSION:
                raise StoreError(f"the state database {self._where()} was written by a newer "
                                 f"airlock (schema {version}; this one knows {SCHEMA_VERSION})",
                                 hint="upgrade airlock, or point it at its own state")
            for statement in SCHEMA:  # tables and indexes added since: none removed
                cur.execute(statement)
            if version < 2:
                _neutralise_deferred(cur)
            if version < SCHEMA_VERSION:
                cur.execute("UPDATE airlock_meta SET value = ? WHERE key = ?",
                            (str(SCHEMA_VERSION), "schema_version"))

    def check(self) -> list[str]:
        """What is wrong with the database ([] when nothing): missing tables, and whatever the
        backend's own integrity check finds. A problem latches the store as broken."""
        with self._transaction(read=True) as cur:
            tables = self._tables(cur)
            problems = [f"table {t} is missing" for t in required_tables(SCHEMA_VERSION)
                        if t not in tables]
            problems += self._integrity(cur)
        if problems:
            self._damaged(self._where(), "; ".join(problems[:5]))
        return problems

    def _integrity(self, cur: Cursor) -> list[str]:
        return []

    def get_meta(self, key: str) -> str | None:
        with self._transaction(read=True) as cur:
            cur.execute("SELECT value FROM airlock_meta WHERE key = ?", (key,))
            row = cur.fetchone()
        return str(row[0]) if row else None

    def put_meta(self, key: str, value: str, *, expected: str | None) -> bool:
        """Set `key` to `value` if it is `expected` now (None: absent); compare-and-set."""
        with self._transaction(lock_audit=True) as cur:
            cur.execute("SELECT value FROM airlock_meta WHERE key = ?", (key,))
            row = cur.fetchone()
            if (str(row[0]) if row else None) != expected:
                return False
            if row:
                cur.execute("UPDATE airlock_meta SET value = ? WHERE key = ?", (value, key))
            else:
                cur.execute("INSERT INTO airlock_meta (key, value) VALUES (?, ?)", (key, value))
            return True

    # ---- tokens -----------------------------------------------------------------------------

    # Token writes by this process, counted after each commits (tokens_version: a reader that
    # saw the old count re-reads after the change, never before it). Counted under a lock: two
    # writes counted as one could leave a record read between them kept as current.
    _token_writes = 0

    def _counted_token_write(self) -> None:
        with _TOKEN_WRITES:
            self._token_writes += 1

    def tokens_version(self) -> object | None:
        return None  # over a network nothing is cheaper than the read itself (SqliteStore: yes)

    def add_token(self, token: TokenRecord) -> None:
        self._add_token(token)
        self._counted_token_write()

    def _add_token(self, token: TokenRecord) -> None:
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO tokens (id, principal, principal_kind, scope, secret_hash, "
                "created_at, revoked_at, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (token.id, token.principal, token.principal_kind.value, token.scope_json(),
                 token.secret_hash, token.created_at, token.revoked_at, token.note))
            if token.scram is not None:
                cur.execute("INSERT INTO token_verifiers (id, verifier) VALUES (?, ?)",
                            (token.id, token.scram))

    def get_token(self, token_id: str) -> TokenRecord | None:
        with self._transaction(read=True) as cur:
            cur.execute(_SELECT_TOKENS + " WHERE t.id = ?", (token_id,))
            row = cur.fetchone()
        return _token(row) if row else None

    def list_tokens(self) -> list[TokenRecord]:
        with self._transaction(read=True) as cur:
            cur.execute(_SELECT_TOKENS + " ORDER BY t.created_at, t.id")
            rows = cur.fetchall()
        return [_token(row) for row in rows]

    def revoke_token(self, token_id: str, at: str) -> bool:
        try:
            with self._transaction() as cur:
                cur.execute("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                            (at, token_id))
                cur.execute("SELECT revoked_at FROM tokens WHERE id = ?", (token_id,))
                row = cur.fetchone()
        finally:
            self._counted_token_write()  # even a failed commit: a reader re-reads: safe
        return row is not None and row[0] == at

    # ---- AWS access keys --------------------------------------------------------------------

    def add_aws_key(self, key: AwsKeyRecord) -> None:
        with self._transaction() as cur:
            cur.execute("INSERT INTO aws_keys (access_key_id, token_id, secret_box, created_at) "
                        "VALUES (?, ?, ?, ?)",
                        (key.access_key_id, key.token_id, key.secret_box, key.created_at))

    def get_aws_key(self, access_key_id: str) -> AwsKeyRecord | None:
        with self._transaction(read=True) as cur:
            cur.execute("SELECT access_key_id, token_id, secret_box, created_at FROM aws_keys "
                        "WHERE access_key_id = ?", (access_key_id,))
            row = cur.fetchone()
        return AwsKeyRecord(row[0], row[1], row[2], row[3]) if row else None

    # ---- approvals --------------------------------------------------------------------------

    def add_approval(self, approval: ApprovalRecord) -> None:
        with self._transaction() as cur:
            cur.execute(_INSERT_APPROVAL, _approval_row(approval))

    def add_approval_once(self, approval: ApprovalRecord) -> ApprovalRecord:
        with self._transaction() as cur:
            _insert_approval(cur, approval)
            cur.execute("SELECT record FROM approvals WHERE id = ?", (approval.id,))
            row = cur.fetchone()
        return ApprovalRecord.from_json(json.loads(row[0]))

    def get_approval(self, approval_id: str) -> ApprovalRecord | None:
        with self._transaction(read=True) as cur:
            cur.execute("SELECT record FROM approvals WHERE id = ?", (approval_id,))
            row = cur.fetchone()
        return ApprovalRecord.from_json(json.loads(row[0])) if row else None

    def list_approvals(self, *, status: ApprovalStatus | None = None, digest: str | None = None,
                       limit: int = 100) -> list[ApprovalRecord]:
        clauses, params = [], []
        if status is not None:
            clauses.append("status = ?")
            params.append(status.value)
        if digest is not None:
            clauses.append("digest = ?")
            params.append(digest)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._transaction(read=True) as cur:
            cur.execute(f"SELECT record FROM approvals {where} "
                        f"ORDER BY requested_at DESC, id DESC LIMIT ?", (*params, int(limit)))
            rows = cur.fetchall()
        return [ApprovalRecord.from_json(json.loads(row[0])) for row in rows]

    def update_approval(self, approval: ApprovalRecord) -> bool:
        with self._transaction() as cur:
            cur.execute(
                "UPDATE approvals SET status = ?, version = ?, record = ? "
                "WHERE id = ? AND version = ?",
                (approval.status.value, approval.version, json.dumps(approval.to_json()),
                 approval.id, approval.version - 1))
            # One row changed iff nobody moved the version on since we read it.
            return int(cur.rowcount) == 1

    # ---- approvers --------------------------------------------------------------------------

    def add_approver(self, approver: ApproverRecord) -> None:
        with self._transaction() as cur:
            cur.execute("INSERT INTO approvers (name, version, record) VALUES (?, ?, ?)",
                        (approver.name, approver.version, json.dumps(approver.to_json())))

    def get_approver(self, name: str) -> ApproverRecord | None:
        with self._transaction(read=True) as cur:
            cur.execute("SELECT record FROM approvers WHERE name = ?", (name,))
            row = cur.fetchone()
        return ApproverRecord.from_json(json.loads(row[0])) if row else None

    def list_approvers(self) -> list[ApproverRecord]:
        with self._transaction(read=True) as cur:
            cur.execute("SELECT record FROM approvers ORDER BY name")
            rows = cur.fetchall()
        return [ApproverRecord.from_json(json.loads(row[0])) for row in rows]

    def update_approver(self, approver: ApproverRecord) -> bool:
        with self._transaction() as cur:
            cur.execute("UPDATE approvers SET version = ?, record = ? WHERE name = ? AND version = ?",
                        (approver.version, json.dumps(approver.to_json()), approver.name,
                         approver.version - 1))
            return int(cur.rowcount) == 1

    def remove_approver(self, name: str) -> bool:
        with self._transaction() as cur:
            cur.execute("DELETE FROM approvers WHERE name = ?", (name,))
            return int(cur.rowcount) == 1

    # ---- notification outbox ----------------------------------------------------------------

    def add_outbox(self, item: OutboxItem) -> None:
        with self._transaction() as cur:
            cur.execute("INSERT INTO outbox (id, status, due_at, version, record) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                        (item.id, item.status.value, item.due_at, item.version,
                         json.dumps(item.to_json())))

    def due_outbox(self, now: str, limit: int = 20) -> list[OutboxItem]:
        with self._transaction(read=True) as cur:
            cur.execute("SELECT record FROM outbox WHERE status = ? AND due_at <= ? "
                        "ORDER BY due_at, id LIMIT ?",
                        (OutboxStatus.PENDING.value, now, int(limit)))
            rows = cur.fetchall()
        return [OutboxItem.from_json(json.loads(row[0])) for row in rows]

    def update_outbox(self, item: OutboxItem) -> bool:
        with self._transaction() as cur:
            cur.execute("UPDATE outbox SET status = ?, due_at = ?, version = ?, record = ? "
                        "WHERE id = ? AND version = ?",
                        (item.status.value, item.due_at, item.version,
                         json.dumps(item.to_json()), item.id, item.version - 1))
            return int(cur.rowcount) == 1

    # ---- vault snapshot catalog -------------------------------------------------------------

    def add_snapshot(self, snapshot: SnapshotRecord) -> None:
        with self._transaction() as cur:
            cur.execute("INSERT INTO snapshots (id, resource, action_id, created_at, record) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (snapshot.id, snapshot.resource, snapshot.action_id, snapshot.created_at,
                         json.dumps(snapshot.to_json())))

    def get_snapshot(self, snapshot_id: str) -> SnapshotRecord | None:
        with self._transaction(read=True) as cur:
            cur.execute("SELECT record FROM snapshots WHERE id = ?", (snapshot_id,))
            row = cur.fetchone()
        return SnapshotRecord.from_json(json.loads(row[0])) if row else None

    def list_snapshots(self, *, resource: str | None = None, action_id: str | None = None,
                       limit: int = 1000) -> list[SnapshotRecord]:
        clauses, params = [], []
        if resource is not None:
            clauses.append("resource = ?")
            params.append(resource)
        if action_id is not None:
            clauses.append("action_id = ?")
            params.append(action_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._transaction(read=True) as cur:
            cur.execute(f"SELECT record FROM snapshots {where} "
                        f"ORDER BY created_at DESC, id DESC LIMIT ?", (*params, int(limit)))
            rows = cur.fetchall()
        return [SnapshotRecord.from_json(json.loads(row[0])) for row in rows]

    def update_snapshot(self, snapshot: SnapshotRecord) -> bool:
        with self._transaction() as cur:
            cur.execute("UPDATE snapshots SET record = ? WHERE id = ?",
                        (json.dumps(snapshot.to_json()), snapshot.id))
            return int(cur.rowcount) == 1

    # ---- deferred destructive calls ---------------------------------------------------------

    def add_deferred(self, deferred: DeferredRecord) -> None:
        with self._transaction() as cur:
            cur.execute("INSERT INTO deferred (id, status, due_at, version, record) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (deferred.id, deferred.status.value, deferred.due_at, deferred.version,
                         json.dumps(deferred.to_json())))

    def get_deferred(self, deferred_id: str) -> DeferredRecord | None:
        with self._transaction(read=True) as cur:
            cur.execute("SELECT record FROM deferred WHERE id = ?", (deferred_id,))
            row = cur.fetchone()
        return DeferredRecord.from_json(json.loads(row[0])) if row else None

    def list_deferred(self, *, status: DeferredStatus | None = None,
                      limit: int = 1000) -> list[DeferredRecord]:
        where, params = ("WHERE status = ?", [status.value]) if status is not None else ("", [])
        with self._transaction(read=True) as cur:
            cur.execute(f"SELECT record FROM deferred {where} ORDER BY due_at, id LIMIT ?",
                        (*params, int(limit)))
            rows = cur.fetchall()
        return [DeferredRecord.from_json(json.loads(row[0])) for row in rows]

    def update_deferred(self, deferred: DeferredRecord) -> bool:
        with self._transaction() as cur:
            cur.execute("UPDATE deferred SET status = ?, due_at = ?, version = ?, record = ? "
                        "WHERE id = ? AND version = ?",
                        (deferred.status.value, deferred.due_at, deferred.version,
                         json.dumps(deferred.to_json()), deferred.id, deferred.version - 1))
            return int(cur.rowcount) == 1

    # ---- audit ------------------------------------------------------------------------------

    def append_audit(self, make: Callable[[ChainHead | None], AuditRecord]) -> AuditRecord:
        return self.append_audit_many(lambda prev: [make(prev)])[0]

    def append_audit_many(self, make: Callable[[ChainHead | None], Sequence[AuditRecord]], *,
                          approvals: Sequence[ApprovalRecord] = (), sync: bool = True
                          ) -> list[AuditRecord]:
        # One transaction (one commit, at most one fsync) for records that belong together: the
        # records of one gate submission — with the approval a held call asks for — or of
        # several submissions committed as a group (audit.py).
        with self._transaction(lock_audit=True, sync=sync or bool(approvals)) as cur:
            for approval in approvals:
                _insert_approval(cur, approval)
            # The chain needs only the head's place and hash: its data is not read (or parsed).
            cur.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
            row = cur.fetchone()
            records = list(make(AuditHead(int(row[0]), row[1]) if row else None))
            # data_text(): the canonical JSON the record's hash covers, as it was sealed.
            cur.executemany(
                "INSERT INTO audit (seq, at, kind, action_id, data, prev, hash, mac) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(record.seq, record.at, record.kind, record.action_id, record.data_text(),
                  record.prev, record.hash, record.mac) for record in records])
        return records

    def audit_head(self) -> AuditRecord | None:
        with self._transaction(read=True) as cur:
            cur.execute("SELECT seq, at, kind, action_id, data, prev, hash, mac FROM audit "
                        "ORDER BY seq DESC LIMIT 1")
            row = cur.fetchone()
        return _audit(row) if row else None

    def audit_records(self, after: int = 0, kinds: Collection[str] | None = None
                      ) -> Iterator[AuditRecord]:
        # Pages, so a long log streams without holding a transaction open for its whole length.
        page = 1000
        where, extra = "seq > ?", tuple(sorted(kinds or ()))
        if kinds is not None:
            if not kinds:
                return
            where += f" AND kind IN ({', '.join('?' * len(extra))})"
        while True:
            with self._transaction(read=True) as cur:
                cur.execute("SELECT seq, at, kind, action_id, data, prev, hash, mac FROM audit "
                            f"WHERE {where} ORDER BY seq LIMIT ?", (after, *extra, page))
                rows = cur.fetchall()
            for row in rows:
                yield _audit(row)
            if len(rows) < page:
                return
            after = int(rows[-1][0])


_INSERT_APPROVAL = ("INSERT INTO approvals (id, action_id, digest, status, requested_at, "
                    "version, record) VALUES (?, ?, ?, ?, ?, ?, ?)")


def _approval_row(approval: ApprovalRecord) -> tuple[Any, ...]:
    return (approval.id, approval.action_id, approval.digest, approval.status.value,
            approval.requested_at, approval.version, json.dumps(approval.to_json()))


def _insert_approval(cur: Cursor, approval: ApprovalRecord) -> None:
    """Add a held call's approval unless its id is stored: two holds of the same action that
    raced name the same id (approvals.next_approval_id), and the first one stored stands. The
    primary key decides, in the database, so it holds across processes and replicas."""
    cur.execute(_INSERT_APPROVAL + " ON CONFLICT (id) DO NOTHING", _approval_row(approval))


def _neutralise_deferred(cur: Cursor) -> None:
    """Version 1 stored deferred calls with their credential headers masked, not removed (and
    earlier builds kept them whole): rewrite every stored call without them."""
    from airlock.vault.deferred import stored_call  # (the vault builds on the store)

    cur.execute("SELECT id, record FROM deferred")
    for deferred_id, text in cur.fetchall():
        record = json.loads(text)
        record["content"] = stored_call(record.get("content") or {})
        record["summary"] = redact_text(str(record.get("summary", "")))
        cur.execute("UPDATE deferred SET record = ? WHERE id = ?",
                    (json.dumps(record), deferred_id))


_SELECT_COLUMNS = ("t.id, t.principal, t.principal_kind, t.scope, t.secret_hash, t.created_at, "
                  "t.revoked_at, t.note, v.verifier")
_SELECT_TOKENS = (f"SELECT {_SELECT_COLUMNS} FROM tokens t "
                 "LEFT JOIN token_verifiers v ON v.id = t.id")


def _token(row: Sequence[Any]) -> TokenRecord:
    return TokenRecord(id=row[0], principal=row[1], principal_kind=PrincipalKind(row[2]),
                       scope=TokenRecord.scope_from_json(row[3]), secret_hash=row[4],
                       created_at=row[5], revoked_at=row[6], note=row[7], scram=row[8])


def _audit(row: Sequence[Any]) -> AuditRecord:
    return AuditRecord(seq=int(row[0]), at=row[1], kind=row[2], action_id=row[3],
                       data=json.loads(row[4]), prev=row[5], hash=row[6], mac=row[7])
