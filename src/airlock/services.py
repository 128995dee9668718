"""What `airlock up` runs: one ordered list of services, each with start, stop and health.

    api            the HTTP API for agents, the approval console and  fronts/api.py, console/,
                   the MCP server's /mcp                              fronts/mcp/server.py
    hooks          the agent hooks' Unix socket                       fronts/hooks/daemon.py
    notifications  the webhook outbox dispatcher                      notify.py
    maintenance    state damage checks, due deferred calls and scheduled backups, each minute
    anchors        the audit log's head written to the vault (when it is enabled)  anchors.py
    pgwire:NAME    the PostgreSQL wire proxy, one per resource it serves   fronts/pgwire/
    …              then each further front (a proxy listening for its resource), in order

`planned(runtime, …)` builds that list from the configuration; `Services.run` starts them in
order, waits for SIGTERM or SIGINT, and stops them in reverse, each removing what it created (the
hooks socket, a listening port). A service that fails to start stops the ones started before it
and the error stops `airlock up`; a service that stops on its own stops them all, so airlock
never runs with a front silently missing. `GET /healthz` reports each service.

A new front adds its service to `planned` (see "Adding a front" in docs/architecture.md).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Protocol

from airlock.errors import AirlockError

if TYPE_CHECKING:
    from airlock.runtime import Runtime

log = logging.getLogger("airlock.services")

__all__ = ["Health", "PeriodicService", "Service", "Services", "health_json", "planned"]

MAINTENANCE_SECONDS = 60.0  # how often due deferred calls and scheduled backups are looked at
_WATCH_SECONDS = 0.5  # how often `run` checks that every service still runs


@dataclass(frozen=True, slots=True)
class Health:
    """Whether a service is running, and a short note for `/healthz` (never a secret)."""

    ok: bool
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "detail": self.detail}


class Service(Protocol):
    name: str

    def start(self) -> object:
        """Start serving in the background; return once serving (what it returns is not
        used), or raise."""
        ...

    def stop(self) -> None:
        """Stop and remove what `start` created; safe to call twice, or without a start."""
        ...

    def health(self) -> Health: ...


class Services:
    """An ordered group of services: started in order, stopped in reverse."""

    def __init__(self, services: Sequence[Service] = ()) -> None:
        self.services: list[Service] = []
        self.add(*services)
        self._started: list[Service] = []
        self._stop = threading.Event()

    def add(self, *services: Service) -> None:
        """Append services; names must be unique (a front with one listener per resource names
        each, e.g. `pgwire:app-db`), since /healthz reports them by name."""
        for service in services:
            if any(s.name == service.name for s in self.services):
                raise AirlockError(f"two services are named {service.name!r}")
            self.services.append(service)

    def start(self) -> None:
        for service in self.services:
            try:
                service.start()
            except BaseException:
                log.error("service %s could not start; stopping the others", service.name)
                self.stop()
                raise
            self._started.append(service)

    def stop(self) -> None:
        while self._started:
            service = self._started.pop()
            try:
                service.stop()
            except Exception:  # the others must still stop and clean up
                log.exception("service %s did not stop cleanly", service.name)

    def health(self) -> dict[str, Health]:
        report: dict[str, Health] = {}
        for service in self.services:
            try:
                report[service.name] = service.health()
            except Exception as exc:
                report[service.name] = Health(False, f"health check failed: {exc}")
        return report

    def request_stop(self) -> None:
        self._stop.set()
        for service in self._started:  # what must go first, before anything slow (the hooks)
            withdraw = getattr(service, "withdraw", None)
            if withdraw is not None:
                try:
                    withdraw()
                except Exception:
                    log.exception("service %s could not withdraw", service.name)

    def run(self, *, signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
            on_started: Callable[[], None] | None = None) -> None:
        """Start everything, serve until a signal (or `request_stop`), then stop in reverse.
        Raises AirlockError when a service stopped on its own."""
        with _on_signals(signals, self.request_stop):
            self.start()
            try:
                if on_started is not None:
                    on_started()
                ended = self._watch()
            finally:
                self.stop()
        if ended is not None:
            name, health = ended
            why = health.detail or "no reason given"
            raise AirlockError(f"the {name} service stopped on its own ({why}); airlock stopped "
                               "every service", hint="see the log above, then start airlock again")

    def _watch(self) -> tuple[str, Health] | None:
        while not self._stop.wait(_WATCH_SECONDS):
            report = self.health()
            for service in self._started:
                if not report[service.name].ok:
                    return service.name, report[service.name]
        return None


@contextmanager
def _on_signals(signals: Sequence[signal.Signals], handler: Callable[[], None]) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may handle signals; the caller stops us instead
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        handler()

    previous = {sig: signal.signal(sig, handle) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class PeriodicService:
    """Calls `run` every `interval` seconds on a thread; an exception is logged and the next
    round tries again (nothing here may end the service)."""

    def __init__(self, name: str, run: Callable[[], object], interval: float) -> None:
        self.name = name
        self._run = run
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"airlock-{self.name}",
                                        daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._run()
            except Exception:
                log.exception("%s failed; trying again in %s s", self.name, self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def health(self) -> Health:
        if self._thread is None or not self._thread.is_alive():
            return Health(False, "not running")
        return Health(True, f"every {self.interval:g} s")


def maintenance(runtime: Runtime) -> Callable[[], None]:
    """One round of upkeep: check the state store for damage, carry out deferred calls whose
    grace period has ended, and take the scheduled backups that are due."""
    from airlock.vault.backup import take_due
    from airlock.vault.runners import run_due_and_record

    config = runtime.config

    def run() -> None:
        # Damage inside the state file shows here within a minute; from then on the store
        # refuses every call, so every action is denied until a human repairs it.
        runtime.store.check()
        run_due_and_record(runtime.store, config, runtime.audit)
        if config.vault.enabled and any(r.backup_schedule for r in config.vault.resources.values()):
            take_due(runtime.vault, config, runtime.store, runtime.audit)

    return run


def planned(runtime: Runtime, *, host: str, port: int) -> Services:
    """The services `airlock up` runs for this configuration, in the order they start."""
    from airlock.fronts.api import ApiService
    from airlock.fronts.hooks.daemon import HookDaemon, socket_path
    from airlock.fronts.hooks.runner import HookRunner
    from airlock.fronts.mcp.server import mount_mcp
    from airlock.fronts.pgwire.service import services as pgwire_services
    from airlock.notify import Dispatcher

    config = runtime.config
    services = Services()
    services.add(
        ApiService(runtime, host=host, port=port, health=services.health,
                   mounts=(mount_mcp,)),  # /mcp: the MCP server's streamable HTTP transport
        HookDaemon(HookRunner.from_runtime(runtime),
                   socket_path(config.state_dir, config.hooks.socket), config.hooks.socket_group,
                   take_over_in=config.state_dir),  # from a daemon a hook started
        Dispatcher(runtime.store, config.approvals.webhooks, runtime.audit,
                   console_url(runtime, host, port), config=config),
        PeriodicService("maintenance", maintenance(runtime), MAINTENANCE_SECONDS),
    )
    if config.vault.enabled:  # the audit head, out of the agent's reach (anchors.py)
        from airlock.anchors import anchor_service

        services.add(anchor_service(runtime))
    else:
        log.warning("the vault is disabled, so the audit log is not anchored: a log rewritten "
                    "with its key would still verify; keep `airlock audit verify`'s head "
                    "elsewhere")
    # then each further front's services, in the order they should start
    from airlock.fronts.apiproxy.service import proxy_service

    proxy = proxy_service(runtime, console_url=console_url(runtime, host, port))
    if proxy is not None:
        services.add(proxy)
    services.add(*pgwire_services(runtime))
    return services


def console_url(runtime: Runtime, host: str, port: int) -> str:
    return runtime.config.approvals.public_url or f"http://{host}:{port}"


def health_json(report: Mapping[str, Health]) -> dict[str, object]:
    return {name: health.to_json() for name, health in report.items()}
