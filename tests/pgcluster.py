"""A throwaway PostgreSQL cluster for the test session.

PostgreSQL refuses to run as root, and CI runs as root, so when we are root the server runs as
the unprivileged `postgres` user (via runuser). The cluster lives in a temporary folder, listens
on a free localhost port with trust authentication, and is removed at the end.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.cli import free_port


def find_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    for candidate in reversed(candidates):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass(frozen=True)
class Cluster:
    bindir: Path
    datadir: Path
    port: int
    user: str  # OS user the server runs as; also the superuser role name

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        result = subprocess.run(
            [str(self.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At",
             "-d", self.url(dbname), "-c", sql],
            capture_output=True, text=True, check=True, timeout=60)
        return result.stdout

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _as_server_user(cmd: list[str], user: str) -> list[str]:
    return ["runuser", "-u", user, "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def running_cluster(bindir: Path) -> Iterator[Cluster]:
    user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    base = Path(tempfile.mkdtemp(prefix="airlock-pg-"))
    datadir = base / "data"
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    port = free_port()
    try:
        subprocess.run(_as_server_user([str(bindir / "initdb"), "-D", str(datadir), "-U", user,
                                        "-A", "trust", "--no-sync", "-E", "UTF8"], user),
                       check=True, capture_output=True, timeout=120)
        # autovacuum off: planner statistics change only when a test runs ANALYZE, so the
        # live estimates airlock reads (reach.py) are the same in every run
        opts = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c autovacuum=off")
        subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(datadir), "-o", opts,
                                        "-l", str(base / "server.log"), "-w", "-t", "60", "start"],
                                       user), check=True, capture_output=True, timeout=120)
        cluster = Cluster(bindir, datadir, port, user)
        deadline = time.monotonic() + 30
        while True:
            try:
                cluster.psql("SELECT 1")
                break
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield cluster
    finally:
        subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate",
                                        "stop"], user), capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)
