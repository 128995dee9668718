"""Approver credentials and TOTP codes: who can prove to be an approver, and how often."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest

from airlock.approvers import (
    LOCKOUT,
    MAX_FAILURES,
    PERIOD,
    ApproverAuthError,
    authenticate,
    code_at_step,
    current_step,
    enrol,
    open_seed,
    state_exposure,
)
from airlock.errors import InputError
from airlock.model import PrincipalKind
from airlock.store import open_store
from airlock.store.memory import MemoryStore
from tests.factories import BASE_TOML, make_config

KEY = b"k" * 32
T0 = datetime(2026, 11, 26, 12, 0, 10, tzinfo=UTC)  # 10 s into a 30 s step
CONFIG = make_config()  # alice and bob are humans; agent and staging-agent are agents


def enrolled(name: str = "alice") -> tuple[MemoryStore, str, str]:
    store = MemoryStore()
    e = enrol(store, CONFIG, KEY, name, now=T0)
    return store, e.credential, e.seed


def code(seed: str, at: datetime = T0, steps: int = 0) -> str:
    return code_at_step(seed, current_step(at) + steps)


def refused(why: str, store: MemoryStore, credential: str, given: str, *,
            at: datetime = T0, name: str | None = None) -> ApproverAuthError:
    with pytest.raises(ApproverAuthError) as info:
        authenticate(store, CONFIG, KEY, credential, given, name=name, now=at)
    assert info.value.why == why, info.value
    return info.value


# ---- enrolment ------------------------------------------------------------------------------

def test_only_declared_humans_can_be_enrolled() -> None:
    store = MemoryStore()
    with pytest.raises(InputError, match="only humans approve"):
        enrol(store, CONFIG, KEY, "agent")
    with pytest.raises(InputError, match=r"not a principal declared.*humans declared: alice, bob"):
        enrol(store, CONFIG, KEY, "mallory")
    assert store.list_approvers() == []


def test_credential_is_shown_once_and_only_its_hash_is_kept(tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    e = enrol(store, CONFIG, KEY, "alice", now=T0)
    store.close()
    raw = (tmp_path / "state.db").read_bytes()
    secret = e.credential[-43:]  # the whole secret: it may itself contain "_"
    assert secret.encode() not in raw and e.credential.encode() not in raw
    assert e.seed.encode() not in raw  # the seed is stored sealed
    assert e.uri.startswith("otpauth://totp/airlock:alice?secret=")
    assert pyotp.parse_uri(e.uri).secret == e.seed
    assert "█" in e.qr_text() or "▀" in e.qr_text()


def test_sealed_seed_belongs_to_its_approver_and_key() -> None:
    store = MemoryStore()
    alice = enrol(store, CONFIG, KEY, "alice")
    assert open_seed(KEY, "alice", alice.record.seed_box) == alice.seed
    with pytest.raises(ApproverAuthError, match="cannot be opened"):
        open_seed(KEY, "bob", alice.record.seed_box)  # moved to another approver's row
    with pytest.raises(ApproverAuthError, match="cannot be opened"):
        open_seed(b"x" * 32, "alice", alice.record.seed_box)  # another key


def test_enrolling_twice_needs_replace_which_voids_the_old_credential() -> None:
    store, old_credential, _seed = enrolled()
    with pytest.raises(InputError, match=r"(?s)already an approver.*--replace"):
        enrol(store, CONFIG, KEY, "alice")
    new = enrol(store, CONFIG, KEY, "alice", replace=True, now=T0)
    refused("bad_credential", store, old_credential, code(new.seed))
    assert authenticate(store, CONFIG, KEY, new.credential, code(new.seed), now=T0).name == "alice"


# ---- authentication -------------------------------------------------------------------------

def test_credential_and_current_code_authenticate_a_human() -> None:
    store, credential, seed = enrolled()
    principal = authenticate(store, CONFIG, KEY, credential, code(seed), name="alice", now=T0)
    assert principal.name == "alice" and principal.kind is PrincipalKind.HUMAN
    record = store.get_approver("alice")
    assert record is not None and record.last_step == current_step(T0)


def test_agent_tokens_are_refused_by_name() -> None:
    store, _credential, seed = enrolled()
    token = "alk_tok_" + "0" * 26 + "_" + "x" * 43
    error = refused("agent_token", store, token, code(seed))
    assert error.token_id == "tok_" + "0" * 26 and "x" * 43 not in str(error)


@pytest.mark.parametrize("credential", ["", "hunter2", "alk_apv_alice_short"])
def test_things_that_are_not_credentials_are_refused(credential: str) -> None:
    store, _credential, seed = enrolled()
    refused("not_a_credential", store, credential, code(seed))


def test_wrong_credential_and_wrong_name_are_refused_alike() -> None:
    store, credential, seed = enrolled()
    forged = credential[:-4] + ("AAAA" if not credential.endswith("AAAA") else "BBBB")
    a = refused("bad_credential", store, forged, code(seed))
    b = refused("bad_credential", store, credential, code(seed), name="bob")
    c = refused("unknown_approver", store, credential.replace("alice", "bob"), code(seed))
    assert a.message == b.message == c.message  # no hint which part was wrong


def test_a_principal_no_longer_human_cannot_approve() -> None:
    store, credential, seed = enrolled()
    demoted = make_config(base=BASE_TOML.replace('[principals.alice]\nkind = "human"',
                                                 '[principals.alice]\nkind = "agent"'))
    assert demoted.principals["alice"].kind is PrincipalKind.AGENT
    with pytest.raises(ApproverAuthError) as info:
        authenticate(store, demoted, KEY, credential, code(seed), now=T0)
    assert info.value.why == "not_human"


def test_wrong_code_is_refused() -> None:
    store, credential, seed = enrolled()
    right = {code(seed, steps=d) for d in (-1, 0, 1)}
    wrong = next(c for c in ("000000", "123456", "999999") if c not in right)
    refused("bad_code", store, credential, wrong)
    refused("bad_code", store, credential, "12345")
    refused("bad_code", store, credential, "abcdef")


def test_a_code_is_accepted_once() -> None:
    store, credential, seed = enrolled()
    authenticate(store, CONFIG, KEY, credential, code(seed), now=T0)
    error = refused("reused_code", store, credential, code(seed), at=T0 + timedelta(seconds=5))
    assert "already used" in error.message and "next code" in (error.hint or "")
    # …and an older code stays used too: time-steps only move forward.
    refused("reused_code", store, credential, code(seed, steps=-1))
    later = T0 + timedelta(seconds=PERIOD)
    assert authenticate(store, CONFIG, KEY, credential, code(seed, later), now=later).name == "alice"


def test_codes_one_step_either_side_are_accepted_for_clock_drift() -> None:
    store, credential, seed = enrolled()
    authenticate(store, CONFIG, KEY, credential, code(seed, steps=-1), now=T0)
    authenticate(store, CONFIG, KEY, credential, code(seed, steps=1), now=T0)
    # two steps away is too far either way
    fresh_store, credential2, seed2 = enrolled()
    refused("bad_code", fresh_store, credential2, code(seed2, steps=2))
    refused("bad_code", fresh_store, credential2, code(seed2, steps=-2))


def test_wrong_codes_lock_the_approver_out_for_a_while() -> None:
    store, credential, seed = enrolled()
    for attempt in range(MAX_FAILURES):
        error = refused("bad_code", store, credential, "000000" if code(seed) != "000000" else "1")
        assert ("locked out" in error.message) is (attempt == MAX_FAILURES - 1)
    refused("locked", store, credential, code(seed))  # even the right code, while locked
    after = T0 + LOCKOUT + timedelta(seconds=1)
    assert authenticate(store, CONFIG, KEY, credential, code(seed, after), now=after)


def test_a_right_code_resets_the_failure_count() -> None:
    store, credential, seed = enrolled()
    for _ in range(MAX_FAILURES - 1):
        refused("bad_code", store, credential, "000000" if code(seed) != "000000" else "1")
    authenticate(store, CONFIG, KEY, credential, code(seed), now=T0)
    record = store.get_approver("alice")
    assert record is not None and record.failures == 0 and record.locked_until is None


# ---- the state folder -----------------------------------------------------------------------

def test_state_exposure_names_what_others_can_read(tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = open_store(None, state)
    store.close()
    assert state_exposure(state) == []
    os.chmod(state, 0o755)  # noqa: S103  (the mistake being detected)
    (state / "approvals.key").write_text("x")
    os.chmod(state / "approvals.key", 0o644)
    problems = state_exposure(state)
    assert len(problems) == 2
    assert "mode 755" in problems[0] and "chmod 700" in problems[0]
    assert "approvals.key" in problems[1] and "chmod 600" in problems[1]
    assert stat.S_IMODE((state / "state.db").stat().st_mode) == 0o600


def test_credentials_are_masked_wherever_they_are_written() -> None:
    from airlock.redact import redact_text

    _store, credential, _seed = enrolled()
    masked = redact_text(f"curl -d 'credential={credential}' https://airlock.example")
    assert credential[-43:] not in masked and "credential=***" in masked
    alone = redact_text(f"echo {credential} | airlock approve apr_1")
    assert credential[-43:] not in alone and "alk_apv_***" in alone
