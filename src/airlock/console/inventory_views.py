"""The console's inventory page and the blast-radius graph on the hold page (the SVGs are drawn
by `inventory/svg.py`; this picks what to draw)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airlock.config import Config
from airlock.inventory import Inventory
from airlock.inventory.render import inventory_json
from airlock.inventory.svg import graph_svg


def _production(config: Config) -> set[str]:
    envs = set(config.environments)
    envs.update(r.environment for r in config.resources.values())
    return {e for e in envs if config.environment(e).production}


def blast_svg(details: Mapping[str, Any], config: Config) -> str:
    """The held action's blast radius as a graph: the resources it reaches (as recorded when it
    was held), highlighted, with the edges between them; "" when it reaches no configured
    resource."""
    targets = details.get("targets") or []
    own = {str(t["resource"]) for t in targets if t.get("resource")}
    reached = {str(name) for t in targets for name in t.get("blast_radius") or []} | own
    shown = [config.resources[name] for name in sorted(reached) if name in config.resources]
    if not shown:
        return ""
    return graph_svg(shown, highlight=reached, targets=own, production=_production(config),
                     title="What this action reaches")


def inventory_page(config: Config) -> dict[str, Any]:
    """Every configured resource as a graph and a table (configuration only: the console does
    not connect to resources to draw a page)."""
    inventory = Inventory.from_config(config)
    shown = inventory_json(config, inventory)
    return {"svg": graph_svg(inventory.resources.values(), production=_production(config),
                             title="Resources airlock protects"),
            "resources": shown["resources"]}
