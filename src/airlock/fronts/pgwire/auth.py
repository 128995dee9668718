"""Authentication on both legs of the proxy, without I/O: SCRAM-SHA-256 (RFC 5802, RFC 7677)
as server and as client, PostgreSQL's md5, and the SCRAM verifier kept for each airlock token.

**Tokens as SCRAM passwords.** Clients connect with any user name and an airlock token as the
password. SCRAM's server needs a verifier (StoredKey, ServerKey) derived from the password with
a salt it sends *before* it knows who is connecting (the user name is free). So every token gets
a verifier when it is created, derived with one salt and iteration count shared by all tokens
(`TOKEN_SALT`, `TOKEN_ITERATIONS`), and the server checks the client's proof against each live
token's verifier: `H(proof XOR HMAC(StoredKey, AuthMessage)) == StoredKey` singles out the one
token that made it (a few microseconds per token). A shared salt is safe here because a token's
secret has 256 bits of entropy: salts exist to stop precomputed guessing of chosen passwords,
and nothing can be guessed from a 256-bit secret. The store keeps only the verifier, and like any
SCRAM verifier it cannot be replayed as a password.

Tokens created before verifiers existed have none: they can still connect with a cleartext
password, which airlock asks for only when `[pgwire] password_auth = true` *and* the connection
is local (a Unix socket or loopback) or TLS — never in clear across a network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from airlock.errors import AuthError

MECHANISM = "SCRAM-SHA-256"
TOKEN_SALT = hashlib.sha256(b"airlock token verifier v1").digest()[:16]
TOKEN_ITERATIONS = 4096  # RFC 7677's minimum; the token's entropy, not the count, protects it
MAX_ITERATIONS = 1_000_000  # a server asking for more is refused (it would stall the proxy)


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise AuthError(f"SCRAM: {what} is not base64") from None


@dataclass(frozen=True, slots=True)
class Verifier:
    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes

    def to_text(self) -> str:
        return (f"{MECHANISM}${self.iterations}:{_b64(self.salt)}$"
                f"{_b64(self.stored_key)}:{_b64(self.server_key)}")

    @classmethod
    def from_text(cls, text: str) -> Verifier:
        try:
            mech, params, keys = text.split("$")
            iterations, salt = params.split(":")
            stored, server = keys.split(":")
            if mech != MECHANISM:
                raise ValueError(mech)
            return cls(_unb64(salt, "salt"), int(iterations), _unb64(stored, "StoredKey"),
                       _unb64(server, "ServerKey"))
        except (ValueError, AuthError):
            raise AuthError("a stored SCRAM verifier is damaged; issue a new token") from None


def make_verifier(password: str, salt: bytes = TOKEN_SALT,
                  iterations: int = TOKEN_ITERATIONS) -> Verifier:
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = _hmac(salted, b"Client Key")
    return Verifier(salt, iterations, hashlib.sha256(client_key).digest(),
                    _hmac(salted, b"Server Key"))


def token_verifier(token: str) -> str:
    """The verifier stored with a new token (the whole `alk_…` text is the password)."""
    return make_verifier(token).to_text()


def _attributes(message: str, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in message.split(","):
        if len(part) < 2 or part[1] != "=":
            raise AuthError(f"SCRAM: the {what} is malformed")
        out.setdefault(part[0], part[2:])
    return out


class ScramServer:
    """The server side for one connection: `first` answers the client-first message, `final`
    checks the proof against the candidates and returns the matching key's id and the
    server-final message. Any failure raises AuthError (the connection is refused)."""

    def __init__(self, candidates: Iterable[tuple[str, Verifier]], *, salt: bytes = TOKEN_SALT,
                 iterations: int = TOKEN_ITERATIONS, nonce: str | None = None) -> None:
        self.candidates = [(key, v) for key, v in candidates
                           if v.salt == salt and v.iterations == iterations]
        self.salt, self.iterations = salt, iterations
        self.server_nonce = nonce or _b64(secrets.token_bytes(18))
        self._client_first_bare = ""
        self._server_first = ""
        self._nonce = ""
        self._gs2 = ""

    def first(self, client_first: bytes) -> bytes:
        try:
            text = client_first.decode("utf-8")
        except UnicodeDecodeError:
            raise AuthError("SCRAM: the client-first message is not UTF-8") from None
        head, sep, rest = text.partition(",")
        authzid, sep2, bare = rest.partition(",")
        if not sep or not sep2 or head not in ("n", "y") or authzid:
            # "p=…" asks for channel binding, which this server did not offer (no -PLUS)
            raise AuthError("SCRAM: unsupported channel binding or authorisation identity")
        attrs = _attributes(bare, "client-first message")
        nonce = attrs.get("r", "")
        if not nonce or "m" in attrs:
            raise AuthError("SCRAM: the client-first message has no nonce")
        self._gs2 = f"{head},,"
        self._client_first_bare = bare
        self._nonce = nonce + self.server_nonce
        self._server_first = f"r={self._nonce},s={_b64(self.salt)},i={self.iterations}"
        return self._server_first.encode()

    def final(self, client_final: bytes) -> tuple[str, bytes]:
        try:
            text = client_final.decode("utf-8")
        except UnicodeDecodeError:
            raise AuthError("SCRAM: the client-final message is not UTF-8") from None
        without_proof, sep, proof_part = text.rpartition(",p=")
        if not sep or not self._server_first:
            raise AuthError("SCRAM: the client-final message has no proof")
        attrs = _attributes(without_proof, "client-final message")
        if attrs.get("c") != _b64(self._gs2.encode()) or attrs.get("r") != self._nonce:
            raise AuthError("SCRAM: the client-final message does not continue this exchange")
        proof = _unb64(proof_part, "the proof")
        auth_message = (f"{self._client_first_bare},{self._server_first},"
                        f"{without_proof}").encode()
        for key, verifier in self.candidates:
            if len(proof) != len(verifier.stored_key):
                continue
            signature = _hmac(verifier.stored_key, auth_message)
            client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
            if hmac.compare_digest(hashlib.sha256(client_key).digest(), verifier.stored_key):
                server_signature = _hmac(verifier.server_key, auth_message)
                return key, f"v={_b64(server_signature)}".encode()
        raise AuthError("password authentication failed: not a live airlock token for this "
                        "database", hint="use an airlock token (alk_…) as the password")


class ScramClient:
    """The client side, for airlock's own connection to the real server."""

    def __init__(self, password: str, nonce: str | None = None) -> None:
        self.password = password
        self.nonce = nonce or _b64(secrets.token_bytes(18))
        self._bare = f"n=,r={self.nonce}"
        self._server_key = b""
        self._auth_message = b""

    def first(self) -> bytes:
        return f"n,,{self._bare}".encode()

    def final(self, server_first: bytes) -> bytes:
        text = server_first.decode("utf-8", "replace")
        attrs = _attributes(text, "server-first message")
        nonce, salt_text, count = attrs.get("r", ""), attrs.get("s", ""), attrs.get("i", "")
        if not nonce.startswith(self.nonce) or len(nonce) == len(self.nonce):
            raise AuthError("SCRAM: the server's nonce does not extend ours")
        if not count.isdigit() or not 0 < int(count) <= MAX_ITERATIONS:
            raise AuthError(f"SCRAM: the server asked for {count!r} iterations")
        verifier_salt = _unb64(salt_text, "the salt")
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode("utf-8"), verifier_salt,
                                     int(count))
        client_key = _hmac(salted, b"Client Key")
        self._server_key = _hmac(salted, b"Server Key")
        without_proof = f"c={_b64(b'n,,')},r={nonce}"
        self._auth_message = f"{self._bare},{text},{without_proof}".encode()
        signature = _hmac(hashlib.sha256(client_key).digest(), self._auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        return f"{without_proof},p={_b64(proof)}".encode()

    def verify(self, server_final: bytes) -> None:
        attrs = _attributes(server_final.decode("utf-8", "replace"), "server-final message")
        if "e" in attrs:
            raise AuthError(f"SCRAM: the server refused: {attrs['e']}")
        expected = _b64(_hmac(self._server_key, self._auth_message))
        if not hmac.compare_digest(attrs.get("v", ""), expected):
            raise AuthError("SCRAM: the server's signature is wrong; it does not know the "
                            "password (is this the right server?)")


def md5_password(user: str, password: str, salt: bytes) -> bytes:
    inner = hashlib.md5((password + user).encode("utf-8")).hexdigest()  # noqa: S324 — the protocol's
    return b"md5" + hashlib.md5(inner.encode("ascii") + salt).hexdigest().encode("ascii")  # noqa: S324
