"""Shared fixtures. A real part (PostgreSQL, Chromium, the shared corpora) that is missing makes a
test skip on a developer machine but fail under CI (`CI=true`), so a green CI run means the real
path was exercised."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"


def require(condition: bool, what: str) -> None:
    """Skip locally, fail under CI, when a real part the test needs is missing."""
    if condition:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} is missing, and under CI a missing real part is a failure")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="session")
def corpora() -> Path:
    require(CORPORA.is_dir(), f"the shared corpora at {CORPORA}")
    return CORPORA
