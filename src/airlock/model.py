"""The core vocabulary: what an agent asks for, what airlock makes of it, and what it decides.

Every type here is immutable. A front builds an `Action`; classifiers turn it into an
`Assessment` made of `Effect`s on `Target`s; the inventory resolves targets to resources and
environments; policy yields a `Decision`; the gate returns an `Outcome`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

# --------------------------------------------------------------------------------------------
# Risk and verdicts


class Risk(StrEnum):
    """How bad the worst effect of an action could be.

    `unknown` means airlock could not tell; it ranks with `destructive`, so it is held wherever a
    destructive action would be.
    """

    READ = "read"
    WRITE = "write"
    DESTRUCTIVE = "destructive"
    UNKNOWN = "unknown"
    CATASTROPHIC = "catastrophic"

    @property
    def rank(self) -> int:
        return _RISK_RANK[self]

    def at_least(self, other: Risk) -> bool:
        return self.rank >= other.rank

    @staticmethod
    def worst(risks: Iterable[Risk], default: Risk | None = None) -> Risk:
        """The highest-ranking risk. On a tie between destructive and unknown, the known
        destructive wins: it says more, and `Assessment.complete` still records the gap."""
        best: Risk | None = None
        for risk in risks:
            if best is None or risk.rank > best.rank or (risk.rank == best.rank and risk is Risk.DESTRUCTIVE):
                best = risk
        if best is None:
            if default is None:
                raise ValueError("Risk.worst() of nothing needs a default")
            return default
        return best

    @classmethod
    def parse(cls, text: str) -> Risk:
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(r.value for r in cls)
            raise ValueError(f"unknown risk {text!r}; expected one of: {names}") from None


_RISK_RANK = {
    Risk.READ: 0,
    Risk.WRITE: 1,
    Risk.DESTRUCTIVE: 2,
    Risk.UNKNOWN: 2,
    Risk.CATASTROPHIC: 3,
}


class Verdict(StrEnum):
    ALLOW = "allow"
    HOLD = "hold"
    DENY = "deny"

    @property
    def strictness(self) -> int:
        return {Verdict.ALLOW: 0, Verdict.HOLD: 1, Verdict.DENY: 2}[self]


class ActionKind(StrEnum):
    SHELL = "shell"
    SQL = "sql"
    HTTP = "http"
    MCP = "mcp"
    FILE_READ = "file_read"
    FILE_WRITE = "file_write"


class PrincipalKind(StrEnum):
    """Agents act; humans approve. A principal is one or the other, never both."""

    AGENT = "agent"
    HUMAN = "human"


# --------------------------------------------------------------------------------------------
# Identifiers and time

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    """A sortable identifier: prefix, 48 bits of milliseconds, 80 random bits (like a ULID)."""
    millis = time.time_ns() // 1_000_000
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


def id_from_hash(prefix: str, hex_digest: str) -> str:
    """An id in `new_id`'s form (prefix, 26 characters) taken from a hash: whoever derives it
    from the same things gets the same id, so writers racing to add one thing name it alike and
    the store keeps the first (approvals.next_approval_id, a hold's notifications)."""
    value = int(hex_digest, 16)
    return f"{prefix}_" + "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


def utcnow() -> datetime:
    return datetime.now(UTC)


def canonical_json(value: Any) -> str:
    """The one serialisation used wherever bytes are hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str | bytes) -> str:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------
# Actions


@dataclass(frozen=True, slots=True)
class ShellCommand:
    command: str

    def canonical(self) -> dict[str, Any]:
        return {"command": self.command}


@dataclass(frozen=True, slots=True)
class SqlQuery:
    text: str
    dialect: str = "postgres"

    def canonical(self) -> dict[str, Any]:
        return {"text": self.text, "dialect": self.dialect}


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def canonical(self) -> dict[str, Any]:
        # Header names are case-insensitive on the wire; the digest must not depend on case.
        headers = sorted((k.lower(), v) for k, v in self.headers)
        return {"method": self.method.upper(), "url": self.url, "headers": headers,
                "body": self.body}


@dataclass(frozen=True, slots=True)
class McpCall:
    """A call of an MCP tool. `annotations_json` is what the tool's server declared about it
    (`readOnlyHint`, `destructiveHint`, …) when the front knows it (`airlock mcp wrap` does):
    hints from a server that may lie, so they can only raise the risk the arguments show."""

    server: str
    tool: str
    arguments_json: str = "{}"
    annotations_json: str = ""

    @property
    def arguments(self) -> Any:
        return json.loads(self.arguments_json)

    def canonical(self) -> dict[str, Any]:
        content = {"server": self.server, "tool": self.tool, "arguments": self.arguments}
        if self.annotations_json:  # bound to the approval too; absent, digests stay as they were
            content["annotations"] = json.loads(self.annotations_json)
        return content


@dataclass(frozen=True, slots=True)
class FileAccess:
    """A file read, written, or removed (`delete`: a write too, whatever `write` says)."""

    path: str
    write: bool = False
    delete: bool = False
    # For a write: sha256 of what would be written (the tool's whole input — content, edits,
    # patch), so an approval lets exactly that content through, not any write to the path.
    content_sha256: str | None = None

    def canonical(self) -> dict[str, Any]:
        bound: dict[str, Any] = {"path": self.path, "write": self.write}
        if self.delete:  # absent otherwise, so reads' and writes' digests stay as they were
            bound["delete"] = True
        if self.content_sha256 is not None:
            bound["content_sha256"] = self.content_sha256
        return bound


Payload = ShellCommand | SqlQuery | HttpRequest | McpCall | FileAccess

_KIND_OF_PAYLOAD: dict[type, ActionKind] = {
    ShellCommand: ActionKind.SHELL,
    SqlQuery: ActionKind.SQL,
    HttpRequest: ActionKind.HTTP,
    McpCall: ActionKind.MCP,
}


@dataclass(frozen=True, slots=True)
class ActionContext:
    """Where an action runs, as told by the front (trusted code), never by the agent's text.

    `environment` applies only to targets that live inside this context (tables of the
    connected database, local paths); explicit external identifiers resolve on their own.
    """

    cwd: str | None = None
    environment: str | None = None
    resource: str | None = None

    def canonical(self) -> dict[str, Any]:
        return {"cwd": self.cwd, "environment": self.environment, "resource": self.resource}


@dataclass(frozen=True, slots=True)
class AgentStatement:
    """What the agent (through its harness) says about a tool call: its own description of it
    and the session it belongs to. It is the agent's *claim*: shown to approvers labelled as
    such, never judged and never part of what an approval is bound to (the same action with
    another description is the same action)."""

    description: str | None = None
    session: str | None = None
    harness: str | None = None

    MAX_DESCRIPTION = 1000
    MAX_SESSION = 200

    @classmethod
    def of(cls, description: object, session: object, harness: str | None = None
           ) -> AgentStatement | None:
        """From untrusted harness fields: anything that is not a non-empty string is dropped,
        and long text is cut (it is the agent's to make long)."""
        said = _short(description, cls.MAX_DESCRIPTION)
        sid = _short(session, cls.MAX_SESSION)
        if said is None and sid is None:
            return None
        return cls(said, sid, harness)

    def to_json(self) -> dict[str, str]:
        # "conversation", not "session": redaction masks any field named like a session cookie,
        # and a harness's session id is an identifier the approver needs to see, not a secret.
        return {k: v for k, v in (("description", self.description),
                                  ("conversation", self.session), ("harness", self.harness)) if v}


def _short(value: object, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Action:
    """One thing an agent asked to do, exactly as a front received it. `stated` is the agent's
    own account of it (`AgentStatement`): shown, never judged, never bound."""

    payload: Payload
    principal: str
    front: str
    context: ActionContext = field(default_factory=ActionContext)
    id: str = field(default_factory=lambda: new_id("act"))
    received_at: datetime = field(default_factory=utcnow)
    stated: AgentStatement | None = None

    @property
    def kind(self) -> ActionKind:
        if isinstance(self.payload, FileAccess):
            return ActionKind.FILE_WRITE if self.payload.write or self.payload.delete \
                else ActionKind.FILE_READ
        return _KIND_OF_PAYLOAD[type(self.payload)]

    def content(self) -> dict[str, Any]:
        """The normalised content an approval is bound to."""
        return {"kind": self.kind.value, **self.payload.canonical()}

    def summary(self, limit: int = 200) -> str:
        """A one-line description for lists and logs."""
        p = self.payload
        if isinstance(p, ShellCommand):
            text = p.command
        elif isinstance(p, SqlQuery):
            text = p.text
        elif isinstance(p, HttpRequest):
            text = f"{p.method.upper()} {p.url}"
        elif isinstance(p, McpCall):
            text = f"{p.server}.{p.tool} {p.arguments_json}"
        else:
            text = f"{'delete' if p.delete else 'write' if p.write else 'read'} {p.path}"
        # Only the head is looked at: a summary of a megabyte command costs what a short one does.
        text = " ".join(text[: limit * 8].split())
        return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------
# What an action does


@dataclass(frozen=True, slots=True)
class Target:
    """Something an action touches, as the classifier saw it.

    `kind` says what sort of thing it is (`postgres`, `table`, `path`, `url`, `railway:volume`,
    `k8s:namespace`, `aws:s3:bucket`, ...); `value` is its canonical identifier.
    `contextual` targets live inside the action's context (a table of the connected database, a
    path on the machine the command runs on) and inherit the context's environment when no
    configured resource claims them; others resolve on their own or count as production.
    `within` names the database (or file) an object lives in when the action says which one
    (`psql -h db.prod -c 'DROP TABLE orders'`): the object belongs to that database's resource
    and environment, not to the action's context.
    """

    kind: str
    value: str
    contextual: bool = False
    within: Target | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.value}"

    def __str__(self) -> str:
        return self.key if self.within is None else f"{self.key} in {self.within.key}"


class Verb(StrEnum):
    READ = "read"
    WRITE = "write"
    DELETE = "delete"  # removes part of something (rows, files)
    DESTROY = "destroy"  # removes a whole thing (table, database, volume)
    EXECUTE = "execute"  # runs code airlock cannot see into
    UNKNOWN = "unknown"


class Guard(StrEnum):
    """Why an effect is one the guard rules deny to agents whatever else is configured
    (`guards.py`, `policy.GUARD_RULES`)."""

    CREDENTIAL = "credential"  # reads a credential: a file, a variable, the whole environment
    AIRLOCK = "airlock"  # touches what airlock depends on: its state, keys, config, hooks, code
    AIRLOCK_COMMAND = "airlock-command"  # runs an airlock command only a human may run


@dataclass(frozen=True, slots=True)
class Effect:
    """One consequence of an action on one target (or on nothing in particular)."""

    verb: Verb
    risk: Risk
    reason: str
    target: Target | None = None
    scope: str = ""  # rows, table, schema, database, file, directory, volume, bucket, ...
    reversible: bool = False
    guard: Guard | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"verb": self.verb.value, "risk": self.risk.value, "reason": self.reason,
               "target": self.target.key if self.target else None, "scope": self.scope,
               "reversible": self.reversible}
        if self.guard is not None:
            out["guard"] = self.guard.value
        return out


@dataclass(frozen=True, slots=True)
class Touch:
    """Something an action reaches that is not an effect of its own but that the guards judge:
    a file a command reads, a variable it expands, the environment it prints. Classifiers name
    them (the shell classifier: every program's file operands, `< file`, `$VAR`); `guards.py`
    decides whether they reach a credential or airlock's own files.

    kind  `path`: `value` is the path as written (made absolute by the guard against the
                  action's working directory); `computed` means only its literal prefix is known
          `variable`: `value` is a variable's name
          `environment`: the whole environment is printed (`env`, `export -p`, `ps e`)
          `cwd`: a folder the command changes into (`cd x && …`): relative paths may be
                 relative to it
    """

    kind: str
    value: str
    verb: Verb = Verb.READ  # READ, WRITE, DELETE; UNKNOWN when it may be either
    reason: str = ""  # "cat reads it", "runs as a script", …
    recursive: bool = False  # a folder with everything below it
    computed: bool = False
    content: bool = True  # the program opens what is inside (not only the name)
    hidden: bool = True  # a recursive touch reaches hidden files too (rg skips them)
    certain: bool = True  # False: it may reach what lies below (an archive's unknown members)
    exclude: tuple[str, ...] = ()  # folder names a recursive touch leaves out (--exclude-dir)


@dataclass(frozen=True, slots=True)
class Assessment:
    """What a classifier made of an action. `complete` is false when any part was not understood;
    such an assessment always carries an effect of risk at least `unknown`."""

    risk: Risk
    effects: tuple[Effect, ...]
    reasons: tuple[str, ...]
    complete: bool
    classifier: str
    fingerprint: str | None = None
    # Files the judgement read (a script the command runs): (absolute path, "sha256:…" or why
    # it could not be read). Part of what an approval binds to (approvals.action_digest).
    inputs: tuple[tuple[str, str], ...] = ()
    touches: tuple[Touch, ...] = ()

    @classmethod
    def of(cls, effects: Iterable[Effect], *, classifier: str, complete: bool = True,
           reasons: Iterable[str] = (), fingerprint: str | None = None,
           inputs: Iterable[tuple[str, str]] = (),
           touches: Iterable[Touch] = ()) -> Assessment:
        """Build an assessment whose risk and reasons follow from its effects."""
        effects = tuple(effects)
        if not complete and not any(e.risk.at_least(Risk.UNKNOWN) for e in effects):
            effects += (Effect(Verb.UNKNOWN, Risk.UNKNOWN, "part of the action was not understood"),)
        risk = Risk.worst((e.risk for e in effects), default=Risk.READ)
        notable = (e.reason for e in effects if e.risk.at_least(Risk.WRITE))
        all_reasons = list(dict.fromkeys([*reasons, *notable]))
        return cls(risk, effects, tuple(all_reasons), complete, classifier, fingerprint,
                   tuple(sorted(dict(inputs).items())), tuple(dict.fromkeys(touches)))

    def adding(self, effects: Iterable[Effect]) -> Assessment:
        """This assessment with more effects (what the guards found); an added unknown effect
        makes it incomplete."""
        extra = tuple(effects)
        if not extra:
            return self
        complete = self.complete and not any(e.risk is Risk.UNKNOWN for e in extra)
        return Assessment.of((*self.effects, *extra), classifier=self.classifier,
                             complete=complete, reasons=self.reasons,
                             fingerprint=self.fingerprint, inputs=self.inputs,
                             touches=self.touches)

    @classmethod
    def unknown(cls, reason: str, *, classifier: str) -> Assessment:
        return cls.of([Effect(Verb.UNKNOWN, Risk.UNKNOWN, reason)], classifier=classifier,
                      complete=False)

    @property
    def targets(self) -> tuple[Target, ...]:
        return tuple(dict.fromkeys(e.target for e in self.effects if e.target is not None))


# --------------------------------------------------------------------------------------------
# Who acts, and what they may reach


@dataclass(frozen=True, slots=True)
class Scope:
    """What a principal or a token may reach. Every field must permit an action for it to pass;
    a caller is bound by all of its scopes at once (principal's and token's)."""

    environments: tuple[str, ...] = ("*",)  # globs over environment names
    resources: tuple[str, ...] = ("*",)  # globs over resource names
    max_risk: Risk = Risk.CATASTROPHIC
    expires_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {"environments": list(self.environments), "resources": list(self.resources),
                "max_risk": self.max_risk.value,
                "expires_at": self.expires_at.isoformat() if self.expires_at else None}


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    kind: PrincipalKind
    scope: Scope = field(default_factory=Scope)


@dataclass(frozen=True, slots=True)
class Caller:
    """The principal behind an action and every scope that binds it (its own, its token's)."""

    principal: Principal
    scopes: tuple[Scope, ...]
    token_id: str | None = None


# --------------------------------------------------------------------------------------------
# Where targets live


@dataclass(frozen=True, slots=True)
class Casualty:
    """One resource in a target's blast radius, and how it is hit.

    `fate` is `destroyed` (the target itself, or stored on something destroyed), `damaged`
    (attached to something destroyed: a service whose volume is gone) or `loses backups` (its
    backups were held by something destroyed). `via` is the resource whose loss reaches it
    (None for the target itself); `why` says it in words for messages.
    """

    resource: str
    environment: str
    kind: str
    fate: str
    why: str
    via: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"resource": self.resource, "environment": self.environment, "kind": self.kind,
                "fate": self.fate, "why": self.why, "via": self.via}


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """A target placed in the resource graph.

    `resource` is the configured resource that claims it (None when none does); `blast_radius`
    the names of every resource that dies with it (`casualties`: each with how it is hit);
    `environments` every environment those live in. An undeterminable environment is recorded
    as `UNKNOWN_ENVIRONMENT`, which policy treats as production.
    """

    target: Target
    resource: str | None
    environments: tuple[str, ...]
    blast_radius: tuple[str, ...] = ()
    note: str = ""
    # the blast radius explained, in the same order (empty when nothing configured claims it)
    casualties: tuple[Casualty, ...] = ()

    def to_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"target": self.target.key, "resource": self.resource,
                                 "environments": list(self.environments),
                                 "blast_radius": list(self.blast_radius), "note": self.note}
        if self.casualties:
            shown["casualties"] = [c.to_json() for c in self.casualties]
        if self.target.within is not None:
            shown["within"] = self.target.within.key
        return shown


UNKNOWN_ENVIRONMENT = "(unknown)"


# --------------------------------------------------------------------------------------------
# Decisions and outcomes


@dataclass(frozen=True, slots=True)
class Decision:
    """What policy says about an action, which rule said it, and why in one sentence."""

    verdict: Verdict
    rule: str
    reason: str
    approvals_required: int = 0
    snapshot_required: bool = False
    trace: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict.value, "rule": self.rule, "reason": self.reason,
                "approvals_required": self.approvals_required,
                "snapshot_required": self.snapshot_required}


class Status(StrEnum):
    ALLOWED = "allowed"  # released to the front, which performs the action itself
    EXECUTED = "executed"  # airlock performed the action
    HELD = "held"  # waiting for a human
    DENIED = "denied"
    FAILED = "failed"  # allowed, but the execution itself failed


@dataclass(frozen=True, slots=True)
class Outcome:
    action_id: str
    status: Status
    reason: str
    assessment: Assessment
    targets: tuple[ResolvedTarget, ...]
    decision: Decision
    approval_id: str | None = None
    snapshots: tuple[str, ...] = ()
    result: Mapping[str, Any] | None = None

    @property
    def verdict(self) -> Verdict:
        if self.status in (Status.ALLOWED, Status.EXECUTED, Status.FAILED):
            return Verdict.ALLOW
        return Verdict.HOLD if self.status is Status.HELD else Verdict.DENY
