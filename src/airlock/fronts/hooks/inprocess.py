"""`airlock hook HARNESS` without the command line: the in-process path, lean.

The hook client falls back to `python -m airlock [--config PATH] hook HARNESS [--state-dir DIR]`
when no daemon answers and none can be started. Importing the whole command line (typer, rich,
every command, the console, the vault) cost about a second of that; `airlock/__main__.py` sends
exactly that argument shape here (`lean_main`, recognised by airlock/hookline.py without
importing anything), which imports only what a verdict needs. Any other
shape (`--help`, an unknown option) goes through the command line as before.

It fails closed like the command: a configuration that does not load, an exception, or a
judgement that takes too long is answered with that harness's blocking form, never a crash.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from airlock.fronts.hooks import HARNESSES
from airlock.fronts.hooks.autostart import hook_config
from airlock.fronts.hooks.base import Answer, Harness
from airlock.fronts.hooks.messages import failed
from airlock.hookline import HookLine

DEADLINE_SECONDS = 20  # beyond [hooks] wait_seconds: a judgement that takes longer is blocked


def lean_main(line: HookLine) -> int:
    """Answer the hook call `line` (airlock/hookline.py) and return the exit code."""
    config_path, harness, state_dir = line.config_path, line.harness, line.state_dir
    from airlock.fronts.hooks.runner import MAX_PAYLOAD_BYTES

    logging.getLogger("airlock").addHandler(logging.NullHandler())
    name = harness
    answer = guarded_answer(name, lambda: hook_answer(
        config_path, name, sys.stdin.buffer.read(MAX_PAYLOAD_BYTES + 1), state_dir))
    out, err = answer.encoded()
    write_bytes(sys.stdout, out)
    write_bytes(sys.stderr, err)
    return answer.exit_code


def guarded_answer(harness_name: str, work: Callable[[], Answer]) -> Answer:
    """`work()`, or the harness's blocking answer whatever it raised. A hook that crashes exits
    1, which every harness reads as "not a block" and lets the call run."""
    try:
        return work()
    except Exception as exc:
        harness = HARNESSES.get(harness_name)
        message = failed(f"{type(exc).__name__}: {exc!r}"[:500])
        return harness.refuse(message) if harness else Answer(2, "", message)


def write_bytes(stream: TextIO, data: bytes) -> None:
    try:
        stream.flush()
        stream.buffer.write(data)
        stream.buffer.flush()
    except OSError:
        pass  # the harness stopped reading; the exit code still speaks


def hook_answer(config_path: str | None, harness_name: str, raw: bytes,
                state_dir: Path | None) -> Answer:
    harness = HARNESSES.get(harness_name)
    if harness is None:
        return Answer(2, "", f"airlock: unknown harness {harness_name!r}; choose one of "
                             f"{', '.join(HARNESSES)}. The call is blocked.")
    from airlock.fronts.hooks.runner import HookRunner
    from airlock.runtime import Runtime

    try:
        config = hook_config(config_path, state_dir)
        from airlock.classify.shell import rules

        rules.remember_checks_in(config.state_dir)  # the packs' self-checks, once per version
        runtime = Runtime(config)
        runner = HookRunner.from_runtime(runtime)
    except Exception as exc:
        return harness.refuse(failed(f"airlock could not start: {exc}"))

    def work() -> Answer:
        try:
            return runner.run(harness_name, raw)
        finally:  # here, not after `within`: a judgement that overran still holds the store
            runtime.close()

    return within(config.hooks.wait_seconds + DEADLINE_SECONDS, work, harness)


def within(seconds: float, work: Callable[[], Answer], harness: Harness) -> Answer:
    """`work()`, or the harness's blocking answer if it has not finished in `seconds` (the
    harness would otherwise kill the hook — and let the call through)."""
    result: list[Answer] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # reported below as a block, never lost
            errors.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if result:
        return result[0]
    if errors:
        return harness.refuse(failed(f"{type(errors[0]).__name__}: {errors[0]}"))
    return harness.refuse(failed(f"airlock took longer than {seconds:g} s"))
