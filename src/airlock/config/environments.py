"""`[environments]`: where things run, and which of them are production."""

from __future__ import annotations

from dataclasses import dataclass

from airlock.config.base import Strict

LOCAL_ENVIRONMENT = "local"

# Environment names that count as production unless the configuration says otherwise.
PRODUCTION_NAMES = frozenset({"production", "prod", "prd", "live"})


class EnvironmentFile(Strict):
    production: bool | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Environment:
    name: str
    production: bool
    description: str = ""


def build_environments(parsed: dict[str, EnvironmentFile]) -> dict[str, Environment]:
    return {
        name: Environment(name, env.production if env.production is not None
                          else name.lower() in PRODUCTION_NAMES, env.description)
        for name, env in parsed.items()
    }
