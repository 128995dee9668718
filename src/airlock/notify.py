"""Notifications: tell people that a held action is waiting for them, and what became of it.

    hold ──► NotifyingApprovals.request ──► outbox (in the store, one item per webhook)
                                                │  any process may hold: a hook, the API
             airlock up: Dispatcher ◄───────────┘  delivers due items, retries with backoff
    audit log ──► EventFeed (in the Dispatcher) ──► outbox: decided, expired, outcome
                                                └─► one structured log line per event

Decisions and outcomes happen in whichever process made them (the console, `airlock approve`,
a hook), and all of them land in the audit log: the feed in `airlock up` reads the log from
where it last stopped (a cursor in the store's meta table, advanced by compare-and-set, so one
replica announces each record) and turns the records that matter into events. Holds that
expire undecided are found by a sweep that marks them expired (compare-and-set again).

The outbox lives in the state store, so an announcement survives a restart and a hold made by
a short-lived process (an agent hook) is still delivered by the service. Replicas sharing a
store claim items by compare-and-set, so each item is sent by one of them.

What is sent never carries secrets: the action's one-line summary passed through `redact`,
who asked, the risk, the environments, and a link to the console — never the action's full
content, never credentials. The webhook URL itself (a Slack URL *is* a credential) is never
logged or stored in the outbox: items name their webhook by a digest of its URL.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from airlock.approvals import Approvals
from airlock.audit import AuditLog, AuditRecord
from airlock.config import Config, Webhook
from airlock.model import (
    UNKNOWN_ENVIRONMENT,
    Action,
    Assessment,
    Decision,
    ResolvedTarget,
    canonical_json,
    id_from_hash,
    new_id,
    sha256_hex,
    utcnow,
)
from airlock.redact import redact, redact_text
from airlock.services import Health
from airlock.store import ApprovalRecord, ApprovalStatus, OutboxItem, OutboxStatus, Store

log = logging.getLogger("airlock.notify")

EVENT_REQUESTED = "approval.requested"
EVENT_DECIDED = "approval.decided"
EVENT_EXPIRED = "approval.expired"
EVENT_OUTCOME = "approval.outcome"
FEED_CURSOR = "notify.audit_seq"
FEED_BATCH = 500
# The records that announce something (events_of): holds, decisions, outcomes.
FEED_KINDS = ("held", "approval_given", "approval_denied", "approval_refused", "outcome")
events_log = logging.getLogger("airlock.events")
# Waits before attempt 2, 3, …: quick at first (a blip), then patient (an outage).
BACKOFF = (timedelta(seconds=5), timedelta(seconds=15), timedelta(minutes=1),
           timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=30),
           timedelta(hours=1), timedelta(hours=1), timedelta(hours=1))
MAX_ATTEMPTS = len(BACKOFF) + 1
LEASE = timedelta(seconds=60)  # a claimed item is left alone by other replicas for this long
TIMEOUT_SECONDS = 10.0


class DeliveryError(Exception):
    """A webhook did not accept a notification. `permanent` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def channel_id(webhook: Webhook) -> str:
    """Names a webhook in the outbox without revealing its URL."""
    return sha256_hex(webhook.url.reveal())[:16]


# --------------------------------------------------------------------------------------------
# What is said


def hold_event(approval: ApprovalRecord, config: Config) -> dict[str, Any]:
    """The facts of a new hold that may leave airlock."""
    details = approval.details
    targets = details.get("targets") or []
    environments = sorted({env for t in targets for env in t.get("environments", [])})
    production = [env for env in environments
                  if env == UNKNOWN_ENVIRONMENT or config.environment(env).production]
    decision = details.get("decision") or {}
    event: dict[str, Any] = redact({
        "event": EVENT_REQUESTED, "approval_id": approval.id, "action_id": approval.action_id,
        "principal": approval.principal, "front": details.get("front"),
        "kind": (details.get("content") or {}).get("kind"),
        "summary": redact_text(approval.summary), "risk": approval.risk.value,
        "environments": environments, "production": production,
        "resources": sorted({t["resource"] for t in targets if t.get("resource")}),
        "blast_radius": _blast(targets),
        "approvals_required": approval.approvals_required,
        "requested_at": approval.requested_at, "expires_at": approval.expires_at,
        "rule": decision.get("rule"), "reason": decision.get("reason"),
        "path": f"/console/approvals/{approval.id}",
    })
    return event


def _blast(targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every resource the held action's targets reach beyond themselves, each once (the
    targets' recorded casualties: resource, environment, kind, fate, why, via)."""
    own = {t.get("resource") for t in targets if t.get("resource")}
    seen: dict[str, dict[str, Any]] = {}
    for t in targets:
        for c in t.get("casualties") or []:
            name = c.get("resource")
            if name and name not in own and name not in seen:
                seen[name] = {k: c.get(k) for k in ("resource", "environment", "kind", "fate",
                                                    "why", "via")}
    return list(seen.values())


def json_payload(event: Mapping[str, Any], console_url: str) -> dict[str, Any]:
    return {"version": 1, **event, "url": console_url + str(event["path"])}


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn treats &, < and > as control characters; ``` would end the code block.
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("```", "'''"))


def slack_payload(event: Mapping[str, Any], console_url: str) -> dict[str, Any]:
    if event.get("event") != EVENT_REQUESTED:
        return slack_followup(event, console_url)
    url = console_url + str(event["path"])
    envs = list(event.get("environments") or []) or ["no known environment"]
    where = ", ".join(f"*{_slack_escape(e)}* :red_circle:" if e in event.get("production", [])
                      else _slack_escape(e) for e in envs)
    needed = int(event.get("approvals_required") or 1)
    blast = [f"{c['resource']} ({c['environment']}, {c['fate']})"
             for c in event.get("blast_radius") or []]
    reaches = (f"\nalso reaches: {_slack_escape(', '.join(blast[:8]))}"
               + (f" and {len(blast) - 8} more" if len(blast) > 8 else "")) if blast else ""
    text = (f"airlock: {event['principal']} wants to run a {event['risk']} {event.get('kind')} "
            f"action ({', '.join(envs)}). Review it: {url}")
    return {
        "text": _slack_escape(text),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": (
                f"*Held for approval* · risk *{_slack_escape(str(event['risk']))}* · {where}\n"
                f"```{_slack_escape(str(event['summary']))}```{reaches}")}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": (
                f"requested by {_slack_escape(str(event['principal']))} via "
                f"{_slack_escape(str(event.get('front')))} · needs {needed} "
                f"approval{'s' if needed != 1 else ''} · expires {event['expires_at']}")}]},
            {"type": "actions", "elements": [{"type": "button", "style": "primary",
                                              "text": {"type": "plain_text",
                                                       "text": "Review in airlock"},
                                              "url": url}]},
        ],
    }


def followup_text(event: Mapping[str, Any]) -> str:
    """One sentence for a decision, an expiry or an outcome."""
    what = f"{event.get('principal')}'s {event.get('risk')} action ({event.get('summary')})"
    kind = event.get("event")
    if kind == EVENT_DECIDED:
        said = f": {event['reason']}" if event.get("reason") else ""
        left = (f" ({event.get('approvals')} of {event.get('approvals_required')} approvals)"
                if event.get("status") == "pending" else "")
        return f"{event.get('by')} {event.get('decision')} {what}{left}{said}"
    if kind == EVENT_EXPIRED:
        return f"Nobody decided on {what} in time: the approval expired"
    backup = f"; {event['backup']}" if event.get("backup") else ""
    return f"{what} {event.get('status')}: {event.get('reason')}{backup}"


def slack_followup(event: Mapping[str, Any], console_url: str) -> dict[str, Any]:
    url = console_url + str(event["path"])
    return {"text": _slack_escape(f"airlock: {followup_text(event)}. {url}")}


FORMATS: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {
    "json": json_payload, "slack": slack_payload}


# --------------------------------------------------------------------------------------------
# Writing the outbox


def enqueue_hold(store: Store, config: Config, approval: ApprovalRecord,
                 now: datetime | None = None) -> list[OutboxItem]:
    # One announcement per approval and channel: two holds of one action that raced share one
    # approval (approvals.next_approval_id), and each would otherwise queue its own.
    return enqueue_event(store, config, hold_event(approval, config), now, about=approval.id)


def enqueue_event(store: Store, config: Config, event: dict[str, Any],
                  now: datetime | None = None, *, about: str | None = None) -> list[OutboxItem]:
    """Queue `event` for every webhook. With `about` (what it announces, e.g. an approval id)
    each item's id is derived from it, the channel and the event, so announcing the same thing
    twice queues it once (the store keeps the first item of an id)."""
    now = now or utcnow()
    items = [OutboxItem(id=_item_id(about, channel_id(hook), str(event["event"])),
                        channel=channel_id(hook), event=str(event["event"]),
                        payload=event, created_at=now.isoformat(), due_at=now.isoformat())
             for hook in config.approvals.webhooks]
    for item in items:
        store.add_outbox(item)
    return items


def _item_id(about: str | None, channel: str, event: str) -> str:
    if about is None:
        return new_id("ntf")
    return id_from_hash("ntf", sha256_hex(canonical_json([about, channel, event])))


def _about(approval: ApprovalRecord | None, approval_id: str) -> dict[str, Any]:
    """What every follow-up says about its approval (redacted summary, no content)."""
    if approval is None:
        return {"approval_id": approval_id, "path": f"/console/approvals/{approval_id}"}
    return {"approval_id": approval.id, "action_id": approval.action_id,
            "principal": approval.principal, "summary": redact_text(approval.summary),
            "risk": approval.risk.value, "approvals_required": approval.approvals_required,
            "path": f"/console/approvals/{approval.id}"}


def events_of(record: AuditRecord, approval: ApprovalRecord | None) -> tuple[str, dict[str, Any]]:
    """(log-only kind, or a webhook event) for one audit record; ("", {}) for records that
    announce nothing. Holds are announced when they are made (NotifyingApprovals), so here
    they are only logged."""
    data = record.data
    approval_id = str(data.get("approval_id") or "")
    if record.kind == "held":
        return "hold", {"event": "hold", **_about(approval, approval_id),
                        "expires_at": data.get("expires_at")}
    if record.kind in ("approval_given", "approval_denied"):
        return EVENT_DECIDED, {
            "event": EVENT_DECIDED, **_about(approval, approval_id),
            "decision": "approved" if record.kind == "approval_given" else "denied",
            "by": data.get("approver"), "via": data.get("via"),
            "reason": redact_text(str(data.get("reason") or "")),
            "status": data.get("status"), "approvals": data.get("approvals"),
            "without_backup": bool(data.get("without_backup"))}
    if record.kind == "approval_refused" and data.get("why") == "expired":
        return EVENT_EXPIRED, {"event": EVENT_EXPIRED, **_about(approval, approval_id)}
    the_hold_itself = (record.action_id == (approval.action_id if approval else None)
                       and data.get("status") == "held")
    if record.kind == "outcome" and approval_id and approval is not None \
            and approval.status is not ApprovalStatus.PENDING and not the_hold_itself:
        backup = redact_text(str(data.get("backup") or ""))
        return EVENT_OUTCOME, {
            "event": EVENT_OUTCOME, **_about(approval, approval_id),
            "action_id": record.action_id, "status": data.get("status"),
            "reason": redact_text(str(data.get("reason") or "")), "backup": backup,
            "without_backup": "without a backup" in backup,
            "snapshots": [s for s in data.get("snapshots") or [] if isinstance(s, str)]}
    return "", {}


def log_event(event: Mapping[str, Any], at: str) -> None:
    """One line per event, JSON, for whoever runs `airlock up` (journald, a log shipper)."""
    line = {"at": at, **{k: v for k, v in event.items() if k != "path"}}
    events_log.info(json.dumps(line, ensure_ascii=False, sort_keys=True, default=str))


class EventFeed:
    """Turns what the audit log records about approvals into webhook events and log lines,
    and expires holds nobody decided (see the module docstring)."""

    def __init__(self, store: Store, config: Config,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.config = config
        self.clock = clock

    def run_once(self) -> int:
        """Announce what happened since the last call; returns how many events."""
        return self._expire() + self._follow()

    def _expire(self) -> int:
        now = self.clock()
        count = 0
        for approval in self.store.list_approvals(status=ApprovalStatus.PENDING, limit=500):
            if datetime.fromisoformat(approval.expires_at) > now:
                continue
            if not self.store.update_approval(approval.next_version(
                    status=ApprovalStatus.EXPIRED)):
                continue  # decided, or expired by another replica, just now
            self._announce({"event": EVENT_EXPIRED, **_about(approval, approval.id),
                            "expires_at": approval.expires_at}, now)
            count += 1
        return count

    def begin(self) -> None:
        """On the very first start, announce from here on, not the whole history (later
        starts go on from where the last one stopped: nothing is missed while down)."""
        if self.store.get_meta(FEED_CURSOR) is None:
            head = self.store.audit_head()
            self.store.put_meta(FEED_CURSOR, str(head.seq if head else 0), expected=None)

    def _follow(self) -> int:
        now = self.clock()
        cursor = self.store.get_meta(FEED_CURSOR)
        if cursor is None:
            self.begin()
            return 0
        # Only the kinds announced are read (the store filters; a busy proxy writes thousands
        # of other records a second). The head is read first: every record up to it is
        # committed, so the cursor can pass the ones not announced.
        head = self.store.audit_head()
        records: list[AuditRecord] = []
        for record in self.store.audit_records(after=int(cursor), kinds=FEED_KINDS):
            records.append(record)
            if len(records) >= FEED_BATCH:
                break
        last = records[-1].seq if records else 0
        upto = last if len(records) >= FEED_BATCH else max(last, head.seq if head else 0)
        if upto <= int(cursor) or not self.store.put_meta(FEED_CURSOR, str(upto),
                                                           expected=cursor):
            return 0  # nothing new, or another replica announces these
        count = 0
        for record in records:
            approval_id = record.data.get("approval_id")
            if not approval_id:
                continue
            approval = self.store.get_approval(str(approval_id))
            kind, event = events_of(record, approval)
            if not kind:
                continue
            if kind == "hold":
                log_event(event, record.at)  # its webhook event went out when it was made
            else:
                self._announce(event, now, at=record.at)
            count += 1
        return count

    def _announce(self, event: dict[str, Any], now: datetime, at: str | None = None) -> None:
        event = redact(event)
        log_event(event, at or now.isoformat())
        enqueue_event(self.store, self.config, event, now)


class NotifyingApprovals:
    """Approvals that announce every *new* hold to the configured webhooks.

    A failure to write the outbox does not undo the hold (it stands, visible in the console
    and `airlock approvals`); it is recorded in the audit log.
    """

    def __init__(self, inner: Approvals, store: Store, config: Config, audit: AuditLog) -> None:
        self.inner = inner
        self.store = store
        self.config = config
        self.audit = audit

    def get(self, approval_id: str) -> ApprovalRecord | None:
        return self.inner.get(approval_id)

    def redeemable(self, digest: str, now: datetime) -> ApprovalRecord | None:
        return self.inner.redeemable(digest, now)

    def redeem(self, approval: ApprovalRecord, action_id: str, now: datetime) -> bool:
        return self.inner.redeem(approval, action_id, now)

    def request(self, action: Action, digest: str, assessment: Assessment,
                targets: Sequence[ResolvedTarget], decision: Decision,
                details: Mapping[str, Any], now: datetime) -> ApprovalRecord:
        record = self.inner.request(action, digest, assessment, targets, decision, details, now)
        if record.action_id == action.id and record.version == 1:  # new, not a repeat
            try:
                enqueue_hold(self.store, self.config, record, now)
            except Exception as exc:
                log.exception("could not queue notifications for %s", record.id)
                self.audit.record("error", action.id, {"step": "notify.enqueue",
                                                       "error": repr(exc)})
        return record


# --------------------------------------------------------------------------------------------
# Delivering


def post_json(url: str, payload: Mapping[str, Any], timeout: float = TIMEOUT_SECONDS) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST", headers={  # noqa: S310
        "Content-Type": "application/json", "User-Agent": "airlock-notify/1"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read(65536)
    except urllib.error.HTTPError as exc:
        # 4xx other than timeout/rate limit: the webhook refuses this payload for good.
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}", permanent=permanent) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{type(exc).__name__}: {reason}") from None


Sender = Callable[[str, Mapping[str, Any]], None]


class Dispatcher:
    """Delivers due outbox items; `airlock up` runs one in a background thread (a service,
    services.py)."""

    name = "notifications"

    def __init__(self, store: Store, webhooks: Sequence[Webhook], audit: AuditLog,
                 console_url: str, *, send: Sender = post_json,
                 clock: Callable[[], datetime] = utcnow, config: Config | None = None) -> None:
        self.store = store
        # With the configuration, decisions, expiries and outcomes are announced too.
        self.feed = EventFeed(store, config, clock) if config is not None else None
        self.webhooks = {channel_id(w): w for w in webhooks}
        self.audit = audit
        self.console_url = console_url.rstrip("/")
        self.send = send
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Attempt every due item once; returns how many were delivered."""
        delivered = 0
        if self.feed is not None:
            try:
                self.feed.run_once()
            except Exception:  # announcing is not a gate: deliver what is queued regardless
                log.exception("could not read new events from the audit log")
        now = self.clock()
        for item in self.store.due_outbox(now.isoformat()):
            claimed = item.next_version(attempts=item.attempts + 1,
                                        due_at=(now + LEASE).isoformat())
            if not self.store.update_outbox(claimed):
                continue  # another replica took it
            delivered += self._attempt(claimed)
        return delivered

    def _attempt(self, item: OutboxItem) -> int:
        webhook = self.webhooks.get(item.channel)
        try:
            if webhook is None:
                raise DeliveryError("the webhook is no longer configured", permanent=True)
            render = FORMATS[webhook.format]
            self.send(webhook.url.reveal(), render(item.payload, self.console_url))
        except Exception as exc:
            permanent = isinstance(exc, DeliveryError) and exc.permanent
            error = redact_text(str(exc) if isinstance(exc, DeliveryError)
                                else f"{type(exc).__name__}: {exc}")[:500]
            now = self.clock()
            if permanent or item.attempts >= MAX_ATTEMPTS:
                self.store.update_outbox(item.next_version(status=OutboxStatus.FAILED,
                                                           last_error=error))
                self.audit.record("notification_failed", None, {
                    "notification": item.id, "event": item.event, "channel": item.channel,
                    "approval_id": item.payload.get("approval_id"),
                    "attempts": item.attempts, "error": error})
            else:
                wait = BACKOFF[min(item.attempts - 1, len(BACKOFF) - 1)]
                self.store.update_outbox(item.next_version(due_at=(now + wait).isoformat(),
                                                           last_error=error))
                log.warning("notification %s failed (attempt %d), retrying in %s: %s",
                            item.id, item.attempts, wait, error)
            return 0
        self.store.update_outbox(item.next_version(status=OutboxStatus.DELIVERED,
                                                   delivered_at=self.clock().isoformat()))
        return 1

    def start(self, interval: float = 1.0) -> None:
        if (not self.webhooks and self.feed is None) or self._thread is not None:
            return
        _log_events_to_stderr()
        if self.feed is not None:
            try:
                self.feed.begin()
            except Exception:
                log.exception("could not start reading events from the audit log")

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.run_once()
                except Exception:  # notifications are not a gate: keep trying, loudly
                    log.exception("notification delivery failed")

        self._thread = threading.Thread(target=loop, name="airlock-notify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=TIMEOUT_SECONDS + 1)
            self._thread = None

    def health(self) -> Health:
        if not self.webhooks and self.feed is None:
            return Health(True, "no webhooks configured")
        if self._thread is None or not self._thread.is_alive():
            return Health(False, "not running")
        return Health(True, f"{len(self.webhooks)} webhook(s)" if self.webhooks
                      else "no webhooks; events are logged")


def _log_events_to_stderr() -> None:
    """The event lines go to stderr as they are (one JSON object a line) unless the process
    configured logging for them already."""
    if not events_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        events_log.addHandler(handler)
        events_log.setLevel(logging.INFO)
        events_log.propagate = False
