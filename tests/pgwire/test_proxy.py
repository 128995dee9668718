"""The proxy end to end with psycopg against a real PostgreSQL: tokens, verdicts, holds,
approvals with their snapshot, undo."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from airlock.approvals import decide
from airlock.model import Principal, PrincipalKind
from airlock.store import ApprovalStatus
from tests.cli import airlock
from tests.pgwire.conftest import Served

pytestmark = pytest.mark.postgres


def test_reads_pass_and_rows_come_back(served: Served) -> None:
    served.direct("CREATE TABLE t (id int primary key, name text); "
                  "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    with psycopg.connect(served.dsn()) as conn:
        rows = conn.execute("SELECT id, name FROM t ORDER BY id").fetchall()
        assert rows == [(1, "a"), (2, "b")]
        # the same statement again is a cache hit; parameters go through Bind
        for i in (1, 2, 1):
            assert conn.execute("SELECT name FROM t WHERE id = %s", (i,)).fetchone() is not None


def test_a_wrong_password_or_a_staging_token_cannot_connect_to_production(served: Served) -> None:
    with pytest.raises(psycopg.OperationalError, match="not a live airlock token"):
        psycopg.connect(served.dsn(token="alk_tok_00000000000000000000000000_" + "x" * 43))
    with pytest.raises(psycopg.OperationalError, match="may reach staging"):
        psycopg.connect(served.dsn(token=served.staging_token))
    # the staging token does reach the staging database
    with psycopg.connect(served.dsn(token=served.staging_token, resource="scratch")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_startup_parameters_that_change_meaning_are_refused(served: Served) -> None:
    with pytest.raises(psycopg.OperationalError, match="options"):
        psycopg.connect(served.dsn(options="-c search_path=evil,pg_catalog"))


def test_a_held_statement_gets_airlocks_sqlstate_and_approval_id(served: Served) -> None:
    served.direct("CREATE TABLE t (id int)")
    with psycopg.connect(served.dsn()) as conn, pytest.raises(psycopg.Error) as info:
        conn.execute("DROP TABLE t")
    assert info.value.sqlstate == "AL001"
    assert "apr_" in str(info.value)
    assert served.direct("SELECT count(*) FROM pg_tables WHERE tablename = 't'").strip() == "1"


def test_held_inside_a_transaction_fails_the_transaction(served: Served) -> None:
    served.direct("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
    with psycopg.connect(served.dsn()) as conn:
        conn.execute("SELECT 1")  # psycopg opened a transaction block
        with pytest.raises(psycopg.Error) as info:
            conn.execute("UPDATE t SET id = 2")  # every row in production: held
        assert info.value.sqlstate == "AL001"
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
    # nothing ran: the transaction failed and rolled back as PostgreSQL does
    assert served.direct("SELECT id FROM t").strip() == "1"


def test_drop_table_held_approved_run_after_its_snapshot_and_undone(served: Served) -> None:
    served.direct("CREATE TABLE users (id int primary key, name text); "
                  "INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 50) g")
    before = served.direct("SELECT md5(string_agg(id || name, ',' ORDER BY id)) FROM users")
    with psycopg.connect(served.dsn(), autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as info:
            conn.execute("DROP TABLE users")
        approval_id = str(info.value).split("approval ", 1)[1].split(":")[0]
        decide(served.runtime.store, approval_id, Principal("alice", PrincipalKind.HUMAN),
               approve=True)
        conn.execute("DROP TABLE users")  # the identical statement, once approved
    assert served.direct("SELECT count(*) FROM pg_tables WHERE tablename = 'users'").strip() == "0"
    snapshots = served.runtime.store.list_snapshots(resource="app")
    assert snapshots, "the approved DROP ran without a snapshot"
    action_id = snapshots[0].action_id
    assert action_id is not None
    done = airlock("--config", str(served.config.path), "undo", action_id, "--force",
                   cwd=served.config.state_dir.parent, timeout=120)
    assert done.returncode == 0, done.stderr
    after = served.direct("SELECT md5(string_agg(id || name, ',' ORDER BY id)) FROM users")
    assert after == before


def test_an_approved_delete_takes_its_before_image_in_the_clients_session(served: Served) -> None:
    served.direct("CREATE TABLE t (id int primary key, v text); "
                  "INSERT INTO t SELECT g, 'v' FROM generate_series(1, 10) g")
    with psycopg.connect(served.dsn(), autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as info:
            conn.execute("DELETE FROM t WHERE id <= 3")
        approval_id = str(info.value).split("approval ", 1)[1].split(":")[0]
        decide(served.runtime.store, approval_id, Principal("alice", PrincipalKind.HUMAN),
               approve=True)
        cur = conn.execute("DELETE FROM t WHERE id <= 3")
        assert cur.rowcount == 3
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert served.direct("SELECT count(*) FROM t").strip() == "7"
    kinds = [s.kind for s in served.runtime.store.list_snapshots(resource="app")]
    assert "postgres-rows" in kinds


def test_waiting_for_an_approval_when_configured(pg_cluster: object, tmp_path: object,
                                                 vault_dir: object) -> None:
    from tests.pgwire.conftest import serve

    s = serve(pg_cluster, tmp_path, vault_dir, pgwire="hold_wait_seconds = 30")  # type: ignore[arg-type]
    try:
        s.direct("CREATE TABLE t (id int)")

        def approve_when_asked() -> None:
            for _ in range(200):
                pending = s.runtime.store.list_approvals(status=ApprovalStatus.PENDING)
                if pending:
                    decide(s.runtime.store, pending[0].id,
                           Principal("alice", PrincipalKind.HUMAN), approve=True)
                    return
                time.sleep(0.05)

        helper = threading.Thread(target=approve_when_asked)
        helper.start()
        with psycopg.connect(s.dsn(), autocommit=True) as conn:
            conn.execute("DROP TABLE t")  # waits, then runs once approved
        helper.join()
        assert s.direct("SELECT count(*) FROM pg_tables WHERE tablename = 't'").strip() == "0"
    finally:
        s.thread.stop()
        s.runtime.close()


def test_every_run_is_in_the_audit_log(served: Served) -> None:
    with psycopg.connect(served.dsn()) as conn:
        for _ in range(5):
            conn.execute("SELECT 42")
    served.thread.stop()  # flushes the journal
    records = list(served.runtime.store.audit_records())
    runs = sum(1 for r in records if r.kind == "action" and "SELECT 42" in str(r.data))
    # runs the compiled relay served are recorded with their count ("relayed")
    runs += sum(sum(e.get("relayed", len(e["at"])) for e in r.data["statements"]
                    if e["sql"] == "SELECT 42")
                for r in records if r.kind == "pgwire_statements")
    assert runs == 5


def test_a_drop_after_the_transaction_changed_data_is_refused_not_dumped_blind(
        served: Served) -> None:
    # pg_dump runs on airlock's own connection: it cannot see what the client's open
    # transaction changed, so a backup taken then would restore the wrong rows
    served.direct("CREATE TABLE t (id int primary key); INSERT INTO t VALUES (1)")
    for held in ("INSERT INTO t VALUES (2)", "DROP TABLE t"):  # production: both need a human
        with psycopg.connect(served.dsn(), autocommit=True) as conn, \
                pytest.raises(psycopg.Error) as info:
            conn.execute(held)
        approval_id = str(info.value).split("approval ", 1)[1].split(":")[0]
        decide(served.runtime.store, approval_id, Principal("alice", PrincipalKind.HUMAN),
               approve=True)
    with psycopg.connect(served.dsn()) as conn:
        conn.execute("INSERT INTO t VALUES (2)")
        with pytest.raises(psycopg.Error) as refused:
            conn.execute("DROP TABLE t")
        # held, saying why: the gate records a failed backup and does not run the statement
        assert refused.value.sqlstate == "AL001"
        assert "already changed data the dump cannot see" in str(refused.value)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
    assert served.direct("SELECT count(*) FROM t").strip() == "1"  # nothing ran, nothing kept
    failed = [r for r in served.runtime.store.audit_records() if r.kind == "snapshot_failed"]
    assert failed and "already changed data" in str(failed[-1].data)


def test_writes_in_a_transaction_are_on_record_before_its_commit_not_each_before_it_runs(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    from airlock.fronts.pgwire import rulings

    monkeypatch.setattr(rulings, "FLUSH_SECONDS", 3600.0)  # seal only when someone waits
    served.cluster.psql("CREATE TABLE t (id int primary key, v int); INSERT INTO t VALUES (1, 0)",
                        served.dbname + "_scratch")
    update = "UPDATE t SET v = v + 1 WHERE id = 1"

    def journaled() -> int:
        return sum(len(e["at"]) for r in served.runtime.store.audit_records()
                   if r.kind == "pgwire_statements" for e in r.data["statements"]
                   if e["sql"] == update)

    with psycopg.connect(served.dsn(token=served.staging_token, resource="scratch")) as conn:
        conn.execute(update)  # first sight: the whole gate, on record before it runs
        conn.commit()
        time.sleep(0.1)  # the journal's current wait ends; from here it seals on demand
        sealed_before = journaled()
        for _ in range(3):  # in the block: forwarded at once, journaled
            conn.execute(update)
        assert journaled() == sealed_before  # nobody waited for these records
        conn.commit()  # the COMMIT waits until they are sealed
        assert journaled() == sealed_before + 3
    assert served.cluster.psql("SELECT v FROM t", served.dbname + "_scratch").strip() == "4"


def test_a_revoked_tokens_open_session_stops_within_a_second(served: Served) -> None:
    from airlock.fronts.pgwire.watch import REFRESH_SECONDS
    from airlock.tokens import issue_token

    issued = issue_token(served.runtime.store, served.config, principal="agent",
                         environments=["production"])  # made after the proxy started
    token = issued.token
    with psycopg.connect(served.dsn(token=token), autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert served.runtime.store.revoke_token(issued.record.id, "2030-01-01T00:00:00+00:00")
        revoked_at = time.monotonic()
        with pytest.raises(psycopg.Error) as stopped:  # noqa: PT012 — polls until it stops
            while time.monotonic() - revoked_at < 10:
                conn.execute("SELECT 1")
                time.sleep(0.02)
        assert time.monotonic() - revoked_at < REFRESH_SECONDS * 2 + 1
        # refused by the rulings, or the session ended by the watch: either says why
        assert f"token {issued.record.id} was revoked" in str(stopped.value)
    with pytest.raises(psycopg.OperationalError, match="not a live airlock token"):
        psycopg.connect(served.dsn(token=token))


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A throwaway server certificate (cryptography is already among the dependencies)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    start = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)  # any clock reads it as valid
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=365 * 200))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "server.crt", folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.mark.parametrize("uvloop", ["true", "false"])
def test_tls_clients_are_relayed_on_either_event_loop(pg_cluster: object, tmp_path: Path,
                                                      vault_dir: Path, uvloop: str) -> None:
    from tests.pgwire.conftest import serve

    cert, key = _self_signed(tmp_path)
    s = serve(pg_cluster, tmp_path, vault_dir,  # type: ignore[arg-type]
              pgwire=f'tls_cert = "{cert}"\ntls_key = "{key}"\nuvloop = {uvloop}')
    try:
        with psycopg.connect(s.dsn(sslmode="require")) as conn:
            assert conn.info.pgconn.ssl_in_use
            rows = conn.execute("SELECT g FROM generate_series(1, 5000) g").fetchall()
            assert len(rows) == 5000  # many rows: the relay's runs across TLS records
            for i in range(3):
                assert conn.execute("SELECT %s::int", (i,)).fetchone() == (i,)
    finally:
        s.thread.stop()
        s.runtime.close()
