"""The audit log as the console shows it: structured rows, filters, keyset pages, and the last
verification — without reading the whole log on every load.

Records are numbered 1, 2, 3… with no gaps (the chain's verification insists on it), so a page
is read backwards from a sequence number (`before`) in windows, each one bounded query
(`Store.audit_records(after=…)` stopped at the window's end). A filter that matches little
stops after `SCAN_LIMIT` records and offers to search further back: a load costs at most that,
however long the log. Verifying the chain reads every record, so it is its own action
(`POST /console/audit/verify`, or `airlock audit verify`), and its last result is kept in the
store's meta table with its time and who asked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from airlock.audit import AuditRecord, VerifyReport
from airlock.console.moments import Moment, moment
from airlock.redact import redact, redact_text
from airlock.store import Store

PAGE = 100
WINDOW = 500
SCAN_LIMIT = 20_000
RAW_LIMIT = 20_000  # characters of raw JSON shown for one record
LAST_VERIFIED = "console.audit_verified"
ALARMS = frozenset({"approval_refused", "error", "snapshot_failed", "execution_failed",
                    "notification_failed", "backup_failed", "hook_refused"})
_SUMMARY_KEYS = ("reason", "why", "error", "problem", "note", "message", "summary")


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What the reader asked for, from the query string. Anything unreadable is reported, not
    silently ignored (a filter that is quietly dropped shows records the reader did not ask
    for as if they matched)."""

    principal: str = ""
    kind: str = ""
    verdict: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None
    problems: tuple[str, ...] = ()

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> AuditFilter:
        problems: list[str] = []

        def when(name: str) -> datetime | None:
            text = (query.get(name) or "").strip()
            if not text:
                return None
            try:
                at = datetime.fromisoformat(text)
            except ValueError:
                problems.append(f"{name} {text!r} is not a date or time (2026-12-03 or "
                                "2026-12-03T09:30)")
                return None
            return at if at.tzinfo else at.replace(tzinfo=UTC)

        since, until = when("since"), when("until")
        return cls(principal=(query.get("principal") or "").strip()[:200],
                   kind=(query.get("kind") or "").strip()[:100],
                   verdict=(query.get("verdict") or "").strip().lower()[:40],
                   action=(query.get("action") or "").strip()[:100],
                   since=since, until=until, problems=tuple(problems))

    @property
    def active(self) -> bool:
        return bool(self.principal or self.kind or self.verdict or self.action or self.since
                    or self.until)

    def query(self) -> dict[str, str]:
        """The filter as query parameters (for the next page's link)."""
        items = {"principal": self.principal, "kind": self.kind, "verdict": self.verdict,
                 "action": self.action,
                 "since": self.since.isoformat() if self.since else "",
                 "until": self.until.isoformat() if self.until else ""}
        return {k: v for k, v in items.items() if v}

    def matches(self, record: AuditRecord, row: AuditRow) -> bool:
        if self.action and record.action_id != self.action:
            return False
        if self.kind and record.kind != self.kind:
            return False
        if self.principal and self.principal != row.who:
            return False
        if self.verdict and self.verdict != row.verdict:
            return False
        if self.since or self.until:
            try:
                at = datetime.fromisoformat(record.at)
            except ValueError:
                return False
            if (self.since and at < self.since) or (self.until and at > self.until):
                return False
        return True


@dataclass(frozen=True, slots=True)
class AuditRow:
    seq: int
    at: Moment | None
    kind: str
    action_id: str
    who: str
    verdict: str
    summary: str
    raw: str
    alarm: bool


@dataclass(frozen=True, slots=True)
class AuditPage:
    rows: list[AuditRow] = field(default_factory=list)
    older: int | None = None  # `before` for the next page, when there are older records
    scanned_to: int | None = None  # the search stopped here (SCAN_LIMIT) before filling a page
    total: int = 0  # records in the log


def row_of(record: AuditRecord, now: datetime) -> AuditRow:
    data: Mapping[str, Any] = record.data
    raw = json.dumps(redact(dict(data)), sort_keys=True, ensure_ascii=False, indent=2)
    if len(raw) > RAW_LIMIT:
        raw = raw[:RAW_LIMIT] + f"\n… ({len(raw) - RAW_LIMIT} more characters; "\
            "`airlock audit export` has the whole record)"
    return AuditRow(seq=record.seq, at=moment(record.at, now), kind=record.kind,
                    action_id=record.action_id or "", who=_who(data), verdict=_verdict(data),
                    summary=redact_text(_summary(record.kind, data))[:300], raw=raw,
                    alarm=record.kind in ALARMS)


def _who(data: Mapping[str, Any]) -> str:
    for key in ("principal", "approver", "by", "name"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _verdict(data: Mapping[str, Any]) -> str:
    decision = data.get("decision")
    if isinstance(decision, Mapping) and isinstance(decision.get("verdict"), str):
        return str(decision["verdict"])
    for key in ("verdict", "status"):
        value = data.get(key)
        if isinstance(value, str):
            return value
    return ""


def _summary(kind: str, data: Mapping[str, Any]) -> str:
    content = data.get("content")
    if kind == "action" and isinstance(content, Mapping):
        parts = [content.get(k) for k in ("command", "text", "method", "url", "server", "tool",
                                          "path")]
        return " ".join(str(p) for p in parts if isinstance(p, str) and p)
    decision = data.get("decision")
    if isinstance(decision, Mapping) and isinstance(decision.get("reason"), str):
        return str(decision["reason"])
    for key in _SUMMARY_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _window(store: Store, low: int, high: int) -> list[AuditRecord]:
    """Records low ≤ seq < high, oldest first: one bounded read."""
    out: list[AuditRecord] = []
    records: Iterator[AuditRecord] = store.audit_records(after=low - 1)
    for record in records:
        if record.seq >= high:
            break
        out.append(record)
    close = getattr(records, "close", None)
    if close is not None:
        close()  # leave the store's generator now, not when it is collected
    return out


def read_page(store: Store, wanted: AuditFilter, before: int | None, now: datetime
              ) -> AuditPage:
    """Newest first, up to PAGE matching records older than `before` (None: from the head)."""
    head = store.audit_head()
    if head is None:
        return AuditPage()
    high = min(before, head.seq + 1) if before else head.seq + 1
    rows: list[AuditRow] = []
    scanned = 0
    while high > 1 and len(rows) <= PAGE:
        if scanned >= SCAN_LIMIT:
            return AuditPage(rows[:PAGE], older=high, scanned_to=high, total=head.seq)
        low = max(1, high - WINDOW)
        for record in reversed(_window(store, low, high)):
            row = row_of(record, now)
            if wanted.matches(record, row):
                rows.append(row)
        scanned += high - low
        high = low
    if len(rows) > PAGE:
        return AuditPage(rows[:PAGE], older=rows[PAGE - 1].seq, total=head.seq)
    return AuditPage(rows, total=head.seq)


def records_of_action(store: Store, action_id: str, limit: int = SCAN_LIMIT
                      ) -> list[AuditRecord]:
    """The records of one action, newest first, from the last `limit` records of the log."""
    head = store.audit_head()
    if head is None:
        return []
    found: list[AuditRecord] = []
    high, scanned = head.seq + 1, 0
    while high > 1 and scanned < limit:
        low = max(1, high - WINDOW)
        found.extend(r for r in reversed(_window(store, low, high)) if r.action_id == action_id)
        scanned += high - low
        high = low
    return found


# ---- the last verification ------------------------------------------------------------------


def save_verification(store: Store, report: VerifyReport, *, at: datetime, by: str) -> None:
    """Keep the result for the audit page (last writer wins; a lost race loses nothing that
    matters: both results are of the same chain)."""
    value = json.dumps({"at": at.isoformat(), "by": by, "ok": report.ok, "count": report.count,
                        "head": report.head, "problem": report.problem,
                        "bad_seq": report.bad_seq, "mac_checked": report.mac_checked})
    for _attempt in range(3):
        if store.put_meta(LAST_VERIFIED, value, expected=store.get_meta(LAST_VERIFIED)):
            return


def last_verification(store: Store, now: datetime) -> dict[str, Any] | None:
    text = store.get_meta(LAST_VERIFIED)
    if not text:
        return None
    try:
        kept = json.loads(text)
    except ValueError:
        return None
    if not isinstance(kept, dict):
        return None
    kept["when"] = moment(str(kept.get("at") or ""), now)
    return kept
