"""Helpers for the hook tests: fixture payloads, a real runtime in a temporary folder, and a
classifier whose shell verdicts are scripted (the real shell classifier is other work; the gate,
store, approvals and messages here are all real)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import airlock
from airlock.approvals import decide
from airlock.classify import Classifier, KindDispatch
from airlock.classify.secrets_files import FileRules
from airlock.config import Config, load_config
from airlock.fronts.hooks.base import Answer
from airlock.fronts.hooks.daemon import HookDaemon, socket_path
from airlock.fronts.hooks.runner import HookRunner
from airlock.model import (
    Action,
    Assessment,
    Effect,
    Principal,
    PrincipalKind,
    Risk,
    ShellCommand,
    Target,
    Verb,
)
from airlock.runtime import Runtime
from airlock.store import ApprovalRecord

FIXTURES = Path(__file__).parent / "fixtures"

CONFIG = """
[environments.production]
[environments.staging]

[principals.coding-agent]
kind = "agent"

[principals.alice]
kind = "human"

[principals.bob]
kind = "human"

"""


def fixture(harness: str, name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / harness / f"{name}.json").read_text())
    assert isinstance(data, dict)
    return data


def raw(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data).encode()


def with_command(data: Mapping[str, Any], command: str, cwd: str | None = None) -> dict[str, Any]:
    """A Bash-like payload of any harness with another command (and working directory)."""
    out: dict[str, Any] = json.loads(json.dumps(data))
    if "tool_input" in out and "command" in out["tool_input"]:
        out["tool_input"]["command"] = command
    else:
        out["command"] = command
    if cwd is not None:
        out["cwd"] = cwd
    return out


_VERBS = {Risk.READ: Verb.READ, Risk.WRITE: Verb.WRITE, Risk.DESTRUCTIVE: Verb.DELETE,
          Risk.CATASTROPHIC: Verb.DESTROY, Risk.UNKNOWN: Verb.UNKNOWN}


class ScriptedShell:
    """Shell commands get the risk of the longest scripted prefix they start with (default:
    read); everything else goes to the production classifier, credential rules included."""

    def __init__(self, risks: Mapping[str, Risk], files: FileRules) -> None:
        self.risks = dict(risks)
        self.real = KindDispatch(files)

    def classify(self, action: Action) -> Assessment:
        if isinstance(action.payload, ShellCommand):
            command = action.payload.command
            prefixes = [p for p in self.risks if command.startswith(p)]
            risk = self.risks[max(prefixes, key=len)] if prefixes else Risk.READ
            target = Target("path", "/srv/data") if risk is not Risk.READ else None
            return Assessment.of([Effect(_VERBS[risk], risk, f"scripted {risk.value}", target)],
                                 classifier="scripted")
        return self.real.classify(action)


@dataclass
class World:
    """A configured airlock in a temporary folder and a hook runner over it."""

    root: Path
    config: Config
    runtime: Runtime
    runner: HookRunner

    def run(self, harness: str, data: Mapping[str, Any] | bytes) -> Answer:
        return self.runner.run(harness, data if isinstance(data, bytes) else raw(data))

    def approve(self, approval_id: str, *names: str) -> ApprovalRecord:
        """Approve as each of `names`, accepting a missing backup where the plan has one (the
        scripted targets here mostly belong to no resource, so nothing can back them up)."""
        record = None
        for name in names or ("alice",):
            record = decide(self.runtime.store, approval_id,
                            Principal(name, PrincipalKind.HUMAN), approve=True,
                            without_backup=True)
        assert record is not None
        return record


def make_world(root: Path, extra: str = "", *, hooks: str = 'principal = "coding-agent"',
               risks: Mapping[str, Risk] | None = None, classifier: Classifier | None = None,
               config_text: str = CONFIG) -> World:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "airlock.toml"
    # top-level keys come before the first table
    path.write_text('state_dir = "state"\n' + textwrap.dedent(config_text)
                    + textwrap.dedent(extra) + "\n[hooks]\n" + textwrap.dedent(hooks) + "\n")
    config = load_config(path)
    classifier = classifier or ScriptedShell(risks or {}, FileRules.from_config(config))
    runtime = Runtime(config, classifier=classifier)
    return World(root, config, runtime, HookRunner.from_runtime(runtime))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path / "w", risks={"rm -rf /srv/data": Risk.DESTRUCTIVE,
                                          "psql -c 'DROP DATABASE app'": Risk.CATASTROPHIC})
    yield w
    w.runtime.close()


# --------------------------------------------------------------------------------------------
# The client, as a harness starts it

CLIENT = Path(airlock.__file__).resolve().parent / "hookclient.py"
FAST_PYTHON = os.path.realpath(sys.executable)


def client_command(harness: str, socket: Path | str | None, *fallback: str,
                   timeout: float = 10) -> list[str]:
    command = [FAST_PYTHON, "-I", "-S", str(CLIENT), harness]
    if socket is not None:
        command += ["--socket", str(socket)]
    command += ["--timeout", str(timeout)]
    if fallback:
        command += ["--", *fallback]
    return command


def run_client(command: list[str], data: Mapping[str, Any] | bytes,
               env: Mapping[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    payload = data if isinstance(data, bytes) else raw(data)
    return subprocess.run(command, input=payload.decode("utf-8", "surrogateescape"),
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def daemon(world: World) -> Iterator[HookDaemon]:
    with HookDaemon(world.runner, socket_path(world.config.state_dir)).start(warm=False) as d:
        yield d


# --------------------------------------------------------------------------------------------
# Daemons a hook started (autostart.py): an installed command run with no daemon starts one


def started_daemons(under: Path | str) -> list[int]:
    """Live daemons a hook started for a state folder under `under`."""
    from airlock.fronts.hooks.autostart import MODULE

    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if MODULE.encode() in args and any(a.startswith(str(under).encode()) for a in args):
            found.append(int(entry.name))
    return found


@pytest.fixture(autouse=True, scope="session")
def _no_started_daemon_outlives_the_tests(
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    for pid in started_daemons(tmp_path_factory.getbasetemp()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)

