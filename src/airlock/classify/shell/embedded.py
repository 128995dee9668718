"""Handing SQL and HTTP found in a command to their classifiers, and keeping what they say.

A request with a part computed at run time (`-H "Authorization: Bearer $TOKEN"`, a body with
`$ID` in it) is still judged by the rest: the computed part is replaced by COMPUTED and the
request classified, so `volumeDelete` in the body stays catastrophic. What the computed part
could change is unknown on top of that — unless it is a header value that only says who asks
(Authorization, a cookie, an API key), which changes nothing the request does.

The SQL classifier (`classify_sql`) and the HTTP classifier (`classify_http`) judge what is sent;
their effects are kept as they are. Each is joined by one effect of the same risk on the
database or URL the client talks to, because a statement's own targets (a table) live in the
database's context, not in the shell's: an INSERT run by psql against another host is a write
to that host, not to this machine. SQL or requests that cannot be seen are unknown, and a
classifier that fails is unknown too (they are imported when used, so one that does not even
import fails closed the same way).
"""

from __future__ import annotations

import dataclasses

from airlock.classify.shell.base import unknown
from airlock.classify.shell.words import COMPUTED
from airlock.model import Assessment, Effect, HttpRequest, Target, Verb

# Objects of a database a statement names (table:orders): placed in the database the client
# connects to.
_IN_DATABASE = frozenset({
    "table", "schema", "database", "view", "materialized_view", "function", "procedure",
    "sequence", "index", "extension", "type", "role", "trigger", "column", "constraint",
    "publication", "subscription", "policy", "rule", "domain", "collation", "tablespace",
    "large_object", "replication_slot", "owned", "object",
})


def _keep(assessment: Assessment, target: Target | None, what: str) -> list[Effect]:
    """The SQL classifier's effects, placed in the database `target` the client connects to:
    `DROP TABLE orders` run by `psql -h db.prod` destroys table orders *in db.prod* (one
    target, that database's resource and environment; its backup is of the table). An effect
    that names nothing is on the database itself."""
    effects = list(assessment.effects)
    if target is not None and target.kind != "url":
        placed = [_placed(e, target) for e in effects]
        if placed and all(e.target is not None for e in placed):
            return placed
        effects = placed
    if target is not None and all(e.target != target for e in effects):
        worst = max(assessment.effects, key=lambda e: e.risk.rank, default=None)
        verb = worst.verb if worst is not None else Verb.READ
        detail = worst.reason if worst is not None else ""
        effects.append(Effect(verb, assessment.risk, f"{what}: {detail}" if detail else what,
                              target, "database" if target.kind != "url" else "request"))
    return effects


def _placed(effect: Effect, database: Target) -> Effect:
    target = effect.target
    if target is None:
        return dataclasses.replace(effect, target=database)
    if target.contextual and target.within is None and target.kind in _IN_DATABASE:
        return dataclasses.replace(effect, target=dataclasses.replace(
            target, contextual=database.contextual, within=database))
    return effect


def sql_effects(text: str | None, dialect: str, target: Target | None,
                origin: str) -> list[Effect]:
    where = f" on {target.value}" if target is not None else ""
    if text is None:
        return [unknown(f"the SQL run {origin}{where} cannot be seen before it runs", target)]
    try:
        from airlock.classify.sql import classify_sql

        assessment = classify_sql(text, dialect)
    except Exception as exc:  # fail closed: the SQL classifier is a black box
        return [unknown(f"the SQL classifier failed ({type(exc).__name__})", target)]
    return _keep(assessment, target, f"runs SQL{where}")


__all__ = ["COMPUTED", "HARMLESS_HEADERS", "http_effects", "request_effects", "sql_effects"]

# Headers whose value says who asks or how to answer, never what to do.
HARMLESS_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "apikey",
    "x-auth-token", "x-access-token", "private-token", "x-railway-token", "project-access-token",
    "x-github-token", "user-agent", "accept", "accept-encoding", "accept-language",
    "x-request-id", "x-correlation-id", "x-trace-id", "traceparent", "cache-control",
    "x-client-name", "x-client-version",
})


def request_effects(request: HttpRequest, computed: list[str], origin: str) -> list[Effect]:
    """A request some parts of which (named in `computed`) are COMPUTED: classified on what it
    says, and unknown for what the computed parts could change."""
    effects = http_effects(request, origin)
    risky = [part for part in computed
             if not (part.startswith("header ") and part[7:].lower() in HARMLESS_HEADERS)]
    if risky:
        effects.append(unknown(f"the request sent {origin} has parts computed at run time "
                               f"({', '.join(risky)})", Target("url", request.url)))
    return effects


def http_effects(request: HttpRequest | None, origin: str) -> list[Effect]:
    if request is None:
        return [unknown(f"the HTTP request sent {origin} is computed at run time")]
    try:
        from airlock.classify.http import classify_http

        assessment = classify_http(request)
    except Exception as exc:  # fail closed, as above
        return [unknown(f"the HTTP classifier failed ({type(exc).__name__})",
                        Target("url", request.url))]
    return _keep(assessment, Target("url", request.url),
                     f"sends {request.method.upper()} {request.url}")
