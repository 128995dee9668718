"""An approved write lets exactly that content through: another content, another edit or another
patch to the same file is another action, held again — in every harness that writes files, and
through the real `airlock hook` process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airlock.approvals import decide
from airlock.model import Principal, PrincipalKind
from airlock.store import ApprovalStatus, open_store
from tests.hooks.conftest import World, fixture, make_world, raw

HOLD_WRITES = """
[[policy.rules]]
name = "every-write-needs-a-human"
action = ["file_write"]
verdict = "hold"
approvals = 1
snapshot = false
reason = "writes wait for a human here"
"""


def _approval_id(stderr: str) -> str:
    return stderr.split("approval: ")[1].split()[0]


def _claude(tool: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    data = fixture("claude", "pretooluse_write")
    data.update(tool_name=tool, tool_input=tool_input)
    return data


def _gemini(tool: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    data = fixture("gemini", "beforetool_write_file")
    data.update(tool_name=tool, tool_input=tool_input)
    return data


def _codex(patch: str) -> dict[str, Any]:
    data = fixture("codex", "pretooluse_apply_patch")
    data["tool_input"] = {"command": patch}
    return data


ENV = "/home/user/my-project/.env"
PATCH = "*** Begin Patch\n*** Update File: .env\n@@\n-DEBUG=0\n+DEBUG={}\n*** End Patch\n"
# (harness, the approved call, calls to the same file with other content)
CASES: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = [
    ("claude", _claude("Write", {"file_path": ENV, "content": "DEBUG=1\n"}), [
        _claude("Write", {"file_path": ENV, "content": "DEBUG=1\nAWS_SECRET_ACCESS_KEY=x\n"}),
        _claude("Write", {"file_path": ENV, "content": ""}),
    ]),
    ("claude", _claude("Edit", {"file_path": ENV, "old_string": "DEBUG=0", "new_string": "DEBUG=1",
                                "replace_all": False}), [
        _claude("Edit", {"file_path": ENV, "old_string": "DEBUG=0", "new_string": "DEBUG=2",
                         "replace_all": False}),
        _claude("Edit", {"file_path": ENV, "old_string": "DEBUG=0", "new_string": "DEBUG=1",
                         "replace_all": True}),
        _claude("Edit", {"file_path": ENV, "old_string": "TOKEN=", "new_string": "DEBUG=1",
                         "replace_all": False}),
    ]),
    ("claude", _claude("MultiEdit", {"file_path": ENV, "edits": [
        {"old_string": "a", "new_string": "b"}]}), [
        _claude("MultiEdit", {"file_path": ENV, "edits": [
            {"old_string": "a", "new_string": "b"}, {"old_string": "c", "new_string": "d"}]}),
    ]),
    ("claude", _claude("NotebookEdit", {"notebook_path": ENV, "cell_id": "1",
                                        "new_source": "print(1)"}), [
        _claude("NotebookEdit", {"notebook_path": ENV, "cell_id": "1",
                                 "new_source": "import os; os.system('rm -rf ~')"}),
    ]),
    ("gemini", _gemini("write_file", {"file_path": ENV, "content": "DEBUG=1\n"}), [
        _gemini("write_file", {"file_path": ENV, "content": "DEBUG=1\nX=1\n"}),
    ]),
    ("gemini", _gemini("replace", {"file_path": ENV, "old_string": "DEBUG=0",
                                   "new_string": "DEBUG=1"}), [
        _gemini("replace", {"file_path": ENV, "old_string": "DEBUG=0", "new_string": "DEBUG=9"}),
        _gemini("replace", {"file_path": ENV, "old_string": "DEBUG=0", "new_string": "DEBUG=1",
                            "expected_replacements": 5}),
    ]),
    ("codex", _codex(PATCH.format(1)), [_codex(PATCH.format(2)),
                                        _codex(PATCH.format("1\n+TOKEN=stolen"))]),
]


@pytest.fixture
def writes_held(tmp_path: Path) -> World:
    return make_world(tmp_path / "w", HOLD_WRITES)


@pytest.mark.parametrize(("harness", "approved", "others"), CASES,
                         ids=[f"{h}-{a['tool_name']}" for h, a, _ in CASES])
def test_an_approval_lets_only_the_approved_content_through(
        writes_held: World, harness: str, approved: dict[str, Any],
        others: list[dict[str, Any]]) -> None:
    world = writes_held
    held = world.run(harness, approved)
    assert held.exit_code == 2, held
    approval_id = _approval_id(held.stderr)
    world.approve(approval_id)
    for other in others:
        again = world.run(harness, other)
        assert again.exit_code == 2, f"other content to the same file passed: {other}"
        assert _approval_id(again.stderr) != approval_id
    record = world.runtime.store.get_approval(approval_id)
    assert record is not None and record.status is ApprovalStatus.APPROVED  # not spent by them
    assert world.run(harness, approved).exit_code == 0  # the approved content, once
    assert world.run(harness, approved).exit_code == 2


def test_the_digest_covers_the_content_and_reads_stay_path_only(writes_held: World) -> None:
    from airlock.fronts.hooks import claude

    write = claude.parse(_claude("Write", {"file_path": ENV, "content": "x"})).payloads[0]
    same = claude.parse(_claude("Write", {"file_path": ENV, "content": "x"})).payloads[0]
    other = claude.parse(_claude("Write", {"file_path": ENV, "content": "y"})).payloads[0]
    assert write == same and write != other
    read = claude.parse({**fixture("claude", "pretooluse_read")}).payloads[0]
    assert "content_sha256" not in read.canonical()


def _hook(config: Path, state: Path, harness: str,
          data: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "airlock", "--config", str(config), "hook",
                           harness, "--state-dir", str(state)], input=json.dumps(data),
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("harness", "make"), [
    ("claude", lambda content: _claude("Write", {"file_path": ENV, "content": content})),
    ("gemini", lambda content: _gemini("write_file", {"file_path": ENV, "content": content})),
    ("codex", lambda content: _codex(PATCH.format(content))),
])
def test_through_the_real_hook_process(tmp_path: Path, harness: str,
                                       make: Callable[[str], dict[str, Any]]) -> None:
    world = make_world(tmp_path / "w", HOLD_WRITES)
    world.runtime.close()
    assert world.config.path is not None
    state = world.config.state_dir
    held = _hook(world.config.path, state, harness, make("1"))
    assert held.returncode == 2, held
    approval_id = _approval_id(held.stderr)
    store = open_store(None, state)
    try:
        decide(store, approval_id, Principal("alice", PrincipalKind.HUMAN), approve=True)
    finally:
        store.close()
    other = _hook(world.config.path, state, harness, make("1\nAWS_SECRET_ACCESS_KEY=mine"))
    assert other.returncode == 2 and approval_id not in other.stderr
    assert _hook(world.config.path, state, harness, make("1")).returncode == 0


def test_raw_payloads_bind_the_same_way(writes_held: World) -> None:
    """The digest is the tool input's meaning: key order and spacing in the JSON do not matter."""
    data = _claude("Write", {"file_path": ENV, "content": "DEBUG=1\n"})
    held = writes_held.run("claude", data)
    writes_held.approve(_approval_id(held.stderr))
    shuffled = json.dumps({**data, "tool_input": {"content": "DEBUG=1\n", "file_path": ENV}},
                          indent=3).encode()
    assert shuffled != raw(data)
    assert writes_held.run("claude", shuffled).exit_code == 0
