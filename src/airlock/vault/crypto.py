"""The envelope every vault object is stored in: zstd-compressed, then AES-256-GCM-encrypted.

    object  = b"ALV1" | u32 header length | header (canonical JSON) | frame ...
    frame   = u32 length | ciphertext with its 16-byte GCM tag
    header  = {v, key_id, salt, name, chunk}

Each object gets its own data key, HKDF-SHA256(vault key, salt = 16 random bytes), so frame
nonces can simply count (0, 1, 2, …) without ever repeating under one key. Each frame's
associated data binds it to the header (and through it to the object's name in the vault), to
its position, and to whether it is the last frame: swapping objects, reordering frames,
dropping frames or cutting the object short all fail authentication. Plaintext comes out only
frame by frame after each frame's tag has been checked.

The vault key itself is 32 random bytes from `[vault] key = {env|file}` or, for the embedded
default, a 0600 file in the state folder. It is never written into the vault: losing it makes
every snapshot unreadable, so it must be backed up separately (see docs/architecture.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from airlock.vault.errors import IntegrityError, VaultError

MAGIC = b"ALV1"
CHUNK = 1 << 20  # compressed bytes per frame
MAX_HEADER = 64 * 1024
MAX_FRAME = CHUNK + 16 + 1024
ZSTD_LEVEL = 3
_U32 = struct.Struct(">I")


class VaultKey:
    """The 32-byte vault key. Never printed; `key_id` names it safely."""

    __slots__ = ("_raw", "key_id", "source")

    def __init__(self, raw: bytes, source: str = "") -> None:
        if len(raw) != 32:
            raise VaultError(f"the vault key must be 32 bytes (got {len(raw)})",
                             hint="create one with `openssl rand -hex 32 > vault.key`")
        self._raw = raw
        self.source = source
        self.key_id = hmac.new(raw, b"airlock vault key id", hashlib.sha256).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"VaultKey(id={self.key_id}, from {self.source or 'memory'})"

    @classmethod
    def from_text(cls, text: str, source: str = "") -> VaultKey:
        """64 hex digits, or base64 of 32 bytes."""
        value = text.strip()
        raw: bytes | None = None
        if len(value) == 64:
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                raw = None
        if raw is None:
            try:
                raw = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_"
                                       if ("-" in value or "_" in value) else None, validate=True)
            except (binascii.Error, ValueError):
                raw = b""
        if len(raw) != 32:
            raise VaultError(f"the vault key from {source or 'input'} is not 32 bytes as 64 hex "
                             "digits or base64", hint="create one with `openssl rand -hex 32`")
        return cls(raw, source)

    @classmethod
    def generate(cls) -> VaultKey:
        return cls(os.urandom(32), "generated")

    def hex(self) -> str:
        return self._raw.hex()

    def data_key(self, salt: bytes) -> AESGCM:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                    info=b"airlock vault object v1")
        return AESGCM(hkdf.derive(self._raw))

    def mac(self, data: bytes) -> str:
        """HMAC for manifests (a key derived for that purpose only)."""
        sub = hmac.new(self._raw, b"airlock vault manifest mac v1", hashlib.sha256).digest()
        return hmac.new(sub, data, hashlib.sha256).hexdigest()


def load_or_create_key(path: Path) -> VaultKey:
    """The embedded default's key file: created once (0600, atomically), then read."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (os.urandom(32).hex() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # fails if another process created it first: theirs wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise VaultError(f"cannot read the vault key {path}: {exc}") from None
    return VaultKey.from_text(text, f"file:{path}")


@dataclass(frozen=True, slots=True)
class Sealed:
    """What a sealed object turned out to be."""

    size: int  # stored bytes
    sha256: str  # of the stored bytes: checkable without the key
    content_size: int
    content_sha256: str  # of the plaintext


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class _Counting:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.size = 0
        self.hash = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.sink.write(data)
        self.size += len(data)
        self.hash.update(data)


class Sealer:
    """A write-only stream: plaintext in, a sealed object out to `sink`."""

    def __init__(self, key: VaultKey, sink: Sink, name: str) -> None:
        salt = os.urandom(16)
        self._aead = key.data_key(salt)
        self._header = json.dumps({"v": 1, "key_id": key.key_id, "salt": salt.hex(),
                                   "name": name, "chunk": CHUNK},
                                  sort_keys=True, separators=(",", ":")).encode()
        self._aad = hashlib.sha256(self._header).digest()
        self._out = _Counting(sink)
        self._out.write(MAGIC + _U32.pack(len(self._header)) + self._header)
        self._zstd = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compressobj()
        self._pending = bytearray()
        self._index = 0
        self._plain_hash = hashlib.sha256()
        self._plain_size = 0
        self._closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a finished sealer")
        self._plain_hash.update(data)
        self._plain_size += len(data)
        self._pending += self._zstd.compress(bytes(data))
        while len(self._pending) > CHUNK:
            self._frame(bytes(self._pending[:CHUNK]), final=False)
            del self._pending[:CHUNK]
        return len(data)

    def finish(self) -> Sealed:
        if self._closed:
            raise ValueError("sealer finished twice")
        self._pending += self._zstd.flush()
        while len(self._pending) > CHUNK:
            self._frame(bytes(self._pending[:CHUNK]), final=False)
            del self._pending[:CHUNK]
        self._frame(bytes(self._pending), final=True)
        self._closed = True
        return Sealed(self._out.size, self._out.hash.hexdigest(), self._plain_size,
                      self._plain_hash.hexdigest())

    def _frame(self, chunk: bytes, *, final: bool) -> None:
        nonce = self._index.to_bytes(12, "big")
        ad = self._aad + self._index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")
        sealed = self._aead.encrypt(nonce, chunk, ad)
        self._out.write(_U32.pack(len(sealed)) + sealed)
        self._index += 1


def _read_exact(source: BinaryIO, n: int, what: str) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = source.read(n - len(data))
        if not chunk:
            raise IntegrityError(f"{what}: the object ends early ({len(data)} of {n} bytes)")
        data += chunk
    return bytes(data)


def read_header(source: BinaryIO, name: str) -> dict[str, object]:
    head = source.read(8)
    if len(head) < 8 or head[:4] != MAGIC:
        raise IntegrityError(f"{name}: not a vault object (bad magic)")
    (length,) = _U32.unpack(head[4:])
    if length > MAX_HEADER:
        raise IntegrityError(f"{name}: header too large ({length} bytes)")
    raw = _read_exact(source, length, name)
    try:
        header = json.loads(raw)
    except ValueError:
        raise IntegrityError(f"{name}: the header is not JSON") from None
    if not isinstance(header, dict):
        raise IntegrityError(f"{name}: the header is not an object")
    header["_raw"] = raw
    return header


def unseal(key: VaultKey, source: BinaryIO, name: str,
           expect_sha256: str | None = None) -> Iterator[bytes]:
    """Plaintext chunks of a sealed object, each released only after its frame authenticated.

    `name` must be the name the object was sealed under; `expect_sha256` (the manifest's content
    digest) is checked at the end.
    """
    header = read_header(source, name)
    raw = header.pop("_raw")
    assert isinstance(raw, bytes)
    if header.get("name") != name:
        raise IntegrityError(f"{name}: the object was sealed as {header.get('name')!r}; it was "
                             "moved or swapped")
    if header.get("key_id") != key.key_id:
        raise VaultError(f"{name}: sealed with vault key {header.get('key_id')}, but the key given "
                         f"is {key.key_id}", hint="restore with the key this vault was written with")
    try:
        salt = bytes.fromhex(str(header["salt"]))
    except (KeyError, ValueError):
        raise IntegrityError(f"{name}: the header has no valid salt") from None
    aead = key.data_key(salt)
    aad = hashlib.sha256(raw).digest()
    dctx = zstandard.ZstdDecompressor().decompressobj()
    plain_hash = hashlib.sha256()
    index = 0
    final = False
    while not final:
        head = source.read(4)
        if len(head) < 4:
            raise IntegrityError(f"{name}: the object was cut short (no final frame)")
        (length,) = _U32.unpack(head)
        if length > MAX_FRAME:
            raise IntegrityError(f"{name}: frame {index} claims {length} bytes")
        blob = _read_exact(source, length, name)
        nonce = index.to_bytes(12, "big")
        base = aad + index.to_bytes(8, "big")
        try:
            chunk = aead.decrypt(nonce, blob, base + b"\x00")
        except InvalidTag:
            try:
                chunk = aead.decrypt(nonce, blob, base + b"\x01")
                final = True
            except InvalidTag:
                raise IntegrityError(f"{name}: frame {index} fails authentication (the bytes "
                                     "were changed)") from None
        index += 1
        try:
            plain = dctx.decompress(chunk)
        except zstandard.ZstdError as exc:
            raise IntegrityError(f"{name}: cannot decompress frame {index - 1}: {exc}") from None
        if plain:
            plain_hash.update(plain)
            yield plain
    if source.read(1):
        raise IntegrityError(f"{name}: bytes follow the final frame")
    if expect_sha256 is not None and plain_hash.hexdigest() != expect_sha256:
        raise IntegrityError(f"{name}: the content digest does not match the manifest")


class ChunkReader(io.RawIOBase):
    """A file-like reader over an iterator of byte chunks (tarfile, shutil, subprocess)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n
