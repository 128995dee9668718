"""`airlock setup`: airlock as its own OS user, holding the state, keys and credentials, with the
developers' agents reaching it only through the hooks socket.

Every step looks at the machine first and plans only the changes still needed, each with a
sentence saying what it does; `--dry-run` prints them, a real run applies them in order. So a
second run changes nothing on a machine that is as it should be, and repairs one that drifted
(a folder's mode, the service's unit, a developer's missing hook) without touching what a person
wrote (the configuration is edited key by key, never replaced).

    step         what it makes sure of
    group        the agents' group exists (groupadd --system)
    user         airlock's user exists, locked (no password, nologin), in the group
    developers   each developer is in the group (their agents then reach the socket)
    folders      /etc/airlock (root), the state folder (airlock, 0700), the socket's folder
                 (airlock:group, 0710), the install folder (root)
    config       airlock.toml written if missing; state_dir and [hooks] socket/socket_group set;
                 approvers declared as humans; root's, 0644
    code         a venv in /opt/airlock built from this checkout, root's, not editable (code.py)
    command      /usr/local/bin/airlock, the installed airlock with this configuration
    service      systemd: the unit written, enabled and (re)started; no systemd: nothing, and the
                 exact foreground command is printed
    hooks        airlock's hook in every harness each developer has, pointed at the socket
"""

from __future__ import annotations

import grp
import os
import shlex
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from airlock.errors import SetupError
from airlock.fronts.hooks import HARNESSES
from airlock.setup import code
from airlock.setup.configfile import ConfigFile
from airlock.setup.helper import run_helper
from airlock.setup.layout import SERVICE_NAME, Layout
from airlock.setup.record import SetupRecord
from airlock.setup.system import (
    Commands,
    OsUser,
    Want,
    ensure_dir,
    fix_tree,
    group_id,
    group_members,
    systemd_booted,
    tree_problems,
    write_file,
)
from airlock.setup.texts import Names, config_text, unit_text, wrapper_text

HOOK_FOLDERS = {"claude": ".claude", "cursor": ".cursor", "codex": ".codex", "gemini": ".gemini"}
CLIENT_SECONDS = 20


@dataclass(frozen=True, slots=True)
class Change:
    summary: str
    apply: Callable[[], None]


@dataclass
class Machine:
    """Everything the steps need: where things go, who is who, and how to run tools."""

    layout: Layout
    names: Names
    developers: list[str]
    approvers: list[str] = field(default_factory=list)
    commands: Commands = field(default_factory=Commands)
    systemd: bool = field(default_factory=systemd_booted)
    source: code.Source | None = None
    python: Path | None = None
    record: SetupRecord | None = None
    code_changed: bool = False  # a run installed new code (a running airlock must restart)

    def __post_init__(self) -> None:
        if self.record is None:
            self.record = SetupRecord.load(self.layout.record_path) or SetupRecord(
                self.names.user, self.names.group, list(self.developers),
                root=str(self.layout.root), host=self.names.host, port=self.names.port)
        for name in self.developers:
            if name not in self.record.developers:
                self.record.developers.append(name)
        self.record.systemd = self.systemd

    @property
    def rec(self) -> SetupRecord:
        assert self.record is not None
        return self.record

    def save(self) -> None:
        self.rec.save(self.layout.record_path)

    # ---- who ----------------------------------------------------------------------------

    def airlock_user(self) -> OsUser:
        return OsUser.named(self.names.user)

    def group_gid(self) -> int:
        gid = group_id(self.names.group)
        if gid is None:
            raise SetupError(f"the group {self.names.group} does not exist")
        return gid

    def developer_users(self) -> list[OsUser]:
        return [OsUser.named(name) for name in self.developers]

    def check_names(self) -> None:
        """Refuse combinations that would defeat the point of a separate user."""
        for name in self.developers:
            dev = OsUser.named(name)  # a developer must exist: their agents are what we guard
            if name == self.names.user:
                raise SetupError(f"the developer {name} cannot be airlock's own user",
                                 hint="airlock runs as a user no agent runs as; pick another "
                                      "--user")
            if dev.uid == 0:
                raise SetupError("the developer cannot be root: an agent running as root can "
                                 "change anything, airlock included")
        existing = OsUser.find(self.names.user)
        if existing is not None and existing.uid == 0:
            raise SetupError(f"{self.names.user} is root; airlock needs an unprivileged user")

    # ---- the steps, in order --------------------------------------------------------------

    def steps(self) -> Iterator[tuple[str, Callable[[], list[Change]]]]:
        yield "group", self.plan_group
        yield "user", self.plan_user
        yield "developers", self.plan_developers
        yield "folders", self.plan_folders
        yield "config", self.plan_config
        yield "code", self.plan_code
        yield "command", self.plan_command
        yield "service", self.plan_service
        yield "hooks", self.plan_hooks

    def plan_group(self) -> list[Change]:
        if group_id(self.names.group) is not None:
            return []

        def apply() -> None:
            self.commands.run(["groupadd", "--system", self.names.group])
            self.rec.created_group = True

        return [Change(f"create the group {self.names.group} (whose members' agents may call "
                       "airlock's hooks)", apply)]

    def plan_user(self) -> list[Change]:
        user, group = self.names.user, self.names.group
        existing = OsUser.find(user)
        if existing is None:
            own_group = group_id(user) is None

            def create() -> None:
                argv = ["useradd", "--system", "--home-dir", str(self.layout.state_dir),
                        "--no-create-home", "--shell", _nologin(),
                        "--comment", "airlock", "--groups", group]
                argv += ["--user-group"] if own_group else ["--gid", user]
                self.commands.run([*argv, user])
                self.rec.created_user = True
                self.rec.created_user_group = own_group
                self.rec.added_airlock_to_group = True

            return [Change(f"create the system user {user} (no password, no login shell) that "
                           "airlock runs as", create)]
        if group_id(group) is not None and group_id(group) in existing.groups:
            return []

        def join() -> None:
            self.commands.run(["usermod", "--append", "--groups", group, user])
            self.rec.added_airlock_to_group = True

        return [Change(f"add {user} to {group} (to hand the hooks socket to that group)", join)]

    def plan_developers(self) -> list[Change]:
        changes = []
        members = group_members(self.names.group)
        for name in self.developers:
            if name in members:
                continue

            def join(name: str = name) -> None:
                self.commands.run(["usermod", "--append", "--groups", self.names.group, name])
                if name not in self.rec.added_developers:
                    self.rec.added_developers.append(name)

            changes.append(Change(f"add the developer {name} to {self.names.group} (their "
                                  "agents reach airlock's hooks socket; they must log in again "
                                  "for it to count)", join))
        return changes

    def plan_folders(self) -> list[Change]:
        lay = self.layout
        def root_dir() -> Want:
            return Want(0, 0, 0o755)

        def run_dir() -> Want:
            return Want(self.airlock_user().uid, self.group_gid(), 0o710)

        wants: list[tuple[Path, Callable[[], Want], str]] = [
            (lay.etc_dir, root_dir, "root's, 0755"),
            (lay.state_dir, self._private, f"{self.names.user}'s only, 0700"),
            (lay.credentials_dir, self._private, f"{self.names.user}'s only, 0700"),
            (lay.recovered_dir, self._private, f"{self.names.user}'s only, 0700"),
            (lay.run_dir, run_dir, f"{self.names.user}'s, {self.names.group} may enter, 0710"),
            (lay.install_dir, root_dir, "root's, 0755"),
        ]
        changes = []
        for path, want, how in wants:
            problem = self._problem(path, want)
            if problem:
                verb, detail = ("create", "") if problem == "missing" else ("repair", f": {problem}")

                def make(path: Path = path, want: Callable[[], Want] = want) -> None:
                    ensure_dir(path, want())

                changes.append(Change(f"{verb} {path} ({how}){detail}", make))
        # What is inside the state folder is airlock's alone (a file left by root, or readable
        # by others, is repaired): group and other bits go.
        user = OsUser.find(self.names.user)
        if user is not None and lay.state_dir.is_dir():
            count = tree_problems(lay.state_dir, user.uid, user.gid, strip=0o077)
            if count:
                def own() -> None:
                    fix_tree(lay.state_dir, user.uid, user.gid, strip=0o077)

                changes.append(Change(
                    f"repair {count} file(s) in {lay.state_dir}: {self.names.user}'s only", own))
        return changes

    def _private(self) -> Want:
        user = self.airlock_user()
        return Want(user.uid, user.gid, 0o700)

    @staticmethod
    def _problem(path: Path, want: Callable[[], Want]) -> str:
        try:
            return want().differs(path)
        except SetupError:  # the user or group does not exist yet (a dry run)
            return "missing" if not path.exists() else "to be given to its owner"

    def plan_config(self) -> list[Change]:
        path = self.layout.config_path
        if not path.exists():
            def write() -> None:
                write_file(path, config_text(self.layout, self.names, self.approvers).encode(),
                           Want(0, 0, 0o644))
                self.rec.created_config = True

            return [Change(f"write {path} (root's, 0644; no credential in it)", write)]
        config = ConfigFile.read(path)
        edits: list[str] = []
        for keys, value in ((("state_dir",), str(self.layout.state_dir)),
                            (("hooks", "socket"), str(self.layout.socket_path)),
                            (("hooks", "socket_group"), self.names.group)):
            if config.set(*keys, value=value):
                edits.append(f"{'.'.join(keys)} = {value!r}")
        for name in self.approvers:
            if name not in config.tables("principals"):
                config.add_table("principals", name, {"kind": "human"})
                edits.append(f"principals.{name} (a human who approves)")
        changes = []
        if edits:
            def edit() -> None:
                if group_id(self.names.group) is not None:
                    config.validated()
                info = path.stat()
                write_file(path, config.text.encode(), Want(info.st_uid, info.st_gid,
                                                            info.st_mode & 0o7777))

            changes.append(Change(f"set {', '.join(edits)} in {path} (nothing else in it "
                                  "changes)", edit))
        info = path.stat()
        if info.st_uid != 0 or info.st_mode & 0o022:
            def repair() -> None:
                os.chown(path, 0, 0)
                os.chmod(path, path.stat().st_mode & 0o755)

            changes.append(Change(f"repair {path}: root's, writable by root only", repair))
        return changes

    def plan_code(self) -> list[Change]:
        venv = self.layout.venv
        source = self.source or code.find_source()
        changes = []
        if code.installed_digest(venv) != source.digest() or not code.venv_works(venv):
            def install() -> None:
                python = self.python or code.base_python()
                code.install(source, venv, python, self.commands)
                self.code_changed = True

            changes.append(Change(f"install airlock from {source.label} into {venv} (a venv of "
                                  "root's, not editable by agents)", install))
        elif tree_problems(venv, 0, 0, strip=0o022):
            changes.append(Change(f"repair {venv}: root's, writable by root only", lambda: None))

        def own() -> None:
            fix_tree(venv, 0, 0, strip=0o022)

        if changes:  # after every install, and as the repair itself
            changes.append(Change(f"give every file in {venv} to root, writable by root only",
                                  own))
        return changes

    def plan_command(self) -> list[Change]:
        path = self.layout.wrapper_path
        text = wrapper_text(self.layout).encode()
        want = Want(0, 0, 0o755)
        try:
            same = path.read_bytes() == text and not want.differs(path)
        except OSError:
            same = False
        if same:
            return []
        return [Change(f"write {path} (`airlock` with {self.layout.config_path})",
                       lambda: write_file(path, text, want))]

    def plan_service(self) -> list[Change]:
        if not self.systemd:
            return []
        path = self.layout.unit_path
        names = self.names
        user = OsUser.find(names.user)
        if user is not None:  # a user that existed before setup may have another primary group
            names = replace(names, user_group=grp.getgrgid(user.gid).gr_name)
        text = unit_text(self.layout, names).encode()
        changes = []
        try:
            current = path.read_bytes()
        except OSError:
            current = b""
        if current != text:
            def write() -> None:
                write_file(path, text, Want(0, 0, 0o644))
                self.commands.run(["systemctl", "daemon-reload"])

            changes.append(Change(f"write {path} and reload systemd", write))

        def start() -> None:
            self.commands.run(["systemctl", "enable", SERVICE_NAME])
            self.commands.run(["systemctl", "restart", SERVICE_NAME])

        changes.append(Change(f"enable {SERVICE_NAME} and (re)start it, so it runs the code and "
                              "configuration just checked", start))
        return changes

    def plan_hooks(self) -> list[Change]:
        from airlock.fronts.hooks import install as installer

        changes = []
        for dev in self.developer_users():
            for harness, folder in HOOK_FOLDERS.items():
                if not (dev.home / folder).is_dir():
                    continue
                path = installer.settings_path(harness, project=None, home=dev.home)
                command = self.hook_command(harness)
                try:
                    before = installer.read_settings(path)
                    wanted = installer.merged(before, harness, command, self.hook_timeout())
                except Exception:  # unreadable as root, or not JSON: the developer's step says
                    before, wanted = {}, {"": ""}
                if before == wanted:
                    self.rec.remember_hook(dev.name, harness, path)
                    continue

                def install(dev: OsUser = dev, harness: str = harness, path: Path = path) -> None:
                    run_helper(dev, self.layout.venv_python, {
                        "op": "install-hook", "harness": harness, "path": str(path),
                        "command": self.hook_command(harness), "timeout": self.hook_timeout()})
                    self.rec.remember_hook(dev.name, harness, path)

                changes.append(Change(
                    f"install airlock's hook for {harness} in {path} "
                    f"({', '.join(HARNESSES[harness].events)}; as {dev.name})", install))
        return changes

    def hook_command(self, harness: str) -> str:
        """The installed client, run by root's interpreter, asking the daemon over the socket.
        No fallback: the developer's user cannot read airlock's state, so when the daemon is not
        running the client blocks, saying so."""
        return shlex.join([str(self.client_python()), "-I", "-S", str(self.client_path()),
                           harness, "--socket", str(self.layout.socket_path),
                           "--timeout", str(self.hook_timeout())])

    def hook_timeout(self) -> int:
        return CLIENT_SECONDS + self._wait_seconds()

    def _wait_seconds(self) -> int:
        try:
            value = ConfigFile.read(self.layout.config_path).get("hooks", "wait_seconds")
        except SetupError:
            return 0
        return int(value) if isinstance(value, int) else 0

    def client_python(self) -> Path:
        python = self.layout.venv_python
        return python.resolve() if python.exists() else Path("/usr/bin/python3")

    def client_path(self) -> Path:
        found = sorted(self.layout.venv.glob("lib/python3*/site-packages/airlock/hookclient.py"))
        if found:
            return found[-1]
        return self.layout.venv / "lib" / "python3" / "site-packages" / "airlock" / "hookclient.py"


def _nologin() -> str:
    """The shell of a user nobody logs in as (Debian: /usr/sbin/nologin; others: /sbin/…)."""
    found = shutil.which("nologin", path="/usr/sbin:/sbin:/usr/bin:/bin")
    return found or "/usr/sbin/nologin"


def run_steps(machine: Machine, *, dry_run: bool, say: Callable[[str], None]) -> int:
    """Plan and (unless dry) apply every step in order; returns how many changes."""
    machine.check_names()
    count = 0
    for name, plan in machine.steps():
        for change in plan():
            count += 1
            say(f"{'would ' if dry_run else ''}{name}: {change.summary}")
            if not dry_run:
                try:
                    change.apply()
                finally:
                    machine.save()
    if not dry_run:
        machine.save()
    return count
