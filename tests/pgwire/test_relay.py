"""The compiled relay (pgrelay.c) as a real process, driven by playbooks of wire messages.

Each test lends sessions made of socket pairs (a fake client, a fake server) to a real relay
process through `relay.Relay`, then plays both ends: what reaches the server, what comes back
to Python, what ends. The real-client tests (test_clients.py, test_proxy.py) run through the
relay too, via the `relay_line` fixture.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airlock.fronts.pgwire import protocol as pw
from airlock.fronts.pgwire import relay
from tests.conftest import require
from tests.pgwire.conftest import Served, native_relay, serve

SELECT = "SELECT abalance FROM pgbench_accounts WHERE aid = 42;"


@pytest.fixture(scope="module")
def binary() -> Path:
    built = relay.build()
    require(built is not None, "a C compiler to build the compiled relay (pgrelay.c)")
    assert built is not None
    return built


@dataclass
class Lent:
    """One lent session: our ends of its sockets, and what the relay told Python about it."""

    client: socket.socket
    server: socket.socket
    hits: list[tuple[int, int]] = field(default_factory=list)
    back: tuple[str, bytes, dict[str, int]] | None = None
    closed: str | None = None
    sid: int = 0

    def relay_hits(self, hits: list[tuple[int, int]]) -> None:
        self.hits += hits

    def relay_back(self, status: str, data: bytes, statements: dict[str, int]) -> None:
        self.back = (status, data, statements)

    def relay_closed(self, reason: str) -> None:
        self.closed = reason


_OPEN: list[socket.socket] = []


def _back(s: Lent) -> tuple[str, bytes, dict[str, int]] | None:
    return s.back  # read again (mypy keeps an earlier assert's narrowing)


def _pair() -> tuple[socket.socket, socket.socket]:
    ours, lent = socket.socketpair()
    ours.setblocking(False)
    _OPEN.append(ours)
    return ours, lent


def lend(r: relay.Relay, texts: list[tuple[int, str, bool]],
         statements: list[tuple[str, int]] | None = None, status: str = "I") -> Lent:
    client, client_lent = _pair()
    server, server_lent = _pair()
    session = Lent(client, server)
    sid = r.lend(session, client_lent, server_lent, status, None, texts, statements or [])
    assert sid is not None
    session.sid = sid
    _OPEN.extend((client_lent, server_lent))  # kept open, as the proxy keeps its copies
    return session


async def until(check: Callable[[], object], seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the relay did not get there in time")
        await asyncio.sleep(0.005)


async def received(sock: socket.socket, size: int, seconds: float = 3.0) -> bytes:
    got = b""
    deadline = time.monotonic() + seconds
    while len(got) < size and time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
        except BlockingIOError:
            await asyncio.sleep(0.005)
    return got


async def nothing_arrives(sock: socket.socket, seconds: float = 0.2) -> None:
    await asyncio.sleep(seconds)
    with pytest.raises(BlockingIOError):
        sock.recv(65536)


def run(binary: Path, play: Callable[[relay.Relay], Awaitable[None]]) -> None:
    async def main() -> None:
        r = relay.Relay(binary)
        r.start()
        try:
            await play(r)
        finally:
            await r.stop(grace=0.5)
            while _OPEN:
                _OPEN.pop().close()

    asyncio.run(main())


def query(sql: str) -> bytes:
    return pw.frame(b"Q", sql.encode() + b"\0")


def answer(status: bytes = b"I") -> bytes:
    return pw.frame(b"C", b"SELECT 1\0") + pw.frame(b"Z", status)


def parse(name: str, sql: str) -> bytes:
    return pw.frame(b"P", name.encode() + b"\0" + sql.encode() + b"\0" + struct.pack("!H", 0))


def bind(statement: str) -> bytes:
    return pw.frame(b"B", b"\0" + statement.encode() + b"\0" + struct.pack("!HHH", 0, 0, 0))


EXECUTE = pw.frame(b"E", b"\0" + struct.pack("!I", 0))
SYNC = pw.frame(b"S", b"")


def test_the_relay_checks_itself(binary: Path) -> None:
    assert relay._works(binary)


def test_a_hit_is_forwarded_unchanged_and_its_answer_comes_back(binary: Path) -> None:
    async def play(r: relay.Relay) -> None:
        s = lend(r, [(7, SELECT, False)])
        s.client.send(query(SELECT))
        assert await received(s.server, len(query(SELECT))) == query(SELECT)
        s.server.send(answer(b"T"))
        assert await received(s.client, len(answer())) == answer(b"T")
        await until(lambda: s.hits)  # reported within a second
        assert s.hits == [(7, 1)]
        assert s.back is None and s.closed is None

    run(binary, play)


def test_a_new_literal_passes_by_shape_only_when_python_said_so(binary: Path) -> None:
    async def play(r: relay.Relay) -> None:
        other = SELECT.replace("42", "99")
        by_shape = lend(r, [(1, SELECT, True)])
        by_shape.client.send(query(other))
        assert await received(by_shape.server, len(query(other))) == query(other)
        exact = lend(r, [(1, SELECT, False)])
        exact.client.send(query(other))
        await until(lambda: exact.back is not None)
        await nothing_arrives(exact.server)
        # a different statement of another shape is a miss even by shape
        by_shape.server.send(answer())
        await received(by_shape.client, len(answer()))
        drop = "DROP TABLE pgbench_accounts"
        by_shape.client.send(query(drop))
        await until(lambda: by_shape.back is not None)
        assert by_shape.back == ("I", query(drop), {})

    run(binary, play)


def test_a_miss_is_handed_back_with_its_bytes_after_every_answer(binary: Path) -> None:
    async def play(r: relay.Relay) -> None:
        s = lend(r, [(1, SELECT, False)])
        miss = query("DELETE FROM t")
        s.client.send(query(SELECT) + miss)  # pipelined: the hit goes, the miss waits
        assert await received(s.server, len(query(SELECT))) == query(SELECT)
        await asyncio.sleep(0.1)
        assert s.back is None  # the forwarded Query is not answered yet
        s.server.send(answer(b"T"))
        await until(lambda: s.back is not None)
        assert _back(s) == ("T", miss, {})
        assert await received(s.client, len(answer())) == answer(b"T")
        await nothing_arrives(s.server)  # the miss never reached the server

    run(binary, play)


def test_named_statements_count_once_the_server_confirms_them(binary: Path) -> None:
    async def play(r: relay.Relay) -> None:
        sql = "SELECT abalance FROM pgbench_accounts WHERE aid = $1"
        s = lend(r, [(3, sql, False)], statements=[("held", 0)])
        first = parse("p1", sql) + bind("p1") + EXECUTE + SYNC
        s.client.send(first)
        assert await received(s.server, len(first)) == first
        s.server.send(pw.frame(b"1", b"") + pw.frame(b"2", b"") + answer())
        await received(s.client, 100, seconds=0.3)
        again = bind("p1") + EXECUTE + SYNC
        s.client.send(again)
        assert await received(s.server, len(again)) == again
        s.server.send(pw.frame(b"2", b"") + answer())
        await received(s.client, 100, seconds=0.3)
        # a statement Python knows but did not lend comes back to Python
        s.client.send(bind("held") + EXECUTE + SYNC)
        await until(lambda: s.back is not None)
        assert s.back is not None
        assert s.back[2] == {"held": 0, "p1": 3}
        await until(lambda: s.hits)
        assert sum(c for _, c in s.hits) == 2

    run(binary, play)


def test_a_parse_the_server_refused_gives_the_name_nothing(binary: Path) -> None:
    async def play(r: relay.Relay) -> None:
        sql = "SELECT 1"
        s = lend(r, [(3, sql, False)])
        # a name prepared in SQL (unknown to the relay) makes the server refuse the Parse
        s.client.send(parse("x", sql) + SYNC)
        await received(s.server, 100, seconds=0.3)
        s.server.send(pw.error_response("42P05", "prepared statement \"x\" already exists")
                      + pw.frame(b"Z", b"I"))
        await received(s.client, 200, seconds=0.3)
        s.client.send(bind("x") + EXECUTE + SYNC)
        await until(lambda: s.back is not None)
        await nothing_arrives(s.server)

    run(binary, play)


def test_a_malformed_frame_ends_that_session_and_others_are_served(binary: Path) -> None:
    async def play(r: relay.Relay) -> None:
        bad = lend(r, [(1, SELECT, False)])
        good = lend(r, [(1, SELECT, False)])
        bad.client.send(b"Q" + struct.pack("!I", 2) + b"xx")
        await until(lambda: bad.closed is not None)
        assert await received(bad.client, 1) == b""  # shut down
        good.client.send(query(SELECT))
        assert await received(good.server, len(query(SELECT))) == query(SELECT)

    run(binary, play)


def test_copy_from_stdin_and_an_unreadable_encoding_end_the_session(binary: Path) -> None:
    async def play(r: relay.Relay) -> None:
        for reply in (pw.frame(b"G", b"\0\0\0"),
                      pw.parameter_status("client_encoding", "SJIS")):
            s = lend(r, [(1, SELECT, False)])
            s.client.send(query(SELECT))
            await received(s.server, 10)
            s.server.send(reply)
            await until(lambda s=s: s.closed is not None)  # type: ignore[misc]

    run(binary, play)


def test_ending_a_session_says_why_and_closes_it_at_once(binary: Path) -> None:
    async def play(r: relay.Relay) -> None:
        s = lend(r, [(1, SELECT, False)])
        farewell = pw.error_response("28000", "token was revoked", severity="FATAL")
        started = time.monotonic()
        r.end(s.sid, farewell)
        got = await received(s.client, len(farewell) + 1)
        assert got == farewell
        assert time.monotonic() - started < 0.5
        await until(lambda: s.closed is not None)

    run(binary, play)


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    """A loopback TCP connection (ours, the relay's end): RST exists only over TCP."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        ours = socket.create_connection(listener.getsockname())
        theirs, _ = listener.accept()
    ours.setblocking(False)
    _OPEN.append(ours)
    return ours, theirs


def test_a_farewell_waits_for_the_answer_in_flight_to_end(binary: Path) -> None:
    # Ended between an answer's CommandComplete and its ReadyForQuery, libpq would read the
    # FATAL as a broken answer and report only "server closed the connection": the relay lets
    # the answer finish first (bounded), then says why.
    async def play(r: relay.Relay) -> None:
        s = lend(r, [(7, SELECT, False)])
        s.client.send(query(SELECT))
        assert await received(s.server, len(query(SELECT))) == query(SELECT)
        complete = pw.frame(b"C", b"SELECT 1\0")
        s.server.send(complete)
        assert await received(s.client, len(complete)) == complete
        farewell = pw.error_response("28000", "token was revoked", severity="FATAL")
        r.end(s.sid, farewell)
        await asyncio.sleep(0.05)
        s.server.send(pw.frame(b"Z", b"I"))  # the answer's end arrives while the relay waits
        ready = pw.frame(b"Z", b"I")
        got = await received(s.client, len(ready) + len(farewell) + 1)
        assert got == ready + farewell

    run(binary, play)


def test_a_client_still_sending_when_told_goodbye_reads_the_farewell_and_is_not_reset(
        binary: Path) -> None:
    # Told goodbye, a client may still be sending (libpq writes its next query before it reads).
    # A socket closed with those bytes unread answers with RST, and a client reset while it
    # writes reports "server closed the connection unexpectedly", never the FATAL saying why.
    # So the relay sends FIN and reads and drops what comes for a moment before it closes.
    async def play(r: relay.Relay) -> None:
        client, client_lent = _tcp_pair()
        server, server_lent = _pair()
        s = Lent(client, server)
        sid = r.lend(s, client_lent, server_lent, "I", None, [(1, SELECT, False)], [])
        assert sid is not None
        s.sid = sid
        _OPEN.append(server_lent)
        farewell = pw.error_response("28000", "token was revoked", severity="FATAL")
        r.end(sid, farewell)
        await until(lambda: s.closed is not None)
        client_lent.close()  # as the proxy closes its copies once the relay says it ended
        for _ in range(3):  # the client goes on writing for a while: never reset
            client.sendall(query("SELECT 2"))
            await asyncio.sleep(0.05)
        got = await received(client, len(farewell) + 1)
        assert got == farewell  # then the end of the stream

    run(binary, play)


def test_stopping_tells_every_session_still_lent_that_it_ended(binary: Path) -> None:
    # A connection ended while lent keeps its copies of the sockets until the relay says the
    # session ended; a relay stopped first must say so for every session it still had.
    async def play(r: relay.Relay) -> None:
        sessions = [lend(r, [(1, SELECT, False)]) for _ in range(2)]
        await r.stop(grace=0.1)
        assert [s.closed for s in sessions] == ["airlock is stopping"] * 2
        assert not r.sessions

    run(binary, play)


def test_a_killed_relay_ends_its_sessions_and_a_new_one_serves(binary: Path) -> None:
    async def play(r: relay.Relay) -> None:
        s = lend(r, [(1, SELECT, False)])
        pid = r.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await until(lambda: s.closed is not None)
        await until(lambda: r.ready and r.pid != pid)
        fresh = lend(r, [(1, SELECT, False)])
        fresh.client.send(query(SELECT))
        assert await received(fresh.server, len(query(SELECT))) == query(SELECT)

    run(binary, play)


@pytest.mark.postgres
def test_through_the_proxy_a_killed_relay_ends_sessions_and_new_ones_work(
        pg_cluster: object, tmp_path: Path, vault_dir: Path) -> None:
    s: Served = serve(pg_cluster, tmp_path, vault_dir, native_relay())  # type: ignore[arg-type]
    try:
        rel = s.proxy.relay
        assert rel is not None
        with psycopg.connect(s.dsn(), autocommit=True) as conn:
            for _ in range(3):
                assert conn.execute("SELECT 1").fetchone() == (1,)
            deadline = time.monotonic() + 3
            while not rel.sessions and time.monotonic() < deadline:
                conn.execute("SELECT 1")
            assert rel.sessions  # the session is lent
            pid = rel.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            with pytest.raises(psycopg.OperationalError):  # noqa: PT012 — polls until it ends
                for _ in range(100):
                    conn.execute("SELECT 1")
                    time.sleep(0.01)
        deadline = time.monotonic() + 5
        while not (rel.ready and rel.pid != pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        with psycopg.connect(s.dsn(), autocommit=True) as conn:
            for _ in range(3):
                assert conn.execute("SELECT 2").fetchone() == (2,)
    finally:
        s.thread.stop()
        s.runtime.close()


@pytest.mark.postgres
def test_tls_sessions_stay_in_python(pg_cluster: object, tmp_path: Path,
                                     vault_dir: Path) -> None:
    from tests.pgwire.test_proxy import _self_signed

    cert, key = _self_signed(tmp_path)
    s: Served = serve(pg_cluster, tmp_path, vault_dir,  # type: ignore[arg-type]
                      f'tls_cert = "{cert}"\ntls_key = "{key}"\n{native_relay()}')
    try:
        rel = s.proxy.relay
        assert rel is not None
        with psycopg.connect(s.dsn(sslmode="require"), autocommit=True) as conn:
            for _ in range(20):
                assert conn.execute("SELECT 1").fetchone() == (1,)
            assert not rel.sessions  # never lent: the relay cannot read TLS
        with psycopg.connect(s.dsn(), autocommit=True) as conn:  # plain: lent once quiet
            for _ in range(20):
                assert conn.execute("SELECT 1").fetchone() == (1,)
            assert rel.sessions
    finally:
        s.thread.stop()
        s.runtime.close()


# The shape the relay matches lent texts by must never join two texts airlock's fingerprint
# tells apart (or one it cannot read with one it can): random texts from a small alphabet,
# so that many share a shape, grouped by the relay's own shape function.
_TOKENS = ["SELECT", "select", " ", "  ", "\n", "x", "x1", "t", "FROM", "WHERE", "=", ",", "(",
           ")", ".", "-", "+", "::", "int", "e", "E", "B", "X", "N", "U&", "1", "12", "007",
           "123456789", "1234567890", "99999999999", "1.5", "1e5", "0x1F", "1_000", "'a'", "''",
           "'it''s'", "'é'", "'1'", "'", ";", "DROP", "TABLE", "LIMIT", "*", "/", "--", "/*",
           "*/", "$1", '"q"', "\\", "'\\''", "\t", "\u00e9", "ORDER BY", "AND", "<>", ".5", "1.",
           "..", "'a'\n'b'", "0b101", "0o17", "@", "#", "~", "!=", "||", "[", "]", ":", "%",
           "^", "&", "|", "interval", "0", "00", "9"]


def shapes(binary: Path, texts: list[str]) -> list[str]:
    done = subprocess.run([str(binary), "--shapes"], input="\0".join(texts).encode(),
                          capture_output=True, timeout=30, check=True)
    return done.stdout.decode().splitlines()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=6).map("".join),
                min_size=100, max_size=400))
def test_a_shape_never_joins_texts_the_fingerprint_tells_apart(binary: Path,
                                                               texts: list[str]) -> None:
    from airlock.classify.sql import fingerprint_sql

    groups: dict[str, set[str | None]] = {}
    for text, shape in zip(texts, shapes(binary, texts), strict=True):
        if shape != "-":
            groups.setdefault(shape, set()).add(fingerprint_sql(text))
    for shape, prints in groups.items():
        assert len(prints) == 1, (bytes.fromhex(shape), prints)


_LENT = ["SELECT 1", "SELECT abalance FROM pgbench_accounts WHERE aid = $1"]
_frames = st.one_of(
    st.sampled_from([query(_LENT[0]), query("DELETE FROM t"), parse("", _LENT[1]),
                     parse("s", _LENT[1]), parse("", "DROP TABLE t"), bind(""), bind("s"),
                     EXECUTE, SYNC, pw.frame(b"H", b""), pw.frame(b"X", b""),
                     pw.frame(b"d", b"1\t2\n"), pw.frame(b"F", b"\0\0\0\1")]),
    st.builds(lambda k, b: k + struct.pack("!I", len(b) + 4) + b,
              st.sampled_from([b"Q", b"P", b"B", b"E", b"D", b"C", b"S"]), st.binary(max_size=40)),
    st.binary(min_size=1, max_size=12),  # garbage, malformed lengths among it
)


def _whole_frames(data: bytes) -> list[tuple[bytes, bytes]]:
    frames, at = [], 0
    while at < len(data):
        kind, size = data[at:at + 1], struct.unpack_from("!I", data, at + 1)[0]
        frames.append((kind, data[at + 5:at + 1 + size]))
        at += 1 + size
    assert at == len(data), "the server got part of a frame"
    return frames


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_frames, min_size=1, max_size=12))
def test_whatever_a_client_sends_only_lent_statements_reach_the_server(
        binary: Path, chunks: list[bytes]) -> None:
    stream = b"".join(chunks)

    async def play(r: relay.Relay) -> None:
        s = lend(r, [(1, _LENT[0], False), (2, _LENT[1], False)])
        s.client.send(stream)
        got = b""
        deadline = time.monotonic() + 0.3
        while s.closed is None and s.back is None and time.monotonic() < deadline:
            got += await received(s.server, 1 << 20, seconds=0.02)
        got += await received(s.server, 1 << 20, seconds=0.05)
        assert stream.startswith(got)  # forwarded unchanged, in order, nothing added
        for kind, body in _whole_frames(got):
            if kind == b"Q":
                assert body[:-1].decode() in _LENT
            if kind == b"P":
                assert body.split(b"\0")[1].decode() in _LENT
            assert kind in b"QPBEDCSH"
        other = lend(r, [(1, _LENT[0], False)])  # the relay still serves everyone else
        other.client.send(query(_LENT[0]))
        assert await received(other.server, len(query(_LENT[0]))) == query(_LENT[0])

    run(binary, play)


def _lent_soon(rel: relay.Relay, conn: psycopg.Connection[tuple[object, ...]], sql: str) -> None:
    """Run `sql` until the proxy has lent the session to the relay."""
    deadline = time.monotonic() + 5
    while not rel.sessions:
        assert time.monotonic() < deadline, "the session was never lent"
        conn.execute(sql)


@pytest.mark.postgres
def test_a_lent_session_hands_back_holds_and_carries_on(pg_cluster: object, tmp_path: Path,
                                                        vault_dir: Path) -> None:
    s: Served = serve(pg_cluster, tmp_path, vault_dir, native_relay())  # type: ignore[arg-type]
    try:
        rel = s.proxy.relay
        assert rel is not None
        s.direct("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
        with psycopg.connect(s.dsn(), autocommit=True) as conn:
            _lent_soon(rel, conn, "SELECT id FROM t")
            with pytest.raises(psycopg.Error) as held:
                conn.execute("DROP TABLE t")  # handed back, judged in Python: held
            assert held.value.sqlstate == "AL001"
            assert conn.execute("SELECT id FROM t").fetchone() == (1,)
            # inside a transaction block: the held statement fails the transaction
            conn.execute("BEGIN")
            _lent_soon(rel, conn, "SELECT id FROM t")
            with pytest.raises(psycopg.Error) as held:
                conn.execute("UPDATE t SET id = 2")
            assert held.value.sqlstate == "AL001"
            with pytest.raises(psycopg.errors.InFailedSqlTransaction):
                conn.execute("SELECT id FROM t")
            conn.execute("ROLLBACK")
            # prepared statements made in the relay keep working once the session is back
            for i in range(8):
                assert conn.execute("SELECT id + %s FROM t", (i,), prepare=True).fetchone() \
                    == (1 + i,)
                if i == 4:
                    with pytest.raises(psycopg.Error):
                        conn.execute("DELETE FROM t")  # handed back mid-way
        assert s.direct("SELECT id FROM t").strip() == "1"
    finally:
        s.thread.stop()
        s.runtime.close()


@pytest.mark.postgres
def test_a_read_only_transaction_block_stays_in_the_relay(pg_cluster: object, tmp_path: Path,
                                                          vault_dir: Path) -> None:
    s: Served = serve(pg_cluster, tmp_path, vault_dir, native_relay())  # type: ignore[arg-type]
    try:
        rel = s.proxy.relay
        assert rel is not None
        scratch = s.dbname + "_scratch"  # staging: its writes are allowed
        s.cluster.psql("CREATE TABLE t (id int PRIMARY KEY, n int); "
                       "INSERT INTO t SELECT g, 0 FROM generate_series(1, 100) g; ANALYZE t",
                       scratch)
        with psycopg.connect(s.dsn(resource="scratch")) as conn:  # psycopg opens a block for each transaction
            for _ in range(3):  # first sight of BEGIN and COMMIT: judged in Python
                assert conn.execute("SELECT n FROM t WHERE id = 1").fetchone() == (0,)
                conn.commit()
            conn.autocommit = True
            _lent_soon(rel, conn, "SELECT n FROM t WHERE id = 1")
            conn.autocommit = False
            lent = set(rel.sessions)
            for _ in range(5):  # BEGIN, SELECT, COMMIT: nothing to hand back
                assert conn.execute("SELECT n FROM t WHERE id = 1").fetchone() == (0,)
                conn.commit()
            assert set(rel.sessions) == lent
            # a write in the block is handed back; its COMMIT is ruled in Python or lent only
            # once the write's record is sealed, and the write is committed either way
            for i in range(1, 4):
                conn.execute("UPDATE t SET n = n + 1 WHERE id = 1")
                assert conn.execute("SELECT n FROM t WHERE id = 1").fetchone() == (i,)
                conn.commit()
        assert s.cluster.psql("SELECT n FROM t WHERE id = 1", scratch).strip() == "3"
        s.thread.stop()  # flushes the journal
        journaled = [e["sql"] for r in s.runtime.store.audit_records()
                     if r.kind == "pgwire_statements" for e in r.data["statements"]]
        assert "UPDATE t SET n = n + 1 WHERE id = 1" in journaled and "COMMIT" in journaled
    finally:
        s.thread.stop()
        s.runtime.close()


def test_past_the_tokens_expiry_nothing_is_forwarded(binary: Path) -> None:
    async def play(r: relay.Relay) -> None:
        client, client_lent = _pair()
        server, server_lent = _pair()
        _OPEN.extend((client_lent, server_lent))
        s = Lent(client, server)
        sid = r.lend(s, client_lent, server_lent, "I", 150, [(1, SELECT, False)], [])
        assert sid is not None
        s.client.send(query(SELECT))
        assert await received(s.server, len(query(SELECT))) == query(SELECT)
        s.server.send(answer())
        await received(s.client, len(answer()))
        await asyncio.sleep(0.2)
        s.client.send(query(SELECT))
        await until(lambda: s.back is not None)  # Python refuses it: the token expired
        await nothing_arrives(s.server)

    run(binary, play)
