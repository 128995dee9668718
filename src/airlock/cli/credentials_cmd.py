"""`airlock credentials scan|import`: credentials an agent could pick up, and moving them into
airlock's custody (also the credentials step of `airlock setup`)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from airlock.cli.app import app, err, out, state
from airlock.config import find_config, load_config
from airlock.credentials.custody import Item, plan_custody
from airlock.credentials.importer import Custodian, default_roots, taken_names
from airlock.credentials.scan import Finding, ScanResult, scan
from airlock.errors import SetupError
from airlock.setup.layout import Layout
from airlock.setup.record import CredentialMove, SetupRecord
from airlock.setup.system import OsUser

credentials_app = typer.Typer(no_args_is_help=True,
                              help="Find credentials agents could read; move them into airlock's "
                                   "custody.")
app.add_typer(credentials_app, name="credentials")

WorkspaceOpt = typer.Option([], "--workspace", "-w", help="A folder the agents work in (repeat; "
                            "the developer's home is always scanned too).")
DeveloperOpt = typer.Option(None, "--developer", help="Whose files (default: the setup's "
                            "developers, else you).")
RootOpt = typer.Option(Path("/"), "--root", help="Where a system install lives (as for setup).")


def scanning(label: str) -> tuple[Progress | None, object]:
    """A progress bar on stderr for long scans, only on a terminal."""
    if not sys.stderr.isatty():
        return None, None
    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err, transient=True)
    return bar, bar.add_task(label, total=None)


def scan_as(custodian: Custodian | None, developer: OsUser, roots: list[Path]) -> ScanResult:
    """Scan as the developer (through the root-owned install when we are root), with progress
    when we scan in this process."""
    if custodian is not None and os.geteuid() != developer.uid:
        with err.status(f"scanning {escape(', '.join(map(str, roots)))} as {developer.name} …"):
            return custodian.scan(roots)
    bar, task = scanning(f"scanning as {developer.name}")
    if bar is None:
        return scan(roots, home=developer.home)
    with bar:
        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)  # type: ignore[arg-type]

        return scan(roots, home=developer.home, progress=advance)


def findings_table(result: ScanResult, items: list[Item], left: list[Finding]) -> Table:
    table = Table(title=f"credentials an agent could read ({result.files} files in "
                        f"{result.seconds:.1f} s)", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("where", overflow="fold")
    table.add_column("what")
    table.add_column("becomes")
    for number, item in enumerate(items, start=1):
        table.add_row(str(number), escape(item.where), escape(item.kinds),
                      escape(f"resource {item.resource} ({item.custody.kind}, "
                             f"{item.environment}); "
                             + ("file removed" if item.whole_file else "value → pointer")))
    for finding in left:
        table.add_row("-", escape(finding.where), escape(finding.kind),
                      escape(finding.reason or "left in place: airlock cannot use it for you"))
    return table


def take_into_custody(custodian: Custodian, result: ScanResult, *, yes: bool, dry_run: bool,
                      record: Callable[[CredentialMove], None]) -> list[CredentialMove]:
    """Show what was found and move what the person confirms, telling `record` of each move
    as it is made (an interrupted import still knows what it moved)."""
    plan = plan_custody(result.findings, taken_names(custodian.config_path))
    if not plan.items and not plan.left:
        out.print(f"no credentials found for {custodian.developer.name} "
                  f"({result.files} files in {result.seconds:.1f} s)")
        return []
    out.print(findings_table(result, plan.items, plan.left))
    if dry_run:
        out.print(f"would ask about moving {len(plan.items)} credential(s) into airlock's custody")
        return []
    moved: list[CredentialMove] = []
    for number, item in enumerate(plan.items, start=1):
        if not yes and not typer.confirm(f"#{number} move {item.where} into airlock's custody "
                                         f"as {item.resource}?", default=True):
            out.print(f"  left {escape(item.where)} as it is")
            continue
        move = custodian.take(item)
        moved.append(move)
        record(move)
        out.print(f"  moved {escape(item.where)} → resource [bold]{escape(item.resource)}[/] "
                  f"({escape(move.stored)}); original kept at {escape(move.recovered)}")
    return moved


@credentials_app.command("scan")
def scan_cmd(workspace: list[Path] = WorkspaceOpt, developer: str | None = DeveloperOpt,
             root: Path = RootOpt,
             as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the credentials an agent (as the developer's user) could read: file, line, kind."""
    dev = _developers(developer, root)[0]
    record = SetupRecord.load(Layout.under(root).record_path)
    # someone else's files: as root, through the install, as them; one's own: right here
    other = record is not None and os.geteuid() != dev.uid
    custodian = _custodian(root, dev, record) if other and record else None
    result = scan_as(custodian, dev, default_roots(dev, list(workspace)))
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
        return
    plan = plan_custody(result.findings, ())
    out.print(findings_table(result, plan.items, plan.left))


@credentials_app.command("import")
def import_cmd(ctx: typer.Context, workspace: list[Path] = WorkspaceOpt,
               developer: str | None = DeveloperOpt, root: Path = RootOpt,
               yes: bool = typer.Option(False, "--yes", help="Move every credential airlock can "
                                        "hold without asking (you confirm them all at once)."),
               dry_run: bool = typer.Option(False, "--dry-run", help="Show, change nothing.")) -> None:
    """Scan the developer's workspace and home, then move each confirmed credential into
    airlock's store, declare its resource, and leave a pointer (or remove the file)."""
    layout = Layout.under(root)
    record = SetupRecord.load(layout.record_path)
    for dev in _developers(developer, root):
        custodian = _custodian(root, dev, record) if record else _trial_custodian(ctx, dev)
        result = scan_as(custodian, dev, default_roots(dev, list(workspace)))

        def remember(move: CredentialMove) -> None:
            if record is not None:
                record.credentials.append(move)
                record.save(layout.record_path)

        take_into_custody(custodian, result, yes=yes, dry_run=dry_run, record=remember)
    if record is not None and not dry_run:
        out.print(f"restart airlock to use them: `systemctl restart airlock` (or restart your "
                  f"`airlock up`); check with `sudo -u {record.user} airlock config check`")


def _custodian(root: Path, developer: OsUser, record: SetupRecord) -> Custodian:
    layout = Layout.under(root)
    if os.geteuid() != 0:
        raise SetupError("moving credentials into a system install's custody needs root",
                         hint="run it with sudo")
    return Custodian(layout.config_path, layout.credentials_dir, layout.recovered_dir,
                     OsUser.named(record.user), developer, layout.venv_python)


def _trial_custodian(ctx: typer.Context, developer: OsUser) -> Custodian:
    """Single-user (trial) mode: the store is the configuration's state folder, kept by the one
    user there is — which the agent runs as too (see README: what trial mode does not protect)."""
    path = find_config(state(ctx).config_path)
    if path is None:
        raise SetupError("there is no airlock.toml to declare the credentials in",
                         hint="run `sudo airlock setup` (or `airlock init` for a trial)")
    config = load_config(path)
    me = OsUser.current()
    if me.uid != developer.uid:
        raise SetupError(f"in trial mode airlock only handles your own files, not "
                         f"{developer.name}'s", hint="run `sudo airlock setup` first")
    return Custodian(path, config.state_dir / "credentials", config.state_dir / "recovered",
                     me, developer, None)


def _developers(name: str | None, root: Path) -> list[OsUser]:
    if name:
        return [OsUser.named(name)]
    record = SetupRecord.load(Layout.under(root).record_path)
    if record is not None and record.developers:
        return [OsUser.named(n) for n in record.developers]
    me = OsUser.current()  # your own files: your home is where $HOME says, as for your tools
    home = os.environ.get("HOME")
    return [replace(me, home=Path(home)) if home else me]
