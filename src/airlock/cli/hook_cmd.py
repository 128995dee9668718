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

import logging
import sys
from pathlib import Path

import typer
from rich.markup import escape

from airlock.cli.app import app, out, state
from airlock.errors import InputError
from airlock.fronts.hooks import autostart
from airlock.fronts.hooks.autostart import hook_config as hook_config
from airlock.fronts.hooks.inprocess import DEADLINE_SECONDS as DEADLINE_SECONDS
from airlock.fronts.hooks.inprocess import guarded_answer, hook_answer, write_bytes
from airlock.fronts.hooks.inprocess import within as within
from airlock.fronts.hooks.runner import MAX_PAYLOAD_BYTES

HarnessArg = typer.Argument(..., metavar="HARNESS", help="claude, cursor, codex or gemini.")


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
    write_bytes(sys.stdout, out)
    write_bytes(sys.stderr, err)
    raise typer.Exit(answer.exit_code)


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
    if autostart.refusal(config):
        out.print("run `airlock up` for fast answers (without it each tool call starts airlock, "
                  "a second or more)")
    else:
        out.print("without `airlock up`, the first tool call starts a hooks-only daemon (a few "
                  "seconds; it leaves after 30 idle minutes, log in "
                  f"{escape(str(config.state_dir / autostart.LOG_NAME))}); `airlock up` takes "
                  "over from it")
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
