"""One store of each kind, for tests that must hold on every one: the in-memory twin, SQLite,
and PostgreSQL (a database of the session's cluster: tests/conftest.py `pg_database`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock.store import Store, open_store
from airlock.store.memory import MemoryStore


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        s: Store = MemoryStore()
    elif request.param == "sqlite":
        s = open_store(None, tmp_path)
    else:
        s = open_store(request.getfixturevalue("pg_database"), tmp_path)
    yield s
    s.close()
