"""Approvers: the humans who may approve, and how airlock knows it is them.

An approval needs two things an agent on the same machine should not have:

- the approver's **credential** `alk_apv_<name>_<secret>`, shown once at enrolment and kept
  only as the SHA-256 of its secret (32 random bytes: no password stretching needed);
- a **TOTP code** (RFC 6238: 6 digits, 30-second steps) from the approver's authenticator. The
  seed is needed to verify codes, so it is stored — sealed with AES-256-GCM under the approvals
  key, with the approver's name as associated data (a sealed seed moved to another approver's
  row does not open).

A code is accepted once: the approver's `last_step` moves forward by compare-and-set, so a code
presented twice — replayed, or raced from a process list — works only the first time. Codes one
step either side of now are accepted for clock drift. Wrong codes given with the right
credential count towards a lockout, which bounds guessing to a handful of tries per period.

What this cannot do on its own is keep the agent out of airlock's state: an agent running as the
same OS user can read the key and write the database. `docs/architecture.md` (Approvals) says
what that means and how to deploy so it cannot.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from airlock.config import Config
from airlock.errors import AuthError, InputError
from airlock.model import Principal, PrincipalKind, sha256_hex, utcnow
from airlock.store import ApproverRecord, Store
from airlock.tokens import TOKEN_RE

CREDENTIAL_RE = re.compile(
    r"^alk_apv_(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,62})_(?P<secret>[A-Za-z0-9_-]{43})$")
CODE_RE = re.compile(r"^[0-9]{6}$")
ISSUER = "airlock"
PERIOD = 30  # seconds per TOTP step (RFC 6238 default; what every authenticator app expects)
DRIFT_STEPS = 1  # accept the previous and next step too: phones and servers disagree a little
MAX_FAILURES = 5  # consecutive wrong codes (with the right credential) before a lockout
LOCKOUT = timedelta(minutes=5)


class ApproverAuthError(AuthError):
    """An approver could not be authenticated. `why` is a stable word for the audit log
    (agent_token, not_a_credential, unknown_approver, bad_credential, not_human, bad_code,
    reused_code, locked); `name` is who it claimed to be, when that is known."""

    def __init__(self, why: str, message: str, *, name: str | None = None,
                 hint: str | None = None, token_id: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.why = why
        self.name = name
        self.token_id = token_id


# --------------------------------------------------------------------------------------------
# Keys and sealed seeds


def derive_key(approvals_key: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose, so the seed key and the session key never coincide."""
    return hmac.new(approvals_key, f"airlock/{purpose}/v1".encode(), hashlib.sha256).digest()


def seal_seed(approvals_key: bytes, name: str, seed: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(derive_key(approvals_key, "totp-seed")).encrypt(
        nonce, seed.encode("ascii"), name.encode("utf-8"))
    return "v1." + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def open_seed(approvals_key: bytes, name: str, box: str) -> str:
    try:
        version, _, data = box.partition(".")
        if version != "v1":
            raise ValueError(f"unknown seal version {version!r}")
        raw = base64.urlsafe_b64decode(data)
        seed = AESGCM(derive_key(approvals_key, "totp-seed")).decrypt(
            raw[:12], raw[12:], name.encode("utf-8"))
        return seed.decode("ascii")
    except (InvalidTag, ValueError) as exc:
        # Not the key it was sealed with, or not this approver's seed: nobody can log in as
        # them until they are enrolled again.
        raise ApproverAuthError(
            "seed_unreadable", f"the TOTP seed of {name} cannot be opened ({type(exc).__name__})",
            name=name, hint=f"the approvals key changed or the state was altered; enrol again "
                            f"with `airlock approver add {name} --replace`") from None


# --------------------------------------------------------------------------------------------
# Enrolment


@dataclass(frozen=True, slots=True)
class Enrolment:
    record: ApproverRecord
    credential: str  # shown once, never stored
    seed: str  # shown once (as the URI and QR code), then only stored sealed

    @property
    def uri(self) -> str:
        return pyotp.TOTP(self.seed, interval=PERIOD).provisioning_uri(
            name=self.record.name, issuer_name=ISSUER)

    def qr_text(self) -> str:
        """The URI as a QR code drawn with text characters, for a terminal."""
        import io

        import segno

        buffer = io.StringIO()
        segno.make(self.uri, error="m").terminal(out=buffer, compact=True)
        return buffer.getvalue()


def check_is_human(config: Config, name: str) -> Principal:
    """The configured human principal `name`; agents and undeclared names are refused."""
    pconf = config.principals.get(name)
    if pconf is None:
        humans = sorted(n for n, p in config.principals.items() if p.kind is PrincipalKind.HUMAN)
        raise InputError(f"{name!r} is not a principal declared in {config.source} "
                         f"(humans declared: {', '.join(humans) or 'none'})",
                         hint=f'declare [principals.{quote(name)}] with kind = "human" first')
    if pconf.kind is not PrincipalKind.HUMAN:
        raise InputError(f"{name} is declared as an {pconf.kind.value}; only humans approve",
                         hint="approvers must be people: declare one with kind = \"human\"")
    return Principal(pconf.name, pconf.kind, pconf.scope)


def enrol(store: Store, config: Config, approvals_key: bytes, name: str, *,
          replace: bool = False, now: datetime | None = None) -> Enrolment:
    """Create (or with `replace`, rotate) an approver's credential and TOTP seed."""
    check_is_human(config, name)
    now = now or utcnow()
    secret = secrets.token_urlsafe(32)
    seed = pyotp.random_base32(32)  # 160 bits, the RFC 4226 recommendation
    credential = f"alk_apv_{name}_{secret}"
    fresh = ApproverRecord(name=name, credential_hash=sha256_hex(secret),
                           seed_box=seal_seed(approvals_key, name, seed),
                           created_at=now.isoformat())
    existing = store.get_approver(name)
    if existing is None:
        store.add_approver(fresh)
        return Enrolment(fresh, credential, seed)
    if not replace:
        raise InputError(f"{name} is already an approver (enrolled {existing.created_at})",
                         hint=f"use `airlock approver add {name} --replace` to issue a new "
                              "credential and TOTP seed (the old ones stop working)")
    # Keep last_step: a code already used must stay used even across re-enrolment.
    rotated = existing.next_version(credential_hash=fresh.credential_hash,
                                    seed_box=fresh.seed_box, created_at=fresh.created_at,
                                    failures=0, locked_until=None)
    if not store.update_approver(rotated):
        raise InputError(f"approver {name} changed while being re-enrolled; try again")
    return Enrolment(rotated, credential, seed)


# --------------------------------------------------------------------------------------------
# Authentication


def current_step(now: datetime) -> int:
    return int(now.timestamp()) // PERIOD


def code_at_step(seed: str, step: int) -> str:
    return pyotp.TOTP(seed, interval=PERIOD).at(step * PERIOD)


def _matching_steps(seed: str, code: str, now: datetime) -> list[int]:
    here = current_step(now)
    return [step for step in range(here - DRIFT_STEPS, here + DRIFT_STEPS + 1)
            if hmac.compare_digest(code_at_step(seed, step), code)]


def parse_credential(credential: str) -> tuple[str, str]:
    """(name, secret) of an approver credential; refuses agent tokens by name."""
    text = credential.strip()
    token = TOKEN_RE.match(text)
    if token:
        raise ApproverAuthError("agent_token", "this is an agent token; agent tokens can never "
                                "approve or deny", token_id=token.group(1),
                                hint="an approver logs in with their own credential (alk_apv_…)")
    match = CREDENTIAL_RE.match(text)
    if not match:
        raise ApproverAuthError("not_a_credential", "this is not an approver credential "
                                "(they look like alk_apv_<name>_…)",
                                hint="`airlock approver add NAME` issues one")
    return match.group("name"), match.group("secret")


def authenticate(store: Store, config: Config, approvals_key: bytes, credential: str,
                 code: str, *, name: str | None = None,
                 now: datetime | None = None) -> Principal:
    """The human principal behind `credential` + `code`, or ApproverAuthError.

    `name`, when given (the console's login form), must be the credential's owner. Messages do
    not tell an unknown name from a wrong credential; the audit record (`why`) does.
    """
    now = now or utcnow()
    record, principal = check_credential(store, config, credential, name=name)
    return _accept_code(store, approvals_key, record, code, now, principal)


def check_credential(store: Store, config: Config, credential: str, *,
                     name: str | None = None) -> tuple[ApproverRecord, Principal]:
    """The enrolled human behind `credential` (no code: enough to *look* at a hold, never to
    decide one), or ApproverAuthError."""
    claimed, secret = parse_credential(credential)
    if name is not None and name.strip() != claimed:
        raise ApproverAuthError("bad_credential", "unknown approver or wrong credential",
                                name=name.strip())
    record = store.get_approver(claimed)
    if record is None or not hmac.compare_digest(record.credential_hash, sha256_hex(secret)):
        why = "unknown_approver" if record is None else "bad_credential"
        raise ApproverAuthError(why, "unknown approver or wrong credential", name=claimed)
    try:
        principal = check_is_human(config, claimed)
    except InputError as exc:
        raise ApproverAuthError("not_human", exc.message, name=claimed) from None
    return record, principal


def _accept_code(store: Store, approvals_key: bytes, record: ApproverRecord, code: str,
                 now: datetime, principal: Principal) -> Principal:
    code = code.replace(" ", "").strip()
    seed = open_seed(approvals_key, record.name, record.seed_box)
    for _attempt in range(5):  # compare-and-set retries against concurrent logins
        if record.locked_until and datetime.fromisoformat(record.locked_until) > now:
            raise ApproverAuthError(
                "locked", f"{record.name} is locked out after {MAX_FAILURES} wrong codes "
                f"until {record.locked_until}", name=record.name,
                hint="wait, then use a fresh code; if you did not try these codes, someone "
                     "has your credential: re-enrol with `airlock approver add --replace`")
        steps = _matching_steps(seed, code, now) if CODE_RE.match(code) else []
        fresh = [s for s in steps if s > record.last_step]
        locked = False
        if fresh:
            updated = record.next_version(last_step=max(fresh), failures=0, locked_until=None,
                                          last_used_at=now.isoformat())
        elif steps:
            raise ApproverAuthError(
                "reused_code", "this TOTP code was already used; each code works once",
                name=record.name,
                hint=f"wait for the next code (at most {PERIOD} seconds) and use that")
        else:
            failures = record.failures + 1
            locked = failures >= MAX_FAILURES
            updated = record.next_version(
                failures=0 if locked else failures,
                locked_until=(now + LOCKOUT).isoformat() if locked else record.locked_until)
        if store.update_approver(updated):
            if fresh:
                return principal
            raise ApproverAuthError("bad_code", "wrong TOTP code" + (
                f"; {record.name} is now locked out for {int(LOCKOUT.total_seconds() // 60)} "
                "minutes" if locked else ""),
                name=record.name,
                hint="use the current 6-digit code from your authenticator for airlock")
        latest = store.get_approver(record.name)
        if latest is None:
            raise ApproverAuthError("unknown_approver", "unknown approver or wrong credential",
                                    name=record.name)
        record = latest
    raise ApproverAuthError("busy", "too many simultaneous sign-ins for this approver; try again",
                            name=record.name)


def confirm_code(store: Store, config: Config, approvals_key: bytes, name: str, code: str, *,
                 now: datetime | None = None) -> Principal:
    """A fresh code from an approver who is already signed in (the console's step-up before
    an approval): proves the TOTP device is at hand *now*, not just a session cookie."""
    now = now or utcnow()
    record = store.get_approver(name)
    if record is None:
        raise ApproverAuthError("unknown_approver", f"{name} is no longer an approver", name=name)
    try:
        principal = check_is_human(config, name)
    except InputError as exc:
        raise ApproverAuthError("not_human", exc.message, name=name) from None
    return _accept_code(store, approvals_key, record, code, now, principal)


def state_exposure(state_dir: Path) -> list[str]:
    """Who besides its owner could read airlock's state (seeds, keys, approvals): one line per
    problem, for `airlock up` to warn about. Empty when the folder and its files are private."""
    problems: list[str] = []
    if not state_dir.exists():
        return problems
    for path in (state_dir, *sorted(state_dir.iterdir())):
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            problems.append(f"{path} is open to other users (mode {mode:o}); run "
                            f"`chmod {'700' if path.is_dir() else '600'} {path}`")
    return problems
