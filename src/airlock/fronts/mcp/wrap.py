"""`airlock mcp wrap -- COMMAND …`: the I/O around `relay.Relay`.

The harness starts this process instead of its MCP server; this process starts the server as a
child and relays newline-delimited JSON-RPC between the two over pipes (the server's stderr goes
straight to the harness). Each `tools/call` is judged by a `CallGate` before the server sees it;
a refused one is answered here and never forwarded.

Two threads read (the harness's stdin, the server's stdout); writes to either side hold a lock,
and so does the relay's state. A judgement runs on the thread that read the call, so calls are
judged and forwarded in the order they came. The wrap ends when the server ends (with its exit
status) or when the harness closes stdin (the server's stdin is closed, it gets `grace` seconds
to exit, then it is terminated). SIGTERM and SIGINT are passed on to the server.

The server gets this process's environment without `AIRLOCK_TOKEN`: the agent's airlock token
is for airlock, not for the server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import BinaryIO

from airlock.errors import InputError
from airlock.fronts.mcp.gatekeeper import CallGate
from airlock.fronts.mcp.relay import MAX_LINE, Judge, Relay, Send, Step

__all__ = ["TOKEN_ENV", "child_environment", "read_line", "run_wrap"]

TOKEN_ENV = "AIRLOCK_TOKEN"  # noqa: S105  (a variable's name)
GRACE_SECONDS = 5.0


def child_environment(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != TOKEN_ENV}


def read_line(stream: BinaryIO, limit: int = MAX_LINE) -> bytes:
    """One line of at most `limit` bytes; a longer one is consumed whole and returned as its
    first `limit + 1` bytes (so the relay refuses it rather than reading half a message)."""
    line = stream.readline(limit + 1)
    if len(line) > limit and not line.endswith(b"\n"):
        while True:
            rest = stream.readline(1024 * 1024)
            if not rest or rest.endswith(b"\n"):
                break
    return line


class _Wrap:
    def __init__(self, relay: Relay, gate: CallGate, proc: subprocess.Popen[bytes],
                 out: BinaryIO) -> None:
        self.relay = relay
        self.gate = gate
        self.proc = proc
        self.out = out
        self.state = threading.Lock()
        self.to_client = threading.Lock()
        self.to_server = threading.Lock()
        self.done = threading.Event()

    def carry_out(self, steps: Sequence[Step]) -> None:
        pending = list(steps)
        while pending:
            step = pending.pop(0)
            if isinstance(step, Judge):
                ruling = self.gate.rule(step.call)  # outside the state lock: it may take a while
                with self.state:
                    pending[:0] = self.relay.judged(step, ruling)
            else:
                self._send(step)

    def _send(self, step: Send) -> None:
        if step.to == "client":
            with self.to_client:
                self.out.write(step.line if step.line.endswith(b"\n") else step.line + b"\n")
                self.out.flush()
            return
        stdin = self.proc.stdin
        assert stdin is not None
        with self.to_server, contextlib.suppress(BrokenPipeError, ValueError):
            stdin.write(step.line)
            stdin.flush()

    def from_client(self, stream: BinaryIO) -> None:
        try:
            while True:
                line = read_line(stream)
                if not line:
                    break
                with self.state:
                    steps = self.relay.from_client(line)
                self.carry_out(steps)
        finally:  # the harness is gone: let the server finish, then stop it
            if self.proc.stdin is not None:
                with self.to_server, contextlib.suppress(OSError, ValueError):
                    self.proc.stdin.close()
            try:
                self.proc.wait(GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
            self.done.set()

    def from_server(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        try:
            for line in iter(stdout.readline, b""):
                with self.state:
                    steps = self.relay.from_server(line)
                self.carry_out(steps)
        finally:
            self.done.set()


def run_wrap(command: Sequence[str], relay: Relay, gate: CallGate, *, stdin: BinaryIO,
             stdout: BinaryIO, env: Mapping[str, str] | None = None) -> int:
    """Relay until the server or the harness ends; returns the server's exit status."""
    if not command:
        raise InputError("give the MCP server's command after `--`: airlock mcp wrap -- npx …")
    try:
        proc = subprocess.Popen(list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                env=child_environment(os.environ if env is None else env))
    except OSError as exc:
        raise InputError(f"cannot start the MCP server {command[0]!r}: {exc}") from None
    wrap = _Wrap(relay, gate, proc, stdout)
    threading.Thread(target=wrap.from_client, args=(stdin,), name="airlock-wrap-in",
                     daemon=True).start()
    threading.Thread(target=wrap.from_server, name="airlock-wrap-out", daemon=True).start()
    with _passing_signals(proc):
        wrap.done.wait()
        try:
            return proc.wait(GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                return proc.wait(GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                return proc.wait()


@contextlib.contextmanager
def _passing_signals(proc: subprocess.Popen[bytes]):  # type: ignore[no-untyped-def]
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def forward(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
