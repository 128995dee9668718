"""The COPY-block scanner gives the same row counts and hashes however the dump is cut into
chunks, and a data-only script keeps exactly the rows and the settings around them."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airlock.vault.snapshot.pgcopy import CopyScanner, data_only

DUMP = (b"SET statement_timeout = 0;\n"
        b"SELECT pg_catalog.set_config('search_path', '', false);\n"
        b"CREATE TABLE public.a (id integer, t text);\n"
        b"COPY public.a (id, t) FROM stdin;\n"
        b"1\thello\n2\t\\\\.\n3\t\\N\n"
        b"\\.\n"
        b"CREATE TABLE public.\"B c\" (x integer);\n"
        b"COPY public.\"B c\" (x) FROM stdin;\n"
        b"\\.\n"
        b"SELECT pg_catalog.setval('public.a_id_seq', 3, true);\n"
        b"ALTER TABLE ONLY public.a ADD CONSTRAINT a_pkey PRIMARY KEY (id);\n")


def scan(chunks: list[bytes]) -> dict[str, dict[str, object]]:
    scanner = CopyScanner()
    for chunk in chunks:
        scanner.feed(chunk)
    scanner.close()
    return scanner.stats()


def test_counts_rows_and_hashes_each_table() -> None:
    stats = scan([DUMP])
    rows = b"1\thello\n2\t\\\\.\n3\t\\N\n"
    assert stats == {"public.a": {"rows": 3, "sha256": hashlib.sha256(rows).hexdigest()},
                     'public."B c"': {"rows": 0, "sha256": hashlib.sha256(b"").hexdigest()}}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(DUMP)), max_size=40))
def test_any_chunking_gives_the_same_result(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [DUMP[a:b] for a, b in zip([0, *points], [*points, len(DUMP)], strict=True)]
    assert scan([c for c in chunks if c]) == scan([DUMP])


def test_data_only_keeps_rows_settings_and_sequences() -> None:
    script = b"".join(data_only([DUMP[i:i + 5] for i in range(0, len(DUMP), 5)]))
    assert b"CREATE TABLE" not in script and b"ADD CONSTRAINT" not in script
    assert script.startswith(b"SET statement_timeout = 0;\n")
    assert b"COPY public.a (id, t) FROM stdin;\n1\thello\n2\t\\\\.\n3\t\\N\n\\.\n" in script
    assert script.endswith(b"SELECT pg_catalog.setval('public.a_id_seq', 3, true);\n")


def test_a_dump_cut_inside_a_copy_block_is_refused() -> None:
    scanner = CopyScanner()
    scanner.feed(DUMP[:DUMP.index(b"3\t")])
    with pytest.raises(ValueError, match="cut short"):
        scanner.close()
