"""What keeps the console's sessions and forms honest: signed session cookies, CSRF tokens,
a login rate limit and the response headers every page carries.

Sessions are signed cookies, not server-side rows: `v1.<payload>.<hmac>` under a key derived
from the approvals key (so replicas sharing that key share sessions). The payload names the
approver and a fingerprint of their enrolment, so removing or re-enrolling an approver ends
their sessions at once. A session expires when unused for `session_idle` and in any case after
`session_max`. A session is enough to look and to deny; approving also takes a fresh TOTP
code, so a session cookie copied out of a browser profile can never approve.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.requests import Request

from airlock.approvers import derive_key
from airlock.store import ApproverRecord

SESSION_COOKIE = "airlock_session"
LOGIN_COOKIE = "airlock_login"  # double-submit CSRF token of the login form
COOKIE_PATH = "/console"


def enrolment_fingerprint(record: ApproverRecord) -> str:
    """Changes whenever the approver is enrolled again (new credential, new seed)."""
    return hashlib.sha256(f"{record.credential_hash}|{record.created_at}".encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Session:
    approver: str
    fingerprint: str
    nonce: str
    issued: int  # unix seconds
    seen: int


class SessionSigner:
    def __init__(self, approvals_key: bytes, *, idle: timedelta, most: timedelta) -> None:
        self._key = derive_key(approvals_key, "console-session")
        self.idle = int(idle.total_seconds())
        self.most = int(most.total_seconds())

    def _mac(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).hexdigest()

    def issue(self, approver: str, fingerprint: str, now: datetime) -> tuple[Session, str]:
        at = int(now.timestamp())
        session = Session(approver, fingerprint, secrets.token_urlsafe(16), at, at)
        return session, self.encode(session)

    def encode(self, session: Session) -> str:
        body = json.dumps({"a": session.approver, "f": session.fingerprint, "n": session.nonce,
                           "i": session.issued, "s": session.seen}, separators=(",", ":"))
        payload = base64.urlsafe_b64encode(body.encode("utf-8")).decode("ascii").rstrip("=")
        return f"v1.{payload}.{self._mac(payload)}"

    def read(self, cookie: str | None, now: datetime) -> Session | None:
        """The session in a cookie, or None if it is forged, damaged or over its time."""
        if not cookie:
            return None
        version, _, rest = cookie.partition(".")
        payload, _, mac = rest.partition(".")
        if version != "v1" or not payload or not hmac.compare_digest(self._mac(payload), mac):
            return None
        try:
            obj = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            session = Session(str(obj["a"]), str(obj["f"]), str(obj["n"]), int(obj["i"]),
                              int(obj["s"]))
        except (ValueError, KeyError, TypeError):
            return None
        at = int(now.timestamp())
        if at - session.issued > self.most or at - session.seen > self.idle:
            return None
        return session

    def touched(self, session: Session, now: datetime) -> Session | None:
        """The session with its idle clock restarted, when that is worth a new cookie."""
        at = int(now.timestamp())
        if at - session.seen < 60:
            return None
        return Session(session.approver, session.fingerprint, session.nonce, session.issued, at)

    def csrf_token(self, session: Session) -> str:
        """The token every form of this session carries (a synchroniser token)."""
        return hmac.new(self._key, f"csrf|{session.nonce}".encode(), hashlib.sha256).hexdigest()


def same_token(expected: str | None, given: object) -> bool:
    return (isinstance(expected, str) and isinstance(given, str) and bool(expected)
            and hmac.compare_digest(expected.encode(), given.encode()))


def cross_origin(request: Request) -> bool:
    """True when the browser says the request comes from another site. Browsers always send
    Origin on cross-site POSTs; its absence alone is not trusted either (the token decides)."""
    origin = request.headers.get("origin")
    if origin is None:
        return False
    host = request.headers.get("host", "")
    return origin not in (f"http://{host}", f"https://{host}")


class LoginLimiter:
    """At most `limit` failed sign-ins per client address per `window`, then 429 until the
    oldest failure ages out. In memory: per process (each replica counts for itself); the
    approver lockout in the store is what bounds code guessing across processes."""

    def __init__(self, limit: int = 10, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        entries = self._failures.setdefault(key, deque())
        while entries and now - entries[0] > self.window:
            entries.popleft()
        return entries

    def retry_after(self, key: str, now: float | None = None) -> int:
        """Seconds until `key` may try again; 0 when it may now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            entries = self._recent(key, now)
            if len(entries) < self.limit:
                return 0
            return max(1, int(self.window - (now - entries[0])) + 1)

    def failed(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._recent(key, now).append(now)
            if len(self._failures) > 10_000:  # bound memory under a spray of addresses
                self._failures = {k: v for k, v in self._failures.items() if v}


# Every console response: no framing, no sniffing, no approval ids leaking to other sites, nothing
# from anywhere but the console itself.
SECURITY_HEADERS = {
    "content-security-policy": ("default-src 'none'; script-src 'self'; style-src 'self'; "
                                "img-src 'self'; connect-src 'self'; form-action 'self'; "
                                "base-uri 'none'; frame-ancestors 'none'"),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    # same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on form posts,
    # which the cross-site check must refuse
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
