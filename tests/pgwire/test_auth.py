"""SCRAM-SHA-256 both ways, md5, and token verifiers."""

from __future__ import annotations

import base64

import pytest

from airlock.errors import AuthError
from airlock.fronts.pgwire.auth import (
    ScramClient,
    ScramServer,
    Verifier,
    make_verifier,
    md5_password,
    token_verifier,
)


def exchange(password: str, candidates: list[tuple[str, Verifier]]) -> str:
    client = ScramClient(password)
    server = ScramServer(candidates)
    server_first = server.first(client.first())
    key, server_final = server.final(client.final(server_first))
    client.verify(server_final)  # the client also proves the server knew the verifier
    return key


def test_the_proof_picks_the_token_that_made_it_among_many() -> None:
    tokens = {f"tok{i}": f"alk_tok_{i:026d}_{'x' * 43}" for i in range(20)}
    candidates = [(k, Verifier.from_text(token_verifier(t))) for k, t in tokens.items()]
    assert exchange(tokens["tok13"], candidates) == "tok13"


def test_a_wrong_password_is_refused() -> None:
    candidates = [("a", make_verifier("right"))]
    with pytest.raises(AuthError, match="not a live airlock token"):
        exchange("wrong", candidates)


def test_no_candidates_is_refused() -> None:
    with pytest.raises(AuthError):
        exchange("anything", [])


def test_rfc7677_test_vector_for_the_client() -> None:
    # RFC 7677 section 3: user "user", password "pencil"
    client = ScramClient("pencil", nonce="rOprNGfwEbeRWgbNEkqO")
    client._bare = "n=user,r=rOprNGfwEbeRWgbNEkqO"
    server_first = (b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                    b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
    final = client.final(server_first)
    assert final == (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                     b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    client.verify(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")


def test_server_signature_mismatch_is_detected() -> None:
    client = ScramClient("pw")
    server = ScramServer([("k", make_verifier("other"))])
    client.final(server.first(client.first()))
    with pytest.raises(AuthError, match="signature is wrong"):
        client.verify(b"v=" + base64.b64encode(b"\x00" * 32))


@pytest.mark.parametrize("first", [b"p=tls-server-end-point,,n=,r=abc", b"n,a=admin,n=,r=abc",
                                   b"n,,n=", b"\xff", b"x,,n=,r=a"])
def test_malformed_or_channel_bound_client_first_is_refused(first: bytes) -> None:
    with pytest.raises(AuthError):
        ScramServer([]).first(first)


def test_client_final_must_continue_the_same_exchange() -> None:
    server = ScramServer([("k", make_verifier("pw"))])
    server.first(b"n,,n=,r=abc")
    with pytest.raises(AuthError):
        server.final(b"c=biws,r=somethingelse,p=AAAA")


def test_server_asking_absurd_iterations_is_refused() -> None:
    client = ScramClient("pw", nonce="abc")
    with pytest.raises(AuthError, match="iterations"):
        client.final(b"r=abcdef,s=AAAA,i=99999999")


def test_md5_matches_postgres() -> None:
    # md5(md5('secret' || 'alice') || salt), as PostgreSQL's pg_md5_encrypt computes it
    assert md5_password("alice", "secret", b"\x01\x02\x03\x04") == \
        b"md5" + __import__("hashlib").md5(
            __import__("hashlib").md5(b"secretalice").hexdigest().encode() + b"\x01\x02\x03\x04"
        ).hexdigest().encode()


def test_verifier_text_round_trips_and_damage_is_an_auth_error() -> None:
    v = make_verifier("pw")
    assert Verifier.from_text(v.to_text()) == v
    with pytest.raises(AuthError, match="damaged"):
        Verifier.from_text("SCRAM-SHA-256$4096:!!$a:b")
