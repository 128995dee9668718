"""Shared fixtures. A real part (PostgreSQL, Chromium, the shared corpora) that is missing makes a
test skip on a developer machine but fail under CI (`CI=true`), so a green CI run means the real
path was exercised."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pgcluster import Cluster, find_bindir, running_cluster

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"

# `bin/test`'s second pass sets AIRLOCK_TEST_CLOCK_AHEAD: this process and every Python process
# the tests start run with the clock that many days ahead (see tests/clockshift/sitecustomize.py).
if os.environ.get("AIRLOCK_TEST_CLOCK_AHEAD"):
    _shift = str(REPO / "tests" / "clockshift")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (_shift, os.environ.get("PYTHONPATH", "")) if p)
    from tests.clockshift.sitecustomize import start_clock_shift

    start_clock_shift()


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


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A real PostgreSQL server for the whole session (required under CI)."""
    bindir = find_bindir()
    require(bindir is not None, "PostgreSQL server binaries (initdb, pg_ctl)")
    assert bindir is not None
    with running_cluster(bindir) as cluster:
        yield cluster


@pytest.fixture
def pg_database(pg_cluster: Cluster, request: pytest.FixtureRequest) -> str:
    """A fresh empty database on the session's server; returns its URL."""
    name = "t_" + uuid.uuid4().hex[:12]
    return pg_cluster.create_database(name)
