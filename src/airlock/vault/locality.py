"""Does a database host name this machine? The vault must not share a disk with what it
protects, and for a PostgreSQL server that question is only asked when the server runs here.

A name is not enough to tell: `localhost` is, but so are 127.0.0.2 (all of 127.0.0.0/8 is
loopback), `::1`, `0.0.0.0`, the machine's own host name, and any address one of its interfaces
holds. So a name is resolved (every address it has), and an address counts as this machine's
when it is loopback or unspecified, or when a socket can be bound to it — only an address
assigned to a local interface can be (without `ip_nonlocal_bind`, which makes every address
bindable and so errs toward "local": the cautious side). A name that does not resolve in time is
treated as local too: whether it shares the disk cannot be ruled out.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any

RESOLVE_SECONDS = 2.0

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Sequence[str]]


def resolve(host: str) -> list[str]:
    """Every address `host` resolves to (getaddrinfo, under a deadline: a stuck resolver must
    not hold a plan that an agent is waiting for)."""
    found: list[Any] = []

    def lookup() -> None:
        with contextlib.suppress(OSError):  # nothing found: the caller errs toward local
            found.extend(info[4][0] for info in socket.getaddrinfo(host, None))

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(RESOLVE_SECONDS)
    return [str(a) for a in found]


def is_this_machine(host: str, *, resolver: Resolver = resolve) -> bool:
    """Whether a database host (as written in its URL) reaches this machine."""
    host = host.strip()
    if not host or host.startswith("/"):  # libpq's default and Unix sockets are local
        return True
    host = host.removeprefix("[").removesuffix("]").split("%", 1)[0]
    try:
        addresses: list[Address] = [ipaddress.ip_address(host)]
    except ValueError:
        resolved = resolver(host)
        if not resolved:
            return True  # cannot tell: the cautious answer
        addresses = []
        for text in resolved:
            try:
                addresses.append(ipaddress.ip_address(text.split("%", 1)[0]))
            except ValueError:
                return True
    return any(_local(address) for address in addresses)


def _local(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _local(address.ipv4_mapped)
    if address.is_loopback or address.is_unspecified:
        return True
    family = socket.AF_INET6 if isinstance(address, ipaddress.IPv6Address) else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((str(address), 0))
    except OSError:
        return False
    return True
