"""The vault never backs up a database that shares its disk — however the database's host is
spelled. 127.0.0.2, the machine's own name or one of its interface addresses reach the same
server as `localhost`; each must be seen as this machine, so the plan says no backup is
possible there, and approving it needs `--without-backup`."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock.store import open_store
from airlock.vault.locality import is_this_machine
from tests.approvals.helpers import enrol_by_cli
from tests.cli import airlock
from tests.conftest import require
from tests.pgcluster import Cluster
from tests.vault.helpers import agent_token


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.2", "127.255.255.254",
                                  "::1", "[::1]", "0.0.0.0", "::",  # noqa: S104 "::ffff:127.0.0.9", "",
                                  "/var/run/postgresql"])
def test_loopback_and_local_spellings_are_this_machine(host: str) -> None:
    assert is_this_machine(host)


def test_names_are_resolved_and_any_local_address_counts() -> None:
    assert is_this_machine(socket.gethostname())
    assert not is_this_machine("db.example", resolver=lambda _h: ["192.0.2.77"])
    assert is_this_machine("db.example", resolver=lambda _h: ["192.0.2.77", "127.0.0.3"])
    assert is_this_machine("unresolvable.example", resolver=lambda _h: [])  # cannot tell: local
    assert not is_this_machine("192.0.2.77") and not is_this_machine("2001:db8::7")
    for address in _interface_addresses():
        assert is_this_machine(address), address


def _interface_addresses() -> list[str]:
    """This machine's non-loopback addresses (the one its default route leaves from)."""
    found = []
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                found.append(str(s.getsockname()[0]))
        except OSError:
            continue
    return [a for a in found if not a.startswith(("127.", "::1"))]


class Forwarder:
    """A real TCP path from (host, a free port) to the test server, so the database is reached
    through another spelling of this machine."""

    def __init__(self, host: str, target: tuple[str, int]) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(16)
        self.port = int(self.listener.getsockname()[1])
        self.target = target
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()
        for s in self.sockets:
            s.close()


def _spellings() -> list[str]:
    return ["127.0.0.2", "hostname", *(_interface_addresses()[:1] or ["interface"])]


@pytest.fixture(params=_spellings())
def spelled(request: pytest.FixtureRequest, pg_cluster: Cluster,
            pg_database: str) -> Iterator[str]:
    """The test database's URL with its host spelled another way (same server, same disk)."""
    spelling: str = request.param
    dbname = pg_database.rsplit("/", 1)[1]
    if spelling == "hostname":
        name = socket.gethostname()
        require(socket.gethostbyname(name).startswith("127."),
                "a host name that resolves to a loopback address")
        yield f"postgresql://{pg_cluster.user}@{name}:{pg_cluster.port}/{dbname}"
        return
    require(spelling != "interface", "a non-loopback interface address")
    forwarder = Forwarder(spelling, ("127.0.0.1", pg_cluster.port))
    host = f"[{spelling}]" if ":" in spelling else spelling
    yield f"postgresql://{pg_cluster.user}@{host}:{forwarder.port}/{dbname}"
    forwarder.close()


def test_a_database_on_the_vaults_disk_is_never_backed_up_there(
        tmp_path: Path, pg_cluster: Cluster, spelled: str) -> None:
    """The vault is the default one in the state folder, on the disk the test server's data
    lives on: whatever the host spelling, no backup is planned there, approving needs
    --without-backup, and the outcome says it ran without one."""
    dbname = spelled.rsplit("/", 1)[1]
    pg_cluster.psql("CREATE TABLE ledger (id int PRIMARY KEY); INSERT INTO ledger VALUES (1)",
                    dbname)
    (tmp_path / "airlock.toml").write_text(f"""
state_dir = "{tmp_path / 'state'}"
[environments.staging]
[resources.app]
kind = "postgres"
environment = "staging"
url = "{spelled}"
[principals.agent]
kind = "agent"
[principals.alice]
kind = "human"
[vault]
pg_bin = "{pg_cluster.bindir}"
""")
    sql = ("sql", "app", "DROP TABLE ledger", "--token", agent_token(tmp_path), "--json")
    held = airlock(*sql, cwd=tmp_path)
    assert held.returncode == 3, held.stdout + held.stderr
    approval_id = json.loads(held.stdout)["approval_id"]
    store = open_store(None, tmp_path / "state")
    try:
        approval = store.get_approval(approval_id)
        assert approval is not None
        [gap] = approval.unprotected
        assert "same filesystem" in gap["why"], gap
        assert approval.details["safety_plan"]["steps"] == []
    finally:
        store.close()
    alice = enrol_by_cli(tmp_path, "alice")
    code = alice.code()
    refused = airlock("approve", approval_id, "--token", alice.credential, "--code", code,
                      cwd=tmp_path)
    assert refused.returncode == 2 and "--without-backup" in refused.stderr
    approved = airlock("approve", approval_id, "--without-backup", "--token", alice.credential,
                       "--code", code, cwd=tmp_path)
    assert approved.returncode == 0, approved.stderr
    ran = airlock(*sql, cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "ran without a backup of" in json.loads(ran.stdout)["reason"]
    assert not list((tmp_path / "state" / "vault").glob("snapshots/*"))
