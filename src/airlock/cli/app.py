"""The Typer application, its sub-apps and what every command shares."""

from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
import typer.core
from rich.console import Console
from rich.markup import escape

from airlock import __version__

if TYPE_CHECKING:  # imported when a command needs them: `airlock --version` should not wait
    from airlock.config import Config
    from airlock.runtime import Runtime

# Exit codes scripts can rely on.
EXIT_OK = 0
EXIT_FAILED = 1  # a check that can fail did (audit verify)
EXIT_ERROR = 2  # bad input, bad config, airlock error (`up`: a port or socket is taken)
EXIT_HOLD = 3  # `check`: the action would be held
EXIT_DENY = 4  # `check`: the action would be denied

# typer renders help with its own copy of click, so the context is typed loosely here.
_Display = Callable[[typer.core.TyperOption, Any], str | None]


def _flag_shows_no_type(display: _Display) -> _Display:
    """Typer's rich help prints `<bool>` after every flag (`--json <bool>`), as if it took a
    value; a flag takes none, so it shows none (tests/test_cli_polish.py checks every command)."""
    @functools.wraps(display)
    def shown(self: typer.core.TyperOption, ctx: Any) -> str | None:
        if self.is_flag and self.metavar is None:
            return None
        return display(self, ctx)
    return shown


if hasattr(typer.core.TyperOption, "display_type_rich"):  # the typer versions that print it
    typer.core.TyperOption.display_type_rich = _flag_shows_no_type(  # type: ignore[method-assign,assignment]
        typer.core.TyperOption.display_type_rich)

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
                  help="airlock: a gate between AI coding agents and real infrastructure.")
token_app = typer.Typer(no_args_is_help=True, help="Issue, list and revoke agent tokens.")
audit_app = typer.Typer(no_args_is_help=True, help="Export and verify the tamper-evident audit log.")
policy_app = typer.Typer(no_args_is_help=True, help="Show the policy and explain verdicts.")
config_app = typer.Typer(no_args_is_help=True, help="Validate the configuration.")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
app.add_typer(policy_app, name="policy")
app.add_typer(config_app, name="config")

INVOKED_AS_ENV = "AIRLOCK_INVOKED_AS"  # bin/airlock sets it to what was typed (`bin/airlock`)


def command_name() -> str:
    """How the person at this terminal runs airlock, so that a printed hint runs as printed:
    what bin/airlock was typed as, else `airlock` when that is the one on PATH, else the full
    path of the script that runs (a venv's airlock not on PATH)."""
    typed = os.environ.get(INVOKED_AS_ENV, "").strip()
    if typed:
        return typed
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is None or script.name != "airlock":
        return "airlock"  # `python -m airlock`, a test runner: the plain name
    on_path = shutil.which("airlock")
    if on_path is not None and Path(on_path).resolve() == script.resolve():
        return "airlock"
    return str(script.resolve())


def runnable(text: str) -> str:
    """`text` with every quoted airlock command spelled as this terminal runs it."""
    name = command_name()
    if name == "airlock":
        return text
    return text.replace("`airlock ", f"`{name} ").replace("`sudo airlock ", f"`sudo {name} ")


class _Console(Console):
    """A console whose printed hints (`airlock approve ID`) run as printed (`runnable`)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(runnable(o) if isinstance(o, str) else o for o in objects), **kwargs)


out: Console = _Console(highlight=False, soft_wrap=True)
err: Console = _Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class CliState:
    config_path: str | None = None
    _runtime: Runtime | None = field(default=None, repr=False)

    def config(self) -> Config:
        return self.runtime().config

    def runtime(self) -> Runtime:
        if self._runtime is None:
            from airlock.config import find_config, load_config
            from airlock.runtime import Runtime
            from airlock.setup.system import refuse_foreign_state

            refuse_foreign_state(find_config(self.config_path))  # airlock runs as another user
            self._runtime = Runtime(load_config(self.config_path))
        return self._runtime


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        obj = CliState()
        ctx.find_root().obj = obj
    return obj


def _print_version(value: bool) -> None:
    if value:
        out.print(f"airlock {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(ctx: typer.Context,
          config: str | None = typer.Option(
              None, "--config", "-c", metavar="PATH",
              help="Configuration file (default: $AIRLOCK_CONFIG, else ./airlock.toml, else "
                   "built-in defaults)."),
          version: bool = typer.Option(False, "--version", callback=_print_version,
                                       is_eager=True, help="Print airlock's version and exit.")
          ) -> None:
    ctx.obj = CliState(config)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}")
    sys.exit(code)
