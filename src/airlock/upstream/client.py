"""The API proxy's upstream client: HTTP/1.1 over pooled keep-alive connections, on the
event loop itself (an asyncio Protocol; upstream/h1.py frames the bytes).

Why not httpx: per proxied call its pool polled the socket, entered anyio cancel scopes and
extracted cookies, about a third of the proxy's event-loop time (bench/bench_apiproxy.py).
Here a call is one write (head and a small body together) and the reads the loop delivers; a
connection the upstream closed is known from the loop's own callback, not by polling.

What it does, and does not:
- Redirects are answers like any other (a redirect could carry the credential elsewhere).
- Answers stream: `Response.chunks()` yields bytes as they arrive; reading pauses while more
  than `_HIGH_WATER` bytes wait to be taken.
- A connection is reused only after a complete answer that allows it; idle ones are dropped
  after `IDLE_SECONDS` (below the usual server keep-alive of 5 s, so a reused connection is
  rarely one the server is closing). A request that met a closed reused connection before any
  byte of the answer is sent again on a new one only when its method is safe (GET, HEAD,
  OPTIONS): a POST the upstream may have acted on is never sent twice.
- TLS with the system's trust store (or the context given), SNI and host name checked.
- Timeouts: `connect` to open a connection, `read` between two arrivals of bytes.
- At most `max_per_host` connections are open to one (scheme, host, port), idle ones included:
  a burst of agent calls must not open sockets (and airlock's file descriptors) without end.
  A call beyond the cap waits, in order, for a connection handed back or closed (within the
  connect timeout, then UpstreamConnectError); a connection that closes — or fails to open —
  frees its slot, once, whoever closed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import cast

from airlock.upstream.h1 import ResponseReader, Target, UpstreamProtocolError, request_head, target_of

__all__ = ["Response", "UpstreamClient", "UpstreamConnectError", "UpstreamProtocolError",
           "UpstreamTimeout"]

IDLE_SECONDS = 4.0
_HIGH_WATER = 1024 * 1024  # body bytes waiting to be taken before reading pauses
_INLINE_BODY = 64 * 1024  # a body up to this size goes out in the same write as the head
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
# A safe request is sent on at most this many connections that turn out closed by the upstream.
_ATTEMPTS = 3


class UpstreamConnectError(UpstreamProtocolError):
    """No connection to the upstream could be made."""


class UpstreamTimeout(UpstreamProtocolError):
    """The upstream did not answer in time."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; reads into the current request's ResponseReader."""

    def __init__(self, key: tuple[str, str, int],
                 on_closed: Callable[[], None] | None = None) -> None:
        self.key = key
        self._on_closed = on_closed  # frees the connection's slot (UpstreamClient), once
        self.transport: asyncio.Transport | None = None
        self.reader: ResponseReader | None = None
        self.closed = False
        self.error: Exception | None = None
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._drain: asyncio.Future[None] | None = None  # set while the transport's buffer is full

    # ---- asyncio callbacks ----

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports do not subclass asyncio's, so no isinstance check here)
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        if reader is None:  # bytes nobody asked for: this connection is out of step
            self.close()
            return
        try:
            reader.feed(data)
        except UpstreamProtocolError as exc:
            self.error = exc
            self.close()
        if reader.buffered > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost follows

    def pause_writing(self) -> None:
        if self._drain is None:
            self._drain = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    async def drained(self) -> None:
        """Let a streamed request body wait while the transport's buffer is full."""
        if self._drain is not None:
            await self._drain

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._freed()
        self.resume_writing()
        if self.reader is not None and self.error is None:
            try:
                self.reader.eof()
            except UpstreamProtocolError as error:
                self.error = error
        self._wake()

    # ---- used by the client ----

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, timeout: float) -> None:
        """Until more arrives, the connection ends, or `timeout` seconds pass."""
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        handle = loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        finally:
            handle.cancel()
            self._waiter = None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        self._freed()

    def _freed(self) -> None:
        on_closed, self._on_closed = self._on_closed, None
        if on_closed is not None:
            on_closed()

    @property
    def usable(self) -> bool:
        return not self.closed and self.transport is not None and not self.transport.is_closing()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamTimeout("the upstream did not answer in time"))


@dataclass
class Response:
    """An answer whose body is still arriving. Always `aclose()` it (returns the connection)."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    content_length: int | None
    _client: UpstreamClient
    _connection: _Connection | None
    _reader: ResponseReader

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives; raises UpstreamProtocolError if the upstream cuts it short."""
        connection, reader = self._connection, self._reader
        while True:
            data = reader.take()
            if data:
                yield data
                # While the consumer had the chunk, more may have arrived — the last bytes
                # included, which make the reader complete: take them before deciding anything
                # (returning on `complete` here lost them; so would raising on a close).
                continue
            if reader.complete:
                return
            assert connection is not None
            if connection.error is not None:
                raise connection.error
            if connection.closed:
                raise UpstreamProtocolError("the upstream closed the connection in the middle "
                                            "of its body")
            await connection.wait(self._client.read_timeout)

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        connection.reader = None
        if self._reader.reusable and connection.usable:
            self._client._release(connection)
        else:
            connection.close()


Key = tuple[str, str, int]


class _Host:
    """The connections open to one host (idle ones included), and the calls waiting for one."""

    __slots__ = ("open", "waiters")

    def __init__(self) -> None:
        self.open = 0
        # Each waiter gets a connection handed back by a finished call, or None: a freed slot
        # in which to open a new one.
        self.waiters: deque[asyncio.Future[_Connection | None]] = deque()


class UpstreamClient:
    """Pooled keep-alive connections per (scheme, host, port), at most `max_per_host` open."""

    def __init__(self, *, connect_timeout: float = 10.0, read_timeout: float = 120.0,
                 ssl_context: ssl.SSLContext | None = None, max_idle_per_host: int = 64,
                 max_per_host: int = 64) -> None:
        if max_per_host < 1:
            raise ValueError("max_per_host must be at least 1")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_idle_per_host = max_idle_per_host
        self.max_per_host = max_per_host
        self._ssl = ssl_context
        self._idle: dict[Key, deque[_Connection]] = {}
        self._hosts: dict[Key, _Host] = {}
        self._closed = False

    def open_connections(self, key: Key) -> int:
        """How many connections to (scheme, host, port) hold a slot now (for tests, doctor)."""
        host = self._hosts.get(key)
        return host.open if host is not None else 0

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()  # the system's CAs; names checked
        return self._ssl

    async def request(self, method: str, url: str, headers: list[tuple[str, str]],
                      body: bytes | AsyncIterator[bytes] | None = None,
                      content_length: int | None = None) -> Response:
        """Send a request and return once the answer's head is in. `headers` must carry neither
        Host nor Content-Length nor hop-by-hop fields; a body's length is `content_length`
        (given with a streamed body) or its size."""
        target = target_of(url)
        sent = list(headers)
        if isinstance(body, bytes):
            content_length = len(body)
        elif body is None:
            content_length = 0
        elif content_length is None:
            raise UpstreamProtocolError("a streamed request body needs its length")
        if content_length or method not in _SAFE:
            sent.append(("Content-Length", str(content_length)))
        head = request_head(method, target, sent)
        for attempt in range(_ATTEMPTS):
            # An idle connection, one a finished call hands back, or a new one in a free slot.
            connection = self._take_idle(target) if attempt == 0 else None
            if connection is None:
                connection = await self._acquire(target)
            reused = connection is not None
            if connection is None:
                connection = await self._connect(target)
            try:
                return await self._exchange(connection, method, head, body)
            except _NothingReceived as exc:
                if not reused:
                    raise UpstreamProtocolError("the upstream closed the connection before "
                                                "answering") from exc
                # Sent again only when safe, and when the body can be sent again (a stream
                # cannot): a POST the upstream may have acted on is never sent twice.
                if method not in _SAFE or _streamed(body):
                    raise UpstreamProtocolError(
                        "the upstream closed a kept-alive connection as this request was sent; "
                        "it is not sent again, since the upstream may have acted on it") from exc
        raise UpstreamProtocolError("the upstream closed every kept-alive connection this "
                                    "request was sent on")

    async def _acquire(self, target: Target) -> _Connection | None:
        """A connection a finished call handed back, or None: a slot taken for a new one.
        Waits in order behind earlier callers while the host has `max_per_host` open."""
        key = (target.scheme, target.host, target.port)
        host = self._hosts.setdefault(key, _Host())
        if host.open < self.max_per_host and not host.waiters:
            host.open += 1
            return None
        if self._closed:
            raise UpstreamConnectError("the upstream client is closed")
        waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
        host.waiters.append(waiter)
        try:
            async with asyncio.timeout(self.connect_timeout):
                # shielded: a wait that ends (timeout, cancellation) leaves the waiter to us
                return await asyncio.shield(waiter)
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Handed a connection or a slot in the same moment the wait ended otherwise:
                # pass it on rather than lose it.
                given = waiter.result()
                if given is None:
                    self._free_slot(key)
                else:
                    self._release(given)
            else:
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    host.waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                raise UpstreamConnectError(
                    f"all {self.max_per_host} connections to {target.authority} stayed busy "
                    f"for {self.connect_timeout:g} s ([fronts.apiproxy] "
                    "max_upstream_connections)") from None
            raise

    def _free_slot(self, key: Key) -> None:
        """A connection to `key` closed (or never opened): its slot goes to the first waiter,
        or back to the host."""
        host = self._hosts.get(key)
        if host is None:
            return
        while host.waiters:
            waiter = host.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot changes hands: `open` stays as it is
                return
        host.open -= 1

    async def _exchange(self, connection: _Connection, method: str, head: bytes,
                        body: bytes | AsyncIterator[bytes] | None) -> Response:
        reader = ResponseReader(head_request=method == "HEAD")
        connection.reader = reader
        transport = connection.transport
        assert transport is not None
        try:
            if isinstance(body, bytes) and len(body) <= _INLINE_BODY:
                transport.write(head + body)
            else:
                transport.write(head)
                if isinstance(body, bytes):
                    transport.write(body)
                elif body is not None:
                    async for chunk in body:
                        if connection.closed:
                            break
                        transport.write(chunk)
                        await connection.drained()
            while reader.head is None:
                if connection.closed and not reader.started:
                    raise _NothingReceived
                if connection.error is not None:
                    raise connection.error
                await connection.wait(self.read_timeout)
        except BaseException:
            connection.reader = None
            connection.close()
            raise
        answer = reader.head
        return Response(answer.status, answer.reason, answer.headers, answer.content_length,
                        self, connection, reader)

    async def _connect(self, target: Target) -> _Connection:
        """A new connection in the slot the caller took (`_acquire`); the slot is freed when
        the connection closes, or now if it cannot be opened."""
        loop = asyncio.get_running_loop()
        key = (target.scheme, target.host, target.port)
        tls = self._ssl_context() if target.scheme == "https" else None
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(key, functools.partial(self._free_slot, key)),
                    target.host, target.port, ssl=tls,
                    server_hostname=target.host if tls is not None else None)
        except BaseException as exc:
            self._free_slot(key)
            if isinstance(exc, TimeoutError):
                raise UpstreamConnectError(f"no connection to {target.authority} within "
                                           f"{self.connect_timeout:g} s") from None
            if isinstance(exc, OSError | ssl.SSLError):
                raise UpstreamConnectError(f"no connection to {target.authority}: "
                                           f"{type(exc).__name__}: {exc}") from None
            raise
        return connection

    def _take_idle(self, target: Target) -> _Connection | None:
        idle = self._idle.get((target.scheme, target.host, target.port))
        if not idle:
            return None
        oldest_kept = time.monotonic() - IDLE_SECONDS
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to be closing
            if connection.usable and connection.idle_since >= oldest_kept:
                return connection
            connection.close()
        return None

    def _release(self, connection: _Connection) -> None:
        if self._closed:
            connection.close()
            return
        host = self._hosts.get(connection.key)
        while host is not None and host.waiters and connection.usable:
            waiter = host.waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)  # the first in line takes it, slot and all
                return
        idle = self._idle.setdefault(connection.key, deque())
        now = time.monotonic()
        # The oldest sit at the left: close those past their time (or closed by the upstream),
        # so a quiet pool does not keep sockets open for ever.
        while idle and (len(idle) >= self.max_idle_per_host or not idle[0].usable
                        or idle[0].idle_since < now - IDLE_SECONDS):
            idle.popleft().close()
        connection.idle_since = now
        idle.append(connection)

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        for host in self._hosts.values():
            for waiter in host.waiters:
                if not waiter.done():
                    waiter.set_exception(UpstreamConnectError("the upstream client is closed"))
            host.waiters.clear()


def _streamed(body: bytes | AsyncIterator[bytes] | None) -> bool:
    return body is not None and not isinstance(body, bytes)


class _NothingReceived(Exception):
    """The connection closed after the request was written and before any answer arrived."""

