"""Is `airlock up` running, and as whom? Asked of the kernel: connect to the hooks socket and read
the listening process's credentials (SO_PEERCRED)."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from airlock.doctor.context import Doctor
from airlock.doctor.report import Finding, Severity
from airlock.setup.layout import SERVICE_NAME
from airlock.setup.system import OsUser
from airlock.setup.texts import Names, foreground_command


@dataclass(frozen=True, slots=True)
class Peer:
    pid: int
    uid: int


def peer_of(path: str) -> Peer | str:
    """The process serving the socket at `path`, or why none answers."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(2)
        conn.connect(path)
        pid, uid, _gid = struct.unpack("3i", conn.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
        return Peer(pid, uid)
    except OSError as exc:
        return exc.strerror or str(exc)
    finally:
        conn.close()


def check_service(doc: Doctor) -> list[Finding]:
    path = doc.socket_path
    answer = peer_of(str(path))
    if isinstance(answer, str):
        return [Finding("service.running", Severity.CRITICAL,
                        "airlock up is not running: no one answers the hooks socket", (
                            f"{path}: {answer}",
                            "the agents' hooks block every tool call (or, in trial mode, start "
                            "airlock for each one)"), _start(doc))]
    runner = OsUser.with_uid(answer.uid)
    name = runner.name if runner else str(answer.uid)
    evidence = (f"{path} is served by process {answer.pid}, running as {name}",)
    agents = {a.uid: a.name for a in doc.agents}
    if answer.uid in agents:
        return [Finding("service.user", Severity.CRITICAL,
                        f"airlock up runs as {name}, the agent's own user: the agent can change "
                        "its state, keys and code", evidence,
                        f"`sudo airlock setup --developer {name}` runs it as its own user")]
    if answer.uid == 0:
        return [Finding("service.user", Severity.WARNING, "airlock up runs as root: a flaw in it "
                        "is a flaw in root", evidence, "`sudo airlock setup` runs it as its own "
                        "unprivileged user")]
    if doc.record is not None and name != doc.record.user:
        return [Finding("service.user", Severity.WARNING,
                        f"airlock up runs as {name}, not as airlock's user {doc.record.user}",
                        evidence, "stop it, and start the service setup installed")]
    return []


def _start(doc: Doctor) -> str:
    record = doc.record
    if record is None:
        return "start it: `airlock up` (for the sound deployment: `sudo airlock setup`)"
    if record.systemd:
        return f"`sudo systemctl start {SERVICE_NAME}` (and `systemctl status {SERVICE_NAME}`)"
    names = Names(record.user, record.group, record.host, record.port)
    return f"start it as airlock's user: `{foreground_command(doc.layout, names)}`"
