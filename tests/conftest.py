"""Shared fixtures. A real part (PostgreSQL, Chromium, the shared corpora) that is missing makes a
test skip on a developer machine but fail under CI (`CI=true`), so a green CI run means the real
path was exercised."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pgcluster import Cluster, find_bindir, running_cluster

REPO = Path(__file__).resolve().parents[1]
# Public data written by others (read in place, never copied here): a folder `shared/corpora`
# beside the checkout, or wherever $AIRLOCK_CORPORA points. Where each corpus comes from, so that
# a machine without them can fetch them:
CORPORA = Path(os.environ.get("AIRLOCK_CORPORA") or REPO.parent / "shared" / "corpora")
CORPUS_SOURCES = {
    "dcg": "labelled shell commands from github.com/Dicklesworthstone/destructive_command_guard "
           "at 1a52415 (its corpus/, fixtures/ and e2e/fixtures/commands/; MIT)",
    "railway": "Railway's GraphQL schema and its CLI's documents, from github.com/railwayapp/cli "
               "at df3838b (schema.json, mutations/, queries/; MIT)",
    "postgres-regress": "PostgreSQL's regression SQL (src/test/regress/sql) as copied by "
                        "github.com/pganalyze/libpg_query, branch 16-latest (PostgreSQL licence)",
}

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


def missing_corpora(root: Path = CORPORA) -> str | None:
    """What is missing of the corpora at `root`, with where to get it; None when all are there."""
    absent = [name for name in CORPUS_SOURCES if not (root / name).is_dir()]
    if not absent:
        return None
    return (f"the shared corpora at {root} (folder{'s' if len(absent) > 1 else ''} "
            f"{', '.join(absent)}: "
            + "; ".join(f"{name}/ is {CORPUS_SOURCES[name]}" for name in absent)
            + "; put them beside the checkout as ../shared/corpora, or set AIRLOCK_CORPORA=DIR)")


@pytest.fixture(scope="session")
def corpora() -> Path:
    missing = missing_corpora()
    require(missing is None, missing or "")
    return CORPORA


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A real PostgreSQL server for the whole session (required under CI)."""
    bindir = find_bindir()
    require(bindir is not None, "PostgreSQL server binaries (initdb, pg_ctl)")
    assert bindir is not None
    with running_cluster(bindir) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real AWS HTTP endpoint (moto in server mode) for the whole session, shared by the vault's
    S3 store and the API proxy's AWS tests (each test names its own buckets)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        require(False, "moto[server]")
        raise
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def pg_database(pg_cluster: Cluster, request: pytest.FixtureRequest) -> str:
    """A fresh empty database on the session's server; returns its URL."""
    name = "t_" + uuid.uuid4().hex[:12]
    return pg_cluster.create_database(name)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock-tests-only", action="store_true",
        help="run only the test modules that name a time (tests/clockshift/selection.py) and "
             "those marked `clock`: bin/test's clock-ahead pass")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--clock-tests-only"):
        return
    from tests.clockshift.selection import names_a_time

    keep = [item for item in items if item.get_closest_marker("clock") or names_a_time(item.path)]
    dropped = [item for item in items if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.getoption("--clock-tests-only"):
        return ("clock-ahead pass: only the tests that name a time (tests/clockshift/selection.py); "
                "the others are deselected")
    return None


# Debian's Chromium, driven by Playwright; no browser is ever downloaded.
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium for the console's browser tests (fails under CI=true if missing)."""
    require(CHROMIUM.exists(), f"Debian's Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "the playwright Python package")
        raise
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        yield launched
        launched.close()
