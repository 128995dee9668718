"""GraphQL over HTTP: finding the GraphQL requests inside an HTTP request, and assessing them.

The transports a server may accept, all handled here so that every GraphQL provider sees the
same operations:
- POST with a JSON body: one request object, or an array of them (a batch);
- POST with `application/graphql`: the raw document (variables and operationName, if any, in
  the query string);
- POST with a form body carrying query / variables / operationName;
- GET (or any method) with `?query=&variables=&operationName=`.

Each provider passes a `FieldLabeller` that knows what its root fields do; this module expands
the operation, labels every root field and folds the results into one assessment.
"""

from __future__ import annotations

from collections.abc import Callable

from airlock.classify.graphql import (
    GraphQLPayload,
    GraphQLRequestError,
    Operation,
    RootField,
    executed_operation,
    looks_like_graphql,
    payload_from_fields,
    payloads_from_json,
)
from airlock.classify.providers.request import Request, RequestError
from airlock.model import Assessment, Effect, Risk, Verb

FieldLabeller = Callable[[Operation, RootField], list[Effect]]

# Root fields every GraphQL server answers itself, with no side effect (introspection).
INTROSPECTION_FIELDS = frozenset({"__schema", "__type", "__typename"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def payloads(request: Request) -> list[GraphQLPayload] | None:
    """The GraphQL requests carried by an HTTP request; None when it carries none at all (a
    bare GET of the endpoint). Raises `GraphQLRequestError` when it tries and fails."""
    if request.has_param("query"):
        if request.has_body:
            raise GraphQLRequestError("the request carries a query both in the URL and in "
                                      "the body")
        return [payload_from_fields(request.param("query"), request.param("variables"),
                                    request.param("operationName"))]
    if not request.has_body:
        return None
    if request.content_type == "application/graphql":
        return [payload_from_fields(request.body, request.param("variables"),
                                    request.param("operationName"))]
    if request.content_type == "application/x-www-form-urlencoded":
        return [payload_from_fields(request.form_field("query"), request.form_field("variables"),
                                    request.form_field("operationName"))]
    if request.body_looks_like_json():
        return payloads_from_json(request.json_body())
    raise GraphQLRequestError(f"the body ({request.content_type or 'no content type'}) is not "
                              "a GraphQL request airlock can read")


def carries_graphql(request: Request) -> bool:
    """Whether a request to an endpoint not known to be GraphQL still carries a GraphQL
    document: a JSON `query` field or a `?query=` parameter that parses as one."""
    try:
        query = request.param("query")
        if query is None and request.has_body and request.body_looks_like_json():
            body = request.json_body()
            first = body[0] if isinstance(body, list) and body else body
            query = first.get("query") if isinstance(first, dict) else None
    except RequestError:
        # A `query` given twice, or JSON that repeats a key: servers disagree on which copy
        # they run, so claim the request and let `assess` call it unknown.
        return "query" in request.raw_query or "query" in (request.body or "")
    return isinstance(query, str) and looks_like_graphql(query)


def assess(request: Request, labeller: FieldLabeller, who: str) -> Assessment:
    """The assessment of a request to a GraphQL endpoint of `who` ("Railway", a URL, ...)."""
    try:
        found = payloads(request)
    except (GraphQLRequestError, RequestError) as exc:
        return Assessment.unknown(f"{request.method} to the {who} GraphQL endpoint cannot be "
                                  f"read as GraphQL: {exc}", classifier="http")
    if found is None:
        if request.method in SAFE_METHODS:
            return Assessment.of([Effect(Verb.READ, Risk.READ, f"{request.method} of the {who} "
                                         "GraphQL endpoint carries no operation")],
                                 classifier="http")
        return Assessment.unknown(f"{request.method} to the {who} GraphQL endpoint carries no "
                                  "GraphQL request airlock can read", classifier="http")
    effects: list[Effect] = []
    for index, payload in enumerate(found):
        where = f" (batch item {index + 1})" if len(found) > 1 else ""
        effects.extend(_assess_payload(payload, labeller, who, where))
    complete = not any(e.risk is Risk.UNKNOWN for e in effects)
    return Assessment.of(effects, classifier="http", complete=complete)


def _assess_payload(payload: GraphQLPayload, labeller: FieldLabeller, who: str,
                    where: str) -> list[Effect]:
    try:
        operation = executed_operation(payload)
    except GraphQLRequestError as exc:
        return [Effect(Verb.UNKNOWN, Risk.UNKNOWN, f"{who} GraphQL request{where} is not "
                       f"understood: {exc}")]
    if not operation.fields:
        return [Effect(Verb.UNKNOWN, Risk.UNKNOWN, f"{who} GraphQL {operation.kind}{where} "
                       "selects no field, which no server executes")]
    effects: list[Effect] = []
    for field in operation.fields:
        if field.name in INTROSPECTION_FIELDS:
            effects.append(Effect(Verb.READ, Risk.READ, f"{who} introspection field "
                                  f"{field.name} reads the schema"))
        else:
            effects.extend(labeller(operation, field))
    return effects
