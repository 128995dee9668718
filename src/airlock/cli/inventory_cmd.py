"""`airlock inventory`: the configured resources as a tree (or JSON), with what dies with each
and — unless `--offline` — what lies inside them, asked of the resources themselves."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import typer

from airlock.cli.app import app, out, state
from airlock.config import Config
from airlock.errors import InputError
from airlock.inventory import Inventory
from airlock.inventory.discovery import Discovered, Discovery, RailwaySource
from airlock.inventory.render import inventory_json, inventory_tree


@app.command()
def inventory(ctx: typer.Context,
              resource: str | None = typer.Argument(None, help="Show this resource only."),
              as_json: bool = typer.Option(False, "--json", help="Print the inventory as JSON "
                                           "(version 1; see docs/architecture.md)."),
              offline: bool = typer.Option(False, "--offline", help="Only the configuration: "
                                           "do not connect to any resource.")) -> None:
    """Show the resources airlock protects: environments, edges (stored on, attached to, backs
    up), what dies with each, and what lies inside (schemas, tables, rows, foreign keys)."""
    config = state(ctx).config()
    graph = Inventory.from_config(config)
    if resource is not None and resource not in graph.resources:
        known = ", ".join(graph.resources) or "none configured"
        raise InputError(f"no resource named {resource!r}", hint=f"resources: {known}")
    chosen = [graph.resources[resource]] if resource else list(graph.resources.values())
    found: dict[str, Discovered] = {}
    if not offline:
        discovery = Discovery(config, railway=railway_sources(config))
        # in parallel: each look is bounded by its own timeouts, so the whole is as slow as
        # the slowest resource, not their sum
        with ThreadPoolExecutor(max_workers=8) as pool:
            found = dict(zip((r.name for r in chosen), pool.map(discovery.discover, chosen),
                             strict=True))
    if as_json:
        shown = inventory_json(config, graph, found)
        if resource is not None:
            shown["resources"] = [r for r in shown["resources"] if r["name"] == resource]
        out.print_json(json.dumps(shown))
        return
    out.print(inventory_tree(config, graph, found, only=resource), soft_wrap=False)


def railway_sources(config: Config) -> dict[str, RailwaySource]:
    """The API proxy's read-only Railway lookup, for each Railway resource it is configured
    for (`railway_projects` under [fronts.apiproxy])."""
    from airlock.fronts.apiproxy.railway import RailwayLookup
    from airlock.fronts.apiproxy.settings import SECTION

    settings = SECTION.of(config)
    sources: dict[str, RailwaySource] = {}
    for res in config.resources.values():
        proxied = settings.of(res.name)
        if res.kind == "api" and res.provider == "railway" and proxied.railway_projects:
            sources[res.name] = RailwayLookup(config, res, proxied)
    return sources
