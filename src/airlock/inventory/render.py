"""The inventory shown: one JSON document (`airlock inventory --json`, the console, `airlock
demo`) and a Rich tree for the terminal, both built from the configuration's resource graph and,
when asked, what discovery found inside each resource.

The JSON shape (version 1, stable; new keys may be added):

    {"version": 1, "source": str,
     "environments": [{"name", "production"}],
     "resources": [{"name", "kind", "environment", "production", "description",
                    "stored_on": [str], "attached_to": [str], "backs_up": [str],
                    "blast_radius": [{"resource", "environment", "kind", "fate", "why", "via"}],
                    "discovered": null | {"status": "ok"|"unreachable"|"none", "at", "error",
                                          "postgres"?: {"relations": [{"schema", "name", "kind",
                                                                       "rows", "bytes"}],
                                                        "links": [{"from", "to", "on_delete",
                                                                   "name"}], "truncated"},
                                          "sqlite"?: {"bytes", "tables": [{"name", "rows"}]},
                                          "folder"?: {"files", "bytes", "truncated"},
                                          "railway"?: {"projects", "volumes", "services"}}}]}

`blast_radius` starts with the resource itself (fate `destroyed`); `links[].on_delete` is
PostgreSQL's letter (a no action, r restrict, c cascade, n set null, d set default) or `v` for a
view that reads the relation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.markup import escape
from rich.tree import Tree

from airlock.config import Config, Resource
from airlock.inventory import Inventory
from airlock.inventory.discovery import Discovered
from airlock.vault.progress import human_size
from airlock.vault.snapshot.pgcatalog import DatabaseCatalog

__all__ = ["INVENTORY_VERSION", "inventory_json", "inventory_tree", "reached_in_database"]

INVENTORY_VERSION = 1
_ON_DELETE = {"a": "no action", "r": "restrict", "c": "ON DELETE CASCADE", "n": "ON DELETE SET NULL",
              "d": "ON DELETE SET DEFAULT", "v": "view"}
MAX_TABLES_SHOWN = 50


def inventory_json(config: Config, inventory: Inventory,
                   discovered: Mapping[str, Discovered] | None = None) -> dict[str, Any]:
    found = discovered or {}
    return {
        "version": INVENTORY_VERSION, "source": config.source,
        "environments": [{"name": e.name, "production": e.production}
                         for e in config.environments.values()],
        "resources": [_resource_json(config, inventory, res, found.get(res.name))
                      for res in inventory.resources.values()],
    }


def _resource_json(config: Config, inventory: Inventory, res: Resource,
                   found: Discovered | None) -> dict[str, Any]:
    return {"name": res.name, "kind": res.kind, "environment": res.environment,
            "production": _production(config, res.environment), "description": res.description,
            "stored_on": list(res.stored_on), "attached_to": list(res.attached_to),
            "backs_up": list(res.backs_up),
            "blast_radius": [c.to_json() for c in inventory.casualties(res.name)],
            "discovered": found.to_json() if found is not None else None}


def _production(config: Config, environment: str) -> bool:
    try:
        return config.environment(environment).production
    except Exception:  # an environment only the local machine has: never production
        return False


def reached_in_database(catalog: DatabaseCatalog, relation: str) -> list[tuple[str, str]]:
    """What dropping or emptying `relation` (schema.name) reaches inside its database, nearest
    first, each once: views reading it (to any depth, in any schema) and the tables its ON
    DELETE CASCADE / SET NULL / SET DEFAULT foreign keys reach. (relation, how)."""
    order: list[tuple[str, str]] = []
    seen = {relation}
    todo = [relation]
    while todo:
        current = todo.pop(0)
        for link in catalog.links:
            if link.target != current or link.source in seen or link.on_delete in ("a", "r"):
                continue
            seen.add(link.source)
            order.append((link.source, f"{_ON_DELETE[link.on_delete]} from {current}"))
            if link.on_delete in ("c", "v"):  # set null/default stops there: the rows stay
                todo.append(link.source)
    return order


# --------------------------------------------------------------------------------------------
# The terminal tree


def inventory_tree(config: Config, inventory: Inventory,
                   discovered: Mapping[str, Discovered] | None = None,
                   only: str | None = None) -> Tree:
    """Environments, their resources, each with its edges, what dies with it and what
    discovery found. `only`: that resource alone (with its full blast radius)."""
    found = discovered or {}
    root = Tree(f"[bold]airlock inventory[/] — {escape(config.source)}")
    envs = list(config.environments)
    for res in inventory.resources.values():
        if res.environment not in envs:
            envs.append(res.environment)
    for env in envs:
        members = [r for r in inventory.resources.values() if r.environment == env
                   and (only is None or r.name == only)]
        if not members:
            continue
        label = (f"[bold red]{escape(env)}[/] (production)" if _production(config, env)
                 else f"[bold]{escape(env)}[/]")
        branch = root.add(label)
        for res in members:
            _resource_node(branch, inventory, res, found.get(res.name))
    return root


def _resource_node(parent: Tree, inventory: Inventory, res: Resource,
                   found: Discovered | None) -> None:
    node = parent.add(f"[bold]{escape(res.name)}[/] [dim]{escape(res.kind)}[/]"
                      + (f" — {escape(res.description)}" if res.description else ""))
    for label, names in (("stored on", res.stored_on), ("attached to", res.attached_to),
                         ("backs up", res.backs_up)):
        if names:
            node.add(f"{label} {escape(', '.join(names))}")
    casualties = inventory.casualties(res.name)[1:]
    if casualties:
        dies = node.add("[red]losing it also hits[/]")
        for c in casualties:
            dies.add(f"{escape(c.resource)} ({escape(c.environment)}) — {escape(c.fate)}: "
                     f"{escape(c.why)}")
    if found is None:
        return
    if found.status == "unreachable":
        node.add(f"[red]could not reach {escape(res.name)}: {escape(found.error)}[/]")
        return
    if found.status == "none" and found.error:
        node.add(f"[dim]{escape(found.error)}[/]")
    if found.catalog is not None:
        _catalog_nodes(node, found.catalog)
    if found.file_size is not None:
        files = node.add(f"SQLite file, {human_size(found.file_size)}")
        for table in found.sqlite_tables[:MAX_TABLES_SHOWN]:
            rows = "?" if table.rows is None else f"≤ {table.rows:,}"
            files.add(f"{escape(table.name)}  {rows} rows")
    if found.folder is not None:
        more = "+" if found.folder.truncated else ""
        node.add(f"{found.folder.files:,}{more} files, {human_size(found.folder.size_bytes)}{more}")
    if found.railway:
        for vid, volume in found.railway.get("volumes", {}).items():
            mounts = ", ".join(f"{m['service'] or 'no service'} in {m['environment']}"
                               for m in volume["mounted"]) or "not mounted"
            node.add(f"Railway volume {escape(volume['name'])} ({escape(vid)}): "
                     f"{escape(mounts)}")


def _catalog_nodes(node: Tree, catalog: DatabaseCatalog) -> None:
    schemas: dict[str, Tree] = {}
    for shown, rel in enumerate(catalog.relations):
        if shown >= MAX_TABLES_SHOWN:
            node.add(f"… and {len(catalog.relations) - shown} more relations (--json lists all)")
            break
        branch = schemas.get(rel.schema)
        if branch is None:
            branch = schemas[rel.schema] = node.add(f"schema {escape(rel.schema)}")
        kind = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view",
                "f": "foreign table"}.get(rel.kind, rel.kind)
        facts = [] if rel.kind == "v" else [
            "rows unknown (not analysed)" if rel.rows is None else f"≈ {rel.rows:,} rows",
            human_size(rel.size_bytes)]
        leaf = branch.add(f"{escape(rel.name)} [dim]{kind}[/]"
                          + (f"  {', '.join(facts)}" if facts else ""))
        for reached, how in reached_in_database(catalog, rel.qualified):
            leaf.add(f"[yellow]→ {escape(reached)}[/] ({escape(how)})")
    if catalog.truncated:
        node.add("[yellow]the database has more relations than airlock lists[/]")
