"""`airlock audit export|verify`."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from airlock.anchors import AnchorReport, anchored_seq, read_anchors, verify_anchors
from airlock.audit import AuditRecord, VerifyReport, read_export, verify_records
from airlock.cli.app import EXIT_FAILED, audit_app, err, out, state
from airlock.console.auditview import save_verification
from airlock.errors import AirlockError, AuditError
from airlock.model import utcnow
from airlock.runtime import Runtime


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
                                            help="Verify an export instead of the live log."),
           as_json: bool = typer.Option(False, "--json", help="Print the result as JSON.")
           ) -> None:
    """Check the hash chain and HMACs, then the log against the anchors `airlock up` wrote to
    the vault. Exit 0 when intact, 1 naming the first bad record."""
    if as_json:
        _verify_json(ctx, file)
        return
    runtime = state(ctx).runtime()
    key = runtime.existing_audit_key()
    records: Callable[[], Iterable[AuditRecord]]
    if file is not None:
        source = str(file)
        records = lambda: read_export(file)  # noqa: E731
    else:
        source = f"the live log in {runtime.config.state_dir}"
        records = runtime.store.audit_records
    try:
        report = verify_records(records(), key)
    except AuditError as exc:
        out.print(f"[bold red]FAILED[/] {escape(exc.message)}")
        raise typer.Exit(EXIT_FAILED) from None
    if not report.ok:
        where = f" (line {report.bad_position})" if file is not None else ""
        out.print(f"[bold red]FAILED[/] at record {report.bad_seq}{where}: "
                  f"{escape(report.problem)}")
        out.print(f"{report.count} records before it verify")
        raise typer.Exit(EXIT_FAILED)
    if file is None:
        _remember(runtime, report)
    mac = "hashes and HMACs" if report.mac_checked else \
        "hashes only (no audit key here, HMACs not checked)"
    out.print(f"[bold green]OK[/] {report.count} records in {escape(source)} verify ({mac})")
    out.print(f"head: {report.head}")
    if not _anchors_hold(runtime, records, key, report.count):
        raise typer.Exit(EXIT_FAILED)


def _remember(runtime: Runtime, report: VerifyReport) -> None:
    """Keep the result for the console's audit page (which shows the last one, and when). A
    state this account cannot write does not make verifying fail."""
    try:
        save_verification(runtime.store, report, at=utcnow(), by="airlock audit verify")
    except Exception as exc:
        err.print(f"note: the result could not be kept for the console ({escape(str(exc))})")


def _verify_json(ctx: typer.Context, file: Path | None) -> None:
    """`audit verify --json`: one JSON document; what the anchors check says is in `notes`."""
    runtime = state(ctx).runtime()
    key = runtime.existing_audit_key()
    records: Callable[[], Iterable[AuditRecord]] = (
        (lambda: read_export(file)) if file is not None else runtime.store.audit_records)
    try:
        report = verify_records(records(), key)
    except AuditError as exc:
        print(json.dumps({"ok": False, "problem": exc.message}, indent=2))
        raise typer.Exit(EXIT_FAILED) from None
    notes = Console(file=io.StringIO(), no_color=True, highlight=False, width=100_000)
    anchors_ok = report.ok and _anchors_hold(runtime, records, key, report.count, say=notes)
    if file is None:
        _remember(runtime, report)
    assert isinstance(notes.file, io.StringIO)
    print(json.dumps({
        "ok": report.ok and anchors_ok, "chain_ok": report.ok, "anchors_ok": anchors_ok,
        "count": report.count, "head": report.head, "mac_checked": report.mac_checked,
        "problem": report.problem or None, "bad_seq": report.bad_seq,
        "bad_position": report.bad_position if file is not None else None,
        "source": str(file) if file is not None else "live",
        "notes": notes.file.getvalue().splitlines()}, indent=2))
    if not (report.ok and anchors_ok):
        raise typer.Exit(EXIT_FAILED)


def _anchors_hold(runtime: Runtime, records: Callable[[], Iterable[AuditRecord]],
                  key: bytes | None, count: int, say: Console | None = None) -> bool:
    """Read the log against the vault's anchors and say so; False when they contradict it."""
    say = say or out
    if not runtime.config.vault.enabled:
        say.print("anchors: none — the vault is disabled, so a log rewritten with the key would "
                  "still verify; keep the head above somewhere else")
        return True
    try:
        objects = runtime.vault.store
        anchors, unreadable = read_anchors(objects)
        state_says = anchored_seq(runtime.store)
    except AirlockError as exc:
        say.print(f"[bold red]FAILED[/] the anchors in the vault cannot be read: "
                  f"{escape(exc.message)}")
        return False
    checked = verify_anchors(records(), anchors, key, anchored_seq=state_says)
    checked.problems[:0] = unreadable
    where = escape(objects.location)
    if not checked.ok:
        at = f" at record {checked.bad_seq}" if checked.bad_seq is not None else ""
        say.print(f"[bold red]FAILED[/]{at}: {escape(checked.problems[0])}")
        for problem in checked.problems[1:]:
            say.print(f"  also: {escape(problem)}")
        return False
    if checked.newest is None:
        say.print(f"anchors: none yet in {where} (`airlock up` writes one every minute while "
                  "the log grows)")
        return True
    newest = checked.newest
    say.print(f"anchors: {checked.anchors} in {where}; every anchored record matches "
              f"({checked.checked} compared)")
    say.print(f"newest anchor: record {newest.seq}, written {_age(checked)} ago")
    if count > newest.seq:
        say.print(f"records {newest.seq + 1}–{count} are newer than the newest anchor")
    return True


def _age(report: AnchorReport) -> str:
    age = report.age(utcnow()) or timedelta(0)
    seconds = max(0, int(age.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
