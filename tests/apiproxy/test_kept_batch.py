"""Routine calls (kept or judged on the event loop) that reach the proxy in one turn of its loop
are submitted together, their audit records written in one transaction, and each answer waits
for that commit; a commit that fails lets none of them through (app.py, `_submit_here`); and
what is not routine goes to a worker with the evaluation already made. Driven through the ASGI
application itself, so that several calls land in one turn for certain."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, MutableMapping
from typing import Any

import pytest

from airlock.errors import StoreError
from airlock.fronts.apiproxy.app import ApiProxyApp
from airlock.fronts.apiproxy.settings import SECTION
from airlock.runtime import Runtime
from tests.apiproxy.conftest import StartProxy, Upstream
from tests.apiproxy.test_http_upstreams import CLUSTER

PODS = "/cluster/api/v1/namespaces/shop/pods"


async def _call(app: ApiProxyApp, token: str, path: str = PODS,
                method: str = "GET") -> tuple[int, dict[str, Any]]:
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(),
             "query_string": b"", "headers": [(b"host", b"127.0.0.1"),
                                              (b"authorization", f"Bearer {token}".encode())]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


def _appends(runtime: Runtime) -> list[int]:
    """Counts the store's audit transactions (each call: how many records it wrote)."""
    store = runtime.store
    real = store.append_audit_many
    counts: list[int] = []

    def counting(make: Callable[..., Any], **kwargs: Any) -> Any:
        written = real(make, **kwargs)
        counts.append(len(written))
        return written

    store.append_audit_many = counting  # type: ignore[method-assign]
    return counts


def _run(runtime: Runtime, play: Callable[[ApiProxyApp], Any]) -> Any:
    async def main() -> Any:
        app = ApiProxyApp(runtime, SECTION.of(runtime.config), console_url="http://127.0.0.1:1")
        try:
            return await play(app)
        finally:
            await app.aclose()

    return asyncio.run(main())


def test_kept_reads_in_one_turn_share_one_audit_transaction(start_proxy: StartProxy,
                                                            upstream: Upstream) -> None:
    proxy = start_proxy(CLUSTER.format(upstream=upstream.url))
    token = proxy.token("staging")

    async def play(app: ApiProxyApp) -> list[tuple[int, dict[str, Any]]]:
        assert (await _call(app, token))[0] == 200  # judged (on a worker): the verdict is kept
        counts = _appends(proxy.runtime)
        answers = await asyncio.gather(*(_call(app, token) for _ in range(5)))
        assert counts == [15]  # five kept reads, three records each: one transaction
        return answers

    answers = _run(proxy.runtime, play)
    assert [status for status, _ in answers] == [200] * 5
    assert len(upstream.seen) == 6
    records = list(proxy.runtime.store.audit_records())
    decisions = [r.data for r in records if r.kind == "decision"]
    assert [d.get("cached", False) for d in decisions] == [False] + [True] * 5
    outcomes = [r for r in records if r.kind == "outcome"]
    assert len({r.action_id for r in outcomes}) == 6  # each call its own action, recorded


def test_a_batch_whose_records_cannot_be_written_lets_none_of_it_through(
        start_proxy: StartProxy, upstream: Upstream) -> None:
    proxy = start_proxy(CLUSTER.format(upstream=upstream.url))
    token = proxy.token("staging")
    store = proxy.runtime.store

    async def play(app: ApiProxyApp) -> list[tuple[int, dict[str, Any]]]:
        assert (await _call(app, token))[0] == 200

        def broken(*_args: Any, **_kwargs: Any) -> Any:
            raise StoreError("the disk is full")

        store.append_audit_many = broken  # type: ignore[method-assign]
        return list(await asyncio.gather(*(_call(app, token) for _ in range(3))))

    answers = _run(proxy.runtime, play)
    assert [status for status, _ in answers] == [500] * 3
    assert all("not forwarded" in body["reason"] for _, body in answers)
    assert len(upstream.seen) == 1  # only the first call, written and forwarded


def test_calls_judged_afresh_share_a_transaction_and_a_hold_is_judged_once(
        start_proxy: StartProxy, upstream: Upstream, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = start_proxy(CLUSTER.format(upstream=upstream.url))
    token = proxy.token("staging")
    judged: list[str] = []
    gate = proxy.runtime.judge  # the classifier every endpoint's judge shares
    real = gate.classifier.classify

    def counting(action: Any) -> Any:
        judged.append(action.payload.url)
        return real(action)

    monkeypatch.setattr(gate.classifier, "classify", counting)

    async def play(app: ApiProxyApp) -> list[tuple[int, dict[str, Any]]]:
        counts = _appends(proxy.runtime)
        # Three different reads, none kept yet: judged on the loop, recorded in one transaction
        reads = await asyncio.gather(*(_call(app, token, f"/cluster/api/v1/namespaces/n{i}/pods")
                                       for i in range(3)))
        assert counts == [9]
        held = await _call(app, token, "/cluster/api/v1/namespaces/shop", method="DELETE")
        return [*reads, held]

    answers = _run(proxy.runtime, play)
    assert [status for status, _ in answers] == [200, 200, 200, 409]
    assert answers[-1][1]["status"] == "held"
    assert len(judged) == 4  # the hold too was judged once: on the loop, submitted on a worker
    assert len(upstream.seen) == 3
