"""What the approval tests share: a project on disk, enrolled approvers, TOTP codes as an
authenticator app would show them, and a real `airlock up` in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from airlock.approvers import DRIFT_STEPS, PERIOD, Enrolment, code_at_step, current_step
from airlock.config import load_config
from airlock.model import utcnow
from airlock.runtime import Runtime
from tests.cli import airlock, free_port

CONFIG = """
[environments.production]
[environments.staging]

[resources.prod-db]
kind = "postgres"
environment = "production"
url = "postgresql://app@db.prod.internal:5432/app"

[resources.staging-db]
kind = "postgres"
environment = "staging"
url = "postgresql://app@db.staging.internal:5432/app"

[principals.agent]
kind = "agent"

[principals.other-agent]
kind = "agent"

[principals.alice]
kind = "human"

[principals.bob]
kind = "human"

[principals.carol]
kind = "human"

# These databases are names only (nothing listens there): this tests approvals, so there is no
# vault. With a vault, an approved DROP on a database airlock cannot reach never runs
# (tests/vault/test_fail_closed.py).
[vault]
enabled = false
"""

# Every destructive or unclassifiable action in production needs two people.
TWO_PEOPLE = """
[[policy.rules]]
name = "two-people-in-production"
production = true
risk = ["destructive", "unknown", "catastrophic"]
verdict = "hold"
approvals = 2
reason = "production changes that destroy need two people"
"""


def write_project(root: Path, extra: str = "") -> Path:
    (root / "airlock.toml").write_text(CONFIG + extra)
    return root


def runtime_for(project: Path) -> Runtime:
    return Runtime(load_config(project / "airlock.toml"))


@dataclass
class Authenticator:
    """An approver's authenticator app: hands out codes, never the same time-step twice (the
    server accepts each step once), waiting for the next step when it must."""

    seed: str
    credential: str
    last_step: int = field(default=-1)

    def code(self) -> str:
        while True:
            moment = utcnow()
            now = current_step(moment)
            # The previous step's code only early in a step: under load the server may read its
            # clock a step later, and a code two steps behind is refused as wrong.
            left = PERIOD - int(moment.timestamp()) % PERIOD
            earliest = now - DRIFT_STEPS if left >= 15 else now
            step = max(self.last_step + 1, earliest)
            if step <= now + DRIFT_STEPS:
                self.last_step = step
                return code_at_step(self.seed, step)
            time.sleep(1)

    def wrong_code(self) -> str:
        right = {code_at_step(self.seed, current_step(utcnow()) + d) for d in (-1, 0, 1)}
        return next(c for c in ("000000", "111111", "222222", "333333") if c not in right)


def authenticator(enrolment: Enrolment) -> Authenticator:
    return Authenticator(enrolment.seed, enrolment.credential)


def enrol_by_cli(project: Path, name: str) -> Authenticator:
    """`airlock approver add NAME` as a person runs it; the seed is read from the printed URI."""
    result = airlock("approver", "add", name, cwd=project)
    assert result.returncode == 0, result.stderr
    uri = next(line for line in result.stdout.splitlines() if line.startswith("otpauth://"))
    seed = parse_qs(urlsplit(uri).query)["secret"][0]
    credential = result.stdout.splitlines()[-1]
    assert re.fullmatch(rf"alk_apv_{name}_[A-Za-z0-9_-]{{43}}", credential), credential
    return Authenticator(seed, credential)


def agent_token(project: Path, principal: str = "agent", env: str = "*") -> str:
    result = airlock("token", "create", "--principal", principal, "--env", env, cwd=project)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


@dataclass
class Server:
    base: str
    project: Path
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_server(project: Path) -> Server:
    """The real `airlock up` on a free port, ready to answer."""
    port = free_port()
    log = project / "server.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "airlock", "up", "--port", str(port)], cwd=project,
            stdout=handle, stderr=subprocess.STDOUT,
            env={**{k: v for k, v in os.environ.items() if k != "AIRLOCK_CONFIG"},
                 "NO_COLOR": "1"})
    server = Server(f"http://127.0.0.1:{port}", project, process, log)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{server.base}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise AssertionError(f"airlock up did not start: {log.read_text()}")
        time.sleep(0.1)


class ServedApp:
    """An ASGI app served by a real uvicorn on a free port, in a thread of this process (so a
    test can look into the same store the server writes)."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise AssertionError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class Agent:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}

    def submit(self, sql: str, resource: str = "prod-db") -> dict[str, Any]:
        answer = httpx.post(f"{self.base}/v1/actions", headers=self.headers, timeout=30,
                            json={"kind": "sql", "input": sql, "resource": resource})
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def wait(self, approval_id: str, timeout: float) -> httpx.Response:
        return httpx.get(f"{self.base}/v1/approvals/{approval_id}/wait",
                         params={"timeout": timeout}, headers=self.headers, timeout=timeout + 10)


class Waiter(threading.Thread):
    """A client long-polling in the background, as an agent harness would."""

    def __init__(self, agent: Agent, approval_id: str, timeout: float = 30) -> None:
        super().__init__(daemon=True)
        self.agent, self.approval_id, self.timeout = agent, approval_id, timeout
        self.answer: dict[str, Any] = {}
        self.finished_at = 0.0

    def run(self) -> None:
        try:
            self.answer = self.agent.wait(self.approval_id, self.timeout).json()
        except httpx.HTTPError as exc:  # the server went away: the test's assertions report it
            self.answer = {"error": repr(exc)}
        self.finished_at = time.monotonic()
