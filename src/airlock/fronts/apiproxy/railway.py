"""Where Railway ids live, asked of Railway itself: one read-only query per configured project,
with airlock's own token, cached for `lookup_ttl`.

A Railway account token reaches every environment, so the id in a call (`volumeDelete(volumeId:
…)`) is all there is to go on. The project's map answers: a volume lives in the environments of
its volume instances and dies with the services mounting it (and Railway keeps a volume's
backups with it: they go too); a service exists in every environment of its project; an
environment is itself; a project is all of its environments. Railway environments become
airlock environments by `railway_environments` (name or id → environment), else by equal name
when airlock declares it; anything else stays unknown, which counts as production.

A failed lookup places nothing (the target stays unknown: production) and is tried again on the
next call; a result, even an empty one, is kept for `lookup_ttl`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from airlock.config import Config, Resource
from airlock.fronts.apiproxy.settings import ProxiedResource
from airlock.model import UNKNOWN_ENVIRONMENT
from airlock.upstream.http import canonical_base, forward_url, upstream_headers

log = logging.getLogger("airlock.apiproxy.railway")

__all__ = ["PROJECT_QUERY", "Placement", "RailwayLookup", "RailwayMap", "parse_project"]

PROJECT_QUERY = """query airlockProjectMap($id: String!) {
  project(id: $id) {
    id name
    environments { edges { node { id name } } }
    services { edges { node { id name } } }
    volumes { edges { node { id name
      volumeInstances { edges { node { environmentId serviceId } } } } } }
  }
}"""
LOOKUP_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one Railway id lives: Railway environment ids, related ids, and a note to show."""

    environment_ids: tuple[str, ...]
    related: tuple[tuple[str, str], ...]  # (target kind, id) of what dies with it
    note: str


@dataclass
class RailwayMap:
    environments: dict[str, str] = field(default_factory=dict)  # id → name
    project_envs: dict[str, list[str]] = field(default_factory=dict)  # project → env ids
    projects: dict[str, str] = field(default_factory=dict)  # id → name
    services: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → (name, project)
    volumes: dict[str, tuple[str, list[tuple[str, str | None]]]] = field(default_factory=dict)

    def place(self, kind: str, value: str) -> Placement | None:
        if kind == "railway:volume" and value in self.volumes:
            name, instances = self.volumes[value]
            envs = tuple(dict.fromkeys(e for e, _ in instances))
            services = tuple(dict.fromkeys(s for _, s in instances if s))
            shown = ", ".join(f"{self._service(s)} in {self._env(e)}" for e, s in instances
                              if s) or "no service"
            return Placement(envs, tuple(("railway:service", s) for s in services),
                             f"Railway: volume {name} is mounted by {shown}; its backups live "
                             "with it and are deleted with it")
        if kind == "railway:service" and value in self.services:
            name, project = self.services[value]
            envs = tuple(self.project_envs.get(project, ()))
            return Placement(envs, (), f"Railway: service {name} exists in every environment "
                             f"of project {self.projects.get(project, project)}: "
                             f"{', '.join(self._env(e) for e in envs) or 'none'}")
        if kind == "railway:environment" and value in self.environments:
            return Placement((value,), (), f"Railway: environment {self.environments[value]}")
        if kind == "railway:project" and value in self.projects:
            envs = tuple(self.project_envs.get(value, ()))
            return Placement(envs, (), f"Railway: project {self.projects[value]} with "
                             f"environments {', '.join(self._env(e) for e in envs) or 'none'}")
        return None

    def _env(self, env_id: str) -> str:
        return self.environments.get(env_id, env_id)

    def _service(self, service_id: str) -> str:
        return self.services.get(service_id, (service_id, ""))[0]


def _edges(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, Mapping):
        return []
    edges = value.get("edges")
    return [e["node"] for e in edges if isinstance(e, Mapping) and isinstance(e.get("node"), Mapping)] \
        if isinstance(edges, list) else []


def parse_project(into: RailwayMap, answer: Any) -> None:
    """Add one project's answer to the map; raises ValueError when it is not one."""
    project = answer.get("data", {}).get("project") if isinstance(answer, Mapping) else None
    if not isinstance(project, Mapping) or not isinstance(project.get("id"), str):
        errors = answer.get("errors") if isinstance(answer, Mapping) else None
        raise ValueError(f"Railway did not describe the project ({errors or 'no data'})")
    pid = project["id"]
    into.projects[pid] = str(project.get("name") or pid)
    envs = into.project_envs.setdefault(pid, [])
    for env in _edges(project.get("environments")):
        into.environments[str(env["id"])] = str(env.get("name") or env["id"])
        envs.append(str(env["id"]))
    for service in _edges(project.get("services")):
        into.services[str(service["id"])] = (str(service.get("name") or service["id"]), pid)
    for volume in _edges(project.get("volumes")):
        instances = [(str(i.get("environmentId")), str(i["serviceId"]) if i.get("serviceId") else None)
                     for i in _edges(volume.get("volumeInstances")) if i.get("environmentId")]
        into.volumes[str(volume["id"])] = (str(volume.get("name") or volume["id"]), instances)


Fetch = Callable[[str], Any]  # project id → the decoded GraphQL answer


class RailwayLookup:
    """The map of one Railway resource's configured projects, kept for `lookup_ttl`."""

    def __init__(self, config: Config, resource: Resource, proxied: ProxiedResource, *,
                 fetch: Fetch | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.resource = resource
        self.proxied = proxied
        self._fetch = fetch or self._fetch_upstream
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._map: RailwayMap | None = None
        self._at = 0.0

    def environments_of(self, kind: str, value: str) -> tuple[tuple[str, ...], Placement] | None:
        """The airlock environments of a Railway id, with its placement; None when unknown."""
        railway = self.map()
        placement = railway.place(kind, value) if railway is not None else None
        if railway is None or placement is None:
            return None
        envs = tuple(dict.fromkeys(self._airlock_env(railway, e) for e in placement.environment_ids))
        return (envs or (UNKNOWN_ENVIRONMENT,)), placement

    def _airlock_env(self, railway: RailwayMap, env_id: str) -> str:
        name = railway.environments.get(env_id, env_id)
        mapping = self.proxied.railway_environments
        mapped = mapping.get(env_id) or mapping.get(name)
        if mapped is not None:
            return mapped
        return name if name in self.config.environments else UNKNOWN_ENVIRONMENT

    def map(self) -> RailwayMap | None:
        with self._lock:
            now = self._monotonic()
            if self._map is not None and now - self._at < self.proxied.lookup_ttl.total_seconds():
                return self._map
            fresh = RailwayMap()
            try:
                for project in self.proxied.railway_projects:
                    parse_project(fresh, self._fetch(project))
            except Exception as exc:  # Railway down or answering oddly: nothing is placed
                log.warning("Railway lookup for %s failed: %s", self.resource.name, exc)
                return None
            self._map, self._at = fresh, now
            return fresh

    def _fetch_upstream(self, project: str) -> Any:
        canonical = canonical_base(self.resource)
        if not canonical.endswith("/graphql/v2"):
            canonical += "/graphql/v2"
        url = forward_url(self.resource, canonical)
        body = json.dumps({"query": PROJECT_QUERY, "variables": {"id": project}}).encode()
        headers = upstream_headers(self.resource, "POST", canonical, url,
                                   [("Content-Type", "application/json")], body)
        response = httpx.post(url, content=body, headers=headers, timeout=LOOKUP_TIMEOUT_SECONDS,
                              follow_redirects=False)
        response.raise_for_status()
        return response.json()
