"""The envelope: what goes in comes out, and any change to what is stored is refused."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airlock.vault.crypto import CHUNK, Sealer, VaultKey, load_or_create_key, unseal
from airlock.vault.errors import IntegrityError, VaultError


def seal(key: VaultKey, data: bytes, name: str = "snapshots/s/data.alv") -> bytes:
    buf = io.BytesIO()
    sealer = Sealer(key, buf, name)
    for start in range(0, len(data), 7777):
        sealer.write(data[start:start + 7777])
    sealer.finish()
    return buf.getvalue()


def open_(key: VaultKey, blob: bytes, name: str = "snapshots/s/data.alv") -> bytes:
    return b"".join(unseal(key, io.BytesIO(blob), name))


@pytest.mark.parametrize("size", [0, 1, 1000, CHUNK * 3 + 17])
def test_round_trip_across_frame_boundaries(size: int) -> None:
    key = VaultKey.generate()
    data = os.urandom(size)  # incompressible: several frames for the large case
    assert open_(key, seal(key, data)) == data


def test_plaintext_is_compressed_and_not_visible() -> None:
    key = VaultKey.generate()
    data = b"INSERT INTO users VALUES ('alice@example.com');\n" * 10_000
    blob = seal(key, data)
    assert len(blob) < len(data) / 20
    assert b"alice@example.com" not in blob


@settings(max_examples=60, deadline=None)
@given(position=st.integers(min_value=0, max_value=10_000), bit=st.integers(0, 7))
def test_any_flipped_bit_is_refused(position: int, bit: int) -> None:
    key = VaultKey(b"k" * 32)
    blob = bytearray(seal(key, b"row data\n" * 500 + os.urandom(2000)))
    blob[position % len(blob)] ^= 1 << bit
    with pytest.raises((IntegrityError, VaultError)):
        open_(key, bytes(blob))


def test_truncation_and_trailing_bytes_are_refused() -> None:
    key = VaultKey.generate()
    blob = seal(key, os.urandom(CHUNK * 2 + 5))
    frame_end = len(blob) - 10
    for damaged in (blob[:frame_end], blob + b"x"):
        with pytest.raises(IntegrityError):
            open_(key, damaged)


def test_an_object_moved_to_another_name_is_refused() -> None:
    key = VaultKey.generate()
    blob = seal(key, b"data", name="snapshots/a/rows.0.alv")
    with pytest.raises(IntegrityError, match="moved or swapped"):
        open_(key, blob, name="snapshots/b/rows.0.alv")


def test_the_wrong_key_says_which_key_is_needed() -> None:
    writer, reader = VaultKey.generate(), VaultKey.generate()
    with pytest.raises(VaultError, match=writer.key_id):
        open_(reader, seal(writer, b"data"))


def test_key_formats_and_bad_keys() -> None:
    raw = os.urandom(32)
    assert VaultKey.from_text(raw.hex()).key_id == VaultKey(raw).key_id
    import base64

    assert VaultKey.from_text(base64.b64encode(raw).decode()).key_id == VaultKey(raw).key_id
    for bad in ("", "abc", "zz" * 32, base64.b64encode(b"short").decode()):
        with pytest.raises(VaultError, match="32 bytes"):
            VaultKey.from_text(bad)
    assert "hex" not in repr(VaultKey(raw)) and raw.hex() not in repr(VaultKey(raw))


def test_key_file_is_created_private_once(tmp_path: Path) -> None:
    path = tmp_path / "state" / "vault.key"
    first = load_or_create_key(path)
    assert path.stat().st_mode & 0o077 == 0
    assert load_or_create_key(path).key_id == first.key_id
