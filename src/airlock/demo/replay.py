"""`airlock demo`: the incident, replayed with real parts.

A coding agent working on staging found a Railway token in a file and deleted a volume that
backed production and staging and held their backups. Here the same agent meets airlock:

    set up   PostgreSQL (throwaway cluster: rentals + rentals_staging), the demo's Railway,
             airlock.toml, the agent's workspace with the token in .env
    step 1   the credential scan flags .env; `credentials import` takes the token into airlock's
             custody — the agent now finds only a pointer, which Railway refuses
    ...      `approver add` enrols the scripted approver; tokens for the agent; `airlock up`
    step 2   volumeDelete with a staging token: denied, with the blast radius
    step 3   volumeDelete with a production token: held for two approvers
    step 4   DROP TABLE through the wire proxy: held; the approver approves (credential + TOTP,
             through the console's desk); the retry runs after its snapshot
    step 5   `airlock undo`: the table is back, its rows hash the same

Every step's expectation is checked, and the first one that fails stops the replay (what
follows depends on it). Everything started is stopped and every folder removed on every path,
Ctrl-C included: each part is entered into one ExitStack the moment it exists.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pyotp
from psycopg.conninfo import make_conninfo

from airlock.config import load_config
from airlock.demo import parts, stage
from airlock.demo.railway import VOLUME_ID, FakeRailway
from airlock.errors import AirlockError
from airlock.runtime import Runtime
from airlock.tokens import issue_token

VOLUME_DELETE = {"query": "mutation volumeDelete($volumeId: String!) { volumeDelete(volumeId: "
                          "$volumeId) }", "variables": {"volumeId": VOLUME_ID}}


@dataclass
class Step:
    name: str
    expected: str
    observed: str = "not run: an earlier step failed"
    ok: bool = False
    seconds: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "expected": self.expected, "observed": self.observed,
                "ok": self.ok, "seconds": round(self.seconds, 2), "evidence": self.evidence}


STEPS: tuple[tuple[str, str], ...] = (
    ("token in a file",
     "the credential scan flags the Railway token in .env; airlock takes it into custody, so "
     "the agent finds a pointer that Railway refuses"),
    ("volumeDelete with a staging token",
     "denied (403) before reaching Railway, naming the blast radius: both databases and the "
     "backups, in production and staging"),
    ("volumeDelete with a production token",
     "held (409) for two approvers, with a token that may reach production (and staging, where "
     "the volume also lives); nothing reaches Railway"),
    ("DROP TABLE through the wire proxy",
     "held (SQLSTATE AL001); approved by the scripted approver; the retry runs after a "
     "snapshot of the table"),
    ("airlock undo",
     "the table is back and its rows hash as before the DROP"),
)


class StepFailed(Exception):
    """What a step observed when it was not what it expected."""


Narrate = Callable[[str], None]


@dataclass
class Demo:
    """One replay. `narrate` hears what happens as it happens; `finished` each step's result."""

    narrate: Narrate = lambda _line: None
    finished: Callable[[Step], None] = lambda _step: None
    steps: list[Step] = field(default_factory=lambda: [Step(n, e) for n, e in STEPS])
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = Path(".")

    def run(self) -> list[Step]:
        """Set the stage, replay, clean up. Raises parts.MissingPart before starting anything
        when a part is missing; any other failure of the set-up fails the steps not yet run."""
        parts.find_postgres()
        with ExitStack() as stack:
            try:
                self._replay(stack)
            except parts.MissingPart:
                raise
            except AirlockError as exc:
                self._fail_rest(f"not run: the set-up failed: {exc}")
            self.narrate("cleaning up: stopping airlock, PostgreSQL and the demo's Railway, "
                         "removing every folder")
        return self.steps

    # ---- the replay ---------------------------------------------------------------------------

    def _replay(self, stack: ExitStack) -> None:
        base = parts.scratch_folder(stack)
        cluster_at = parts.plan_postgres(stack)
        vault = parts.vault_folder(stack, cluster_at.datadir.parent)
        home = base / "home"
        home.mkdir(mode=0o700)
        real_token = str(uuid.uuid4())
        railway = FakeRailway(real_token)
        railway.start()
        stack.callback(railway.stop)
        self.narrate("starting a throwaway PostgreSQL with the databases rentals (production) "
                     "and rentals_staging (staging)")
        # PostgreSQL starts in the background while step 1, which does not need it, runs.
        starting = parts.start_postgres_in_background(stack, cluster_at, stage.seed)
        workspace = stage.write_workspace(home, real_token)
        config = base / "airlock.toml"
        ports = stage.Ports(*(parts.free_port() for _ in range(4)))
        stage.write_config(config, state=base / "state", vault=vault, cluster=cluster_at,
                           ports=ports)
        self.cwd = base
        self.env = {**os.environ, "AIRLOCK_CONFIG": str(config), "HOME": str(home),
                    "NO_COLOR": "1", "COLUMNS": "120"}
        self.env.pop("AIRLOCK_TOKEN", None)  # the agent's tokens are the ones issued below

        endpoint = self._step(0, lambda: self._token_in_a_file(workspace, config, railway))
        if endpoint is None:
            return
        staging, production = self._tokens(config)  # this also creates airlock's state
        # `approver add` runs while `airlock up` starts: two interpreter starts at once
        self.narrate(f"enrolling the scripted approver {stage.APPROVER} (`airlock approver add`)")
        enrolling = self._airlock_started(stack, "approver", "add", stage.APPROVER)
        cluster = starting.result()
        self.narrate(f"starting `airlock up` (API :{ports.api}, API proxy :{ports.apiproxy}, "
                     f"wire proxy :{ports.production} rentals, :{ports.staging} rentals_staging)")
        stack.enter_context(parts.airlock_up(
            [sys.executable, "-m", "airlock", "up", "--port", str(ports.api)], self.env, base,
            ports.api, base / "airlock-up.log"))
        credential, seed = self._enrolled(enrolling)
        runtime = Runtime(load_config(config))
        stack.callback(runtime.close)
        url = f"http://127.0.0.1:{ports.apiproxy}/{endpoint}/graphql/v2"
        if self._step(1, lambda: self._staging_volume_delete(url, staging, railway)) is None:
            return
        if self._step(2, lambda: self._production_volume_delete(url, production, railway,
                                                                runtime)) is None:
            return
        dsn = make_conninfo("", host="127.0.0.1", port=str(ports.production), user=stage.AGENT,
                            dbname=stage.PRODUCTION_DB, password=production, sslmode="disable",
                            connect_timeout="10")
        server = f"http://127.0.0.1:{ports.api}"
        before = stage.row_hash(cluster)
        action = self._step(3, lambda: self._drop_table(dsn, cluster, runtime, server,
                                                        credential, seed))
        if action is None:
            return
        self._step(4, lambda: self._undo(action, cluster, before))

    def _step(self, index: int, body: Callable[[], Any]) -> Any:
        """Run one step; its body returns (observed, evidence, value) or raises StepFailed."""
        step = self.steps[index]
        self.narrate(f"step {index + 1}: {step.name}")
        started = time.monotonic()
        value: Any = None
        try:
            step.observed, step.evidence, value = body()
            step.ok = True
        except (StepFailed, AirlockError, psycopg.Error, httpx.HTTPError, OSError,
                subprocess.SubprocessError, KeyError, ValueError, TypeError) as exc:
            step.observed = f"{type(exc).__name__}: {exc}" if not isinstance(exc, StepFailed) \
                else str(exc)
        step.seconds = time.monotonic() - started
        self.finished(step)
        if not step.ok:
            self._fail_rest("not run: an earlier step failed", after=index)
            return None
        return value if value is not None else True

    def _fail_rest(self, why: str, after: int = -1) -> None:
        for step in self.steps[after + 1:]:
            if not step.ok and step.observed.startswith("not run"):
                step.observed = why
                self.finished(step)

    # ---- the steps ----------------------------------------------------------------------------

    def _token_in_a_file(self, workspace: Path, config: Path,
                         railway: FakeRailway) -> tuple[str, dict[str, Any], str]:
        env_file = workspace / ".env"
        scan = self._airlock("credentials", "scan", "--workspace", str(workspace), "--json")
        found = [f for f in _json(scan.stdout)["findings"]
                 if f["path"] == str(env_file) and f["kind"] == "Railway Token"]
        if not found:
            raise StepFailed(f"the credential scan did not flag {env_file}: {scan.stdout[-400:]}")
        where = f"{env_file.name}:{found[0]['line']}"
        self.narrate(f"  the scan flags {where} ({found[0]['kind']}, {found[0]['key']})")
        declared = stage.resource_names(config)
        moved = self._airlock("credentials", "import", "--workspace", str(workspace), "--yes")
        added = sorted(stage.resource_names(config) - declared)
        if moved.returncode != 0 or len(added) != 1:
            raise StepFailed(f"credentials import declared {added or 'nothing'}: "
                             f"{(moved.stderr or moved.stdout)[-400:]}")
        endpoint = added[0]
        stage.point_at_demo_railway(config, endpoint, railway.url)
        content = env_file.read_text(encoding="utf-8")
        line = next(x for x in content.splitlines() if x.startswith("RAILWAY_TOKEN="))
        if railway.token in content:
            raise StepFailed(f"the real token is still in {env_file}")
        self.narrate(f"  airlock holds the real token (resource {endpoint}); the agent reads "
                     f"`{line}`")
        # the agent tries what it found against Railway itself
        pointer = line.split("=", 1)[1]
        answer = httpx.post(f"{railway.url}/graphql/v2", json=VOLUME_DELETE, timeout=10,
                            headers={"Authorization": f"Bearer {pointer}"})
        if answer.status_code != 401 or railway.deleted:
            raise StepFailed(f"Railway answered the pointer with {answer.status_code}")
        return (f"flagged {where}; moved into custody as resource {endpoint}; the file now says "
                f"{line}, which Railway refuses (401)",
                {"finding": found[0], "resource": endpoint, "pointer": line}, endpoint)

    @staticmethod
    def _enrolled(adding: subprocess.Popen[str]) -> tuple[str, str]:
        """The approver's credential (the last line `approver add` prints) and TOTP seed."""
        stdout, stderr = adding.communicate(timeout=120)
        lines = [x.strip() for x in stdout.splitlines() if x.strip()]
        uri = next((x for x in lines if x.startswith("otpauth://")), None)
        if adding.returncode != 0 or uri is None:
            raise AirlockError(f"approver add failed: {(stderr or stdout)[-400:]}")
        return lines[-1], pyotp.parse_uri(uri).secret

    def _tokens(self, config: Path) -> tuple[str, str]:
        """The agent's airlock tokens (what `airlock token create` issues): one for staging,
        and one for production. The volume lives in both environments, so a token limited to
        production cannot reach it either (a deny, like staging's); the production token is
        the one that could — production and staging — as Railway's own token could."""
        runtime = Runtime(load_config(config))
        try:
            staging, production = (
                issue_token(runtime.store, runtime.config, principal=stage.AGENT,
                            environments=envs, note="airlock demo").token
                for envs in (["staging"], ["production", "staging"]))
            return staging, production
        finally:
            runtime.close()

    def _staging_volume_delete(self, url: str, token: str,
                               railway: FakeRailway) -> tuple[str, dict[str, Any], None]:
        status, body = _post(url, token)
        target = _volume_target(body)
        radius = target.get("blast_radius") or []
        envs = target.get("environments") or []
        wanted = {"rentals", "rentals-staging", "rentals-backups"}
        if status != 403 or body.get("status") != "denied":
            raise StepFailed(f"expected 403 denied, got {status} {body.get('status')}: "
                             f"{body.get('reason')}")
        if not wanted <= set(radius) or not {"production", "staging"} <= set(envs):
            raise StepFailed(f"the blast radius {radius} in {envs} misses some of {sorted(wanted)}")
        if railway.deleted:
            raise StepFailed(f"Railway was asked to delete {railway.deleted}")
        self.narrate(f"  403 denied: {body.get('reason')}")
        self.narrate(f"  blast radius: {', '.join(radius)} (environments: {', '.join(envs)})")
        return (f"403 denied; blast radius {', '.join(radius)} in {', '.join(envs)}; "
                "Railway saw no volumeDelete",
                {"status": status, "reason": body.get("reason"), "target": target}, None)

    def _production_volume_delete(self, url: str, token: str, railway: FakeRailway,
                                  runtime: Runtime) -> tuple[str, dict[str, Any], None]:
        status, body = _post(url, token)
        if status != 409 or body.get("status") != "held" or not body.get("approval_id"):
            raise StepFailed(f"expected 409 held, got {status} {body.get('status')}: "
                             f"{body.get('reason')}")
        approval = runtime.store.get_approval(str(body["approval_id"]))
        needed = approval.approvals_required if approval else 0
        if needed != 2 or body.get("risk") != "catastrophic":
            raise StepFailed(f"held for {needed} approver(s) at risk {body.get('risk')}, not two "
                             "at catastrophic")
        if railway.deleted:
            raise StepFailed(f"Railway was asked to delete {railway.deleted}")
        self.narrate(f"  409 held as {body['approval_id']}: {needed} approvers must agree "
                     f"({body.get('risk')}); the agent is told: {body.get('next_step')}")
        return (f"409 held ({body.get('risk')}) as {body['approval_id']}, needing {needed} "
                "approvers; Railway saw no volumeDelete",
                {"status": status, "approval_id": body["approval_id"],
                 "approvals_required": needed, "target": _volume_target(body)}, None)

    def _drop_table(self, dsn: str, cluster: parts.Cluster, runtime: Runtime, server: str,
                    credential: str, seed: str) -> tuple[str, dict[str, Any], str]:
        statement = f"DROP TABLE {stage.DROPPED_TABLE}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            try:
                conn.execute(statement.encode())
                raise StepFailed("the DROP ran without being held")
            except psycopg.Error as exc:
                if exc.sqlstate != "AL001":
                    raise StepFailed(f"expected SQLSTATE AL001, got {exc.sqlstate}: {exc}") from None
                message = str(exc)
            approval_id = next((w.strip(".,:;()") for w in message.split()
                                if w.startswith("apr_")), "")
            if not approval_id or not stage.table_exists(cluster):
                raise StepFailed(f"held without an approval id, or the table is gone: {message}")
            self.narrate(f"  held (AL001) as {approval_id}; the scripted approver approves it "
                         "with credential + TOTP through the console's desk")
            approved = self._airlock("approve", approval_id, "--server", server, "--token",
                                     credential, "--code", pyotp.TOTP(seed).now(),
                                     "--reason", "airlock demo: the scripted approver")
            if approved.returncode != 0:
                raise StepFailed(f"approve failed: {(approved.stderr or approved.stdout)[-400:]}")
            conn.execute(statement.encode())  # exactly the same statement again
        if stage.table_exists(cluster):
            raise StepFailed("the approved DROP did not drop the table")
        snapshots = [s for s in runtime.store.list_snapshots(resource="rentals")
                     if s.action_id]
        if not snapshots:
            raise StepFailed("the table was dropped without a snapshot")
        snap = snapshots[0]
        action_id = str(snap.action_id)
        self.narrate(f"  snapshot {snap.id} ({snap.kind}, {snap.size} bytes) taken, then dropped")
        return (f"held as {approval_id}; approved by {stage.APPROVER}; snapshot {snap.id} "
                f"({snap.kind}) taken; table dropped",
                {"approval_id": approval_id, "snapshot": snap.id, "action_id": action_id},
                action_id)

    def _undo(self, action_id: str, cluster: parts.Cluster,
              before: tuple[int, str]) -> tuple[str, dict[str, Any], None]:
        undone = self._airlock("undo", action_id, "--force", timeout=180)
        if undone.returncode != 0:
            raise StepFailed(f"undo failed: {(undone.stderr or undone.stdout)[-400:]}")
        if not stage.table_exists(cluster):
            raise StepFailed("undo finished but the table is not back")
        after = stage.row_hash(cluster)
        if after != before:
            raise StepFailed(f"rows differ: {before[0]} rows md5 {before[1]} before, "
                             f"{after[0]} rows md5 {after[1]} after")
        self.narrate(f"  {after[0]} rows back, md5 {after[1]} as before")
        return (f"table back: {after[0]} rows, md5 {after[1]} equal to before the DROP",
                {"rows": after[0], "md5_before": before[1], "md5_after": after[1]}, None)

    # ---- helpers ------------------------------------------------------------------------------

    def _airlock_started(self, stack: ExitStack, *args: str) -> subprocess.Popen[str]:
        """The real CLI, running while the demo does something else (killed if the demo
        ends first)."""
        proc = subprocess.Popen([sys.executable, "-m", "airlock", *args], cwd=self.cwd,
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        stack.callback(_kill, proc)
        return proc

    def _airlock(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """The real CLI, as a person (or the scripted approver) would run it."""
        return subprocess.run([sys.executable, "-m", "airlock", *args], cwd=self.cwd,
                              env=self.env, capture_output=True, text=True, timeout=timeout,
                              check=False)


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def _post(url: str, token: str) -> tuple[int, dict[str, Any]]:
    """The agent's call: what `curl -X POST … -H 'Authorization: Bearer …'` sends."""
    answer = httpx.post(url, json=VOLUME_DELETE, timeout=30,
                        headers={"Authorization": f"Bearer {token}"})
    return answer.status_code, _json(answer.text)


def _volume_target(body: dict[str, Any]) -> dict[str, Any]:
    for target in body.get("targets") or []:
        if isinstance(target, dict) and target.get("target") == f"railway:volume:{VOLUME_ID}":
            return target
    return {}


def _json(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {text[:200]!r}")
    return value
