"""Tokens: issued once, stored as a hash, refused when wrong, revoked, expired or orphaned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airlock.errors import AuthError, InputError
from airlock.model import Risk
from airlock.store.memory import MemoryStore
from airlock.store.sqlite import SqliteStore
from airlock.tokens import TokenLookup, authenticate, issue_token, parse_ttl, token_census
from tests.factories import make_config

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_issue_and_authenticate() -> None:
    store, config = MemoryStore(), make_config()
    issued = issue_token(store, config, principal="staging-agent", environments=["staging"],
                         max_risk=Risk.WRITE, ttl=timedelta(hours=1), now=NOW)
    caller = authenticate(store, config, issued.token, now=NOW + timedelta(minutes=59))
    assert caller.principal.name == "staging-agent" and caller.token_id == issued.record.id
    assert caller.scopes[1].environments == ("staging",) and caller.scopes[1].max_risk is Risk.WRITE
    assert caller.scopes[0] == config.principals["staging-agent"].scope  # the principal binds too
    assert issued.token[-43:] not in repr(store.tokens)  # the secret: its last 43 characters


def test_refusals() -> None:
    store, config = MemoryStore(), make_config()
    issued = issue_token(store, config, principal="agent", environments=["staging"],
                         ttl=timedelta(hours=1), now=NOW)
    with pytest.raises(AuthError, match="not an airlock token"):
        authenticate(store, config, "hunter2")
    with pytest.raises(AuthError, match="unknown token"):
        authenticate(store, config, issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B"))
    with pytest.raises(AuthError, match="expired"):
        authenticate(store, config, issued.token, now=NOW + timedelta(hours=1))
    store.revoke_token(issued.record.id, NOW.isoformat())
    with pytest.raises(AuthError, match="revoked"):
        authenticate(store, config, issued.token, now=NOW)


def test_token_of_a_removed_principal_is_refused() -> None:
    store, config = MemoryStore(), make_config()
    issued = issue_token(store, config, principal="agent", environments=["staging"], now=NOW)
    smaller = make_config(base="[environments.staging]\n")
    with pytest.raises(AuthError, match="no longer declared"):
        authenticate(store, smaller, issued.token, now=NOW)


@pytest.mark.parametrize(("text", "expected"), [("90s", 90), ("15m", 900), ("8h", 28800), ("7d", 604800)])
def test_ttl(text: str, expected: int) -> None:
    assert parse_ttl(text).total_seconds() == expected


@pytest.mark.parametrize("text", ["", "8", "h", "-1h", "0s", "91d", "1y"])
def test_bad_ttl(text: str) -> None:
    with pytest.raises(InputError):
        parse_ttl(text)


def test_census_lists_live_verifiers_and_revoked_ids() -> None:
    store, config = MemoryStore(), make_config()
    live, _expired, gone = (issue_token(store, config, principal="agent", environments=["staging"],
                                     ttl=ttl, now=NOW) for ttl in (timedelta(hours=2),
                                                                    timedelta(hours=1),
                                                                    timedelta(hours=2)))
    store.revoke_token(gone.record.id, NOW.isoformat())
    census = token_census(store, NOW + timedelta(hours=1))  # the second has just expired
    assert [token_id for token_id, _ in census.verifiers] == [live.record.id]
    assert census.verifiers[0][1] == live.record.scram
    assert census.revoked == {gone.record.id}


class CountingStore(SqliteStore):
    reads = 0

    def get_token(self, token_id: str):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().get_token(token_id)


def test_a_token_lookup_reads_again_after_any_token_change_in_this_process_or_another(
        tmp_path: Path) -> None:
    store, config = CountingStore(tmp_path / "state.db"), make_config()
    issued = issue_token(store, config, principal="staging-agent", environments=["staging"],
                         now=NOW)
    lookup = TokenLookup(store)
    for _ in range(3):
        assert authenticate(lookup, config, issued.token, now=NOW).token_id == issued.record.id
    assert store.reads == 1  # kept while no token changed

    issue_token(store, config, principal="staging-agent", environments=["staging"], now=NOW)  # this process adds one
    authenticate(lookup, config, issued.token, now=NOW)
    assert store.reads == 2

    other = SqliteStore(tmp_path / "state.db")  # another process's connection revokes it
    try:
        assert other.revoke_token(issued.record.id, NOW.isoformat())
    finally:
        other.close()
    with pytest.raises(AuthError, match="revoked"):
        authenticate(lookup, config, issued.token, now=NOW)
    assert store.reads == 3

    # Expiry is judged at every call from the kept record, not when it was read.
    short = issue_token(store, config, principal="staging-agent", environments=["staging"], ttl=timedelta(minutes=5),
                        now=NOW)
    authenticate(lookup, config, short.token, now=NOW)
    with pytest.raises(AuthError, match="expired"):
        authenticate(lookup, config, short.token, now=NOW + timedelta(minutes=6))
    store.close()


def test_a_token_lookup_keeps_no_unknown_ids_and_stays_bounded(tmp_path: Path) -> None:
    store, config = CountingStore(tmp_path / "state.db"), make_config()
    lookup = TokenLookup(store, size=2)
    assert lookup.get_token("tok_unknown") is None and lookup.get_token("tok_unknown") is None
    assert store.reads == 2  # an unknown id is read every time, never kept
    ids = [issue_token(store, config, principal="staging-agent", environments=["staging"], now=NOW).record.id
           for _ in range(3)]
    for token_id in ids:
        assert lookup.get_token(token_id) is not None
    assert len(lookup._kept) <= 2
    store.close()


def test_a_token_lookup_in_front_of_a_store_that_cannot_tell_reads_every_time() -> None:
    class Remote(MemoryStore):
        reads = 0

        def tokens_version(self) -> object | None:
            return None

        def get_token(self, token_id: str):  # type: ignore[no-untyped-def]
            self.reads += 1
            return super().get_token(token_id)

    store, config = Remote(), make_config()
    issued = issue_token(store, config, principal="staging-agent", environments=["staging"], now=NOW)
    lookup = TokenLookup(store)
    for _ in range(3):
        authenticate(lookup, config, issued.token, now=NOW)
    assert store.reads == 3
