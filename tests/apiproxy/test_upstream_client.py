"""The API proxy's upstream client against real local servers (upstream/client.py): framing,
keep-alive, an upstream that closes or stalls, streaming, TLS with a CA of the test's own."""

from __future__ import annotations

import asyncio
import datetime
import functools
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from airlock.upstream.client import (
    UpstreamClient,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamTimeout,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Server"], Awaitable[None]]


@dataclass
class Server:
    """A raw upstream: each connection is handed to `handler`; what it read is recorded."""

    handler: Handler
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def read_request(self, reader: asyncio.StreamReader) -> bytes | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        request = head + await reader.readexactly(length)
        self.requests.append(request)
        return request


async def _serve(handler: Handler, tls: ssl.SSLContext | None = None) -> tuple[Server,
                                                                              asyncio.Server]:
    server = Server(handler)

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        try:
            await handler(reader, writer, server)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(connected, "127.0.0.1", 0, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    return server, listener


Run = Callable[..., Server]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Run:
    """`_run` on asyncio's event loop and on uvloop's (which `airlock up` uses)."""
    if request.param == "asyncio":
        return functools.partial(_run, loop_factory=asyncio.new_event_loop)
    uvloop = pytest.importorskip("uvloop")
    return functools.partial(_run, loop_factory=uvloop.new_event_loop)


def _run(handler: Handler, test: Callable[[Server, UpstreamClient], Awaitable[None]], *,
         client: Callable[[], UpstreamClient] = UpstreamClient,
         tls: ssl.SSLContext | None = None,
         loop_factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
         ) -> Server:
    async def main() -> Server:
        server, listener = await _serve(handler, tls)
        upstream = client()
        try:
            await test(server, upstream)
        finally:
            await upstream.aclose()
            listener.close()
        return server
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(main())


def _answer(body: bytes, *extra: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
            + b"".join(h + b"\r\n" for h in extra) + b"\r\n" + body)


async def _keep_answering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                          server: Server) -> None:
    while (request := await server.read_request(reader)) is not None:
        writer.write(_answer(b"you said " + request.split(b"\r\n\r\n", 1)[1]))


def test_content_length_answers_reuse_one_connection_and_send_host_and_length(run: Run) -> None:
    async def test(server: Server, client: UpstreamClient) -> None:
        for i in range(3):
            response = await client.request("POST", server.url + "/graphql?x=1",
                                            [("Authorization", "Bearer real")], b"q%d" % i)
            assert response.status == 200 and response.content_length == 11
            assert await response.read() == b"you said q%d" % i
            await response.aclose()

    server = run(_keep_answering, test)
    assert server.connections == 1 and len(server.requests) == 3
    assert server.requests[0] == (f"POST /graphql?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{server.port}"
                                  "\r\nAuthorization: Bearer real\r\nContent-Length: 2\r\n\r\n"
                                  "q0").encode()


def test_a_chunked_answer_streams_as_it_arrives(run: Run) -> None:
    first_seen = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      server: Server) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await first_seen.wait()  # the rest only once the client had the first part
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        await server.read_request(reader)  # the connection is kept for the next call
        writer.write(_answer(b"again"))

    async def test(server: Server, client: UpstreamClient) -> None:
        response = await client.request("GET", server.url + "/watch", [])
        assert response.content_length is None
        parts = []
        async for chunk in response.chunks():
            parts.append(chunk)
            first_seen.set()
        await response.aclose()
        assert parts == [b"first", b"second"]
        again = await client.request("GET", server.url + "/", [])
        assert await again.read() == b"again"
        await again.aclose()

    assert run(handler, test).connections == 1


def test_a_large_answer_is_read_whole_with_flow_control(run: Run) -> None:
    big = bytes(range(256)) * 40_000  # 10 MB: reading pauses and resumes

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      server: Server) -> None:
        await server.read_request(reader)
        writer.write(_answer(big))
        await writer.drain()

    async def test(server: Server, client: UpstreamClient) -> None:
        response = await client.request("GET", server.url + "/", [])
        received = bytearray()
        async for chunk in response.chunks():
            received += chunk
            await asyncio.sleep(0)
        await response.aclose()
        assert bytes(received) == big

    run(handler, test)


def test_a_streamed_request_body_arrives_whole(run: Run) -> None:
    async def body() -> AsyncIterator[bytes]:
        for i in range(50):
            yield b"%05d" % i * 2000  # 10 kB pieces, 500 kB in all

    async def test(server: Server, client: UpstreamClient) -> None:
        response = await client.request("PUT", server.url + "/bucket/key", [], body(), 500_000)
        assert (await response.read()).startswith(b"you said 00000")
        await response.aclose()

    server = run(_keep_answering, test)
    assert server.requests[0].endswith(b"%05d" % 49 * 2000)
    assert b"Content-Length: 500000\r\n" in server.requests[0]


def test_an_upstream_closing_kept_connections_costs_nothing_and_a_post_is_never_resent(run: Run) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      server: Server) -> None:
        # One answer per connection, without saying so; a second request is read and dropped.
        await server.read_request(reader)
        writer.write(_answer(b"one"))
        await writer.drain()
        await server.read_request(reader)

    async def test(server: Server, client: UpstreamClient) -> None:
        first = await client.request("GET", server.url + "/a", [])
        assert await first.read() == b"one"
        await first.aclose()
        # A GET that meets the dropped connection is sent again, on a new one.
        second = await client.request("GET", server.url + "/b", [])
        assert await second.read() == b"one"
        await second.aclose()
        # A POST is not: the upstream may have acted on it.
        with pytest.raises(UpstreamProtocolError, match="not sent again"):
            await client.request("POST", server.url + "/c", [], b"x")

    server = run(handler, test)
    methods = [r.split(b" ", 1)[0] for r in server.requests]
    assert methods == [b"GET", b"GET", b"GET", b"POST"]


def test_an_upstream_that_closes_between_calls_is_not_reused(run: Run) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      server: Server) -> None:
        await server.read_request(reader)
        writer.write(_answer(b"bye"))
        await writer.drain()  # and the connection closes

    async def test(server: Server, client: UpstreamClient) -> None:
        for _ in range(3):
            response = await client.request("POST", server.url + "/", [], b"q")
            assert await response.read() == b"bye"
            await response.aclose()
            await asyncio.sleep(0.05)  # the close arrives while the connection is idle

    assert run(handler, test).connections == 3


def test_a_body_ending_with_the_connection_and_a_cut_body(run: Run) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      server: Server) -> None:
        request = await server.read_request(reader)
        assert request is not None
        if request.startswith(b"GET /until-close"):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")

    async def test(server: Server, client: UpstreamClient) -> None:
        response = await client.request("GET", server.url + "/until-close", [])
        assert await response.read() == b"all of it"
        await response.aclose()
        cut = await client.request("GET", server.url + "/cut", [])
        with pytest.raises(UpstreamProtocolError, match="middle of its body"):
            await cut.read()
        await cut.aclose()

    assert run(handler, test).connections == 2


def test_errors_and_redirects_pass_through_unchanged(run: Run) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      server: Server) -> None:
        while (request := await server.read_request(reader)) is not None:
            if b" /moved " in request:
                writer.write(b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere.example/x\r\n"
                             b"Content-Length: 0\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n"
                             b"Content-Length: 4\r\n\r\nbusy")

    async def test(server: Server, client: UpstreamClient) -> None:
        moved = await client.request("GET", server.url + "/moved", [])
        assert moved.status == 302 and ("Location", "http://elsewhere.example/x") in moved.headers
        await moved.aclose()
        busy = await client.request("GET", server.url + "/busy", [])
        assert (busy.status, busy.reason, await busy.read()) == (503, "Service Unavailable",
                                                                b"busy")
        await busy.aclose()

    server = run(handler, test)
    assert len(server.requests) == 2  # the redirect was not followed


def test_a_slow_upstream_times_out_and_a_closed_port_is_a_connect_error(run: Run) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      server: Server) -> None:
        await server.read_request(reader)
        await asyncio.sleep(30)

    async def test(server: Server, client: UpstreamClient) -> None:
        with pytest.raises(UpstreamTimeout, match="did not answer in time"):
            await client.request("GET", server.url + "/", [])

    run(handler, test, client=lambda: UpstreamClient(read_timeout=0.2))

    async def refused() -> None:
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # bound, not listening: nothing answers there
            with pytest.raises(UpstreamConnectError, match="no connection"):
                await UpstreamClient().request("GET", f"http://127.0.0.1:{port}/", [])

    asyncio.run(refused())


def _ca_and_server(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A CA of the test's own and a server certificate for 127.0.0.1 that it signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    start = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)  # valid whatever the clock
    end = start + datetime.timedelta(days=365 * 200)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "airlock test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(start)
          .not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    return ca_path, server


def test_tls_upstreams_are_checked_against_the_trusted_cas(tmp_path: Path, run: Run) -> None:
    ca, server_tls = _ca_and_server(tmp_path)

    async def test(server: Server, client: UpstreamClient) -> None:
        url = f"https://127.0.0.1:{server.port}/graphql"
        for _ in range(2):
            response = await client.request("POST", url, [], b"over tls")
            assert await response.read() == b"you said over tls"
            await response.aclose()

    trusting = ssl.create_default_context(cafile=str(ca))
    server = run(_keep_answering, test, client=lambda: UpstreamClient(ssl_context=trusting),
                  tls=server_tls)
    assert server.connections == 1
    assert b"Host: 127.0.0.1:" in server.requests[0]

    async def untrusted(server: Server, client: UpstreamClient) -> None:
        with pytest.raises(UpstreamConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.request("GET", f"https://127.0.0.1:{server.port}/", [])

    run(_keep_answering, untrusted, tls=server_tls)  # the system's CAs do not know this one


def test_a_head_answer_has_no_body_and_its_connection_is_not_reused(run: Run) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      server: Server) -> None:
        while await server.read_request(reader) is not None:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n")

    async def test(server: Server, client: UpstreamClient) -> None:
        for _ in range(2):
            response = await client.request("HEAD", server.url + "/big", [])
            assert (response.status, response.content_length) == (200, 500)
            assert await response.read() == b""
            await response.aclose()

    server = run(handler, test)
    assert server.connections == 2  # llhttp cannot be told it was a HEAD: never reused
    assert b"Content-Length" not in server.requests[0]  # a HEAD sends no body length


def test_idle_connections_past_their_time_are_closed(run: Run) -> None:
    async def test(server: Server, client: UpstreamClient) -> None:
        first = await client.request("GET", server.url + "/", [])
        await first.read()
        await first.aclose()
        kept = next(iter(client._idle.values()))[0]
        kept.idle_since -= 60  # as if a minute had passed
        second = await client.request("GET", server.url + "/", [])
        await second.read()
        await second.aclose()
        assert kept.closed  # not reused, and closed

    assert run(_keep_answering, test).connections == 2


def test_a_streamed_get_body_is_never_sent_twice(run: Run) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      server: Server) -> None:
        await server.read_request(reader)
        writer.write(_answer(b"one"))
        await writer.drain()
        await server.read_request(reader)  # and dropped

    async def body() -> AsyncIterator[bytes]:
        yield b"only once"

    async def test(server: Server, client: UpstreamClient) -> None:
        first = await client.request("GET", server.url + "/", [])
        await first.read()
        await first.aclose()
        with pytest.raises(UpstreamProtocolError, match="not sent again"):
            await client.request("GET", server.url + "/", [], body(), 9)

    assert len(run(handler, test).requests) == 2


@pytest.mark.parametrize("ending", ["content-length", "close"])
def test_the_last_bytes_arriving_while_a_chunk_is_consumed_are_not_lost(ending: str) -> None:
    """The rest of the body — its end included — can arrive while the consumer holds a chunk
    (data_received runs whenever the consumer awaits). The stream must still yield it: once it
    returned as soon as the reader was complete, and a large answer came back short."""
    from airlock.upstream.client import Response, _Connection
    from airlock.upstream.h1 import ResponseReader

    head = (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" if ending == "content-length"
            else b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")

    async def main() -> bytes:
        reader = ResponseReader()
        connection = _Connection(("http", "upstream", 80))
        connection.reader = reader
        reader.feed(head + b"01234")
        response = Response(200, "OK", [], None, UpstreamClient(), connection, reader)
        received = b""
        async for chunk in response.chunks():
            if not received:  # the rest arrives, and the answer ends, while we hold the chunk
                reader.feed(b"56789")
                if ending == "close":
                    connection.connection_lost(None)
            received += chunk
        return received

    assert asyncio.run(main()) == b"0123456789"


# ---- at most max_per_host connections open ---------------------------------------------------

def _key(server: Server) -> tuple[str, str, int]:
    return ("http", "127.0.0.1", server.port)


def test_a_burst_beyond_the_cap_waits_for_connections_and_all_complete(run: Run) -> None:
    open_now = [0]
    most = [0]

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   server: Server) -> None:
        open_now[0] += 1
        most[0] = max(most[0], open_now[0])
        try:
            while (request := await server.read_request(reader)) is not None:
                await asyncio.sleep(0.05)
                writer.write(_answer(request.split(b"\r\n", 1)[0]))
        finally:
            open_now[0] -= 1

    async def test(server: Server, client: UpstreamClient) -> None:
        seen_open: list[int] = []

        async def call(i: int) -> bytes:
            response = await client.request("GET", f"{server.url}/{i}", [])
            seen_open.append(client.open_connections(_key(server)))
            try:
                return await response.read()
            finally:
                await response.aclose()

        bodies = await asyncio.gather(*(call(i) for i in range(11)))
        assert bodies == [f"GET /{i} HTTP/1.1".encode() for i in range(11)]
        assert max(seen_open) <= 3
        assert client.open_connections(_key(server)) <= 3

    server = run(slow, test, client=lambda: UpstreamClient(max_per_host=3))
    assert most[0] <= 3 and server.connections <= 3 and len(server.requests) == 11


def test_waiting_calls_are_served_in_order(run: Run) -> None:
    async def test(server: Server, client: UpstreamClient) -> None:
        done: list[int] = []
        holder = await client.request("GET", server.url + "/hold", [])

        async def call(i: int) -> None:
            response = await client.request("POST", server.url + "/", [], b"%d" % i)
            await response.read()
            await response.aclose()
            done.append(i)

        tasks = []
        for i in range(5):
            tasks.append(asyncio.create_task(call(i)))
            await asyncio.sleep(0.01)  # each in line before the next
        await holder.read()
        await holder.aclose()  # its connection goes to the first in line, then the next …
        await asyncio.gather(*tasks)
        assert done == [0, 1, 2, 3, 4]

    server = run(_keep_answering, test, client=lambda: UpstreamClient(max_per_host=1))
    assert server.connections == 1


def test_a_waiter_that_times_out_gets_a_clear_error_and_leaves_no_slot_taken(run: Run) -> None:
    async def stall_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                          server: Server) -> None:
        while (request := await server.read_request(reader)) is not None:
            if b"/stall" in request:
                await asyncio.sleep(0.5)
            writer.write(_answer(b"ok"))

    async def test(server: Server, client: UpstreamClient) -> None:
        stalled = asyncio.create_task(client.request("GET", server.url + "/stall", []))
        await asyncio.sleep(0.05)
        with pytest.raises(UpstreamConnectError, match=r"all 1 connections to 127\.0\.0\.1:\d+ "
                                                        r"stayed busy for 0\.2 s"):
            await client.request("GET", server.url + "/next", [])
        # A waiter cancelled while in line gives up its place, nothing else.
        cancelled = asyncio.create_task(client.request("GET", server.url + "/gone", []))
        await asyncio.sleep(0.05)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        first = await stalled
        assert await first.read() == b"ok"
        await first.aclose()
        after = await client.request("GET", server.url + "/after", [])
        assert await after.read() == b"ok"
        await after.aclose()
        assert client.open_connections(_key(server)) == 1

    run(stall_first, test, client=lambda: UpstreamClient(max_per_host=1, connect_timeout=0.2))


def test_failed_and_closed_connections_free_their_slots(run: Run) -> None:
    async def hang_up_on_posts(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                               server: Server) -> None:
        request = await server.read_request(reader)
        if request is not None and not request.startswith(b"POST"):
            # answers one request, then closes: every connection is the upstream's to end
            writer.write(_answer(b"once", b"Connection: close"))
            await writer.drain()

    async def test(server: Server, client: UpstreamClient) -> None:
        for _ in range(4):  # the upstream closes without answering: a failed call each time
            with pytest.raises(UpstreamProtocolError, match="before answering"):
                await client.request("POST", server.url + "/", [], b"x")
        for _ in range(4):  # answered, then closed by the upstream
            response = await client.request("GET", server.url + "/", [])
            assert await response.read() == b"once"
            await response.aclose()
        await asyncio.sleep(0.05)
        assert client.open_connections(_key(server)) == 0

    server = run(hang_up_on_posts, test,
                 client=lambda: UpstreamClient(max_per_host=1, connect_timeout=0.5))
    assert server.connections == 8

    async def refused() -> None:
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # bound, not listening: every connect fails
            client = UpstreamClient(max_per_host=1, connect_timeout=0.5)
            for _ in range(3):  # each failure frees its slot, or the second would wait
                with pytest.raises(UpstreamConnectError, match="no connection"):
                    await client.request("GET", f"http://127.0.0.1:{port}/", [])
            assert client.open_connections(("http", "127.0.0.1", port)) == 0
            await client.aclose()

    asyncio.run(refused())


def test_the_cap_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        UpstreamClient(max_per_host=0)
