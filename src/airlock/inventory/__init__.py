"""The resource graph: which configured resource a target is, which environment it lives in, and
what else dies with it.

Resolution is deliberately pessimistic. A target no resource claims has no known environment
(`(unknown)`, which policy treats as production) unless it lives inside the action's own context
(a table of the connected database, a path on this machine). A target that is only partly known
(`postgres:?:5432/app`) may be any resource it could match *or* something unconfigured, so it
carries `(unknown)` as well. Destroying a resource destroys everything stored on it, damages what
is attached to it and loses the backups it holds, so those resources' environments join its own
(`casualties` says how each is hit; `describe_blast` says it in one line for messages).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Protocol

from airlock import pathnames
from airlock.config import Config, Resource
from airlock.model import UNKNOWN_ENVIRONMENT, ActionContext, Casualty, ResolvedTarget, Target

__all__ = ["DATABASE_OBJECT_KINDS", "Inventory", "Resolver", "describe_blast"]

# Target kinds that name an object inside a database (the context's resource owns them).
DATABASE_OBJECT_KINDS = frozenset({
    "table", "schema", "database", "view", "materialized_view", "function", "procedure",
    "sequence", "index", "extension", "type", "role", "trigger", "column", "constraint",
    "publication", "subscription", "policy", "rule", "domain", "collation", "tablespace",
    "large_object", "replication_slot", "owned", "object",
})


class Resolver(Protocol):
    def resolve(self, targets: Sequence[Target], context: ActionContext) -> tuple[ResolvedTarget, ...]: ...


# How losing a resource reaches another, by the edge that joins them: (fate, why).
_REACH = {
    "stored_on": ("destroyed", "stored on {via}"),
    "attached_to": ("damaged", "attached to {via}, which is lost"),
    "backs_up": ("loses backups", "its backups are held by {via}"),
}


class Inventory:
    """Resolves targets against the configured resources."""

    def __init__(self, resources: Mapping[str, Resource]) -> None:
        self.resources = dict(resources)
        # reverse edges, host → [(dependent, edge)]: who is stored on me, who is attached to me,
        # whose backups do I hold
        self._dependents: dict[str, set[tuple[str, str]]] = {name: set() for name in self.resources}
        for res in self.resources.values():
            for host in res.stored_on:
                self._dependents.setdefault(host, set()).add((res.name, "stored_on"))
            for host in res.attached_to:
                self._dependents.setdefault(host, set()).add((res.name, "attached_to"))
            for protected in res.backs_up:
                self._dependents.setdefault(res.name, set()).add((protected, "backs_up"))

    @classmethod
    def from_config(cls, config: Config) -> Inventory:
        return cls(config.resources)

    def resolve(self, targets: Sequence[Target], context: ActionContext) -> tuple[ResolvedTarget, ...]:
        resolved: list[ResolvedTarget] = []
        for target in targets:
            resolved.extend(self.resolve_one(target, context))
        return tuple(resolved)

    def resolve_one(self, target: Target, context: ActionContext) -> list[ResolvedTarget]:
        # An object in a named database is placed where that database is.
        place = target.within if target.within is not None else target
        matches = [res for res in self.resources.values() if self._claims(res, place, context)]
        partial = _is_partial(place)
        owner = self.resources.get(context.resource) if context.resource else None
        if not matches and owner is not None and target.contextual and target.within is None \
                and target.kind in DATABASE_OBJECT_KINDS:
            matches = [owner]
        if not matches:
            if place.contextual and context.environment:
                env, note = context.environment, "inside the action's context"
            else:
                env, note = UNKNOWN_ENVIRONMENT, "no configured resource claims this target"
            return [ResolvedTarget(target, None, (env,), (), note)]
        out = []
        for res in matches:
            casualties = self.casualties(res.name)
            envs = list(dict.fromkeys(c.environment for c in casualties))
            note = ""
            if partial:
                envs.append(UNKNOWN_ENVIRONMENT)
                note = "only partly identified: it may also be an unconfigured resource"
            out.append(ResolvedTarget(target, res.name, tuple(envs),
                                      tuple(c.resource for c in casualties), note,
                                      tuple(casualties)))
        return out

    def blast_radius(self, name: str) -> list[str]:
        """The resource and everything that dies with it, nearest first."""
        return [c.resource for c in self.casualties(name)]

    def casualties(self, name: str) -> list[Casualty]:
        """The blast radius explained: the resource, then every resource its loss reaches,
        nearest first (breadth-first, each once, by the first edge that reaches it).

        The walk is deliberately pessimistic: whatever is reached is followed further, so a
        service that loses its volume takes down what is stored on it as well, and a resource
        whose backups are gone counts (its environment is reached: a bucket labelled staging
        that holds production's backups is a production matter)."""
        order = [self._casualty(name, "destroyed", "the target itself", None)]
        seen = {name}
        index = 0
        while index < len(order):
            host = order[index].resource
            for dependent, edge in sorted(self._dependents.get(host, ())):
                if dependent not in seen:
                    seen.add(dependent)
                    fate, why = _REACH[edge]
                    order.append(self._casualty(dependent, fate, why.format(via=host), host))
            index += 1
        return order

    def _casualty(self, name: str, fate: str, why: str, via: str | None) -> Casualty:
        res = self.resources.get(name)
        if res is None:  # an edge to an undeclared resource (config validation refuses it)
            return Casualty(name, UNKNOWN_ENVIRONMENT, "unknown", fate, why, via)
        return Casualty(name, res.environment, res.kind, fate, why, via)

    # ----------------------------------------------------------------------------------------

    def _claims(self, res: Resource, target: Target, context: ActionContext) -> bool:
        if target.kind == "path":
            # Both the path as written and where its symlinks lead (pathnames.names): a link
            # under /tmp into a resource's folder is that folder, and so is the folder itself
            # when the resource was configured through a link.
            written = pathnames.names(target.value, context.cwd)
            return any(_path_overlaps(root, path)
                       for configured in res.paths
                       for root in pathnames.names(configured, None)
                       for path in written)
        return any(_selector_matches(selector, target) for selector in res.selectors)


def _is_partial(target: Target) -> bool:
    return target.kind in ("postgres", "mysql", "redis", "mongodb") and "?" in target.value


def _selector_matches(selector: str, target: Target) -> bool:
    # Kinds may contain colons (railway:volume:ID), so most selectors compare whole keys;
    # database targets compare part by part, because their parts may be unknown.
    prefix = target.kind + ":"
    if target.kind in ("postgres", "mysql", "redis", "mongodb") and selector.startswith(prefix):
        return _database_matches(selector[len(prefix):], target.value)
    return fnmatchcase(target.key, selector)


def _database_matches(pattern: str, value: str) -> bool:
    """`host:port/db` against a selector of the same shape; a `?` part of the target is unknown
    and could be anything, so it matches."""
    want = _split_database(pattern)
    got = _split_database(value)
    if want is None or got is None:
        return fnmatchcase(value, pattern)
    return all(g == "?" or fnmatchcase(g, w) for w, g in zip(want, got, strict=True))


def _split_database(value: str) -> tuple[str, str, str] | None:
    hostport, slash, db = value.partition("/")
    host, colon, port = hostport.rpartition(":")
    if not slash or not colon:
        return None
    return host.lower(), port, db


def _path_overlaps(root: str, path: str) -> bool:
    """True when acting on `path` can touch `root`: it is the root, inside it, or above it
    (`rm -rf /srv` destroys `/srv/data`). Globs count from their literal prefix."""
    path = pathnames.literal_prefix(path)
    return pathnames.within(path, root) or pathnames.within(root, path)


def describe_blast(targets: Sequence[ResolvedTarget], limit: int = 8) -> str:
    """What else an action's targets take with them, in one line for hold messages, `airlock
    check` and webhooks ("" when nothing else): `prod-db (production, stored on shared-volume),
    …`. The target resources themselves are left out; at most `limit` are named."""
    own = {t.resource for t in targets if t.resource}
    shown: dict[str, Casualty] = {}
    for t in targets:
        for c in t.casualties:
            if c.resource not in own and c.resource not in shown:
                shown[c.resource] = c
    if not shown:
        return ""
    parts = [f"{c.resource} ({c.environment}, {c.why})" for c in shown.values()]
    more = len(parts) - limit
    return ", ".join(parts[:limit]) + (f" and {more} more" if more > 0 else "")
