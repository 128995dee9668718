"""The wire proxy's I/O: listeners, the client's startup and authentication, the relay between a
client and its upstream connection, cancel requests, idle timeouts and a graceful stop.

    client ──TCP/Unix (TLS)──► Connection ──► Session (session.py) ──► upstream (real credential)
                                  │ NeedRuling → Rulings (cache, or the gate in a thread)
                                  │ RunGate    → the gate in a thread, its safety net spliced
                                  │              into this very upstream session (splice.py)

Everything the proxy does not understand ends that one connection with an error; other
connections carry on. The proxy runs its own event loop in a thread of `airlock up`
(`ProxyThread`), so neither the HTTP API nor the proxy can stall the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import ipaddress
import logging
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from airlock.config import Config, Resource
from airlock.errors import AirlockError, AuthError
from airlock.fronts.context import action_context
from airlock.fronts.pgwire import auth, relay, splice, upstream
from airlock.fronts.pgwire import protocol as pw
from airlock.fronts.pgwire import session as ses
from airlock.fronts.pgwire.rulings import Journal, Rulings
from airlock.fronts.pgwire.settings import SECTION, PgwireSettings
from airlock.fronts.pgwire.watch import REFRESH_SECONDS, TokenWatch
from airlock.model import Caller
from airlock.runtime import Runtime
from airlock.tokens import authenticate, caller_of_token

log = logging.getLogger("airlock.pgwire")

# Startup parameters passed on to the server. Anything else is refused: `options`, a
# search_path or a role set at startup would change what statements mean without a statement
# airlock could judge, and `replication` would open a connection that runs no SQL at all.
PASSED_PARAMS = frozenset({"application_name", "client_encoding", "DateStyle", "datestyle",
                           "TimeZone", "timezone", "extra_float_digits", "IntervalStyle",
                           "intervalstyle"})
# Encodings in which the bytes of a statement read the same as UTF-8 where it matters (quotes,
# backslashes): others (SJIS, BIG5, GBK, …) can hide a quote inside a multibyte character.
SAFE_ENCODINGS = frozenset({"UTF8", "UNICODE", "SQLASCII"})


def _encoding(name: str) -> str:
    """PostgreSQL's spelling-insensitive encoding name ('utf-8' → UTF8; asyncpg quotes it)."""
    return "".join(c for c in name.upper() if c.isalnum())
READ_SIZE = 256 * 1024
HIGH_WATER = 1024 * 1024  # stop reading a client whose queued messages exceed this
GOODBYE_SECONDS = 0.5  # how long an ended client's last bytes are read and dropped
# How long a session airlock ends (a revoked token) may finish the answer in flight first, so
# that the FATAL saying why lands between two answers (see Connection.end_between_answers).
FAREWELL_SECONDS = 0.2
REVOKED_SQLSTATE = "28000"  # invalid_authorization_specification


class ClientError(AirlockError):
    """Ends one client's connection with a FATAL error carrying this message."""

    def __init__(self, message: str, code: str = "28000") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Listener:
    resource: Resource
    rulings: Rulings
    target: upstream.Target


class Proxy:
    """Listeners for `names` (default: every resource in `[fronts.pgwire] listen`)."""

    def __init__(self, runtime: Runtime, names: Sequence[str] | None = None) -> None:
        self.runtime = runtime
        self.config: Config = runtime.config
        self.settings = SECTION.of(runtime.config)
        self.names = list(self.settings.listeners) if names is None else list(names)
        self.tls = _server_tls(self.settings)
        self.servers: list[asyncio.Server] = []
        self.connections: set[Connection] = set()
        self.by_key: dict[tuple[int, int], Connection] = {}
        self.splice = splice.SpliceServer(self)
        self.journals: list[Journal] = []
        self.tokens = TokenWatch(runtime.store)
        self._janitors: list[asyncio.Task[None]] = []
        self.stopping = False
        self.addresses: dict[str, tuple[str, int]] = {}
        self.socket_paths: dict[str, Path] = {}
        self.relay: relay.Relay | None = None  # the compiled relay, when configured and built

    async def start(self) -> None:
        await self.splice.start()
        if self.settings.relay == "auto":
            binary = await asyncio.to_thread(relay.build)
            if binary is None:
                log.warning("the compiled relay (pgrelay.c) could not be built here; the wire "
                            "proxy relays in Python")
            else:
                self.relay = relay.Relay(binary)
                self.relay.start()
        for name in self.names:
            resource = self.config.resources[name]
            assert resource.url is not None
            listen = self.settings.listeners[resource.name]
            journal = Journal(self.runtime.audit, resource.name)
            self.journals.append(journal)
            context = action_context(self.config, resource=resource.name)
            rulings = Rulings(self.runtime.gate(), journal, context,
                              revoked=lambda: self.tokens.revoked)
            await asyncio.to_thread(rulings.warm)
            listener = Listener(resource, rulings,
                                upstream.Target.from_url(resource.url.reveal()))
            server = await asyncio.start_server(
                functools.partial(self._serve, listener, local=None), listen.host, listen.port,
                limit=READ_SIZE)
            self.servers.append(server)
            bound = server.sockets[0].getsockname()
            self.addresses[resource.name] = (bound[0], int(bound[1]))
            if listen.socket_dir is not None:
                folder = listen.socket_dir
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f".s.PGSQL.{self.addresses[resource.name][1]}"
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                unix = await asyncio.start_unix_server(
                    functools.partial(self._serve, listener, local=True), str(path),
                    limit=READ_SIZE)
                self.servers.append(unix)
                self.socket_paths[resource.name] = path
        self._janitors = [asyncio.create_task(self._close_idle()),
                          asyncio.create_task(self._watch_tokens())]

    async def stop(self) -> None:
        """Stop listening; idle clients are told and closed, open transactions may finish
        within the shutdown grace, then everything closes."""
        self.stopping = True
        for server in self.servers:
            server.close()
        for path in self.socket_paths.values():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # asyncio (before 3.13) leaves the socket file behind
        deadline = time.monotonic() + self.settings.shutdown_grace.total_seconds()
        while self.connections and time.monotonic() < deadline:
            for conn in list(self.connections):
                if conn.idle:
                    conn.end(pw.error_response("57P01", "airlock is shutting down",
                                                   severity="FATAL"))
            await asyncio.sleep(0.05)
        for conn in list(self.connections):
            conn.end(pw.error_response("57P01", "airlock is shutting down", severity="FATAL"))
        for janitor in self._janitors:
            janitor.cancel()
        if self.relay is not None:
            await self.relay.stop()
        await self.splice.stop()
        for journal in self.journals:
            journal.close()

    async def _close_idle(self) -> None:
        limit = self.settings.idle_timeout.total_seconds()
        while True:
            await asyncio.sleep(min(5.0, limit / 4))
            now = time.monotonic()
            for conn in list(self.connections):
                if now - conn.last_seen > limit:
                    conn.end(pw.error_response("57P05", "airlock closed this connection after "
                                               f"{limit:.0f}s without activity",
                                               severity="FATAL"))

    async def _watch_tokens(self) -> None:
        """Read the tokens again and again; end the sessions of tokens revoked since."""
        while True:
            try:
                await asyncio.to_thread(self.tokens.refresh)
            except Exception:  # the next round tries again; new connections read on demand
                log.exception("the proxy could not read the tokens")
            revoked = self.tokens.revoked
            for conn in list(self.connections):
                token = conn.caller.token_id if conn.caller is not None else None
                if token is not None and token in revoked:
                    conn.end_between_answers(pw.error_response(
                        REVOKED_SQLSTATE, f"token {token} was revoked; airlock ended this "
                        "session", severity="FATAL"))
            await asyncio.sleep(REFRESH_SECONDS)

    async def _serve(self, listener: Listener, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter, *, local: bool | None) -> None:
        conn = Connection(self, listener, reader, writer, local)
        self.connections.add(conn)
        try:
            await conn.run()
        except Exception:
            log.exception("pgwire connection failed")
        finally:
            self.connections.discard(conn)
            self.by_key.pop(conn.key, None)
            conn.close_all()


class Connection:
    def __init__(self, proxy: Proxy, listener: Listener, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, local: bool | None) -> None:
        self.proxy = proxy
        self.listener = listener
        self.reader, self.writer = reader, writer
        self.local = local if local is not None else _loopback(writer)
        self.tls = False
        self.up: upstream.Upstream | None = None
        self.session: ses.Session | None = None
        self.caller: Caller | None = None
        self.key = (0, 0)
        self.last_seen = time.monotonic()
        self.frames = pw.FrameReader()
        self.ended = asyncio.Event()
        self._client_side: _Side | None = None  # the protocols, once the relay starts
        self._server_side: _Side | None = None
        self.closed = False
        self.splice: asyncio.StreamWriter | None = None
        self.splice_status = pw.TX_IDLE
        self.splice_done = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        self.lent: int | None = None  # the relay's id for this session while it has it
        self._farewell: bytes | None = None  # why it ended, once it has
        self._ending: asyncio.Task[None] | None = None  # end_between_answers, under way

    @property
    def idle(self) -> bool:
        if self.lent is not None:
            return True  # the relay does not tell its transaction state: treated as idle
        s = self.session
        return s is None or (s.status == pw.TX_IDLE and not s.pending and s.unit is None
                             and not s.queue)

    # ---- startup ---------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            params = await self._startup()
            if params is None:
                return
            self.caller = await self._authenticate()
            await self._connect_upstream(params)
        except ClientError as exc:
            self.end(pw.error_response(exc.code, exc.message, severity="FATAL"))
            return
        except (pw.ProtocolViolation, AuthError) as exc:
            self.end(pw.error_response("08P01" if isinstance(exc, pw.ProtocolViolation)
                                       else "28P01", str(exc), severity="FATAL"))
            return
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            self.end(None)
            return
        await self._relay()

    async def _read_more(self, buf: bytearray) -> None:
        data = await self.reader.read(READ_SIZE)
        if not data:
            raise ConnectionError("the client went away")
        buf += data

    async def _startup(self) -> dict[str, str] | None:
        buf = bytearray()
        while True:
            packet = pw.read_startup(buf)
            if packet is None:
                if len(buf) > pw.MAX_STARTUP:
                    raise pw.ProtocolViolation("startup packet too long")
                await self._read_more(buf)
                continue
            message, used = packet
            del buf[:used]
            if isinstance(message, pw.SslRequest):
                if buf:
                    raise pw.ProtocolViolation("data after SSLRequest before the TLS handshake")
                if self.proxy.tls is None or self.tls:
                    self.writer.write(b"N")
                    continue
                self.writer.write(b"S")
                await self.writer.drain()
                await self.writer.start_tls(self.proxy.tls)
                self.tls = True
                continue
            if isinstance(message, pw.GssEncRequest):
                self.writer.write(b"N")  # declined: airlock does not speak GSSAPI
                continue
            if isinstance(message, pw.CancelRequest):
                await self.proxy_cancel(message)
                self.end(None)
                return None
            if buf:
                self.frames.feed(bytes(buf))
            return self._check_params(message.params)

    def _check_params(self, params: Mapping[str, str]) -> dict[str, str]:
        refused = sorted(k for k in params if k not in PASSED_PARAMS | {"user", "database"})
        if refused:
            raise ClientError(f"airlock does not pass the startup parameter(s) "
                              f"{', '.join(refused)}: they would change how statements run "
                              "without a statement it could judge; SET them in SQL instead",
                              code="08004")
        encoding = params.get("client_encoding", "UTF8")
        if _encoding(encoding) not in SAFE_ENCODINGS:
            raise ClientError(f"client_encoding {encoding} is not supported by airlock; use UTF8",
                              code="08004")
        database = params.get("database", params.get("user", ""))
        resource = self.listener.resource
        if database not in (resource.name, self.listener.target.dbname):
            raise ClientError(f"this airlock listener serves database "
                              f"{self.listener.target.dbname!r} (resource {resource.name}); "
                              f"connect to that database, not {database!r}", code="3D000")
        return {k: v for k, v in params.items() if k in PASSED_PARAMS}

    async def proxy_cancel(self, message: pw.CancelRequest) -> None:
        conn = self.proxy.by_key.get((message.pid, message.secret))
        if conn is None or conn.up is None:
            return  # unknown keys are ignored, as PostgreSQL does
        with contextlib.suppress(OSError, ConnectionError, asyncio.TimeoutError):
            await upstream.cancel(conn.listener.target, conn.up.pid, conn.up.secret)

    async def _frame(self) -> tuple[bytes, bytes]:
        while True:
            got = self.frames.next()
            if got is not None:
                return got
            data = await self.reader.read(READ_SIZE)
            if not data:
                raise ConnectionError("the client went away")
            self.frames.feed(data)

    async def _authenticate(self) -> Caller:
        proxy = self.proxy
        config = proxy.config
        store = proxy.runtime.store
        if proxy.settings.password_auth and (self.local or self.tls):
            self.writer.write(pw.authentication(pw.AUTH_CLEARTEXT))
            kind, body = await self._frame()
            if kind != b"p":
                raise pw.ProtocolViolation("expected a password message")
            token = pw.parse_password(body).decode("utf-8", "replace")
            caller = await asyncio.to_thread(authenticate, store, config, token)
        else:
            self.writer.write(pw.auth_sasl([auth.MECHANISM]))
            kind, body = await self._frame()
            if kind != b"p":
                raise pw.ProtocolViolation("expected a SASL initial response")
            mechanism, first = pw.parse_sasl_initial(body)
            if mechanism != auth.MECHANISM:
                raise AuthError(f"airlock speaks {auth.MECHANISM}, not {mechanism}")
            if proxy.tokens.age() > REFRESH_SECONDS * 4:  # the watch is behind: read now
                await asyncio.to_thread(proxy.tokens.refresh)
            server = auth.ScramServer(proxy.tokens.verifiers)
            self.writer.write(pw.authentication(pw.AUTH_SASL_CONTINUE, server.first(first)))
            kind, body = await self._frame()
            if kind != b"p":
                raise pw.ProtocolViolation("expected a SASL response")
            try:
                token_id, final = server.final(body)
            except AuthError:
                # perhaps a token made since the last read: read again, check the proof again
                await asyncio.to_thread(proxy.tokens.refresh)
                server.candidates = [(key, v) for key, v in proxy.tokens.verifiers
                                     if v.salt == server.salt
                                     and v.iterations == server.iterations]
                token_id, final = server.final(body)
            record = await asyncio.to_thread(store.get_token, token_id)
            if record is None:
                raise AuthError("the token was removed")
            caller = caller_of_token(record, config)
            self.writer.write(pw.authentication(pw.AUTH_SASL_FINAL, final))
        self._check_scope(caller)
        return caller

    def _check_scope(self, caller: Caller) -> None:
        """A token that cannot reach this database's environment and resource cannot connect."""
        from fnmatch import fnmatchcase

        resource = self.listener.resource
        who = f"token {caller.token_id}" if caller.token_id else f"principal {caller.principal.name}"
        for scope in caller.scopes:
            if not any(fnmatchcase(resource.environment, g) for g in scope.environments):
                raise ClientError(f"{who} may reach {', '.join(scope.environments)}, and this "
                                  f"database ({resource.name}) is {resource.environment}",
                                  code="28000")
            if not any(fnmatchcase(resource.name, g) for g in scope.resources):
                raise ClientError(f"{who} may reach resources {', '.join(scope.resources)}, not "
                                  f"{resource.name}", code="28000")

    async def _connect_upstream(self, params: dict[str, str]) -> None:
        try:
            self.up = await upstream.connect(self.listener.target, params)
        except (AirlockError, ConnectionError, OSError, ssl.SSLError) as exc:
            raise ClientError(f"airlock could not connect to {self.listener.resource.name}: "
                              f"{exc}", code="08006") from None
        problem = unsafe_parameters(self.up.params)
        if problem:
            raise ClientError(problem, code="08004")
        self.key = (secrets.randbits(31), secrets.randbits(32))
        self.proxy.by_key[self.key] = self
        caller = self.caller
        assert caller is not None
        rulings = self.listener.rulings
        self.session = ses.Session(lambda sql, runs, block: rulings.cached(caller, sql, runs,
                                                                        block),
                                   self.up.status)
        # From here both sockets are driven by protocols (no stream reads: one callback per
        # arrival). The client sends nothing before this ReadyForQuery, so no byte of it can
        # be left behind in its stream reader; the server's leftovers are carried over.
        self._client_side = _Side(self, self._from_client)
        self._server_side = _Side(self, self._from_server)
        self.writer.transport.set_protocol(self._client_side)
        leftover = self.up.frames.take_rest() + _unread(self.up.reader)
        self.up.writer.transport.set_protocol(self._server_side)
        out = [pw.authentication(pw.AUTH_OK)]
        out += [pw.parameter_status(k, v) for k, v in self.up.params.items()]
        out += [pw.backend_key_data(*self.key), pw.ready_for_query(self.up.status)]
        self.writer.write(b"".join(out))
        if leftover:
            self._from_server(leftover)
        else:
            self._maybe_lend()

    # ---- relay ------------------------------------------------------------------------------

    async def _relay(self) -> None:
        """Serve until the connection ends: the protocols call `_from_client` and
        `_from_server` as bytes arrive."""
        if self.frames.buffered:
            self._from_client(b"")
        await self.ended.wait()

    def _from_client(self, data: bytes) -> None:
        session = self.session
        assert session is not None
        self.last_seen = time.monotonic()
        frames = self.frames
        try:
            if data:
                frames.feed(data)
            while (frame := frames.next()) is not None and not self.closed:
                self._do(session.client(*frame))
        except pw.ProtocolViolation as exc:
            self.end(pw.error_response("08P01", f"airlock: {exc.message}", severity="FATAL"))
            return
        if session.queued_bytes > HIGH_WATER and not self.closed \
                and self._client_side is not None:
            self._client_side.hold(self.writer.transport, "queued")  # resumed by `_do`
        self._maybe_lend()

    def _from_server(self, data: bytes) -> None:
        session = self.session
        up = self.up
        assert session is not None and up is not None
        try:
            if self.splice is None:
                self._do(session.server_data(data))
                self._maybe_lend()
                return
            frames = up.frames  # framing while psycopg has the session (splice.py)
            frames.feed(data)
            for kind, body in frames.frames():
                if kind == b"S" and not self._setting(*pw.parse_parameter_status(body)):
                    return
                if kind == b"Z":
                    self.splice_status = pw.parse_ready(body)
                self.splice.write(pw.frame(kind, body))
        except pw.ProtocolViolation as exc:
            log.warning("the server broke the protocol: %s", exc)
            self.end(pw.error_response("08P01", "airlock: the server sent something it could "
                                       "not read", severity="FATAL"))

    async def _drain(self) -> None:
        """Wait while either side's transport holds more than its high-water mark."""
        for side in (self._client_side, self._server_side):
            if side is not None and not self.closed:
                await side.writable()

    def _do(self, commands: list[ses.Command]) -> None:
        """Carry out the session's commands in order; bytes for each side go out in one write
        (a write is a system call)."""
        if len(commands) == 1 and not self.closed:  # the usual case: one relay, nothing else
            cmd = commands[0]
            kind = type(cmd)
            if kind is ses.ToServer and self.up is not None:
                assert isinstance(cmd, ses.ToServer)
                self.up.writer.transport.write(cmd.data)
                self._release_if_drained()
                return
            if kind is ses.ToClient:
                assert isinstance(cmd, ses.ToClient)
                self.writer.transport.write(cmd.data)
                self._release_if_drained()
                return
        to_client: list[bytes] = []
        to_server: list[bytes] = []
        for cmd in commands:
            if isinstance(cmd, ses.ToClient):
                to_client.append(cmd.data)
            elif isinstance(cmd, ses.ToServer):
                to_server.append(cmd.data)
            elif isinstance(cmd, ses.Setting):
                if not self._setting(cmd.name, cmd.value):
                    return  # nothing after it may reach the client
            elif isinstance(cmd, ses.NeedRuling):
                self._spawn(self._rule(cmd))
            elif isinstance(cmd, ses.RunGate):
                self._spawn(self._gate(cmd))
            elif isinstance(cmd, ses.Close):
                self._write(to_client, to_server)
                self.end(None)
                return
        self._write(to_client, to_server)
        self._release_if_drained()

    def _release_if_drained(self) -> None:
        side, session = self._client_side, self.session
        if side is not None and side.holding and session is not None \
                and session.queued_bytes <= HIGH_WATER:
            side.release(self.writer.transport, "queued")

    def _write(self, to_client: list[bytes], to_server: list[bytes]) -> None:
        if self.closed:
            return
        if to_client:
            self.writer.transport.write(b"".join(to_client))
        if to_server and self.up is not None:
            self.up.writer.transport.write(b"".join(to_server))

    def _setting(self, name: str, value: str) -> bool:
        """Note a parameter the server reports; False (and the connection ended) when airlock
        could no longer read the statements correctly."""
        assert self.up is not None
        self.up.params[name] = value
        problem = unsafe_parameters({name: value})
        if problem:
            self.end(pw.error_response("08004", problem, severity="FATAL"))
            return False
        return True

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[call-overload]
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _rule(self, cmd: ses.NeedRuling) -> None:
        caller = self.caller
        session = self.session
        assert caller is not None and session is not None
        rule = await asyncio.to_thread(self.listener.rulings.decide, caller, cmd.sql, cmd.runs)
        if self.closed:
            return
        try:
            self._do(session.ruled(rule))
            self._maybe_lend()
            await self._drain()
        except pw.ProtocolViolation as exc:
            self.end(pw.error_response("08P01", f"airlock: {exc.message}", severity="FATAL"))

    async def _gate(self, cmd: ses.RunGate) -> None:
        caller = self.caller
        session = self.session
        assert caller is not None and session is not None
        self.splice_status = cmd.status
        self.splice_done.clear()
        try:
            result = await asyncio.to_thread(
                splice.run_gate, self.proxy.runtime, self.listener, caller, cmd.sql, cmd.status,
                functools.partial(self.proxy.splice.dsn_for, self),
                self.proxy.settings.hold_wait_seconds)
        finally:
            self.proxy.splice.forget(self)
        if self.splice is not None:  # psycopg said goodbye; wait until its relay let go
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.splice_done.wait(), 5)
        if self.closed:
            return
        session.status = self.splice_status
        try:
            self._do(session.gated(result))
            self._maybe_lend()
            await self._drain()
        except pw.ProtocolViolation as exc:
            self.end(pw.error_response("08P01", f"airlock: {exc.message}", severity="FATAL"))

    # ---- the compiled relay (relay.py) --------------------------------------------------------

    def _maybe_lend(self) -> None:
        """Lend the session to the compiled relay when it is quiet: nothing in flight either
        way, nothing buffered, nothing Python is still doing for it, and plain sockets both."""
        rel = self.proxy.relay
        if rel is None or self.lent is not None or self.closed or not rel.ready \
                or self.tls or self.proxy.stopping:
            return
        s, up, caller = self.session, self.up, self.caller
        cside, sside = self._client_side, self._server_side
        if s is None or up is None or caller is None or cside is None or sside is None:
            return
        if s.pending or s.queue or s.unit is not None or s.waiting is not None or s.gating \
                or s.copying or s.skipping or s.batch_open or s._server_rest or s.closed \
                or self.frames.buffered or up.frames.buffered or self.splice is not None \
                or self.tasks or cside.holding or sside.holding:
            return
        ctrans, strans = self.writer.transport, up.writer.transport
        if ctrans.get_write_buffer_size() or strans.get_write_buffer_size() \
                or ctrans.get_extra_info("ssl_object") is not None \
                or strans.get_extra_info("ssl_object") is not None:
            return
        csock, ssock = ctrans.get_extra_info("socket"), strans.get_extra_info("socket")
        if csock is None or ssock is None:
            return
        rulings = self.listener.rulings
        texts = rulings.relayable(caller)
        if not texts:
            return  # nothing it could forward: every batch would come straight back
        statements = [(name, rulings.relay_id(caller, sql) if rule is ses.ALLOW else 0)
                      for name, (sql, rule) in s.statements.items()]
        cside.hold(ctrans, "relay")
        sside.hold(strans, "relay")
        sid = rel.lend(self, csock.fileno(), ssock.fileno(), s.status, _ttl_ms(caller, rulings.clock()),
                       texts, statements)
        if sid is None:
            cside.release(ctrans, "relay")
            sside.release(strans, "relay")
            return
        self.lent = sid

    def relay_hits(self, hits: list[tuple[int, int]]) -> None:
        self.last_seen = time.monotonic()
        if hits and self.caller is not None:
            self.listener.rulings.relayed(self.caller, hits)
        if self.listener.rulings.journal.broken is not None and self.lent is not None \
                and self.proxy.relay is not None:
            self.proxy.relay.invalidate(self.lent)  # its statements come back and are refused

    def relay_back(self, status: str, data: bytes, statements: dict[str, int]) -> None:
        """The relay met something it was not told about: carry on in Python from here."""
        self.lent = None
        session, up = self.session, self.up
        if self.closed:
            # Ended while the session was on its way back (the relay had let go of it before it
            # read why): the goodbye is ours to say.
            self._release_from_relay()
            if self._farewell is None or not self._say_goodbye(self._farewell):
                self.close_all()
            return
        if session is None or up is None:
            return
        session.status = status
        old, rulings = session.statements, self.listener.rulings
        known: dict[str, tuple[str, ses.Rule]] = {}
        for name, text_id in statements.items():
            sql = rulings.relay_text(text_id) if text_id else None
            if sql is not None:
                known[name] = (sql, ses.ALLOW)
            elif not text_id and name in old:
                known[name] = old[name]
        session.statements = known
        session.portals.pop("", None)  # the relay's Binds replaced the unnamed portal
        self.last_seen = time.monotonic()
        self._release_from_relay()
        self._from_client(data)

    def _release_from_relay(self) -> None:
        if self._client_side is not None:
            self._client_side.release(self.writer.transport, "relay")
        if self._server_side is not None and self.up is not None:
            self._server_side.release(self.up.writer.transport, "relay")

    def relay_closed(self, reason: str) -> None:
        log.debug("the relay ended a session: %s", reason)
        self.lent = None
        if self.closed:  # ended by us: the relay has said goodbye, our copies go now
            self.close_all()
        else:
            self.end(None)

    def _other(self, side: _Side) -> _Side | None:
        return self._server_side if side is self._client_side else self._client_side

    def transport_of(self, side: _Side) -> asyncio.BaseTransport:
        if side is self._client_side or self.up is None:
            return self.writer.transport
        return self.up.writer.transport

    # ---- ending ------------------------------------------------------------------------------

    def end_between_answers(self, error: bytes) -> None:
        """`end(error)` once no answer of the server is in flight, or after FAREWELL_SECONDS.
        A FATAL in the middle of an answer (after its rows, before its ReadyForQuery) is not
        read as the reason by libpq: it reports only that the server closed the connection.
        (A session the relay has: the relay finds the quiet point itself, pgrelay.c.)"""
        if self.closed or self._ending is not None:
            return
        self._ending = asyncio.get_running_loop().create_task(self._end_when_quiet(error))

    async def _end_when_quiet(self, error: bytes) -> None:
        deadline = time.monotonic() + FAREWELL_SECONDS
        while not self.closed and self._answering() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        self.end(error)

    def _answering(self) -> bool:
        s = self.session
        return self.lent is None and s is not None and bool(
            s.pending or s.queue or s.unit is not None or s.waiting is not None or s.gating)

    def end(self, error: bytes | None) -> None:
        if self.closed:
            return
        self.closed = True
        lent, self.lent = self.lent, None
        self._farewell = error
        if lent is not None and self.proxy.relay is not None and self.proxy.relay.end(lent, error):
            # The relay owns the stream: it says goodbye, and answers `relay_closed`; or it had
            # already handed the session back (its message on the way), and `relay_back` says
            # it. Either way our copies of the sockets close then, not before: closing them now
            # would leave a session on its way back with nobody to say why it ended.
            return
        if error is not None and self._say_goodbye(error):
            return
        self.close_all()

    def _say_goodbye(self, error: bytes) -> bool:
        """Send the FATAL, then FIN, and read (and drop) what the client still sends for a
        moment before closing: a socket closed with the client's next query unread answers it
        with RST, and the client's kernel then drops the FATAL it had not read yet."""
        try:
            transport = self.writer.transport
            transport.write(error)
            if not transport.can_write_eof():
                return False
            transport.set_protocol(_Discard())
            transport.write_eof()
        except Exception:
            return False
        if self.up is not None:
            with contextlib.suppress(Exception):
                self.up.writer.close()
        self.ended.set()
        asyncio.get_running_loop().call_later(GOODBYE_SECONDS, transport.close)
        return True

    def close_all(self) -> None:
        self.closed = True
        self.ended.set()
        for w in (self.writer, self.up.writer if self.up else None):
            if w is not None:
                with contextlib.suppress(Exception):
                    w.close()


class _Discard(asyncio.Protocol):
    """A client being said goodbye to: what it still sends is read and dropped."""

    def data_received(self, data: bytes) -> None:
        pass


class _Side(asyncio.Protocol):
    """One socket of a relayed connection. Bytes go to `received` as they arrive; flow control
    crosses over: when this side's outgoing buffer is full, the *other* side stops reading (a
    slow client holds the server's rows back, not airlock's memory), and a session with too
    much queued stops reading its client."""

    def __init__(self, conn: Connection, received: Callable[[bytes], None]) -> None:
        self.conn = conn
        self.received = received
        self._paused = False
        self._waiters: list[asyncio.Future[None]] = []
        self._holds: set[str] = set()

    def data_received(self, data: bytes) -> None:
        self.received(data)

    def eof_received(self) -> bool:
        self.conn.end(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.end(None)
        self._wake()

    def pause_writing(self) -> None:
        self._paused = True
        other = self.conn._other(self)
        if other is not None:
            other.hold(other.transport_of(), "backlog")

    def resume_writing(self) -> None:
        self._paused = False
        other = self.conn._other(self)
        if other is not None:
            other.release(other.transport_of(), "backlog")
        self._wake()

    def transport_of(self) -> asyncio.BaseTransport:
        return self.conn.transport_of(self)

    @property
    def holding(self) -> bool:
        return bool(self._holds)

    def hold(self, transport: asyncio.BaseTransport, why: str) -> None:
        if not self._holds and _readable(transport) and not transport.is_closing():
            transport.pause_reading()  # type: ignore[attr-defined]
        self._holds.add(why)

    def release(self, transport: asyncio.BaseTransport, why: str) -> None:
        if why not in self._holds:
            return
        self._holds.discard(why)
        if not self._holds and _readable(transport) and not transport.is_closing():
            transport.resume_reading()  # type: ignore[attr-defined]

    async def writable(self) -> None:
        if self._paused:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


def _readable(transport: asyncio.BaseTransport) -> bool:
    """Whether reading can be paused. uvloop's transports have the methods without being
    subclasses of asyncio.ReadTransport, so an isinstance check would skip them (and with it,
    backpressure on uvloop)."""
    return callable(getattr(transport, "pause_reading", None))


def _unread(reader: asyncio.StreamReader) -> bytes:
    """Bytes a stream reader took in that nobody read (its buffer has no public accessor)."""
    buffer = getattr(reader, "_buffer", b"")
    data = bytes(buffer)
    if isinstance(buffer, bytearray):
        buffer.clear()
    return data


def _ttl_ms(caller: Caller, now: datetime) -> int | None:
    """Milliseconds until the caller's token expires (the relay stops forwarding then)."""
    ends = [s.expires_at for s in caller.scopes if s.expires_at is not None]
    if not ends:
        return None
    return max(0, int((min(ends) - now).total_seconds() * 1000))


def unsafe_parameters(params: Mapping[str, str]) -> str:
    """Why the server's settings make statements unreadable to airlock, or ''."""
    encoding = params.get("client_encoding")
    if encoding is not None and _encoding(encoding) not in SAFE_ENCODINGS:
        return (f"client_encoding became {encoding}; airlock reads statements as UTF-8 only, "
                "so it closed the connection")
    if params.get("standard_conforming_strings", "on") != "on":
        return ("standard_conforming_strings is off on this server or role; airlock would read "
                "string literals differently from the server, so it refuses the connection")
    return ""


def _loopback(writer: asyncio.StreamWriter) -> bool:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        try:
            return ipaddress.ip_address(peer[0]).is_loopback
        except ValueError:
            return False
    return writer.get_extra_info("socket") is not None and \
        writer.get_extra_info("socket").family == socket.AF_UNIX


def _server_tls(settings: PgwireSettings) -> ssl.SSLContext | None:
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(settings.tls_cert), str(settings.tls_key))
    return ctx


class ProxyThread:
    """Runs the proxy's event loop in a thread of `airlock up`; `stop` is graceful."""

    def __init__(self, runtime: Runtime, names: Sequence[str] | None = None) -> None:
        self.runtime = runtime
        self.names = names
        self.proxy: Proxy | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._main, name="pgwire", daemon=True)

    def start(self) -> Proxy:
        self.thread.start()
        if not self.ready.wait(30):
            self.stop()
            raise AirlockError("the PostgreSQL wire proxy did not start within 30 s")
        if self.error is not None:
            raise self.error
        assert self.proxy is not None
        return self.proxy

    def _main(self) -> None:
        loop: asyncio.AbstractEventLoop | None = None
        if SECTION.of(self.runtime.config).uvloop:
            try:
                loop = importlib.import_module("uvloop").new_event_loop()
            except ImportError:  # a platform without it: asyncio's loop serves as well, slower
                log.warning("uvloop is not installed; the wire proxy runs on asyncio's loop")
        if loop is None:
            loop = asyncio.new_event_loop()
        self.loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        proxy = Proxy(self.runtime, self.names)
        try:
            await proxy.start()
        except BaseException as exc:
            self.error = exc
            await proxy.stop()  # what did start (a first listener, the splice) is removed
            self.ready.set()
            return
        self.proxy = proxy
        self.ready.set()
        await self._stop.wait()
        await self.proxy.stop()

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._stop.set)
        grace = SECTION.of(self.runtime.config).shutdown_grace.total_seconds()
        self.thread.join(timeout=grace + 10)
