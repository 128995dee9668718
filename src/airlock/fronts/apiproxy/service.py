"""The `apiproxy` service of `airlock up`: the proxy's ASGI app under uvicorn, on its own
thread and port, so that a slow upstream never queues behind the API or the console."""

from __future__ import annotations

import asyncio
import importlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import uvicorn

from airlock.errors import AirlockError
from airlock.fronts.apiproxy.app import ApiProxyApp
from airlock.fronts.apiproxy.settings import SECTION, ApiProxySettings
from airlock.fronts.listen import tcp_listener
from airlock.runtime import Runtime
from airlock.services import Health

__all__ = ["ApiProxyService", "proxy_service"]


def proxy_service(runtime: Runtime, *, console_url: str) -> ApiProxyService | None:
    """The proxy's service, when there is an api resource to serve and it is not turned off."""
    settings = SECTION.of(runtime.config)
    if not settings.enabled or not any(r.kind == "api" for r in runtime.config.resources.values()):
        return None
    return ApiProxyService(runtime, settings, console_url=console_url)


class ApiProxyService:
    name = "apiproxy"
    STOP_GRACE_SECONDS = 10.0

    def __init__(self, runtime: Runtime, settings: ApiProxySettings, *, console_url: str) -> None:
        self.runtime = runtime
        self.settings = settings
        self.console_url = console_url
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port: int | None = None
        self.app: ApiProxyApp | None = None

    def start(self) -> None:
        host, port = self.settings.host, self.settings.port
        try:
            sock = tcp_listener(host, port)
        except OSError as exc:
            raise AirlockError(f"the API proxy cannot listen on {host}:{port}: {exc}",
                               hint="set [fronts.apiproxy] listen to a free host:port") from None
        self.port = int(sock.getsockname()[1])
        if self.settings.port == 0:  # "any free port": endpoints name the one it got
            self.settings = replace(self.settings, port=self.port)
        app = ApiProxyApp(self.runtime, self.settings, console_url=self.console_url)
        self.app = app
        # No Date or Server of uvicorn's own: a forwarded answer keeps the upstream's (uvicorn
        # would add a second Date), and airlock's own answers carry a Date (app.py). No
        # X-Forwarded-* rewriting either: agents connect from 127.0.0.1, which uvicorn trusts
        # by default, and the proxy has no use for a client address an agent could set.
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                               lifespan="on", timeout_keep_alive=30,
                                               server_header=False, date_header=False,
                                               proxy_headers=False))
        self._server, self._socket = server, sock
        self._thread = threading.Thread(target=self._serve, args=(server, sock),
                                        name="airlock-apiproxy", daemon=True)
        self._thread.start()
        while not server.started and self._thread.is_alive():
            time.sleep(0.01)
        if not server.started:
            self.stop()
            raise AirlockError(f"the API proxy on {host}:{port} did not start; see the log")

    @staticmethod
    def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
        # uvloop where it exists: the event loop moves every byte both ways, and uvloop's costs
        # less CPU per call than asyncio's (bench/bench_apiproxy.py).
        try:
            factory: Callable[[], asyncio.AbstractEventLoop] = \
                importlib.import_module("uvloop").new_event_loop
        except ImportError:
            factory = asyncio.new_event_loop
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(server.serve(sockets=[sock]))

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(self.STOP_GRACE_SECONDS)
        if thread.is_alive():
            server.force_exit = True
            thread.join(5)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def health(self) -> Health:
        if self._server is None or self._thread is None or not self._thread.is_alive():
            return Health(False, "not running")
        return Health(True, f"{len(self.runtime.config.resources)} resources; "
                            f"http://{self.settings.host}:{self.port}")
