"""A running wire proxy in front of the session's real PostgreSQL, with tokens to connect."""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from psycopg.conninfo import make_conninfo

from airlock.config import Config, load_config
from airlock.fronts.pgwire.proxy import Proxy, ProxyThread
from airlock.runtime import Runtime
from airlock.tokens import issue_token
from tests.conftest import require
from tests.pgcluster import Cluster

OTHER_FS = Path("/dev/shm")

CONFIG = """
state_dir = "{state}"

[environments.staging]
[environments.production]

[resources.app]
kind = "postgres"
environment = "production"
url = "{url}"

[resources.scratch]
kind = "postgres"
environment = "staging"
url = "{scratch_url}"

[principals.agent]
kind = "agent"

[principals.alice]
kind = "human"

[vault]
path = "{vault}"

[fronts.pgwire]
listen = {{ app = "127.0.0.1:0", scratch = "127.0.0.1:0" }}
listen_socket = {{ app = "{sockets}" }}
{pgwire}
"""


@dataclass
class Served:
    cluster: Cluster
    dbname: str
    config: Config
    runtime: Runtime
    thread: ProxyThread
    proxy: Proxy
    prod_token: str
    staging_token: str
    sockets: Path

    def port(self, resource: str = "app") -> int:
        return self.proxy.addresses[resource][1]

    def dsn(self, token: str | None = None, resource: str = "app", **extra: str) -> str:
        db = self.dbname if resource == "app" else self.dbname + "_scratch"
        parts = {"host": "127.0.0.1", "port": str(self.port(resource)), "user": "agent",
                 "dbname": db, "password": token or self.prod_token, "sslmode": "disable",
                 **extra}
        return make_conninfo("", **parts)

    def direct(self, sql: str) -> str:
        return self.cluster.psql(sql, self.dbname)


def serve(cluster: Cluster, tmp_path: Path, vault: Path, pgwire: str = "") -> Served:
    dbname = "w_" + uuid.uuid4().hex[:10]
    url = cluster.create_database(dbname)
    scratch_url = cluster.create_database(dbname + "_scratch")
    sockets = Path(tempfile.mkdtemp(prefix="alk-s-"))
    path = tmp_path / "airlock.toml"
    path.write_text(textwrap.dedent(CONFIG.format(
        state=tmp_path / "state", url=url, scratch_url=scratch_url, vault=vault,
        sockets=sockets, pgwire=pgwire)), encoding="utf-8")
    config = load_config(path)
    runtime = Runtime(config)
    prod = issue_token(runtime.store, config, principal="agent",
                       environments=["production", "staging"]).token
    staging = issue_token(runtime.store, config, principal="agent", environments=["staging"]).token
    thread = ProxyThread(runtime)
    proxy = thread.start()
    return Served(cluster, dbname, config, runtime, thread, proxy, prod, staging, sockets)


@pytest.fixture
def vault_dir(tmp_path: Path) -> Iterator[Path]:
    usable = OTHER_FS.is_dir() and os.stat(OTHER_FS).st_dev != os.stat(tmp_path).st_dev
    require(usable, f"a second filesystem for the vault ({OTHER_FS} as tmpfs)")
    path = Path(tempfile.mkdtemp(prefix="airlock-vault-test-", dir=OTHER_FS))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def native_relay() -> str:
    """The `[fronts.pgwire]` line that puts sessions through the compiled relay (pgrelay.c);
    the test needs a C compiler (it FAILS under CI=true without one)."""
    from airlock.fronts.pgwire import relay

    require(relay.build() is not None, "a C compiler to build the compiled relay (pgrelay.c)")
    return 'relay = "auto"'


@pytest.fixture(params=["python", "native"])
def relay_line(request: pytest.FixtureRequest) -> str:
    """Every test of a served proxy runs twice: with the Python relay, and with sessions lent
    to the compiled relay."""
    return native_relay() if request.param == "native" else 'relay = "python"'


@pytest.fixture
def served(pg_cluster: Cluster, tmp_path: Path, vault_dir: Path,
           relay_line: str) -> Iterator[Served]:
    s = serve(pg_cluster, tmp_path, vault_dir, relay_line)
    try:
        yield s
    finally:
        s.thread.stop()
        s.runtime.close()
        shutil.rmtree(s.sockets, ignore_errors=True)
