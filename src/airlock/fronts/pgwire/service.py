"""The wire proxy in `airlock up`: one service per resource in `[fronts.pgwire] listen`.

Each service (`pgwire:<resource>`) runs that resource's listeners on an event loop in a thread
of its own, so a stalled resource, the HTTP API and the other proxies cannot hold each other up.
`stop` is graceful (open transactions get `shutdown_grace`) and removes the listening port and
the Unix socket file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airlock.fronts.pgwire.settings import SECTION
from airlock.services import Health

if TYPE_CHECKING:
    from airlock.fronts.pgwire.proxy import ProxyThread
    from airlock.runtime import Runtime

__all__ = ["PgwireService", "services"]


class PgwireService:
    def __init__(self, runtime: Runtime, resource: str) -> None:
        self.name = f"pgwire:{resource}"
        self.runtime = runtime
        self.resource = resource
        self._thread: ProxyThread | None = None

    def start(self) -> None:
        from airlock.fronts.pgwire.proxy import ProxyThread

        thread = ProxyThread(self.runtime, [self.resource])
        thread.start()
        self._thread = thread

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.stop()

    def health(self) -> Health:
        thread = self._thread
        proxy = thread.proxy if thread is not None else None
        if thread is None or proxy is None or not thread.thread.is_alive():
            return Health(False, "not running")
        host, port = proxy.addresses[self.resource]
        where = f"postgres wire proxy on {host}:{port}"
        socket = proxy.socket_paths.get(self.resource)
        return Health(True, where + (f" and {socket}" if socket is not None else ""))


def services(runtime: Runtime) -> list[PgwireService]:
    """A service for each resource the configuration serves, in the order it names them."""
    return [PgwireService(runtime, name) for name in SECTION.of(runtime.config).listeners]
