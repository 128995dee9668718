"""Deletions hidden in a Railway EnvironmentConfig patch.

Railway's newer API changes an environment by committing (or staging) a JSON patch:

    {"services": {"<serviceId>": {"isDeleted": true, "variables": {"KEY": null}, ...}},
     "volumes":  {"<volumeId>":  {"isDeleted": true}},
     "buckets":  {"<bucketId>":  {"isDeleted": true}},
     "sharedVariables": {"KEY": null}}

so `environmentPatchCommit` with `volumes.<id>.isDeleted: true` deletes a volume exactly like
`volumeDelete` does, under a mutation whose name says "commit". This module finds such
deletions and gives them the same risk as the mutation that would do the same thing directly.
A null entry where an object belongs is read as a deletion too: merge patches use null to
remove, and reading it the other way would be the unsafe mistake.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airlock.classify.graphql import MISSING
from airlock.classify.providers.labels import make_effects
from airlock.model import Effect, Risk, Target, Verb

# Patch maps whose entries are whole things, and what deleting one of them is.
_WHOLE = {
    "services": ("railway:service", "service", Risk.CATASTROPHIC,
                 "deletes service {id} and the volumes attached to it"),
    "volumes": ("railway:volume", "volume", Risk.CATASTROPHIC,
                "deletes volume {id} and every byte on it"),
    "buckets": ("railway:bucket", "bucket", Risk.CATASTROPHIC,
                "deletes bucket {id} and every object in it"),
}
# Maps inside a service entry whose null entries remove something that cannot be had back.
_SERVICE_PARTS = {
    "variables": ("variables", "deletes variable {key} of service {id}"),
    "serviceDomains": ("domain", "deletes service domain {key} of service {id}"),
    "customDomains": ("domain", "deletes custom domain {key} of service {id}"),
    "tcpProxies": ("network", "deletes the TCP proxy on port {key} of service {id}"),
}
MAX_DEPTH = 64


def config_effects(value: Any, *, prefix: str, context: tuple[Target, ...]) -> list[Effect]:
    """Effects for the deletions in a patch. `context` targets (the environment) are added to
    each. An absent patch deletes nothing; a patch airlock cannot read is unknown."""
    if value is MISSING or value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return [Effect(Verb.UNKNOWN, Risk.UNKNOWN,
                           f"{prefix}: the configuration patch is not readable JSON")]
    if not isinstance(value, Mapping):
        return [Effect(Verb.UNKNOWN, Risk.UNKNOWN,
                       f"{prefix}: the configuration patch is not an object")]
    found: list[Effect] = []
    seen: set[tuple[str, ...]] = set()
    for section, (kind, scope, risk, template) in _WHOLE.items():
        entries = value.get(section)
        if not isinstance(entries, Mapping):
            continue
        for key, entry in entries.items():
            if _deleted(entry):
                seen.add((section, key, "isDeleted"))
                reason = f"{prefix} patch {template.format(id=key)}"
                found += make_effects(_verb(risk), risk, reason, (Target(kind, key), *context),
                                      scope=scope)
            elif section == "services" and isinstance(entry, Mapping):
                found += _service_parts(key, entry, prefix, context, seen)
    shared = value.get("sharedVariables")
    if isinstance(shared, Mapping):
        for name, entry in shared.items():
            if entry is None or _deleted(entry):
                found += make_effects(Verb.DELETE, Risk.DESTRUCTIVE,
                                      f"{prefix} patch deletes shared variable {name}",
                                      context, scope="variables")
    found += _stray_deletions(value, (), seen, prefix, context)
    return found


def _service_parts(service: str, entry: Mapping[str, Any], prefix: str,
                   context: tuple[Target, ...], seen: set[tuple[str, ...]]) -> list[Effect]:
    found: list[Effect] = []
    for where in ((), ("networking",)):
        source = entry.get(where[0]) if where else entry
        if not isinstance(source, Mapping):
            continue
        for part, (scope, template) in _SERVICE_PARTS.items():
            items = source.get(part)
            if not isinstance(items, Mapping):
                continue
            for key, item in items.items():
                if item is None or _deleted(item):
                    seen.add(("services", service, *where, part, key, "isDeleted"))
                    reason = f"{prefix} patch {template.format(key=key, id=service)}"
                    found += make_effects(Verb.DELETE, Risk.DESTRUCTIVE, reason,
                                          (Target("railway:service", service), *context),
                                          scope=scope)
    return found


def _stray_deletions(value: Any, path: tuple[str, ...], seen: set[tuple[str, ...]],
                     prefix: str, context: tuple[Target, ...]) -> list[Effect]:
    """`isDeleted: true` anywhere the sections above do not cover: something is deleted, even
    if airlock does not know what."""
    if len(path) > MAX_DEPTH:
        return [Effect(Verb.UNKNOWN, Risk.UNKNOWN, f"{prefix}: the configuration patch is "
                       "nested too deeply to read")]
    found: list[Effect] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = (*path, str(key))
            if key == "isDeleted" and _truthy(item) and path not in {s[:-1] for s in seen}:
                where = ".".join(path) or "the top level"
                found += make_effects(Verb.DELETE, Risk.DESTRUCTIVE,
                                      f"{prefix} patch marks {where} as deleted", context)
            else:
                found += _stray_deletions(item, here, seen, prefix, context)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _stray_deletions(item, (*path, str(index)), seen, prefix, context)
    return found


def _deleted(entry: Any) -> bool:
    if entry is None:
        return True
    return isinstance(entry, Mapping) and _truthy(entry.get("isDeleted"))


def _truthy(value: Any) -> bool:
    # "true", 1 and the like would be accepted by a lenient server; only clear no's are no.
    return value not in (None, False, 0, "", "false", "False", MISSING)


def _verb(risk: Risk) -> Verb:
    return Verb.DESTROY if risk is Risk.CATASTROPHIC else Verb.DELETE
