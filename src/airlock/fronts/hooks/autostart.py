"""The hooks-only daemon a hook starts when no `airlock up` serves hooks (single-user trial).

Without a daemon every tool call would start airlock in-process (a second or more); with one it
costs a few milliseconds. So the hook client, finding no socket in the user's own state folder,
starts this module detached, waits (bounded) for its socket, and asks it; on any failure it falls
back to the in-process path as before — never to an allow:

    python -m airlock.fronts.hooks.autostart [--config PATH] hook HARNESS [--state-dir DIR]
                                             [--idle-seconds N]

(the client passes the arguments of its in-process fallback, `airlock [--config PATH] hook
HARNESS --state-dir DIR`, so both judge with the same configuration and state).

Only where the state folder is this user's own and the socket is the default one inside it:
with `[hooks] socket` (a system socket, maybe another user's) starting airlock is systemd's job,
and this exits with REFUSED at once so the client falls back without waiting.

Exactly one: the daemon holds an exclusive lock on `hooks.lock` in the state folder for its
life; a second starter waits briefly for that lock or for the first one's socket, and leaves the
serving to it. Its pid is in `hooks-auto.pid`, its log in `hooks.log`. It exits after
IDLE_SECONDS without a call, on SIGTERM/SIGINT, and when `airlock up` takes over
(`take_over`, called by the hooks service of `airlock up` before it binds the socket).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from airlock.config import CONFIG_ENV, DEFAULT_STATE_DIR, Config, load_config
from airlock.errors import AirlockError

log = logging.getLogger("airlock.hooks.autostart")

LOCK_NAME = "hooks.lock"
PID_NAME = "hooks-auto.pid"
LOG_NAME = "hooks.log"
MODULE = "airlock.fronts.hooks.autostart"
IDLE_SECONDS = 30 * 60
LOCK_WAIT_SECONDS = 5.0  # a daemon that is just exiting releases its lock within this
TAKE_OVER_SECONDS = 10.0
REFUSED = 3  # the client falls back to the in-process path at once


def hook_config(config_path: str | None, state_dir: Path | None) -> Config:
    """The configuration a hook judges with: `--config` or $AIRLOCK_CONFIG — never
    ./airlock.toml, since the hook runs where the agent writes files — else the built-in policy
    with its state in `state_dir` (default ./.airlock)."""
    if config_path is not None or os.environ.get(CONFIG_ENV):
        config = load_config(config_path)
    else:
        config = Config(path=None, state_dir=(Path.cwd() / DEFAULT_STATE_DIR).resolve())
    if state_dir is not None:
        config = dataclasses.replace(config, state_dir=state_dir.expanduser().resolve())
    return config


def refusal(config: Config) -> str:
    """Why a hook must not start a daemon for this configuration ('' when it may)."""
    if config.hooks.socket is not None or config.hooks.socket_group is not None:
        return ("[hooks] socket is set: the hooks are served by a system service (systemd "
                "starts it), not by a hook")
    folder = config.state_dir
    try:
        owner = folder.stat().st_uid
    except FileNotFoundError:
        return ""  # made private (0700) by whoever creates it first, as this user
    except OSError as exc:
        return f"the state folder {folder} cannot be read ({exc.strerror})"
    if owner != os.getuid():
        return f"the state folder {folder} belongs to another user"
    return ""


def parse(argv: Sequence[str]) -> tuple[str | None, Path | None, float]:
    """The fallback's arguments: [--config PATH] hook HARNESS [--state-dir DIR]."""
    config_path: str | None = None
    state_dir: Path | None = None
    idle = float(IDLE_SECONDS)
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--config", "--state-dir", "--idle-seconds") and i + 1 < len(args):
            value = args[i + 1]
            if arg == "--config":
                config_path = value
            elif arg == "--state-dir":
                state_dir = Path(value)
            else:
                idle = float(value)
            i += 2
        elif arg == "hook" and i + 1 < len(args):
            i += 2  # the harness: the daemon serves them all
        else:
            raise AirlockError(f"unknown argument {arg!r}",
                               hint="expected [--config PATH] hook HARNESS [--state-dir DIR]")
    return config_path, state_dir, idle


def _lock(path: Path) -> int:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _answers(path: Path) -> bool:
    from airlock.fronts.hooks.daemon import connectable_path

    try:
        address, fd = connectable_path(path)
    except (AirlockError, OSError):
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(1.0)
            probe.connect(address)
        return True
    except OSError:
        return False
    finally:
        if fd is not None:
            os.close(fd)


def is_auto_daemon(pid: int) -> bool:
    """Whether `pid` is a daemon this module started (not a process that reused its pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return MODULE.encode() in cmdline and Path(f"/proc/{pid}").stat().st_uid == os.getuid()


def take_over(state_dir: Path, *, seconds: float = TAKE_OVER_SECONDS) -> int | None:
    """For `airlock up`: stop a daemon a hook started in this state folder, and hold the lock
    so no hook starts another while `airlock up` serves. Returns the lock's descriptor (the
    caller closes it when it stops), or None when the lock is held by something that is not an
    auto-started daemon (another `airlock up`: binding the socket then says so)."""
    fd = _lock(state_dir / LOCK_NAME)
    if _try_lock(fd):
        return fd
    pid = _read_pid(state_dir / PID_NAME)
    if pid is None or not is_auto_daemon(pid):
        os.close(fd)
        return None
    log.warning("stopping the hooks daemon a hook started (pid %d): airlock up serves hooks "
                "from now on", pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _try_lock(fd):
            return fd
        time.sleep(0.05)
    os.close(fd)
    raise AirlockError(f"the hooks daemon a hook started (pid {pid}) did not stop within "
                       f"{seconds:g} s",
                       hint=f"stop it (`kill {pid}`), then start `airlock up` again")


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def serve(config: Config, idle_seconds: float) -> int:
    """Become the hooks daemon for `config`, unless another serves or is starting. Returns the
    exit status: 0 (served and left, or someone else serves), REFUSED."""
    from airlock.fronts.hooks.daemon import HookDaemon, socket_path

    why = refusal(config)
    if why:
        print(f"airlock: not starting the hooks daemon: {why}", file=sys.stderr)
        return REFUSED
    state_dir = config.state_dir
    path = socket_path(state_dir)
    fd = _lock(state_dir / LOCK_NAME)
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while not _try_lock(fd):  # another daemon serves, is starting, or is just leaving
        if _answers(path) or time.monotonic() > deadline:
            return 0
        time.sleep(0.05)
    if _answers(path):  # an `airlock up` without the lock (an older one): it serves
        return 0
    os.close(os.open(state_dir / LOG_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    handler = logging.FileHandler(state_dir / LOG_NAME)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("airlock").addHandler(handler)
    logging.getLogger("airlock").setLevel(logging.INFO)
    pid_path = state_dir / PID_NAME
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    from airlock.classify.shell import rules
    from airlock.fronts.hooks.runner import HookRunner
    from airlock.runtime import Runtime

    rules.remember_checks_in(state_dir)
    runtime = Runtime(config)
    try:
        daemon = HookDaemon(HookRunner.from_runtime(runtime), path).start()
        pid_fd = os.open(pid_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(pid_fd, "w", encoding="ascii") as pid_file:
            pid_file.write(f"{os.getpid()}\n")
        log.info("serving hooks on %s (started by a hook; exits after %g s without a call)",
                 path, idle_seconds)
        try:
            while not stop.is_set():
                left = idle_seconds - daemon.idle_seconds()
                if left <= 0:
                    log.info("no hook call for %g s: leaving", idle_seconds)
                    break
                stop.wait(min(left, 60.0))
        finally:
            daemon.withdraw()  # new calls fall back (or start another daemon) from now
            daemon.close()
            with contextlib.suppress(OSError):
                pid_path.unlink()
    finally:
        runtime.close()
        os.close(fd)
    return 0


def main(argv: Sequence[str]) -> int:
    try:
        config_path, state_dir, idle = parse(argv)
        config = hook_config(config_path, state_dir)
    except Exception as exc:  # the client falls back to the in-process path, which says why
        print(f"airlock: not starting the hooks daemon: {exc}", file=sys.stderr)
        return REFUSED
    os.chdir("/")  # hold no agent's folder open
    return serve(config, idle)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
