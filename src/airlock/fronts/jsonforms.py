"""The JSON forms the fronts share: an action's payload in (`airlock check`'s contract, the
HTTP API's body), an outcome out (the API's answer, `airlock sql --json`). A front keeps only its
own wire format; what two fronts say alike is said here, so no front imports another."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from airlock.errors import InputError
from airlock.model import HttpRequest, Outcome, Payload, ShellCommand, SqlQuery

__all__ = ["DIALECTS", "KINDS", "http_request_from", "outcome_json", "parse_http_line",
           "payload_from"]

KINDS = ("shell", "sql", "http")
DIALECTS = ("postgres", "mysql", "sqlite")


def payload_from(kind: str, value: Any, dialect: str | None) -> Payload:
    if kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)} (got {kind!r})")
    if kind == "http":
        return http_request_from(value)
    if not isinstance(value, str):
        raise InputError(f"for kind {kind}, input must be a string")
    if kind == "shell":
        return ShellCommand(value)
    dialect = dialect or "postgres"
    if dialect not in DIALECTS:
        raise InputError(f"dialect must be one of {', '.join(DIALECTS)} (got {dialect!r})")
    return SqlQuery(value, dialect)


def http_request_from(value: Any) -> HttpRequest:
    """An HttpRequest from `{method, url, headers, body}` (headers: object or list of pairs)."""
    if not isinstance(value, Mapping):
        raise InputError("for kind http, input must be an object {method, url, headers, body}")
    method, url = value.get("method", "GET"), value.get("url")
    if not isinstance(method, str) or not isinstance(url, str) or not url:
        raise InputError("http input needs a string `url` (and `method`, default GET)")
    raw_headers = value.get("headers") or {}
    pairs: list[tuple[str, str]] = []
    items = raw_headers.items() if isinstance(raw_headers, Mapping) else raw_headers
    try:
        for name, header_value in items:
            pairs.append((str(name), str(header_value)))
    except (TypeError, ValueError):
        raise InputError("http headers must be an object or a list of [name, value] pairs") from None
    body = value.get("body")
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)  # a JSON body given as an object: send it as JSON text
    return HttpRequest(method.upper(), url, tuple(pairs), body)


def parse_http_line(text: str, headers: Iterable[str] = (), body: str | None = None) -> HttpRequest:
    """`METHOD URL` (or just `URL`) from the command line."""
    parts = text.split(None, 1)
    if len(parts) == 2 and parts[0].isalpha() and "://" not in parts[0]:
        method, url = parts[0].upper(), parts[1].strip()
    else:
        method, url = ("POST" if body is not None else "GET"), text.strip()
    pairs = []
    for header in headers:
        name, sep, value = header.partition(":")
        if not sep:
            raise InputError(f"--header {header!r} must look like 'Name: value'")
        pairs.append((name.strip(), value.strip()))
    return HttpRequest(method, url, tuple(pairs), body)


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {
        "action_id": outcome.action_id, "status": outcome.status.value,
        "verdict": outcome.verdict.value, "reason": outcome.reason,
        "risk": outcome.assessment.risk.value, "rule": outcome.decision.rule,
        "approval_id": outcome.approval_id, "snapshots": list(outcome.snapshots),
        "targets": [t.to_json() for t in outcome.targets],
        "effects": [e.to_json() for e in outcome.assessment.effects],
        "result": dict(outcome.result) if outcome.result else None,
    }
