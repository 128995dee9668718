"""Audit anchors: the log's head, written where the agent cannot reach it.

The audit log's HMAC key lives beside the log, so an agent that can read both can rewrite the
log and seal it again: the chain verifies. What it cannot rewrite is what was written outside
its reach. So `airlock up` anchors the chain in the vault — on S3 under Object Lock (compliance
mode), in a local vault as 0400 files the agent guard denies touching:

    anchors/<seq, 12 digits>.json   {seq, head, at, first_seq, hashes, mac}

An anchor is the newest record's sequence number and hash, when it was taken, and the hashes of
every record since the previous anchor (at most MAX_HASHES, the newest), sealed with an HMAC
under the audit key. One is written at least every minute when the log moved, and soon after
each decision (debounced). `verify_anchors` reads the log against them: a rewritten record
contradicts the hash an anchor recorded for it (the first such record is named — a rewrite
changes every record after it too), a log cut short ends before the newest anchored record, and
the report says how old the newest anchor is.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airlock.audit import AuditRecord
from airlock.model import canonical_json, utcnow
from airlock.services import Health
from airlock.store import Store
from airlock.vault.errors import VaultError
from airlock.vault.stores.base import ObjectStore

if TYPE_CHECKING:
    from airlock.runtime import Runtime

log = logging.getLogger("airlock.anchors")

PREFIX = "anchors/"
META_KEY = "audit_anchor"  # the state remembers what it anchored last: {seq, at}
MAX_HASHES = 5000
EVERY = timedelta(minutes=1)
DEBOUNCE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Anchor:
    seq: int
    head: str
    at: str
    first_seq: int
    hashes: tuple[str, ...]
    mac: str = ""

    @property
    def key(self) -> str:
        return f"{PREFIX}{self.seq:012d}.json"

    def body(self) -> dict[str, Any]:
        return {"seq": self.seq, "head": self.head, "at": self.at, "first_seq": self.first_seq,
                "hashes": list(self.hashes)}

    def sealed(self, key: bytes) -> Anchor:
        return Anchor(self.seq, self.head, self.at, self.first_seq, self.hashes, _mac(key, self))

    def to_bytes(self) -> bytes:
        return json.dumps({**self.body(), "mac": self.mac}, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> Anchor:
        obj = json.loads(data)
        hashes = tuple(str(h) for h in obj["hashes"])
        anchor = cls(int(obj["seq"]), str(obj["head"]), str(obj["at"]), int(obj["first_seq"]),
                     hashes, str(obj["mac"]))
        if anchor.first_seq + len(hashes) - 1 != anchor.seq or (hashes and hashes[-1] != anchor.head):
            raise ValueError("its hashes do not end at its head")
        return anchor

    def expected(self) -> Iterator[tuple[int, str]]:
        """(seq, hash) of every record this anchor vouches for."""
        return zip(range(self.first_seq, self.seq + 1), self.hashes, strict=True)


def _mac(key: bytes, anchor: Anchor) -> str:
    return hmac.new(key, b"airlock audit anchor\0" + canonical_json(anchor.body()).encode(),
                    hashlib.sha256).hexdigest()


def make_anchor(records: Iterable[AuditRecord], key: bytes, now: datetime) -> Anchor | None:
    """The anchor of `records` (those since the previous anchor, in order); None if empty."""
    recent = list(records)[-MAX_HASHES:]
    if not recent:
        return None
    head = recent[-1]
    return Anchor(head.seq, head.hash, now.isoformat(), recent[0].seq,
                  tuple(r.hash for r in recent)).sealed(key)


def read_anchors(objects: ObjectStore) -> tuple[list[Anchor], list[str]]:
    """Every anchor in the vault, oldest first, and the problems with those that do not read."""
    anchors: list[Anchor] = []
    problems: list[str] = []
    for info in objects.list(PREFIX):
        try:
            with objects.open(info.key, info.version) as f:
                anchors.append(Anchor.from_bytes(f.read(1 << 22)))
        except (VaultError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"{info.key} is not a readable anchor ({exc})")
    return sorted(anchors, key=lambda a: a.seq), problems


@dataclass
class AnchorReport:
    anchors: int = 0
    newest: Anchor | None = None
    problems: list[str] = field(default_factory=list)
    bad_seq: int | None = None  # the first record that contradicts an anchor
    checked: int = 0  # records compared with an anchored hash

    @property
    def ok(self) -> bool:
        return not self.problems

    def age(self, now: datetime) -> timedelta | None:
        return now - datetime.fromisoformat(self.newest.at) if self.newest else None


def verify_anchors(records: Iterable[AuditRecord], anchors: list[Anchor], key: bytes | None,
                   *, anchored_seq: int | None = None) -> AnchorReport:
    """Read the log against the anchors. `anchored_seq` is what the state says it anchored
    last: anchors missing from the vault show as a problem too."""
    report = AnchorReport(anchors=len(anchors))
    expected: dict[int, tuple[str, Anchor]] = {}
    for anchor in anchors:
        if key is not None and not hmac.compare_digest(_mac(key, anchor), anchor.mac):
            report.problems.append(f"{anchor.key} is not sealed with this audit key: it was "
                                   "written by someone else")
            continue
        for seq, digest in anchor.expected():
            expected[seq] = (digest, anchor)
        if report.newest is None or anchor.seq > report.newest.seq:
            report.newest = anchor
    last = 0
    for record in records:
        last = record.seq
        wanted = expected.get(record.seq)
        if wanted is None:
            continue
        report.checked += 1
        if record.hash != wanted[0] and report.bad_seq is None:
            report.bad_seq = record.seq
            report.problems.append(
                f"record {record.seq} is not the record anchored at {wanted[1].at} "
                f"({wanted[1].key}): the log was rewritten from this record on")
    top = max(expected, default=0)
    if top > last:
        if report.bad_seq is None:
            report.bad_seq = last + 1
        report.problems.append(f"the log ends at record {last}, but {expected[top][1].key} "
                               f"(anchored at {expected[top][1].at}) covers record {top}: "
                               f"records {last + 1}–{top} were cut off the end")
    if anchored_seq is not None and anchored_seq > (report.newest.seq if report.newest else 0):
        report.problems.append(f"the state says records up to {anchored_seq} were anchored, but "
                               "the vault holds no such anchor: anchors were removed, or this "
                               "is another vault")
    return report


class AnchorWriter:
    """Writes anchors for `airlock up` (a service: start, stop, health): `tick(now)` decides and
    writes; `start()` runs it on a thread every few seconds, `poke()` asks for one soon."""

    name = "anchors"

    def __init__(self, store: Store, objects: Callable[[], ObjectStore], key: bytes, *,
                 retention: timedelta, clock: Callable[[], datetime] = utcnow,
                 check: Callable[[], str] | None = None) -> None:
        self.store = store
        self._objects = objects
        self.key = key
        self.retention = retention
        self.clock = clock
        self.check = check  # why anchors must not be written now ('' when they may)
        self._poked: datetime | None = None
        self._last_at: datetime | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure = ""

    def poke(self) -> None:
        if self._poked is None:
            self._poked = self.clock()
        self._wake.set()

    def due(self, now: datetime) -> bool:
        if self._poked is not None and (now - self._poked).total_seconds() >= DEBOUNCE_SECONDS:
            return True
        return self._last_at is None or now - self._last_at >= EVERY

    def tick(self, now: datetime | None = None) -> Anchor | None:
        """Write an anchor if one is due and the log moved since the last one."""
        now = now or self.clock()
        if not self.due(now):
            return None
        self._poked = None
        self._last_at = now
        head = self.store.audit_head()
        last = _anchored_seq(self.store)
        if head is None or head.seq <= last:
            return None
        problem = self.check() if self.check else ""
        if problem:
            raise VaultError(f"the audit head is not anchored: {problem}")
        records = list(self.store.audit_records(after=max(last, head.seq - MAX_HASHES)))
        # A routine record may be committed without a sync (audit.needs_sync): make everything
        # read above durable first, so the vault never names a record a power loss could take
        # back — which `audit verify` would then report as records cut off the log.
        self.store.sync()
        anchor = make_anchor(records, self.key, now)
        if anchor is None:
            return None
        writer = self._objects().writer(anchor.key, retain_until=now + self.retention)
        try:
            writer.write(anchor.to_bytes())
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        current = self.store.get_meta(META_KEY)
        self.store.put_meta(META_KEY, json.dumps({"seq": anchor.seq, "at": anchor.at}),
                            expected=current)
        return anchor

    def start(self) -> AnchorWriter:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="airlock-anchors", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self._thread = None
        try:
            self.tick(self.clock() + EVERY)  # what happened since the last one, before leaving
        except Exception:
            log.exception("anchoring the audit log at shutdown failed")

    def health(self) -> Health:
        if self._thread is None or not self._thread.is_alive():
            return Health(False, "not running")
        if self._failure:  # still running: the next round tries again
            return Health(True, f"the last anchor failed: {self._failure}")
        return Health(True, f"the audit head goes to the vault every {EVERY.seconds} s it "
                            "moves, and after each record")

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(DEBOUNCE_SECONDS)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.tick()
                self._failure = ""
            except Exception as exc:  # the next round tries again; `audit verify` shows the age
                self._failure = str(exc)[:200]
                log.exception("anchoring the audit log failed")


def anchor_service(runtime: Runtime) -> AnchorWriter:
    """The writer `airlock up` runs, poked by every audit record it writes."""
    from airlock.vault import identity

    writer = AnchorWriter(runtime.store, lambda: runtime.vault.store, runtime.audit_key,
                          retention=runtime.config.vault.retention,
                          check=lambda: identity.problem(runtime.vault, runtime.store,
                                                         spot=False))
    runtime.audit.on_record = lambda _record: writer.poke()
    return writer


def _anchored_seq(store: Store) -> int:
    value = store.get_meta(META_KEY)
    if not value:
        return 0
    try:
        return int(json.loads(value)["seq"])
    except (ValueError, KeyError, TypeError):
        return 0


def anchored_seq(store: Store) -> int | None:
    """What the state says it anchored last (None: nothing yet)."""
    return _anchored_seq(store) or None
