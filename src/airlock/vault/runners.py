"""Carrying out deferred calls when their grace period ends.

An HTTP call is sent to the configured upstream with airlock's own credential: the agent's
headers were stored redacted, and whatever credential the agent used (an airlock token, or worse,
a real one) is never replayed. Only a URL under a configured `api` resource's `base_url` is
called, redirects are not followed (a redirect could carry the credential elsewhere), and any
answer outside 2xx marks the deferral failed for a human to look at.

Shell commands are not run later: airlock does not hold the environment (credentials, working
tree, tools) the agent's command relied on. Such deferrals stay pending until a human cancels
them or carries them out; `airlock deferred` lists them.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from airlock.audit import AuditLog
from airlock.config import Config, Resource
from airlock.store import DeferredRecord, DeferredStatus, Store
from airlock.vault.deferred import Runner, run_due

log = logging.getLogger("airlock.deferred")

TIMEOUT_SECONDS = 30
# Request headers never forwarded: credentials (airlock adds its own), and hop-by-hop fields.
_DROPPED = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key",
                      "x-auth-token", "private-token", "host", "content-length", "connection",
                      "transfer-encoding", "x-amz-security-token"})


class DeferredCallError(Exception):
    pass


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx answer is returned as an error, and the credential stays here


def upstream_for(config: Config, url: str) -> Resource:
    """The one configured api resource whose base URL the call is under."""
    matches = [r for r in config.resources.values()
               if r.kind == "api" and r.base_url and _under(url, r.base_url)]
    if len(matches) != 1:
        found = ", ".join(r.name for r in matches) or "none"
        raise DeferredCallError(f"{url} is under {len(matches)} configured api resources "
                                f"({found}); airlock calls only a URL exactly one of them owns")
    return matches[0]


def _under(url: str, base: str) -> bool:
    base = base.rstrip("/")
    return url == base or url.startswith((base + "/", base + "?"))


def http_runner(config: Config, *, timeout: float = TIMEOUT_SECONDS) -> Runner:
    opener = urllib.request.build_opener(_NoRedirects)

    def run(record: DeferredRecord) -> Mapping[str, Any]:
        content = record.content
        method, url = str(content.get("method", "")).upper(), str(content.get("url", ""))
        upstream = upstream_for(config, url)
        if upstream.credential is None:
            raise DeferredCallError(f"api resource {upstream.name} has no credential to call it with")
        if ".amazonaws.com" in url:
            raise DeferredCallError("AWS calls must be signed (SigV4); airlock cannot carry out a "
                                    "deferred AWS call yet — run it by hand or cancel it")
        headers = {str(name): str(value) for name, value in content.get("headers") or []
                   if str(name).lower() not in _DROPPED}
        headers["Authorization"] = f"Bearer {upstream.credential.reveal()}"
        body = content.get("body")
        data = body.encode("utf-8") if isinstance(body, str) else None
        # The URL is under a configured base URL, which configuration checked is http(s).
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with opener.open(request, timeout=timeout) as response:
                status, text = response.status, response.read(4096)
        except urllib.error.HTTPError as exc:
            raise DeferredCallError(f"{method} {url} answered {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise DeferredCallError(f"{method} {url} failed: {exc}") from None
        if not 200 <= status < 300:
            raise DeferredCallError(f"{method} {url} answered {status}")
        return {"status": status, "body": text.decode("utf-8", "replace")[:1000]}

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
