"""`sudo airlock setup`: airlock as its own OS user, holding every credential (setup/)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer
from rich.markup import escape

from airlock.cli.app import app, err, out
from airlock.cli.credentials_cmd import scan_as, take_into_custody
from airlock.credentials.importer import Custodian, default_roots
from airlock.credentials.scan import scan
from airlock.errors import SetupError
from airlock.setup import code
from airlock.setup.layout import SERVICE_NAME, Layout
from airlock.setup.machine import Machine, run_steps
from airlock.setup.record import CredentialMove
from airlock.setup.system import OsUser, run_as
from airlock.setup.texts import Names, foreground_command
from airlock.setup.undo import run_undo


@app.command("setup")
def setup(
    user: str = typer.Option("airlock", "--user", help="The OS user airlock runs as."),
    group: str = typer.Option("airlock-agents", "--group",
                              help="The group whose members' agents may call airlock's hooks."),
    developer: list[str] = typer.Option([], "--developer", help="A developer whose agents "
                                        "airlock guards (repeat; default: $SUDO_USER)."),
    workspace: list[Path] = typer.Option([], "--workspace", "-w", help="A folder the agents "
                                         "work in, scanned for credentials with the home."),
    approver: list[str] = typer.Option([], "--approver", help="Enrol this person as an approver "
                                       "(repeat); their credential is printed once."),
    root: Path = typer.Option(Path("/"), "--root", help="Put every file under this folder "
                              "instead of / (tests, images being built)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Where `airlock up` listens."),
    port: int = typer.Option(8377, "--port", help="Where `airlock up` listens."),
    source: Path | None = typer.Option(None, "--source", help="The airlock checkout to install "
                                       "(default: the one this command runs from)."),
    python: Path | None = typer.Option(None, "--python", help="Root's Python 3.11+ to build the "
                                       "install with (default: /usr/bin/python3)."),
    systemd: bool | None = typer.Option(None, "--systemd/--no-systemd", help="Write a systemd "
                                        "unit (default: when systemd runs this machine)."),
    yes: bool = typer.Option(False, "--yes", help="Move every credential airlock can hold "
                             "without asking one by one."),
    no_credentials: bool = typer.Option(False, "--no-credentials", help="Skip the credentials "
                                        "scan."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print every change, make none."),
    undo: bool = typer.Option(False, "--undo", help="Reverse what setup did (data is kept)."),
) -> None:
    """Run airlock as its own OS user: user and group, private state, root-owned configuration
    and code, the service, the developers' hooks, and their credentials in airlock's custody.
    Re-running repairs; --dry-run shows every change first; --undo reverses it."""
    if os.geteuid() != 0 and not dry_run:
        raise SetupError("airlock setup creates a user and changes system folders: run it as "
                         "root", hint="sudo airlock setup …  (or add --dry-run to look first)")
    layout = Layout.under(root)
    developers = list(developer) or _sudo_user()
    machine = Machine(layout, Names(user, group, host, port), developers,
                      approvers=list(approver),
                      source=code.find_source(source) if source or not undo else None,
                      python=python)
    if systemd is not None:
        machine.systemd = systemd
        machine.rec.systemd = systemd

    def say(line: str) -> None:
        out.print(escape(line))

    if undo:
        count = run_undo(machine, dry_run=dry_run, say=say)
        out.print(f"{'would undo' if dry_run else 'undid'} {count} change(s)")
        return
    if not developers:
        raise SetupError("name the developer whose agents airlock guards: --developer NAME",
                         hint="(run through sudo, setup takes $SUDO_USER)")
    count = run_steps(machine, dry_run=dry_run, say=say)
    out.print(f"{'would make' if dry_run else 'made'} {count} change(s) to this machine"
              + ("" if count or dry_run else "; it was already set up"))
    if not dry_run:
        _readable(machine, list(workspace))
    if not no_credentials:
        _credentials(machine, list(workspace), yes=yes, dry_run=dry_run)
    if not dry_run:
        _approvers(machine, list(approver))
    _summary(machine, dry_run)


def _sudo_user() -> list[str]:
    name = os.environ.get("SUDO_USER")
    return [name] if name and name != "root" else []


def _credentials(machine: Machine, workspaces: list[Path], *, yes: bool, dry_run: bool) -> None:
    lay = machine.layout
    for name in machine.developers:
        dev = OsUser.named(name)
        roots = default_roots(dev, workspaces)
        if dry_run and not lay.venv_python.exists():
            # Nothing installed yet to act as the developer with; reading (only) as root here
            # never follows a link (the scan skips them) and changes nothing.
            result = scan(roots, home=dev.home)
            custodian = Custodian(lay.config_path, lay.credentials_dir, lay.recovered_dir,
                                  OsUser.current(), dev, None)
        else:
            custodian = Custodian(lay.config_path, lay.credentials_dir, lay.recovered_dir,
                                  machine.airlock_user() if not dry_run else OsUser.current(),
                                  dev, lay.venv_python)
            result = scan_as(custodian, dev, roots)

        def remember(move: CredentialMove) -> None:
            machine.rec.credentials.append(move)
            machine.save()

        moved = take_into_custody(custodian, result, yes=yes, dry_run=dry_run, record=remember)
        if moved and machine.systemd:
            machine.commands.run(["systemctl", "restart", SERVICE_NAME])


def _readable(machine: Machine, workspaces: list[Path]) -> None:
    """airlock judges the scripts agents run by reading them, as its own user: say so when it
    cannot read a workspace (setup does not change the developer's permissions)."""
    import inspect

    from airlock.doctor import probe
    from airlock.doctor.access import workspace_fix

    user = machine.airlock_user()
    source = inspect.getsource(probe)
    for folder in workspaces:
        proc = run_as(user, [str(machine.client_python()), "-I", "-S", "-c", source],
                      input=json.dumps([{"path": str(folder.resolve()), "test": "read"}]).encode())
        answer = json.loads(proc.stdout or b"[{}]")[0]
        if not answer.get("ok"):
            err.print(f"[yellow]note:[/] {escape(user.name)} cannot read {escape(str(folder))} "
                      f"({escape(str(answer.get('error', 'unknown')))}): scripts agents run "
                      f"there will be held, unread. {escape(workspace_fix(user.name))}")


def _approvers(machine: Machine, names: list[str]) -> None:
    """Enrol approvers as airlock's own user, with the installed airlock: only that user can
    write the state, which is the point."""
    enrolled = _enrolled(machine)
    wanted = list(names)
    if not wanted and not enrolled and sys.stdin.isatty():
        name = typer.prompt("Enrol an approver now? Their name (empty: later, with "
                            f"`sudo -u {machine.names.user} airlock approver add NAME`)",
                            default="", show_default=False).strip()
        if name:
            wanted.append(name)
            machine.approvers.append(name)
            for change in machine.plan_config():  # declare them as a human first
                change.apply()
    for name in wanted:
        if name in enrolled:
            out.print(f"approver {escape(name)} is already enrolled")
            continue
        done = _as_airlock(machine, ["approver", "add", name])
        sys.stdout.write(done)
        sys.stdout.flush()


def _enrolled(machine: Machine) -> set[str]:
    listing = _as_airlock(machine, ["approver", "list", "--json"])
    return {row["name"] for row in json.loads(listing)}


def _as_airlock(machine: Machine, args: list[str]) -> str:
    lay = machine.layout
    proc = run_as(machine.airlock_user(), [str(lay.venv_airlock), "--config",
                                           str(lay.config_path), *args])
    if proc.returncode != 0:
        raise SetupError(f"`airlock {' '.join(args)}` as {machine.names.user} failed: "
                         + proc.stderr.decode("utf-8", "replace").strip())
    return proc.stdout.decode("utf-8", "replace")


def _summary(machine: Machine, dry_run: bool) -> None:
    lay, names = machine.layout, machine.names
    if dry_run:
        return
    out.print(f"\nairlock runs as [bold]{escape(names.user)}[/]; state in {lay.state_dir} "
              f"({names.user} only), configuration {lay.config_path} (root's), code in "
              f"{lay.venv} (root's).")
    out.print(f"Agents of {escape(', '.join(machine.developers))} reach it through "
              f"{lay.socket_path} ({names.group}); they must log in again for the group to "
              "count.")
    if machine.systemd:
        out.print(f"The service {SERVICE_NAME} is enabled and running "
                  f"(`systemctl status {SERVICE_NAME}`).")
    else:
        pid1 = _pid1()
        err.print(f"[bold yellow]No systemd on this machine[/] (PID 1 is {escape(pid1)}), so "
                  "setup did not start airlock. Start it yourself, as its own user, with:")
        out.print(foreground_command(lay, names), soft_wrap=True, markup=False)
        if machine.code_changed:
            err.print("If airlock is already running, restart it: it still runs the code it "
                      "started with.")
    out.print(f"Approvers decide in the console (http://{names.host}:{names.port}/console/) or "
              f"with `airlock approve ID --server http://{names.host}:{names.port}`; enrol more "
              f"with `sudo -u {names.user} airlock approver add NAME`. Check the machine with "
              "`sudo airlock doctor`.")


def _pid1() -> str:
    try:
        return Path("/proc/1/comm").read_text().strip() or "unknown"
    except OSError:
        return "unknown"
