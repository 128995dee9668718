"""A vault that existed and is gone or damaged stops every destructive action until a human
repairs it. Moved away, emptied, replaced by another vault, its identity forged, a catalogued
snapshot's manifest or object removed, changed or cut short; a state that was recreated — each
is refused before a snapshot is written, through the real hook, with a repair path (`airlock
vault verify`, `airlock vault adopt`) recorded in the audit log."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airlock.approvals import decide
from airlock.config import load_config
from airlock.model import Principal, PrincipalKind
from airlock.runtime import Runtime
from airlock.store import ApprovalStatus, open_store
from airlock.vault import identity
from airlock.vault.core import Vault
from airlock.vault.crypto import VaultKey
from airlock.vault.identity import IDENTITY_KEY, VaultGone
from airlock.vault.snapshot.files import take_files
from airlock.vault.stores.local import LocalStore
from airlock.vault.stores.s3 import S3Store
from tests.cli import airlock
from tests.vault.conftest import S3_ENV


def _config(tmp_path: Path, vault: str) -> Path:
    (tmp_path / "data" / "archive").mkdir(parents=True, exist_ok=True)
    (tmp_path / "data" / "archive" / "ledger.txt").write_text("row 1\nrow 2\n")
    path = tmp_path / "airlock.toml"
    path.write_text(textwrap.dedent(f"""
        state_dir = "{tmp_path / 'state'}"
        [environments.staging]
        [resources.data]
        kind = "path"
        environment = "staging"
        path = "{tmp_path / 'data'}"
        [principals.coding-agent]
        kind = "agent"
        [principals.alice]
        kind = "human"
        [vault]
        {vault}
        [hooks]
        principal = "coding-agent"
        # (the data sits under /tmp, where deleting is only a write: held here on purpose)
        [[policy.rules]]
        name = "data-needs-a-human"
        resource = ["data"]
        risk = ["write", "destructive"]
        verdict = "hold"
        approvals = 1
        snapshot = true
        """))
    return path


@pytest.fixture
def runtime(tmp_path: Path, vault_dir: Path) -> Iterator[Runtime]:
    rt = Runtime(load_config(_config(tmp_path, f'path = "{vault_dir}"')))
    yield rt
    rt.close()


def _snapshot(rt: Runtime, tmp_path: Path) -> str:
    return take_files(rt.vault, resource="data", environment="staging", root=tmp_path / "data",
                      action_id=None).id


def _vault_file(vault_dir: Path, snapshot_id: str, suffix: str) -> Path:
    return next(p for p in (vault_dir / "snapshots" / snapshot_id).iterdir()
                if p.name.endswith(suffix))


def _scribble(path: Path, data: bytes | None = None, size: int | None = None) -> None:
    os.chmod(path, 0o600)
    if size is not None:
        os.truncate(path, size)
    else:
        assert data is not None
        path.write_bytes(data)


def _empty(folder: Path) -> None:
    for entry in folder.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _other_vault_identity(tmp_path: Path, key: VaultKey) -> bytes:
    other = Vault(LocalStore(tmp_path / "other-vault"), key)
    identity.write_identity(other)
    return (tmp_path / "other-vault" / IDENTITY_KEY).read_bytes()


DAMAGE: dict[str, tuple[Callable[[Runtime, Path, Path, str], None], str]] = {
    "moved away": (lambda rt, vd, tp, snap: os.rename(vd, str(vd) + ".moved"),
                   "is not there: the vault was moved away"),
    "emptied": (lambda rt, vd, tp, snap: _empty(vd), "is not there"),
    "identity forged": (lambda rt, vd, tp, snap: _scribble(
        vd / IDENTITY_KEY, (vd / IDENTITY_KEY).read_bytes().replace(b'"vault_', b'"vault_X')),
        "does not carry this vault key's MAC"),
    "another vault": (lambda rt, vd, tp, snap: _scribble(
        vd / IDENTITY_KEY, _other_vault_identity(tp, rt.vault.key)),  # type: ignore[arg-type]
        "it is another vault"),
    "manifest removed": (lambda rt, vd, tp, snap: os.unlink(
        vd / "snapshots" / snap / "manifest.json"), "its manifest is not in it"),
    "manifest changed": (lambda rt, vd, tp, snap: _scribble(
        vd / "snapshots" / snap / "manifest.json",
        (vd / "snapshots" / snap / "manifest.json").read_bytes() + b" "),
        "was changed"),
    "object overwritten": (lambda rt, vd, tp, snap: _scribble(
        _vault_file(vd, snap, ".alv"),
        bytes(len(_vault_file(vd, snap, ".alv").read_bytes()))),
        "sha256 does not match"),
    "object cut short": (lambda rt, vd, tp, snap: _scribble(_vault_file(vd, snap, ".alv"),
                                                            size=10),
                         "missing or changed in size"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_vault_gone_or_damaged_refuses_the_next_snapshot(runtime: Runtime, tmp_path: Path,
                                                           vault_dir: Path, damage: str) -> None:
    first = _snapshot(runtime, tmp_path)  # first use: the vault is marked and recorded
    recorded = identity.recorded_identity(runtime.store)
    assert recorded and identity.read_identity(runtime.vault) is not None
    do, why = DAMAGE[damage]
    do(runtime, vault_dir, tmp_path, first)
    with pytest.raises(VaultGone) as error:
        _snapshot(runtime, tmp_path)
    assert why in str(error.value) and "airlock vault adopt" in str(error.value)
    assert identity.problem(runtime.vault, runtime.store)  # `vault verify` says so too
    assert [r.id for r in runtime.store.list_snapshots()] == [first]  # nothing new catalogued
    if damage == "moved away":  # nothing was quietly set up in its place
        assert not (vault_dir / IDENTITY_KEY).exists()


def test_first_use_marks_the_vault_and_an_old_unmarked_one_is_adopted_when_whole(
        runtime: Runtime, tmp_path: Path, vault_dir: Path) -> None:
    first = _snapshot(runtime, tmp_path)
    # as it was before identities: no mark, no record — every catalogued snapshot is there
    os.chmod(vault_dir / IDENTITY_KEY, 0o600)
    (vault_dir / IDENTITY_KEY).unlink()
    _reset_meta(runtime)
    second = _snapshot(runtime, tmp_path)
    assert {r.id for r in runtime.store.list_snapshots()} == {first, second}
    assert identity.read_identity(runtime.vault) is not None


def _reset_meta(rt: Runtime) -> None:
    """The state as an older airlock left it: no identity recorded."""
    import sqlite3

    with sqlite3.connect(rt.config.state_dir / "state.db") as conn:
        conn.execute("DELETE FROM airlock_meta WHERE key = ?", (identity.META_KEY,))


def test_an_unmarked_vault_missing_catalogued_snapshots_is_refused(
        runtime: Runtime, tmp_path: Path, vault_dir: Path) -> None:
    first = _snapshot(runtime, tmp_path)
    _reset_meta(runtime)
    for path in (vault_dir / IDENTITY_KEY, vault_dir / "snapshots" / first / "manifest.json"):
        os.chmod(path, 0o600)
        path.unlink()
    with pytest.raises(VaultGone, match="1 catalogued snapshot"):
        _snapshot(runtime, tmp_path)


def test_a_recreated_state_must_adopt_its_vault(tmp_path: Path, vault_dir: Path) -> None:
    config = _config(tmp_path, f'path = "{vault_dir}"')
    rt = Runtime(load_config(config))
    _snapshot(rt, tmp_path)
    rt.close()
    for leftover in (tmp_path / "state").glob("state.db*"):
        leftover.unlink()  # the state is gone (its key files stay)
    rt = Runtime(load_config(config))
    try:
        with pytest.raises(VaultGone, match="belongs to another airlock state"):
            _snapshot(rt, tmp_path)
    finally:
        rt.close()
    adopted = airlock("--config", str(config), "vault", "adopt", cwd=tmp_path)
    assert adopted.returncode == 0, adopted.stderr
    rt = Runtime(load_config(config))
    try:
        _snapshot(rt, tmp_path)
        [record] = [r for r in rt.store.audit_records() if r.kind == "vault_adopted"]
        assert record.data["previous"] is None and not record.data["created"]
    finally:
        rt.close()


def _hook(config: Path, command: str) -> subprocess.CompletedProcess[str]:
    data = {"hook_event_name": "PreToolUse", "tool_name": "Bash", "cwd": str(config.parent),
            "tool_input": {"command": command}, "session_id": "s", "tool_use_id": "t"}
    return subprocess.run([sys.executable, "-m", "airlock", "--config", str(config), "hook",
                           "claude"], input=json.dumps(data), capture_output=True, text=True,
                          timeout=120)


def _approve(config: Path, held: subprocess.CompletedProcess[str]) -> str:
    assert held.returncode == 2, held.stdout + held.stderr
    approval_id = held.stderr.split("approval: ")[1].split()[0]
    store = open_store(None, config.parent / "state")
    try:
        decide(store, approval_id, Principal("alice", PrincipalKind.HUMAN), approve=True)
    finally:
        store.close()
    return approval_id


def test_through_the_hook_a_moved_vault_holds_every_destructive_action_until_repaired(
        tmp_path: Path, vault_dir: Path) -> None:
    config = _config(tmp_path, f'path = "{vault_dir}"')
    first = f"rm -rf {tmp_path / 'data' / 'archive'}"
    _approve(config, _hook(config, first))
    ran = _hook(config, first)
    assert ran.returncode == 0, ran.stderr  # backed up, then allowed
    assert list((vault_dir / "snapshots").iterdir())

    moved = Path(str(vault_dir) + ".moved")
    vault_dir.rename(moved)  # what an agent's `mv` does
    second = f"rm -rf {tmp_path / 'data'}"
    approval_id = _approve(config, _hook(config, second))
    held = _hook(config, second)
    assert held.returncode == 2
    assert "is gone or damaged" in held.stderr and "airlock vault adopt" in held.stderr
    store = open_store(None, tmp_path / "state")
    try:  # not spent: once the vault is repaired the same approval lets it through
        record = store.get_approval(approval_id)
        assert record is not None and record.status is ApprovalStatus.APPROVED
    finally:
        store.close()

    verify = airlock("--config", str(config), "vault", "verify", cwd=tmp_path)
    assert verify.returncode == 1 and "identity" in verify.stdout
    refused = airlock("--config", str(config), "vault", "adopt", cwd=tmp_path)
    assert refused.returncode == 2 and "--force" in refused.stderr

    shutil.rmtree(vault_dir)
    moved.rename(vault_dir)  # a human puts it back
    assert _hook(config, second).returncode == 0


def test_adopt_force_starts_a_new_vault_and_says_so(tmp_path: Path, vault_dir: Path) -> None:
    config = _config(tmp_path, f'path = "{vault_dir}"')
    rt = Runtime(load_config(config))
    old = _snapshot(rt, tmp_path)
    before = identity.recorded_identity(rt.store)
    rt.close()
    shutil.rmtree(vault_dir)
    forced = airlock("--config", str(config), "vault", "adopt", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "a new identity" in forced.stdout and "1 catalogued snapshot(s) are not" in forced.stdout
    rt = Runtime(load_config(config))
    try:
        after = identity.recorded_identity(rt.store)
        assert after and after != before
        [record] = [r for r in rt.store.audit_records() if r.kind == "vault_adopted"]
        assert record.data == {"location": str(vault_dir), "identity": after, "previous": before,
                               "created": True, "forced": True}
        # the lost snapshot is still catalogued, and no longer checked against the new vault
        assert old in {r.id for r in rt.store.list_snapshots()}
    finally:
        rt.close()


def test_an_s3_vault_whose_identity_is_gone_is_refused(tmp_path: Path, moto_endpoint: str,
                                                       s3_bucket: str, s3: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**S3_ENV, "AWS_ENDPOINT_URL": moto_endpoint}.items():
        monkeypatch.setenv(name, value)
    config = _config(tmp_path, f's3 = {{ bucket = "{s3_bucket}", prefix = "airlock", '
                               f'endpoint_url = "{moto_endpoint}", region = "us-east-1" }}')
    rt = Runtime(load_config(config))
    try:
        _snapshot(rt, tmp_path)
        assert isinstance(rt.vault.store, S3Store)
        # pointed at another prefix (an edited configuration, another bucket): not this vault
        rt.vault.store = S3Store(s3, s3_bucket, "elsewhere")
        with pytest.raises(VaultGone, match="is not there"):
            _snapshot(rt, tmp_path)
    finally:
        rt.close()
