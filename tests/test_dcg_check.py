"""Issue 3's bar, measured the way users meet it: every dcg command through `airlock check`'s
JSON contract, with the real shell, SQL and HTTP classifiers and the built-in policy.

tests/classify/test_shell_dcg.py measures the shell classifier alone (SQL and HTTP stood in);
this measures the whole judgement, against the same list of deliberate disagreements."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.config import load_config
from airlock.fronts.check import check_request
from airlock.runtime import Runtime
from tests.classify.test_shell_dcg import (
    ALLOW_HELD_AT_MOST,
    DENY_HELD_AT_LEAST,
    dcg_cases,
    load_disagreements,
)


def test_dcg_through_check(corpora: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no airlock.toml: the built-in defaults
    monkeypatch.delenv("AIRLOCK_CONFIG", raising=False)
    config = load_config()
    judge = Runtime(config).judge
    cases = dcg_cases(corpora)
    listed = load_disagreements()
    project = tmp_path / "project"  # an empty project folder: the corpus has no files
    project.mkdir()
    held = {c.id: check_request({"kind": "shell", "input": c.command, "cwd": str(project)},
                                judge, config)["verdict"] != "allow"
            for c in cases}
    unexpected = [f"{c.id}: dcg {'deny' if c.deny else 'allow'}: {c.command!r}"
                  for c in cases if (held[c.id] != c.deny) and c.id not in listed]
    stale = [i for i in listed if held[i] == next(c.deny for c in cases if c.id == i)]
    assert not unexpected, "disagreements not listed in shell_dcg_disagreements.toml:\n" + "\n".join(unexpected)
    assert not stale, f"listed disagreements that now agree with dcg: {stale}"
    deny = [c for c in cases if c.deny]
    allow = [c for c in cases if not c.deny]
    assert sum(held[c.id] for c in deny) / len(deny) >= DENY_HELD_AT_LEAST
    assert sum(held[c.id] for c in allow) / len(allow) <= ALLOW_HELD_AT_MOST
