"""Credentials never reach audit records."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from airlock.redact import MAX_SHOWN, _mask_all, is_credential_header, redact, redact_text


@pytest.mark.parametrize(("text", "secret"), [
    ("psql postgresql://app:hunter2@db/app", "hunter2"),
    ("PGPASSWORD=hunter2 psql -h db", "hunter2"),
    ("export AWS_SECRET_ACCESS_KEY='abc/def+ghi'", "abc/def+ghi"),
    ("curl -H 'Authorization: Bearer eyJhbGciOi.abc' https://x", "eyJhbGciOi.abc"),
    ("curl -H 'X-Api-Key: k-123' https://x", "k-123"),
    ("mysql -uroot -phunter2 app", "hunter2"),
    ("tool --password=hunter2", "hunter2"),
    ("use alk_tok_01m8benkyndme5a4t9w7j3faas_L4MMYZPKcaUnriGU_6ZX9jMwrA5Ih0Z-lYUQxDZK5Q0 now",
     "L4MMYZPKcaUnriGU_6ZX9jMwrA5Ih0Z-lYUQxDZK5Q0"),
])
def test_secrets_are_masked(text: str, secret: str) -> None:
    assert secret not in redact_text(text)


def test_plain_text_is_untouched() -> None:
    text = "DELETE FROM users WHERE id = 5; rm -rf build"
    assert redact_text(text) == text


def test_structures() -> None:
    value = {"headers": [["Authorization", "Bearer x"], ["Accept", "json"]], "password": "p",
             "nested": ["https://u:pw@h/p"]}
    masked = redact(value)
    assert masked["headers"][0] == ["Authorization", "***"] and masked["headers"][1] == ["Accept", "json"]
    assert masked["password"] == "***" and "pw" not in masked["nested"][0]


@pytest.mark.parametrize(("text", "secret"), [
    ("curl 'https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAX%2F1&X-Amz-Signature=5e3f9a'",
     "5e3f9a"),
    ("MY_VERY_LONG_APPLICATION_DATABASE_PASSWORD_FOR_THE_REPORTING_REPLICA=s3cr3t ./run",
     "s3cr3t"),
    ("mysql -h db -u app --database x -pPa55 < dump.sql", "Pa55"),
    ("echo ok | mysql -uroot -pfirst; mysql -psecond", "second"),
    ("git clone https://user:ghp_abcdef@github.com/o/r", "ghp_abcdef"),
    ("curl -H 'authorization:basic dXNlcjpwYXNz' https://x", "dXNlcjpwYXNz"),
])
def test_more_shapes_are_masked(text: str, secret: str) -> None:
    assert secret not in redact_text(text)


def test_over_the_limit_the_text_is_cut_with_a_note_and_no_half_secret() -> None:
    filler = "word " * (MAX_SHOWN // 5)
    secret = "alk_tok_01m8benkyndme5a4t9w7j3faas_L4MMYZPKcaUnriGU_6ZX9jMwrA5Ih0Z-lYUQxDZK5Q0"
    # the credential straddles the cut: none of it may be shown
    text = filler[:MAX_SHOWN - 30] + secret + " and more " * 1000
    shown = redact_text(text)
    assert len(shown) < MAX_SHOWN + 100
    assert shown.endswith("more characters not shown]")
    assert "L4MMYZ" not in shown and "alk_tok_01m8" not in shown
    dropped = int(shown.rsplit("[", 1)[1].split()[0])
    assert dropped == len(text) - len(shown.rsplit(" … [", 1)[0])


def test_text_without_spaces_over_the_limit_is_cut_too() -> None:
    shown = redact_text("x" * (3 * MAX_SHOWN))
    assert shown.startswith("x" * 1000) and shown.endswith("more characters not shown]")
    assert len(shown) <= MAX_SHOWN


def test_headers_that_carry_credentials() -> None:
    for name in ("Authorization", "cookie", "X-Api-Key", "X-Amz-Security-Token", "X-Amz-Date",
                 "x-amz-content-sha256", "X-Goog-Api-Key", "X-Railway-Token", "Private-Token",
                 "X-Vault-Token", "Proxy-Authorization", "X-Session-Id", "X_Auth_Token"):
        assert is_credential_header(name), name
    for name in ("Accept", "Content-Type", "User-Agent", "X-Request-Id", "If-Match"):
        assert not is_credential_header(name), name


_SECRET = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=8, max_size=20)
_NOISE = st.text(alphabet=st.characters(codec="utf-8"), max_size=60).map(lambda t: t + " ")
_SHAPES = ("PGPASSWORD={} psql", "--password={}", "postgres://app:{}@db/x",
           "-H 'Authorization: Bearer {}'", "X-Api-Key: {}", "mysql -u a -p{} x")


@settings(max_examples=300, deadline=None)
@given(before=_NOISE, after=_NOISE, secret=_SECRET, shape=st.sampled_from(_SHAPES))
def test_a_secret_anywhere_among_any_text_is_masked(before: str, after: str, secret: str,
                                                    shape: str) -> None:
    assume(secret not in before and secret not in after)
    assert secret not in redact_text(before + " " + shape.format(secret) + " " + after)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_redaction_is_stable(text: str) -> None:
    once = redact_text(text)
    assert redact_text(once) == once


_PIECES = ["postgresql://u:", "@h", "Authorization: Bearer ", "x-api-key=", "Cookie: ",
           "PGPASSWORD=", "aws_secret_access_key=", "MY_TOKEN=", "--password ", "--api-key=",
           "mysql -u r -p", "alk_tok_01m8benkyndme5a4t9w7j3faas_", "alk_apv_bob_", "'s3cr3t'",
           "L4MMYZPKcaUnriGU_6ZX9jMwrA5Ih0Z-lYUQxDZK5Q0", "SELECT 1", " ", "=", ":", "\"", ";",
           "pa\u017f\u017fword=", "API_\u212aEY=", "AP\u0130_KEY="]


@given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=6), max_size=12))
def test_the_quick_pre_check_never_changes_what_is_masked(parts: list[str]) -> None:
    # redact_text skips texts with no trigger; applying every pattern must give the same text
    text = "".join(parts)
    assert redact_text(text) == _mask_all(text)
