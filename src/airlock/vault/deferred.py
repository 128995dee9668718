"""Deferred deletes: for what cannot be copied (a cloud volume, a managed database instance).

Instead of running an approved destructive call at once, airlock keeps it with a due time
(default 48 hours later). Until then any human can cancel it (`airlock cancel ID`); after it, a
front that holds the upstream credential carries it out (`run_due`). A cancel and an execution
are compare-and-set updates of the same record, so exactly one of them wins.

The stored call is the action's content as the agent sent it without any credential: headers
that carry one (Authorization, cookies, API keys, AWS signing headers, …) are dropped, not
masked, every other string is redacted, and a body redaction had to change is not kept (it
cannot be replayed). The front that executes it adds airlock's own
credential for the upstream, as it would have at once; nothing the agent authenticated with is
kept or replayed. (State schema 2 rewrote calls stored before this.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from airlock.approvals import action_digest
from airlock.errors import InputError
from airlock.model import Action, ResolvedTarget, new_id, utcnow
from airlock.redact import redact_text, without_credentials
from airlock.safety import DEFERRED_METHOD
from airlock.store import DeferredRecord, DeferredStatus, Store
from airlock.upstream.http import BODY_NOT_KEPT

METHOD = DEFERRED_METHOD


def stored_call(content: Mapping[str, Any]) -> dict[str, Any]:
    """An action's content as it may be kept until it runs: no credential header, every string
    redacted — and a body that redaction had to change (it held a credential, or was too large
    to show whole) is not kept at all: replaying a masked or cut body would send something the
    human never approved, so such a call can only be run by hand or cancelled."""
    stored = without_credentials(content)
    body = content.get("body")
    if isinstance(body, str) and stored.get("body") != body:
        stored["body"] = (f"{BODY_NOT_KEPT} (it held a credential or was too large to keep; "
                          "run the call by hand or cancel it)")
    return stored


def defer(store: Store, action: Action, *, target: str, resource: str | None,
          grace: timedelta, targets: Sequence[ResolvedTarget] = (),
          now: datetime | None = None) -> DeferredRecord:
    now = now or utcnow()
    record = DeferredRecord(
        id=new_id("def"), action_id=action.id, principal=action.principal, resource=resource,
        target=target, summary=redact_text(action.summary()),
        content=stored_call(action.content()),
        context=action.context.canonical(), digest=action_digest(action, targets),
        created_at=now.isoformat(), due_at=(now + grace).isoformat())
    store.add_deferred(record)
    return record


def cancel(store: Store, deferred_id: str, by: str, reason: str = "",
           now: datetime | None = None) -> DeferredRecord:
    now = now or utcnow()
    current = store.get_deferred(deferred_id)
    if current is None:
        raise InputError(f"no deferred action {deferred_id}",
                         hint="list them with `airlock deferred`")
    if current.status is not DeferredStatus.PENDING:
        raise InputError(f"deferred action {deferred_id} is already {current.status.value}")
    cancelled = current.next_version(status=DeferredStatus.CANCELLED, decided_by=by,
                                     decided_at=now.isoformat(), result=reason)
    if not store.update_deferred(cancelled):
        raise InputError(f"deferred action {deferred_id} changed while cancelling it (it may "
                         "have just run); look again with `airlock deferred`")
    return cancelled


Runner = Callable[[DeferredRecord], Mapping[str, Any]]


def run_due(store: Store, runners: Mapping[str, Runner], now: datetime | None = None) -> list[
        DeferredRecord]:
    """Carry out every pending deferral whose time has come, with the runner for its kind
    (`content["kind"]`: http, shell, …). A deferral with no runner stays pending: nothing in
    airlock can carry it out yet, and it must not be marked done."""
    now = now or utcnow()
    done: list[DeferredRecord] = []
    for record in store.list_deferred(status=DeferredStatus.PENDING):
        if record.due_at > now.isoformat():
            break
        runner = runners.get(str(record.content.get("kind")))
        if runner is None:
            continue
        claimed = record.next_version(status=DeferredStatus.EXECUTED, decided_at=now.isoformat())
        if not store.update_deferred(claimed):
            continue  # cancelled or claimed by another replica a moment ago
        try:
            result = runner(record)
            final = claimed.next_version(result=str(dict(result))[:2000])
        except Exception as exc:
            final = claimed.next_version(status=DeferredStatus.FAILED, result=repr(exc)[:2000])
        store.update_deferred(final)
        done.append(final)
    return done
