"""`airlock audit export|verify`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.markup import escape

from airlock.audit import read_export, verify_records
from airlock.cli.app import EXIT_FAILED, audit_app, err, out, state
from airlock.errors import AuditError


@audit_app.command("export")
def export(ctx: typer.Context,
           jsonl: bool = typer.Option(True, "--jsonl", help="One JSON record per line (the format)."),
           output: Path | None = typer.Option(None, "--output", "-o",
                                              help="Write to this file instead of stdout.")) -> None:
    """Write the whole audit log, verifiable later with `airlock audit verify --file`."""
    runtime = state(ctx).runtime()
    handle = output.open("w", encoding="utf-8") if output else sys.stdout
    count = 0
    try:
        for record in runtime.store.audit_records():
            handle.write(json.dumps(record.to_json(), sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
    finally:
        if output:
            handle.close()
    if output:
        err.print(f"exported {count} records to {output}")


@audit_app.command("verify")
def verify(ctx: typer.Context,
           file: Path | None = typer.Option(None, "--file", "-f",
                                            help="Verify an export instead of the live log.")) -> None:
    """Check the hash chain and HMACs. Exit 0 when intact, 1 naming the first bad record."""
    runtime = state(ctx).runtime()
    key = runtime.existing_audit_key()
    if file is not None:
        source = str(file)
        try:
            report = verify_records(read_export(file), key)
        except AuditError as exc:
            out.print(f"[bold red]FAILED[/] {escape(exc.message)}")
            raise typer.Exit(EXIT_FAILED) from None
    else:
        source = f"the live log in {runtime.config.state_dir}"
        report = verify_records(runtime.store.audit_records(), key)
    if report.ok:
        mac = "hashes and HMACs" if report.mac_checked else \
            "hashes only (no audit key here, HMACs not checked)"
        out.print(f"[bold green]OK[/] {report.count} records in {escape(source)} verify ({mac})")
        out.print(f"head: {report.head}  (keep this elsewhere: a log cut short at its end still verifies)")
        return
    where = f" (line {report.bad_position})" if file is not None else ""
    out.print(f"[bold red]FAILED[/] at record {report.bad_seq}{where}: {escape(report.problem)}")
    out.print(f"{report.count} records before it verify")
    raise typer.Exit(EXIT_FAILED)
