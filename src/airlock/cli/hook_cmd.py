"""`airlock hook HARNESS`, `airlock install HARNESS`, `airlock uninstall HARNESS`.

`airlock hook` is the in-process path: the harness's JSON on stdin, its answer on stdout, stderr
and the exit code. It is what the hook client falls back to when no daemon answers, and it fails
closed on its own too: a configuration that does not load, an exception, or a judgement that
takes too long is answered with that harness's blocking form, never with a crash.

Where its configuration comes from: `--config` or $AIRLOCK_CONFIG — never ./airlock.toml,
because the hook runs in the agent's working directory, where the agent can write files.
Without either it runs on the built-in policy, with its state in `--state-dir`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import typer
from rich.markup import escape

from airlock.cli.app import app, out, state
from airlock.config import CONFIG_ENV, DEFAULT_STATE_DIR, Config, load_config
from airlock.errors import InputError
from airlock.fronts.hooks import HARNESSES
from airlock.fronts.hooks.base import Answer, Harness
from airlock.fronts.hooks.messages import failed
from airlock.fronts.hooks.runner import MAX_PAYLOAD_BYTES

HarnessArg = typer.Argument(..., metavar="HARNESS", help="claude, cursor, codex or gemini.")
DEADLINE_SECONDS = 20  # beyond [hooks] wait_seconds: a judgement that takes longer is blocked


@app.command("hook")
def hook(ctx: typer.Context, harness: str = HarnessArg,
         state_dir: Path | None = typer.Option(
             None, "--state-dir", help="State folder (default: the configuration's).")) -> None:
    """Answer one agent hook call: the harness's JSON on stdin, its answer on stdout."""
    # stderr is what the harness shows the model: the answer's reason, never a log traceback
    # (failures are recorded in the audit log where it can be written).
    logging.getLogger("airlock").addHandler(logging.NullHandler())
    answer = guarded_answer(harness, lambda: hook_answer(
        state(ctx).config_path, harness, sys.stdin.buffer.read(MAX_PAYLOAD_BYTES + 1), state_dir))
    out, err = answer.encoded()
    _write(sys.stdout, out)
    _write(sys.stderr, err)
    raise typer.Exit(answer.exit_code)


def guarded_answer(harness_name: str, work: Callable[[], Answer]) -> Answer:
    """`work()`, or the harness's blocking answer whatever it raised. A hook that crashes exits
    1, which every harness reads as "not a block" and lets the call run."""
    try:
        return work()
    except Exception as exc:
        harness = HARNESSES.get(harness_name)
        message = failed(f"{type(exc).__name__}: {exc!r}"[:500])
        return harness.refuse(message) if harness else Answer(2, "", message)


def _write(stream: TextIO, data: bytes) -> None:
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


def hook_config(config_path: str | None, state_dir: Path | None) -> Config:
    if config_path is not None or os.environ.get(CONFIG_ENV):
        config = load_config(config_path)
    else:
        config = Config(path=None, state_dir=(Path.cwd() / DEFAULT_STATE_DIR).resolve())
    if state_dir is not None:
        config = dataclasses.replace(config, state_dir=state_dir.expanduser().resolve())
    return config


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


ProjectOpt = typer.Option(False, "--project", help="This project's settings file (see --dir).")
UserOpt = typer.Option(False, "--user", help="Your user settings file (the default).")
DirOpt = typer.Option(None, "--dir", help="The project folder (default: the current folder).")
WrapMcpOpt = typer.Option(None, "--wrap-mcp/--no-wrap-mcp", help="Put the harness's stdio MCP "
                          "servers behind `airlock mcp wrap` (default: ask on a terminal).")


def _where(harness: str, project: bool, user: bool, directory: Path | None) -> Path:
    from airlock.fronts.hooks.install import settings_path

    if project and user:
        raise InputError("give --project or --user, not both")
    if directory is not None and not project:
        raise InputError("--dir goes with --project")
    folder = (directory or Path.cwd()).resolve() if project else None
    return settings_path(harness, project=folder)


@app.command("install")
def install(ctx: typer.Context, harness: str = HarnessArg, project: bool = ProjectOpt,
            user: bool = UserOpt, directory: Path | None = DirOpt,
            wrap_mcp: bool | None = WrapMcpOpt) -> None:
    """Merge airlock's hook into a harness's settings file (nothing else in it changes)."""
    from airlock.fronts.hooks import install as installer

    path = _where(harness, project, user, directory)
    config = state(ctx).config()
    done = installer.install(harness, config, path)
    verb = "installed airlock's hook in" if done.changed else "airlock's hook is already in"
    out.print(f"{verb} {escape(str(path))} ({', '.join(done.events)})")
    out.print(f"it judges with {escape(config.source)}; state in {config.state_dir}")
    out.print("run `airlock up` for fast answers (without it each tool call starts airlock, "
              "about half a second)")
    if installer.NOTES[harness]:
        out.print(f"note: {escape(installer.NOTES[harness])}")
    from airlock.cli.mcp_cmd import offer_to_wrap

    offer_to_wrap(harness, _project_folder(project, directory), wrap_mcp, config)


@app.command("uninstall")
def uninstall(harness: str = HarnessArg, project: bool = ProjectOpt, user: bool = UserOpt,
              directory: Path | None = DirOpt) -> None:
    """Remove airlock's hook from a harness's settings file (and only that)."""
    from airlock.fronts.hooks import install as installer

    path = _where(harness, project, user, directory)
    if installer.uninstall(harness, path):
        out.print(f"removed airlock's hook from {escape(str(path))}")
    else:
        out.print(f"airlock's hook was not in {escape(str(path))}; nothing changed")
    from airlock.cli.mcp_cmd import restore_wrapped

    restore_wrapped(harness, _project_folder(project, directory))


def _project_folder(project: bool, directory: Path | None) -> Path | None:
    return (directory or Path.cwd()).resolve() if project else None
