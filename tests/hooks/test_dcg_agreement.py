"""For every command in ../shared/corpora/dcg, `airlock hook claude` agrees with `airlock check`.

Whatever the shell classifier says about a command (it is being written in parallel), the hook
must reach the same verdict as `airlock check` — the hook translates and answers, it does not
judge. All of the corpus goes through the hook translation and a gate in-process (fast); a sample
goes through the real processes a harness starts: the client to a running `airlock up`, and the
client's in-process fallback.

Both sides share one memoising classifier in-process, because the shell classifier has a
wall-clock budget and a slow moment could make one call unknown; the memo also proves the hook
hands the classifier exactly the text `check` does (any other text would miss the memo).
Case ids are `file:line`, so a disagreement points at the corpus.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from airlock.approvals import StoreApprovals
from airlock.audit import MemoryAuditLog
from airlock.classify import Classifier, KindDispatch
from airlock.config import Config
from airlock.execute import Release
from airlock.fronts.check import check_request
from airlock.fronts.hooks.base import Answer
from airlock.fronts.hooks.runner import HookRunner
from airlock.gate import Gate
from airlock.model import Action, Assessment
from airlock.runtime import Runtime
from airlock.safety import NoVault
from airlock.store.memory import MemoryStore
from tests.cli import free_port
from tests.hooks.conftest import client_command, fixture, raw, run_client, with_command

CWD = "/home/user/my-project"


@dataclass(frozen=True)
class Case:
    id: str
    command: str


def dcg_commands(root: Path) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(root.glob("corpus/**/*.toml")):
        text = path.read_text()
        headers = [n for n, line in enumerate(text.splitlines(), 1) if line.strip() == "[[case]]"]
        for number, case in zip(headers, tomllib.loads(text).get("case", []), strict=True):
            if case.get("input_kind", "command") == "command":
                cases.append(Case(f"{path.relative_to(root)}:{number}", case["command"]))
    for path in sorted(root.glob("fixtures/*.yaml")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            command = _yaml_command(line)
            if command is not None:
                cases.append(Case(f"{path.relative_to(root)}:{number}", command))
    for path in sorted(root.glob("e2e/fixtures/commands/*.txt")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                cases.append(Case(f"{path.relative_to(root)}:{number}", line))
    return cases


_COMMAND = re.compile(r"^\s*-?\s*command:\s*(.+?)\s*$")


def _yaml_command(line: str) -> str | None:
    """One `command:` entry of the fixtures' YAML, read line by line because one upstream file
    is not valid YAML (an unescaped quote; that value is taken between its outer quotes). The
    values are double-quoted (JSON escapes), single-quoted ('' escapes) or plain."""
    match = _COMMAND.match(line)
    if match is None:
        return None
    value = match.group(1)
    if value[:1] == value[-1:] == '"' and len(value) > 1:
        try:
            return str(json.loads(value))
        except ValueError:
            return value[1:-1]
    if value[:1] == value[-1:] == "'" and len(value) > 1:
        return value[1:-1].replace("''", "'")
    return value


class Memo:
    """One classification per distinct action content, shared by check and hook."""

    def __init__(self, inner: Classifier) -> None:
        self.inner = inner
        self.seen: dict[str, Assessment] = {}
        self.misses: list[str] = []

    def classify(self, action: Action) -> Assessment:
        key = json.dumps([action.content(), action.context.canonical()], sort_keys=True)
        if key not in self.seen:
            self.misses.append(key)
            self.seen[key] = self.inner.classify(action)
        return self.seen[key]


def verdict_of(answer: Answer) -> str:
    """What Claude Code is told, as a verdict: allow, or a block that says held or denied."""
    if answer.exit_code == 0:
        assert json.loads(answer.stdout)["hookSpecificOutput"]["permissionDecision"] == "allow"
        return "allow"
    assert answer.exit_code == 2, answer
    if answer.stderr.startswith("airlock held this action"):
        return "hold"
    assert answer.stderr.startswith("airlock denied this action"), answer.stderr
    return "deny"


def _payload(command: str) -> bytes:
    return raw(with_command(fixture("claude", "pretooluse_bash"), command, CWD))


def test_every_dcg_command_gets_the_same_verdict_from_hook_and_check(corpora: Path,
                                                                     tmp_path: Path) -> None:
    cases = dcg_commands(corpora / "dcg")
    assert len(cases) > 900, "the corpus shrank: check the loader"
    config = Config(path=None, state_dir=tmp_path / "state")
    memo = Memo(KindDispatch())
    runtime = Runtime(config, classifier=memo)
    judge = runtime.judge
    gate = Gate(judge=judge, approvals=StoreApprovals(MemoryStore()), safety_net=NoVault(),
                executor=Release(), audit=MemoryAuditLog())
    runner = HookRunner(config=config, gate=gate, store=MemoryStore(), audit=MemoryAuditLog())

    expected = {case.id: check_request({"kind": "shell", "input": case.command, "cwd": CWD},
                                       judge, config)["verdict"] for case in cases}
    checked = len(memo.misses)
    disagreements = []
    for case in cases:
        got = verdict_of(runner.run("claude", _payload(case.command)))
        if got != expected[case.id]:
            disagreements.append(f"{case.id}: check {expected[case.id]}, hook {got}: "
                                 f"{case.command!r}")
    assert disagreements == []
    assert len(memo.misses) == checked, "the hook classified something check did not"


# --------------------------------------------------------------------------------------------
# A sample through the real processes


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`airlock up` on built-in defaults in a fresh folder; yields its state folder."""
    root = tmp_path_factory.mktemp("up")
    log = (root / "up.log").open("wb")
    env = {k: v for k, v in os.environ.items() if k != "AIRLOCK_CONFIG"} | {"NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "airlock", "up", "--port", str(free_port())],
                            cwd=root, stdout=log, stderr=subprocess.STDOUT, env=env)
    sock = root / ".airlock" / "hooks.sock"
    deadline = time.monotonic() + 30
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail(f"airlock up did not start: {(root / 'up.log').read_text()}")
        time.sleep(0.1)
    yield root / ".airlock"
    proc.terminate()
    proc.wait(timeout=15)
    log.close()


def _sample(corpora: Path, size: int) -> list[Case]:
    cases = dcg_commands(corpora / "dcg")
    step = max(1, len(cases) // size)
    return cases[::step][:size]


def _check(cases: list[Case], state: Path) -> dict[str, str]:
    config = Config(path=None, state_dir=state)
    judge = Runtime(config).judge
    return {c.id: str(check_request({"kind": "shell", "input": c.command, "cwd": CWD},
                                    judge, config)["verdict"]) for c in cases}


def _disagreements(cases: list[Case], expected: dict[str, str],
                   command: list[str]) -> list[str]:
    out = []
    for case in cases:
        done = run_client(command, _payload(case.command), env={"AIRLOCK_CONFIG": ""})
        got = verdict_of(Answer(done.returncode, done.stdout, done.stderr))
        if got != expected[case.id]:
            out.append(f"{case.id}: check {expected[case.id]}, hook {got}: {case.command!r}: "
                       f"{(done.stderr or done.stdout)[:300]}")
    return out


def test_a_sample_through_the_client_and_the_running_service(corpora: Path,
                                                             service: Path) -> None:
    cases = _sample(corpora, 20)
    command = client_command("claude", service / "hooks.sock")
    assert _disagreements(cases, _check(cases, service), command) == []


def test_a_sample_through_the_client_and_the_in_process_fallback(corpora: Path,
                                                                 tmp_path: Path) -> None:
    cases = _sample(corpora, 8)
    state = tmp_path / "state"
    fallback = [sys.executable, "-m", "airlock", "hook", "claude", "--state-dir", str(state)]
    command = client_command("claude", state / "hooks.sock", *fallback)
    assert _disagreements(cases, _check(cases, state), command) == []
