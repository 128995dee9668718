"""Notifications: tell people that a held action is waiting for them.

    hold ──► NotifyingApprovals.request ──► outbox (in the store, one item per webhook)
                                                │  any process may hold: a hook, the API
             airlock up: Dispatcher ◄───────────┘  delivers due items, retries with backoff

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
from airlock.audit import AuditLog
from airlock.config import Config, Webhook
from airlock.model import (
    UNKNOWN_ENVIRONMENT,
    Action,
    Assessment,
    Decision,
    ResolvedTarget,
    new_id,
    sha256_hex,
    utcnow,
)
from airlock.redact import redact, redact_text
from airlock.services import Health
from airlock.store import ApprovalRecord, OutboxItem, OutboxStatus, Store

log = logging.getLogger("airlock.notify")

EVENT_REQUESTED = "approval.requested"
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


FORMATS: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {
    "json": json_payload, "slack": slack_payload}


# --------------------------------------------------------------------------------------------
# Writing the outbox


def enqueue_hold(store: Store, config: Config, approval: ApprovalRecord,
                 now: datetime | None = None) -> list[OutboxItem]:
    now = now or utcnow()
    event = hold_event(approval, config)
    items = [OutboxItem(id=new_id("ntf"), channel=channel_id(hook), event=EVENT_REQUESTED,
                        payload=event, created_at=now.isoformat(), due_at=now.isoformat())
             for hook in config.approvals.webhooks]
    for item in items:
        store.add_outbox(item)
    return items


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
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
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
        if not self.webhooks or self._thread is not None:
            return

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
        if not self.webhooks:
            return Health(True, "no webhooks configured")
        if self._thread is None or not self._thread.is_alive():
            return Health(False, "not running")
        return Health(True, f"{len(self.webhooks)} webhook(s)")
