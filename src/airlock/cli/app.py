"""The Typer application, its sub-apps and what every command shares."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from airlock.config import Config, load_config
from airlock.runtime import Runtime

# Exit codes scripts can rely on.
EXIT_OK = 0
EXIT_FAILED = 1  # a check that can fail did (audit verify)
EXIT_ERROR = 2  # bad input, bad config, airlock error
EXIT_HOLD = 3  # `check`: the action would be held
EXIT_DENY = 4  # `check`: the action would be denied

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

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class CliState:
    config_path: str | None = None
    _runtime: Runtime | None = field(default=None, repr=False)

    def config(self) -> Config:
        return self.runtime().config

    def runtime(self) -> Runtime:
        if self._runtime is None:
            from airlock.config import find_config
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


@app.callback()
def _root(ctx: typer.Context,
          config: str | None = typer.Option(
              None, "--config", "-c", metavar="PATH",
              help="Configuration file (default: $AIRLOCK_CONFIG, else ./airlock.toml, else "
                   "built-in defaults).")) -> None:
    ctx.obj = CliState(config)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}")
    sys.exit(code)
