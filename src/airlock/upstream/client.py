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
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

from airlock.upstream.h1 import ResponseReader, Target, UpstreamProtocolError, request_head, target_of

__all__ = ["Response", "UpstreamClient", "UpstreamConnectError", "UpstreamProtocolError",
           "UpstreamTimeout"]

IDLE_SECONDS = 4.0
_HIGH_WATER = 1024 * 1024  # body bytes waiting to be taken before reading pauses
_INLINE_BODY = 64 * 1024  # a body up to this size goes out in the same write as the head
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


class UpstreamConnectError(UpstreamProtocolError):
    """No connection to the upstream could be made."""


class UpstreamTimeout(UpstreamProtocolError):
    """The upstream did not answer in time."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; reads into the current request's ResponseReader."""

    def __init__(self, key: tuple[str, str, int]) -> None:
        self.key = key
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


class UpstreamClient:
    """Pooled keep-alive connections per (scheme, host, port)."""

    def __init__(self, *, connect_timeout: float = 10.0, read_timeout: float = 120.0,
                 ssl_context: ssl.SSLContext | None = None, max_idle_per_host: int = 64) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_idle_per_host = max_idle_per_host
        self._ssl = ssl_context
        self._idle: dict[tuple[str, str, int], deque[_Connection]] = {}
        self._closed = False

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
        connection = self._take_idle(target)
        # Sent again only when safe, and when the body can be sent again (not a stream).
        if connection is not None and method in _SAFE and not _streamed(body):
            try:
                return await self._exchange(connection, method, head, body)
            except _NothingReceived:
                connection = None  # a reused connection the upstream had closed: once more
        elif connection is not None:
            try:
                return await self._exchange(connection, method, head, body)
            except _NothingReceived as exc:
                raise UpstreamProtocolError(
                    "the upstream closed a kept-alive connection as this request was sent; it "
                    "is not sent again, since the upstream may have acted on it") from exc
        connection = await self._connect(target)
        try:
            return await self._exchange(connection, method, head, body)
        except _NothingReceived as exc:
            raise UpstreamProtocolError("the upstream closed the connection before "
                                        "answering") from exc

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
        loop = asyncio.get_running_loop()
        key = (target.scheme, target.host, target.port)
        tls = self._ssl_context() if target.scheme == "https" else None
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(key), target.host, target.port, ssl=tls,
                    server_hostname=target.host if tls is not None else None)
        except TimeoutError:
            raise UpstreamConnectError(f"no connection to {target.authority} within "
                                       f"{self.connect_timeout:g} s") from None
        except (OSError, ssl.SSLError) as exc:
            raise UpstreamConnectError(f"no connection to {target.authority}: "
                                       f"{type(exc).__name__}: {exc}") from None
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


def _streamed(body: bytes | AsyncIterator[bytes] | None) -> bool:
    return body is not None and not isinstance(body, bytes)


class _NothingReceived(Exception):
    """The connection closed after the request was written and before any answer arrived."""

