"""Running the gate for a statement that needs it, with its snapshot inside the client's session.

The vault takes a row before-image with psycopg, in the transaction the statement will run in
(`runtime.protected_gate(txn)`, upstream/transaction.py). Here that transaction belongs to the
client's upstream session, which speaks raw protocol through the proxy. So, while the session is
paused for its batch, the proxy *lends* it to psycopg: `SpliceServer` listens on a Unix socket in
a private folder (0700), psycopg connects to it with a one-time nonce as its password, the proxy
answers the startup with the upstream's own parameters and transaction status, then relays
psycopg's messages to the upstream and back until psycopg says goodbye. The captures, locks and
soft-drop renames run in the client's session; the statement itself then runs in it too: the
gate's executor (`KeepProtection`) only keeps the `Protection` the proxy holds the batch to.

If the session was idle, the capture opens a REPEATABLE READ transaction first (as
`airlock sql` does) and the proxy finishes it after the statement (session.py). Inside the
client's own transaction nothing is opened and the client commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from airlock.fronts.pgwire import protocol as pw
from airlock.fronts.pgwire import session as ses
from airlock.fronts.pgwire.rulings import refusal_for
from airlock.model import Action, Assessment, Caller, ResolvedTarget, Status, Verdict
from airlock.runtime import Runtime
from airlock.safety import Protection, SafetyNet, SafetyPlan
from airlock.upstream.postgres import PgConn, postgres_of
from airlock.upstream.transaction import ProtectedTransaction, needs_autocommit
from airlock.vault.errors import VaultError

if TYPE_CHECKING:
    from airlock.fronts.pgwire.proxy import Connection, Listener, Proxy

SPLICE_PORT = 5432


class SplicedTransaction(ProtectedTransaction):
    """The vault's view of the client's session: a psycopg connection through the splice."""

    def __init__(self, resource: str, pg: PgConn, dsn: str, *, begin: bool) -> None:
        # No super().__init__: that would open a connection of airlock's own.
        self.resource = resource
        self.pg = pg
        self.opened = False
        self.conn = psycopg.connect(dsn, autocommit=True)
        if begin:
            self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            self.opened = True

    def wrote(self) -> bool:
        """The session's transaction has changed something (PostgreSQL gave it an id)."""
        row = self.conn.execute("SELECT txid_current_if_assigned() IS NOT NULL").fetchone()
        return bool(row and row[0])

    def finish(self, ran: bool) -> None:
        """Hand the session back: roll back what we opened if the statement will not run."""
        try:
            if self.opened and not ran:
                self.conn.execute("ROLLBACK")
                self.opened = False
        finally:
            self.conn.close()


# Backups taken on a connection of their own (pg_dump): they see what is committed, not what the
# client's open transaction has changed.
_DUMPED_OUTSIDE = frozenset({"postgres-table", "postgres-table-data", "postgres-schema",
                             "postgres-database"})


@dataclass
class SeesTheSession:
    """The safety net for a statement inside the client's own transaction. Row before-images
    and soft drops run in the session and see everything it did; a dump does not. So when the
    transaction has already written (it has a transaction id) and the plan needs a dump, the
    backup would miss rows the client changed, and airlock refuses rather than keep a backup
    that restores the wrong thing (the gate records it as a failed backup; nothing runs)."""

    net: SafetyNet
    txn: SplicedTransaction

    def plan(self, action: Action, assessment: Assessment,
             targets: Sequence[ResolvedTarget]) -> SafetyPlan:
        return self.net.plan(action, assessment, targets)

    def protect(self, action: Action, plan: SafetyPlan) -> Protection:
        dumps = [s.target for s in plan.steps if s.method in _DUMPED_OUTSIDE]
        if dumps and not self.txn.opened and self.txn.wrote():
            raise VaultError(
                f"this statement's backup ({', '.join(dumps)}) is a dump taken on airlock's own "
                "connection, and the transaction it is in has already changed data the dump "
                "cannot see; COMMIT or ROLLBACK first, then send the statement in a "
                "transaction of its own")
        return self.net.protect(action, plan)


class KeepProtection:
    """The spliced gate's executor. The statement is the client's own batch, which the proxy
    forwards once the gate lets it through; this keeps what protection captured (the row count
    the batch must report, or that a soft drop already did the work) for the proxy to hold the
    batch to."""

    performs = False

    def __init__(self) -> None:
        self.protection: Protection | None = None

    def execute(self, action: Action, protection: Protection) -> Mapping[str, Any]:
        self.protection = protection
        return {}


def run_gate(runtime: Runtime, listener: Listener, caller: Caller, sql: str, status: str,
             dsn: Callable[[], str], hold_wait: int) -> ses.GateResult:
    """The whole gate for one statement (in a worker thread). Never raises."""
    try:
        return _run_gate(runtime, listener, caller, sql, status, dsn, hold_wait)
    except Exception as exc:
        return ses.GateResult(refusal=ses.refusal(
            ses.PROTECT_SQLSTATE, f"airlock failed while checking this statement "
            f"({type(exc).__name__}: {exc}); it did not run").error)


def _run_gate(runtime: Runtime, listener: Listener, caller: Caller, sql: str, status: str,
              dsn: Callable[[], str], hold_wait: int) -> ses.GateResult:
    rulings = listener.rulings
    action = rulings.action(sql, caller)
    resource = listener.resource
    pg = postgres_of(resource, runtime.config)
    begin = status == pw.TX_IDLE and not needs_autocommit(sql)
    deadline = time.monotonic() + hold_wait
    while True:
        txn = SplicedTransaction(resource.name, pg, dsn(), begin=begin)
        kept = KeepProtection()
        ran = False
        try:
            gate = runtime.protected_gate(txn, executor=kept)
            gate.safety_net = SeesTheSession(gate.safety_net, txn)
            outcome = gate.submit(action, caller)
            ran = outcome.verdict is Verdict.ALLOW
            if ran:
                protection = kept.protection or Protection()
                return ses.GateResult(opened=txn.opened, expected_rows=protection.expected_rows,
                                      skip_tag="DROP TABLE" if protection.done else None)
        finally:
            txn.finish(ran)
        left = deadline - time.monotonic()
        if not (outcome.status is Status.HELD and outcome.approval_id and left > 0):
            break
        # Wait for a human (configured): then the identical action passes once, after its backup.
        if not gate.wait([outcome.approval_id], left, principal=caller.principal.name).approved:
            break
        action = rulings.action(sql, caller)
    return ses.GateResult(refusal=refusal_for(outcome).error)


class SpliceServer:
    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.folder = Path(tempfile.mkdtemp(prefix="airlock-splice-"))  # 0700
        self.expected: dict[str, Connection] = {}
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_unix_server(
            self._serve, str(self.folder / f".s.PGSQL.{SPLICE_PORT}"))

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def dsn_for(self, conn: Connection) -> str:
        """A one-time connection string that splices `conn`'s session (any thread)."""
        nonce = secrets.token_urlsafe(24)
        self.expected[nonce] = conn
        return (f"host={self.folder} port={SPLICE_PORT} user=airlock dbname=splice "
                f"password={nonce} sslmode=disable connect_timeout=10")

    def forget(self, conn: Connection) -> None:
        for nonce in [n for n, c in list(self.expected.items()) if c is conn]:
            self.expected.pop(nonce, None)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn: Connection | None = None
        try:
            buf = bytearray()
            while (packet := pw.read_startup(buf)) is None:
                data = await reader.read(4096)
                if not data:
                    return
                buf += data
            if not isinstance(packet[0], pw.Startup):
                writer.write(b"N")  # libpq over a Unix socket sends no TLS request; refuse all
                return
            frames = pw.FrameReader()
            frames.feed(bytes(buf[packet[1]:]))
            writer.write(pw.authentication(pw.AUTH_CLEARTEXT))
            kind, body = await _frame(reader, frames)
            nonce = pw.parse_password(body).decode("ascii", "replace") if kind == b"p" else ""
            conn = self.expected.pop(nonce, None)
            if conn is None or conn.up is None:
                writer.write(pw.error_response("28P01", "not a splice this proxy expects",
                                               severity="FATAL"))
                return
            up = conn.up
            hello = [pw.authentication(pw.AUTH_OK)]
            hello += [pw.parameter_status(k, v) for k, v in up.params.items()]
            hello += [pw.backend_key_data(0, 0), pw.ready_for_query(conn.splice_status)]
            writer.write(b"".join(hello))
            conn.splice = writer  # from here the upstream's answers go to psycopg
            while True:
                kind, body = await _frame(reader, frames)
                if kind == b"X":
                    break
                up.writer.write(pw.frame(kind, body))
                await up.writer.drain()
        except (ConnectionError, OSError, asyncio.IncompleteReadError, pw.ProtocolViolation):
            pass
        finally:
            if conn is not None and conn.splice is writer:
                conn.splice = None
                conn.splice_done.set()
            with contextlib.suppress(Exception):
                writer.close()


async def _frame(reader: asyncio.StreamReader, frames: pw.FrameReader) -> tuple[bytes, bytes]:
    while True:
        got = frames.next()
        if got is not None:
            return got
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("psycopg went away")
        frames.feed(data)
