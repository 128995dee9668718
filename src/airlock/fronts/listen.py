"""The listening TCP socket of an HTTP service of `airlock up` (the API, the API proxy).

Why not `socket.create_server`: it makes its socket with protocol number 0, accepted connections
inherit that, and asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets whose
protocol reads IPPROTO_TCP. uvicorn writes an answer's head and its body as separate small
writes, so with Nagle on, the body waits for the client's ACK of the head, which Linux delays by
up to 40 ms: every keep-alive call through the API proxy took ≈ 40 ms more than its work
(`bench/bench_apiproxy.py`). Here the socket says IPPROTO_TCP, and TCP_NODELAY is also set on the
listener, which Linux copies to every accepted connection whatever the server does with them.
"""

from __future__ import annotations

import os
import socket

__all__ = ["tcp_listener"]


def tcp_listener(host: str, port: int, *, backlog: int = 1024) -> socket.socket:
    """A listening socket on `host:port` (port 0: any free one) whose accepted connections send
    small writes at once. Raises OSError as `socket.create_server` does."""
    family, kind, proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name == "posix":
            # Restarting `airlock up` must not wait for the old connections' TIME_WAIT.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock
