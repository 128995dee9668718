"""`store`: one store of each kind (memory, SQLite, PostgreSQL) for the tests here."""

from tests.stores import store  # noqa: F401 — the fixture, shared with the other folder
