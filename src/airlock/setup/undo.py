"""`airlock setup --undo`: reverse what setup recorded in setup.json, in the reverse order.

What it removes: the service and its unit, airlock's hooks from the developers' settings, their
group memberships, the `airlock` command, the installed code, the socket's folder, and the user
and group — only those setup itself created. What it gives back: each credential it took, to the
file it came from, when that file is still as setup left it (otherwise it says where the
recovered copy is). What it keeps: the configuration and the state folder (the audit log, the
backups, the credentials store and the recovered originals) — data is never deleted by an undo;
the state folder is handed to root so it stays private once airlock's user is gone.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from airlock.credentials.importer import Custodian
from airlock.errors import SetupError
from airlock.setup.helper import run_helper
from airlock.setup.layout import SERVICE_NAME
from airlock.setup.machine import Change, Machine
from airlock.setup.record import CredentialMove
from airlock.setup.system import OsUser, fix_tree, group_id
from airlock.setup.texts import MARK


def plan_undo(machine: Machine, say: Callable[[str], None]) -> list[Change]:
    rec, lay = machine.rec, machine.layout
    changes: list[Change] = []
    if lay.unit_path.exists():
        def stop() -> None:
            if machine.systemd:
                machine.commands.run(["systemctl", "disable", "--now", SERVICE_NAME])
            lay.unit_path.unlink()
            if machine.systemd:
                machine.commands.run(["systemctl", "daemon-reload"])

        changes.append(Change(f"stop and disable {SERVICE_NAME}, remove {lay.unit_path}", stop))
    elif lay.socket_path.exists():
        from airlock.doctor.service import Peer, peer_of

        peer = peer_of(str(lay.socket_path))
        if isinstance(peer, Peer):
            raise SetupError(f"airlock up still runs (process {peer.pid}, serving "
                             f"{lay.socket_path}); setup did not start it, so it does not stop "
                             "it", hint=f"stop it (kill {peer.pid}), then run the undo again")
    for hook in list(rec.hooks):
        developer = OsUser.find(hook.developer)
        if developer is None:
            continue

        def unhook(developer: OsUser = developer, harness: str = hook.harness,
                   path: str = hook.path) -> None:
            run_helper(developer, lay.venv_python, {"op": "uninstall-hook", "harness": harness,
                                                    "path": path})
            rec.hooks = [h for h in rec.hooks if (h.harness, h.path) != (harness, path)]

        changes.append(Change(f"remove airlock's hook for {hook.harness} from {hook.path}", unhook))
    for move in reversed(rec.credentials):
        developer = OsUser.find(move.developer)
        if developer is None:
            continue

        def give_back(move: CredentialMove = move, developer: OsUser = developer) -> None:
            custodian = Custodian(lay.config_path, lay.credentials_dir, lay.recovered_dir,
                                  OsUser.current(), developer, lay.venv_python)
            if custodian.give_back(move):
                say(f"  put back {move.path} (resource {move.resource} stays declared until "
                    "you remove it)")
            else:
                say(f"  {move.path} changed since setup; its original is kept at {move.recovered}")
            rec.credentials.remove(move)

        changes.append(Change(f"give back the credential of {move.resource} to {move.path} "
                              "(if that file is as setup left it)", give_back))
    for name in list(rec.added_developers):
        def leave(name: str = name) -> None:
            machine.commands.run(["gpasswd", "--delete", name, rec.group])
            rec.added_developers.remove(name)

        changes.append(Change(f"take {name} out of {rec.group}", leave))
    if lay.wrapper_path.exists() and MARK in lay.wrapper_path.read_text(errors="replace"):
        changes.append(Change(f"remove {lay.wrapper_path}", lay.wrapper_path.unlink))
    for folder in (lay.install_dir, lay.run_dir):
        if folder.exists():
            changes.append(Change(f"remove {folder}", _remover(folder)))
    if lay.state_dir.exists():
        def keep() -> None:
            fix_tree(lay.state_dir, 0, 0, strip=0o077)

        changes.append(Change(f"keep {lay.state_dir} (audit log, backups, credentials, recovered "
                              "originals), handed to root, 0700", keep))
    if rec.created_user and OsUser.find(rec.user) is not None:
        def remove_user() -> None:
            machine.commands.run(["userdel", rec.user])
            rec.created_user = False

        changes.append(Change(f"remove the user {rec.user}", remove_user))
    elif rec.added_airlock_to_group and OsUser.find(rec.user) is not None:
        changes.append(Change(f"take {rec.user} out of {rec.group}",
                              _tool(machine, ["gpasswd", "--delete", rec.user, rec.group])))
    if rec.created_group and group_id(rec.group) is not None:
        changes.append(Change(f"remove the group {rec.group}",
                              _tool(machine, ["groupdel", rec.group])))
    changes.append(Change(f"remove {lay.record_path} (kept: {lay.config_path})",
                          lambda: lay.record_path.unlink(missing_ok=True)))
    return changes


def _tool(machine: Machine, argv: list[str]) -> Callable[[], None]:
    def run() -> None:
        machine.commands.run(argv)

    return run


def _remover(folder: Path) -> Callable[[], None]:
    def remove() -> None:
        shutil.rmtree(folder)

    return remove


def run_undo(machine: Machine, *, dry_run: bool, say: Callable[[str], None]) -> int:
    count = 0
    for change in plan_undo(machine, say):
        count += 1
        say(f"{'would ' if dry_run else ''}undo: {change.summary}")
        if not dry_run:
            change.apply()
            if machine.layout.record_path.exists():
                machine.save()
    return count
