"""`airlock mcp` (airlock's own MCP server over stdio) and `airlock mcp wrap -- COMMAND …`.

Both run as a subprocess of the agent's harness, in the agent's working directory, so — like
`airlock hook` — they read their configuration only from `--config` or $AIRLOCK_CONFIG, never
from ./airlock.toml, which the agent can write.

Who is acting: the agent's airlock token from $AIRLOCK_TOKEN or `--token-file`; without one (only
in-process) the `[hooks] principal`, as for the hooks. With `--server URL` (airlock running as
its own OS user, `airlock up` at URL) this process is a thin client: it holds nothing but the
token and asks `airlock up` for everything.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from airlock.cli.app import app
from airlock.cli.app import state as cli_state
from airlock.errors import InputError

if TYPE_CHECKING:
    from airlock.config import Config
    from airlock.model import Caller
    from airlock.runtime import Runtime

# Nothing of the MCP front is imported here: every `airlock` command (a hook's fallback too)
# loads this module, and only `airlock mcp …` needs the rest.
TOKEN_ENV = "AIRLOCK_TOKEN"  # noqa: S105  (a variable's name; fronts/mcp/wrap.py strips it)

mcp_app = typer.Typer(no_args_is_help=False, invoke_without_command=True,
                      help="airlock's MCP server (stdio), and `wrap` to guard another one.")
app.add_typer(mcp_app, name="mcp")

ServerOpt = typer.Option(None, "--server", metavar="URL", help="A running `airlock up` (e.g. "
                         "http://127.0.0.1:8377): act as its thin client, holding only the token.")
TokenFileOpt = typer.Option(None, "--token-file", help=f"Read the agent's airlock token from "
                            f"this file (default: ${TOKEN_ENV}).")
StateDirOpt = typer.Option(None, "--state-dir", help="State folder (default: the configuration's).")


def agent_token(token_file: Path | None) -> str | None:
    if token_file is not None:
        try:
            token = token_file.expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(f"cannot read the token file {token_file}: {exc}") from None
        if not token:
            raise InputError(f"the token file {token_file} is empty")
        return token
    return os.environ.get(TOKEN_ENV, "").strip() or None


def _runtime_and_caller(ctx: typer.Context, state_dir: Path | None, token: str | None
                        ) -> tuple[Runtime, Callable[[], Caller]]:
    from airlock.cli.hook_cmd import hook_config
    from airlock.runtime import Runtime
    from airlock.tokens import authenticate, local_caller

    config = hook_config(cli_state(ctx).config_path, state_dir)
    runtime = Runtime(config)
    if token is not None:
        authenticate(runtime.store, config, token)  # a bad token stops start-up, with its reason
        return runtime, lambda: authenticate(runtime.store, config, token)
    caller = local_caller(config, config.hooks.principal)
    return runtime, lambda: caller


@mcp_app.callback()
def mcp(ctx: typer.Context, server: str | None = ServerOpt,
        token_file: Path | None = TokenFileOpt, state_dir: Path | None = StateDirOpt) -> None:
    """Serve airlock's tools over stdio (SQL on configured databases, configured APIs, checking
    an action, waiting for an approval), every call through the gate."""
    if ctx.invoked_subcommand is not None:
        return
    import anyio

    from airlock.fronts.mcp import server as mcp_server

    token = agent_token(token_file)
    if server is not None:
        if token is None:
            raise InputError(f"--server needs the agent's airlock token (${TOKEN_ENV} or "
                             "--token-file)")
        anyio.run(mcp_server.serve_stdio_thin, server, token)
        return
    from airlock.fronts.mcp.tools import AirlockTools

    runtime, caller = _runtime_and_caller(ctx, state_dir, token)
    tools = AirlockTools(runtime)
    try:
        anyio.run(mcp_server.serve_stdio, tools, caller)
    finally:
        runtime.close()


@mcp_app.command("wrap", context_settings={"allow_interspersed_args": False})
def wrap(ctx: typer.Context,
         command: list[str] = typer.Argument(..., metavar="-- COMMAND [ARG…]",
                                             help="The MCP server to guard, as the harness ran it."),
         name: str | None = typer.Option(None, "--name", help="The server's name in targets "
                                         "(mcp:NAME/tool) and [hooks] mcp_resources (default: "
                                         "the command's file name)."),
         server: str | None = ServerOpt, token_file: Path | None = TokenFileOpt,
         state_dir: Path | None = StateDirOpt,
         args_key_absent: bool = typer.Option(False, "--args-key-absent", hidden=True,
                                              help="Written by `airlock install`: the original "
                                                   "entry had no `args` (for uninstall).")) -> None:
    """Guard a stdio MCP server: every tools/call goes through the gate first (held or denied
    calls are answered as tool errors, never forwarded); everything else passes."""
    from airlock.fronts.mcp.gatekeeper import CallGate, LocalCallGate, RemoteCallGate
    from airlock.fronts.mcp.relay import Relay
    from airlock.fronts.mcp.wrap import run_wrap

    token = agent_token(token_file)
    label = name or Path(command[0]).name
    gate: CallGate
    runtime: Runtime | None = None
    if server is not None:
        if token is None:
            raise InputError(f"--server needs the agent's airlock token (${TOKEN_ENV} or "
                             "--token-file)")
        gate = RemoteCallGate(server, token)
    else:
        runtime, caller = _runtime_and_caller(ctx, state_dir, token)
        gate = LocalCallGate(runtime, caller)
    try:
        code = run_wrap(command, Relay(label), gate, stdin=sys.stdin.buffer,
                        stdout=sys.stdout.buffer)
    finally:
        if runtime is not None:
            runtime.close()
    raise typer.Exit(code)


# -------------------------------------------------------------- `airlock install|uninstall`


def offer_to_wrap(harness: str, project: Path | None, wrap_choice: bool | None,
                  config: Config) -> None:
    """After installing the hooks: list the harness's MCP servers and, on `--wrap-mcp` or a yes
    at the prompt, put the stdio ones behind `airlock mcp wrap`."""
    from rich.markup import escape

    from airlock.cli.app import out
    from airlock.fronts.mcp import install as mcp_install

    if harness in mcp_install.NOT_HANDLED:
        out.print(f"MCP servers: {escape(mcp_install.NOT_HANDLED[harness])}")
        return
    path = mcp_install.mcp_settings_path(harness, project=project)
    if path is None or not path.exists():
        return
    found = mcp_install.survey(path)
    for name, why in found.skipped:
        out.print(f"MCP server {escape(name)} is left alone: {escape(why)}")
    if found.wrapped:
        out.print(f"MCP servers already behind airlock in {escape(str(path))}: "
                  f"{escape(', '.join(found.wrapped))}")
    if not found.wrappable:
        return
    names = ", ".join(found.wrappable)
    if wrap_choice is None:
        if not sys.stdin.isatty():
            out.print(f"MCP servers in {escape(str(path))} not behind airlock: {escape(names)} — "
                      "run again with --wrap-mcp to put their tool calls through the gate")
            return
        wrap_choice = typer.confirm(f"Put the MCP servers {names} ({path}) behind airlock, so "
                                    "their tool calls go through the gate?", default=True)
    if not wrap_choice:
        return
    changed = mcp_install.wrap_servers(path, list(found.wrappable),
                                       mcp_install.wrap_command(config))
    out.print(f"wrapped MCP servers {escape(', '.join(changed))} in {escape(str(path))} "
              "(`airlock uninstall` puts them back exactly)")


def restore_wrapped(harness: str, project: Path | None) -> None:
    from rich.markup import escape

    from airlock.cli.app import out
    from airlock.fronts.mcp import install as mcp_install

    path = mcp_install.mcp_settings_path(harness, project=project)
    if path is None:
        return
    restored = mcp_install.unwrap_all(path)
    if restored:
        out.print(f"restored MCP servers {escape(', '.join(restored))} in {escape(str(path))}")

