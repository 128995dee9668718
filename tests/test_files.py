"""files.replace_atomically: the old file or the new one, never a mix, with the right mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from airlock.files import replace_atomically


def test_a_new_file_is_private_and_an_old_one_keeps_its_mode(tmp_path: Path) -> None:
    new = tmp_path / "deep" / "new.json"
    replace_atomically(new, b"{}\n")
    assert new.read_bytes() == b"{}\n"
    assert stat.S_IMODE(new.stat().st_mode) == 0o600
    old = tmp_path / "settings.json"
    old.write_text("old")
    old.chmod(0o644)
    replace_atomically(old, b"new", suffix=".airlock")
    assert old.read_text() == "new" and stat.S_IMODE(old.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "settings.json"]


def test_mode_and_owner_can_be_given(tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    replace_atomically(target, b"x", mode=0o640, owner=(os.getuid(), os.getgid()))
    info = target.stat()
    assert stat.S_IMODE(info.st_mode) == 0o640
    assert (info.st_uid, info.st_gid) == (os.getuid(), os.getgid())


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "credentials"
    target.write_bytes(b"the old content")
    with pytest.raises(TypeError):
        replace_atomically(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"the old content"
    assert [p.name for p in tmp_path.iterdir()] == ["credentials"]
