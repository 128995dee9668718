"""`airlock doctor`: is this machine protected? (doctor/)"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from airlock.cli.app import EXIT_FAILED, app, out, state
from airlock.doctor import CHECKS, Doctor, Report, Severity, examine
from airlock.errors import InputError

_CHECK_NAMES = ", ".join(name for name, _ in CHECKS)
_STYLE = {Severity.CRITICAL: "bold red", Severity.WARNING: "yellow", Severity.INFO: "dim"}


@app.command("doctor")
def doctor(ctx: typer.Context,
           developer: list[str] = typer.Option([], "--developer", help="Whose agents to check "
                                               "for (repeat; default: setup's developers, else "
                                               "$SUDO_USER, else you)."),
           workspace: list[Path] = typer.Option([], "--workspace", "-w", help="A folder the "
                                                "agents work in (repeat)."),
           root: Path = typer.Option(Path("/"), "--root", help="Where a system install lives "
                                     "(as for setup)."),
           check: list[str] = typer.Option([], "--check", help=f"Run only these checks: {_CHECK_NAMES}."),
           as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Check whether this machine is protected: each finding with its severity, evidence and
    fix. Exit 1 on any critical finding. Run it as root to check everything."""
    unknown = sorted(set(check) - {name for name, _ in CHECKS})
    if unknown:
        raise InputError(f"no check named {', '.join(unknown)}; the checks are {_CHECK_NAMES}")
    doc = Doctor.locate(config=state(ctx).config_path, root=root, developers=list(developer),
                        workspaces=[w.resolve() for w in workspace])
    report = examine(doc, set(check) if check else None)
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        _print(doc, report)
    if report.critical:
        raise typer.Exit(EXIT_FAILED)


def _print(doc: Doctor, report: Report) -> None:
    agents = ", ".join(a.name for a in doc.agents)
    out.print(f"airlock doctor: {escape(str(doc.config_path or 'no configuration'))}; the "
              f"agents run as {escape(agents)}")
    if report.clean:
        out.print(f"[bold green]clean bill[/]: {', '.join(report.checked)} — nothing to fix")
        for f in report.sorted():
            out.print(f"  [dim]info[/] {escape(f.title)}")
        return
    table = Table(show_lines=True)
    table.add_column("severity")
    table.add_column("finding", overflow="fold")
    table.add_column("fix", overflow="fold")
    for f in report.sorted():
        evidence = "".join(f"\n  [dim]{escape(line)}[/]" for line in f.evidence)
        table.add_row(f"[{_STYLE[f.severity]}]{f.severity.value}[/]",
                      f"{escape(f.title)}{evidence}\n[dim]({f.check})[/]", escape(f.fix))
    out.print(table)
    counts = report.to_json()["counts"]
    out.print(f"{counts['critical']} critical, {counts['warning']} warning(s), {counts['info']} "
              "note(s)")
