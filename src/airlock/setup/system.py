"""The machine, as `airlock setup` and `airlock doctor` touch it: OS users, the tools that change
them, files with an owner and a mode, and running code as another user.

Anything done inside a developer's home is done *as that developer* (a child process with their
uid, gid and groups), never as root: a home folder is the agent's to arrange, and root following
a symlink planted there would write wherever the agent pointed it.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shlex
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from airlock.errors import SetupError
from airlock.files import replace_atomically

# What a child process run as another user keeps of our environment: nothing that could carry a
# credential or change how Python or the tools behave, only what locates things.
_KEPT_ENV = ("PATH", "LANG", "LC_ALL", "TZ")
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True, slots=True)
class OsUser:
    name: str
    uid: int
    gid: int
    home: Path
    groups: tuple[int, ...]  # every group the user is in, the primary one included

    @classmethod
    def named(cls, name: str) -> OsUser:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise SetupError(f"there is no OS user {name!r} on this machine",
                             hint="check the name (`getent passwd NAME`)") from None
        return cls._of(entry)

    @classmethod
    def find(cls, name: str) -> OsUser | None:
        try:
            return cls._of(pwd.getpwnam(name))
        except KeyError:
            return None

    @classmethod
    def with_uid(cls, uid: int) -> OsUser | None:
        try:
            return cls._of(pwd.getpwuid(uid))
        except KeyError:
            return None

    @classmethod
    def current(cls) -> OsUser:
        user = cls.with_uid(os.geteuid())
        if user is None:
            return cls(str(os.geteuid()), os.geteuid(), os.getegid(), Path("/"),
                       tuple(sorted({os.getegid(), *os.getgroups()})))
        return user

    @classmethod
    def _of(cls, entry: pwd.struct_passwd) -> OsUser:
        groups = tuple(sorted(set(os.getgrouplist(entry.pw_name, entry.pw_gid))))
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir), groups)


def group_id(name: str) -> int | None:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def group_members(name: str) -> set[str]:
    """Users whose supplementary groups include `name` (primary-group members are not listed)."""
    try:
        return set(grp.getgrnam(name).gr_mem)
    except KeyError:
        return set()


class Commands:
    """Runs the machine's own tools (groupadd, useradd, systemctl, pip). Tests substitute one
    that records what would run where the real tool cannot (systemctl without systemd)."""

    def run(self, argv: list[str], *, input: str | None = None, timeout: float = 900,
            env: dict[str, str] | None = None) -> str:
        try:
            proc = subprocess.run(argv, input=input, capture_output=True, text=True,
                                  timeout=timeout, env=env)
        except FileNotFoundError:
            raise SetupError(f"{argv[0]} is not installed on this machine",
                             hint="install it (Debian: the passwd, util-linux or systemd "
                                  "package) and run setup again") from None
        except subprocess.TimeoutExpired:
            raise SetupError(f"`{shlex.join(argv)}` did not finish in {timeout:g} s") from None
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise SetupError(f"`{shlex.join(argv)}` failed (exit {proc.returncode}): "
                             + " / ".join(detail))
        return proc.stdout


def child_env(user: OsUser) -> dict[str, str]:
    env = {key: os.environ[key] for key in _KEPT_ENV if key in os.environ}
    env.setdefault("PATH", SAFE_PATH)
    env.update(HOME=str(user.home), USER=user.name, LOGNAME=user.name)
    return env


def run_as(user: OsUser, argv: list[str], *, input: bytes | None = None,
           timeout: float = 600) -> subprocess.CompletedProcess[bytes]:
    """Run `argv` with `user`'s uid, gid and groups (as a fresh login would have them). From a
    process that already is that user it simply runs; only root may become someone else."""
    cwd = str(user.home) if user.home.is_dir() else "/"
    if os.geteuid() == user.uid:
        return subprocess.run(argv, input=input, capture_output=True, timeout=timeout, cwd=cwd)
    if os.geteuid() != 0:
        raise SetupError(f"acting as {user.name} needs root", hint="run this with sudo")
    # cwd is checked by the child after it has become the user (subprocess sets ids first).
    return subprocess.run(argv, input=input, capture_output=True, timeout=timeout,
                          user=user.uid, group=user.gid, extra_groups=list(user.groups),
                          env=child_env(user), cwd=cwd if _enterable(cwd, user) else "/")


def _enterable(path: str, user: OsUser) -> bool:
    try:
        info = os.stat(path)
    except OSError:
        return False
    if info.st_uid == user.uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid in user.groups:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


# --------------------------------------------------------------------------------------------
# Files with an owner and a mode


@dataclass(frozen=True, slots=True)
class Want:
    """What a file or folder must be: its owner, group and mode."""

    uid: int
    gid: int
    mode: int

    def differs(self, path: Path) -> str:
        """'' when `path` is as wanted, else what is wrong (for the plan)."""
        try:
            info = path.lstat()
        except FileNotFoundError:
            return "missing"
        problems = []
        if stat.S_ISLNK(info.st_mode):
            return "a symbolic link (airlock's files must be real files and folders)"
        if info.st_uid != self.uid or info.st_gid != self.gid:
            problems.append(f"owned by {_owner(info.st_uid, info.st_gid)}, should be "
                            f"{_owner(self.uid, self.gid)}")
        if stat.S_IMODE(info.st_mode) != self.mode:
            problems.append(f"mode {stat.S_IMODE(info.st_mode):04o}, should be {self.mode:04o}")
        return "; ".join(problems)


def _owner(uid: int, gid: int) -> str:
    user = OsUser.with_uid(uid)
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    return f"{user.name if user else uid}:{group}"


def ensure_dir(path: Path, want: Want) -> None:
    """Create `path` (parents root's, 0755) or fix its owner and mode. A symlink is refused:
    following one would hand airlock's state to wherever it points."""
    for parent in reversed(path.parents):
        if not parent.exists():
            parent.mkdir(mode=0o755)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=want.mode)
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise SetupError(f"{path} exists and is not a folder", hint="move it away, then run "
                         "setup again")
    os.chown(path, want.uid, want.gid, follow_symlinks=False)
    os.chmod(path, want.mode)


def write_file(path: Path, content: bytes, want: Want) -> None:
    """Replace `path` atomically with `content`, owned and moded as wanted from its first byte."""
    replace_atomically(path, content, mode=want.mode, owner=(want.uid, want.gid))


def fix_tree(root: Path, uid: int, gid: int, *, strip: int) -> int:
    """Give everything under `root` to uid:gid and take the `strip` mode bits away (symlinks are
    re-owned, never followed). Returns how many entries changed."""
    changed = 0
    for entry in [root, *_walk(root)]:
        info = entry.lstat()
        if info.st_uid != uid or info.st_gid != gid:
            os.chown(entry, uid, gid, follow_symlinks=False)
            changed += 1
        mode = stat.S_IMODE(info.st_mode)
        if not stat.S_ISLNK(info.st_mode) and mode & strip:
            os.chmod(entry, mode & ~strip)
            changed += 1
    return changed


def tree_problems(root: Path, uid: int, gid: int, *, strip: int) -> int:
    """How many entries under `root` `fix_tree` would change."""
    count = 0
    for entry in [root, *_walk(root)]:
        try:
            info = entry.lstat()
        except FileNotFoundError:
            continue
        if info.st_uid != uid or info.st_gid != gid or (
                not stat.S_ISLNK(info.st_mode) and stat.S_IMODE(info.st_mode) & strip):
            count += 1
    return count


def _walk(root: Path) -> list[Path]:
    found: list[Path] = []
    if not root.is_dir() or root.is_symlink():
        return found
    for folder, dirs, files in os.walk(root, followlinks=False):
        base = Path(folder)
        found.extend(base / name for name in dirs)
        found.extend(base / name for name in files)
    return found


def systemd_booted() -> bool:
    """sd_booted(): systemd is the init system exactly when this folder exists."""
    return Path("/run/systemd/system").is_dir()


def refuse_foreign_state(config_path: Path | None) -> None:
    """Stop, with the next step, a command that needs airlock's state when the state belongs to
    another user (airlock runs as its own user; `airlock setup`). Without this the person sees
    whichever file failed first — a credential, the database — and not why."""
    import tomllib

    from airlock.errors import AuthError

    if config_path is None:
        return
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # loading the configuration reports this properly
    state = Path(str(raw.get("state_dir", ".airlock"))).expanduser()
    state = state if state.is_absolute() else config_path.resolve().parent / state
    try:
        info = state.stat()
    except OSError:
        return
    if os.access(state, os.R_OK | os.W_OK | os.X_OK):
        return
    owner = OsUser.with_uid(info.st_uid)
    name = owner.name if owner else str(info.st_uid)
    me = OsUser.current().name
    raise AuthError(f"airlock's state ({state}) belongs to {name}, and you are {me}: airlock "
                    f"runs as {name} here, and its commands run as that user",
                    hint=f"an administrator runs them as that user (sudo -u {name} airlock …); "
                         "approvers decide without it: airlock approve ID --server "
                         "http://127.0.0.1:8377")
