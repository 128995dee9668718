"""Labels: the data-file form of "what this operation does", and how a label becomes effects.

Provider knowledge lives in TOML files under `airlock/data/providers/`. An operation's entry
says how bad it is (`risk`), what it does in words (`reason`, with `{argument.path}`
placeholders), which arguments name the things it touches (`targets`), and which argument values
make it worse (`escalate`, for operations that delete through an input flag). This module reads
those entries strictly (a typo in a data file is an error, not a silent default) and turns one
label plus the request's arguments into `Effect`s: one per target, so that every target carries
the risk of the action that touches it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from airlock.classify.graphql import MISSING, lookup
from airlock.model import Effect, Risk, Target, Verb


class DataError(ValueError):
    """A provider data file says something airlock cannot use."""


# What a label's risk does when it names no verb: a catastrophic loss destroys a whole thing,
# a destructive one deletes part of something.
_DEFAULT_VERB = {Risk.READ: Verb.READ, Risk.WRITE: Verb.WRITE, Risk.DESTRUCTIVE: Verb.DELETE,
                 Risk.CATASTROPHIC: Verb.DESTROY, Risk.UNKNOWN: Verb.UNKNOWN}
LABEL_RISKS = (Risk.READ, Risk.WRITE, Risk.DESTRUCTIVE, Risk.CATASTROPHIC)
UNKNOWN_VALUE = "?"  # the target of an id the request does not supply


@dataclass(frozen=True, slots=True)
class TargetPath:
    path: str  # dotted argument path, e.g. "input.projectId"
    kind: str  # target kind, e.g. "railway:project"


@dataclass(frozen=True, slots=True)
class Escalation:
    """When the value at `path` is one of `equals`, the operation is `risk` for `reason`."""

    path: str
    equals: tuple[Any, ...]
    risk: Risk
    reason: str
    verb: Verb


@dataclass(frozen=True, slots=True)
class Label:
    name: str
    risk: Risk
    verb: Verb
    scope: str
    reason: str
    targets: tuple[TargetPath, ...] = ()
    escalate: tuple[Escalation, ...] = ()
    reversible: bool = False
    config: str | None = None  # argument holding a provider config patch to scan (Railway)


# ----------------------------------------------------------------------------------------------
# Loading


@cache
def load_data(name: str) -> Mapping[str, Any]:
    """A provider data file, parsed once per process."""
    text = (resources.files("airlock") / "data" / "providers" / name).read_text("utf-8")
    return tomllib.loads(text)


_LABEL_KEYS = {"risk", "verb", "scope", "reason", "targets", "escalate", "reversible", "config"}
_ESCALATE_KEYS = {"path", "equals", "risk", "reason", "verb"}


def parse_labels(table: Mapping[str, Any], where: str) -> dict[str, Label]:
    """Every entry of a `[section]` of labels, checked."""
    return {name: parse_label(name, entry, f"{where}.{name}") for name, entry in table.items()}


def parse_label(name: str, entry: Any, where: str) -> Label:
    if not isinstance(entry, dict):
        raise DataError(f"{where}: a label must be a table")
    unknown = set(entry) - _LABEL_KEYS
    if unknown:
        raise DataError(f"{where}: unknown keys {sorted(unknown)}")
    risk = _risk(entry.get("risk"), where)
    verb = _verb(entry.get("verb"), risk, where)
    reason = _text(entry.get("reason"), f"{where}.reason")
    scope = entry.get("scope", "")
    if not isinstance(scope, str):
        raise DataError(f"{where}.scope must be a string")
    targets_table = entry.get("targets", {})
    if not isinstance(targets_table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in targets_table.items()):
        raise DataError(f"{where}.targets must map argument paths to target kinds")
    escalations = entry.get("escalate", [])
    if not isinstance(escalations, list):
        raise DataError(f"{where}.escalate must be an array of tables")
    config = entry.get("config")
    if config is not None and not isinstance(config, str):
        raise DataError(f"{where}.config must name an argument")
    return Label(
        name=name, risk=risk, verb=verb, scope=scope, reason=reason,
        targets=tuple(TargetPath(p, k) for p, k in targets_table.items()),
        escalate=tuple(_escalation(e, f"{where}.escalate[{i}]")
                       for i, e in enumerate(escalations)),
        reversible=bool(entry.get("reversible", False)),
        config=config,
    )


def _escalation(entry: Any, where: str) -> Escalation:
    if not isinstance(entry, dict) or set(entry) - _ESCALATE_KEYS:
        raise DataError(f"{where}: an escalation needs only path, equals, risk, reason, verb")
    equals = entry.get("equals")
    if not isinstance(equals, list) or not equals:
        raise DataError(f"{where}.equals must be a non-empty array")
    risk = _risk(entry.get("risk"), where)
    return Escalation(_text(entry.get("path"), f"{where}.path"), tuple(equals), risk,
                      _text(entry.get("reason"), f"{where}.reason"),
                      _verb(entry.get("verb"), risk, where))


def _risk(value: Any, where: str) -> Risk:
    if not isinstance(value, str):
        raise DataError(f"{where}.risk is missing")
    try:
        risk = Risk.parse(value)
    except ValueError as exc:
        raise DataError(f"{where}: {exc}") from None
    if risk not in LABEL_RISKS:
        raise DataError(f"{where}: a label is read, write, destructive or catastrophic")
    return risk


def _verb(value: Any, risk: Risk, where: str) -> Verb:
    if value is None:
        return _DEFAULT_VERB[risk]
    try:
        return Verb(value)
    except ValueError:
        raise DataError(f"{where}: unknown verb {value!r}") from None


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where} must be a non-empty string")
    return value


# ----------------------------------------------------------------------------------------------
# From a label and arguments to effects


def effects_for(label: Label, arguments: Mapping[str, Any], *, prefix: str,
                extra_targets: tuple[Target, ...] = ()) -> list[Effect]:
    """The effects of one labelled operation called with `arguments`.

    `prefix` starts every reason ("Railway volumeDelete"); `extra_targets` are added to the
    label's own (the region of an AWS call, the API server of a Kubernetes call)."""
    risk, verb, template = label.risk, label.verb, label.reason
    for rule in label.escalate:
        if rule.risk.rank > risk.rank and _matches(lookup(arguments, rule.path), rule.equals):
            risk, verb, template = rule.risk, rule.verb, rule.reason
    reason = f"{prefix} {render(template, arguments)}"
    targets = [*targets_for(label.targets, arguments), *extra_targets]
    return make_effects(verb, risk, reason, targets, scope=label.scope,
                        reversible=label.reversible)


def make_effects(verb: Verb, risk: Risk, reason: str, targets: list[Target] | tuple[Target, ...],
                 *, scope: str = "", reversible: bool = False) -> list[Effect]:
    """One effect per distinct target (or a single untargeted effect)."""
    unique = list(dict.fromkeys(targets))
    if not unique:
        return [Effect(verb, risk, reason, None, scope, reversible)]
    return [Effect(verb, risk, reason, t, scope, reversible) for t in unique]


def targets_for(paths: tuple[TargetPath, ...], arguments: Mapping[str, Any]) -> list[Target]:
    """Targets named by argument paths. An id the request does not supply (an absent argument,
    a variable without a value, null) is still a target, of value '?': the action touches
    *something* of that kind, and not knowing which must not make it look harmless."""
    out: list[Target] = []
    for target in paths:
        values = _flatten(lookup(arguments, target.path))
        if not values:
            values = [UNKNOWN_VALUE]
        out.extend(Target(target.kind, v) for v in values)
    return out


def id_values(value: Any) -> list[str]:
    """The identifiers in an argument value: strings and numbers, lists flattened."""
    return _flatten(value)


def _flatten(value: Any) -> list[str]:
    if value is MISSING or value is None:
        return []
    if isinstance(value, list):
        return [v for item in value for v in _flatten(item)]
    if isinstance(value, bool):
        return []
    if isinstance(value, str | int | float):
        text = str(value)
        return [text] if text else []
    return [UNKNOWN_VALUE]  # an object where an id belongs: something, but not readable


def _matches(value: Any, equals: tuple[Any, ...]) -> bool:
    if isinstance(value, list):
        return any(_matches(item, equals) for item in value)
    if value is MISSING:
        return False
    # TOML has no null; the string "null" in a data file matches an explicit null argument.
    return any(value is None if want == "null" else (value == want and type(value) is type(want))
               for want in equals)


_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.]+)\}")
_UUIDISH = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}$")


def render(template: str, arguments: Mapping[str, Any]) -> str:
    """A reason template with `{path}` placeholders filled from the arguments."""
    return _PLACEHOLDER.sub(lambda m: show(lookup(arguments, m.group(1))), template)


def show(value: Any) -> str:
    """A value as a reason shows it: long ids shortened, absent values as '?'."""
    values = _flatten(value)
    if not values:
        return UNKNOWN_VALUE
    shown = [_short(v) for v in values[:5]]
    more = f" and {len(values) - 5} more" if len(values) > 5 else ""
    return ", ".join(shown) + more


def _short(text: str) -> str:
    if _UUIDISH.match(text):
        return text[:8] + "…"
    return text if len(text) <= 64 else text[:63] + "…"
