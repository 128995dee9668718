"""The `airlock` command line. Errors are caught here, at the edge, and printed as one clear
message with the next step; nothing below prints tracebacks at users.

Each `*_cmd` module registers its commands on `app` when imported. Importing all of them costs
about a second (the console, uvicorn, the vault, …), which every `airlock …` run — and every
test that runs one — would pay; so `main` imports only the module of the command named on the
command line, and all of them when none is named or the name is not known (help, a typo: the
full list is shown). `COMMAND_MODULES` is checked against the registrations by
tests/test_cli_lazy.py.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from airlock.cli.app import EXIT_ERROR, app, fail
from airlock.errors import AirlockError

__all__ = ["COMMAND_MODULES", "app", "command_named", "load", "load_all", "main"]

# The top-level command or group → the module that registers it (and its subcommands).
COMMAND_MODULES = {
    "approvals": "approve_cmd", "approve": "approve_cmd", "approver": "approve_cmd",
    "deny": "approve_cmd", "audit": "audit_cmd", "backup": "vault_cmd", "cancel": "vault_cmd",
    "deferred": "vault_cmd", "drill": "vault_cmd", "restore": "vault_cmd",
    "snapshots": "vault_cmd", "undo": "vault_cmd", "vault": "vault_cmd", "check": "check_cmd",
    "policy": "check_cmd", "config": "admin_cmd", "init": "admin_cmd", "up": "admin_cmd",
    "credentials": "credentials_cmd", "demo": "demo_cmd", "doctor": "doctor_cmd",
    "endpoints": "endpoints_cmd", "hook": "hook_cmd", "install": "hook_cmd",
    "uninstall": "hook_cmd", "inventory": "inventory_cmd", "mcp": "mcp_cmd",
    "runbook": "runbook_cmd", "setup": "setup_cmd", "sql": "sql_cmd", "token": "token_cmd",
}
_VALUED_OPTIONS = ("--config", "-c")  # the root's options that take a value


def command_named(argv: Sequence[str]) -> str | None:
    """The command the arguments name (after the root's own options), None when there is none
    or only `--version` (which needs no command)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _VALUED_OPTIONS:
            i += 2
        elif arg.startswith("-"):
            if arg == "--version":
                return None
            i += 1  # --config=PATH, or an option typer will refuse with its own message
        else:
            return arg
    return None


def load(argv: Sequence[str]) -> None:
    """Register the commands `argv` needs: the named command's module, else every module
    (`--version` alone needs none)."""
    name = command_named(argv)
    if name is None and "--version" in argv:
        return
    modules = [COMMAND_MODULES[name]] if name in COMMAND_MODULES else sorted(
        set(COMMAND_MODULES.values()))
    for module in modules:
        importlib.import_module(f"airlock.cli.{module}")


def load_all() -> None:
    """Every command registered (for tests and tools that drive `app` directly)."""
    for module in sorted(set(COMMAND_MODULES.values())):
        importlib.import_module(f"airlock.cli.{module}")


def main() -> None:
    try:
        load(sys.argv[1:])
        app()
    except AirlockError as exc:
        fail(str(exc), EXIT_ERROR)
    except KeyboardInterrupt:
        sys.exit(130)
