"""The files setup writes: the configuration loads as written, the unit runs the root-owned
install as airlock's user, the wrapper names the configuration, the foreground command is exact."""

from __future__ import annotations

import grp
import os
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest

from airlock.config import config_from_mapping
from airlock.errors import SetupError
from airlock.setup.configfile import ConfigFile
from airlock.setup.layout import Layout
from airlock.setup.texts import Names, config_text, foreground_command, unit_text, wrapper_text

GROUP = grp.getgrgid(os.getgid()).gr_name  # a group this machine has (the config checks it)


def test_the_default_layout_is_the_documented_one() -> None:
    lay = Layout.under("/")
    assert (lay.config_path, lay.state_dir, lay.socket_path, lay.venv, lay.unit_path,
            lay.wrapper_path) == (Path("/etc/airlock/airlock.toml"), Path("/var/lib/airlock"),
                                  Path("/run/airlock/hooks.sock"), Path("/opt/airlock/venv"),
                                  Path("/etc/systemd/system/airlock.service"),
                                  Path("/usr/local/bin/airlock"))
    assert Layout.under("/tmp/x").socket_path == Path("/tmp/x/run/airlock/hooks.sock")


def test_the_written_configuration_loads_and_says_where_everything_is(tmp_path: Path) -> None:
    lay = Layout.under(tmp_path)
    text = config_text(lay, Names("airlock", GROUP), ["alice", "bob"])
    config = config_from_mapping(tomllib.loads(text), lay.config_path)
    assert config.state_dir == lay.state_dir
    assert config.hooks.socket == lay.socket_path and config.hooks.socket_group == GROUP
    assert {n for n, p in config.principals.items() if p.kind.value == "human"} == {"alice", "bob"}
    assert config.environment("production").production
    assert "credential" in text.splitlines()[1]  # it says why no credential is in it


def test_the_unit_runs_the_installed_code_as_airlocks_user() -> None:
    lay = Layout.under("/")
    unit = unit_text(lay, Names("airlock", "airlock-agents", port=9000))
    lines = set(unit.splitlines())
    assert {"User=airlock", "Group=airlock", "SupplementaryGroups=airlock-agents",
            "ExecStart=/opt/airlock/venv/bin/airlock --config /etc/airlock/airlock.toml up "
            "--host 127.0.0.1 --port 9000", "Environment=AIRLOCK_CONFIG=/etc/airlock/airlock.toml",
            "WorkingDirectory=/var/lib/airlock", "RuntimeDirectory=airlock",
            "RuntimeDirectoryMode=0710", "UMask=0077", "NoNewPrivileges=yes",
            "WantedBy=multi-user.target"} <= lines
    # under another root, systemd cannot manage the socket's folder: setup makes it
    assert "RuntimeDirectory=airlock" not in unit_text(Layout.under("/tmp/r"), Names("a", "g"))


def test_the_wrapper_runs_the_install_with_the_configuration(tmp_path: Path) -> None:
    lay = Layout.under(tmp_path)
    fake = lay.venv_airlock
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\necho "$AIRLOCK_CONFIG" "$@"\n')
    fake.chmod(0o755)
    wrapper = tmp_path / "airlock"
    wrapper.write_text(wrapper_text(lay))
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "AIRLOCK_CONFIG"}
    done = subprocess.run([str(wrapper), "doctor", "--json"], capture_output=True, text=True,
                          env=env, check=True)
    assert done.stdout.split() == [str(lay.config_path), "doctor", "--json"]
    done = subprocess.run([str(wrapper)], capture_output=True, text=True, check=True,
                          env={**env, "AIRLOCK_CONFIG": "/elsewhere.toml"})
    assert done.stdout.split() == ["/elsewhere.toml"]


def test_the_foreground_command_is_exact() -> None:
    command = foreground_command(Layout.under("/"), Names("airlock", "airlock-agents"))
    first, second = command.split(" && ")
    assert shlex.split(first) == ["install", "-d", "-o", "airlock", "-g", "airlock-agents",
                                  "-m", "0710", "/run/airlock"]
    assert shlex.split(second) == ["runuser", "-u", "airlock", "--",
                                   "/opt/airlock/venv/bin/airlock", "--config",
                                   "/etc/airlock/airlock.toml", "up", "--host", "127.0.0.1",
                                   "--port", "8377"]


def test_config_edits_keep_what_a_person_wrote(tmp_path: Path) -> None:
    path = tmp_path / "airlock.toml"
    path.write_text('# mine\nstate_dir = "old"  # why\n\n[hooks]\nwait_seconds = 5\n')
    config = ConfigFile.read(path)
    assert config.set("state_dir", value="/var/lib/airlock")
    assert not config.set("hooks", "wait_seconds", value=5)
    assert config.set("hooks", "socket", value="/run/airlock/hooks.sock")
    config.add_table("principals", "alice", {"kind": "human"})
    assert config.text == ('# mine\nstate_dir = "/var/lib/airlock"  # why\n\n[hooks]\n'
                           'wait_seconds = 5\nsocket = "/run/airlock/hooks.sock"\n\n'
                           '[principals.alice]\nkind = "human"\n')
    with pytest.raises(SetupError, match="already declares"):
        config.add_table("principals", "alice", {"kind": "human"})


def test_an_edit_that_would_not_load_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "airlock.toml"
    path.write_text("[hooks]\n")
    config = ConfigFile.read(path)
    config.set("hooks", "socket_group", value="no-such-group-anywhere")
    with pytest.raises(SetupError, match="would not load"):
        config.validated()
    path.write_text("this is [not toml")
    with pytest.raises(SetupError, match="not valid TOML"):
        ConfigFile.read(path)
