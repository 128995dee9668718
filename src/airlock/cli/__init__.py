"""The `airlock` command line. Errors are caught here, at the edge, and printed as one clear
message with the next step; nothing below prints tracebacks at users."""

from __future__ import annotations

import sys

from airlock.cli import (  # noqa: F401  (registers commands)
    admin_cmd,
    approve_cmd,
    audit_cmd,
    check_cmd,
    credentials_cmd,
    demo_cmd,
    doctor_cmd,
    endpoints_cmd,
    hook_cmd,
    inventory_cmd,
    mcp_cmd,
    runbook_cmd,
    setup_cmd,
    sql_cmd,
    token_cmd,
    vault_cmd,
)
from airlock.cli.app import EXIT_ERROR, app, fail
from airlock.errors import AirlockError


def main() -> None:
    try:
        app()
    except AirlockError as exc:
        fail(str(exc), EXIT_ERROR)
    except KeyboardInterrupt:
        sys.exit(130)
