"""The files `airlock setup` writes, as pure functions of the layout and the names: the
configuration, the systemd unit, the `airlock` wrapper, and the foreground command printed where
there is no systemd."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from airlock.setup.layout import SERVICE_NAME, Layout

MARK = "written by `airlock setup`"


@dataclass(frozen=True, slots=True)
class Names:
    user: str  # the OS user airlock runs as
    group: str  # the group whose members' agents may call the hooks
    host: str = "127.0.0.1"
    port: int = 8377
    user_group: str = ""  # the user's primary group (default: a group of its own name)

    @property
    def primary_group(self) -> str:
        return self.user_group or self.user


def up_argv(layout: Layout, names: Names) -> list[str]:
    return [str(layout.venv_airlock), "--config", str(layout.config_path), "up",
            "--host", names.host, "--port", str(names.port)]


def foreground_command(layout: Layout, names: Names) -> str:
    """How to start the service by hand: as airlock's user, from the root-owned install. runuser
    (util-linux) gives the user its groups, which it needs to hand the socket to the group."""
    prepare = (f"install -d -o {shlex.quote(names.user)} -g {shlex.quote(names.group)} "
               f"-m 0710 {shlex.quote(str(layout.run_dir))}")
    return (f"{prepare} && runuser -u {shlex.quote(names.user)} -- "
            f"{shlex.join(up_argv(layout, names))}")


def config_text(layout: Layout, names: Names, approvers: list[str]) -> str:
    humans = "".join(f'\n[principals.{name}]\nkind = "human"\n' for name in approvers)
    return f"""\
# airlock.toml — {MARK} for airlock running as its own OS user ({names.user}).
# Only root may change this file; airlock's user reads it. It holds no credential: credentials
# live in {layout.credentials_dir} (readable by {names.user} only) and are named here as
# {{ file = "…" }}. Check it with `sudo -u {names.user} airlock config check`; every key is
# described in the file `airlock init` writes.

state_dir = "{layout.state_dir}"
local_environment = "local"

[hooks]
# The agents of members of {names.group} reach airlock only through this socket.
socket = "{layout.socket_path}"
socket_group = "{names.group}"

[environments.production]
production = true

[environments.staging]
production = false

[environments.development]
production = false

[vault]
# Backups before destructive actions go to {layout.state_dir}/vault unless you set path (another
# disk) or s3 (a bucket with Object Lock); a vault refuses to protect data on its own disk.
# path = "/mnt/backup-disk/airlock-vault"
# rpo = "24h"           # `airlock doctor` warns when a resource's newest backup is older
# drill_every = "30d"   # …and when no restore drill passed within this long
{humans}"""


def unit_text(layout: Layout, names: Names) -> str:
    runtime = ""
    if layout.run_dir.parent == Path("/run"):
        # systemd recreates the socket's folder at each start (/run is emptied at boot)
        runtime = f"RuntimeDirectory={layout.run_dir.name}\nRuntimeDirectoryMode=0710\n"
    return f"""\
# {SERVICE_NAME} — {MARK}; run it again to repair, `airlock setup --undo` to remove.
[Unit]
Description=airlock: the gate between AI coding agents and real infrastructure
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={names.user}
Group={names.primary_group}
SupplementaryGroups={names.group}
Environment=AIRLOCK_CONFIG={layout.config_path}
ExecStart={shlex.join(up_argv(layout, names))}
WorkingDirectory={layout.state_dir}
{runtime}UMask=0077
Restart=on-failure
RestartSec=2
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=full
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
LockPersonality=yes

[Install]
WantedBy=multi-user.target
"""


def wrapper_text(layout: Layout) -> str:
    return f"""\
#!/bin/sh
# airlock — {MARK}: the root-owned install in {layout.venv}, with the
# configuration in {layout.config_path} unless $AIRLOCK_CONFIG names another.
: "${{AIRLOCK_CONFIG:={layout.config_path}}}"
export AIRLOCK_CONFIG
exec {shlex.quote(str(layout.venv_airlock))} "$@"
"""
