"""GraphQL requests: every transport, every way of hiding a root field, every refusal.

Cases run against Railway (a known provider, where volumeDelete is catastrophic) so that a
field that escapes expansion shows up as a missing catastrophe."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest

from airlock.classify.graphql import (
    MISSING,
    GraphQLPayload,
    GraphQLRequestError,
    executed_operation,
    lookup,
    payloads_from_json,
)
from airlock.classify.http import classify_http
from airlock.model import Assessment, HttpRequest, Risk, Target

ENDPOINT = "https://backboard.railway.app/graphql/v2"
JSON = (("Content-Type", "application/json"),)
DELETE = 'volumeDelete(volumeId: "v1")'


def post_json(body: Any, url: str = ENDPOINT) -> Assessment:
    return classify_http(HttpRequest("POST", url, JSON, json.dumps(body)))


def post_query(query: str, **extra: Any) -> Assessment:
    return post_json({"query": query, **extra})


def op(query: str, variables: dict[str, Any] | None = None,
       name: str | None = None) -> list[str]:
    operation = executed_operation(GraphQLPayload(query, variables or {}, name))
    return [f.name for f in operation.fields]


# ----------------------------------------------------------------------------------------------
# Root fields, however they are written


@pytest.mark.parametrize("query", [
    f"mutation {{ {DELETE} }}",
    f"mutation {{ innocent: {DELETE} }}",
    f"mutation {{ ... on Mutation {{ {DELETE} }} }}",
    f"mutation {{ ... {{ {DELETE} }} }}",
    f"mutation {{ ...F }} fragment F on Mutation {{ {DELETE} }}",
    f"mutation {{ ...A }} fragment A on Mutation {{ ...B }} fragment B on Mutation {{ {DELETE} }}",
    f"mutation {{ ... on Mutation {{ ...F }} }} fragment F on Mutation {{ x: {DELETE} }}",
    f"fragment F on Mutation {{ {DELETE} }} mutation {{ ...F }}",
    f"mutation {{ {DELETE} @skip(if: true) }}",
    f"mutation M($no: Boolean = false) {{ {DELETE} @include(if: $no) }}",
    f"mutation {{ serviceInstanceRedeploy(environmentId: \"e\", serviceId: \"s\") {DELETE} }}",
])
def test_hidden_root_fields_are_found(query: str) -> None:
    assessment = post_query(query)
    assert assessment.risk is Risk.CATASTROPHIC, assessment.reasons
    assert Target("railway:volume", "v1") in assessment.targets


def test_alias_is_shown_in_the_reason() -> None:
    reasons = post_query(f"mutation {{ tidy: {DELETE} }}").reasons
    assert reasons[0].startswith("Railway volumeDelete (aliased tidy) deletes volume v1")


def test_fragment_spread_many_times_costs_little() -> None:
    # Each fragment spreads the next twice: 2**40 paths if expanded naively.
    fragments = " ".join(f"fragment F{i} on Mutation {{ ...F{i + 1} ...F{i + 1} }}"
                         for i in range(40))
    query = f"mutation {{ ...F0 }} {fragments} fragment F40 on Mutation {{ {DELETE} }}"
    started = time.thread_time()
    assert post_query(query).risk is Risk.CATASTROPHIC
    assert time.thread_time() - started < 1.0


@pytest.mark.parametrize(("query", "why"), [
    ("mutation { ...F }", "never defined"),
    ("mutation { ...F } fragment F on Mutation { ...F }", "spreads itself"),
    ("mutation { ...A } fragment A on Mutation { ...B } fragment B on Mutation { ...A }",
     "spreads itself"),
    (f"mutation {{ ...F }} fragment F on Mutation {{ {DELETE} }} "
     "fragment F on Mutation { x }", "defined twice"),
])
def test_broken_fragments_are_unknown(query: str, why: str) -> None:
    assessment = post_query(query)
    assert assessment.risk is Risk.UNKNOWN and not assessment.complete
    assert why in assessment.reasons[0]


def test_introspection_is_a_read() -> None:
    assert post_query("{ __schema { types { name } } }").risk is Risk.READ
    assert post_query("query { __type(name: \"Volume\") { name } }").risk is Risk.READ
    assert post_query("mutation { __typename }").risk is Risk.READ


def test_subscription_is_a_read() -> None:
    query = 'subscription { deploymentLogs(deploymentId: "d") { message } }'
    assert post_query(query).risk is Risk.READ


# ----------------------------------------------------------------------------------------------
# Which operation runs


TWO = f'query Look {{ projects {{ edges {{ node {{ id }} }} }} }} mutation Kill {{ {DELETE} }}'


def test_operation_name_selects_the_operation() -> None:
    assert post_query(TWO, operationName="Look").risk is Risk.READ
    assert post_query(TWO, operationName="Kill").risk is Risk.CATASTROPHIC


@pytest.mark.parametrize("extra", [{}, {"operationName": None}, {"operationName": ""},
                                   {"operationName": "Nope"}])
def test_ambiguous_or_missing_operation_is_unknown(extra: dict[str, Any]) -> None:
    assessment = post_query(TWO, **extra)
    assert assessment.risk is Risk.UNKNOWN and not assessment.complete


def test_duplicate_operation_names_are_unknown() -> None:
    query = f"query A {{ me {{ id }} }} mutation A {{ {DELETE} }}"
    assert post_query(query, operationName="A").risk is Risk.UNKNOWN


def test_operation_name_on_a_single_anonymous_operation() -> None:
    # The server finds no operation of that name and refuses: unknown, not read.
    assert post_query(f"mutation {{ {DELETE} }}", operationName="X").risk is Risk.UNKNOWN


def test_only_the_selected_operation_counts() -> None:
    assert op(TWO, name="Look") == ["projects"]


# ----------------------------------------------------------------------------------------------
# Transports


def test_batched_array_counts_every_item() -> None:
    body = [{"query": "{ me { id } }"}, {"query": f"mutation {{ {DELETE} }}"}]
    assessment = post_json(body)
    assert assessment.risk is Risk.CATASTROPHIC
    assert Target("railway:volume", "v1") in assessment.targets
    assert [e.risk for e in assessment.effects] == [Risk.READ, Risk.CATASTROPHIC]


def test_batch_with_one_bad_item_is_incomplete() -> None:
    assessment = post_json([{"query": "{ me { id } }"}, {"query": "mutation {"}])
    assert assessment.risk is Risk.UNKNOWN and not assessment.complete
    assert "batch item 2" in " ".join(assessment.reasons)


@pytest.mark.parametrize("body", [[], [1], ["query"], [{"query": 5}], {"variables": {}},
                                  {"query": "{ me { id } }", "variables": [1]},
                                  {"query": "{ me { id } }", "variables": "{bad"},
                                  {"query": "{ me { id } }", "operationName": 3},
                                  "mutation { x }", 42, None])
def test_malformed_envelopes_are_unknown(body: Any) -> None:
    assessment = post_json(body)
    assert assessment.risk is Risk.UNKNOWN and not assessment.complete


def test_duplicate_json_keys_are_unknown() -> None:
    # Parsers disagree on which duplicate wins; the server may run the one airlock did not read.
    body = '{"query": "{ me { id } }", "query": "mutation { volumeDelete(volumeId: \\"v\\") }"}'
    request = HttpRequest("POST", ENDPOINT, JSON, body)
    assessment = classify_http(request)
    assert assessment.risk is Risk.UNKNOWN and not assessment.complete


@pytest.mark.parametrize("query", [
    'mutation { volumeDelete(volumeId: "a", volumeId: "b") }',
    'mutation { volumeInstanceUpdate(volumeId: "v", input: {state: READY, state: DELETED}) }',
])
def test_repeated_arguments_are_unknown(query: str) -> None:
    assert post_query(query).risk is Risk.UNKNOWN


def test_persisted_query_without_document_is_unknown() -> None:
    body = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "ab" * 32}}}
    assessment = post_json(body)
    assert assessment.risk is Risk.UNKNOWN
    assert "persisted query" in assessment.reasons[0]


def test_variables_as_a_json_string() -> None:
    body = {"query": "mutation($id: String!) { volumeDelete(volumeId: $id) }",
            "variables": json.dumps({"id": "v7"})}
    assert post_json(body).targets == (Target("railway:volume", "v7"),)


def test_get_encoded_query() -> None:
    params = {"query": "mutation($id: String!) { volumeDelete(volumeId: $id) }",
              "variables": json.dumps({"id": "v7"})}
    assessment = classify_http(HttpRequest("GET", f"{ENDPOINT}?{urlencode(params)}"))
    assert assessment.risk is Risk.CATASTROPHIC
    assert assessment.targets == (Target("railway:volume", "v7"),)
    read = classify_http(HttpRequest("GET", f"{ENDPOINT}?{urlencode({'query': '{ me { id } }'})}"))
    assert read.risk is Risk.READ


def test_get_with_operation_name() -> None:
    params = {"query": TWO, "operationName": "Kill"}
    assert classify_http(HttpRequest("GET", f"{ENDPOINT}?{urlencode(params)}")).risk is (
        Risk.CATASTROPHIC)


def test_get_with_the_query_twice_is_unknown() -> None:
    url = f"{ENDPOINT}?{urlencode([('query', '{ me { id } }'), ('query', TWO)])}"
    assert classify_http(HttpRequest("GET", url)).risk is Risk.UNKNOWN


def test_query_in_url_and_body_is_unknown() -> None:
    url = f"{ENDPOINT}?{urlencode({'query': '{ me { id } }'})}"
    request = HttpRequest("POST", url, JSON, json.dumps({"query": f"mutation {{ {DELETE} }}"}))
    assert classify_http(request).risk is Risk.UNKNOWN


def test_application_graphql_body() -> None:
    request = HttpRequest("POST", ENDPOINT, (("Content-Type", "application/graphql"),),
                          f"mutation {{ {DELETE} }}")
    assert classify_http(request).risk is Risk.CATASTROPHIC
    url = f"{ENDPOINT}?{urlencode({'variables': json.dumps({'id': 'v3'})})}"
    request = HttpRequest("POST", url, (("Content-Type", "application/graphql; charset=utf-8"),),
                          "mutation($id: String!) { volumeDelete(volumeId: $id) }")
    assert classify_http(request).targets == (Target("railway:volume", "v3"),)


def test_form_encoded_body() -> None:
    body = urlencode({"query": f"mutation {{ {DELETE} }}"})
    request = HttpRequest("POST", ENDPOINT,
                          (("Content-Type", "application/x-www-form-urlencoded"),), body)
    assert classify_http(request).risk is Risk.CATASTROPHIC


def test_json_body_without_content_type() -> None:
    request = HttpRequest("POST", ENDPOINT, (), json.dumps({"query": f"mutation {{ {DELETE} }}"}))
    assert classify_http(request).risk is Risk.CATASTROPHIC


@pytest.mark.parametrize(("content_type", "body"), [
    ("multipart/form-data; boundary=x", "--x\r\n"),
    ("text/plain", "mutation { x }"),
])
def test_unreadable_transports_are_unknown(content_type: str, body: str) -> None:
    request = HttpRequest("POST", ENDPOINT, (("Content-Type", content_type),), body)
    assert classify_http(request).risk is Risk.UNKNOWN


def test_bare_get_of_the_endpoint_is_a_read_and_bare_post_unknown() -> None:
    assert classify_http(HttpRequest("GET", ENDPOINT)).risk is Risk.READ
    assert classify_http(HttpRequest("POST", ENDPOINT)).risk is Risk.UNKNOWN


# ----------------------------------------------------------------------------------------------
# Bad and hostile documents


@pytest.mark.parametrize("query", [
    "mutation {", "volumeDelete", "", "   ", "mutation { }", "{ a(b: ) }",
    "type Query { x: Int }", "schema { query: Q }",
    "mutation { a(x: 1" + "9" * 5000 + ") }",
])
def test_unparseable_or_unexecutable_is_unknown(query: str) -> None:
    assessment = post_query(query)
    assert assessment.risk is Risk.UNKNOWN and not assessment.complete


@pytest.mark.parametrize("query", [
    "{" * 50_000 + "}" * 50_000,
    "mutation { x(a: " + "[" * 20_000 + "]" * 20_000 + ") }",
    "mutation { " + " ".join(f"a{i}: volumeDelete(volumeId: \"{i}\")" for i in range(5000)) + " }",
    "query { " + "a " * 60_000 + "}",
])
def test_huge_and_nested_documents_are_unknown_quickly(query: str) -> None:
    started = time.thread_time()
    assessment = post_query(query)
    elapsed = time.thread_time() - started
    assert assessment.risk.at_least(Risk.UNKNOWN)
    assert elapsed < 1.0, elapsed


def test_deeply_nested_variables_are_bounded() -> None:
    nested: Any = "x"
    for _ in range(100):
        nested = {"a": nested}
    body = {"query": "mutation($p: EnvironmentConfig!) { environmentPatchCommit("
                     "environmentId: \"e\", patch: $p) }", "variables": {"p": nested}}
    assessment = post_json(body)
    assert assessment.risk.at_least(Risk.WRITE)


def test_json_nested_too_deeply_is_unknown() -> None:
    body = '{"query": "{ me { id } }", "variables": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    request = HttpRequest("POST", ENDPOINT, JSON, body)
    assert classify_http(request).risk is Risk.UNKNOWN


# ----------------------------------------------------------------------------------------------
# Module-level helpers


def test_payloads_from_json_batch_limit() -> None:
    with pytest.raises(GraphQLRequestError):
        payloads_from_json([{"query": "{ a }"}] * 101)


def test_lookup_paths() -> None:
    args = {"input": {"projectId": "p", "services": [{"id": "s1"}, {"id": "s2"}]}}
    assert lookup(args, "input.projectId") == "p"
    assert lookup(args, "input.services.id") == ["s1", "s2"]
    assert lookup(args, "input.nope") is MISSING
    assert lookup(args, "input.projectId.deeper") is MISSING


def test_missing_variable_resolves_to_missing() -> None:
    operation = executed_operation(GraphQLPayload(
        "mutation($id: String!) { volumeDelete(volumeId: $id) }", {}, None))
    assert operation.fields[0].arguments == {"volumeId": MISSING}
