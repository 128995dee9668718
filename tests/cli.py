"""Run the real `airlock` command line in a subprocess, as a user or script would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


def airlock(*args: str, cwd: Path, input: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    full_env.pop("AIRLOCK_CONFIG", None)
    if env and "AIRLOCK_CONFIG" in env:
        full_env["AIRLOCK_CONFIG"] = env["AIRLOCK_CONFIG"]
    return subprocess.run([sys.executable, "-m", "airlock", *args], cwd=cwd, input=input,
                          capture_output=True, text=True, env=full_env, timeout=timeout)


def free_port() -> int:
    """A localhost port nobody listens on right now (the OS picks it; never a fixed one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningUp:
    """An `airlock up` process that answered /healthz with 200."""

    proc: subprocess.Popen[str]
    health: dict[str, Any]  # the first healthy /healthz answer

    def stop(self, with_signal: signal.Signals = signal.SIGTERM, timeout: float = 60) -> str:
        """Send the signal, wait for the process to end; returns everything it printed."""
        self.proc.send_signal(with_signal)
        output, _ = self.proc.communicate(timeout=timeout)
        return output


@contextmanager
def airlock_up(*args: str, port: int, cwd: Path, env: dict[str, str] | None = None,
               start_within: float = 30) -> Iterator[RunningUp]:
    """`airlock [ARGS…] up --port PORT` in a subprocess, yielded once /healthz answers 200.

    The process is killed on the way out if the test did not stop it (a failed assertion must not
    leave a server behind). Without AIRLOCK_CONFIG in `env`, the config is found from `cwd`."""
    full_env = {**os.environ, "NO_COLOR": "1", "AIRLOCK_CONFIG": "", **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "airlock", *args, "up", "--port", str(port)],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=full_env)
    try:
        deadline = time.monotonic() + start_within
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                if health.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                output, _ = proc.communicate()
                raise AssertionError(f"airlock up did not start (exit {proc.returncode}):\n{output}")
            time.sleep(0.05)
        yield RunningUp(proc, health.json())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
