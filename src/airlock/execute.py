"""Executors: what happens to an action once the gate lets it through.

Most fronts perform the action themselves (an agent hook answers "allow" and the agent's shell
runs the command), so their executor only *releases* it. Fronts where airlock holds the real
credential (`airlock sql`, the proxies) plug in executors that perform it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from airlock.model import Action
from airlock.safety import Protection


class Executor(Protocol):
    performs: bool  # True when airlock itself carries the action out

    def execute(self, action: Action, protection: Protection) -> Mapping[str, Any]:
        """Carry the action out (or release it), held to what protection took; raise if it
        failed."""
        ...


class Release:
    """The front carries the action out; airlock only lets it go."""

    performs = False

    def execute(self, action: Action, protection: Protection) -> Mapping[str, Any]:
        return {}


@dataclass
class FunctionExecutor:
    """Twin for tests, and glue for small fronts: performs the action with a function."""

    run: Callable[[Action], Mapping[str, Any]]
    performs: bool = True

    def execute(self, action: Action, protection: Protection) -> Mapping[str, Any]:
        return self.run(action)
