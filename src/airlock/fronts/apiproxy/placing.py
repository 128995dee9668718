"""Where the targets of a proxied call live, beyond what the configuration alone says.

The inventory (inventory.py) places what configured resources claim; everything else it leaves
in the unknown environment, which counts as production. Behind one endpoint, two more things
are known, and each endpoint's gate gets a resolver that adds them:

- `one_environment = true`: the endpoint is an account or cluster of one environment, so what a
  call names there and nothing else claims lives in the resource's environment (and belongs to
  the resource, so a token limited to other resources cannot reach it);
- Railway ids, placed by asking Railway (railway.py): a volume in the environments it is mounted
  in, with the services mounting it — and what configured resources those are — in its blast
  radius.

Nothing here can make a placed target *less* reachable than the inventory says, only more
exactly known: a target the configuration already places keeps its placement.
"""

from __future__ import annotations

from collections.abc import Sequence

from airlock.config import Resource
from airlock.fronts.apiproxy.railway import RailwayLookup
from airlock.fronts.apiproxy.settings import ProxiedResource
from airlock.inventory import Inventory
from airlock.model import UNKNOWN_ENVIRONMENT, ActionContext, Casualty, ResolvedTarget, Target

__all__ = ["EndpointResolver"]

_RAILWAY_KINDS = frozenset({"railway:volume", "railway:service", "railway:environment",
                            "railway:project"})


class EndpointResolver:
    """The inventory, and what one api endpoint knows about where its targets live."""

    def __init__(self, inventory: Inventory, resource: Resource, proxied: ProxiedResource,
                 railway: RailwayLookup | None = None) -> None:
        self.inventory = inventory
        self.resource = resource
        self.proxied = proxied
        self.railway = railway

    def resolve(self, targets: Sequence[Target], context: ActionContext) -> tuple[ResolvedTarget, ...]:
        return tuple(self._better(placed, context)
                     for placed in self.inventory.resolve(targets, context))

    def _better(self, placed: ResolvedTarget, context: ActionContext) -> ResolvedTarget:
        if placed.resource is not None or placed.environments != (UNKNOWN_ENVIRONMENT,):
            return placed
        target = placed.target
        if self.railway is not None and target.kind in _RAILWAY_KINDS:
            found = self.railway.environments_of(target.kind, target.value)
            if found is not None:
                envs, placement = found
                hit: dict[str, Casualty] = {}
                for kind, value in placement.related:
                    for related in self.inventory.resolve([Target(kind, value)], context):
                        if related.resource is None:
                            continue  # only what the configuration knows adds to the radius
                        for casualty in related.casualties:
                            hit.setdefault(casualty.resource, casualty)
                        envs += tuple(e for e in related.environments if e not in envs)
                return ResolvedTarget(target, None, envs, tuple(hit), placement.note,
                                      tuple(hit.values()))
        if self.proxied.one_environment:
            casualties = tuple(self.inventory.casualties(self.resource.name))
            return ResolvedTarget(target, self.resource.name, (self.resource.environment,),
                                  tuple(c.resource for c in casualties),
                                  f"reached through {self.resource.name}, an endpoint of one "
                                  "environment", casualties)
        return placed
