"""What every SQL judge shares: the collector of effects, and how targets are named.

A `Judgement` gathers the effects of one input while a dialect's judge walks it. It also records
whether any decision read the value of a literal (`literal_dependent`): statement fingerprints
ignore literals, so only a verdict that never looked at one may be reused for another statement
with the same fingerprint (see `cache.py`). Every judge reads literal values only through
`Judgement.saw_literal()` callers, and keeps literal values out of reasons and targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from airlock.model import Assessment, Effect, Risk, Target, Verb

CLASSIFIER = "sql"


@dataclass(slots=True)
class Judgement:
    effects: list[Effect] = field(default_factory=list)
    literal_dependent: bool = False

    def add(self, verb: Verb, risk: Risk, reason: str, target: Target | None = None,
            scope: str = "", *, reversible: bool = False) -> None:
        self.effects.append(Effect(verb, risk, reason, target, scope, reversible))

    def read(self, target: Target, reason: str) -> None:
        self.add(Verb.READ, Risk.READ, reason, target, "rows", reversible=True)

    def unknown(self, reason: str, target: Target | None = None) -> None:
        self.add(Verb.UNKNOWN, Risk.UNKNOWN, reason, target)

    def saw_literal(self) -> None:
        """Record that a decision depended on the value of a literal."""
        self.literal_dependent = True

    def assessment(self, fingerprint: str | None) -> Assessment:
        effects = tuple(dict.fromkeys(self.effects))  # same effect twice says nothing new
        complete = not any(e.risk is Risk.UNKNOWN for e in effects)
        # A fingerprint stands for every statement that shares it, so it is only handed out with
        # a verdict that holds for all of them; a front caching by it cannot be misled.
        shared = None if self.literal_dependent else fingerprint
        return Assessment.of(effects, classifier=CLASSIFIER, complete=complete,
                             fingerprint=shared)


def unknown(reason: str) -> Assessment:
    return Assessment.unknown(reason, classifier=CLASSIFIER)


_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_$")


def ident(name: str) -> str:
    """A name as the server stores it, double-quoted when it could not be written bare (upper
    case, spaces, dots), so `"My.Table"` and `my.table` never meet."""
    if name and not name[0].isdigit() and name[0] != "$" and all(c in _PLAIN for c in name):
        return name
    return '"' + name.replace('"', '""') + '"'


def dotted(*parts: str | None) -> str:
    return ".".join(ident(p) for p in parts if p)


def table(name: str) -> Target:
    return Target("table", name, contextual=True)


def thing(kind: str, name: str) -> Target:
    return Target(kind, name, contextual=True)


@dataclass(frozen=True, slots=True)
class Lexed:
    """A text as its dialect's scanner reads it: the fingerprint, and any reason the text cannot
    be judged safely whatever its parse (`problem`). `tokens` is kept for the parser."""

    fingerprint: str
    problem: str | None = None
    tokens: object = None


def words(text: str) -> frozenset[str]:
    """A set of names written as one whitespace-separated block, for long tables."""
    return frozenset(text.split())
