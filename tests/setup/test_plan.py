"""Setup's plan without real users: --dry-run changes nothing, names are checked, and the systemd
step writes its unit and asks systemctl (recorded: this machine has no systemd)."""

from __future__ import annotations

import grp
import os
import pwd
import uuid
from pathlib import Path

import pytest

from airlock.errors import SetupError
from airlock.setup.layout import Layout
from airlock.setup.machine import Machine
from airlock.setup.system import Commands
from airlock.setup.texts import Names, unit_text
from tests.cli import airlock
from tests.conftest import require


class Recorded(Commands):
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def run(self, argv: list[str], *, input: str | None = None, timeout: float = 900,
            env: dict[str, str] | None = None) -> str:
        self.calls.append(list(argv))
        return ""


def _unused_name() -> str:
    return f"alk_t_{uuid.uuid4().hex[:8]}"


def test_dry_run_prints_every_change_and_makes_none(tmp_path: Path) -> None:
    user, group = _unused_name(), _unused_name()
    developer = pwd.getpwuid(os.getuid()).pw_name if os.getuid() else "nobody"
    done = airlock("setup", "--root", str(tmp_path), "--user", user, "--group", group,
                   "--developer", developer, "--dry-run", "--no-credentials", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for expected in (f"would group: create the group {group}",
                     f"would user: create the system user {user}",
                     f"would config: write {tmp_path}/etc/airlock/airlock.toml",
                     "would code: install airlock from ",
                     f"would folders: create {tmp_path}/var/lib/airlock ({user}'s only, 0700)",
                     f"would command: write {tmp_path}/usr/local/bin/airlock"):
        assert any(line.startswith(expected) for line in lines), (expected, done.stdout)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(KeyError):
        grp.getgrnam(group)
    with pytest.raises(KeyError):
        pwd.getpwnam(user)


def test_setup_refuses_names_that_defeat_a_separate_user(tmp_path: Path) -> None:
    lay = Layout.under(tmp_path)
    with pytest.raises(SetupError, match="cannot be root"):
        Machine(lay, Names(_unused_name(), "g"), ["root"]).check_names()
    with pytest.raises(SetupError, match="cannot be airlock's own user"):
        Machine(lay, Names("nobody", "g"), ["nobody"]).check_names()
    with pytest.raises(SetupError, match="no OS user"):
        Machine(lay, Names("a", "g"), [_unused_name()]).check_names()
    with pytest.raises(SetupError, match="is root"):
        Machine(lay, Names("root", "g"), ["nobody"]).check_names()


def test_with_systemd_the_unit_is_written_enabled_and_started(tmp_path: Path) -> None:
    require(os.geteuid() == 0, "root (the unit is written as root's)")
    commands = Recorded()
    names = Names("airlock", "airlock-agents", port=9001)
    machine = Machine(Layout.under(tmp_path), names, ["nobody"], commands=commands,
                      systemd=True)
    for change in machine.plan_service():
        change.apply()
    unit = machine.layout.unit_path
    assert unit.read_text() == unit_text(machine.layout, names)
    assert unit.stat().st_uid == 0 and unit.stat().st_mode & 0o777 == 0o644
    assert commands.calls == [["systemctl", "daemon-reload"],
                              ["systemctl", "enable", "airlock.service"],
                              ["systemctl", "restart", "airlock.service"]]
    commands.calls.clear()
    for change in machine.plan_service():  # unit unchanged: only (re)start it
        change.apply()
    assert commands.calls == [["systemctl", "enable", "airlock.service"],
                              ["systemctl", "restart", "airlock.service"]]


def test_without_systemd_there_is_no_service_step(tmp_path: Path) -> None:
    machine = Machine(Layout.under(tmp_path), Names("airlock", "g"), ["nobody"],
                      commands=Recorded(), systemd=False)
    assert machine.plan_service() == []
