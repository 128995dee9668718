"""Carrying out deferred calls when their grace period ends.

An HTTP call is sent to the configured upstream with airlock's own credential (upstream/http.py:
to the api resource the API proxy received it for, else the one configured api resource whose
base URL owns the URL; the agent's credentials dropped, AWS calls signed again with airlock's own
keys, no redirects, anything outside 2xx a failure for a human to look at).

Shell commands are not run later: airlock does not hold the environment (credentials, working
tree, tools) the agent's command relied on. Such deferrals stay pending until a human cancels
them or carries them out; `airlock deferred` lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from airlock.audit import AuditLog
from airlock.config import Config
from airlock.store import DeferredRecord, DeferredStatus, Store
from airlock.upstream import http
from airlock.vault.deferred import Runner, run_due


def http_runner(config: Config, *, timeout: float = http.TIMEOUT_SECONDS) -> Runner:
    def run(record: DeferredRecord) -> Mapping[str, Any]:
        content = record.content
        method, url = str(content.get("method", "")).upper(), str(content.get("url", ""))
        headers = [(str(name), str(value)) for name, value in content.get("headers") or []]
        body = content.get("body")
        # The API proxy names the api resource it received the call for (fronts/apiproxy/).
        via = record.context.get("resource")
        resource = via if isinstance(via, str) and via in config.resources \
            and config.resources[via].kind == "api" else None
        answer = http.call(config, method, url, headers, body if isinstance(body, str) else None,
                           timeout=timeout, resource=resource)
        return {"status": answer.status, "body": answer.body.decode("utf-8", "replace")[:1000]}

    return run


def run_due_and_record(store: Store, config: Config, audit: AuditLog,
                       runners: Mapping[str, Runner] | None = None,
                       now: datetime | None = None) -> list[DeferredRecord]:
    """Carry out every due deferral that airlock can, and record each outcome."""
    done = run_due(store, runners if runners is not None else {"http": http_runner(config)},
                   now=now)
    for record in done:
        kind = "deferred_executed" if record.status is DeferredStatus.EXECUTED else "deferred_failed"
        audit.record(kind, record.action_id, {"deferred": record.id, "target": record.target,
                                              "result": record.result})
    return done
