"""GraphQL endpoints airlock has no table for.

Recognised by a path segment naming GraphQL (`/graphql`, `/api/graphql/v1`, ...), by an
`application/graphql` body, or by a request whose `query` field or parameter parses as a
GraphQL document. Queries and subscriptions read; mutations are read from their names by the
rules in `data/providers/graphql.toml` (destructive words → destructive, clearly reading names →
read, everything else unknown).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from airlock.classify.graphql import Operation, RootField
from airlock.classify.providers.graphql_endpoint import assess, carries_graphql
from airlock.classify.providers.labels import DataError, load_data
from airlock.classify.providers.request import Request
from airlock.model import Assessment, Effect, Risk, Target, Verb


@dataclass(frozen=True, slots=True)
class MutationWords:
    destructive: frozenset[str]
    read: frozenset[str]
    write: frozenset[str]


@cache
def mutation_words() -> MutationWords:
    table = load_data("graphql.toml").get("mutation_words", {})
    try:
        return MutationWords(*(frozenset(str(w).lower() for w in table[k])
                               for k in ("destructive", "read", "write")))
    except KeyError as exc:
        raise DataError(f"graphql.toml: [mutation_words] lacks {exc}") from None


_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def words(name: str) -> list[str]:
    """'bulkDeleteItems' -> ['bulk', 'delete', 'items']; 'drop_DB' -> ['drop', 'db']."""
    return [w.lower() for w in _WORD.findall(name)]


def mutation_risk(name: str) -> Risk:
    """Destructive when a word says so; read only when the name plainly reads; else unknown.

    Not `write` by default, unlike a REST POST: HTTP methods have agreed meanings, mutation
    names have none, and the call this project exists for (`volumeDelete`, or the same deletion
    as an `isDeleted` flag in a "commit") is exactly an unfamiliar mutation. Unknown holds it."""
    table = mutation_words()
    split = words(name)
    if any(w in table.destructive for w in split):
        return Risk.DESTRUCTIVE
    if split and split[0] in table.read and not any(w in table.write for w in split[1:]):
        return Risk.READ
    return Risk.UNKNOWN


def is_graphql_path(request: Request) -> bool:
    return any("graphql" in segment.lower() for segment in request.segments)


class GenericGraphQL:
    name = "graphql"

    def claims(self, request: Request) -> bool:
        return (is_graphql_path(request) or request.content_type == "application/graphql"
                or carries_graphql(request))

    def classify(self, request: Request) -> Assessment:
        endpoint = Target("url", request.endpoint)

        def label(operation: Operation, field: RootField) -> list[Effect]:
            return label_generic(operation, field, endpoint)

        return assess(request, label, request.endpoint)


def label_generic(operation: Operation, field: RootField, endpoint: Target) -> list[Effect]:
    where = endpoint.value
    if operation.kind != "mutation":
        return [Effect(Verb.READ, Risk.READ, f"GraphQL {operation.kind} {field.shown} on "
                       f"{where} reads data", endpoint)]
    risk = mutation_risk(field.name)
    if risk is Risk.DESTRUCTIVE:
        return [Effect(Verb.DELETE, risk, f"GraphQL mutation {field.shown} on {where} is named "
                       "as a deletion", endpoint)]
    if risk is Risk.READ:
        return [Effect(Verb.READ, risk, f"GraphQL mutation {field.shown} on {where} is named "
                       "as a read", endpoint)]
    return [Effect(Verb.UNKNOWN, Risk.UNKNOWN, f"GraphQL mutation {field.shown} on {where} is "
                   "not known to airlock, and its name does not say what it does", endpoint)]
