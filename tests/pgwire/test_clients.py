"""Real clients through the proxy: psql (with \\d), psycopg's automatic prepared statements,
asyncpg, SQLAlchemy and pgbench."""

from __future__ import annotations

import asyncio
import os
import subprocess

import psycopg
import pytest

from tests.pgwire.conftest import Served

pytestmark = pytest.mark.postgres


def _env(served: Served, token: str | None = None) -> dict[str, str]:
    return {**os.environ, "PGPASSWORD": token or served.prod_token, "PGSSLMODE": "disable",
            "PGCONNECT_TIMEOUT": "10"}


def psql(served: Served, *args: str, host: str = "127.0.0.1") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(served.cluster.bindir / "psql"), "-X", "-h", host, "-p", str(served.port()),
         "-U", "agent", "-d", served.dbname, *args],
        capture_output=True, text=True, env=_env(served), timeout=60)


def test_psql_queries_and_describes_tables(served: Served) -> None:
    served.direct("CREATE TABLE accounts (id int primary key, owner text not null)")
    done = psql(served, "-c", "INSERT INTO accounts VALUES (1, 'ann')", "-c",
                "SELECT owner FROM accounts", "-c", r"\d accounts")
    # the insert is a production write: held; the rest runs
    assert "AL001" in done.stderr or "holding" in done.stderr
    assert "owner" in done.stdout and "not null" in done.stdout  # \d ran its catalog queries
    assert 'Table "public.accounts"' in done.stdout


def test_psql_over_the_unix_socket(served: Served) -> None:
    done = psql(served, "-At", "-c", "SELECT 40 + 2", host=str(served.sockets))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "42"


def test_psycopg_prepares_statements_after_five_runs(served: Served) -> None:
    served.direct("CREATE TABLE t (id int primary key, v text); "
                  "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 20) g")
    with psycopg.connect(served.dsn()) as conn:
        for i in range(1, 12):
            row = conn.execute("SELECT v FROM t WHERE id = %s", (i,)).fetchone()
            assert row == (f"v{i}",)
        prepared = conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
        assert prepared is not None and prepared[0] >= 1  # psycopg's automatic preparation


def test_asyncpg(served: Served) -> None:
    asyncpg = pytest.importorskip("asyncpg")
    served.direct("CREATE TABLE t (id int primary key, v text); INSERT INTO t VALUES (1, 'a')")

    async def main() -> None:
        conn = await asyncpg.connect(host="127.0.0.1", port=served.port(), user="agent",
                                     database=served.dbname, password=served.prod_token,
                                     ssl=False)
        try:
            assert await conn.fetchval("SELECT v FROM t WHERE id = $1", 1) == "a"
            stmt = await conn.prepare("SELECT id FROM t WHERE v = $1")
            assert await stmt.fetchval("a") == 1
            with pytest.raises(asyncpg.PostgresError) as info:
                await conn.execute("DROP TABLE t")
            assert info.value.sqlstate == "AL001"
            assert await conn.fetchval("SELECT 1") == 1  # the connection is still usable
        finally:
            await conn.close()

    asyncio.run(main())


def test_sqlalchemy(served: Served) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    served.direct("CREATE TABLE t (id int primary key, v text); INSERT INTO t VALUES (1, 'a')")
    engine = sqlalchemy.create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(served.dsn()))
    try:
        with engine.connect() as conn:
            value = conn.execute(sqlalchemy.text("SELECT v FROM t WHERE id = :id"), {"id": 1})
            assert value.scalar_one() == "a"
            table = sqlalchemy.Table("t", sqlalchemy.MetaData(), autoload_with=conn)
            assert [c.name for c in table.columns] == ["id", "v"]
    finally:
        engine.dispose()


@pytest.mark.parametrize("mode", ["simple", "prepared"])
def test_pgbench_select_only(served: Served, mode: str) -> None:
    pgbench = str(served.cluster.bindir / "pgbench")
    init = subprocess.run([pgbench, "-i", "-s", "1", "-q", "-h", "127.0.0.1", "-p",
                           str(served.cluster.port), "-U", served.cluster.user, served.dbname],
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    done = subprocess.run([pgbench, "-n", "-S", "-M", mode, "-c", "2", "-t", "200", "-h",
                           "127.0.0.1", "-p", str(served.port()), "-U", "agent", served.dbname],
                          capture_output=True, text=True, env=_env(served), timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "number of failed transactions: 0" in done.stdout
    assert "number of transactions actually processed: 400/400" in done.stdout
