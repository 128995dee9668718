"""The HTTP classifier as a whole: generic REST, limits, overrides, totality."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airlock.classify import MAX_INPUT_BYTES
from airlock.classify.http import classify_http
from airlock.model import HttpRequest, Risk, Target, Verb


@pytest.mark.parametrize(("method", "risk", "verb"), [
    ("GET", Risk.READ, Verb.READ), ("HEAD", Risk.READ, Verb.READ),
    ("OPTIONS", Risk.READ, Verb.READ), ("get", Risk.READ, Verb.READ),
    ("POST", Risk.WRITE, Verb.WRITE), ("PUT", Risk.WRITE, Verb.WRITE),
    ("PATCH", Risk.WRITE, Verb.WRITE), ("DELETE", Risk.DESTRUCTIVE, Verb.DELETE),
    ("delete", Risk.DESTRUCTIVE, Verb.DELETE),
    ("TRACE", Risk.UNKNOWN, Verb.UNKNOWN), ("PURGE", Risk.UNKNOWN, Verb.UNKNOWN),
    ("PROPFIND", Risk.UNKNOWN, Verb.UNKNOWN), ("M-SEARCH", Risk.UNKNOWN, Verb.UNKNOWN),
])
def test_unknown_rest_api_by_method(method: str, risk: Risk, verb: Verb) -> None:
    assessment = classify_http(HttpRequest(method, "https://api.example.com/v1/items/5?x=1"))
    assert assessment.risk is risk
    assert assessment.effects[0].verb is verb
    assert assessment.complete is (risk is not Risk.UNKNOWN)
    if risk is not Risk.UNKNOWN or method == "TRACE":
        assert assessment.targets == (Target("url", "https://api.example.com/v1/items/5"),)


def test_reason_reads_as_a_sentence() -> None:
    assessment = classify_http(HttpRequest("DELETE", "https://api.example.com/v1/items/5"))
    assert assessment.reasons == ("DELETE https://api.example.com/v1/items/5 deletes a resource "
                                  "on an API airlock has no table for",)


def test_url_without_scheme_and_with_port() -> None:
    assessment = classify_http(HttpRequest("DELETE", "api.example.com:8080/x"))
    assert assessment.targets == (Target("url", "http://api.example.com:8080/x"),)


@pytest.mark.parametrize("url", ["", "https://", "http://[::1/x", "https://h:99999/x",
                                 "https:///nohost"])
def test_unreadable_urls_are_unknown(url: str) -> None:
    assessment = classify_http(HttpRequest("GET", url))
    assert assessment.risk is Risk.UNKNOWN and not assessment.complete


def test_oversized_body_is_unknown_without_parsing() -> None:
    body = "x" * (MAX_INPUT_BYTES + 1)
    started = time.thread_time()
    assessment = classify_http(HttpRequest("GET", "https://api.example.com/", (), body))
    assert time.thread_time() - started < 0.1
    assert assessment.risk is Risk.UNKNOWN
    assert "limit" in assessment.reasons[0]


def test_oversized_url_is_unknown() -> None:
    url = "https://api.example.com/?q=" + "a" * MAX_INPUT_BYTES
    assert classify_http(HttpRequest("GET", url)).risk is Risk.UNKNOWN


@pytest.mark.parametrize("headers", [
    (("X-HTTP-Method-Override", "DELETE"),),
    (("x-http-method", "delete"),),
    (("X-Method-Override", "DELETE"),),
])
def test_method_override_headers_count(headers: tuple[tuple[str, str], ...]) -> None:
    assessment = classify_http(HttpRequest("POST", "https://api.example.com/items/5", headers))
    assert assessment.risk is Risk.DESTRUCTIVE
    assert "instead of POST" in assessment.reasons[0]


def test_method_override_parameter_counts() -> None:
    url = "https://api.example.com/items/5?_method=DELETE"
    assert classify_http(HttpRequest("POST", url)).risk is Risk.DESTRUCTIVE
    form = (("Content-Type", "application/x-www-form-urlencoded"),)
    request = HttpRequest("POST", "https://api.example.com/items/5", form, "_method=delete")
    assert classify_http(request).risk is Risk.DESTRUCTIVE


def test_override_on_a_kubernetes_path() -> None:
    request = HttpRequest("POST", "https://k:6443/api/v1/namespaces/prod",
                          (("X-HTTP-Method-Override", "DELETE"),))
    assert classify_http(request).risk is Risk.CATASTROPHIC


def test_generic_graphql_endpoint() -> None:
    def post(query: str) -> Risk:
        body = json.dumps({"query": query})
        return classify_http(HttpRequest("POST", "https://api.example.com/graphql", (), body)).risk

    assert post("{ users { id } }") is Risk.READ
    assert post("mutation { deleteUser(id: 1) }") is Risk.DESTRUCTIVE
    assert post("mutation { bulk_remove_items }") is Risk.DESTRUCTIVE
    assert post("mutation { getUser(id: 1) { id } }") is Risk.READ
    assert post("mutation { getOrCreateUser(id: 1) { id } }") is Risk.UNKNOWN
    assert post("mutation { createUser(id: 1) { id } }") is Risk.UNKNOWN
    assert post("mutation {") is Risk.UNKNOWN


def test_graphql_hidden_in_a_generic_request() -> None:
    body = json.dumps({"query": "mutation { dropDatabase }"})
    request = HttpRequest("POST", "https://api.example.com/api", (), body)
    assert classify_http(request).risk is Risk.DESTRUCTIVE
    url = "https://api.example.com/search?query=" + "mutation%20%7B%20dropDatabase%20%7D"
    assert classify_http(HttpRequest("GET", url)).risk is Risk.DESTRUCTIVE
    # A query given twice: the server may run either copy.
    url = "https://api.example.com/s?query=cats&query=mutation%20%7B%20dropDatabase%20%7D"
    assert classify_http(HttpRequest("GET", url)).risk is Risk.UNKNOWN
    body = '{"query": "{ a }", "query": "mutation { dropDatabase }"}'
    assert classify_http(HttpRequest("POST", "https://api.example.com/api", (), body)).risk is (
        Risk.UNKNOWN)
    # A search string that is not GraphQL stays a plain GET.
    assert classify_http(HttpRequest("GET", "https://api.example.com/s?query=cats")).risk is (
        Risk.READ)


def test_internal_failure_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    from airlock.classify.providers import railway
    from airlock.classify.providers.labels import DataError

    def broken() -> None:
        raise DataError("railway.toml: broken on purpose")

    monkeypatch.setattr(railway, "railway_table", broken)
    assessment = classify_http(HttpRequest("GET", "https://backboard.railway.app/graphql/v2"))
    assert assessment.risk is Risk.UNKNOWN and not assessment.complete
    assert "DataError" in assessment.reasons[0]


_methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "X",
                            "", " ", "GE T"])
_hosts = st.sampled_from(["backboard.railway.app", "rds.us-east-1.amazonaws.com",
                          "b.s3.amazonaws.com", "10.0.0.1:6443", "api.example.com", "", "[::1]"])
_paths = st.sampled_from(["/", "/graphql/v2", "/api/v1/namespaces/x", "/apis/apps/v1/x/y",
                          "/b/k", "/%2e%2e/", "/?Action=DeleteVolume", "/?query=%7Ba%7D"])
_bodies = st.one_of(st.none(), st.text(max_size=200),
                    st.sampled_from(['{"query": "mutation { volumeDelete(volumeId: 1) }"}',
                                     '[{"query": 1}]', '{"query": "{ a }", "variables": []}',
                                     "<Delete><Object><Key>k</Key></Object></Delete>"]))
_headers = st.lists(st.tuples(st.sampled_from(["Content-Type", "X-Amz-Target", "Authorization",
                                               "X-HTTP-Method-Override"]),
                              st.text(max_size=40)), max_size=3)


@settings(max_examples=400, deadline=None)
@given(_methods, _hosts, _paths, _bodies, _headers)
def test_total_and_fail_closed(method: str, host: str, path: str, body: str | None,
                               headers: list[tuple[str, str]]) -> None:
    assessment = classify_http(HttpRequest(method, f"https://{host}{path}", tuple(headers), body))
    assert assessment.classifier == "http"
    if not assessment.complete:
        assert assessment.risk.at_least(Risk.UNKNOWN)
    assert assessment.effects
