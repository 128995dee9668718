"""Benchmark: the approval paths, each against a baseline measured in the same run.

    .venv/bin/python bench/bench_approvals.py [--records N]

- approver sign-in (credential hash, sealed seed opened, TOTP checked, replay step written to
  SQLite by compare-and-set) vs pyotp verifying a code and nothing else;
- console pages over real HTTP (index with 100 pending, an action page, the audit page over
  N records with the chain verified) vs GET /healthz on the same server;
- long-poll notice: from a decision written to the store to the waiting client's answer, vs the
  poll period it is bounded by.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyotp
import uvicorn

from airlock.approvers import PERIOD, authenticate, code_at_step, current_step, enrol
from airlock.config import load_config
from airlock.console import mount_console
from airlock.fronts.api import create_app
from airlock.gate import WAIT_POLL_SECONDS
from airlock.model import Action, SqlQuery
from airlock.runtime import Runtime
from airlock.tokens import authenticate as token_caller
from airlock.tokens import issue_token
from common import Timing, ratio, time_each

CONFIG = """
[environments.production]
[resources.prod-db]
kind = "postgres"
environment = "production"
url = "postgresql://app@db.prod.internal:5432/app"
[principals.agent]
kind = "agent"
[principals.alice]
kind = "human"
[principals.bob]
kind = "human"
"""


def sign_in(runtime: Runtime, rounds: int) -> None:
    enrolment = enrol(runtime.store, runtime.config, runtime.approvals_key, "alice")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    # Each sign-in needs a fresh time-step (codes are accepted once): walk the clock forward.
    moments = [t0 + timedelta(seconds=PERIOD * i) for i in range(rounds)]
    codes = {m: code_at_step(enrolment.seed, current_step(m)) for m in moments}
    ours = time_each("approver sign-in", moments, lambda m: authenticate(
        runtime.store, runtime.config, runtime.approvals_key, enrolment.credential, codes[m],
        now=m))
    totp = pyotp.TOTP(enrolment.seed)
    base = time_each("pyotp verify only", moments, lambda m: totp.verify(codes[m], for_time=m))
    print(ours.line())
    print(base.line())
    print(ratio(ours, base))


def serve(runtime: Runtime) -> tuple[uvicorn.Server, str]:
    app = create_app(runtime)
    mount_console(app, runtime)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, f"http://127.0.0.1:{port}"


def pages(runtime: Runtime, records: int) -> None:
    token = issue_token(runtime.store, runtime.config, principal="agent", environments=["*"])
    caller = token_caller(runtime.store, runtime.config, token.token)
    gate = runtime.gate()
    held = [gate.submit(Action(SqlQuery(f"DROP TABLE t{i}"), "agent", "bench"), caller)
            for i in range(100)]
    for i in range(max(0, records - 100 * 4)):  # pad the audit log to about `records`
        runtime.audit.record("bench", None, {"n": i})
    server, base = serve(runtime)
    enrolment = enrol(runtime.store, runtime.config, runtime.approvals_key, "bob")
    with httpx.Client(base_url=base) as client:
        form = client.get("/console/login").text
        csrf = form.split('name="csrf" value="')[1].split('"')[0]
        client.post("/console/login", data={
            "csrf": csrf, "name": "bob", "credential": enrolment.credential,
            "code": pyotp.TOTP(enrolment.seed).now()})
        approval = held[0].approval_id
        runs = list(range(50))
        health = time_each("GET /healthz", runs, lambda _: client.get("/healthz"))
        timings = [
            time_each("GET /console/ (100 pending)", runs, lambda _: client.get("/console/")),
            time_each("GET action page", runs,
                      lambda _: client.get(f"/console/approvals/{approval}")),
            time_each(f"GET audit ({records} recs)", list(range(10)),
                      lambda _: client.get("/console/audit")),
        ]
        assert "The chain verifies" in client.get("/console/audit").text
    print(health.line())
    for timing in timings:
        print(timing.line())
        print("  " + ratio(timing, health))
    notice(runtime, base, caller.principal.name, token.token)
    server.should_exit = True


def notice(runtime: Runtime, base: str, principal: str, token: str) -> None:
    from airlock.approvals import decide
    from airlock.model import Principal, PrincipalKind

    gate = runtime.gate()
    caller = token_caller(runtime.store, runtime.config, token)
    samples = []
    headers = {"Authorization": f"Bearer {token}"}
    for i in range(20):
        outcome = gate.submit(Action(SqlQuery(f"DROP TABLE wait{i}"), principal, "bench"), caller)
        done: list[int] = []

        def wait(approval_id: str = str(outcome.approval_id), done: list[int] = done) -> None:
            httpx.get(f"{base}/v1/approvals/{approval_id}/wait", params={"timeout": 30},
                      headers=headers, timeout=40)
            done.append(time.perf_counter_ns())

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.1 + (i % 5) * 0.05)  # decisions land at different points of a poll period
        decided = time.perf_counter_ns()
        decide(runtime.store, str(outcome.approval_id), Principal("alice", PrincipalKind.HUMAN),
               approve=True)
        waiter.join()
        samples.append(done[0] - decided)
    measured = Timing("long-poll notice", tuple(samples))
    period = Timing("poll period", (int(WAIT_POLL_SECONDS * 1e9),))
    print(measured.line())
    print(f"  notice p99 / poll period: ×{measured.percentile(99) / period.percentile(99):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "airlock.toml").write_text(CONFIG)
        runtime = Runtime(load_config(Path(folder) / "airlock.toml"))
        sign_in(runtime, args.rounds)
        pages(runtime, args.records)
        runtime.close()


if __name__ == "__main__":
    main()
