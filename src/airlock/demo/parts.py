"""The real parts the demo starts, each one undone by the `ExitStack` it is entered into: a
throwaway PostgreSQL cluster, free ports, a vault folder on another filesystem, `airlock up`.

PostgreSQL refuses to run as root, so as root the cluster runs as the unprivileged `postgres`
user (via runuser), as the tests' cluster does; otherwise as the current user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from airlock.errors import AirlockError

PREFIX = "airlock-demo-"  # every folder the demo makes starts so (the test looks for leftovers)
INSTALL_POSTGRES = ("PostgreSQL's server binaries (initdb, pg_ctl, pg_dump) are not installed; "
                    "install them (Debian/Ubuntu: `sudo apt-get install postgresql`; Fedora: "
                    "`sudo dnf install postgresql-server`; macOS: `brew install postgresql`) "
                    "and run `airlock demo` again")


class MissingPart(AirlockError):
    """Something the demo needs is not on this machine: the message says what to install."""


SEARCHED = "/usr/lib/postgresql/*/bin"  # Debian's layout keeps the server tools off PATH


def find_postgres() -> Path:
    """The folder holding initdb, pg_ctl and pg_dump: PATH first, else the newest Debian
    version."""
    initdb = shutil.which("initdb")
    if initdb and all((Path(initdb).parent / tool).exists() for tool in ("pg_ctl", "pg_dump")):
        return Path(initdb).parent
    versions = sorted(glob.glob(SEARCHED),
                      key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    for candidate in reversed(versions):
        if all((Path(candidate) / tool).exists() for tool in ("initdb", "pg_ctl", "pg_dump")):
            return Path(candidate)
    raise MissingPart(INSTALL_POSTGRES)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scratch_folder(stack: ExitStack, parent: str | None = None) -> Path:
    path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    stack.callback(shutil.rmtree, path, True)
    return path


def vault_folder(stack: ExitStack, beside: Path) -> Path:
    """A folder on another filesystem than `beside` (airlock's local vault refuses to back up
    what lives on its own disk): /dev/shm where it is its own filesystem, else the home folder."""
    device = os.stat(beside).st_dev
    # /dev/shm: a folder of our own in it (mkdtemp: unique name, 0700), not a fixed path
    for parent in ("/dev/shm", str(Path.home()), os.getcwd()):  # noqa: S108
        try:
            if Path(parent).is_dir() and os.stat(parent).st_dev != device \
                    and os.access(parent, os.W_OK):
                return scratch_folder(stack, parent)
        except OSError:
            continue
    raise MissingPart(f"the demo's vault needs a folder on another filesystem than {beside} "
                      "(airlock refuses to keep a backup on the disk it protects); mount a "
                      "tmpfs at /dev/shm or set TMPDIR to another disk, then run it again")


@dataclass(frozen=True)
class Cluster:
    bindir: Path
    datadir: Path
    port: int
    user: str  # the OS user the server runs as; also its superuser role

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def execute(self, sql: str, dbname: str = "postgres") -> list[tuple[object, ...]]:
        """As the superuser, straight to the server (the demo's set-up and its checks)."""
        with psycopg.connect(self.url(dbname), autocommit=True, connect_timeout=10) as conn:
            cursor = conn.execute(sql.encode())
            return cursor.fetchall() if cursor.description else []


def _as_server_user(cmd: list[str], user: str) -> list[str]:
    return ["runuser", "-u", user, "--", *cmd] if os.geteuid() == 0 else cmd


def plan_postgres(stack: ExitStack) -> Cluster:
    """Where the cluster will be: a folder of its own, a free port, its OS user."""
    if os.geteuid() != 0:
        folder = scratch_folder(stack)
        return Cluster(find_postgres(), folder / "data", free_port(),
                       pwd.getpwuid(os.geteuid()).pw_name)
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        raise MissingPart("as root the demo runs PostgreSQL as the unprivileged `postgres` "
                          "user, and there is none; install PostgreSQL's package (it creates "
                          "the user) or run the demo as an ordinary user") from None
    # postgres must be able to pass through every folder above its own: $TMPDIR may be private
    # (a test's folder, a per-user temp), /tmp is not
    parent = next((p for p in (tempfile.gettempdir(), "/tmp") if _passable(Path(p))), None)  # noqa: S108
    if parent is None:
        raise MissingPart("no temporary folder the `postgres` user can reach for the demo's "
                          "cluster; set TMPDIR to one (every folder above it searchable by all)")
    folder = scratch_folder(stack, parent)
    os.chown(folder, entry.pw_uid, entry.pw_gid)
    return Cluster(find_postgres(), folder / "data", free_port(), "postgres")


def _passable(path: Path) -> bool:
    path = path.resolve()
    return all(os.stat(p).st_mode & 0o001 for p in (path, *path.parents))


def start_postgres(cluster: Cluster) -> None:
    """initdb + pg_ctl start, trust authentication on 127.0.0.1 only."""
    folder = cluster.datadir.parent
    _run(_as_server_user([str(cluster.bindir / "initdb"), "-D", str(cluster.datadir), "-U",
                          cluster.user, "-A", "trust", "--no-sync", "-E", "UTF8"], cluster.user),
         "initdb")
    opts = (f"-c listen_addresses=127.0.0.1 -c port={cluster.port} "
            "-c unix_socket_directories='' "  # TCP only: a socket path may be too long
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
    _run(_as_server_user([str(cluster.bindir / "pg_ctl"), "-D", str(cluster.datadir), "-o", opts,
                          "-l", str(folder / "server.log"), "-w", "-t", "60", "start"],
                         cluster.user), "pg_ctl start")


def stop_postgres(cluster: Cluster) -> None:
    if (cluster.datadir / "postmaster.pid").exists():
        subprocess.run(_as_server_user([str(cluster.bindir / "pg_ctl"), "-D", str(cluster.datadir),
                                        "-m", "immediate", "-w", "stop"], cluster.user),
                       capture_output=True, timeout=60, check=False)


def start_postgres_in_background(stack: ExitStack, cluster: Cluster,
                                 then: Callable[[Cluster], None]) -> Future[Cluster]:
    """Start the cluster (then `then(cluster)`) in a thread; the stack waits for that thread and
    stops the cluster, whether it started, failed or is still starting when the stack unwinds."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-postgres")

    def start() -> Cluster:
        start_postgres(cluster)
        then(cluster)
        return cluster

    future = pool.submit(start)

    def stop() -> None:
        pool.shutdown(wait=True)  # a half-started server is stopped too, once it is up
        stop_postgres(cluster)

    stack.callback(stop)
    return future


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise AirlockError(f"{what} failed: {(done.stderr or done.stdout).strip()[-400:]}")


@contextmanager
def airlock_up(command: list[str], env: dict[str, str], cwd: Path, api_port: int,
               log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`airlock up` as a subprocess, until its /healthz says every service is up; SIGTERM (then
    SIGKILL) when the block ends, however it ends."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # a Ctrl-C is ours to pass on
    try:
        _wait_healthy(proc, api_port, log)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_healthy(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise AirlockError(f"airlock up stopped at start (exit {proc.returncode}): "
                               f"{log.read_text(errors='replace')[-600:]}")
        try:
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            services = health.json().get("services", {}) if health.status_code == 200 else {}
            if services and all(s.get("ok") for s in services.values()):
                return
        except (httpx.HTTPError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise AirlockError(f"airlock up did not become healthy within 60 s: "
                               f"{log.read_text(errors='replace')[-600:]}")
        time.sleep(0.1)
