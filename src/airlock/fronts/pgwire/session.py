"""One proxied connection after authentication, as a state machine: frames in, commands out.

The session never touches a socket. The I/O layer (`proxy.py`) feeds it client frames
(`client`), upstream frames (`server`), rulings it asked for (`ruled`) and the gate's answer for
a statement that needed it (`gated`); each call returns the commands to carry out, in order:
`ToServer`, `ToClient`, `NeedRuling`, `RunGate`, `Close`.

How a statement is judged:

- a simple Query's text, and a Parse's text, get a *ruling* before anything is forwarded —
  `rule(sql)` answers at once from the verdict cache, or the session asks with `NeedRuling`
  and queues everything the client sends after it until `ruled` (order is never changed);
- `ALLOW` forwards the message as it came; `REFUSE` forwards instead a statement that fails at
  once (`REFUSAL_SQL`) and hands the client airlock's error in place of the server's — so the
  server itself applies PostgreSQL's rules: inside a transaction block the transaction fails,
  in the extended protocol everything up to Sync is skipped, and nothing partial runs;
- `HEAVY` (a hold that may have been approved, or a statement that needs a backup first) is
  decided by the whole gate when it *executes*: the batch that runs it (a Query, or the
  extended messages up to Sync) is collected, the upstream is left quiet, `RunGate` lets the
  I/O layer run the gate — whose safety net works in this very session — and `gated` resumes.
  If the session was idle the snapshot opened a transaction: the batch runs in it, its row
  count is checked against the before-image, then the proxy commits (or rolls back) and only
  then answers the client. Inside the client's own transaction the client commits.

Prepared statements keep the ruling of the text they were parsed from; a portal keeps its
statement's. A Bind to a statement the session never saw parsed (SQL `PREPARE`) is judged as
`EXECUTE name`, which is unknown.

Responses are matched to requests (`_Pending`) so that an injected refusal's error can be
replaced, internal statements' answers swallowed and a protected batch's answers held back.
DataRow and every other response travel as the bytes they came as.
"""

from __future__ import annotations

import enum
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from airlock.fronts.pgwire import protocol as pw
from airlock.fronts.pgwire.protocol import ProtocolViolation

# Fails in the server's parser, before anything runs: the server's own error handling then does
# the rest (abort the transaction block, skip to Sync). Its error is replaced by airlock's.
REFUSAL_SQL = "airlock refused this statement"

HOLD_SQLSTATE = "AL001"  # held for approval (class AL: user-defined, never used by PostgreSQL)
PROTECT_SQLSTATE = "AL002"  # the backup or the check around it failed: nothing was changed
PROTOCOL_SQLSTATE = "AL003"  # airlock cannot gate this use of the protocol
DENY_SQLSTATE = "42501"  # insufficient_privilege

MAX_QUEUED = 64 * 1024 * 1024  # bytes a client may send ahead of a pending judgement


class Ruling(enum.Enum):
    ALLOW = "allow"
    HEAVY = "heavy"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class Rule:
    """A ruling on one SQL text; `error` is the ErrorResponse frame for REFUSE."""

    ruling: Ruling
    error: bytes = b""


ALLOW = Rule(Ruling.ALLOW)
HEAVY = Rule(Ruling.HEAVY)


# Commands --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToServer:
    data: bytes


@dataclass(frozen=True, slots=True)
class ToClient:
    data: bytes


@dataclass(frozen=True, slots=True)
class NeedRuling:
    """Rule on `sql`; `runs` says the statement runs now (a Query or an Execute), not merely
    gets prepared — each run is audited, and the I/O layer may hold it until its record is
    durable."""

    sql: str
    runs: bool = True


@dataclass(frozen=True, slots=True)
class RunGate:
    """Run the whole gate on `sql` now: the upstream is quiet and in transaction state
    `status`; the safety net may use the session (the I/O layer splices it in)."""

    sql: str
    status: str


@dataclass(frozen=True, slots=True)
class Close:
    reason: str


@dataclass(frozen=True, slots=True)
class Setting:
    """The server reports a run-time parameter (ParameterStatus); the I/O layer checks it (an
    encoding airlock cannot read ends the connection) before anything after it is relayed."""

    name: str
    value: str


Command = ToServer | ToClient | NeedRuling | RunGate | Close | Setting


@dataclass(frozen=True, slots=True)
class GateResult:
    """What the gate decided for a collected batch.

    `refusal`: the ErrorResponse to answer with (held, denied, backup failed) — nothing runs.
    `opened`: the safety net opened a transaction on the idle session; the proxy finishes it.
    `expected_rows`: the statement must report this many rows (the before-image's count).
    `skip_tag`: protection already did what the statement asks (soft drop); answer with this
    command tag without running it."""

    refusal: bytes | None = None
    opened: bool = False
    expected_rows: int | None = None
    skip_tag: str | None = None


def refusal(code: str, message: str, *, detail: str = "", hint: str = "") -> Rule:
    return Rule(Ruling.REFUSE, pw.error_response(code, message, detail=detail, hint=hint))


# Response matching -------------------------------------------------------------------------------

_CLIENT, _CAPTURE, _INTERNAL = 0, 1, 2
_LENGTH = struct.Struct("!I")
_C, _Z = ord("C"), ord("Z")
# (request, a response that goes to the client as it is) → whether it ends that request's
# answer. The same table as `server`'s, for `server_data`'s fast path; anything not here
# (errors, notices, copy, ReadyForQuery) takes the slow path.
_ENDS: dict[tuple[bytes, int], bool] = {
    **{(b"Q", ord(k)): False for k in "TDCIs"},
    (b"P", ord("1")): True, (b"B", ord("2")): True, (b"C", ord("3")): True,
    (b"D", ord("t")): False, (b"D", ord("T")): True, (b"D", ord("n")): True,
    (b"E", ord("D")): False, (b"E", ord("C")): True, (b"E", ord("I")): True,
    (b"E", ord("s")): True,
}


@dataclass(slots=True)
class _Pending:
    kind: bytes  # the request: Q P B D E C S
    sink: int = _CLIENT
    refusal: bytes | None = None
    done: Callable[[str], list[Command]] | None = None  # called with the status at its 'Z'


@dataclass(slots=True)
class _Unit:
    """A batch collected because it runs a HEAVY statement."""

    frames: list[bytes] = field(default_factory=list)
    sql: str | None = None  # the heavy statement it runs
    simple: bool = False
    ended: bool = False
    problem: str = ""
    refused: bytes | None = None  # a Parse or Bind inside it was refused: the batch is
    started: bool = False  # RunGate was sent (or the batch was otherwise dealt with)
    captured: list[bytes] = field(default_factory=list)
    tag: str | None = None
    result: GateResult | None = None


class Session:
    def __init__(self, rule: Callable[[str, bool, bool], Rule | None],
                 status: str = pw.TX_IDLE) -> None:
        self.rule = rule
        self.status = status
        self.pending: deque[_Pending] = deque()
        self.statements: dict[str, tuple[str, Rule]] = {}
        self.portals: dict[str, tuple[str, Rule]] = {}
        self.queue: deque[tuple[bytes, bytes]] = deque()  # client frames waiting their turn
        self.queued_bytes = 0
        self.waiting: tuple[str, bool] | None = None  # the SQL whose ruling we wait for
        self.unit: _Unit | None = None
        self.gating = False  # RunGate sent, `gated` not yet called
        self.batch_open = False  # extended messages forwarded since the last Sync
        self.skipping = False  # the server skips extended messages until the next Sync
        self.copying = False
        self.closed = False
        self._answer: tuple[tuple[str, bool], Rule] | None = None  # a ruling just given
        self._server_rest = b""  # the start of a server message not yet whole

    # ---- events ----------------------------------------------------------------------------

    def client(self, kind: bytes, body: bytes) -> list[Command]:
        if self.closed:
            return []
        if kind in b"dcf" and len(kind) == 1 and self.copying and not self.queue \
                and self.waiting is None and self.unit is None:
            return [ToServer(pw.frame(kind, body))]  # COPY FROM STDIN data: the COPY was judged
        if not self.queue and self.waiting is None and not self.gating:
            # Nothing waits ahead of it (the usual case): handle it now, as `_drain` would
            # once it was queued, without the queue.
            step = self._one(kind, body)
            if step is not None:
                return step + self._gate_if_ready()
        self.queue.append((kind, body))
        self.queued_bytes += len(body) + 5
        if self.queued_bytes > MAX_QUEUED:
            raise ProtocolViolation(f"the client sent over {MAX_QUEUED} bytes ahead of a "
                                    "statement airlock is still judging")
        if self.waiting is not None and len(self.queue) == 1:
            # `_one` just began waiting for this frame's ruling: ask for it (`_drain` would
            # call `_one` again for nothing)
            return [NeedRuling(*self.waiting), *self._gate_if_ready()]
        return self._drain()

    def ruled(self, rule: Rule) -> list[Command]:
        if self.waiting is None:
            raise RuntimeError("a ruling arrived that nobody asked for")
        asked, self.waiting = self.waiting, None
        self._answer = (asked, rule)
        return self._drain()

    def gated(self, result: GateResult) -> list[Command]:
        unit = self.unit
        if unit is None or not self.gating:
            raise RuntimeError("a gate result arrived for no batch")
        self.gating = False
        unit.result = result
        out: list[Command] = []
        if result.refusal is not None:
            self.unit = None
            out += self._refuse_batch(result.refusal)
        elif result.skip_tag is not None:
            out += self._synthesize(unit, result.skip_tag)
        else:
            final = self._forward_unit(unit)
            final.done = lambda status: self._finish_unit(unit, status)
            out += [ToServer(b"".join(unit.frames))]
        return out + self._drain()

    def server_data(self, data: bytes) -> list[Command]:
        """Bytes as they came from the server. Whole messages are matched to the requests they
        answer; runs of messages that go to the client unchanged (rows, descriptions, command
        tags, the ReadyForQuery of an ordinary statement) are passed on as one slice of the
        bytes they came in — no per-message objects, one write. Anything else (errors,
        notices, parameter changes, answers to refused or protected requests) takes `server`."""
        if self._server_rest:
            data = self._server_rest + data
            self._server_rest = b""
        out: list[Command] = []
        pending = self.pending
        end_of_data = len(data)
        pos = run = 0  # `run`: where the bytes not yet handed to the client begin
        while end_of_data - pos >= 5:
            kind = data[pos]
            length = _LENGTH.unpack_from(data, pos + 1)[0]
            if length < 4 or length > pw.MAX_FRAME:
                raise ProtocolViolation(f"a {bytes([kind])!r} message claims a length of "
                                        f"{length} bytes, outside 4..{pw.MAX_FRAME}")
            end = pos + 1 + length
            if end > end_of_data:
                break
            head = pending[0] if pending else None
            if head is not None and head.sink == _CLIENT and head.refusal is None:
                ends = _ENDS.get((head.kind, kind))
                if ends is not None:
                    if kind == _C:
                        self.copying = False
                    if ends:
                        pending.popleft()
                    pos = end
                    continue
                if kind == _Z and head.done is None and not self.queue and self.unit is None \
                        and head.kind in (b"Q", b"S"):
                    self.status = pw.parse_ready(data[pos + 5:end])
                    pending.popleft()
                    self.copying = False
                    if head.kind == b"S":
                        self.skipping = False
                    pos = end
                    continue
            if pos > run:
                out.append(ToClient(data[run:pos]))
            out += self.server(bytes((kind,)), data[pos + 5:end])
            pos = run = end
        if pos > run:
            out.append(ToClient(data[run:pos]))
        if pos < end_of_data:
            self._server_rest = data[pos:]
        return out

    def server(self, kind: bytes, body: bytes) -> list[Command]:
        """One whole message from the server (`server_data` sends the unusual ones here)."""
        if kind == b"S":
            name, value = pw.parse_parameter_status(body)
            head = self.pending[0] if self.pending else None
            if head is not None and head.sink == _INTERNAL:
                return [Setting(name, value)]
            return [Setting(name, value), *self._emit(head, pw.frame(kind, body))]
        if kind == b"Z":
            return self._ready(pw.parse_ready(body))
        if kind in b"NAS" and len(kind) == 1:
            # notices, notifications, parameter changes: asynchronous, not answers
            head = self.pending[0] if self.pending else None
            if head is not None and head.sink == _INTERNAL:
                return []
            return self._emit(head, pw.frame(kind, body))
        if not self.pending:
            if kind == b"E":  # FATAL from the server (shutdown, terminated backend)
                return [ToClient(pw.frame(kind, body)), Close("the server ended the session")]
            raise ProtocolViolation(f"the server sent {kind!r} when nothing was asked")
        head = self.pending[0]
        data = pw.frame(kind, body)
        if kind == b"E":
            if head.refusal is not None:
                data = head.refusal
            if head.kind != b"Q":
                self.pending.popleft()
                self._skip_to_sync()
            self.copying = False
            return self._emit(head, data, error=True)
        if kind in b"GH" and len(kind) == 1:
            self.copying = kind == b"G"
        elif kind == b"C":
            self.copying = False
        out = self._emit(head, data)
        if (head.kind == b"P" and kind == b"1") or (head.kind == b"B" and kind == b"2") \
                or (head.kind == b"C" and kind == b"3") \
                or (head.kind == b"D" and kind in b"Tn" and len(kind) == 1) \
                or (head.kind == b"E" and kind in b"CIs" and len(kind) == 1):
            self.pending.popleft()
        return out

    # ---- responses ------------------------------------------------------------------------

    def _emit(self, head: _Pending | None, data: bytes, *, error: bool = False) -> list[Command]:
        sink = head.sink if head is not None else _CLIENT
        if sink == _CLIENT:
            return [ToClient(data)]
        if sink == _CAPTURE and self.unit is not None:
            self.unit.captured.append(data)
            if data[:1] == b"C" and head is not None and head.kind in (b"E", b"Q"):
                self.unit.tag = pw.parse_command_tag(data[5:])
            if error and head is not None and head.kind == b"Q":
                self.unit.tag = None
        return []

    def _ready(self, status: str) -> list[Command]:
        if not self.pending or self.pending[0].kind not in (b"Q", b"S"):
            raise ProtocolViolation("the server sent ReadyForQuery out of turn")
        head = self.pending.popleft()
        self.status = status
        self.copying = False
        if head.kind == b"S":
            self.skipping = False
        out: list[Command] = []
        if head.done is not None:
            out += head.done(status)
        elif head.sink == _CLIENT:
            out.append(ToClient(pw.ready_for_query(status)))
        return out + self._drain()

    def _skip_to_sync(self) -> None:
        """After an error in the extended protocol the server ignores everything up to Sync."""
        while self.pending and self.pending[0].kind != b"S":
            self.pending.popleft()
        if not self.pending:
            self.skipping = True

    # ---- the client's messages, in order --------------------------------------------------

    def _drain(self) -> list[Command]:
        out: list[Command] = []
        while self.queue and self.waiting is None and not self.gating and not self.closed:
            kind, body = self.queue[0]
            step = self._one(kind, body)
            if step is None:  # waits for a ruling or for the upstream to go quiet
                asked = self._asked()  # _one may have started waiting for a ruling
                if asked is not None:
                    out.append(NeedRuling(*asked))
                break
            self.queue.popleft()
            self.queued_bytes -= len(body) + 5
            out += step
        return out + self._gate_if_ready()

    def _gate_if_ready(self) -> list[Command]:
        """A collected batch starts its gate once the server has answered everything before."""
        if self.unit is not None and self.unit.ended and not self.unit.started \
                and not self.pending:
            return self._start_gate(self.unit)
        return []

    def _in_block(self) -> bool:
        """The next statement certainly runs inside a transaction block: the server's last
        ReadyForQuery said so, and no Query or Execute (which could end it) is unanswered."""
        return self.status != pw.TX_IDLE and not any(p.kind in (b"Q", b"E")
                                                     for p in self.pending)

    def _asked(self) -> tuple[str, bool] | None:
        return self.waiting

    def _ruling(self, sql: str, runs: bool = False) -> Rule | None:
        answer, self._answer = self._answer, None
        if answer is not None and answer[0] == (sql, runs):
            return answer[1]
        found = self.rule(sql, runs, runs and self._in_block())
        if found is None:
            self.waiting = (sql, runs)
        return found

    def _one(self, kind: bytes, body: bytes) -> list[Command] | None:
        """Handle one client frame; None to stop and wait (the frame stays queued)."""
        if self.unit is not None:
            if self.unit.ended:
                return None  # the next batch waits for this one's gate
            return self._collect(kind, body)
        if kind == b"Q":
            q = pw.parse_query(body)
            rule = self._ruling(q.sql, runs=True)
            if rule is None:
                return None
            self._forget_if_prepares(q.sql)
            if rule.ruling is Ruling.REFUSE:
                return self._refuse_simple(rule.error)
            if rule.ruling is Ruling.HEAVY:
                self.unit = _Unit([pw.frame(kind, body)], q.sql, simple=True, ended=True)
                return []
            self.pending.append(_Pending(b"Q"))
            return [ToServer(pw.frame(kind, body))]
        if kind == b"P":
            p = pw.parse_parse(body)
            rule = self._ruling(p.sql)
            if rule is None:
                return None
            if rule.ruling is Ruling.REFUSE:
                return self._refuse_extended(rule.error)
            if rule.ruling is Ruling.HEAVY and not self.batch_open:
                self.unit = _Unit()
                return self._collect(kind, body)
            self.statements[p.name] = (p.sql, rule)
            return self._extended(kind, body)
        if kind == b"B":
            b = pw.parse_bind(body)
            stmt = self._statement(b.statement)
            if stmt is None:
                return None
            if stmt[1].ruling is Ruling.REFUSE:
                return self._refuse_extended(stmt[1].error)
            if stmt[1].ruling is Ruling.HEAVY:
                if self.batch_open:
                    return self._refuse_extended(_MID_BATCH)
                self.unit = _Unit()
                return self._collect(kind, body)
            self.portals[b.portal] = stmt
            return self._extended(kind, body)
        if kind == b"E":
            e = pw.parse_execute(body)
            portal = self.portals.get(e.portal)
            if portal is not None and portal[1].ruling is not Ruling.ALLOW:
                if self.batch_open:
                    return self._refuse_extended(_MID_BATCH)
                self.unit = _Unit()
                return self._collect(kind, body)
            if portal is not None:
                # each run is ruled again (a cache lookup): it is audited, and a token that
                # expired or was revoked since the Parse stops here
                rule = self._ruling(portal[0], runs=True)
                if rule is None:
                    return None
                if rule.ruling is not Ruling.ALLOW:
                    return self._refuse_extended(rule.error or _MID_BATCH)
            return self._extended(kind, body)
        if kind == b"D":
            pw.parse_describe(body)
            return self._extended(kind, body)
        if kind == b"C":
            c = pw.parse_close(body)
            (self.statements if c.what == "S" else self.portals).pop(c.name, None)
            return self._extended(kind, body)
        if kind == b"S":
            self.pending.append(_Pending(b"S"))
            self.skipping = False
            self.batch_open = False
            return [ToServer(pw.SYNC)]
        if kind == b"H":
            return [ToServer(pw.FLUSH)]
        if kind in (b"d", b"c", b"f"):
            return [ToServer(pw.frame(kind, body))]
        if kind == b"X":
            self.closed = True
            return [ToServer(pw.TERMINATE), Close("the client said goodbye")]
        if kind == b"F":
            # FunctionCall runs a function by its OID with no SQL text to judge.
            return self._refuse_simple(refusal(
                PROTOCOL_SQLSTATE, "airlock refuses the fast-path function call interface: it "
                "runs functions without SQL that airlock could judge",
                hint="call the function in a SQL statement instead").error)
        raise ProtocolViolation(f"unexpected message type {kind!r} from the client")

    def _extended(self, kind: bytes, body: bytes) -> list[Command]:
        self.batch_open = True
        if not self.skipping:
            self.pending.append(_Pending(kind))
        return [ToServer(pw.frame(kind, body))]

    def _statement(self, name: str) -> tuple[str, Rule] | None:
        known = self.statements.get(name)
        if known is not None:
            return known
        # Not parsed through this session (SQL PREPARE, or forgotten): as SQL EXECUTE would be.
        sql = f'EXECUTE "{name}"' if name else "EXECUTE unnamed"
        rule = self._ruling(sql)
        return None if rule is None else (sql, rule)

    def _forget_if_prepares(self, sql: str) -> None:
        upper = sql.upper()
        if "PREPARE" in upper or "DEALLOCATE" in upper or "DISCARD" in upper:
            # SQL can replace what a name means without a Parse: trust no name from before
            self.statements.clear()
            self.portals.clear()

    # ---- refusals -------------------------------------------------------------------------

    def _refuse_simple(self, error: bytes) -> list[Command]:
        self.pending.append(_Pending(b"Q", refusal=error))
        return [ToServer(pw.query(REFUSAL_SQL))]

    def _refuse_extended(self, error: bytes) -> list[Command]:
        self.batch_open = True
        if self.skipping:
            return []  # the server is skipping to Sync already: an earlier error stands
        self.pending.append(_Pending(b"P", refusal=error))
        return [ToServer(pw.parse("", REFUSAL_SQL))]

    def _refuse_batch(self, error: bytes) -> list[Command]:
        """A collected batch that must not run: the client gets the error and ReadyForQuery."""
        return self._refuse_simple(error)

    # ---- heavy batches ---------------------------------------------------------------------

    def _collect(self, kind: bytes, body: bytes) -> list[Command] | None:
        unit = self.unit
        assert unit is not None
        if kind == b"P":
            p = pw.parse_parse(body)
            rule = self._ruling(p.sql)
            if rule is None:
                return None
            if rule.ruling is Ruling.REFUSE:
                unit.refused = unit.refused or rule.error
            self.statements[p.name] = (p.sql, rule)
        elif kind == b"B":
            b = pw.parse_bind(body)
            stmt = self._statement(b.statement)
            if stmt is None:
                return None
            self.portals[b.portal] = stmt
            if stmt[1].ruling is Ruling.REFUSE:
                unit.refused = unit.refused or stmt[1].error
        elif kind == b"E":
            e = pw.parse_execute(body)
            portal = self.portals.get(e.portal)
            if portal is not None and portal[1].ruling is Ruling.HEAVY:
                if unit.sql is not None and unit.sql != portal[0]:
                    unit.problem = "two statements that need the gate in one batch"
                unit.sql = portal[0]
        elif kind == b"D":
            pw.parse_describe(body)
        elif kind == b"C":
            c = pw.parse_close(body)
            (self.statements if c.what == "S" else self.portals).pop(c.name, None)
        elif kind == b"H":
            unit.problem = unit.problem or "a batch that needs the gate must end with Sync, not Flush"
            unit.ended = True
        elif kind == b"S":
            unit.ended = True
        elif kind in (b"Q", b"F", b"X", b"d", b"c", b"f"):
            raise ProtocolViolation(f"message {kind!r} inside an unfinished extended batch")
        else:
            raise ProtocolViolation(f"unexpected message type {kind!r} from the client")
        unit.frames.append(pw.frame(kind, body))
        return []

    def _start_gate(self, unit: _Unit) -> list[Command]:
        unit.started = True
        if unit.refused is not None:  # a refused Parse or Bind: the batch does not run
            self.unit = None
            return self._refuse_batch(unit.refused) + self._drain()
        if unit.problem:
            self.unit = None
            return self._refuse_batch(refusal(
                PROTOCOL_SQLSTATE, f"airlock cannot gate this batch: {unit.problem}",
                hint="send a statement that needs approval or a backup in its own batch, "
                     "ending with Sync").error) + self._drain()
        if unit.sql is None:
            # It prepares or describes a heavy statement but runs nothing: forward as is.
            self.unit = None
            self._forward_unit(unit, capture=False)
            return [ToServer(b"".join(unit.frames)), *self._drain()]
        self.gating = True
        return [RunGate(unit.sql, self.status)]

    def _forward_unit(self, unit: _Unit, *, capture: bool = True) -> _Pending:
        sink = _CAPTURE if capture else _CLIENT
        last = _Pending(b"S")
        for data in unit.frames:
            kind = data[:1]
            if kind == b"H":
                continue
            last = _Pending(kind, sink=sink)
            self.pending.append(last)
        self.batch_open = False
        return last

    def _finish_unit(self, unit: _Unit, status: str) -> list[Command]:
        """The protected batch has run; check it and finish the transaction we opened."""
        self.unit = None
        result = unit.result or GateResult()
        out: list[Command] = []
        rows = pw.rows_of_tag(unit.tag) if unit.tag else None
        mismatch = (result.expected_rows is not None and status != pw.TX_FAILED
                    and rows != result.expected_rows)
        answer = list(unit.captured)
        if mismatch:
            error = pw.error_response(
                PROTECT_SQLSTATE, f"the statement touched {rows} row(s) but the before-image "
                f"holds {result.expected_rows}; airlock rolled it back so nothing is lost",
                hint="run it again")
            answer = [m for m in answer if m[:1] != b"C"] + [error]
        if result.opened:
            # Our transaction: commit only a clean run; the client sees it end either way.
            verb = "COMMIT" if status == pw.TX_BLOCK and not mismatch else "ROLLBACK"
            # ReadyForQuery says idle: the transaction the client never saw is over.
            self._internal(lambda s: [ToClient(b"".join(answer) + pw.ready_for_query(s))])
            out.append(ToServer(pw.query(verb)))
            return out
        if mismatch:
            # The client's own transaction: make the server fail it, as the error says.
            self._internal(lambda s: [ToClient(b"".join(answer)
                                                            + pw.ready_for_query(s))])
            return [ToServer(pw.query(REFUSAL_SQL))]
        return [ToClient(b"".join(answer) + pw.ready_for_query(status))]

    def _internal(self, then: Callable[[str], list[Command]]) -> None:
        self.pending.append(_Pending(b"Q", sink=_INTERNAL, done=then))

    def _synthesize(self, unit: _Unit, tag: str) -> list[Command]:
        """Protection did what the statement asks (soft drop): answer as the server would."""
        answer: list[bytes] = []
        for data in unit.frames:
            kind = data[:1]
            if kind == b"Q":
                answer.append(pw.command_complete(tag))
            elif kind == b"P":
                answer.append(pw.PARSE_COMPLETE)
            elif kind == b"B":
                answer.append(pw.BIND_COMPLETE)
            elif kind == b"D":
                answer.append((pw.frame(b"t", b"\x00\x00") if data[5:6] == b"S" else b"")
                              + pw.NO_DATA)
            elif kind == b"E":
                answer.append(pw.command_complete(tag))
            elif kind == b"C":
                answer.append(pw.CLOSE_COMPLETE)
        unit.captured = answer
        unit.tag = None
        status = self.status
        result = unit.result or GateResult()
        if result.opened:
            return self._finish_unit(unit, pw.TX_BLOCK)
        self.unit = None
        return [ToClient(b"".join(answer) + pw.ready_for_query(status))]


_MID_BATCH = refusal(
    PROTOCOL_SQLSTATE, "airlock cannot gate this statement in the middle of a batch: it needs "
    "an approval check or a backup before it runs, which happens at the start of a batch",
    hint="send Sync before its Parse or Bind").error
