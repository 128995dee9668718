"""Playbooks for the session state machine: exact orders of frames in and commands out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airlock.fronts.pgwire import protocol as pw
from airlock.fronts.pgwire.session import (
    ALLOW,
    HEAVY,
    REFUSAL_SQL,
    Close,
    Command,
    GateResult,
    NeedRuling,
    Rule,
    RunGate,
    Session,
    Setting,
    ToClient,
    ToServer,
    refusal,
)

DENIED = refusal("42501", "denied by airlock")
HELD = refusal("AL001", "held")


class Book:
    """Feeds a session whole frames and records what it says back."""

    def __init__(self, rules: dict[str, Rule] | None = None, *, ask: bool = False) -> None:
        self.rules = rules or {}
        self.asked: list[str] = []
        self.in_block: list[bool] = []  # what the session said of each statement it asked about
        self.ask = ask

        def rule(sql: str, runs: bool, in_block: bool) -> Rule | None:
            self.asked.append(sql)
            self.in_block.append(in_block)
            if self.ask:
                return None
            return self.rules.get(sql, ALLOW)

        self.s = Session(rule)

    def client(self, *frames: bytes) -> list[Command]:
        out: list[Command] = []
        for kind, body in split(b"".join(frames)):
            out += self.s.client(kind, body)
        return out

    def server(self, *frames: bytes) -> list[Command]:
        out: list[Command] = []
        for kind, body in split(b"".join(frames)):
            out += self.s.server(kind, body)
        return out


def split(data: bytes) -> list[tuple[bytes, bytes]]:
    reader = pw.FrameReader()
    reader.feed(data)
    frames = reader.frames()
    assert reader.buffered == 0
    return frames


def sent(commands: list[Command], to: type[ToServer] | type[ToClient]) -> bytes:
    return b"".join(c.data for c in commands if isinstance(c, ToServer | ToClient)
                    and isinstance(c, to))


ROW = pw.frame(b"D", b"\x00\x01\x00\x00\x00\x011")
ROWDESC = pw.frame(b"T", b"\x00\x00")


def test_allowed_simple_query_is_forwarded_byte_for_byte_and_rows_stream_back() -> None:
    book = Book()
    q = pw.query("SELECT 1")
    assert book.client(q) == [ToServer(q)]
    answer = [ROWDESC, ROW, ROW, pw.command_complete("SELECT 2"), pw.ready_for_query("I")]
    out = book.server(*answer)
    assert out == [ToClient(a) for a in answer]
    assert book.s.status == "I" and not book.s.pending


def test_refused_query_runs_a_failing_statement_and_the_client_sees_airlocks_error() -> None:
    book = Book({"DROP TABLE t": DENIED})
    out = book.client(pw.query("DROP TABLE t"))
    assert out == [ToServer(pw.query(REFUSAL_SQL))]
    server_error = pw.error_response("42601", 'syntax error at or near "airlock"')
    out = book.server(server_error, pw.ready_for_query("I"))
    assert out == [ToClient(DENIED.error), ToClient(pw.ready_for_query("I"))]


def test_refusal_inside_a_transaction_block_fails_the_transaction_as_postgres_would() -> None:
    book = Book({"DROP TABLE t": DENIED})
    book.client(pw.query("BEGIN"))
    book.server(pw.command_complete("BEGIN"), pw.ready_for_query("T"))
    book.client(pw.query("DROP TABLE t"))
    out = book.server(pw.error_response("42601", "x"), pw.ready_for_query("E"))
    # the status comes from the server, whose transaction really failed: COMMIT will roll back
    assert out[-1] == ToClient(pw.ready_for_query("E"))
    assert book.s.status == "E"


def test_queries_wait_in_order_behind_a_ruling() -> None:
    book = Book(ask=True)
    assert book.client(pw.query("SELECT 1"), pw.query("SELECT 2")) == [NeedRuling("SELECT 1", True)]
    assert book.asked == ["SELECT 1"]  # the second waits its turn, unjudged
    out = book.s.ruled(ALLOW)
    assert out == [ToServer(pw.query("SELECT 1")), NeedRuling("SELECT 2", True)]
    assert book.s.ruled(ALLOW) == [ToServer(pw.query("SELECT 2"))]


def test_extended_protocol_keeps_the_statements_ruling_across_bind_and_execute() -> None:
    book = Book()
    batch = [pw.parse("s1", "SELECT $1::int", [23]), pw.bind("p", "s1", [b"1"]),
             pw.describe("P", "p"), pw.execute("p"), pw.SYNC]
    out = book.client(*batch)
    assert sent(out, ToServer) == b"".join(batch)
    answer = [pw.PARSE_COMPLETE, pw.BIND_COMPLETE, ROWDESC, ROW, pw.command_complete("SELECT 1"),
              pw.ready_for_query("I")]
    assert sent(book.server(*answer), ToClient) == b"".join(answer)
    # executed again later: Bind carries the statement's ruling, each Execute is looked up again
    # (that is where it is audited)
    book.asked.clear()
    again = [pw.bind("", "s1", [b"2"]), pw.execute(""), pw.SYNC]
    assert sent(book.client(*again), ToServer) == b"".join(again)
    assert book.asked == ["SELECT $1::int"]


def test_refused_parse_fails_and_the_server_skips_to_sync() -> None:
    book = Book({"DELETE FROM t": DENIED})
    out = book.client(pw.parse("", "DELETE FROM t"), pw.bind(), pw.execute(), pw.SYNC)
    assert out[0] == ToServer(pw.parse("", REFUSAL_SQL))
    # the Bind of the unnamed statement that was never parsed is judged as EXECUTE
    assert "EXECUTE unnamed" in book.asked
    out = book.server(pw.error_response("42601", "x"), pw.ready_for_query("I"))
    assert out == [ToClient(DENIED.error), ToClient(pw.ready_for_query("I"))]


def test_a_bind_to_a_statement_prepared_in_sql_is_judged_as_execute() -> None:
    book = Book({'EXECUTE "wipe"': HELD})
    book.client(pw.bind("", "wipe"), pw.execute(), pw.SYNC)
    assert book.asked == ['EXECUTE "wipe"']
    out = book.server(pw.error_response("42601", "x"), pw.ready_for_query("I"))
    assert out[0] == ToClient(HELD.error)


def test_prepare_in_sql_makes_the_session_forget_statement_names() -> None:
    book = Book()
    book.client(pw.parse("s1", "SELECT 1"), pw.SYNC)
    book.server(pw.PARSE_COMPLETE, pw.ready_for_query("I"))
    book.client(pw.query("DEALLOCATE s1; PREPARE s1 AS SELECT 2"))
    book.server(pw.command_complete("PREPARE"), pw.ready_for_query("I"))
    book.asked.clear()
    book.client(pw.bind("", "s1"), pw.execute(), pw.SYNC)
    assert set(book.asked) == {'EXECUTE "s1"'}


def test_a_heavy_query_waits_for_a_quiet_upstream_then_runs_the_gate() -> None:
    book = Book({"DELETE FROM t WHERE id = 1": HEAVY})
    book.client(pw.query("SELECT 1"))
    assert book.client(pw.query("DELETE FROM t WHERE id = 1")) == []  # SELECT 1 still running
    out = book.server(pw.command_complete("SELECT 1"), pw.ready_for_query("I"))
    assert out[-1] == RunGate("DELETE FROM t WHERE id = 1", "I")
    # the gate opened a transaction for the before-image; the statement runs in it
    out = book.s.gated(GateResult(opened=True, expected_rows=1))
    assert out == [ToServer(pw.query("DELETE FROM t WHERE id = 1"))]
    # its answer is held back until the proxy has committed
    assert book.server(pw.command_complete("DELETE 1"), pw.ready_for_query("T")) == \
        [ToServer(pw.query("COMMIT"))]
    out = book.server(pw.command_complete("COMMIT"), pw.ready_for_query("I"))
    assert out == [ToClient(pw.command_complete("DELETE 1") + pw.ready_for_query("I"))]


def test_a_row_count_that_differs_from_the_before_image_rolls_back() -> None:
    book = Book({"DELETE FROM t WHERE x": HEAVY})
    book.client(pw.query("DELETE FROM t WHERE x"))
    book.s.gated(GateResult(opened=True, expected_rows=1))
    out = book.server(pw.command_complete("DELETE 2"), pw.ready_for_query("T"))
    assert out == [ToServer(pw.query("ROLLBACK"))]
    out = book.server(pw.command_complete("ROLLBACK"), pw.ready_for_query("I"))
    data = sent(out, ToClient)
    assert b"AL002" in data and b"DELETE 2" not in data and data.endswith(pw.ready_for_query("I"))


def test_in_the_clients_transaction_a_mismatch_fails_that_transaction() -> None:
    book = Book({"DELETE FROM t WHERE x": HEAVY})
    book.client(pw.query("BEGIN"))
    book.server(pw.command_complete("BEGIN"), pw.ready_for_query("T"))
    out = book.client(pw.query("DELETE FROM t WHERE x"))
    assert out == [RunGate("DELETE FROM t WHERE x", "T")]
    book.s.gated(GateResult(opened=False, expected_rows=1))
    out = book.server(pw.command_complete("DELETE 3"), pw.ready_for_query("T"))
    assert out == [ToServer(pw.query(REFUSAL_SQL))]
    out = book.server(pw.error_response("42601", "x"), pw.ready_for_query("E"))
    assert sent(out, ToClient).endswith(pw.ready_for_query("E"))


def test_a_held_heavy_statement_is_refused_without_running() -> None:
    book = Book({"DROP TABLE t": HEAVY})
    book.client(pw.query("DROP TABLE t"))
    out = book.s.gated(GateResult(refusal=HELD.error))
    assert out == [ToServer(pw.query(REFUSAL_SQL))]
    out = book.server(pw.error_response("42601", "x"), pw.ready_for_query("I"))
    assert out == [ToClient(HELD.error), ToClient(pw.ready_for_query("I"))]


def test_extended_heavy_batch_is_collected_to_sync_then_gated() -> None:
    sql = "UPDATE t SET a = $1 WHERE id = $2"
    book = Book({sql: HEAVY})
    batch = [pw.parse("", sql), pw.bind("", "", [b"1", b"2"]), pw.describe("P"), pw.execute(),
             pw.SYNC]
    out = book.client(*batch)
    assert out == [RunGate(sql, "I")]
    out = book.s.gated(GateResult(opened=True, expected_rows=1))
    assert out == [ToServer(b"".join(batch))]
    answer = [pw.PARSE_COMPLETE, pw.BIND_COMPLETE, pw.NO_DATA, pw.command_complete("UPDATE 1")]
    assert book.server(*answer, pw.ready_for_query("T")) == [ToServer(pw.query("COMMIT"))]
    out = book.server(pw.command_complete("COMMIT"), pw.ready_for_query("I"))
    assert out == [ToClient(b"".join(answer) + pw.ready_for_query("I"))]


def test_prepared_heavy_statement_is_gated_when_a_later_batch_executes_it() -> None:
    sql = "DELETE FROM t WHERE id = $1"
    book = Book({sql: HEAVY})
    # preparing runs nothing: forwarded without the gate
    out = book.client(pw.parse("s", sql), pw.describe("S", "s"), pw.SYNC)
    assert sent(out, ToServer).startswith(pw.parse("s", sql)) and not any(
        isinstance(c, RunGate) for c in out)
    book.server(pw.PARSE_COMPLETE, pw.frame(b"t", b"\x00\x00"), pw.NO_DATA,
                pw.ready_for_query("I"))
    out = book.client(pw.bind("", "s", [b"1"]), pw.execute(), pw.SYNC)
    assert out == [RunGate(sql, "I")]


def test_heavy_statement_in_the_middle_of_a_batch_is_refused_in_place() -> None:
    book = Book({"DROP TABLE t": HEAVY})
    out = book.client(pw.parse("a", "SELECT 1"), pw.parse("b", "DROP TABLE t"), pw.bind("", "b"))
    assert out[-1] == ToServer(pw.parse("", REFUSAL_SQL))
    out = book.client(pw.execute(), pw.SYNC)
    book.server(pw.PARSE_COMPLETE)
    out = book.server(pw.PARSE_COMPLETE, pw.error_response("42601", "x"), pw.ready_for_query("I"))
    data = sent(out, ToClient)
    assert b"AL003" in data and data.endswith(pw.ready_for_query("I"))


def test_soft_drop_is_answered_without_running_the_statement() -> None:
    book = Book({"DROP TABLE t": HEAVY})
    book.client(pw.query("DROP TABLE t"))
    out = book.s.gated(GateResult(opened=True, skip_tag="DROP TABLE"))
    assert out == [ToServer(pw.query("COMMIT"))]
    out = book.server(pw.command_complete("COMMIT"), pw.ready_for_query("I"))
    assert out == [ToClient(pw.command_complete("DROP TABLE") + pw.ready_for_query("I"))]


def test_an_error_in_a_pipeline_drops_the_answers_the_server_will_not_send() -> None:
    book = Book()
    book.client(pw.parse("", "SELECT x"), pw.bind(), pw.execute(), pw.SYNC,
                pw.parse("", "SELECT 1"), pw.bind(), pw.execute(), pw.SYNC)
    out = book.server(pw.error_response("42703", "no x"), pw.ready_for_query("I"),
                      pw.PARSE_COMPLETE, pw.BIND_COMPLETE, ROW, pw.command_complete("SELECT 1"),
                      pw.ready_for_query("I"))
    assert len(out) == 7 and not book.s.pending


def test_copy_from_stdin_data_is_forwarded_once_the_copy_was_judged() -> None:
    book = Book()
    book.client(pw.query("COPY t FROM STDIN"))
    book.server(pw.frame(b"G", b"\x00\x00\x00"))
    assert book.client(pw.copy_data(b"1\n")) == [ToServer(pw.copy_data(b"1\n"))]
    assert book.client(pw.COPY_DONE) == [ToServer(pw.COPY_DONE)]
    out = book.server(pw.command_complete("COPY 1"), pw.ready_for_query("I"))
    assert out[-1] == ToClient(pw.ready_for_query("I"))


def test_copy_to_stdout_streams_back() -> None:
    book = Book()
    book.client(pw.query("COPY t TO STDOUT"))
    answer = [pw.frame(b"H", b"\x00\x00\x00"), pw.copy_data(b"1\n"), pw.COPY_DONE,
              pw.command_complete("COPY 1"), pw.ready_for_query("I")]
    assert sent(book.server(*answer), ToClient) == b"".join(answer)


def test_notices_and_notifications_pass_through_at_any_time() -> None:
    book = Book()
    note = pw.notice_response("00000", "hello")
    notify = pw.frame(b"A", b"\x00\x00\x00\x01chan\x00payload\x00")
    assert book.server(note, notify) == [ToClient(note), ToClient(notify)]


def test_fast_path_function_calls_are_refused() -> None:
    book = Book()
    out = book.client(pw.frame(b"F", b"\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00"))
    assert out == [ToServer(pw.query(REFUSAL_SQL))]
    out = book.server(pw.error_response("42601", "x"), pw.ready_for_query("I"))
    assert b"fast-path" in sent(out, ToClient)


def test_terminate_closes() -> None:
    book = Book()
    assert book.client(pw.TERMINATE) == [ToServer(pw.TERMINATE), Close("the client said goodbye")]


def test_ready_for_query_out_of_turn_is_a_protocol_violation() -> None:
    book = Book()
    with pytest.raises(pw.ProtocolViolation):
        book.server(pw.ready_for_query("I"))


def test_unknown_client_message_is_a_protocol_violation() -> None:
    book = Book()
    with pytest.raises(pw.ProtocolViolation):
        book.client(pw.frame(b"?", b""))


# `server_data` (bytes as they arrive, runs passed through whole) against `server` (one frame at a
# time): for any conversation and any way the server's bytes are cut, the client gets the same
# bytes and the session ends in the same state.

def _exchange(i: int, kind: str, rows: int) -> tuple[list[bytes], list[bytes]]:
    """(what the client sends, what the server answers) for one statement."""
    row_frames = [ROW] * rows
    tag = pw.command_complete(f"SELECT {rows}")
    if kind == "simple":
        return [pw.query(f"SELECT {i}")], [ROWDESC, *row_frames, tag, pw.ready_for_query("I")]
    if kind == "extended":
        return ([pw.parse("", f"SELECT {i}"), pw.bind(), pw.describe("P"), pw.execute(), pw.SYNC],
                [pw.PARSE_COMPLETE, pw.BIND_COMPLETE, ROWDESC, *row_frames, tag,
                 pw.ready_for_query("I")])
    if kind == "refused":  # the server answers airlock's failing statement
        return [pw.query(f"DENY {i}")], [pw.error_response("42601", "syntax error"),
                                         pw.ready_for_query("I")]
    if kind == "notice":
        return [pw.query(f"SELECT {i}")], [pw.notice_response("01000", "hello"), ROWDESC,
                                           *row_frames, pw.parameter_status("TimeZone", "UTC"),
                                           tag, pw.ready_for_query("I")]
    raise AssertionError(kind)


@given(st.lists(st.tuples(st.sampled_from(["simple", "extended", "refused", "notice"]),
                          st.integers(0, 3)), min_size=1, max_size=6),
       st.lists(st.integers(1, 40), min_size=1, max_size=30))
def test_server_bytes_in_any_cuts_reach_the_client_as_frame_by_frame(
        script: list[tuple[str, int]], cuts: list[int]) -> None:
    rules = {f"DENY {i}": DENIED for i in range(len(script))}
    by_frame, by_bytes = Book(rules), Book(rules)
    got_frame: list[Command] = []
    got_bytes: list[Command] = []
    for i, (kind, rows) in enumerate(script):
        client, server = _exchange(i, kind, rows)
        assert by_frame.client(*client) == by_bytes.client(*client)
        got_frame += by_frame.server(*server)
        data = b"".join(server)
        at = 0
        for cut in cuts * (len(data) // sum(cuts) + 1):
            if at >= len(data):
                break
            got_bytes += by_bytes.s.server_data(data[at:at + cut])
            at += cut
    assert sent(got_bytes, ToClient) == sent(got_frame, ToClient)
    assert [c for c in got_bytes if not isinstance(c, ToClient)] == \
        [c for c in got_frame if not isinstance(c, ToClient)]
    assert (by_bytes.s.status, list(by_bytes.s.pending)) == (by_frame.s.status, [])
    assert b"42501" in sent(got_bytes, ToClient) or "refused" not in dict(script)


def test_a_parameter_change_is_reported_before_anything_after_it_is_relayed() -> None:
    book = Book()
    book.client(pw.query("SELECT 1"))
    out = book.s.server_data(ROWDESC + pw.parameter_status("client_encoding", "SJIS") + ROW)
    assert out == [ToClient(ROWDESC), Setting("client_encoding", "SJIS"),
                   ToClient(pw.parameter_status("client_encoding", "SJIS")), ToClient(ROW)]


def test_a_frame_with_an_impossible_length_from_the_server_is_a_violation() -> None:
    book = Book()
    book.client(pw.query("SELECT 1"))
    with pytest.raises(pw.ProtocolViolation):
        book.s.server_data(b"D\x00\x00\x00\x02")


def test_a_statement_is_in_a_block_only_when_nothing_that_could_end_the_block_is_in_flight(
        ) -> None:
    book = Book()
    book.client(pw.query("BEGIN"))
    assert book.in_block == [False]  # idle when it was asked about
    book.server(pw.command_complete("BEGIN"), pw.ready_for_query("T"))
    book.client(pw.query("UPDATE t SET v = 1 WHERE id = 1"))
    assert book.in_block[-1] is True
    # pipelined behind it: COMMIT, then a write that would run outside the block
    book.client(pw.query("COMMIT"), pw.query("UPDATE t SET v = 2 WHERE id = 1"))
    assert book.in_block[-2:] == [False, False]
    # the extended protocol: a Bind in flight cannot end the block, an Execute could
    book.server(pw.command_complete("UPDATE 1"), pw.ready_for_query("T"),
                pw.command_complete("COMMIT"), pw.ready_for_query("I"),
                pw.command_complete("UPDATE 1"), pw.ready_for_query("I"))
    book.client(pw.query("BEGIN"))
    book.server(pw.command_complete("BEGIN"), pw.ready_for_query("T"))
    book.client(pw.parse("", "UPDATE t SET v = 3 WHERE id = 1"), pw.bind(), pw.execute(),
                pw.bind(), pw.execute(), pw.SYNC)
    assert book.in_block[-2:] == [True, False]  # the second Execute: the first is unanswered
