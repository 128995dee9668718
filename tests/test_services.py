"""What `airlock up` runs: services started in order, stopped in reverse, each reporting its
health; a failure at start or a service that dies stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from airlock.errors import AirlockError
from airlock.services import Health, PeriodicService, Services
from tests.cli import airlock_up, free_port


class Recorded:
    """A service that writes what happens to it into a shared log."""

    def __init__(self, name: str, log: list[str], *, fail_start: bool = False,
                 fail_stop: bool = False) -> None:
        self.name = name
        self.log = log
        self.fail_start = fail_start
        self.fail_stop = fail_stop
        self.running = False

    def start(self) -> None:
        if self.fail_start:
            raise AirlockError(f"{self.name} cannot start")
        self.running = True
        self.log.append(f"start {self.name}")

    def stop(self) -> None:
        self.log.append(f"stop {self.name}")
        self.running = False
        if self.fail_stop:
            raise RuntimeError(f"{self.name} broke while stopping")

    def health(self) -> Health:
        return Health(self.running, "up" if self.running else "down")


def test_services_start_in_order_and_stop_in_reverse_even_when_one_breaks() -> None:
    log: list[str] = []
    services = Services([Recorded("api", log), Recorded("hooks", log, fail_stop=True),
                         Recorded("proxy", log)])
    services.start()
    assert services.health() == {"api": Health(True, "up"), "hooks": Health(True, "up"),
                                 "proxy": Health(True, "up")}
    services.stop()
    services.stop()  # twice is harmless
    assert log == ["start api", "start hooks", "start proxy", "stop proxy", "stop hooks",
                   "stop api"]


def test_a_service_that_cannot_start_stops_the_ones_before_it() -> None:
    log: list[str] = []
    services = Services([Recorded("api", log), Recorded("hooks", log),
                         Recorded("proxy", log, fail_start=True), Recorded("later", log)])
    with pytest.raises(AirlockError, match="proxy cannot start"):
        services.run(signals=())
    assert log == ["start api", "start hooks", "stop hooks", "stop api"]


def test_run_serves_until_asked_to_stop_and_a_dead_service_stops_them_all() -> None:
    log: list[str] = []
    services = Services([Recorded("api", log), Recorded("hooks", log)])
    threading.Timer(0.2, services.request_stop).start()
    services.run(signals=())
    assert log == ["start api", "start hooks", "stop hooks", "stop api"]

    log.clear()
    hooks = Recorded("hooks", log)
    services = Services([Recorded("api", log), hooks])

    def die() -> None:
        hooks.running = False

    threading.Timer(0.2, die).start()
    with pytest.raises(AirlockError, match="the hooks service stopped on its own"):
        services.run(signals=())
    assert log == ["start api", "start hooks", "stop hooks", "stop api"]


def test_a_health_check_that_raises_reports_the_service_unhealthy() -> None:
    class Broken(Recorded):
        def health(self) -> Health:
            raise OSError("no such socket")

    services = Services([Broken("hooks", [])])
    assert services.health() == {"hooks": Health(False, "health check failed: no such socket")}


def test_a_periodic_service_keeps_going_after_a_failed_round() -> None:
    rounds: list[int] = []

    def work() -> None:
        rounds.append(1)
        if len(rounds) == 1:
            raise RuntimeError("the first round fails")

    periodic = PeriodicService("maintenance", work, interval=0.01)
    assert not periodic.health().ok
    periodic.start()
    deadline = time.monotonic() + 10
    while len(rounds) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert periodic.health().ok
    periodic.stop()
    assert len(rounds) >= 3 and not periodic.health().ok


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT])
def test_airlock_up_reports_every_service_and_cleans_up_on_a_signal(
        tmp_path: Path, stop_with: signal.Signals) -> None:
    port = free_port()
    with airlock_up(port=port, cwd=tmp_path) as up:
        services = up.health["services"]
        assert list(services) == ["api", "hooks", "notifications", "maintenance", "anchors"]
        assert all(s["ok"] for s in services.values())
        socket_file = tmp_path / ".airlock" / "hooks.sock"
        assert socket_file.is_socket()
        output = up.stop(stop_with, timeout=30)
    assert up.proc.returncode == 0, output
    assert not socket_file.exists()  # what it created, it removed
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)


def test_airlock_up_on_a_port_in_use_says_so_and_leaves_nothing_behind(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "airlock", "up", "--port", str(port)],
                                cwd=tmp_path, capture_output=True, text=True, timeout=60,
                                env={**os.environ, "NO_COLOR": "1", "AIRLOCK_CONFIG": ""})
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert not (tmp_path / ".airlock" / "hooks.sock").exists()


def test_service_names_are_unique_because_health_reports_them_by_name() -> None:
    with pytest.raises(AirlockError, match="two services are named 'pgwire'"):
        Services([Recorded("pgwire", []), Recorded("pgwire", [])])
