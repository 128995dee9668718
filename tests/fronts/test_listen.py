"""The listening socket of `airlock up`'s HTTP services: every connection it accepts sends
small writes at once (TCP_NODELAY), which is what keeps a keep-alive call through the API proxy
from waiting ≈ 40 ms for a delayed ACK between an answer's head and its body."""

from __future__ import annotations

import asyncio
import socket

import pytest

from airlock.fronts.listen import tcp_listener


def _nodelay(sock: socket.socket) -> bool:
    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def test_connections_accepted_by_hand_have_nagle_off() -> None:
    with tcp_listener("127.0.0.1", 0) as listener:
        port = listener.getsockname()[1]
        assert port != 0
        with socket.create_connection(("127.0.0.1", port)):
            accepted, _ = listener.accept()
            with accepted:
                assert _nodelay(accepted)


def test_connections_served_by_asyncio_have_nagle_off() -> None:
    # asyncio (under uvicorn) turns Nagle off only on sockets whose protocol reads IPPROTO_TCP;
    # `socket.create_server` makes them with protocol 0, which is how the stall came about.
    seen: list[bool] = []

    async def main() -> None:
        listener = tcp_listener("127.0.0.1", 0)
        port = listener.getsockname()[1]

        async def on_client(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(_nodelay(writer.get_extra_info("socket")))
            writer.write(b"ok")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(on_client, sock=listener)
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert await reader.read() == b"ok"
            writer.close()

    asyncio.run(main())
    assert seen == [True]


def test_a_port_in_use_is_an_error_and_leaves_no_socket_open() -> None:
    with tcp_listener("127.0.0.1", 0) as listener:
        port = listener.getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            tcp_listener("127.0.0.1", port)
