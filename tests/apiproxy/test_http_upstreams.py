"""A Kubernetes-API-shaped upstream (a local fake server: it answers by path, it is not a real
API server) and an upstream that echoes the credential it got in every way it can."""

from __future__ import annotations

import json

import httpx

from airlock.store.sqlite import SqliteStore
from airlock.tokens import TOKEN_RE
from tests.apiproxy.conftest import REAL_SECRET, StartProxy, Upstream

CLUSTER = """
[environments.staging]
[environments.production]

[resources.cluster]
kind = "api"
environment = "staging"
base_url = "{upstream}"
credential = {{ env = "UPSTREAM_TOKEN" }}

[fronts.apiproxy.resources.cluster]
one_environment = true

[vault]
enabled = false
"""


def test_kubernetes_deletes_of_namespaces_volumes_and_stateful_sets_are_held(
        start_proxy: StartProxy, upstream: Upstream) -> None:
    proxy = start_proxy(CLUSTER.format(upstream=upstream.url))
    auth = {"Authorization": f"Bearer {proxy.token('staging')}"}
    base = f"{proxy.base}/cluster"

    listed = httpx.get(f"{base}/api/v1/namespaces/shop/pods", headers=auth)
    assert listed.status_code == 200 and listed.json()["path"] == "/api/v1/namespaces/shop/pods"
    assert upstream.seen[0].headers["Authorization"] == f"Bearer {REAL_SECRET}"

    for method, path in [
        ("DELETE", "/api/v1/namespaces/shop"),
        ("DELETE", "/api/v1/persistentvolumes/pv-data"),
        ("DELETE", "/api/v1/namespaces/shop/persistentvolumeclaims"),  # deletecollection
        ("DELETE", "/apis/apps/v1/namespaces/shop/statefulsets/postgres"),
    ]:
        answer = httpx.request(method, base + path, headers=auth)
        assert answer.status_code == 409, path
        assert answer.json()["status"] == "held" and answer.json()["approval_id"]
    assert len(upstream.seen) == 1

    # Outside the token's environment: the cluster is staging, the token production only.
    other = {"Authorization": f"Bearer {proxy.token('production')}"}
    assert httpx.get(f"{base}/api/v1/namespaces/shop/pods", headers=other).status_code == 403


def test_the_upstream_credential_never_reaches_the_agent(start_proxy: StartProxy,
                                                          upstream: Upstream) -> None:
    proxy = start_proxy(CLUSTER.format(upstream=upstream.url))
    token = proxy.token("staging")
    answer = httpx.get(f"{proxy.base}/cluster/echo?x=1",
                       headers={"Authorization": f"Bearer {token}", "Cookie": "agent=1"})
    seen = upstream.seen[-1]
    assert seen.headers["Authorization"] == f"Bearer {REAL_SECRET}"  # it did reach the upstream
    assert "Cookie" not in seen.headers and token not in str(seen.headers)

    assert answer.status_code == 302  # upstream answers pass through, status and all
    everything = str(answer.headers.multi_items()) + answer.text
    assert REAL_SECRET not in everything
    assert "*" * len(REAL_SECRET) in answer.text
    assert "set-cookie" not in answer.headers
    assert answer.headers["location"].startswith(f"{proxy.base}/cluster/echo/next?auth=***")
    assert answer.headers["x-echo-authorization"] == "Bearer " + "*" * len(REAL_SECRET)
    assert int(answer.headers["content-length"]) == len(answer.content)
    # The upstream's Date and Server, once each: the proxy adds none of its own to them.
    assert len(answer.headers.get_list("date")) == 1
    assert [s.split("/")[0] for s in answer.headers.get_list("server")] == ["BaseHTTP"]

    kinds = [r.data for r in proxy.runtime.store.audit_records()]
    # the whole 43-character secret (it may contain "_", so not the text after the last one)
    assert REAL_SECRET not in str(kinds) and token[-43:] not in str(kinds)


def test_chunked_and_compressed_answers_are_scrubbed_too(start_proxy: StartProxy,
                                                         upstream: Upstream) -> None:
    proxy = start_proxy(CLUSTER.format(upstream=upstream.url))
    auth = {"Authorization": f"Bearer {proxy.token('staging')}"}
    for path in ("/chunked-echo", "/gzip-echo"):
        with httpx.stream("GET", f"{proxy.base}/cluster{path}", headers=auth) as answer:
            body = answer.read()
            headers = answer.headers
        assert answer.status_code == 200, path
        assert upstream.seen[-1].headers["Authorization"] == f"Bearer {REAL_SECRET}"
        assert REAL_SECRET.encode() not in body and REAL_SECRET not in str(headers)
        echoed = json.loads(body)  # passed on decoded, whole
        assert echoed["echo"] == "Bearer " + "*" * len(REAL_SECRET), path
        assert len(echoed["filler"]) == 100_000
        assert "content-encoding" not in headers


def test_an_unreachable_upstream_is_a_502_that_names_no_secret(start_proxy: StartProxy) -> None:
    proxy = start_proxy(CLUSTER.format(upstream="http://127.0.0.1:9"))
    answer = httpx.get(f"{proxy.base}/cluster/api/v1/namespaces/shop/pods",
                       headers={"Authorization": f"Bearer {proxy.token('staging')}"})
    assert answer.status_code == 502 and answer.json()["status"] == "error"
    assert REAL_SECRET not in answer.text
    assert len(answer.headers.get_list("date")) == 1  # airlock's own answer is dated


def test_a_repeated_read_reuses_its_verdict_and_a_revoked_token_gets_nothing(
        start_proxy: StartProxy, upstream: Upstream) -> None:
    proxy = start_proxy(CLUSTER.format(upstream=upstream.url))
    token = proxy.token("staging")
    auth = {"Authorization": f"Bearer {token}"}
    pods = f"{proxy.base}/cluster/api/v1/namespaces/shop/pods"
    for _ in range(3):
        assert httpx.get(pods, headers=auth).status_code == 200
    decisions = [r.data for r in proxy.runtime.store.audit_records() if r.kind == "decision"]
    assert [d.get("cached", False) for d in decisions] == [False, True, True]
    outcomes = [r.data for r in proxy.runtime.store.audit_records() if r.kind == "outcome"]
    assert len(outcomes) == 3  # every call is still recorded, step by step

    # A delete is judged every time: held twice, never forwarded.
    for _ in range(2):
        held = httpx.delete(f"{proxy.base}/cluster/api/v1/namespaces/shop", headers=auth)
        assert held.status_code == 409
    assert len(upstream.seen) == 3

    match = TOKEN_RE.match(token)
    assert match is not None
    assert proxy.runtime.store.revoke_token(match.group(1), "2030-01-01T00:00:00+00:00")
    refused = httpx.get(pods, headers=auth)
    assert refused.status_code == 401 and "revoked" in refused.text
    assert len(upstream.seen) == 3


def test_a_token_revoked_by_another_process_gets_nothing_on_its_next_call(
        start_proxy: StartProxy, upstream: Upstream) -> None:
    # The proxy keeps token records between calls (tokens.TokenLookup) and answers kept reads on
    # its event loop: a revocation made through another connection to the state database, as
    # `airlock token revoke` makes it, must still stop the very next call.
    proxy = start_proxy(CLUSTER.format(upstream=upstream.url))
    assert proxy.runtime.store.tokens_version() is not None  # SQLite: the lookup keeps records
    token = proxy.token("staging")
    auth = {"Authorization": f"Bearer {token}"}
    pods = f"{proxy.base}/cluster/api/v1/namespaces/shop/pods"
    for _ in range(3):
        assert httpx.get(pods, headers=auth).status_code == 200
    match = TOKEN_RE.match(token)
    assert match is not None
    other = SqliteStore(proxy.runtime.store.path)  # type: ignore[attr-defined]
    try:
        assert other.revoke_token(match.group(1), "2030-01-01T00:00:00+00:00")
    finally:
        other.close()
    refused = httpx.get(pods, headers=auth)
    assert refused.status_code == 401 and "revoked" in refused.text
    assert len(upstream.seen) == 3


def test_a_large_request_body_is_spooled_and_streamed_upstream_whole(
        start_proxy: StartProxy, upstream: Upstream) -> None:
    proxy = start_proxy(CLUSTER.format(upstream=upstream.url))
    body = bytes(range(256)) * (9 * 4096)  # 9 MiB: over the 8 MiB kept in memory
    answer = httpx.put(f"{proxy.base}/cluster/api/v1/namespaces/shop/configmaps/big",
                       headers={"Authorization": f"Bearer {proxy.token('staging')}",
                                "Content-Type": "application/octet-stream"},
                       content=body, timeout=60)
    assert answer.status_code == 200, answer.text
    seen = upstream.seen[-1]
    assert seen.method == "PUT" and seen.body == body
    assert seen.headers["Content-Length"] == str(len(body))
