"""`[fronts.pgwire]` as a front section (strict, keyed by resource), and the proxy as a service
of `airlock up`: started with the others, reported by /healthz, and gone (port and socket file)
after a signal."""

from __future__ import annotations

import os
import socket
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from airlock.config import config_from_mapping, load_config
from airlock.errors import ConfigError
from airlock.fronts.pgwire.settings import SECTION
from airlock.runtime import Runtime
from airlock.tokens import issue_token
from tests.cli import airlock_up, free_port
from tests.pgcluster import Cluster


def _config(tmp_path: Path, **fronts: Any) -> dict[str, Any]:
    return {
        "environments": {"staging": {}},
        "resources": {
            "app": {"kind": "postgres", "environment": "staging",
                    "url": "postgresql://u@127.0.0.1:5432/app"},
            "files": {"kind": "path", "environment": "staging", "path": str(tmp_path)},
        },
        "fronts": {"pgwire": fronts},
    }


def test_listeners_are_keyed_by_resource(tmp_path: Path) -> None:
    config = config_from_mapping(_config(tmp_path, listen={"app": "127.0.0.1:6433"},
                                         listen_socket={"app": "sockets"},
                                         idle_timeout="5m"), tmp_path / "airlock.toml")
    settings = SECTION.of(config)
    listen = settings.listeners["app"]
    assert (listen.host, listen.port) == ("127.0.0.1", 6433)
    assert listen.socket_dir == tmp_path.resolve() / "sockets"
    assert settings.idle_timeout.total_seconds() == 300


def test_without_a_section_nothing_is_served(tmp_path: Path) -> None:
    raw = _config(tmp_path)
    del raw["fronts"]
    assert SECTION.of(config_from_mapping(raw, tmp_path / "airlock.toml")).listeners == {}


@pytest.mark.parametrize(("fronts", "message"), [
    ({"listen": {"nope": "127.0.0.1:1"}}, "`fronts.pgwire.listen.nope`: 'nope' is not a declared"),
    ({"listen": {"files": "127.0.0.1:1"}}, "`fronts.pgwire.listen.files`: files is a path"),
    ({"listen": {"app": "6433"}}, "`fronts.pgwire.listen.app`: '6433' is not host:port"),
    ({"listen": {"app": "127.0.0.1:99999"}}, "is not host:port"),
    ({"listen_socket": {"app": "/run"}}, "`fronts.pgwire.listen_socket.app`: also give listen.app"),
    ({"tls_cert": "missing.crt"}, "give both tls_cert and tls_key"),
    ({"hold_wait_seconds": 7200}, "`fronts.pgwire.hold_wait_seconds`: 7200 is outside"),
    ({"idle_timeout": "soon"}, "`fronts.pgwire.idle_timeout`: 'soon' is not a duration"),
    ({"lisen": {"app": "127.0.0.1:1"}}, "`fronts.pgwire.lisen`: unknown key"),
    ({"uvloop": "yes"}, "`fronts.pgwire.uvloop`: Input should be a valid boolean"),
    ({"relay": "native"}, "`fronts.pgwire.relay`: Input should be 'auto' or 'python'"),
])
def test_mistakes_are_named_by_their_key(tmp_path: Path, fronts: dict[str, Any],
                                         message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(_config(tmp_path, **fronts), tmp_path / "airlock.toml")
    assert message in caught.value.message


def test_the_old_spellings_are_unknown_keys(tmp_path: Path) -> None:
    # `[pgwire]` and `resources.NAME.listen` (the proxy's first draft) are refused, not ignored:
    # a listener that silently did not start would leave clients on the real credential.
    raw = _config(tmp_path)
    raw["pgwire"] = {"uvloop": True}
    raw["resources"]["app"]["listen"] = "127.0.0.1:6433"
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(raw, tmp_path / "airlock.toml")
    assert "`pgwire`: unknown key" in caught.value.message
    assert "`resources.app.listen`: unknown key" in caught.value.message


def test_airlock_up_serves_the_proxy_and_removes_it_on_sigterm(pg_cluster: Cluster,
                                                               tmp_path: Path) -> None:
    db = "up_" + os.urandom(4).hex()
    url = pg_cluster.create_database(db)
    api, proxy_port = free_port(), free_port()
    sockets = Path(tempfile.mkdtemp(prefix="alk-up-"))  # short: a socket path has 107 bytes
    (tmp_path / "airlock.toml").write_text(textwrap.dedent(f"""
        [environments.staging]
        [resources.app]
        kind = "postgres"
        environment = "staging"
        url = "{url}"
        [principals.agent]
        kind = "agent"
        [vault]
        enabled = false
        [fronts.pgwire]
        listen = {{ app = "127.0.0.1:{proxy_port}" }}
        listen_socket = {{ app = "{sockets}" }}
        """), encoding="utf-8")
    runtime = Runtime(load_config(tmp_path / "airlock.toml"))
    token = issue_token(runtime.store, runtime.config, principal="agent",
                        environments=["staging"]).token
    runtime.close()
    socket_file = sockets / f".s.PGSQL.{proxy_port}"
    with airlock_up(port=api, cwd=tmp_path) as up:
        services = up.health["services"]
        assert list(services)[-1] == "pgwire:app"
        assert services["pgwire:app"] == {
            "ok": True, "detail": f"postgres wire proxy on 127.0.0.1:{proxy_port} and {socket_file}"}
        for host in ("127.0.0.1", str(sockets)):
            dsn = make_conninfo("", host=host, port=str(proxy_port), user="agent", dbname=db,
                                password=token, sslmode="disable")
            with psycopg.connect(dsn) as conn:
                assert conn.execute("SELECT 40 + 2").fetchone() == (42,)
        output = up.stop()
    assert up.proc.returncode == 0, output
    assert not socket_file.exists()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", proxy_port), timeout=1):
        pass
    sockets.rmdir()  # empty: nothing else was left behind
