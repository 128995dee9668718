"""The tamper-evident audit log.

Each record carries the hash of the record before it and an HMAC of its own hash under a key
airlock holds, so changing any byte of a record, removing one, or reordering records breaks the
chain at a place `verify` can name. The hash covers the record's canonical JSON (sorted keys, no
spaces), so an export can be verified without airlock's database.

    hash = sha256(canonical_json({seq, at, kind, action_id, data, prev}))
    mac  = hmac_sha256(key, hash)

What the chain alone cannot show: records cut off the *end* of a log — and, since the key lives
beside the log, a log rewritten and sealed again by someone who read the key. `airlock up`
therefore anchors the head in the vault, out of the agent's reach (anchors.py), and
`airlock audit verify` reads the log against those anchors.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from airlock.errors import AuditError
from airlock.model import canonical_json, sha256_hex, utcnow

if TYPE_CHECKING:
    from airlock.store.records import ApprovalRecord

GENESIS = "0" * 64
_RECORD_KEYS = frozenset({"seq", "at", "kind", "action_id", "data", "prev", "hash", "mac"})


class ChainHead(Protocol):
    """What a record's successor needs of it: its place in the chain and its hash (a store
    reads only these two columns of the head to append)."""

    @property
    def seq(self) -> int: ...

    @property
    def hash(self) -> str: ...


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The head of the log as a store reads it to append: `ChainHead`, nothing more."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: str  # ISO 8601, UTC
    kind: str
    action_id: str | None
    data: Mapping[str, Any]
    prev: str
    hash: str
    mac: str
    # The canonical JSON of `data` that was hashed, when this record was just sealed from it,
    # so the store writes those very bytes without serialising `data` again. Not an init field:
    # a record made any other way — `dataclasses.replace` included — has None here, and
    # `data_text()` serialises its data.
    data_json: str | None = field(default=None, init=False, compare=False, repr=False)

    def data_text(self) -> str:
        """The data column as stored: the canonical JSON of `data`."""
        return self.data_json if self.data_json is not None else canonical_json(self.data)

    def body(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "kind": self.kind, "action_id": self.action_id,
                "data": self.data, "prev": self.prev}

    def to_json(self) -> dict[str, Any]:
        return {**self.body(), "hash": self.hash, "mac": self.mac}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> AuditRecord:
        if not isinstance(obj, Mapping) or set(obj) != _RECORD_KEYS:
            got = sorted(obj) if isinstance(obj, Mapping) else type(obj).__name__
            raise AuditError(f"not an audit record (keys {got}, expected {sorted(_RECORD_KEYS)})")
        try:
            return cls(seq=obj["seq"], at=obj["at"], kind=obj["kind"], action_id=obj["action_id"],
                       data=obj["data"], prev=obj["prev"], hash=obj["hash"], mac=obj["mac"])
        except (KeyError, TypeError) as exc:
            raise AuditError(f"not an audit record (missing {exc})") from None


def compute_hash(body: Mapping[str, Any]) -> str:
    return sha256_hex(canonical_json(body))


def compute_mac(key: bytes, record_hash: str) -> str:
    # hmac.digest: the one-shot (C) form of hmac.new(...).digest(), the same bytes, faster.
    return hmac.digest(key, record_hash.encode("ascii"), "sha256").hex()


def seal(prev: ChainHead | None, kind: str, action_id: str | None, data: Mapping[str, Any],
         key: bytes, at: str | None = None) -> AuditRecord:
    """The record that follows `prev` (None for the first record).

    The reference sealing: the audit log seals the data it froze in `_Entry.of` without
    serialising it again (`_Entry.seal`), and must give byte for byte what this gives."""
    # Round-trip through JSON so what is hashed is exactly what is stored and exported.
    clean = json.loads(canonical_json(dict(data)))
    body = {"seq": (prev.seq + 1) if prev else 1, "at": at or utcnow().isoformat(),
            "kind": kind, "action_id": action_id, "data": clean,
            "prev": prev.hash if prev else GENESIS}
    digest = compute_hash(body)
    return AuditRecord(hash=digest, mac=compute_mac(key, digest), **body)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    ok: bool
    count: int
    head: str
    problem: str = ""
    bad_seq: int | None = None
    bad_position: int | None = None  # 1-based position in the sequence read (line in an export)
    mac_checked: bool = True


def verify_records(records: Iterable[AuditRecord], key: bytes | None) -> VerifyReport:
    """Walk the chain; stop at the first record that does not belong where it is."""
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for position, rec in enumerate(records, start=1):
        problem = _chain_problem(rec, expected_seq, prev_hash, key)
        if problem:
            return VerifyReport(False, count, prev_hash, problem, rec.seq, position, key is not None)
        prev_hash, expected_seq, count = rec.hash, rec.seq + 1, count + 1
    return VerifyReport(True, count, prev_hash, mac_checked=key is not None)


def _chain_problem(rec: AuditRecord, expected_seq: int, prev_hash: str, key: bytes | None) -> str:
    if rec.seq != expected_seq:
        what = "missing or reordered" if rec.seq > expected_seq else "reordered or duplicated"
        return f"record {rec.seq} stands where record {expected_seq} should: records are {what}"
    if rec.prev != prev_hash:
        return (f"record {rec.seq} does not follow record {rec.seq - 1}: its previous-hash does "
                "not match (a record was removed, reordered or changed)")
    if compute_hash(rec.body()) != rec.hash:
        return f"record {rec.seq} was changed: its content does not match its hash"
    if key is not None and not hmac.compare_digest(compute_mac(key, rec.hash), rec.mac):
        return (f"record {rec.seq} has a wrong HMAC: it was rewritten by someone without "
                "airlock's audit key, or the key is not the one that wrote it")
    return ""


def read_export(path: Path) -> Iterator[AuditRecord]:
    """Records from a JSONL export; a line that is not a record is reported by position."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise AuditError(f"cannot read audit export {path}: {exc.strerror}") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield AuditRecord.from_json(json.loads(line))
            except (json.JSONDecodeError, AuditError) as exc:
                raise AuditError(f"{path}:{number}: line {number} is not a valid audit record "
                                 f"({exc}); the export was damaged") from None


class AuditLog(Protocol):
    """What the gate needs from the audit log: append records, and group the records of one
    submission so they are written in one transaction.

    `record` inside `group()` keeps the record pending (and returns None); the group's records
    are written together — all durable, or none — when it closes, or earlier at `flush()`, which
    the gate calls before anything that cannot be undone (a backup, a statement it runs). A
    record outside a group is written at once. Either way a record is durable before the answer
    that depends on it is given: the group closes before the gate returns."""

    def record(self, kind: str, action_id: str | None,
               data: Mapping[str, Any]) -> AuditRecord | None: ...

    def group(self) -> AbstractContextManager[None]: ...

    def flush(self) -> None: ...


# What a routine call writes: its action, its decision, and an outcome that let it through.
ROUTINE_KINDS = frozenset({"action", "decision", "outcome"})
_ROUTINE_RISKS = frozenset({"read", "write"})


def needs_sync(entries: Sequence[_Entry]) -> bool:
    """Whether the commit of these records must reach the disk (fsync) before the answer.

    Not for a group that only records allowed, non-destructive actions: its commit is written
    to the database's log before the answer — it survives a crash of airlock or of the agent —
    but not synced, so a power loss or kernel crash may roll back the newest such records. The
    next synced commit makes them durable too (the log is one file, synced whole), so the chain
    never has a hole. Everything else is synced: a hold, a deny, an approval used, a backup, an
    error, a deferral, anything destructive or that airlock runs itself, and any record this
    function does not recognise (the safe side)."""
    lets_through = False
    for entry in entries:
        if not entry.routine:
            return True
        lets_through = lets_through or entry.lets_through
    return not lets_through


def _routine_facts(kind: str, data: Mapping[str, Any]) -> tuple[bool, bool]:
    """(routine, lets_through) of one record, for `needs_sync`: whether it may be committed
    unsynced, and whether it is the outcome that let a call through. Anything unexpected in
    the data — a value of another type than the gate writes — is not routine (synced)."""
    if kind not in ROUTINE_KINDS:
        return False, False
    if kind == "action":
        return True, False
    if kind == "decision":
        decision = data.get("decision")
        risk = data.get("risk")
        routine = (isinstance(decision, dict) and decision.get("verdict") == "allow"
                   and decision.get("snapshot_required") is False
                   and isinstance(risk, str) and risk in _ROUTINE_RISKS)
        return routine, False
    allowed = data.get("status") == "allowed" and not data.get("snapshots")  # an outcome
    return allowed, allowed


# A key of the canonical text that a non-string key became (a number, true, false, null): only
# then can sorting the parsed data again reorder it (2 < 10, but "10" < "2"). A string key that
# merely looks like one only costs the full check. (The gate records plain dicts: a dict
# subclass with its own items(), or a key type with its own ordering, is not checked for.)
_CONVERTED_KEY = re.compile(r'[{,]"(?:-?(?:[0-9]|Infinity")|NaN"|true"|false"|null")')


def _freeze(data: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The canonical JSON of `data` and the value it parses to, such that the one is the
    canonical JSON of the other — what `seal` hashes, whose `json.loads(canonical_json(...))`
    round trip this is. One serialisation and one parse, and one more of each only when a
    non-string key may have been reordered."""
    text = canonical_json(dict(data))
    value: dict[str, Any] = json.loads(text)
    if _CONVERTED_KEY.search(text) is not None:
        again = canonical_json(value)
        if again != text:
            text, value = again, json.loads(again)
    return text, value


@dataclass(frozen=True, slots=True)
class _Entry:
    """A record not yet sealed: sealing needs its predecessor, known only when it is written.
    The data is frozen as canonical JSON now (what is hashed is what was recorded), with the
    value it parses to and what `needs_sync` needs to know of it; and so is the time it
    happened."""

    kind: str
    action_id: str | None
    data: str  # canonical JSON; canonical_json(value) == data
    at: str
    value: dict[str, Any]
    routine: bool
    lets_through: bool

    @classmethod
    def of(cls, kind: str, action_id: str | None, data: Mapping[str, Any]) -> _Entry:
        text, value = _freeze(data)
        routine, lets_through = _routine_facts(kind, value)
        return cls(kind, action_id, text, utcnow().isoformat(), value, routine, lets_through)

    def seal(self, prev: ChainHead | None, key: bytes) -> AuditRecord:
        """`seal(prev, kind, action_id, json.loads(data), key, at)`, byte for byte, with the
        data spliced into the body's canonical JSON as it was frozen, not serialised again."""
        seq = (prev.seq + 1) if prev else 1
        prev_hash = prev.hash if prev else GENESIS
        if not (isinstance(self.kind, str) and isinstance(self.at, str)
                and isinstance(prev_hash, str) and type(seq) is int
                and (self.action_id is None or isinstance(self.action_id, str))):
            return seal(prev, self.kind, self.action_id, self.value, key, self.at)
        # canonical_json of the body: keys sorted, no spaces, strings as json.dumps writes them
        # with ensure_ascii=False (encode_basestring is that very encoder).
        body = "".join((
            '{"action_id":', "null" if self.action_id is None else encode_basestring(self.action_id),
            ',"at":', encode_basestring(self.at), ',"data":', self.data,
            ',"kind":', encode_basestring(self.kind), ',"prev":', encode_basestring(prev_hash),
            ',"seq":', int.__repr__(seq), "}"))
        digest = sha256_hex(body)
        record = AuditRecord(seq=seq, at=self.at, kind=self.kind, action_id=self.action_id,
                             data=self.value, prev=prev_hash, hash=digest,
                             mac=compute_mac(key, digest))
        object.__setattr__(record, "data_json", self.data)  # frozen: set once, here
        return record


def _seal_all(entries: Sequence[_Entry], prev: ChainHead | None,
              key: bytes) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    for entry in entries:
        prev = entry.seal(prev, key)
        records.append(prev)
    return records


class _Pending(threading.local):
    entries: list[_Entry] | None = None
    approvals: list[ApprovalRecord] | None = None


class _Grouping:
    """`record`, `group` and `flush` for both logs: records made inside `group()` (per thread)
    are written together when it ends — in one transaction for the store — even when its body
    failed, since what happened before the failure happened. Subclasses say how to `_write`."""

    _pending: _Pending

    def record(self, kind: str, action_id: str | None,
               data: Mapping[str, Any]) -> AuditRecord | None:
        entry = _Entry.of(kind, action_id, data)
        if self._pending.entries is not None:
            self._pending.entries.append(entry)
            return None
        return self._write([entry])[0]

    @contextlib.contextmanager
    def group(self) -> Iterator[None]:
        if self._pending.entries is not None:  # nested: the outer group writes
            yield
            return
        self._pending.entries, self._pending.approvals = [], []
        try:
            yield
        finally:
            entries, self._pending.entries = self._pending.entries, None
            approvals, self._pending.approvals = self._pending.approvals or [], None
            if entries or approvals:
                self._write(entries, approvals)

    def flush(self) -> None:
        entries, approvals = self._pending.entries, self._pending.approvals or []
        if entries or approvals:
            self._pending.entries, self._pending.approvals = [], []
            self._write(entries or [], approvals)

    def attach_approval(self, approval: ApprovalRecord) -> bool:
        """Write a new approval in the open group's transaction, with the records that tell of
        it (a held call: one commit for the hold and its audit). False when this log cannot
        (no group open, or no store): the caller writes it itself."""
        return False

    def _write(self, entries: Sequence[_Entry],
               approvals: Sequence[ApprovalRecord] = ()) -> list[AuditRecord]:
        raise NotImplementedError


class MemoryAuditLog(_Grouping):
    """In-memory twin for unit tests (groups too, so tests see what a crash would keep)."""

    def __init__(self, key: bytes = b"test-key") -> None:
        self.key = key
        self.records: list[AuditRecord] = []
        self._pending = _Pending()

    def _write(self, entries: Sequence[_Entry],
               approvals: Sequence[ApprovalRecord] = ()) -> list[AuditRecord]:
        records = _seal_all(entries, self.records[-1] if self.records else None, self.key)
        self.records.extend(records)
        return records


def load_or_create_key(path: Path) -> bytes:
    """The audit key from `path`, created (32 random bytes, hex, mode 0600) on first use.

    The key is written to a private temporary file and hard-linked into place, so a concurrent
    reader sees either no key or the whole key, and two processes cannot both create one.
    """
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        key = None
    except (OSError, ValueError) as exc:
        raise AuditError(f"audit key {path} is unreadable or damaged: {exc}",
                         hint="restore it from your backup; without it old records cannot be "
                              "verified") from None
    if key is not None:
        if len(key) < 32:
            raise AuditError(f"audit key {path} is shorter than 32 bytes; it was damaged")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_bytes(32).hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        tmp.unlink()
    return load_or_create_key(path)


def key_from_secret(text: str) -> bytes:
    """A configured key: hex if it parses as at least 32 bytes of hex, else its UTF-8 bytes."""
    try:
        raw = bytes.fromhex(text)
        if len(raw) >= 32:
            return raw
    except ValueError:
        pass
    if len(text) < 32:
        raise AuditError("audit.key is too short: use at least 32 random bytes "
                         "(for example `openssl rand -hex 32`)")
    return text.encode("utf-8")


class _Appender(Protocol):
    def append_audit_many(self, make: Callable[[ChainHead | None], Sequence[AuditRecord]], *,
                          approvals: Sequence[ApprovalRecord] = (), sync: bool = True
                          ) -> list[AuditRecord]: ...


class StoreAuditLog(_Grouping):
    """The audit log kept in the state store. `on_record` (set by `airlock up`) hears of every
    record written, after it is written: it asks for the head to be anchored (anchors.py).

    Writes are *group commits*: a thread whose records are ready queues them; one thread at a
    time (the leader) writes everything queued in one store transaction, then wakes the others,
    each returning only once its own records are durable. Under load many submissions share one
    commit and one fsync; alone, a submission pays exactly one — or none, for a routine allowed
    call (`needs_sync`): then its commit is on disk in the log but not yet synced.

    `on_record` hears only of records the store synced (a routine commit is heard of with the
    next synced one): the anchor writer syncs again before it anchors (anchors.py)."""

    def __init__(self, store: _Appender, key: bytes) -> None:
        self.store = store
        self.key = key
        self.on_record: Callable[[AuditRecord], object] | None = None
        self._pending = _Pending()
        self._commits = _GroupCommit(self._append)

    def attach_approval(self, approval: ApprovalRecord) -> bool:
        if self._pending.approvals is None:
            return False
        self._pending.approvals.append(approval)
        return True

    def _write(self, entries: Sequence[_Entry],
               approvals: Sequence[ApprovalRecord] = ()) -> list[AuditRecord]:
        return self._commits.commit(_Batch(entries, approvals, needs_sync(entries) or
                                           bool(approvals)))

    def _append(self, batches: Sequence[_Batch]) -> list[list[AuditRecord]]:
        entries = [entry for batch in batches for entry in batch.entries]
        sync = any(batch.sync for batch in batches)
        written = self.store.append_audit_many(
            lambda prev: _seal_all(entries, prev, self.key),
            approvals=[a for batch in batches for a in batch.approvals], sync=sync)
        if self.on_record is not None and written and sync:
            try:
                self.on_record(written[-1])
            except Exception:  # a listener must never undo a record that was written
                logging.getLogger("airlock.audit").exception("audit listener failed")
        out: list[list[AuditRecord]] = []
        start = 0
        for batch in batches:
            out.append(written[start:start + len(batch.entries)])
            start += len(batch.entries)
        return out


@dataclass(slots=True)
class _Batch:
    entries: Sequence[_Entry]
    approvals: Sequence[ApprovalRecord] = ()
    sync: bool = True
    records: list[AuditRecord] | None = None
    error: BaseException | None = None


class _GroupCommit:
    """Leader/follower group commit: whoever finds no write in progress writes every batch
    queued so far in one transaction; the rest wait for that write and find their batch done,
    or one of them leads the next write."""

    def __init__(self, append: Callable[[Sequence[_Batch]], list[list[AuditRecord]]]) -> None:
        self._append = append
        self._cond = threading.Condition()
        self._queue: list[_Batch] = []
        self._writing = False

    def commit(self, mine: _Batch) -> list[AuditRecord]:
        with self._cond:
            self._queue.append(mine)
            while self._writing and mine.records is None and mine.error is None:
                self._cond.wait()
            if mine.records is None and mine.error is None:
                self._writing = True
                taken, self._queue = self._queue, []
            else:
                taken = []
        if taken:
            try:
                for batch, records in zip(taken, self._append(taken), strict=True):
                    batch.records = records
            except BaseException as exc:  # nothing of this write is durable: all of it failed
                for batch in taken:
                    batch.error = exc
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()
        if mine.error is not None:
            if taken:  # this thread's own write failed
                raise mine.error
            raise AuditError(f"the audit log could not be written: {mine.error}") from mine.error
        assert mine.records is not None
        return mine.records
