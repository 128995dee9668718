"""Fronts bring their own configuration section: `[fronts.NAME]`.

A front declares its section next to its code, as a `FrontSection`: the strict model of its keys
(every key needs a default, so an absent section means "this front is off" or its defaults) and
a `build` function that turns the parsed keys into the front's typed settings, checking what
spans sections (a resource it names exists, a credential can be read) through `BuildContext`:

    # src/airlock/fronts/example/settings.py
    class ExampleFile(Strict):
        listen: dict[str, str] = Field(default_factory=dict)   # resource → "host:port"

    def build(parsed: ExampleFile, ctx: BuildContext) -> ExampleSettings:
        for resource in parsed.listen:
            if resource not in ctx.resources:
                ctx.fail(f"listen.{resource}", "is not a declared resource")   # fronts.example.listen.…
        return ExampleSettings(...)

    SECTION = FrontSection("example", ExampleFile, build)

and adds it to `front_sections()` below. Its keys are then validated exactly like airlock's own:
an unknown or mistyped key, or a problem `build` reports, stops start-up with an error naming the
file and the dotted key (`fronts.example.lisen: unknown key`). A front reads its settings with
`SECTION.of(config)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from airlock.config.base import BuildContext, Strict
from airlock.errors import ConfigError

if TYPE_CHECKING:
    from airlock.config.settings import Config

FileT = TypeVar("FileT", bound=Strict)
SettingsT = TypeVar("SettingsT")


@dataclass(frozen=True)
class FrontSection(Generic[FileT, SettingsT]):
    name: str  # the section is [fronts.<name>]
    model: type[FileT]
    build: Callable[[FileT, BuildContext], SettingsT]

    def of(self, config: Config) -> SettingsT:
        """This front's settings in `config` (its defaults when the file has no section)."""
        if self.name in config.fronts:
            return cast(SettingsT, config.fronts[self.name])
        ctx = BuildContext(config.path or config.state_dir / "airlock.toml",
                           environments=config.environments, resources=config.resources,
                           principals=config.principals).within(f"fronts.{self.name}")
        settings = self.build(self.model(), ctx)
        if ctx.problems:  # its defaults must make sense on their own; never ignore a problem
            raise ConfigError(f"{config.source}: invalid configuration\n" + "\n".join(ctx.problems))
        return settings


def front_sections() -> tuple[FrontSection[Any, Any], ...]:
    """Every front's section, in the order they are built. A new front adds its SECTION here
    (imported here, not at the top, so a front's module may import the configuration)."""
    from airlock.fronts.apiproxy.settings import SECTION as APIPROXY
    from airlock.fronts.mcp.settings import SECTION as MCP
    from airlock.fronts.pgwire.settings import SECTION as PGWIRE

    return (APIPROXY, MCP, PGWIRE)
