"""`airlock setup` with real OS users, end to end (root only; every path under a temporary root).

The module's fixture creates a developer (with Claude Code and Codex folders, a workspace whose
`.env` holds a database URL and a Railway token, and a kube config), runs `airlock setup` once
(the real command: users, groups, a root-owned venv built from this checkout, the developer's
hooks, credentials moved, two approvers enrolled), then starts airlock with the exact foreground
command setup printed. The tests then act as the developer — the agent's user — and as root.
Tests run in file order; the last one undoes the setup, and the fixture's finalizer removes
whatever is left (users, groups, folders), so parallel runs and reruns never collide.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from airlock.setup.layout import Layout
from tests.conftest import require

RAILWAY = "4f2c8a7e-1b2c-4d3e-8f9a-0b1c2d3e4f5a"
DB_URL = "postgres://app:s3cr3tPassw0rd@db.internal:5432/app"
ENV_FILE = f"DEBUG=1\nDATABASE_URL={DB_URL}\nRAILWAY_TOKEN={RAILWAY}\n"
KUBECONFIG = ("apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n"
              "    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFcEFJQkFB\n")
CLEAN_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "LANG": "C.UTF-8", "NO_COLOR": "1", "COLUMNS": "200"}


@dataclass
class Installed:
    root: Path
    user: str
    group: str
    dev: str
    home: Path
    port: int
    setup_output: str
    prod: Path
    up: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        """Stop the `airlock up` this module started (its own process group, by its id)."""
        if self.up is not None and self.up.poll() is None:
            os.killpg(self.up.pid, signal.SIGTERM)
            try:
                self.up.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.up.pid, signal.SIGKILL)
                self.up.wait(timeout=30)
        if self.up is not None:
            # `sh` dies at once on SIGTERM, while runuser forwards it and `airlock up` is still
            # stopping: wait until nobody serves the socket, or `setup --undo` sees it running.
            from airlock.doctor.service import Peer, peer_of

            deadline = time.monotonic() + 30
            while isinstance(peer_of(str(self.layout.socket_path)), Peer):
                if time.monotonic() > deadline:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.up.pid, signal.SIGKILL)
                    break
                time.sleep(0.1)
        if self.up is not None and self.up.stderr is not None:
            self.up.stderr.close()

    @property
    def layout(self) -> Layout:
        return Layout.under(self.root)

    @property
    def workspace(self) -> Path:
        return self.home / "proj"

    def as_dev(self, *argv: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["runuser", "-u", self.dev, "--", *argv], input=input,
                              capture_output=True, timeout=120, env=CLEAN_ENV, cwd="/")

    def airlock_as_dev(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return self.as_dev(str(self.layout.wrapper_path), *args)

    def setup(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "airlock", "setup", "--root", str(self.root), "--user",
             self.user, "--group", self.group, "--developer", self.dev, "--port", str(self.port),
             *args], capture_output=True, text=True, timeout=900,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"})

    def doctor(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "airlock", "doctor", "--root", str(self.root), "--workspace",
             str(self.workspace), "--json", *args], capture_output=True, text=True, timeout=300,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _other_filesystem() -> Path | None:
    """A folder on another filesystem than /tmp, for the vault (a vault refuses to protect data
    on its own disk, and the doctor checks it)."""
    for candidate in (Path("/dev/shm"), Path("/run/shm")):
        if candidate.is_dir() and candidate.stat().st_dev != Path("/tmp").stat().st_dev:
            return candidate
    return None


def _run(*argv: str) -> None:
    subprocess.run(list(argv), check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def installed() -> Iterator[Installed]:
    tools = all(shutil.which(t) for t in ("useradd", "userdel", "groupdel", "runuser"))
    other_fs = _other_filesystem()
    require(os.geteuid() == 0 and tools and Path("/usr/bin/python3").exists()
            and other_fs is not None,
            "root, useradd/runuser, /usr/bin/python3 and a second filesystem (/dev/shm), to set "
            "airlock up for real OS users")
    assert other_fs is not None
    tag = uuid.uuid4().hex[:6]
    user, group, dev = f"alk_t_{tag}", f"alk_t_{tag}_ag", f"alk_t_{tag}_dev"
    root = Path(tempfile.mkdtemp(prefix="alk-t-", dir="/tmp"))
    root.chmod(0o755)
    vault = other_fs / f"alk-t-{tag}-vault"
    box: Installed | None = None
    try:
        home = root / "home" / dev
        home.parent.mkdir(parents=True)
        _run("useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/sh", dev)
        (home / ".claude").mkdir()
        (home / ".claude" / "settings.json").write_text('{"model": "opus"}\n')
        (home / ".codex").mkdir()
        (home / "proj").mkdir()
        (home / "proj" / ".env").write_text(ENV_FILE)
        (home / ".kube").mkdir()
        (home / ".kube" / "config").write_text(KUBECONFIG)
        _run("chown", "-R", f"{dev}:{dev}", str(home))
        port = _free_port()
        box = Installed(root, user, group, dev, home, port, "", root / "srv" / "prod-data")
        done = box.setup("--workspace", str(box.workspace), "--approver", "alice",
                         "--approver", "bob", "--yes")
        assert done.returncode == 0, done.stdout + done.stderr
        box.setup_output = done.stdout + done.stderr
        # the administrator declares a production folder, and a vault on another disk
        lay = box.layout
        vault.mkdir(mode=0o700)
        shutil.chown(vault, user, user)
        with lay.config_path.open("a") as config:
            config.write(f'\n[resources.prod-data]\nkind = "path"\nenvironment = "production"\n'
                         f'path = "{box.prod}"\n')
        text = lay.config_path.read_text().replace(
            '# path = "/mnt/backup-disk/airlock-vault"', f'path = "{vault}"')
        lay.config_path.write_text(text)
        # start airlock exactly as setup said to
        command = next(line for line in box.setup_output.splitlines()
                       if line.startswith("install -d") and "runuser" in line)
        box.up = up = subprocess.Popen(["sh", "-c", command], env=CLEAN_ENV,
                                       start_new_session=True, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not lay.socket_path.exists() and time.monotonic() < deadline:
            assert up.poll() is None, up.stderr.read() if up.stderr else ""
            time.sleep(0.2)
        assert lay.socket_path.exists(), "airlock up did not start"
        yield box
    finally:
        if box is not None:
            box.stop()
        for name in (dev, user):
            subprocess.run(["userdel", name], capture_output=True, timeout=60)
        for name in (group, user, dev):
            subprocess.run(["groupdel", name], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(vault, ignore_errors=True)


def _denied(done: subprocess.CompletedProcess[bytes]) -> str:
    assert done.returncode != 0, done.stdout
    return done.stderr.decode()


# ---- what setup did, and said --------------------------------------------------------------

def test_setup_says_there_is_no_systemd_and_prints_the_exact_command(installed: Installed) -> None:
    out, lay = installed.setup_output, installed.layout
    assert "No systemd on this machine" in out
    assert (f"runuser -u {installed.user} -- {lay.venv_airlock} --config {lay.config_path} up "
            f"--host 127.0.0.1 --port {installed.port}") in out
    assert not lay.unit_path.exists()


def test_airlock_runs_from_root_owned_code_as_its_own_user(installed: Installed) -> None:
    lay = installed.layout
    assert pwd.getpwnam(installed.user).pw_shell == "/usr/sbin/nologin"
    for path in (lay.venv, lay.venv_airlock, lay.config_path, lay.wrapper_path):
        info = path.stat()
        assert info.st_uid == 0 and not info.st_mode & 0o022, path
    package = next(lay.venv.glob("lib/python3*/site-packages/airlock"))
    assert not (package / "__init__.py").resolve().is_relative_to(Path(__file__).parents[2])
    state = lay.state_dir.stat()
    assert pwd.getpwuid(state.st_uid).pw_name == installed.user and state.st_mode & 0o777 == 0o700
    peer = socket.socket(socket.AF_UNIX)
    peer.connect(str(lay.socket_path))
    import struct
    _pid, uid, _gid = struct.unpack("3i", peer.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                          12))
    peer.close()
    assert pwd.getpwuid(uid).pw_name == installed.user


def test_credentials_were_moved_into_custody(installed: Installed) -> None:
    lay = installed.layout
    assert (installed.workspace / ".env").read_text() == (
        "DEBUG=1\nDATABASE_URL=airlock:database-url\nRAILWAY_TOKEN=airlock:railway-token\n")
    assert not (installed.home / ".kube" / "config").exists()
    assert (lay.credentials_dir / "database-url").read_text() == DB_URL
    assert (lay.credentials_dir / "kubeconfig").read_text() == KUBECONFIG
    recovered = [p.read_text() for p in lay.recovered_dir.iterdir()]
    assert ENV_FILE in recovered and KUBECONFIG in recovered
    for path in (*lay.credentials_dir.iterdir(), *lay.recovered_dir.iterdir()):
        assert path.stat().st_mode & 0o777 == 0o600
        assert pwd.getpwuid(path.stat().st_uid).pw_name == installed.user
    config = lay.config_path.read_text()
    assert f'url = {{file = "{lay.credentials_dir}/database-url"}}' in config
    assert "[resources.railway-token]" in config and RAILWAY not in config


# ---- the developer's user (the agent's) cannot get past it --------------------------------

def test_the_developer_cannot_read_keys_state_or_credentials(installed: Installed) -> None:
    lay = installed.layout
    for path in (lay.state_dir / "approvals.key", lay.state_dir / "audit.key",
                 lay.state_dir / "state.db", lay.credentials_dir / "database-url",
                 lay.credentials_dir / "railway-token", lay.credentials_dir / "kubeconfig"):
        assert path.exists(), path
        assert "Permission denied" in _denied(installed.as_dev("cat", str(path)))
    assert "Permission denied" in _denied(installed.as_dev("ls", str(lay.recovered_dir)))
    said = _denied(installed.airlock_as_dev("audit", "export", "--jsonl"))
    assert f"belongs to {installed.user}, and you are {installed.dev}" in said


def test_the_developer_cannot_edit_the_configuration(installed: Installed) -> None:
    config = installed.layout.config_path
    before = config.read_bytes()
    assert "Permission denied" in _denied(installed.as_dev("sh", "-c", f"echo x >> {config}"))
    assert "Permission denied" in _denied(installed.as_dev("mv", str(config), "/tmp/x"))
    assert "Permission denied" in _denied(installed.as_dev("touch", str(config.parent / "x.toml")))
    assert config.read_bytes() == before


def test_the_developer_cannot_enrol_or_approve(installed: Installed) -> None:
    said = _denied(installed.airlock_as_dev("approver", "add", "eve"))
    assert f"belongs to {installed.user}" in said and f"sudo -u {installed.user}" in said
    said = _denied(installed.airlock_as_dev("approve", "apr_0000000000000000000000000",
                                            "--token", "x", "--code", "123456"))
    assert f"belongs to {installed.user}" in said and "--server" in said


def test_airlocks_own_user_enrols_with_the_installed_command(installed: Installed) -> None:
    """What an administrator runs (`sudo -u airlock airlock approver …`): the installed command
    finds the configuration by itself."""
    done = subprocess.run(["runuser", "-u", installed.user, "--",
                           str(installed.layout.wrapper_path), "approver", "list", "--json"],
                          capture_output=True, timeout=120, env=CLEAN_ENV, cwd="/")
    assert done.returncode == 0, done.stderr
    assert sorted(a["name"] for a in json.loads(done.stdout)) == ["alice", "bob"]


def test_the_developer_cannot_remove_or_replace_the_hooks_socket(installed: Installed) -> None:
    sock = installed.layout.socket_path
    assert "Permission denied" in _denied(installed.as_dev("rm", "-f", str(sock)))
    assert "Permission denied" in _denied(installed.as_dev("mv", str(sock), "/tmp/x.sock"))
    assert "Permission denied" in _denied(installed.as_dev("ln", "-sf", "/tmp/evil", str(sock)))
    rival = (f"import socket; s = socket.socket(socket.AF_UNIX); "
             f"s.bind({str(sock.parent / 'rival.sock')!r})")
    assert "Permission denied" in _denied(installed.as_dev("/usr/bin/python3", "-c", rival))
    assert sock.exists()


def test_the_developer_cannot_change_the_installed_code(installed: Installed) -> None:
    lay = installed.layout
    package = next(lay.venv.glob("lib/python3*/site-packages/airlock"))
    for argv in (["touch", str(package / "evil.py")],
                 ["sh", "-c", f"echo x >> {package / 'hookclient.py'}"],
                 ["sh", "-c", f"echo x >> {lay.venv_airlock}"],
                 ["mv", str(lay.venv), str(lay.root / "tmp-venv")]):
        assert "Permission denied" in _denied(installed.as_dev(*argv))


def test_the_installed_hook_holds_rm_rf_on_a_production_path(installed: Installed) -> None:
    settings = json.loads((installed.home / ".claude" / "settings.json").read_text())
    assert settings["model"] == "opus"  # what was there is kept
    command = settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    assert str(installed.layout.socket_path) in command
    payload = json.dumps({"session_id": "s", "transcript_path": "/tmp/t", "cwd": "/",
                          "hook_event_name": "PreToolUse", "tool_name": "Bash",
                          "tool_input": {"command": f"rm -rf {installed.prod}"}}).encode()
    done = installed.as_dev("sh", "-c", command, input=payload)
    assert done.returncode == 2, done.stderr
    answer = json.loads(done.stdout)["hookSpecificOutput"]
    assert answer["permissionDecision"] == "deny"
    assert answer["permissionDecisionReason"].startswith(f"airlock held this action: rm -rf "
                                                         f"{installed.prod}")
    assert "production" in answer["permissionDecisionReason"]
    harmless = payload.replace(f"rm -rf {installed.prod}".encode(), b"ls -la")
    done = installed.as_dev("sh", "-c", command, input=harmless)
    assert done.returncode == 0 and b'"allow"' in done.stdout


# ---- doctor -----------------------------------------------------------------------------------

def test_doctor_gives_a_clean_bill_to_a_clean_setup(installed: Installed) -> None:
    done = installed.doctor()
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["clean"], json.dumps(report, indent=2)
    assert report["checked"] == ["service", "access", "credentials", "harnesses", "backups",
                                 "drills", "tokens", "audit"]


def test_doctor_as_the_developer_sees_what_it_may(installed: Installed) -> None:
    done = installed.as_dev(str(installed.layout.wrapper_path), "doctor", "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["clean"], report
    # what only airlock's user may read is reported as not checked, never as a problem
    assert any("could not check" in f["title"] for f in report["findings"])


def test_doctor_finds_keys_the_agent_can_read(installed: Installed) -> None:
    lay = installed.layout
    key = lay.state_dir / "approvals.key"
    try:
        lay.state_dir.chmod(0o711)
        key.chmod(0o644)
        done = installed.doctor("--check", "access")
        report = json.loads(done.stdout)
        assert done.returncode == 1
        keys = next(f for f in report["findings"] if f["check"] == "access.keys")
        assert keys["evidence"] == [f"{installed.dev} can read {key}"]
    finally:
        lay.state_dir.chmod(0o700)
        key.chmod(0o600)


def test_doctor_finds_a_workspace_airlock_cannot_read(installed: Installed) -> None:
    """Scripts are judged by reading them, as airlock's user: a project it cannot read means
    every script run there is held unread."""
    try:
        installed.workspace.chmod(0o700)
        report = json.loads(installed.doctor("--check", "access").stdout)
        found = [f for f in report["findings"] if f["check"] == "access.workspace"]
        assert [f["severity"] for f in found] == ["warning"]
        assert found[0]["evidence"] == [f"{installed.user} cannot read {installed.workspace}: "
                                        "Permission denied"]
        assert f"setfacl -m u:{installed.user}:x ~" in found[0]["fix"]
    finally:
        installed.workspace.chmod(0o755)


def test_doctor_finds_a_removed_hook_and_setup_repairs_it(installed: Installed) -> None:
    codex = installed.home / ".codex" / "hooks.json"
    before = codex.read_text()
    codex.write_text("{}\n")
    state = installed.layout.state_dir
    state.chmod(0o755)  # and a drifted mode
    report = json.loads(installed.doctor("--check", "harnesses").stdout)
    assert [f["check"] for f in report["findings"]] == ["harness.codex.hook"]
    again = installed.setup("--no-credentials")
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    assert any(line.startswith(f"folders: repair {state}") for line in lines), again.stdout
    assert any(line.startswith("hooks: install airlock's hook for codex") for line in lines)
    assert not any(line.startswith(("group:", "user:", "code:", "config:")) for line in lines)
    assert codex.read_text() == before and state.stat().st_mode & 0o777 == 0o700
    assert "[resources.prod-data]" in installed.layout.config_path.read_text()  # kept


STRIPE = "sk_live_" + "a1B2c3D4e5F6g7H8" * 2


def test_credentials_found_later_are_imported(installed: Installed) -> None:
    later = installed.workspace / ".env.production"
    later.write_text(f"STRIPE_SECRET_KEY={STRIPE}\n")
    shutil.chown(later, installed.dev, installed.dev)
    seen = installed.as_dev(str(installed.layout.wrapper_path), "credentials", "scan", "--json",
                            "--workspace", str(installed.workspace))
    assert seen.returncode == 0, seen.stderr
    found = json.loads(seen.stdout)["findings"]
    assert [(f["path"], f["line"], f["kind"]) for f in found] == [
        (str(later), 1, "Stripe Access Key")]
    assert STRIPE.encode() not in seen.stdout
    done = subprocess.run(
        [sys.executable, "-m", "airlock", "credentials", "import", "--root", str(installed.root),
         "--workspace", str(installed.workspace), "--yes"], capture_output=True, text=True,
        timeout=300, env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert later.read_text() == "STRIPE_SECRET_KEY=airlock:stripe-secret-key\n"
    assert (installed.layout.credentials_dir / "stripe-secret-key").read_text() == STRIPE
    record = json.loads(installed.layout.record_path.read_text())
    assert [m["resource"] for m in record["credentials"]][-1] == "stripe-secret-key"


def test_undo_reverses_setup_and_keeps_the_data(installed: Installed) -> None:
    lay = installed.layout
    refused = installed.setup("--undo")  # setup did not start this airlock: it will not stop it
    assert refused.returncode == 2 and "still runs" in refused.stderr, refused.stderr
    installed.stop()
    done = installed.setup("--undo")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (installed.workspace / ".env").read_text() == ENV_FILE
    assert (installed.workspace / ".env.production").read_text() == f"STRIPE_SECRET_KEY={STRIPE}\n"
    assert (installed.home / ".kube" / "config").read_text() == KUBECONFIG
    settings = json.loads((installed.home / ".claude" / "settings.json").read_text())
    assert settings["model"] == "opus" and not settings.get("hooks")
    for gone in (lay.venv, lay.wrapper_path, lay.run_dir, lay.record_path):
        assert not gone.exists(), gone
    with pytest.raises(KeyError):
        pwd.getpwnam(installed.user)
    import grp
    with pytest.raises(KeyError):
        grp.getgrnam(installed.group)
    assert installed.dev not in {g.gr_name for g in grp.getgrall() if installed.dev in g.gr_mem}
    state = lay.state_dir.stat()
    assert state.st_uid == 0 and state.st_mode & 0o777 == 0o700
    assert (lay.state_dir / "audit.key").exists() and lay.config_path.exists()
    assert re.search(r"undid \d+ change", done.stdout)
