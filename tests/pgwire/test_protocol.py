"""The codec: round trips, malformed input, and frame fuzzing with hypothesis."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airlock.fronts.pgwire import protocol as pw
from airlock.fronts.pgwire.session import ALLOW, Session


def test_frames_split_across_reads_are_reassembled() -> None:
    data = pw.query("SELECT 1") + pw.SYNC + pw.parse("s", "SELECT $1", [23])
    reader = pw.FrameReader()
    got = []
    for i in range(len(data)):
        reader.feed(data[i:i + 1])
        got += reader.frames()
    assert [k for k, _ in got] == [b"Q", b"S", b"P"]
    assert pw.parse_parse(got[2][1]) == pw.Parse("s", "SELECT $1", (23,))


def test_a_length_below_four_or_above_the_limit_is_refused() -> None:
    reader = pw.FrameReader(limit=1024)
    reader.feed(b"Q" + struct.pack("!I", 3))
    with pytest.raises(pw.ProtocolViolation):
        reader.next()
    reader = pw.FrameReader(limit=1024)
    reader.feed(b"Q" + struct.pack("!I", 1025))
    with pytest.raises(pw.ProtocolViolation):
        reader.next()


def test_startup_packets() -> None:
    msg = pw.startup_message({"user": "alice", "database": "app"})
    packet, used = pw.read_startup(msg + b"extra") or (None, 0)
    assert packet == pw.Startup({"user": "alice", "database": "app"}) and used == len(msg)
    assert pw.read_startup(pw.ssl_request()) == (pw.SslRequest(), 8)
    assert pw.read_startup(pw.gssenc_request()) == (pw.GssEncRequest(), 8)
    assert pw.read_startup(pw.cancel_request(7, 9)) == (pw.CancelRequest(7, 9), 16)
    assert pw.read_startup(msg[:5]) is None


@pytest.mark.parametrize("bad", [
    struct.pack("!II", 4, pw.PROTOCOL_3_0),  # too short
    struct.pack("!II", 20_000, pw.PROTOCOL_3_0),  # too long
    struct.pack("!II", 9, 2 << 16) + b"\x00",  # protocol 2
    struct.pack("!II", 13, pw.PROTOCOL_3_0) + b"user\x00",  # no terminator
    struct.pack("!II", 10, pw.PROTOCOL_3_0) + b"\x00\x00",  # empty name
])
def test_malformed_startup_packets_are_refused(bad: bytes) -> None:
    with pytest.raises(pw.ProtocolViolation):
        pw.read_startup(bad)


def test_bind_shapes_are_checked() -> None:
    good = pw.bind("p", "s", [b"abc", None], [1])
    assert pw.parse_bind(good[5:]) == pw.Bind("p", "s")
    with pytest.raises(pw.ProtocolViolation):
        pw.parse_bind(good[5:-1])  # truncated
    with pytest.raises(pw.ProtocolViolation):
        pw.parse_bind(good[5:] + b"x")  # trailing


def test_error_fields_round_trip() -> None:
    data = pw.error_response("AL001", "held", detail="approval apv_1", hint="ask")
    notice = pw.parse_notice(data[5:])
    assert (notice.code, notice.message, notice.severity) == ("AL001", "held", "ERROR")
    assert notice.fields["D"] == "approval apv_1" and notice.fields["H"] == "ask"


def test_command_tags() -> None:
    assert pw.rows_of_tag("DELETE 3") == 3
    assert pw.rows_of_tag("INSERT 0 5") == 5
    assert pw.rows_of_tag("DROP TABLE") is None
    assert pw.rows_of_tag("BEGIN") is None


CLIENT_TYPES = st.sampled_from([b"Q", b"P", b"B", b"D", b"E", b"C", b"S", b"H", b"d", b"c", b"f",
                                b"F", b"X", b"p", b"?", b"\x00"])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(CLIENT_TYPES, st.binary(max_size=40)), max_size=12))
def test_fuzzed_client_frames_either_work_or_raise_protocol_violation(
        frames: list[tuple[bytes, bytes]]) -> None:
    """Whatever a client sends, the session answers with commands or ProtocolViolation (the
    proxy then closes that one connection) — never another exception."""
    session = Session(lambda sql, runs, block: ALLOW)
    for kind, body in frames:
        try:
            session.client(kind, body)
        except pw.ProtocolViolation:
            return


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzzed_byte_streams_frame_or_raise_protocol_violation(data: bytes) -> None:
    reader = pw.FrameReader(limit=1 << 16)
    reader.feed(data)
    try:
        reader.frames()
        pw.read_startup(data)
    except pw.ProtocolViolation:
        pass


SERVER_TYPES = st.sampled_from([b"1", b"2", b"3", b"C", b"D", b"E", b"I", b"n", b"s", b"T", b"t",
                                b"Z", b"N", b"A", b"S", b"G", b"H"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(SERVER_TYPES, st.binary(max_size=12)), max_size=12))
def test_fuzzed_server_frames_either_work_or_raise_protocol_violation(
        frames: list[tuple[bytes, bytes]]) -> None:
    session = Session(lambda sql, runs, block: ALLOW)
    session.client(b"Q", b"SELECT 1\x00")
    for kind, body in frames:
        try:
            session.server(kind, body)
        except pw.ProtocolViolation:
            return


def _bind_by_the_book(body: bytes) -> pw.Bind:
    """parse_bind as the protocol's documentation reads, field by field (the reference)."""
    b = pw._Body(b"B", body)
    portal, statement = pw._text(b.cstring()), pw._text(b.cstring())
    formats = b.int16()
    if formats < 0:
        raise pw.ProtocolViolation("negative")
    b.bytes_(2 * formats)
    values = b.int16()
    if values < 0:
        raise pw.ProtocolViolation("negative")
    for _ in range(values):
        size = b.int32()
        if size < -1:
            raise pw.ProtocolViolation("negative")
        if size > 0:
            b.bytes_(size)
    results = b.int16()
    if results < 0:
        raise pw.ProtocolViolation("negative")
    b.bytes_(2 * results)
    b.end()
    return pw.Bind(portal, statement)


_BIND_PARTS = st.sampled_from([b"\x00", b"p\x00", b"s1\x00", b"\x00\x00", b"\x00\x01",
                               b"\x00\x02", b"\xff\xff", b"\x00\x00\x00\x03", b"\xff\xff\xff\xff",
                               b"\xff\xff\xff\xfe", b"abc", b"\x00\x01\x00\x01"])


@given(st.lists(_BIND_PARTS | st.binary(max_size=6), max_size=10))
def test_parse_bind_agrees_with_reading_field_by_field(parts: list[bytes]) -> None:
    body = b"".join(parts)
    try:
        expected: pw.Bind | None = _bind_by_the_book(body)
    except pw.ProtocolViolation:
        expected = None
    try:
        got: pw.Bind | None = pw.parse_bind(body)
    except pw.ProtocolViolation:
        got = None
    assert got == expected


@given(st.binary(max_size=12))
def test_parse_execute_agrees_with_reading_field_by_field(body: bytes) -> None:
    def by_the_book() -> pw.Execute:
        b = pw._Body(b"E", body)
        portal = pw._text(b.cstring())
        rows = b.int32()
        b.end()
        return pw.Execute(portal, rows)

    try:
        expected: pw.Execute | None = by_the_book()
    except pw.ProtocolViolation:
        expected = None
    try:
        got: pw.Execute | None = pw.parse_execute(body)
    except pw.ProtocolViolation:
        got = None
    assert got == expected
