"""`airlock runbook RESOURCE`: the recovery runbook of a resource, generated from the real state."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from airlock.cli.app import app, state
from airlock.errors import InputError
from airlock.model import utcnow
from airlock.runbook import FORMATS, build, render


@app.command("runbook")
def runbook(ctx: typer.Context,
            resource: str = typer.Argument(..., help="The configured resource."),
            fmt: str = typer.Option("md", "--format", "-f", help="md, html or json."),
            as_json: bool = typer.Option(False, "--json", help="Print JSON (--format json)."),
            output: Path | None = typer.Option(None, "--output", "-o", metavar="FILE",
                                               help="Write it to FILE instead of stdout.")
            ) -> None:
    """Where RESOURCE's backups are and how old, the exact commands that bring it back (in
    order, runnable as printed), who can approve, the last drill and what else dies with it."""
    if as_json:
        fmt = "json"
    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    book = build(state(ctx).runtime(), resource, utcnow())
    text = render(book, fmt)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
